"""The key ledger's failures: every one is a LedgerError, so a caller catches one family (docs/ledger.md).

Kept apart from store.py so that schema.py, which makes no calls, raises the same family without
importing botocore.
"""

from __future__ import annotations


class LedgerError(RuntimeError):
    """The configured key ledger cannot be read or written; the run reports nothing."""


class LedgerMissing(LedgerError):
    """The table does not exist (or is not in this Region): the terminal commands name it as bad input."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


class LedgerFormatError(LedgerError):
    """A ledger item this code cannot read: another schema version, or a missing or malformed attribute."""
