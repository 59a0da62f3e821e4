"""haven-top: a live terminal monitor for Haven services."""

__version__ = "0.1.0"
