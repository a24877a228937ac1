"""werk: Industrie 4.0 for small and medium manufacturers."""

__version__ = "0.1.0"
