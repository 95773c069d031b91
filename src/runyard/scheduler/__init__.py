"""runyard.scheduler."""
