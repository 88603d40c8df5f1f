"""Turning listed certificates into evidence: the concurrent body reads IAM and ACM share.

Each service supplies one reader (iam.py: GetServerCertificate, acm.py: GetCertificate) that
turns one certificate into evidence, or None when it was deleted after it was listed; this
module runs the readers under one Pace (pacing.py) and skips bodies already known: to the key
ledger, or to the warm container (container.py), which keeps every body read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .certificate import BodyFacts, CertificateEvidence, CertificateMetadata
from .deadline import NO_DEADLINE, Deadline
from .pacing import paced
from .retry_policy import MAX_CONCURRENT_READS

if TYPE_CHECKING:
    from .container import Bodies, BodyKey, WarmContainer

# What a key ledger already holds: bodies' facts by (ARN, certificate id).
KnownBodies = Mapping["BodyKey", BodyFacts]
Reader = Callable[[CertificateMetadata], CertificateEvidence | None]


def _known(meta: CertificateMetadata, ledger: KnownBodies, kept: Bodies) -> BodyFacts | None:
    if meta.certificate_id is None:
        return None
    ident = (meta.arn, meta.certificate_id)
    return ledger.get(ident) or kept.get(ident)


@dataclass(frozen=True)
class Gathered:
    """The evidence for certificates that exist, and the ones deleted while we read."""

    evidence: list[CertificateEvidence]
    deleted: list[CertificateMetadata]


def gather(
    client: Any,
    operation: str,
    read_one: Reader,
    listed: Sequence[CertificateMetadata],
    read_bodies: bool,
    container: WarmContainer,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    known: KnownBodies | None = None,
) -> Gathered:
    """Evidence for every listed certificate, reading the bodies not known yet concurrently when asked;
    the container keeps every body read."""
    if not read_bodies or not listed:  # nothing to read: no pace, no pool
        return Gathered([CertificateEvidence(meta) for meta in listed], [])
    ledger = known or {}

    def one(meta: CertificateMetadata) -> CertificateEvidence | None:
        body = _known(meta, ledger, container.bodies)
        if body:
            return CertificateEvidence(meta, body=body)
        deadline.check("reading certificate bodies")
        evidence = read_one(meta)
        if evidence is not None and evidence.body is not None:
            # Under the id the read returned: IAM's fresher metadata may name a newer upload.
            container.bodies.remember(evidence.metadata, evidence.body)
        return evidence

    with (
        paced(client, operation, container.paced_clients),
        ThreadPoolExecutor(max_workers=MAX_CONCURRENT_READS) as pool,
    ):
        outcomes = []
        for outcome in pool.map(one, listed):
            outcomes.append(outcome)
            if progress:  # the CLI's progress line: (read so far, total)
                progress(len(outcomes), len(listed))
    evidence = [outcome for outcome in outcomes if outcome is not None]
    deleted = [meta for meta, outcome in zip(listed, outcomes, strict=True) if outcome is None]
    return Gathered(evidence, deleted)
