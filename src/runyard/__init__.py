"""runyard: a self-hosted ML platform (tracking, registry, compute pools)."""

__version__ = "0.1.0"
