"""runyard's Python SDK: an HTTP client for the platform API (``/api/v1``)."""

from runyard.client._credentials import authorization_from_env
from runyard.client._recipes import make_bundle
from runyard.client.client import Client

__all__ = ["Client", "authorization_from_env", "make_bundle"]
