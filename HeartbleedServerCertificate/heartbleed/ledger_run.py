"""One run's use of the key ledger: what it knows already, what it records, what it reads back.

Order matters for convergence (design section 11): the run writes its own facts, then reads the
summaries of its keys with strongly consistent reads, so of two concurrent runs on one key at
least one sees the other's evidence, and a run whose write lowered a key's earliest evidence
asks the key's other accounts to evaluate again (propagation.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from .certificate import BodyFacts, CertificateEvidence
from .ledger import Ledger
from .ledger_schema import Holder, KeySummary

# "Last seen" is rewritten at most this often per certificate, not on every run (N writes a run).
REFRESH_LAST_SEEN = timedelta(days=1)
IAM_REGION = "global"  # IAM server certificates belong to no Region


@dataclass(frozen=True)
class LedgerFindings:
    """What a run read from and wrote to the ledger."""

    summaries: Mapping[str, KeySummary]
    new_evidence: frozenset[str]  # keys whose earliest evidence this run lowered (or first recorded)


@dataclass
class AccountLedger:
    """The ledger as one account's run sees it."""

    ledger: Ledger
    account: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    known: dict[tuple[str, str], Holder] = field(default_factory=dict)

    def load(self) -> Mapping[str, BodyFacts]:
        """Read what the ledger holds for the account; return its bodies' facts by ServerCertificateId."""
        self.known = self.ledger.account_certificates(self.account)
        return {h.certificate_id: BodyFacts(h.not_before, h.key) for h in self.known.values()}

    def _holder(self, item: CertificateEvidence) -> Holder | None:
        meta, body = item.metadata, item.body
        if body is None or meta.certificate_id is None:
            return None
        return Holder(
            key=body.key_fingerprint,
            account=meta.account,
            service="iam",
            region=IAM_REGION,
            arn=meta.arn,
            certificate_id=meta.certificate_id,
            name=meta.name,
            not_before=body.not_before,
            uploaded=meta.upload_date,
            first_seen=self.now,
            last_seen=self.now,
        )

    def record(self, evidence: Sequence[CertificateEvidence]) -> LedgerFindings:
        """Record the run's certificates, mark the ones gone, then read back every key's summary."""
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
            if ident not in present and holder.deleted_since is None
        ]
        lowered = self.ledger.record(new, refreshed, gone)
        keys = {item.body.key_fingerprint for item in evidence if item.body is not None}
        return LedgerFindings(self.ledger.summaries(keys), frozenset(lowered))
