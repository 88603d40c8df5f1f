"""The seed's remediation, made safe: check the new material, find every user of the old
certificate, and delete only what nothing uses.

Never prints or logs private key material: the key is read, compared and uploaded, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from heartbleed.certificate import BodyError, read_body
from heartbleed.verdict import stamp

from .certificate_users import User, find_users

__all__ = ["NewMaterial", "RemediationError", "User", "check_material", "find_users", "new_name"]


class RemediationError(Exception):
    """The replacement cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class NewMaterial:
    body: str
    private_key: str = field(repr=False)  # never shown
    chain: str | None
    not_before: datetime
    key_fingerprint: str


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise RemediationError(f"the {what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RemediationError(f"the {what} file {path} cannot be read: {type(error).__name__}") from None


# What IAM's UploadServerCertificate will refuse is checked before anything is deleted: the
# API's length limits (IAM API Reference) and "The certificate must be valid at the time of
# upload" (IAM User Guide, Managing server certificates). IAM lists no key algorithms; these are
# the ones ACM documents for imported certificates, which the load balancers and CloudFront
# serve, without RSA 1024 (IAM User Guide and ACM User Guide, "Prerequisites for importing").
UPLOAD_LIMITS = {"certificate body": 16384, "private key": 16384, "certificate chain": 2097152}
RSA_SIZES = (2048, 3072, 4096)
EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")
SUPPORTED_KEYS = "RSA 2048, 3072 or 4096 bits, or ECDSA P-256, P-384 or P-521"


def _supported(key: object) -> bool:
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size in RSA_SIZES
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in EC_CURVES


def check_material(
    body_file: str, key_file: str, chain_file: str | None, cutoff: datetime, now: datetime | None = None
) -> NewMaterial:
    """Parse and check the new certificate, key and chain; raise RemediationError on the first problem."""
    body, key_text = _read(body_file, "certificate body"), _read(key_file, "private key")
    chain = _read(chain_file, "certificate chain") if chain_file else None
    texts = {"certificate body": (body, body_file), "private key": (key_text, key_file)}
    if chain is not None:
        texts["certificate chain"] = (chain, chain_file or "")
    for what, (text, path) in texts.items():
        if len(text) > UPLOAD_LIMITS[what]:
            raise RemediationError(
                f"{path} has {len(text)} characters: IAM accepts a {what} of at most {UPLOAD_LIMITS[what]}"
            )
    try:
        facts = read_body(body)
    except BodyError as error:
        raise RemediationError(f"{body_file}: {error}") from None
    try:
        key = load_pem_private_key(key_text.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise RemediationError(f"{key_file} is not an unencrypted PEM private key") from None
    certificate = x509.load_pem_x509_certificate(body.strip().encode())
    if key.public_key() != certificate.public_key():
        raise RemediationError(f"the private key in {key_file} does not match the certificate in {body_file}")
    if facts.not_before < cutoff:
        raise RemediationError(
            f"the new certificate was issued {stamp(facts.not_before)}, before the cutoff {stamp(cutoff)}: "
            "have it reissued with a new key"
        )
    moment = now or datetime.now(UTC)
    if moment < certificate.not_valid_before_utc:
        raise RemediationError(
            f"the new certificate is not valid until {stamp(certificate.not_valid_before_utc)}: "
            "IAM refuses a certificate before its validity begins; run this again from then"
        )
    if moment > certificate.not_valid_after_utc:
        raise RemediationError(
            f"the new certificate expired {stamp(certificate.not_valid_after_utc)}: IAM refuses an expired "
            "certificate; have it reissued"
        )
    if not _supported(certificate.public_key()):
        raise RemediationError(
            f"the new certificate's key is {_describe(certificate.public_key())}: use {SUPPORTED_KEYS}"
        )
    if chain is not None:
        _check_chain(certificate, chain, chain_file or "")
    return NewMaterial(body, key_text, chain, facts.not_before, facts.key_fingerprint)


def _describe(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA on {key.curve.name}"
    return type(key).__name__.removeprefix("_").replace("PublicKey", "")


def _check_chain(certificate: x509.Certificate, chain: str, chain_file: str) -> None:
    try:
        issuers = x509.load_pem_x509_certificates(chain.strip().encode())
    except ValueError:
        raise RemediationError(f"{chain_file} is not a PEM certificate chain") from None
    try:  # the first chain certificate must have signed the new one
        certificate.verify_directly_issued_by(issuers[0])
    except (ValueError, TypeError, InvalidSignature) as error:
        raise RemediationError(
            f"{chain_file} does not link to the certificate: its first certificate did not issue it "
            f"({type(error).__name__})"
        ) from None


def new_name(old: str, today: datetime | None = None) -> str:
    """The name for the replacement while the old one is in use: OLD-YYYYMMDD, within IAM's 128 characters."""
    suffix = f"-{(today or datetime.now(UTC)):%Y%m%d}"
    return old[: 128 - len(suffix)] + suffix
