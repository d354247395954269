"""Feature families (one module each) and the shared as-of machinery; see jobs/features.py."""
