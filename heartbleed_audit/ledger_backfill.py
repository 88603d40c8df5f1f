"""heartbleed-audit audit --organization --ledger TABLE --record: the key ledger filled from the live estate.

The ledger learns only from the accounts where the rule runs. An account left out of the organization rule
(ExcludedAccounts, a sandbox without AWS Config, a member whose execution role has not arrived yet) holds
keys that no rule run records, so a certificate elsewhere that carries such a key stays COMPLIANT. The
organization audit reads those accounts through the audit role; with --record it also writes what it read
into the ledger, through the rule's own write path (heartbleed.ledger.protocol.LedgerRun.record): each key's
summary before the certificate items, and an owed marker in the same write as a lowering to before the
cutoff. So its writes are idempotent with the rule's, a backfill stopped part-way is completed by running it
again (or by any rule run that reads the key's summary), and a second run changes nothing.

Where it lowers a key's earliest evidence, it writes the owed marker out as kept requests, one per recorded
rule of the key's accounts (heartbleed.ledger.propagation.write_out_owed), as a rule run does. One more case is the
backfill's own: a certificate it records, new to the ledger, whose key already holds evidence from before the
cutoff, raises no owed marker, yet its account's rule never judged it with that evidence (a rule run judges its
own certificates; the backfill reports none to Config), so that account's recorded rules are kept too.

It asks none of the kept requests itself: the next run of the rule in any account asks them through the
roles the rule recorded, so the operator needs only the ledger's writes and the audit role in the members
stays read-only. The backfill is no rule: no Config rule of its own is spared a re-evaluation, and it
registers none.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence, Set
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TextIO

from heartbleed.certificate import CertificateEvidence
from heartbleed.deadline import NO_DEADLINE
from heartbleed.ledger import REFRESH_LAST_SEEN, KeptRequest, Ledger, LedgerRun, RuleRegistration, Summaries, owed_token
from heartbleed.ledger.propagation import Propagation, write_out_owed

from .cli_shared import CliError
from .ledger_command import table_errors

OPTION = "--record"
NEEDS = "dynamodb:Query, dynamodb:BatchGetItem, dynamodb:UpdateItem and dynamodb:BatchWriteItem"
# The backfill runs no rule: every recorded rule of a key's accounts is owed, none is its own.
NO_RULE = RuleRegistration("", "", "", "")


def add_option(group: Any) -> None:
    group.add_argument(
        OPTION,
        action="store_true",
        help=f"with --ledger: record every certificate read into the key ledger, as the rule does, and queue "
        "re-evaluations of the accounts whose certificates carry a key it finds older evidence for (the rule's "
        f"next run asks them); needs {NEEDS} on the table",
    )


def check_option(args: argparse.Namespace) -> None:
    """--record, checked before any AWS call (after --ledger's own check)."""
    if args.record and args.ledger is None:
        raise CliError(f"{OPTION} needs --ledger TABLE: the key ledger to record into (and --organization)")


def ledger_errors() -> AbstractContextManager[None]:
    """A ledger that refuses a read or a write ends the backfill with one line (exit 2) saying what it needs."""
    return table_errors("--ledger", f"'audit --ledger --record' needs {NEEDS} on the table")


@dataclass(frozen=True)
class Recorded:
    """One certificate the backfill wrote: new to the ledger, or recorded gone."""

    account: str
    where: str
    name: str
    key: str
    gone: bool = False


@dataclass
class Backfill:
    """What the backfill wrote and queued, across the accounts it records concurrently."""

    ledger: Ledger
    recorded: list[Recorded] = field(default_factory=list)
    already: int = 0  # certificates read that the ledger held already
    refreshed: int = 0  # of those, the ones whose last-seen date the run rewrote (at most once a day)
    lowered: set[str] = field(default_factory=set)  # keys whose earliest evidence it lowered
    repaired: set[str] = field(default_factory=set)
    queued: list[KeptRequest] = field(default_factory=list)
    unregistered: int = 0  # accounts owed a re-evaluation with no rule recorded
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, account: LedgerRun, evidence: list[CertificateEvidence], scope: frozenset[tuple[str, str]]
    ) -> None:
        """Record one account's evidence (estate.Recorder), then write out the owed markers it reads."""
        # No rule's Region: the lowering's owed marker spares no rule (the ledger protocol's owed names the run's own).
        account.region = NO_RULE.region
        written, already, refreshed = _what_is_new(account, evidence, scope)
        findings = account.record(evidence, scope)
        done = Propagation()
        queued = write_out_owed(self.ledger, findings.summaries, NO_RULE, account.owner, NO_DEADLINE, done)
        queued += self._exposed(account, written, findings.summaries, {request.account for request in queued})
        with self._lock:
            self.recorded += written
            self.already += already
            self.refreshed += refreshed
            self.lowered |= findings.new_evidence
            self.repaired |= findings.repaired
            self.queued += queued
            self.unregistered += done.unregistered

    def _exposed(
        self,
        account: LedgerRun,
        written: Sequence[Recorded],
        summaries: Summaries,
        queued: Set[str],
    ) -> list[KeptRequest]:
        """Keep a re-evaluation of the account's own recorded rules where the backfill recorded a certificate
        of it, new to the ledger, whose key holds evidence from before the cutoff that did not come from this
        write (no lowering, so no owed marker names the account): its rule has not judged that certificate
        with that evidence. A rule run needs none of this, as it judges its own certificates itself."""
        assert account.cutoff is not None
        cutoff = account.cutoff
        exposed = [
            one
            for one in written
            if not one.gone and one.key in summaries and summaries[one.key].earliest.evidence_date < cutoff
        ]
        if not exposed or account.account in queued:
            return []
        token = owed_token(account.now, account.owner)
        requests = [
            KeptRequest(rule.account, rule.region, rule.rule, rule.role, owed=token)
            for rule in self.ledger.rules([account.account])
        ]
        for request in requests:
            self.ledger.keep(request)
        return requests

    def report(self, table: str, failures: Sequence[str], out: TextIO | None = None) -> None:
        out = out or sys.stderr  # looked up now: a test (or a caller) may have replaced it
        for one in sorted(self.recorded, key=lambda r: (r.account, r.where, r.name)):
            what = "recorded deleted" if one.gone else "recorded"
            print(f"{what}: {one.account} {one.where} {one.name}", file=out)
        for request in sorted(self.queued, key=lambda r: (r.account, r.region)):
            print(
                f"queued: re-evaluation of {request.rule} in {request.account} ({request.region}); "
                "the rule's next run in any account asks it",
                file=out,
            )
        changed = self.recorded or self.refreshed or self.lowered or self.repaired or self.queued
        if changed:
            print(
                f"backfill of {table}: {sum(not r.gone for r in self.recorded)} certificates recorded, "
                f"{sum(r.gone for r in self.recorded)} recorded deleted, {self.already} already held "
                f"({self.refreshed} last seen again); "
                f"{len(self.lowered)} keys with older evidence, {len(self.repaired)} summaries repaired; "
                f"{len(self.queued)} re-evaluations queued"
                + (f", {self.unregistered} accounts owed one have no rule recorded" if self.unregistered else ""),
                file=out,
            )
        else:
            held = f"the ledger held all {self.already} certificates read"
            print(f"backfill of {table}: nothing changed: {held}", file=out)
        for account in failures:
            print(f"backfill incomplete: account {account} was not read, so nothing of it was recorded", file=out)


def _what_is_new(
    account: LedgerRun, evidence: Sequence[CertificateEvidence], scope: frozenset[tuple[str, str]]
) -> tuple[list[Recorded], int, int]:
    """What record will write for the report, from the ledger's loaded view: new (or back) certificates,
    and ones it held that are no longer listed; how many read it held already, and of those how many it
    marks seen again (the ledger protocol's refresh rule)."""
    written, already, refreshed, present = [], 0, 0, set()
    for item in evidence:
        meta = item.metadata
        present.add((meta.arn, meta.certificate_id))
        if item.body is None or meta.certificate_id is None:
            continue
        earlier = account.known.get((meta.arn, meta.certificate_id))
        if earlier is None or earlier.deleted_since is not None:
            where = _where(meta.service, meta.region)
            written.append(Recorded(account.account, where, meta.name, item.body.key_fingerprint))
        else:
            already += 1
            refreshed += account.now - earlier.last_seen > REFRESH_LAST_SEEN
    for ident, holder in account.known.items():
        if ident not in present and holder.deleted_since is None and (holder.service, holder.region) in scope:
            where = _where(holder.service, holder.region)
            written.append(Recorded(account.account, where, holder.name, holder.key, gone=True))
    return written, already, refreshed


def _where(service: str, region: str) -> str:
    return "IAM" if service == "iam" else f"{service.upper()} {region}"
