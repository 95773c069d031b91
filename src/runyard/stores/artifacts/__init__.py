"""runyard.stores.artifacts."""
