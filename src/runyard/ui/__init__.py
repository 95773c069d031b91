"""runyard.ui: the web app's built assets and the routes that serve them (``mount_ui``)."""

from runyard.ui.mount import mount_ui

__all__ = ["mount_ui"]
