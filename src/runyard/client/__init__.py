"""runyard.client."""
