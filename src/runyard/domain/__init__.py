"""runyard.domain."""
