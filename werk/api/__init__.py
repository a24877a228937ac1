"""FastAPI application: REST, SSE and the dashboard."""

from werk.api.app import create_app

__all__ = ["create_app"]
