"""Reading ACM certificates: the rule's AWS::ACM::Certificate results and the CLI's --include-acm.

A certificate imported into ACM carries whatever key it was made with: moving a pre-Heartbleed
key to ACM moves the compromise with it, so IMPORTED certificates are judged like IAM ones
(ImportedAt in the place of UploadDate). ACM made the keys of the certificates it issued
(AMAZON_ISSUED, and PRIVATE from a private CA), long after the cutoff: each is reported
NOT_APPLICABLE with that reason, by both trigger modes and the CLI alike.

ACM is regional: one client lists and reads one Region.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .certificate import BodyError, CertificateEvidence, CertificateMetadata, read_body
from .retry_policy import error_code
from .verdict import Verdict, not_applicable

LOG = logging.getLogger(__name__)

# ListCertificates returns only RSA_1024 and RSA_2048 certificates unless keyTypes names
# others (ACM API Reference, Filters): name every key type ACM imports.
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
ISSUED_BY_ACM = frozenset({"AMAZON_ISSUED", "PRIVATE"})  # keys ACM made; IMPORTED ones came with their key


def issued_reason(kind: str) -> str:
    return f"Issued by ACM ({kind}): ACM generated its key, after the cutoff, so it is not judged."


def certificate_id(summary: Mapping[str, Any]) -> str | None:
    """What identifies one import of an ACM certificate, as IAM's ServerCertificateId identifies an upload.

    A re-import keeps the ARN and sets a new ImportedAt; ACM may give ImportedAt in whole seconds (moto
    does), so the listed validity and key algorithm are part of it too: a re-import within the same
    second with a new body is still a new certificate, never a stale cached one.
    """
    imported = summary.get("ImportedAt")
    if imported is None:
        return None
    parts = [imported, summary.get("NotBefore"), summary.get("NotAfter")]
    stamps = [part.isoformat() if isinstance(part, datetime) else "-" for part in parts]
    return " ".join([*stamps, str(summary.get("KeyAlgorithm") or "-")])


@dataclass(frozen=True)
class AcmListing:
    """One Region's ACM certificates: the imported ones to judge, and the issued ones with their Type."""

    imported: list[CertificateMetadata] = field(default_factory=list)
    issued: list[tuple[CertificateMetadata, str]] = field(default_factory=list)


def list_acm(acm: Any) -> AcmListing:
    """Every certificate ACM lists in the client's Region, of every key type."""
    listing = AcmListing()
    for page in acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": KEY_TYPES}):
        for summary in page["CertificateSummaryList"]:
            arn = summary["CertificateArn"]
            meta = CertificateMetadata(
                name=summary.get("DomainName") or arn.rsplit("/", 1)[-1],
                arn=arn,
                certificate_id=certificate_id(summary),
                upload_date=summary.get("ImportedAt"),
                expiration=summary.get("NotAfter"),
            )
            kind = summary.get("Type")
            if kind in ISSUED_BY_ACM:
                listing.issued.append((meta, kind))
            else:  # IMPORTED, and a Type this code does not know (or none): judged, the strict side
                listing.imported.append(meta)
    return listing


def issued_verdicts(listing: AcmListing) -> list[Verdict]:
    return [not_applicable(meta.name, meta.arn, issued_reason(kind)) for meta, kind in listing.issued]


def read_imported(acm: Any, meta: CertificateMetadata) -> CertificateEvidence | None:
    """Evidence for one imported certificate (GetCertificate); None if it was deleted after it was listed."""
    try:
        pem = acm.get_certificate(CertificateArn=meta.arn)["Certificate"]
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceNotFoundException":
            return None  # deleted since it was listed
        if "AccessDenied" in code:
            LOG.warning("GetCertificate denied for %s: %s", meta.arn, code)
            return CertificateEvidence(meta, body_problem="acm:GetCertificate was denied")
        LOG.error("GetCertificate failed for %s: %s", meta.arn, code)
        raise
    try:
        body = read_body(pem)
    except BodyError as error:
        return CertificateEvidence(meta, body_problem=f"the body is {error}")
    return CertificateEvidence(meta, body=body)
