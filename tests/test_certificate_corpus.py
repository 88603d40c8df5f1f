"""Certificates the project did not write: cryptography's published X.509 test vectors (the PKITS suite,
real-world certificates, deliberately odd encodings), each kept in the double's IAM as a stored body.

Every body gets a verdict and the run never fails: a readable one is judged by its own NotBefore and key,
an unreadable one is NON_COMPLIANT with the reason named (missing evidence, never COMPLIANT).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import textwrap
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import cryptography_vectors
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from moto.acm.models import acm_backends

from heartbleed.parameters import DEFAULT_CUTOFF, parse_cutoff
from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import REGION, AwsDouble
from HeartbleedServerCertificate import lambda_handler

VECTORS = Path(cryptography_vectors.__file__).parent / "x509"
PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)
# Some vectors carry what RFC 5280 disallows (a serial number of zero, say): cryptography warns, and reads them.
pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
UPLOADED = datetime(2025, 1, 1, tzinfo=UTC)  # after the cutoff: only the body can flag a certificate
CUTOFF = parse_cutoff(DEFAULT_CUTOFF)
UNREADABLE = "Body not checked: the body is not a PEM X.509 certificate"


def as_pem(der: bytes) -> str:
    lines = textwrap.wrap(base64.b64encode(der).decode(), 64)
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----"]) + "\n"


@cache
def corpus() -> dict[str, str]:
    """Every certificate of the vectors, by where it came from: PEM blocks as written, DER files as PEM."""
    bodies = {}
    for path in sorted(VECTORS.rglob("*")):
        if path.suffix not in (".pem", ".crt", ".der", ".cer"):
            continue
        data, source = path.read_bytes(), str(path.relative_to(VECTORS))
        if b"-----BEGIN" in data:
            for index, block in enumerate(PEM_BLOCK.findall(data)):
                bodies[f"{source}#{index}"] = block.decode("latin-1")
        else:
            bodies[source] = as_pem(data)
    return bodies


def facts(body: str) -> tuple[datetime, str] | None:
    """NotBefore and key fingerprint as read here, independently of the rule; None if unreadable."""
    try:
        cert = x509.load_pem_x509_certificate(body.encode("latin-1"))
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return cert.not_valid_before_utc, hashlib.sha256(spki).hexdigest()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # including the Rust parser's PanicException
        return None


@cache
def named() -> dict[str, str]:
    return {f"corpus-{index:04d}": body for index, body in enumerate(corpus().values())}


def readable_only() -> dict[str, str]:
    return {name: body for name, body in named().items() if facts(body) is not None}


def expected(bodies: dict[str, str]) -> dict[str, str]:
    """The verdict each certificate must get, by IAM name: flagged by its own NotBefore, or by a key it
    shares with a flagged one. An unreadable body is NON_COMPLIANT, and while one is in the account no
    other certificate is COMPLIANT: its key could be any of theirs (key reuse is not ruled out)."""
    read = {name: facts(body) for name, body in bodies.items()}
    exposed = {f[1] for f in read.values() if f and f[0] < CUTOFF}
    clean_possible = all(read.values())
    return {
        name: "COMPLIANT" if clean_possible and f and f[0] >= CUTOFF and f[1] not in exposed else "NON_COMPLIANT"
        for name, f in read.items()
    }


def stored_corpus(aws: AwsDouble, bodies: dict[str, str]) -> None:
    aws.set_certificate_quota(1000)
    for name, body in bodies.items():
        aws.accepted_earlier(name, body, uploaded=UPLOADED)


def test_the_corpus_is_large_and_odd_enough_to_mean_something() -> None:
    read = [facts(body) for body in named().values()]
    assert 400 <= len(read) <= 1000  # IAM's raised quota holds them all in one account
    assert sum(f is None for f in read) >= 5  # bodies today's parser refuses
    assert sum(f is not None and f[0] < CUTOFF for f in read) >= 50
    assert sum(f is not None and f[0] >= CUTOFF for f in read) >= 20


def periodic_run(aws: AwsDouble) -> dict[str, dict[str, str]]:
    sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    assert isinstance(sent, list), sent  # an error document would be a dict: the run failed
    return {e["ComplianceResourceId"].rsplit("/", 1)[1]: e for e in sent}


def test_readable_bodies_are_judged_by_their_own_not_before_and_key(aws: AwsDouble) -> None:
    bodies = readable_only()
    stored_corpus(aws, bodies)
    sent = periodic_run(aws)
    assert {name: e["ComplianceType"] for name, e in sent.items()} == expected(bodies)
    assert "COMPLIANT" in expected(bodies).values()
    for name, body in bodies.items():
        found = facts(body)
        assert found is not None
        if found[0] < CUTOFF:
            assert f"{found[0]:%Y-%m-%dT%H:%M:%SZ}" in sent[name]["Annotation"]  # its own date, named


def test_unreadable_bodies_are_missing_evidence_and_the_run_goes_on(aws: AwsDouble) -> None:
    stored_corpus(aws, named())
    sent = periodic_run(aws)
    assert {name: e["ComplianceType"] for name, e in sent.items()} == expected(named())
    unreadable = set(named()) - set(readable_only())
    assert all(sent[name]["Annotation"].startswith(UNREADABLE) for name in unreadable)
    clean = {name for name, verdict in expected(readable_only()).items() if verdict == "COMPLIANT"}
    assert all(sent[name]["Annotation"].startswith("Key reuse not ruled out") for name in clean)
    stored = {arn.rsplit("/", 1)[1]: e.compliance_type for arn, e in aws.evaluations(events.RULE_NAME).items()}
    assert stored == expected(named())


def test_the_cli_audit_judges_the_corpus_as_the_rule_does(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    stored_corpus(aws, named())
    assert main(["audit", "--output", "json", "--endpoint-url", aws.endpoint_url]) == 1
    rows = json.loads(capfd.readouterr().out)
    assert {row["name"]: row["compliance"] for row in rows} == expected(named())


def test_unreadable_acm_bodies_are_missing_evidence_in_the_estate_audit(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str]
) -> None:
    unreadable = [body for name, body in named().items() if name not in readable_only()]
    arns = []
    for index, body in enumerate(unreadable):
        fresh = issue(f"odd{index}.example.com", UPLOADED)
        arn = aws.client("acm").import_certificate(
            Certificate=fresh.body.encode(), PrivateKey=fresh.private_key.encode()
        )
        # As ACM would return a body its import accepted and today's parser refuses.
        acm_backends[events.ACCOUNT_ID][REGION].get_certificate(arn["CertificateArn"]).cert = body.encode("latin-1")
        arns.append(arn["CertificateArn"])
    assert main(["audit", "--include-acm", "--output", "json", "--endpoint-url", aws.endpoint_url]) == 1
    rows = {row["arn"]: row for row in json.loads(capfd.readouterr().out)}
    assert set(rows) == set(arns)
    assert all(rows[arn]["compliance"] == "NON_COMPLIANT" and UNREADABLE in rows[arn]["annotation"] for arn in arns)
