"""heartbleed-audit audit --organization --ledger [TABLE]: the organization report from the key ledger.

A body never changes for one ServerCertificateId (or one ACM ARN and ImportedAt), and the key ledger holds
what the rule read from every body it has seen. So this audit lists every account as the live audit does
(estate.py), takes from the ledger the bodies it holds, reads only the others, and judges the whole pool at
once with the ledger's summary of every key in it: evidence of deleted certificates, of imported backups and
of accounts outside the audit counts, as it does in the rule. It is read-only: it writes nothing to the
ledger, and needs dynamodb:Query and dynamodb:BatchGetItem on the table (besides what the live audit needs).

    --ledger TABLE    a table name or ARN (an ARN names its Region)
    --ledger          the table in $HEARTBLEED_KEY_LEDGER, as the ledger subcommands take it

The table is opened as `heartbleed-audit ledger` opens it (ledger_command.open_table, the rule's own check of
KeyLedgerTable); without --ledger, HEARTBLEED_KEY_LEDGER does not turn the live audit into this one.
"""

from __future__ import annotations

import argparse
import os
from contextlib import AbstractContextManager
from typing import Any

from heartbleed.ledger import Ledger

from .cli_shared import CliError
from .ledger_command import TABLE_VARIABLE, open_table, table_errors

OPTION = "--ledger"
FROM_ENVIRONMENT = ""  # --ledger given without a table: take $HEARTBLEED_KEY_LEDGER
NEEDS = "dynamodb:Query and dynamodb:BatchGetItem"


def add_option(group: Any) -> None:
    group.add_argument(
        OPTION,
        nargs="?",
        const=FROM_ENVIRONMENT,
        metavar="TABLE",
        help="with --organization: take the certificate bodies the key ledger (KeyLedgerTable: a name or ARN; "
        f"alone, ${TABLE_VARIABLE}) holds instead of reading them, and judge with its evidence; read-only",
    )


def check_option(args: argparse.Namespace) -> None:
    """--ledger, checked before any AWS call: it needs --organization and a table."""
    if args.ledger is None:
        return
    if not args.organization:
        raise CliError(f"{OPTION} needs --organization")
    args.ledger = args.ledger or os.environ.get(TABLE_VARIABLE, "").strip()
    if not args.ledger:
        raise CliError(f"{OPTION} names no table: pass {OPTION} NAME_OR_ARN or set {TABLE_VARIABLE}")


def ledger_of(args: argparse.Namespace) -> Ledger | None:
    """The ledger --ledger names (through the caller's own credentials), or None without --ledger."""
    return open_table(args, args.ledger, OPTION) if args.ledger else None


def ledger_errors() -> AbstractContextManager[None]:
    """A ledger that cannot be read ends the audit with one line (exit 2): never a report without it."""
    return table_errors(OPTION, f"'audit {OPTION}' needs {NEEDS} on the table")
