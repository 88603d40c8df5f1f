"""IAM's limits at their edges: unusual names and paths, a 16 KB body, a 2 MB chain, long annotations."""

from __future__ import annotations

from datetime import UTC, datetime

from heartbleed.certificate import CertificateEvidence, CertificateMetadata
from heartbleed.parameters import RuleParameters
from heartbleed.verdict import ANNOTATION_LIMIT, evaluate_account
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

CLEAN = datetime(2021, 3, 1, tzinfo=UTC)
BODY_LIMIT, CHAIN_LIMIT = 16_384, 2_097_152  # IAM's CertificateBody and CertificateChain maxima


def run(aws: AwsDouble, parameters: dict[str, str] | None = None) -> dict[str, str]:
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), {**events.LOCAL_ROLE, **(parameters or {})})
    sent = lambda_handler(event, None)
    assert isinstance(sent, list), sent
    return {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent}


def test_names_and_paths_with_every_allowed_character_round_trip(aws: AwsDouble) -> None:
    cert = issue("odd", CLEAN)
    name, path = "web+api=1,a.b@c-d_e", "/team.a/b-c/d_e/"
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate{path}{name}"
    aws.upload(name, cert.body, cert.private_key, path=path, uploaded=CLEAN)
    assert run(aws) == {arn: "COMPLIANT"}
    change = events.change_event(
        events.configuration_item(name, arn, path), aws.result_token(events.RULE_NAME), events.LOCAL_ROLE
    )
    assert [e["ComplianceResourceId"] for e in lambda_handler(change, None)] == [arn]
    # A comma separates ExemptCertificates entries, so a name with a comma cannot be exempted;
    # the certificate is then still evaluated (the strict side), as docs/design.md, Limits, says.
    assert run(aws, {"ExemptCertificates": arn}) == {arn: "COMPLIANT"}


def test_exemption_by_arn_with_unusual_characters(aws: AwsDouble) -> None:
    cert = issue("odd", datetime(2013, 1, 1, tzinfo=UTC))
    name, path = "legacy+api=1.a@b-c_d", "/team.a/b-c/"
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate{path}{name}"
    aws.upload(name, cert.body, cert.private_key, path=path, uploaded=datetime(2013, 1, 2, tzinfo=UTC))
    assert run(aws) == {arn: "NON_COMPLIANT"}
    assert run(aws, {"ExemptCertificates": f"other, {arn}"}) == {arn: "NOT_APPLICABLE"}


def big_certificate() -> tuple[str, str]:
    """A real certificate whose PEM body is just under IAM's 16 KB limit (many subject names)."""
    names = [f"host-{i:04d}.service.example.com" for i in range(360)]
    cert = issue("big.example.com", CLEAN, alternative_names=names)
    return cert.body, cert.private_key


def test_a_16_kb_body_and_a_2_mb_chain_are_handled(aws: AwsDouble) -> None:
    body, private = big_certificate()
    assert 15_000 < len(body) <= BODY_LIMIT
    intermediate = issue("intermediate", CLEAN).body
    chain = intermediate * (CHAIN_LIMIT // len(intermediate))
    assert 2_000_000 < len(chain) <= CHAIN_LIMIT
    aws.upload("Big", body, private, chain=chain, uploaded=CLEAN)
    got = aws.client("iam").get_server_certificate(ServerCertificateName="Big")["ServerCertificate"]
    assert len(got["CertificateChain"]) >= 2_000_000  # the double really serves it
    assert run(aws) == {f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/Big": "COMPLIANT"}


def test_annotations_stay_within_256_characters_with_iam_length_names() -> None:
    # IAM names may be 128 characters; twenty unreadable bodies make the longest sentence.
    long_names = [f"{i:02d}" + "n" * 126 for i in range(20)]
    cutoff = datetime(2014, 4, 8, tzinfo=UTC)
    items = [
        CertificateEvidence(CertificateMetadata(name, f"arn:aws:iam::1:server-certificate/{name}", upload_date=CLEAN))
        for name in long_names
    ]
    for verdict in evaluate_account(items, RuleParameters(cutoff=cutoff)):
        assert 1 <= len(verdict.annotation) <= ANNOTATION_LIMIT
        assert verdict.compliance.value == "NON_COMPLIANT"
