"""The double's IAM refuses the uploads that IAM documents refusing (double/iam_server_certificates.py).

Each refusal leaves nothing stored; an upload at a past instant is checked as of then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble

NOW = datetime.now(UTC)


def refusal(aws: AwsDouble, name: str, body: str, key: str, **extra: str) -> str:
    with pytest.raises(ClientError) as refused:
        aws.client("iam").upload_server_certificate(
            ServerCertificateName=name, CertificateBody=body, PrivateKey=key, **extra
        )
    listed = aws.client("iam").list_server_certificates()["ServerCertificateMetadataList"]
    assert name not in [meta["ServerCertificateName"] for meta in listed]  # nothing stored
    return str(refused.value.response["Error"]["Code"])


def test_a_key_that_is_not_the_certificates_is_a_key_pair_mismatch(aws: AwsDouble) -> None:
    cert, other = issue("a", NOW - timedelta(days=1)), issue("b", NOW - timedelta(days=1))
    assert refusal(aws, "Mismatch", cert.body, other.private_key) == "KeyPairMismatch"


def test_malformed_body_and_encrypted_key_are_malformed_certificates(aws: AwsDouble) -> None:
    cert = issue("a", NOW - timedelta(days=1))
    garbled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    assert refusal(aws, "Garbled", garbled, cert.private_key) == "MalformedCertificate"
    encrypted = cert.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    assert refusal(aws, "Encrypted", cert.body, encrypted) == "MalformedCertificate"


def test_a_certificate_must_be_valid_at_the_time_of_upload(aws: AwsDouble) -> None:
    expired = issue("old", NOW - timedelta(days=400), days=397)
    early = issue("early", NOW + timedelta(days=2))
    assert refusal(aws, "Expired", expired.body, expired.private_key) == "MalformedCertificate"
    assert refusal(aws, "Early", early.body, early.private_key) == "MalformedCertificate"


def test_an_upload_in_the_past_is_checked_as_of_then(aws: AwsDouble) -> None:
    cert = issue("www", datetime(2013, 6, 1, tzinfo=UTC), days=825)  # valid then, expired now
    then = datetime(2014, 1, 1, tzinfo=UTC)
    meta = aws.upload("Historic", cert.body, cert.private_key, uploaded=then)
    assert meta["UploadDate"] == then
    with pytest.raises(ClientError) as refused:  # the same certificate, two years after it expired
        aws.upload("TooLate", cert.body, cert.private_key, uploaded=datetime(2017, 12, 1, tzinfo=UTC))
    assert refused.value.response["Error"]["Code"] == "MalformedCertificate"


def test_the_account_quota_is_20_until_raised(aws: AwsDouble) -> None:
    cert = issue("q", NOW - timedelta(days=1))
    for i in range(20):
        aws.upload(f"q-{i:02d}", cert.body, cert.private_key)
    assert refusal(aws, "q-20", cert.body, cert.private_key) == "LimitExceeded"
    aws.set_certificate_quota(21)
    aws.upload("q-20", cert.body, cert.private_key)
    with pytest.raises(ValueError, match="from 20 to 1000, not 1001"):
        aws.set_certificate_quota(1001)


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("has space", {}),
        ("n" * 129, {}),
        ("BadPath", {"Path": "cloudfront"}),
    ],
)
def test_names_and_paths_outside_the_api_patterns_are_refused(aws: AwsDouble, name: str, extra: dict[str, str]) -> None:
    cert = issue("p", NOW - timedelta(days=1))
    assert refusal(aws, name, cert.body, cert.private_key, **extra) == "ValidationError"


def test_a_body_over_16384_characters_is_refused(aws: AwsDouble) -> None:
    names = [f"host-{i:04d}.service.example.com" for i in range(400)]
    cert = issue("big", NOW - timedelta(days=1), alternative_names=names)
    assert len(cert.body) > 16384
    assert refusal(aws, "TooBig", cert.body, cert.private_key) == "ValidationError"
