"""Real X.509 certificates for tests and the demo, made with cryptography.

A certificate's NotBefore is set freely, so a "2013" certificate is exactly what
a CA issued in 2013. EC P-256 keys keep generation fast; RSA is available too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    body: str  # PEM certificate
    private_key: str  # PEM PKCS#8, for uploading to the double only
    key: CertificateIssuerPrivateKeyTypes


def new_key(kind: str = "ec") -> CertificateIssuerPrivateKeyTypes:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    common_name: str,
    not_before: datetime,
    *,
    days: int = 825,
    key: CertificateIssuerPrivateKeyTypes | None = None,
    issuer: Issued | None = None,
    alternative_names: Sequence[str] = (),
) -> Issued:
    """A certificate for common_name valid from not_before, self-signed unless issuer is given."""
    key = key or new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name = x509.load_pem_x509_certificate(issuer.body.encode()).subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
    )
    if alternative_names:
        names = [x509.DNSName(name) for name in alternative_names]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = issuer.key if issuer else key
    # Edwards-curve keys sign without a separate digest.
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer, digest)
    return Issued(
        body=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        key=key,
    )
