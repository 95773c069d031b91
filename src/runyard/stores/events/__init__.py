"""runyard.stores.events."""
