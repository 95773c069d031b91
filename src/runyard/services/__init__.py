"""runyard.services."""
