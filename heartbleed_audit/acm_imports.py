"""ACM imported certificates as evidence for the verdict core (heartbleed-audit --include-acm).

A certificate imported into ACM carries whatever key it was made with: moving a
pre-Heartbleed key to ACM moves the compromise with it. ACM-issued certificates
(Type AMAZON_ISSUED) have keys ACM generated, long after the cutoff, and are not judged.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from heartbleed.certificate import BodyError, CertificateEvidence, CertificateMetadata, read_body

LOG = logging.getLogger(__name__)

# ListCertificates returns only RSA_1024 and RSA_2048 certificates unless keyTypes names
# others (ACM API Reference, Filters): name every key type ACM imports.
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
READERS = 8  # concurrent GetCertificate calls per Region


def _imported(acm: Any) -> list[CertificateMetadata]:
    listed = []
    for page in acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": KEY_TYPES}):
        for summary in page["CertificateSummaryList"]:
            if summary.get("Type") != "IMPORTED":
                continue
            arn = summary["CertificateArn"]
            name = summary.get("DomainName") or arn.rsplit("/", 1)[-1]
            listed.append(CertificateMetadata(name=name, arn=arn, upload_date=summary.get("ImportedAt")))
    return listed


def _read(acm: Any, meta: CertificateMetadata) -> CertificateEvidence | None:
    try:
        pem = acm.get_certificate(CertificateArn=meta.arn)["Certificate"]
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "ResourceNotFoundException":
            return None  # deleted since it was listed
        if "AccessDenied" in code:
            LOG.warning("GetCertificate denied for %s: %s", meta.arn, code)
            return CertificateEvidence(meta, body_problem="acm:GetCertificate was denied")
        raise
    try:
        return CertificateEvidence(meta, body=read_body(pem))
    except BodyError as error:
        return CertificateEvidence(meta, body_problem=f"the body is {error}")


def imported_evidence(acm: Any, read_bodies: bool) -> list[CertificateEvidence]:
    """Evidence for every imported certificate in the client's Region."""
    listed = _imported(acm)
    if not read_bodies:
        return [CertificateEvidence(meta) for meta in listed]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        return [found for found in pool.map(lambda meta: _read(acm, meta), listed) if found is not None]
