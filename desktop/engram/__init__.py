"""Engram: a local-first memory of what you saw and said."""

__version__ = "0.1.0"
