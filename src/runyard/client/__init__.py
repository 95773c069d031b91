"""runyard's Python SDK: an HTTP client for the platform API (``/api/v1``)."""
