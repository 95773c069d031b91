"""runyard.api."""
