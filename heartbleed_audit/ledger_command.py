"""heartbleed-audit ledger: look at the key ledger's evidence, import old certificates, forget a key.

    heartbleed-audit ledger show [--key FINGERPRINT] [--account ID] [--output table|json]
    heartbleed-audit ledger show --accounts [--account ID] [--output table|json]
    heartbleed-audit ledger import FILE_OR_DIR... --reason TEXT [--not-before DATE]
    heartbleed-audit ledger forget FINGERPRINT --reason TEXT [--yes]

Each needs --table or HEARTBLEED_KEY_LEDGER. The ledger keeps evidence, not verdicts: what import adds,
the rule judges at its next evaluation against its own CutoffDate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from heartbleed.ledger import (
    IMPORTED,
    NO_ACCOUNT,
    Holder,
    KeySummary,
    LedgerError,
    LedgerFormatError,
    LedgerMissing,
    OperatorLedger,
    Owed,
    owed_token,
    table_region,
)
from heartbleed.parameters import DEFAULT_CUTOFF, ParameterError, parse_cutoff, parse_rule_parameters
from heartbleed.verdict import stamp

from . import ledger_files, member_runs_view
from .cli_shared import CliError, add_aws_options, aws_errors, client, session_for

TABLE_VARIABLE = "HEARTBLEED_KEY_LEDGER"
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# What each subcommand calls, for the message when the table refuses the operator.
NEEDS = {
    "show": "dynamodb:Scan, dynamodb:Query and dynamodb:BatchGetItem",
    "import": "dynamodb:Query, dynamodb:BatchWriteItem, dynamodb:UpdateItem and dynamodb:PutItem",
    "forget": "dynamodb:Query, dynamodb:PutItem, dynamodb:UpdateItem and dynamodb:BatchWriteItem",
}


def add_parser(commands: Any) -> None:
    ledger = commands.add_parser(
        "ledger",
        help="the key ledger: show its evidence, import old certificates, forget a key",
        description="Read and keep the key ledger (KeyLedgerTable) from a terminal.",
    )
    actions = ledger.add_subparsers(dest="ledger_command", metavar="{show,import,forget}", required=True)
    show = actions.add_parser("show", help="every key with evidence, and the certificates that carried it")
    show.add_argument("--key", metavar="FINGERPRINT", help="only this key (SHA-256 of its SubjectPublicKeyInfo)")
    show.add_argument("--account", metavar="ID", help="only the keys this account's certificates carry")
    show.add_argument(
        "--accounts",
        action="store_true",
        help="instead of keys: each account's last successful and last failed run of the rule, per Region",
    )
    show.add_argument("--output", choices=("table", "json"), default="table")
    show.set_defaults(run=show_command)
    load = actions.add_parser("import", help="certificates or public keys from files, as evidence against their keys")
    load.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="PEM files or bundles, or directories of them")
    load.add_argument("--reason", required=True, help="why this is evidence (kept with each item)")
    load.add_argument("--not-before", metavar="DATE", help="the date a bare public key was in use by (ISO 8601)")
    load.set_defaults(run=import_command)
    forget = actions.add_parser("forget", help="remove every item of evidence against one key, and log it")
    forget.add_argument("fingerprint", metavar="FINGERPRINT")
    forget.add_argument("--reason", required=True, help="why (kept in the ledger's log of removals)")
    forget.add_argument("--yes", action="store_true", help="do not ask (required when stdin is not a terminal)")
    forget.set_defaults(run=forget_command)
    for parser in (show, load, forget):
        parser.add_argument(
            "--table",
            default=os.environ.get(TABLE_VARIABLE),
            help=f"the ledger's table name or ARN (${TABLE_VARIABLE})",
        )
        add_aws_options(parser)


def fingerprint(text: str) -> str:
    value = text.strip().lower()
    if not _FINGERPRINT.fullmatch(value):
        raise CliError(f"fingerprint {text!r} is not 64 hex characters: give a key's SHA-256 as 'ledger show' lists it")
    return value


def open_table(args: argparse.Namespace, table: str | None = None, option: str = "--table") -> OperatorLedger:
    """The ledger named by option (default the ledger subcommands' --table), checked as the rule checks
    KeyLedgerTable: one place for what a table name may be."""
    table = args.table if table is None else table
    if not table:
        raise CliError(f"no ledger table: pass {option} NAME_OR_ARN or set {TABLE_VARIABLE}")
    try:
        parse_rule_parameters({"KeyLedgerTable": table})
    except ParameterError as error:
        raise CliError(str(error).replace("KeyLedgerTable", option).replace(", or empty for no ledger", "")) from None
    with aws_errors():
        return OperatorLedger(client(args, session_for(args), "dynamodb", table_region(table)), table)


@contextmanager
def table_errors(option: str, needs: str) -> Iterator[None]:
    """A ledger that cannot be read or written ends the command with one line (exit 2) naming the table
    or what the caller needs."""
    try:
        with aws_errors():
            yield
    except LedgerMissing as error:
        raise CliError(f"{option} {error.table!r}: no such DynamoDB table in this Region (or account)") from None
    except LedgerFormatError as error:  # not a permission: the table holds what this version cannot read
        raise CliError(f"{option}: {error}") from None
    except LedgerError as error:
        raise CliError(f"{error}; {needs}") from None


def ledger_errors(args: argparse.Namespace) -> AbstractContextManager[None]:
    return table_errors("--table", f"'ledger {args.ledger_command}' needs {NEEDS[args.ledger_command]}")


# ---- show ------------------------------------------------------------------------------------


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "-"


def _where(holder: Holder) -> str:
    return "imported" if holder.service == IMPORTED else f"{holder.service} {holder.region}"


def _holder_json(holder: Holder) -> dict[str, Any]:
    return {
        "name": holder.name,
        "account": None if holder.service == IMPORTED else holder.account,
        "service": holder.service,
        "region": None if holder.service == IMPORTED else holder.region,
        "arn": None if holder.service == IMPORTED else holder.arn,
        "certificate_id": holder.certificate_id,
        "not_before": stamp(holder.not_before),
        "uploaded": stamp(holder.uploaded) if holder.uploaded else None,
        "evidence_date": stamp(holder.evidence_date),
        "first_seen": stamp(holder.first_seen),
        "last_seen": stamp(holder.last_seen),
        "deleted_since": stamp(holder.deleted_since) if holder.deleted_since else None,
        "reason": holder.reason,
    }


def _key_json(summary: KeySummary, holders: list[Holder]) -> dict[str, Any]:
    earliest = summary.earliest
    return {
        "key": summary.key,
        "earliest_evidence": {
            "date": stamp(earliest.evidence_date),
            "kind": earliest.evidence_kind,
            "name": earliest.name,
            "where": _where(earliest),
            "deleted_since": stamp(earliest.deleted_since) if earliest.deleted_since else None,
        },
        "accounts": sorted(summary.accounts),
        "certificates": [_holder_json(holder) for holder in holders],
    }


def _key_table(summary: KeySummary, holders: list[Holder]) -> list[str]:
    earliest = summary.earliest
    gone = f", deleted since {stamp(earliest.deleted_since)}" if earliest.deleted_since else ""
    lines = [
        f"KEY {summary.key}",
        f"  earliest evidence: {earliest.name} ({_where(earliest)}{gone}), {earliest.evidence_kind} "
        f"{stamp(earliest.evidence_date)}; accounts: {', '.join(sorted(summary.accounts)) or 'none'}",
    ]
    rows = [("ACCOUNT", "IN", "CERTIFICATE", "NOT BEFORE", "UPLOADED", "FIRST SEEN", "DELETED SINCE", "ARN OR REASON")]
    for holder in holders:
        imported = holder.service == IMPORTED
        rows.append(
            (
                "-" if imported else holder.account,
                _where(holder),
                holder.name,
                _day(holder.not_before),
                _day(holder.uploaded),
                _day(holder.first_seen),
                _day(holder.deleted_since),
                f"reason: {holder.reason}" if imported else holder.arn,
            )
        )
    # The last column (an ARN or a reason) is not padded: nothing follows it.
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines += [
        "  " + "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    return lines


def show_command(args: argparse.Namespace) -> int:
    ledger = open_table(args)
    if args.accounts:
        if args.key:
            raise CliError("--accounts lists runs, not keys: leave out --key")
        with ledger_errors(args):
            runs = ledger.member_runs(args.account.strip()) if args.account else ledger.all_member_runs()
        return member_runs_view.show(runs, args.output, args.table)
    wanted = fingerprint(args.key) if args.key else None
    with ledger_errors(args):
        if args.account:
            carried = {holder.key for holder in ledger.account_certificates(args.account.strip()).values()}
            keys = sorted(carried & {wanted} if wanted else carried)
        else:
            keys = [wanted] if wanted else ledger.keys()
        summaries = ledger.summaries(keys)
        found = [(summaries[key], sorted(ledger.key_holders(key), key=_order)) for key in keys if key in summaries]
    if args.output == "json":
        print(json.dumps([_key_json(summary, holders) for summary, holders in found], indent=2))
        return 0
    for number, (summary, holders) in enumerate(found):
        print(("\n" if number else "") + "\n".join(_key_table(summary, holders)))
    print(f"{'' if not found else chr(10)}{len(found)} keys with evidence in {args.table}")
    return 0


def _order(holder: Holder) -> tuple[datetime, str]:
    return holder.evidence_date, holder.name


# ---- import ----------------------------------------------------------------------------------


def _holder(found: ledger_files.Found, reason: str, not_before: datetime | None, now: datetime) -> Holder:
    date = found.not_before or not_before
    assert date is not None
    return Holder(
        key=found.key,
        account=NO_ACCOUNT,
        service=IMPORTED,
        region=NO_ACCOUNT,
        arn=IMPORTED,
        certificate_id=found.content_id,
        name=found.name,
        not_before=date,
        uploaded=None,
        first_seen=now,
        last_seen=now,
        reason=reason,
    )


def import_command(args: argparse.Namespace) -> int:
    reason = args.reason.strip()
    if not reason:
        raise CliError("--reason is empty: say why these files are evidence")
    not_before = _date("--not-before", args.not_before) if args.not_before else None
    ledger = open_table(args)
    try:  # every file is read before anything is written, so bad input writes nothing
        evidence = [ledger_files.read_file(path) for path in ledger_files.files_under(args.paths)]
    except ledger_files.UnreadablePath as error:
        raise CliError(str(error)) from None
    now = datetime.now(UTC)
    holders = []
    for file in evidence:
        if file.skipped is None and not_before is None and any(f.not_before is None for f in file.found):
            file = replace(file, found=(), skipped="holds a bare public key: give its date with --not-before DATE")
        if file.skipped is not None:
            print(f"skipped {file.path}: {file.skipped}", file=sys.stderr)
            continue
        holders += [_holder(found, reason, not_before, now) for found in file.found]
    if not holders:
        raise CliError("nothing to import: no file named holds a certificate or public key")
    cutoff = parse_cutoff(DEFAULT_CUTOFF)
    with ledger_errors(args):
        for key in sorted({holder.key for holder in holders}):
            _import_key(ledger, [holder for holder in holders if holder.key == key], cutoff, now, print)
    return 0


QUEUED = "its rule is queued to evaluate again (the rule's next run anywhere asks it)"


def _import_key(
    ledger: OperatorLedger, new: list[Holder], cutoff: datetime, now: datetime, say: Callable[[str], None]
) -> None:
    """Write one key's new evidence; what is there already is kept as it is (so import is idempotent).

    As the rule writes: the summary first (a lowering to before the cutoff marks the re-evaluations it
    owes, in the same write), the certificate items next, then the owed re-evaluations are kept as
    requests and the mark removed. An import stopped anywhere is finished by running it again.
    """
    held = {(holder.arn, holder.certificate_id): holder for holder in ledger.key_holders(new[0].key)}
    fresh = list({(h.arn, h.certificate_id): h for h in new if (h.arn, h.certificate_id) not in held}.values())
    mine = [held.get((h.arn, h.certificate_id), h) for h in new]
    first = min(mine, key=_order)
    owed = Owed(owed_token(now, "import"), None) if first.evidence_date < cutoff else None
    lowered = ledger.add_evidence(first, owed=owed)
    ledger.put_certificates(fresh)
    for holder in new:
        before = "before" if holder.evidence_date < cutoff else "NOT before"
        state = "imported" if holder in fresh else "already in the ledger"
        say(
            f"{state}: {holder.name}, key {holder.key}, dated {stamp(holder.evidence_date)} ({before} {DEFAULT_CUTOFF})"
        )
    others = [h for h in held.values() if h.service != IMPORTED and h.deleted_since is None]
    if lowered:
        say(f"  the key's earliest evidence is now {stamp(first.evidence_date)}")
    summary = ledger.summaries([first.key]).get(first.key)
    asked: set[str] = set()
    if summary is not None and summary.owed is not None:  # this import's, or one stopped before it queued
        asked = {rule.account for rule in ledger.ask_again(summary.accounts, now)}
        ledger.clear_owed(summary.key, summary.owed.token)
    for holder in sorted(others, key=_order):
        then = QUEUED if holder.account in asked else "judged again at its next evaluation"
        say(f"  carried by {holder.name} ({holder.account}, {_where(holder)}): {then}")


def _date(option: str, text: str) -> datetime:
    try:
        return parse_cutoff(text)
    except ParameterError as error:
        raise CliError(str(error).replace("CutoffDate", option)) from None


# ---- forget ----------------------------------------------------------------------------------


def forget_command(args: argparse.Namespace) -> int:
    key = fingerprint(args.fingerprint)
    reason = args.reason.strip()
    if not reason:
        raise CliError("--reason is empty: say why this evidence is removed")
    ledger = open_table(args)
    with ledger_errors(args):
        finished = ledger.unfinished(key)
        for removal in finished:  # stopped part-way: already logged and confirmed, so finished without asking
            count = len(removal.removed)
            print(f"finishes the removal logged as FORGOTTEN {removal.sk} (by {removal.who}): {count} items")
            _remove(ledger, removal.sk, removal.removed, removal.accounts)
        evidence = ledger.key_evidence(key)
        if not evidence.under_key:
            if finished:
                return 0
            raise CliError(f"no evidence against key {key} in {args.table}: nothing to forget")
        holders, removed = evidence.holders, evidence.removed
        print(f"removes {len(removed)} items from {args.table}:")
        for pk, sk in removed:
            print(f"  {pk} {sk}")
        live = [h for h in holders if h.service != IMPORTED and h.deleted_since is None]
        for holder in live:
            print(f"note: {holder.name} ({holder.account}) still exists; its account's next run records it again")
        if not args.yes and not _confirmed(len(removed)):
            print("nothing removed")
            return 0
        who = client(args, session_for(args), "sts").get_caller_identity()["Arn"]
        # Logged first, with what it removes and whom it queues: running forget again finishes it.
        logged = ledger.log_removal(key, who, datetime.now(UTC), reason, removed, {h.account for h in live})
        _remove(ledger, logged, removed, [h.account for h in live])
        again = ledger.key_evidence(key).under_key
    print(f"removed {len(removed)} items; logged as FORGOTTEN {logged} (by {who})")
    if again:  # a run of the rule recorded the key while it was removed (a certificate that still exists)
        print(f"note: {len(again)} items under the key were written again meanwhile; 'ledger show --key' lists them")
    return 0


def _remove(ledger: OperatorLedger, logged: str, removed: Sequence[tuple[str, str]], accounts: Sequence[str]) -> None:
    """Delete a logged removal's items, queue its accounts' rules (they may be COMPLIANT now), mark it done."""
    ledger.delete_items(removed)
    now = datetime.now(UTC)
    for rule in ledger.ask_again(accounts, now):
        print(f"queued: {rule.rule} in {rule.account} ({rule.region}) evaluates again at the rule's next run")
    ledger.finish_removal(logged, now)


def _confirmed(count: int) -> bool:
    if not sys.stdin.isatty():
        raise CliError(f"stdin is not a terminal: pass --yes to remove the {count} items listed")
    return input(f"remove these {count} items? type yes: ").strip().lower() == "yes"
