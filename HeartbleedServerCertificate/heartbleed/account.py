"""One account's verdicts: list, read, judge. Used by both triggers and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .certificate import CertificateMetadata
from .deadline import NO_DEADLINE, Deadline
from .iam import gather_evidence, list_certificates
from .parameters import RuleParameters
from .verdict import Verdict, evaluate_account, not_applicable

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


def assess_account(
    iam: IAMClient,
    params: RuleParameters,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verdict]:
    """A verdict for every server certificate IAM lists, in IAM's order.

    A certificate deleted between the list and the body read is reported
    NOT_APPLICABLE, so it does not keep a stale verdict.
    """
    gathered = gather_evidence(iam, list_certificates(iam), params.check_body, deadline, progress)
    return evaluate_account(gathered.evidence, params) + deleted_verdicts(gathered.deleted)


def deleted_verdicts(deleted: Sequence[CertificateMetadata]) -> list[Verdict]:
    """NOT_APPLICABLE for certificates deleted between the list and the body read."""
    return [
        not_applicable(meta.name, meta.arn, "The certificate was deleted during the evaluation.") for meta in deleted
    ]
