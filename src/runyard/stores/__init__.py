"""runyard.stores."""
