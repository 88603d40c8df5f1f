"""The verdict: one function, shared by the periodic run, change events and the CLI.

Pure: it takes the evidence gathered from IAM and the rule parameters, and
returns one verdict per certificate. No AWS calls happen here.

Scenarios, numbered here once: tests/test_verdict.py (this function) and the rdk test,
HeartbleedServerCertificate_test.py (the rule), each have a test_scenario_N_... for every N
(tests/test_scenarios.py checks), and the end-to-end tests name the N they exercise.
  1  IAM UploadDate before the cutoff (the IAM-033 check)        NON_COMPLIANT
  2  issued (NotBefore) before the cutoff, uploaded later        NON_COMPLIANT
  3  the public key of a certificate flagged by 1, 2 or 11       NON_COMPLIANT, as is that one
     (reissued without re-keying)
  4  missing evidence: no UploadDate (ACM: no ImportedAt)        NON_COMPLIANT
  5  missing evidence: the body is not a certificate             NON_COMPLIANT
  6  missing evidence: the body could not be read (denied)       NON_COMPLIANT
  7  uploaded and issued after the cutoff, its own key           COMPLIANT
  8  named in ExemptCertificates (its key still counts for 3)    NOT_APPLICABLE
  9  deleted (a change event's ResourceDeleted)                  NOT_APPLICABLE, under its ARN
  10 another certificate's body unreadable: reuse not ruled out  NON_COMPLIANT
  11 imported into ACM (ImportedAt) before the cutoff            NON_COMPLIANT, with the ACM remedy
  12 issued by ACM (AMAZON_ISSUED, PRIVATE): ACM made its key    NOT_APPLICABLE
  13 the key ledger holds evidence against its key from a        NON_COMPLIANT, naming that account
     certificate in another account
  14 ... from a certificate deleted since                        NON_COMPLIANT, naming the deletion
  15 ... from an ACM import                                      NON_COMPLIANT, naming ACM
evaluate_account checks 8 first, then the certificate's own dates and evidence (1, 2, 4-6, 11), then
its key (3, else 13-15), then 10; none of these is 7. 9 and 12 are decided before it, by
configuration_item.gone_reason and acm.issued_verdicts, and reported through not_applicable.
The verdict table: docs/design.md; the key ledger: docs/ledger.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from .certificate import CertificateEvidence, CertificateMetadata
from .parameters import RuleParameters

if TYPE_CHECKING:
    from .ledger.schema import Holder, KeySummary, Summaries

ANNOTATION_LIMIT = 256  # PutEvaluations accepts 1-256 characters
REMEDY = "Revoke it, re-key, reissue and replace it (or use ACM)."
REMEDY_ACM = "Revoke it; re-import a certificate with a new key, or use an ACM-issued one."


class Compliance(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


@dataclass(frozen=True)
class Verdict:
    """One certificate's evaluation: what Config shows in its row."""

    name: str
    arn: str
    compliance: Compliance
    annotation: str


def stamp(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, as the AWS CLI shows dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fit_annotation(*parts: str) -> str:
    """Join the parts that fit into Config's 256-character annotation, never empty."""
    text = ""
    for part in parts:
        candidate = f"{text} {part}".strip()
        if len(candidate) > ANNOTATION_LIMIT:
            if not text:  # even the first part is too long: cut it visibly
                text = part[: ANNOTATION_LIMIT - 3].rstrip() + "..."
            break
        text = candidate
    return text or "No annotation."


def not_applicable(name: str, arn: str, reason: str) -> Verdict:
    return Verdict(name, arn, Compliance.NOT_APPLICABLE, fit_annotation(reason))


def _date_findings(item: CertificateEvidence, params: RuleParameters) -> list[str]:
    """Why the certificate itself is pre-cutoff: one sentence, or an empty list."""
    found = []
    uploaded = item.metadata.upload_date
    if uploaded is not None and uploaded < params.cutoff:
        found.append(f"{'imported' if item.metadata.in_acm else 'uploaded'} {stamp(uploaded)}")
    if item.body is not None and item.body.not_before < params.cutoff:
        found.append(f"issued (NotBefore) {stamp(item.body.not_before)}")
    if not found:
        return []
    sentence = " and ".join(found)
    return [f"{sentence[0].upper()}{sentence[1:]}, before the cutoff {stamp(params.cutoff)}."]


def _missing_evidence(item: CertificateEvidence, params: RuleParameters) -> list[str]:
    missing = []
    if item.metadata.upload_date is None:
        missing.append("ACM returned no ImportedAt." if item.metadata.in_acm else "IAM returned no UploadDate.")
    if params.check_body and item.body is None:
        missing.append(f"Body not checked: {item.body_problem or 'it was not read'}.")
    return missing


def _called(other: CertificateMetadata, seen_from: CertificateMetadata) -> str:
    """Another certificate's name, with its account and service where they differ from the reader's."""
    where = [f"account {other.account}"] if other.account != seen_from.account else []
    where += ["ACM"] if other.in_acm else []
    return f"{other.name} ({', '.join(where)})" if where else other.name


def _ledger_called(holder: Holder, seen_from: CertificateMetadata) -> str:
    """The ledger's earliest holder of a key, as an annotation names it."""
    from .ledger.schema import IMPORTED  # only with a key ledger: a lean start (docs/lean-start.md)

    if holder.service == IMPORTED:  # from an operator's files: it has no account
        where = ["imported into the ledger"]
    else:
        where = [f"account {holder.account}"] if holder.account != seen_from.account else []
    where += ["ACM"] if holder.service == "acm" else []
    where += [f"deleted since {stamp(holder.deleted_since)}"] if holder.deleted_since else []
    return f"{holder.name} ({', '.join(where)})" if where else holder.name


def _ledger_finding(item: CertificateEvidence, summary: KeySummary | None, params: RuleParameters) -> list[str]:
    """The ledger's evidence against the certificate's key, from a certificate other than itself."""
    if summary is None or summary.earliest.evidence_date >= params.cutoff:
        return []
    earliest, meta = summary.earliest, item.metadata
    if (earliest.arn, earliest.certificate_id) == (meta.arn, meta.certificate_id):
        return []  # its own dates, judged above
    return [
        f"Shares its public key with {_ledger_called(earliest, meta)}, {earliest.evidence_kind} "
        f"{stamp(earliest.evidence_date)}, before the cutoff: the key may be exposed."
    ]


def evaluate_account(
    evidence: Sequence[CertificateEvidence],
    params: RuleParameters,
    summaries: Summaries | None = None,
) -> list[Verdict]:
    """Return one verdict per certificate, in the order given.

    Key reuse is judged across everything passed: one account's certificates (the
    rule), or an estate's IAM and ACM certificates in many accounts (the CLI's
    organization audit). Pass every certificate that exists, exempt ones included:
    an exempt certificate's key can still be compromised. summaries are the key ledger's
    summary of each key (by fingerprint) when one is configured: evidence from
    certificates anywhere, deleted ones included.
    """
    summaries = summaries or {}
    findings = {item.metadata.arn: _date_findings(item, params) for item in evidence}

    # Each compromised key names the certificate that compromised it (the first by name, then ARN).
    compromised: dict[str, CertificateMetadata] = {}
    for item in sorted(evidence, key=lambda e: (e.metadata.name, e.metadata.arn)):
        if item.body is not None and findings[item.metadata.arn]:
            compromised.setdefault(item.body.key_fingerprint, item.metadata)
    unreadable = sorted((e.metadata for e in evidence if params.check_body and e.body is None), key=lambda m: m.name)

    verdicts = []
    for item in evidence:
        meta = item.metadata
        if params.is_exempt(meta.name, meta.arn):
            verdicts.append(not_applicable(meta.name, meta.arn, "Exempted by the rule parameter ExemptCertificates."))
            continue
        reasons = findings[meta.arn] + _missing_evidence(item, params)
        if not reasons and item.body is not None:
            owner = compromised.get(item.body.key_fingerprint)
            if owner is not None:
                reasons.append(
                    f"Shares its public key with {_called(owner, meta)}, issued or uploaded before the cutoff: "
                    "reissued without re-keying, so the key may be exposed."
                )
            else:
                reasons += _ledger_finding(item, summaries.get(item.body.key_fingerprint), params)
            others = [_called(other, meta) for other in unreadable if other.arn != meta.arn]
            if not reasons and others:
                reasons.append(f"Key reuse not ruled out: the body of {', '.join(others)} could not be read.")
        if reasons:
            remedy = REMEDY_ACM if meta.in_acm else REMEDY
            verdicts.append(Verdict(meta.name, meta.arn, Compliance.NON_COMPLIANT, fit_annotation(*reasons, remedy)))
        else:
            verdicts.append(
                Verdict(meta.name, meta.arn, Compliance.COMPLIANT, fit_annotation(_clean_summary(item, params)))
            )
    return verdicts


def _clean_summary(item: CertificateEvidence, params: RuleParameters) -> str:
    assert item.metadata.upload_date is not None  # a clean verdict has its evidence
    uploaded = f"{'Imported' if item.metadata.in_acm else 'Uploaded'} {stamp(item.metadata.upload_date)}"
    cutoff = stamp(params.cutoff)
    if item.body is None:
        return f"{uploaded}, after the cutoff {cutoff}; body not checked (CheckCertificateBody=false)."
    return (
        f"{uploaded} and issued {stamp(item.body.not_before)}, after the cutoff {cutoff}; "
        "its key is not shared with a pre-cutoff certificate."
    )
