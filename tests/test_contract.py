"""Contract tests with botocore's Stubber: requests and responses checked against the service models."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from rdklib.util.evaluations import process_periodic_evaluations_list

from heartbleed.account import assess_account
from heartbleed.clients import EvaluationsRejectedError, install_client_defaults
from heartbleed.container import SdkSession, WarmContainer
from heartbleed.evidence import Gathered, gather
from heartbleed.iam import list_certificates, read_server_certificate
from heartbleed.parameters import RuleParameters
from heartbleed.verdict import Compliance
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue

ARN = "arn:aws:iam::123456789012:server-certificate/"
PARAMS = RuleParameters(cutoff=datetime(2014, 4, 8, tzinfo=UTC))


def meta(
    name: str, uploaded: datetime = datetime(2020, 1, 1, tzinfo=UTC), cert_id: str | None = None
) -> dict[str, Any]:
    return {
        "Path": "/",
        "ServerCertificateName": name,
        "ServerCertificateId": cert_id or "ASCA" + uuid.uuid4().hex[:17].upper(),  # unique per upload
        "Arn": ARN + name,
        "UploadDate": uploaded,
        "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
    }


def gather_evidence(iam: Any, listed: Any, read_bodies: bool) -> Gathered:
    """The rule's IAM body reads (heartbleed.account.read_listing), on one client, in a cold container."""
    read = functools.partial(read_server_certificate, iam)
    return gather(iam, "GetServerCertificate", read, listed, read_bodies, WarmContainer())


def iam_client() -> Any:
    return boto3.client("iam", region_name="us-east-1")


def test_listing_follows_short_truncated_pages_to_the_end() -> None:
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response(
            "list_server_certificates",
            {"ServerCertificateMetadataList": [meta("a"), meta("b")], "IsTruncated": True, "Marker": "m1"},
            {"MaxItems": 1000},
        )
        # IAM may send fewer than MaxItems, even none, while IsTruncated is true.
        stub.add_response(
            "list_server_certificates",
            {"ServerCertificateMetadataList": [], "IsTruncated": True, "Marker": "m2"},
            {"MaxItems": 1000, "Marker": "m1"},
        )
        stub.add_response(
            "list_server_certificates",
            {"ServerCertificateMetadataList": [meta("c")], "IsTruncated": False},
            {"MaxItems": 1000, "Marker": "m2"},
        )
        listed = list_certificates(iam)
        stub.assert_no_pending_responses()
    assert [m.name for m in listed] == ["a", "b", "c"]


def test_upload_date_and_expiration_are_optional_in_the_model() -> None:
    iam = iam_client()
    bare = {
        "Path": "/",
        "ServerCertificateName": "bare",
        "ServerCertificateId": "ASCAEXAMPLE000000002",
        "Arn": ARN + "bare",
    }
    with Stubber(iam) as stub:
        stub.add_response("list_server_certificates", {"ServerCertificateMetadataList": [bare]}, {"MaxItems": 1000})
        listed = list_certificates(iam)
    assert listed[0].upload_date is None
    verdict = evaluate_listed(listed)
    assert verdict.compliance is Compliance.NON_COMPLIANT
    assert "no UploadDate" in verdict.annotation


def evaluate_listed(listed: Any) -> Any:
    from heartbleed.verdict import evaluate_account

    params = RuleParameters(cutoff=PARAMS.cutoff, check_body=False)
    return evaluate_account(gather_evidence(iam_client(), listed, read_bodies=False).evidence, params)[0]


def test_a_certificate_deleted_between_list_and_get_becomes_not_applicable() -> None:
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response(
            "list_server_certificates", {"ServerCertificateMetadataList": [meta("gone")]}, {"MaxItems": 1000}
        )
        stub.add_client_error(
            "get_server_certificate",
            "NoSuchEntity",
            "The Server Certificate with name gone cannot be found.",
            404,
            expected_params={"ServerCertificateName": "gone"},
        )
        verdicts = assess_account(iam, PARAMS, WarmContainer())
        stub.assert_no_pending_responses()
    assert [(v.arn, v.compliance) for v in verdicts] == [(ARN + "gone", Compliance.NOT_APPLICABLE)]
    assert "deleted during the evaluation" in verdicts[0].annotation


def test_access_denied_on_the_body_is_missing_evidence_never_compliant() -> None:
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response(
            "list_server_certificates", {"ServerCertificateMetadataList": [meta("locked")]}, {"MaxItems": 1000}
        )
        stub.add_client_error("get_server_certificate", "AccessDenied", "not authorized", 403)
        verdicts = assess_account(iam, PARAMS, WarmContainer())
    assert verdicts[0].compliance is Compliance.NON_COMPLIANT
    assert "iam:GetServerCertificate was denied" in verdicts[0].annotation


@pytest.mark.parametrize("code", ["Throttling", "ServiceFailure"])
def test_throttling_or_server_errors_that_reach_the_rule_fail_the_run(code: str) -> None:
    # Stubber answers before botocore retries, so this is the error that outlasted them.
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response(
            "list_server_certificates", {"ServerCertificateMetadataList": [meta("busy")]}, {"MaxItems": 1000}
        )
        stub.add_client_error("get_server_certificate", code, "try later", 400 if code == "Throttling" else 500)
        with pytest.raises(ClientError) as error:
            assess_account(iam, PARAMS, WarmContainer())
    assert error.value.response["Error"]["Code"] == code


def test_the_body_read_uses_the_fresher_metadata_of_get() -> None:
    iam = iam_client()
    listed = [list_meta := meta("swap", cert_id="ASCAOLDOLDOLD0000001")]
    fresh = meta("swap", uploaded=datetime(2021, 1, 1, tzinfo=UTC), cert_id="ASCANEWNEWNEW0000001")
    body = issue("swap", datetime(2021, 1, 1, tzinfo=UTC)).body
    with Stubber(iam) as stub:
        stub.add_response("list_server_certificates", {"ServerCertificateMetadataList": listed}, {"MaxItems": 1000})
        stub.add_response(
            "get_server_certificate",
            {"ServerCertificate": {"ServerCertificateMetadata": fresh, "CertificateBody": body}},
            {"ServerCertificateName": "swap"},
        )
        gathered = gather_evidence(iam, list_certificates(iam), read_bodies=True)
    assert list_meta["ServerCertificateId"] != gathered.evidence[0].metadata.certificate_id
    assert gathered.evidence[0].metadata.certificate_id == "ASCANEWNEWNEW0000001"


def test_rule_clients_retry_with_backoff_and_a_connection_for_every_reader() -> None:
    from heartbleed.retry_policy import MAX_CONCURRENT_READS

    install_client_defaults(SdkSession())
    config: Any = boto3.client("iam").meta.config  # Config's attributes are set dynamically
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 10
    assert config.max_pool_connections == MAX_CONCURRENT_READS


def test_failed_evaluations_fail_the_run_instead_of_being_dropped() -> None:
    install_client_defaults(SdkSession())
    config = boto3.client("config", region_name="us-east-1")

    class Factory:
        def build_client(self, service: str, *args: Any, **kwargs: Any) -> Any:
            assert service == "config"
            return config

    from rdklib import ComplianceType, ConfigRule, Evaluation

    evaluation = Evaluation(ComplianceType.COMPLIANT, ARN + "a", "AWS::IAM::ServerCertificate", "ok")
    event = events.scheduled_event("token-1")
    ordering = json.loads(event["invokingEvent"])["notificationCreationTime"]
    with Stubber(config) as stub:
        stub.add_response(
            "get_compliance_details_by_config_rule",
            {"EvaluationResults": []},
            {
                "ConfigRuleName": events.RULE_NAME,
                "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT"],
                "Limit": 100,
                "NextToken": "",
            },
        )
        stub.add_response(
            "put_evaluations",
            {
                "FailedEvaluations": [
                    {
                        "ComplianceResourceType": "AWS::IAM::ServerCertificate",
                        "ComplianceResourceId": ARN + "a",
                        "ComplianceType": "COMPLIANT",
                        "OrderingTimestamp": ordering,
                    }
                ]
            },
        )
        with pytest.raises(EvaluationsRejectedError, match=r"rejected 1 evaluation\(s\), e.g. for " + ARN + "a"):
            process_periodic_evaluations_list(event, Factory(), [evaluation], ConfigRule())
        stub.assert_no_pending_responses()


def test_body_reads_are_concurrent_and_bounded() -> None:
    import threading
    import time

    from heartbleed.certificate import CertificateMetadata
    from heartbleed.retry_policy import MAX_CONCURRENT_READS

    body = issue("c", datetime(2020, 1, 1, tzinfo=UTC)).body
    lock = threading.Lock()
    in_flight = peak = 0

    class SlowIam:
        meta = iam_client().meta  # real event hooks, for the rule's pacing

        def get_server_certificate(self, ServerCertificateName: str) -> dict[str, Any]:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1
            return {
                "ServerCertificate": {"ServerCertificateMetadata": meta(ServerCertificateName), "CertificateBody": body}
            }

    listed = [CertificateMetadata(name=f"c{i}", arn=ARN + f"c{i}") for i in range(3 * MAX_CONCURRENT_READS)]
    gathered = gather_evidence(SlowIam(), listed, read_bodies=True)
    assert len(gathered.evidence) == len(listed)
    assert 1 < peak <= MAX_CONCURRENT_READS


def test_a_warm_container_reads_each_upload_once() -> None:
    iam = iam_client()
    body = issue("warm", datetime(2021, 1, 1, tzinfo=UTC)).body
    first = meta("warm")
    reuploaded = {**first, "ServerCertificateId": "ASCA" + uuid.uuid4().hex[:17].upper()}
    with Stubber(iam) as stub:
        stub.add_response("list_server_certificates", {"ServerCertificateMetadataList": [first]}, {"MaxItems": 1000})
        stub.add_response(
            "get_server_certificate",
            {"ServerCertificate": {"ServerCertificateMetadata": first, "CertificateBody": body}},
            {"ServerCertificateName": "warm"},
        )
        # Same upload again: known, so no GetServerCertificate.
        stub.add_response("list_server_certificates", {"ServerCertificateMetadataList": [first]}, {"MaxItems": 1000})
        # Deleted and uploaded again under the same name and ARN: a new id, so it is read again.
        stub.add_response(
            "list_server_certificates", {"ServerCertificateMetadataList": [reuploaded]}, {"MaxItems": 1000}
        )
        stub.add_response(
            "get_server_certificate",
            {"ServerCertificate": {"ServerCertificateMetadata": reuploaded, "CertificateBody": body}},
            {"ServerCertificateName": "warm"},
        )
        warm = WarmContainer()  # one container for the three runs
        verdicts = [assess_account(iam, PARAMS, warm)[0] for _ in range(3)]
        stub.assert_no_pending_responses()
    assert {v.compliance for v in verdicts} == {Compliance.COMPLIANT}


def test_earlier_rows_are_read_across_pages() -> None:
    from heartbleed.earlier_evaluations import reported_resources

    config = boto3.client("config", region_name="us-east-1")

    def row(name: str) -> dict[str, Any]:
        qualifier = {
            "ConfigRuleName": events.RULE_NAME,
            "ResourceType": "AWS::IAM::ServerCertificate",
            "ResourceId": ARN + name,
        }
        return {"EvaluationResultIdentifier": {"EvaluationResultQualifier": qualifier}, "ComplianceType": "COMPLIANT"}

    request = {"ConfigRuleName": events.RULE_NAME, "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT"], "Limit": 100}
    with Stubber(config) as stub:
        stub.add_response(
            "get_compliance_details_by_config_rule", {"EvaluationResults": [row("a")], "NextToken": "t1"}, request
        )
        stub.add_response(
            "get_compliance_details_by_config_rule", {"EvaluationResults": [row("b")]}, {**request, "NextToken": "t1"}
        )
        rows = reported_resources(config, events.RULE_NAME)
        stub.assert_no_pending_responses()
    assert rows == {ARN + "a": "AWS::IAM::ServerCertificate", ARN + "b": "AWS::IAM::ServerCertificate"}


def test_an_acm_certificate_of_unknown_type_is_judged_not_passed_over() -> None:
    """Only the Types whose keys ACM made are NOT_APPLICABLE; a Type this code does not know, or none
    (the field is optional in the model), is judged as an import."""
    from heartbleed.acm import KEY_TYPES, list_acm

    acm = boto3.session.Session(region_name="eu-west-1").client("acm")
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/"
    summaries = [
        {"CertificateArn": arn + "1", "DomainName": "a.example.com", "Type": "AMAZON_ISSUED"},
        {"CertificateArn": arn + "2", "DomainName": "b.example.com", "Type": "PRIVATE"},
        {"CertificateArn": arn + "3", "DomainName": "c.example.com", "Type": "IMPORTED"},
        {"CertificateArn": arn + "4", "DomainName": "d.example.com"},
    ]
    with Stubber(acm) as stub:
        stub.add_response(
            "list_certificates", {"CertificateSummaryList": summaries}, {"Includes": {"keyTypes": KEY_TYPES}}
        )
        listing = list_acm(acm)
    assert [(meta.name, kind) for meta, kind in listing.issued] == [
        ("a.example.com", "AMAZON_ISSUED"),
        ("b.example.com", "PRIVATE"),
    ]
    assert [meta.name for meta in listing.imported] == ["c.example.com", "d.example.com"]
