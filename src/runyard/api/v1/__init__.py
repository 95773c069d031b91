"""runyard.api.v1."""
