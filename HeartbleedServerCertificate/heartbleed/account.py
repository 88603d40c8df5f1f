"""One account's verdicts: list, read, record, judge. Used by both triggers and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .certificate import CertificateEvidence, CertificateMetadata
from .deadline import NO_DEADLINE, Deadline
from .iam import gather_evidence, list_certificates
from .ledger_run import AccountLedger, LedgerFindings
from .parameters import RuleParameters
from .verdict import Verdict, evaluate_account, not_applicable

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

NO_FINDINGS = LedgerFindings({}, frozenset())


@dataclass(frozen=True)
class Assessment:
    verdicts: list[Verdict]
    evidence: list[CertificateEvidence]
    ledger: LedgerFindings  # empty without a key ledger


def assess(
    iam: IAMClient,
    params: RuleParameters,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    ledger: AccountLedger | None = None,
) -> Assessment:
    """A verdict for every server certificate IAM lists, in IAM's order.

    A certificate deleted between the list and the body read is reported
    NOT_APPLICABLE, so it does not keep a stale verdict. With a key ledger, bodies it
    holds are not read, the account's certificates are recorded before the keys'
    evidence is read back, and that evidence is one more input to the verdict.
    """
    listed = list_certificates(iam)
    if ledger is None:
        gathered = gather_evidence(iam, listed, params.check_body, deadline, progress)
        findings = NO_FINDINGS
    else:
        known = ledger.load()
        try:
            if params.check_body:  # one run at a time reads what the ledger lacks
                known = ledger.claim_reads(listed, known, deadline)
            gathered = gather_evidence(iam, listed, params.check_body, deadline, progress, known)
            findings = ledger.record(gathered.evidence)
        finally:
            ledger.release()
    verdicts = evaluate_account(gathered.evidence, params, findings.summaries) + deleted_verdicts(gathered.deleted)
    return Assessment(verdicts, gathered.evidence, findings)


def assess_account(
    iam: IAMClient,
    params: RuleParameters,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verdict]:
    """assess without a key ledger: the verdicts alone."""
    return assess(iam, params, deadline, progress).verdicts


def deleted_verdicts(deleted: Sequence[CertificateMetadata]) -> list[Verdict]:
    """NOT_APPLICABLE for certificates deleted between the list and the body read."""
    return [
        not_applicable(meta.name, meta.arn, "The certificate was deleted during the evaluation.") for meta in deleted
    ]
