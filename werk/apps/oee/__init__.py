"""Downtime and OEE: stops, reasons, shifts and ISO 22400 KPIs, live and as reports."""
