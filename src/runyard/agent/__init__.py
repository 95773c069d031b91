"""runyard.agent."""
