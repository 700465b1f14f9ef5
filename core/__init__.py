"""The bottom floor: records, the event vocabulary, the normaliser, config
and time helpers. Nothing here imports any other part of watch287g."""

__version__ = "0.1.0"
