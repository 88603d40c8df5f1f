"""What the rule knows about one IAM server certificate, and how it reads the PEM body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

IAM_REGION = "global"  # the Region Config and the ledger give IAM server certificates, which belong to none


class BodyError(ValueError):
    """The certificate body could not be read as an X.509 certificate."""


@dataclass(frozen=True)
class CertificateMetadata:
    """ServerCertificateMetadata as IAM lists it (UploadDate is optional in the API model).

    An ACM certificate fits the same shape: its ARN is an ACM ARN, its name the domain name,
    upload_date its ImportedAt, and certificate_id that instant (acm.certificate_id).
    """

    name: str
    arn: str
    path: str = "/"
    certificate_id: str | None = None
    upload_date: datetime | None = None
    expiration: datetime | None = None

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def in_acm(self) -> bool:
        return self.arn.split(":")[2] == "acm"

    @property
    def region(self) -> str:
        """An ACM certificate's Region; IAM server certificates belong to none ("global", as Config says)."""
        return self.arn.split(":")[3] if self.in_acm else IAM_REGION

    @property
    def service(self) -> str:
        return "acm" if self.in_acm else "iam"


@dataclass(frozen=True)
class BodyFacts:
    """What the PEM body proves: when the certificate was issued and which key it carries."""

    not_before: datetime
    key_fingerprint: str  # SHA-256 of the DER SubjectPublicKeyInfo


@dataclass(frozen=True)
class CertificateEvidence:
    """Everything gathered for one certificate before the verdict.

    body is None when the body was not read; body_problem then says why, unless
    the body check was switched off.
    """

    metadata: CertificateMetadata
    body: BodyFacts | None = None
    body_problem: str | None = None


def refused_by_parser(error: BaseException) -> bool:
    """Whether error is a parser's refusal of its input: any Exception, or the panic of cryptography's
    Rust parser (pyo3_runtime.PanicException derives from BaseException, so `except Exception` misses it).
    KeyboardInterrupt, SystemExit and the rest are not refusals and must propagate."""
    kind = type(error)
    return isinstance(error, Exception) or (kind.__module__, kind.__name__) == ("pyo3_runtime", "PanicException")


def read_body(pem: str) -> BodyFacts:
    """Parse the first certificate of a PEM body; raise BodyError if it is not one.

    Whatever the parser raises on a body is a BodyError: one odd body is missing evidence for its own
    certificate (NON_COMPLIANT), never a failed run for the whole account.
    """
    # cryptography is imported here, not at module load, to keep the Lambda cold start small.
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    try:
        cert = x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        not_before = cert.not_valid_before_utc.astimezone(UTC)
    except BaseException as error:  # caught by name below: only refusals become BodyError
        if not refused_by_parser(error):
            raise
        # The message names the failure, never the body (certificate bodies stay out of logs).
        raise BodyError(f"not a PEM X.509 certificate ({type(error).__name__})") from None
    return BodyFacts(not_before=not_before, key_fingerprint=hashlib.sha256(spki).hexdigest())
