"""runyard.stores.metadata."""
