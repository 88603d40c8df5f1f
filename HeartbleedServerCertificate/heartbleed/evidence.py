"""Turning listed certificates into evidence: the concurrent body reads IAM and ACM share.

Each service supplies one reader (iam.py: GetServerCertificate, acm.py: GetCertificate) that
turns one certificate into evidence, or None when it was deleted after it was listed; this
module runs the readers under one Pace (pacing.py) and skips bodies already known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .certificate import BodyFacts, CertificateEvidence, CertificateMetadata
from .deadline import NO_DEADLINE, Deadline
from .pacing import paced

# Bodies are read with this many requests in flight: at ~50 ms a round trip that is
# up to ~640 reads/s, so the 1,000-certificate quota is read in under 2 s when IAM
# allows it; when it does not, the Pace (pacing.py), not the pool, sets the rate.
# botocore's connection pool matches (clients.py). Peak RSS at 1,000 certificates
# stays at 111 MiB (bench/results.json), within the smallest Lambda memory size.
MAX_CONCURRENT_READS = 32

# A body never changes for one upload: IAM gives every upload a new ServerCertificateId, and an
# ACM re-import a new ImportedAt. So a warm Lambda container keeps what it has read, keyed by ARN
# (which names the account) and that id, and reads only certificates it has not seen. Bounded.
_BODIES: dict[tuple[str, str], BodyFacts] = {}
BODY_CACHE_LIMIT = 5000

# What a key ledger already holds: bodies' facts by (ARN, certificate id).
KnownBodies = Mapping[tuple[str, str], BodyFacts]
Reader = Callable[[CertificateMetadata], CertificateEvidence | None]


def remember(meta: CertificateMetadata, body: BodyFacts) -> None:
    if meta.certificate_id is None:
        return
    if len(_BODIES) >= BODY_CACHE_LIMIT:
        _BODIES.clear()  # rare (several accounts at the raised quota): start over, stay bounded
    _BODIES[(meta.arn, meta.certificate_id)] = body


def _known(meta: CertificateMetadata, ledger: KnownBodies) -> BodyFacts | None:
    if meta.certificate_id is None:
        return None
    ident = (meta.arn, meta.certificate_id)
    return ledger.get(ident) or _BODIES.get(ident)


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
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    known: KnownBodies | None = None,
) -> Gathered:
    """Evidence for every listed certificate, reading the bodies not known yet concurrently when asked."""
    if not read_bodies or not listed:  # nothing to read: no pace, no pool
        return Gathered([CertificateEvidence(meta) for meta in listed], [])
    ledger = known or {}

    def one(meta: CertificateMetadata) -> CertificateEvidence | None:
        body = _known(meta, ledger)
        if body:
            return CertificateEvidence(meta, body=body)
        deadline.check("reading certificate bodies")
        return read_one(meta)

    with paced(client, operation), ThreadPoolExecutor(max_workers=MAX_CONCURRENT_READS) as pool:
        outcomes = []
        for outcome in pool.map(one, listed):
            outcomes.append(outcome)
            if progress:  # the CLI's progress line: (read so far, total)
                progress(len(outcomes), len(listed))
    evidence = [outcome for outcome in outcomes if outcome is not None]
    deleted = [meta for meta, outcome in zip(listed, outcomes, strict=True) if outcome is None]
    return Gathered(evidence, deleted)
