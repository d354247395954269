"""User-facing errors. The CLI prints ``str(exc)`` on one line and exits with ``exit_code``."""
from __future__ import annotations


class RanklakeError(Exception):
    exit_code = 2


class DataError(RanklakeError):
    """Input data is malformed or missing (names the file/table, column, line)."""


class CheckFailed(RanklakeError):
    """A batch-level quality check failed (names the check and the numbers)."""

    exit_code = 3


class GateFailed(RanklakeError):
    """A new model did not clear the promotion gate; the champion stays."""

    exit_code = 4


class ConcurrentWriteError(RanklakeError):
    """Another writer committed to the same table first; nothing of ours was committed."""


class RegistryError(RanklakeError):
    """A model artifact is missing or corrupt."""
