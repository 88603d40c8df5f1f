"""Reading IAM server certificates: the thin AWS layer under the verdict.

list_certificates follows every page; read_server_certificate turns one GetServerCertificate
outcome into evidence (evidence.gather runs it concurrently).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .certificate import BodyError, CertificateEvidence, CertificateMetadata, read_body
from .retry_policy import error_code

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

LOG = logging.getLogger(__name__)

LIST_PAGE_SIZE = 1000  # IAM's largest MaxItems: one call for an account at the raised quota


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


def read_server_certificate(iam: IAMClient, meta: CertificateMetadata) -> CertificateEvidence | None:
    """Evidence for one certificate; None if it was deleted after it was listed."""
    try:
        response = iam.get_server_certificate(ServerCertificateName=meta.name)
    except ClientError as error:
        code = error_code(error)
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
    return CertificateEvidence(fresh, body=body)
