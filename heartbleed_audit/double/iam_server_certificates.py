r"""moto extension: IAM server certificates that behave like IAM's.

moto 5.2 gives every server certificate the same hard-coded UploadDate,
Expiration and ServerCertificateId, ignores MaxItems/Marker/PathPrefix and
accepts any PEM. This module replaces those handlers so that each certificate
has its own id, its own UploadDate, an Expiration read from the PEM, paginated
listing (optionally in short pages, as IAM may send), a record of deleted
certificates for Config's history, and the certificate ARN as the resource that
IAM policy enforcement checks for GetServerCertificate and DeleteServerCertificate.

Uploads are refused as IAM documents it:
- IAM API Reference, UploadServerCertificate: CertificateBody and PrivateKey 1-16384
  characters, CertificateChain up to 2097152, ServerCertificateName 1-128 of
  [\w+=,.@-], Path "/" or "/.../" (ValidationError); KeyPairMismatch "the public key
  certificate and the private key do not match"; MalformedCertificate "the
  certificate was malformed or expired"; LimitExceeded beyond the account's quota.
- IAM User Guide, "Managing server certificates in IAM": PEM-encoded, an unencrypted
  private key, and "The certificate must be valid at the time of upload" (not before
  NotBefore, not after NotAfter). The API names no code for a not-yet-valid
  certificate; MalformedCertificate is the nearest documented one.
- IAM User Guide, "IAM and AWS STS quotas": 20 server certificates per account by
  default, adjustable to 1000 (AwsDouble.set_certificate_quota).
IAM documents no accepted key types or sizes, so none are refused here.

The instant of an upload is the double's clock: now, or a past instant that
AwsDouble.upload sets to arrange history (validity is checked as of then, as IAM did).
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from moto.core.responses import ActionResult, EmptyResult
from moto.iam.exceptions import (
    EntityAlreadyExists,
    IAMException,
    LimitExceededException,
    MalformedCertificate,
    NotFoundException,
    ValidationError,
)
from moto.iam.models import Certificate, IAMBackend
from moto.iam.responses import IamResponse
from moto.utilities.utils import get_partition

from heartbleed.certificate import refused_by_parser

DEFAULT_QUOTA, MAX_QUOTA = 20, 1000  # IAM quotas: server certificates per account, default and adjustable to
_NAME = re.compile(r"[\w+=,.@-]{1,128}")
_PATH = re.compile(r"/|/[\u0021-\u007E]{1,510}/")


class KeyPairMismatch(IAMException):
    code = "KeyPairMismatch"


@dataclass
class ServerCertificateState:
    """Per-account state the double adds to moto's IAM backend."""

    upload_dates: dict[str, datetime] = field(default_factory=dict)  # name -> UploadDate
    ids: dict[str, str] = field(default_factory=dict)  # name -> ServerCertificateId
    deleted: dict[str, Certificate] = field(default_factory=dict)  # name -> last deleted version
    page_limit: int | None = None  # answer at most this many per page, whatever MaxItems says
    quota: int = DEFAULT_QUOTA  # server certificates the account may hold
    clock: datetime | None = None  # the instant of the next uploads; None means now


def state_of(backend: IAMBackend) -> ServerCertificateState:
    if not hasattr(backend, "server_certificate_state"):
        backend.server_certificate_state = ServerCertificateState()  # type: ignore[attr-defined]
    state: ServerCertificateState = backend.server_certificate_state  # type: ignore[attr-defined]
    return state


def _certificate_id() -> str:
    # IAM ids: a 4-letter type prefix (ASCA for server certificates) and 17 upper-case alphanumerics.
    return "ASCA" + "".join(random.choices(string.ascii_uppercase + string.digits, k=17))


def _check_lengths(name: str, path: str, body: str, private_key: str, chain: str | None) -> None:
    limits = [("certificateBody", body, 16384), ("privateKey", private_key, 16384)]
    if chain is not None:
        limits.append(("certificateChain", chain, 2097152))
    for field_name, value, limit in limits:
        if not 1 <= len(value) <= limit:
            raise ValidationError(
                f"1 validation error detected: Value at '{field_name}' failed to satisfy constraint: "
                f"Member must have length between 1 and {limit}"
            )
    if not _NAME.fullmatch(name):
        raise ValidationError(f"The specified value for serverCertificateName is invalid: {name[:130]}")
    if not _PATH.fullmatch(path):
        raise ValidationError("The specified value for path is invalid. It must begin and end with / .")


def _validate(body: str, private_key: str, chain: str | None, at: datetime) -> x509.Certificate:
    """Refuse what IAM refuses (see the module docstring), in that order."""
    try:
        cert = x509.load_pem_x509_certificate(body.strip().encode())
    except ValueError:
        raise MalformedCertificate("body") from None
    try:
        key = load_pem_private_key(private_key.strip().encode(), password=None)
    except (ValueError, TypeError):  # TypeError: the key is encrypted
        raise MalformedCertificate("private key (unreadable, or encrypted)") from None
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise KeyPairMismatch("The public key certificate and the private key do not match.")
    if at < cert.not_valid_before_utc:
        raise MalformedCertificate(f"body (not valid until {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ})")
    if at > cert.not_valid_after_utc:
        raise MalformedCertificate(f"body (expired {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})")
    if chain:
        try:
            x509.load_pem_x509_certificates(chain.strip().encode())
        except ValueError:
            raise MalformedCertificate("chain") from None
    return cert


def _upload(
    self: IAMBackend,
    cert_name: str,
    cert_body: str,
    private_key: str,
    cert_chain: str | None = None,
    path: str | None = None,
) -> Certificate:
    state = state_of(self)
    _check_lengths(cert_name, path or "/", cert_body, private_key, cert_chain)
    if any(existing.cert_name == cert_name for existing in self.certificates.values()):
        raise EntityAlreadyExists(f"The Server Certificate with name {cert_name} already exists.")
    if len(self.certificates) >= state.quota:
        raise LimitExceededException(f"Cannot exceed quota for ServerCertificatesPerAccount: {state.quota}")
    at = state.clock or datetime.now(UTC)
    _validate(cert_body, private_key, cert_chain, at)
    return store(self, cert_name, cert_body, private_key, cert_chain, path, at)


def store(
    backend: IAMBackend,
    name: str,
    body: str,
    private_key: str = "",
    chain: str | None = None,
    path: str | None = None,
    at: datetime | None = None,
) -> Certificate:
    """Keep a server certificate as IAM does once it has accepted it, with no check of the body.

    Uploads come here after _validate; AwsDouble.accepted_earlier comes here directly, for bodies that
    IAM's validation of an earlier day let through and today's parsers may refuse.
    """
    state = state_of(backend)
    certificate_id = _certificate_id()
    cert = Certificate(backend.account_id, backend.region_name, name, body, private_key, chain, path)
    backend.certificates[certificate_id] = cert
    state.ids[name] = certificate_id
    state.upload_dates[name] = at or state.clock or datetime.now(UTC)
    state.deleted.pop(name, None)
    return cert


def _delete(self: IAMBackend, name: str) -> None:
    state = state_of(self)
    certificate_id = state.ids.get(name)
    if certificate_id is None or certificate_id not in self.certificates:
        raise NotFoundException(f"The Server Certificate with name {name} cannot be found.")
    state.deleted[name] = self.certificates.pop(certificate_id)


def _expiration(body: str) -> datetime | None:
    try:
        return x509.load_pem_x509_certificate(body.encode()).not_valid_after_utc
    except BaseException as error:  # a body stored unchecked (see store) may be unreadable
        if not refused_by_parser(error):
            raise
        return None


def metadata(backend: IAMBackend, cert: Certificate) -> dict[str, Any]:
    state = state_of(backend)
    listed = {
        "Path": cert.path,
        "ServerCertificateName": cert.cert_name,
        "ServerCertificateId": state.ids[cert.cert_name],
        "Arn": cert.arn,
        "UploadDate": state.upload_dates[cert.cert_name],
    }
    expiration = _expiration(cert.cert_body)
    return listed if expiration is None else {**listed, "Expiration": expiration}  # optional in the model


def _list(self: IamResponse) -> ActionResult:
    backend = self.backend
    prefix = self._get_param("PathPrefix") or "/"
    max_items = int(self._get_param("MaxItems") or 100)
    if not 1 <= max_items <= 1000:
        raise ValidationError("MaxItems must be between 1 and 1000.")
    limit = min(max_items, state_of(backend).page_limit or max_items)
    marker = self._get_param("Marker")
    certs = sorted(
        (c for c in backend.certificates.values() if c.path.startswith(prefix)),
        key=lambda c: c.cert_name,
    )
    if marker:  # the marker is the name the next page starts from
        certs = [c for c in certs if c.cert_name >= marker]
    page, rest = certs[:limit], certs[limit:]
    result: dict[str, Any] = {
        "ServerCertificateMetadataList": [metadata(backend, c) for c in page],
        "IsTruncated": bool(rest),
    }
    if rest:
        result["Marker"] = rest[0].cert_name
    return ActionResult(result)


def _get(self: IamResponse) -> ActionResult:
    backend = self.backend
    cert = backend.get_server_certificate(self._get_param("ServerCertificateName"))
    server_certificate: dict[str, Any] = {
        "ServerCertificateMetadata": metadata(backend, cert),
        "CertificateBody": cert.cert_body,
        "Tags": [],
    }
    if cert.cert_chain:
        server_certificate["CertificateChain"] = cert.cert_chain
    return ActionResult({"ServerCertificate": server_certificate})


def _upload_response(self: IamResponse) -> ActionResult:
    cert = self.backend.upload_server_certificate(
        self._get_param("ServerCertificateName"),
        self._get_param("CertificateBody"),
        self._get_param("PrivateKey"),
        cert_chain=self._get_param("CertificateChain"),
        path=self._get_param("Path"),
    )
    return ActionResult({"ServerCertificateMetadata": metadata(self.backend, cert)})


def _delete_response(self: IamResponse) -> EmptyResult:
    self.backend.delete_server_certificate(self._get_param("ServerCertificateName"))
    return EmptyResult()


_original_resource = IamResponse._determine_resource


def _determine_resource(self: IamResponse) -> str:
    """The certificate ARN for a request about one certificate, so IAM policy enforcement can match resource ARNs.

    For a name that no certificate has, IAM still authorizes against the ARN the name would have (with
    the default path), and only then answers NoSuchEntity; moto would check "*".
    """
    if self._get_action() in ("GetServerCertificate", "DeleteServerCertificate"):
        name = self._get_param("ServerCertificateName")
        cert = next((c for c in self.backend.certificates.values() if c.cert_name == name), None)
        if cert is not None:
            return str(cert.arn)
        return f"arn:{get_partition(self.region)}:iam::{self.current_account}:server-certificate/{name}"
    return str(_original_resource(self))


def install() -> None:
    IAMBackend.upload_server_certificate = _upload  # type: ignore[method-assign]
    IAMBackend.delete_server_certificate = _delete  # type: ignore[method-assign]
    IamResponse.upload_server_certificate = _upload_response  # type: ignore[method-assign]
    IamResponse.list_server_certificates = _list  # type: ignore[method-assign]
    IamResponse.get_server_certificate = _get  # type: ignore[method-assign]
    IamResponse.delete_server_certificate = _delete_response  # type: ignore[method-assign]
    IamResponse._determine_resource = _determine_resource  # type: ignore[method-assign]
