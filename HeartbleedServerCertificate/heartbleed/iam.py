"""Reading IAM server certificates: the thin AWS layer under the verdict.

list_certificates follows every page; gather_evidence reads the bodies
concurrently and turns each GetServerCertificate outcome into evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .certificate import BodyError, BodyFacts, CertificateEvidence, CertificateMetadata, read_body
from .deadline import NO_DEADLINE, Deadline
from .pacing import paced

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

LOG = logging.getLogger(__name__)

LIST_PAGE_SIZE = 1000  # IAM's largest MaxItems: one call for an account at the raised quota
# Bodies are read with this many requests in flight: at ~50 ms a round trip that is
# up to ~640 reads/s, so the 1,000-certificate quota is read in under 2 s when IAM
# allows it; when it does not, the Pace (pacing.py), not the pool, sets the rate.
# botocore's connection pool matches (clients.py). Peak RSS at 1,000 certificates
# stays at 111 MiB (bench/results.json), within the smallest Lambda memory size.
MAX_CONCURRENT_READS = 32

# A body never changes for one upload: IAM gives every upload a new ServerCertificateId.
# So a warm Lambda container keeps what it has read, keyed by ARN (which names the
# account) and id, and reads only certificates it has not seen. Bounded for memory.
_BODIES: dict[tuple[str, str], BodyFacts] = {}
BODY_CACHE_LIMIT = 5000


def _remember(meta: CertificateMetadata, body: BodyFacts) -> None:
    if meta.certificate_id is None:
        return
    if len(_BODIES) >= BODY_CACHE_LIMIT:
        _BODIES.clear()  # rare (several accounts at the raised quota): start over, stay bounded
    _BODIES[(meta.arn, meta.certificate_id)] = body


def _remembered(meta: CertificateMetadata) -> BodyFacts | None:
    return _BODIES.get((meta.arn, meta.certificate_id)) if meta.certificate_id else None


def metadata_from_api(raw: Any) -> CertificateMetadata:
    """ServerCertificateMetadata from ListServerCertificates or GetServerCertificate."""
    return CertificateMetadata(
        name=raw["ServerCertificateName"],
        arn=raw["Arn"],
        path=raw.get("Path", "/"),
        certificate_id=raw.get("ServerCertificateId"),
        upload_date=raw.get("UploadDate"),
        expiration=raw.get("Expiration"),
    )


def list_certificates(iam: IAMClient) -> list[CertificateMetadata]:
    """Every server certificate in the account, across all pages.

    IAM may return fewer than MaxItems with IsTruncated set, so only IsTruncated
    and Marker decide whether another page follows.
    """
    found: list[CertificateMetadata] = []
    request: dict[str, Any] = {"MaxItems": LIST_PAGE_SIZE}
    while True:
        page = iam.list_server_certificates(**request)
        found.extend(metadata_from_api(raw) for raw in page["ServerCertificateMetadataList"])
        if not page.get("IsTruncated"):
            return found
        request["Marker"] = page["Marker"]


@dataclass(frozen=True)
class Gathered:
    """The evidence for certificates that exist, and the ones deleted while we read."""

    evidence: list[CertificateEvidence]
    deleted: list[CertificateMetadata]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _read_one(iam: IAMClient, meta: CertificateMetadata) -> CertificateEvidence | None:
    """Evidence for one certificate; None if it was deleted after it was listed."""
    try:
        response = iam.get_server_certificate(ServerCertificateName=meta.name)
    except ClientError as error:
        code = _error_code(error)
        if code == "NoSuchEntity":
            return None
        if "AccessDenied" in code:
            # Not a reason to stop the run: the verdict reports the missing evidence.
            LOG.warning("GetServerCertificate denied for %s: %s", meta.arn, code)
            return CertificateEvidence(meta, body_problem="iam:GetServerCertificate was denied")
        LOG.error("GetServerCertificate failed for %s: %s", meta.arn, code)
        raise
    certificate = response["ServerCertificate"]
    # The fresher metadata wins: the name may have been re-uploaded since the list.
    fresh = metadata_from_api(certificate["ServerCertificateMetadata"])
    try:
        body = read_body(certificate["CertificateBody"])
    except BodyError as error:
        return CertificateEvidence(fresh, body_problem=f"the body is {error}")
    _remember(fresh, body)
    return CertificateEvidence(fresh, body=body)


def _evidence(
    iam: IAMClient, meta: CertificateMetadata, deadline: Deadline, ledger: Mapping[str, BodyFacts]
) -> CertificateEvidence | None:
    known = (ledger.get(meta.certificate_id) if meta.certificate_id else None) or _remembered(meta)
    if known:
        return CertificateEvidence(meta, body=known)
    deadline.check("reading certificate bodies")
    return _read_one(iam, meta)


def gather_evidence(
    iam: IAMClient,
    listed: Sequence[CertificateMetadata],
    read_bodies: bool,
    deadline: Deadline = NO_DEADLINE,
    progress: Callable[[int, int], None] | None = None,
    known: Mapping[str, BodyFacts] | None = None,
) -> Gathered:
    """Turn listed certificates into evidence, reading unknown bodies concurrently when asked.

    known holds bodies' facts by ServerCertificateId from the key ledger: those are not read again.
    """
    if not read_bodies:
        return Gathered([CertificateEvidence(meta) for meta in listed], [])
    ledger = known or {}
    with paced(iam, "GetServerCertificate"), ThreadPoolExecutor(max_workers=MAX_CONCURRENT_READS) as pool:
        outcomes = []
        for outcome in pool.map(lambda meta: _evidence(iam, meta, deadline, ledger), listed):
            outcomes.append(outcome)
            if progress:  # the CLI's progress line: (read so far, total)
                progress(len(outcomes), len(listed))
    evidence = [outcome for outcome in outcomes if outcome is not None]
    deleted = [meta for meta, outcome in zip(listed, outcomes, strict=True) if outcome is None]
    return Gathered(evidence, deleted)
