"""runyard.ui."""
