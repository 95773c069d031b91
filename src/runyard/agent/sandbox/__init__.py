"""runyard.agent.sandbox."""
