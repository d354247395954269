"""ranklake: batch-first Spark platform that precomputes rankings."""

__version__ = "0.1.0"
