"""One run's use of the key ledger: what it knows already, what it records, what it reads back.

Order matters for convergence (docs/ledger.md): the run writes its own facts, then reads
the summaries of its keys with strongly consistent reads, so of two concurrent runs on one key at
least one sees the other's evidence; a lowering to before the cutoff leaves an owed marker on the
summary, which propagation.py turns into re-evaluations of the key's other accounts.

Within the writes, a key's summary comes before the certificate items that mark the certificate as
recorded, and every run checks each certificate of its account against its key's summary and writes
the summary again where it falls short (repairs): a run stopped after any prefix of its writes, or a
table written by an earlier version that wrote the items first, is completed by the next run.

A run that must read bodies the ledger lacks first takes the account's lease (a conditional write);
a concurrent run on the same account waits for it, then takes the bodies from the ledger, so a
storm of cold change events reads each body about once, not once per container. The lease expires
with its holder's time budget, so a run that dies does not hold the account for ever.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..certificate import BodyFacts, CertificateEvidence, CertificateMetadata
from ..deadline import Deadline
from ..evidence import KnownBodies
from .records import Ledger
from .schema import Holder, KeySummary, Owed, Summaries, owed_token, pending_sk

# "Last seen" is rewritten at most this often per certificate, not on every run (N writes a run).
REFRESH_LAST_SEEN = timedelta(days=1)
LEASE_POLL_S = 1.0  # how often a waiting run looks at the lease (one item read)
LEASE_WITHOUT_DEADLINE = timedelta(minutes=5)  # outside Lambda (the CLI): the longest Lambda timeout would do


@dataclass(frozen=True)
class RunFindings:
    """What a run read from and wrote to the ledger."""

    summaries: Summaries
    new_evidence: frozenset[str]  # keys whose earliest evidence this run lowered (or first recorded)
    repaired: frozenset[str] = frozenset()  # keys whose summary fell short of the account's certificates


@dataclass
class LedgerRun:
    """One account's run's use of the ledger: what it loads, the lease it takes, what it records."""

    ledger: Ledger
    account: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    known: dict[tuple[str, str], Holder] = field(default_factory=dict)
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    leased: bool = False
    # The run's CutoffDate: a lowering to before it owes the key's other accounts a re-evaluation.
    # None: a reader of the ledger (the organization audit), which records nothing.
    cutoff: datetime | None = None
    # A change event reports one certificate: its account's other holders of a lowered key are owed too.
    changed_only: bool = False
    region: str = ""  # the run's rule's Region: the rule that needs no re-evaluation for its own lowering

    def load(self) -> KnownBodies:
        """Read what the ledger holds for the account; return its bodies' facts by (ARN, certificate id)."""
        self.known = self.ledger.account_certificates(self.account)
        return {ident: BodyFacts(h.not_before, h.key) for ident, h in self.known.items()}

    def claim_reads(
        self, listed: Sequence[CertificateMetadata], bodies: KnownBodies, deadline: Deadline
    ) -> KnownBodies:
        """Before reading bodies the ledger lacks: take the account's lease, or wait while another run
        holds it and then use what that run recorded. Returns the bodies known by then."""
        while any((meta.arn, meta.certificate_id) not in bodies for meta in listed):
            now = datetime.now(UTC)
            left = deadline.left_s()
            expires = now + (timedelta(seconds=max(left, 1.0)) if left is not None else LEASE_WITHOUT_DEADLINE)
            if self.ledger.take_lease(self.account, self.owner, now, expires):
                self.leased = True
                return bodies
            while self.ledger.lease_held(self.account, datetime.now(UTC)):
                deadline.check("waiting for another run to read this account's certificate bodies")
                time.sleep(LEASE_POLL_S)
            bodies = self.load()
        return bodies

    def release(self) -> None:
        if self.leased:
            self.ledger.release_lease(self.account, self.owner)
            self.leased = False

    def _holder(self, item: CertificateEvidence) -> Holder | None:
        meta, body = item.metadata, item.body
        if body is None or meta.certificate_id is None:
            return None
        return Holder(
            key=body.key_fingerprint,
            account=meta.account,
            service=meta.service,
            region=meta.region,
            arn=meta.arn,
            certificate_id=meta.certificate_id,
            name=meta.name,
            not_before=body.not_before,
            uploaded=meta.upload_date,
            first_seen=self.now,
            last_seen=self.now,
        )

    def _owed(self, evidence: Sequence[CertificateEvidence]) -> Callable[[Holder], Owed | None]:
        """What a lowering by a holder owes: a re-evaluation of every other account of the key, and of
        this one on a change event when another of its certificates carries the key."""
        if self.cutoff is None:
            raise ValueError("LedgerRun.record needs the run's cutoff")
        cutoff = self.cutoff
        token = owed_token(self.now, self.owner)
        own = Counter(item.body.key_fingerprint for item in evidence if item.body is not None)

        def owed(holder: Holder) -> Owed | None:
            if holder.evidence_date >= cutoff:
                return None  # no verdict changes under this cutoff
            spare = None if self.changed_only and own[holder.key] > 1 else pending_sk(self.account, self.region)
            return Owed(token, spare)

        return owed

    def record(self, evidence: Sequence[CertificateEvidence], scope: Set[tuple[str, str]]) -> RunFindings:
        """Record the run's certificates, mark the ones gone, then read back every key's summary, and
        repair the summaries that fall short of the account's certificates.

        scope names the (service, Region) pairs the run listed in full: a certificate the ledger
        holds elsewhere (ACM in another Region, IAM for a rule outside its home Region) is not gone.
        """
        owed = self._owed(evidence)
        new, refreshed = [], []
        for item in evidence:
            holder = self._holder(item)
            if holder is None:
                continue
            earlier = self.known.get((holder.arn, holder.certificate_id))
            if earlier is None or earlier.deleted_since is not None:
                new.append(holder)
            elif self.now - earlier.last_seen > REFRESH_LAST_SEEN:
                refreshed.append(earlier.seen(self.now))
        present = {(item.metadata.arn, item.metadata.certificate_id) for item in evidence}
        # Not listed, or listed and gone before its body was read: deleted, and its evidence kept.
        gone = [
            replace(holder, deleted_since=self.now)
            for ident, holder in self.known.items()
            if ident not in present and holder.deleted_since is None and (holder.service, holder.region) in scope
        ]
        lowered = self.ledger.write_evidence(new, refreshed, gone, owed)
        holders = {**self.known, **{(h.arn, h.certificate_id): h for h in [*new, *refreshed, *gone]}}
        keys = {item.body.key_fingerprint for item in evidence if item.body is not None}
        summaries = self.ledger.summaries(keys | {holder.key for holder in holders.values()})
        short = shortfalls(holders.values(), summaries)
        if short:
            # Only certificates the ledger still holds: an operator's forget may have removed the key's
            # evidence since this run loaded it, and a repair must not write it back.
            still = self.ledger.account_certificates(self.account)
            short = [holder for holder in short if (holder.arn, holder.certificate_id) in still]
        if short:
            gone_short = [holder for holder in short if holder.deleted_since is not None]
            lowered |= self.ledger.write_summaries(short, gone_short, owed)
            summaries.update(self.ledger.summaries({holder.key for holder in short}))
        return RunFindings(summaries, frozenset(lowered), frozenset(holder.key for holder in short))


def shortfalls(holders: Iterable[Holder], summaries: Mapping[str, KeySummary]) -> list[Holder]:
    """The certificates whose key's summary falls short of them: no summary, not their account, a later
    evidence date, or (their key's earliest) no deletion mark. Applying the summary writes again for
    them is what a run stopped part-way, or an earlier rule version's write order, left undone."""
    short = []
    for holder in holders:
        summary = summaries.get(holder.key)
        if (
            summary is None
            or holder.account not in summary.accounts
            or summary.earliest.evidence_date > holder.evidence_date
            or (
                holder.deleted_since is not None
                and summary.earliest.deleted_since is None
                and (summary.earliest.arn, summary.earliest.certificate_id) == (holder.arn, holder.certificate_id)
            )
        ):
            short.append(holder)
    return short
