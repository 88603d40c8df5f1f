"""One account's verdicts: list, read, record, judge. Used by both triggers and the CLI.

An account is read where it is asked to be: IAM (global, reported in the rule's home Region)
and ACM in the given Regions, each client one Region.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .certificate import IAM_REGION, CertificateEvidence, CertificateMetadata
from .deadline import NO_DEADLINE, Deadline
from .evidence import KnownBodies, gather
from .iam import list_certificates, read_server_certificate
from .parameters import RuleParameters
from .verdict import Verdict, evaluate_account, not_applicable

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

    from .acm import AcmListing
    from .container import WarmContainer
    from .ledger import LedgerRun, RunFindings


@dataclass(frozen=True)
class Listing:
    """What one account lists, before any body is read."""

    iam_client: IAMClient | None
    iam: list[CertificateMetadata] = field(default_factory=list)
    acm: list[tuple[Any, AcmListing]] = field(default_factory=list)  # (client, its Region's listing)

    @property
    def judged(self) -> list[CertificateMetadata]:
        """The certificates whose keys are judged: IAM's, and ACM's imported ones."""
        return self.iam + [meta for _, listing in self.acm for meta in listing.imported]

    @property
    def scope(self) -> frozenset[tuple[str, str]]:
        """(service, Region) listed in full: a certificate of the ledger's there and not listed is gone."""
        iam = {("iam", IAM_REGION)} if self.iam_client is not None else set()
        return frozenset(iam | {("acm", str(client.meta.region_name)) for client, _ in self.acm})


@dataclass(frozen=True)
class Collected:
    """What the body reads gathered: the evidence to judge, and the rows decided without it."""

    evidence: list[CertificateEvidence]
    unjudged: list[Verdict]  # NOT_APPLICABLE: deleted while being read, or issued by ACM


@dataclass(frozen=True)
class Assessment:
    """One account's verdicts, the evidence they rest on, and what the key ledger run found."""

    verdicts: list[Verdict]
    evidence: list[CertificateEvidence]
    findings: RunFindings | None  # None without a key ledger


def list_account(iam: IAMClient | None, acm: Sequence[Any] = ()) -> Listing:
    """List IAM's server certificates (unless iam is None) and every ACM client's certificates."""
    from .acm import list_acm  # imported when ACM is read: a lean start (docs/lean-start.md)

    listed = list_certificates(iam) if iam is not None else []
    return Listing(iam, listed, [(client, list_acm(client)) for client in acm])


def read_listing(
    listing: Listing,
    params: RuleParameters,
    container: WarmContainer,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    known: KnownBodies | None = None,
) -> Collected:
    """Read the bodies not known yet (IAM's with progress), and turn everything listed into evidence; the
    container keeps the bodies read, and its own count as known."""
    evidence: list[CertificateEvidence] = []
    deleted: list[CertificateMetadata] = []
    if listing.iam_client is not None:
        iam, read_iam = listing.iam_client, functools.partial(read_server_certificate, listing.iam_client)
        gathered = gather(
            iam, "GetServerCertificate", read_iam, listing.iam, params.check_body, container, deadline, progress, known
        )
        evidence, deleted = list(gathered.evidence), list(gathered.deleted)
    unjudged: list[Verdict] = []
    for client, acm in listing.acm:
        from .acm import issued_verdicts, read_imported  # when ACM is read: a lean start (docs/lean-start.md)

        read = functools.partial(read_imported, client)
        gathered = gather(
            client, "GetCertificate", read, acm.imported, params.check_body, container, deadline, known=known
        )
        evidence += gathered.evidence
        deleted += gathered.deleted
        unjudged += issued_verdicts(acm)
    return Collected(evidence, deleted_verdicts(deleted) + unjudged)


def assess(
    iam: IAMClient | None,
    params: RuleParameters,
    container: WarmContainer,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    ledger: LedgerRun | None = None,
    acm: Sequence[Any] = (),
) -> Assessment:
    """A verdict for every certificate listed: IAM's in IAM's order, then each ACM Region's.

    A certificate deleted between the list and the body read is reported
    NOT_APPLICABLE, so it does not keep a stale verdict. With a key ledger, bodies it
    holds are not read, the account's certificates are recorded before the keys'
    evidence is read back, and that evidence is one more input to the verdict.
    """
    listing = list_account(iam, acm)
    if ledger is None:
        collected = read_listing(listing, params, container, deadline, progress)
        findings = None
    else:
        known = ledger.load()
        try:
            if params.check_body:  # one run at a time reads what the ledger lacks
                known = ledger.claim_reads(listing.judged, known, deadline)
            collected = read_listing(listing, params, container, deadline, progress, known)
            findings = ledger.record(collected.evidence, listing.scope)
        finally:
            ledger.release()
    summaries = findings.summaries if findings is not None else None
    verdicts = evaluate_account(collected.evidence, params, summaries) + collected.unjudged
    return Assessment(verdicts, collected.evidence, findings)


def assess_account(
    iam: IAMClient,
    params: RuleParameters,
    container: WarmContainer,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verdict]:
    """assess without a key ledger, IAM only: the verdicts alone."""
    return assess(iam, params, container, deadline, progress).verdicts


def deleted_verdicts(deleted: Sequence[CertificateMetadata]) -> list[Verdict]:
    """NOT_APPLICABLE for certificates deleted between the list and the body read."""
    return [
        not_applicable(meta.name, meta.arn, "The certificate was deleted during the evaluation.") for meta in deleted
    ]
