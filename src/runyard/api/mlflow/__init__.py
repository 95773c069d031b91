"""runyard.api.mlflow."""
