"""The key ledger: evidence per public key, kept in one DynamoDB table (docs/ledger.md).

A store behind a small typed interface. One name per concept:

  Ledger            the table's typed interface: reads and conditional writes of evidence, the lease,
                    rule registrations, owed markers, kept requests and member runs (records.py and the
                    modules it composes: leases.py, kept_requests.py, member_runs.py)
  open_ledger       the Ledger that KeyLedgerTable names, with the function's own credentials
  table_region      the Region a KeyLedgerTable names (an ARN's), or None (the client's own)
  LedgerRun         one account's run's use of the Ledger: load, lease, record, read back (protocol.py)
  RunFindings       what a LedgerRun read and wrote: the key summaries, new evidence, repairs
  Summaries         the summaries of a run's keys, by key (the verdicts' evidence)
  Holder            a certificate that carries, or carried, a key (schema.py, with the other item shapes)
  KeySummary        what the ledger holds against one key: its earliest holder, its accounts, what it owes
  Owed              the re-evaluations a lowering of a summary owes, until they are kept
  owed_token        the token of a lowering or a keep: which run, when
  RuleRegistration  how another run asks one account's rule in one Region to evaluate again
  KeptRequest       a re-evaluation owed and not yet accepted by Config
  MemberRun         the rule's last success and failure in one account and Region (member_runs.py)
  OperatorLedger    the Ledger with the operator's Scan reads and logged removals (operator_acts.py)
  LedgerError       every failure to read or write the ledger (errors.py); LedgerMissing (no such table)
                    and LedgerFormatError (an item this code cannot read) are LedgerErrors too
  Table             the store: one DynamoDB table, where AWS errors become LedgerErrors (store.py)
  IMPORTED, NO_ACCOUNT    the service, and the account and Region, of evidence imported from files
  REFRESH_LAST_SEEN       how often a run rewrites a certificate's last-seen date

propagation.py (asking kept requests of Config) is imported by its users, not here: the CLI's reads
need none of it. Only the pure names (errors.py, schema.py) load with the package; the others load
when first named.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import LedgerError, LedgerFormatError, LedgerMissing
from .schema import IMPORTED, NO_ACCOUNT, Holder, KeptRequest, KeySummary, Owed, RuleRegistration, Summaries, owed_token

if TYPE_CHECKING:
    from .member_runs import MemberRun
    from .operator_acts import OperatorLedger
    from .protocol import REFRESH_LAST_SEEN, LedgerRun, RunFindings
    from .records import Ledger, open_ledger, table_region
    from .store import Table

# The rest is imported when first named: the pure names above (errors, item shapes) need no botocore, so
# `heartbleed.verdict`, which reads summaries, starts without it.
_LAZY = {
    "MemberRun": "member_runs",
    "OperatorLedger": "operator_acts",
    "REFRESH_LAST_SEEN": "protocol",
    "LedgerRun": "protocol",
    "RunFindings": "protocol",
    "Ledger": "records",
    "open_ledger": "records",
    "table_region": "records",
    "Table": "store",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "IMPORTED",
    "NO_ACCOUNT",
    "REFRESH_LAST_SEEN",
    "Holder",
    "KeptRequest",
    "KeySummary",
    "Ledger",
    "LedgerError",
    "LedgerFormatError",
    "LedgerMissing",
    "LedgerRun",
    "MemberRun",
    "OperatorLedger",
    "Owed",
    "RuleRegistration",
    "RunFindings",
    "Summaries",
    "Table",
    "open_ledger",
    "owed_token",
    "table_region",
]
