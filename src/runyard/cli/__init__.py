"""runyard.cli."""
