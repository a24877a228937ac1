"""A plug-in app from outside werk's tree: andon calls per asset, with a setting, a table, a route and a page."""
