"""lambda_handler end to end: real botocore clients over HTTP to the AWS double, real Config events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

OFFLINE = events.LOCAL_ROLE

Token = Callable[[], str]


def arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate{path}{name}"


def verdicts(aws: AwsDouble) -> dict[str, str]:
    return {resource: stored.compliance_type for resource, stored in aws.evaluations(events.RULE_NAME).items()}


def periodic(token: Token, **parameters: str) -> Any:
    return lambda_handler(events.scheduled_event(token(), {**OFFLINE, **parameters}), None)


def test_periodic_run_evaluates_the_sample_account(aws: AwsDouble, token: Token) -> None:
    """Scenarios 1, 2, 3 and 7 of heartbleed/verdict.py, a certificate of the sample account each."""
    sample_account.build(aws)
    sent = periodic(token)
    assert len(sent) == len(sample_account.EXPECTED)
    expected = {arn(name): verdict for name, verdict in sample_account.EXPECTED.items() if name != "CdnCertificate"}
    expected[arn("CdnCertificate", "/cloudfront/prod/")] = "COMPLIANT"
    assert verdicts(aws) == expected
    stored = aws.evaluations(events.RULE_NAME)
    assert str(stored[arn("ShopReissued2017")].annotation).startswith(
        "Shares its public key with FrontendSSLCertificate"
    )
    assert all(s.resource_type == "AWS::IAM::ServerCertificate" for s in stored.values())


def test_iam_033_settings_reproduce_the_seed(aws: AwsDouble, token: Token) -> None:
    sample_account.build(aws)
    periodic(token, CutoffDate="2014-04-01", CheckCertificateBody="false")
    result = verdicts(aws)
    # Only the upload date, with IAM-033's 1 April: the disclosure week and the 2013-issued one slip through.
    assert result[arn("FrontendSSLCertificate")] == "NON_COMPLIANT"
    assert result[arn("DisclosureWeekCertificate")] == "COMPLIANT"
    assert result[arn("LegacyApiCertificate")] == "COMPLIANT"


def test_periodic_run_reads_every_short_page(aws: AwsDouble, token: Token) -> None:
    body = issue("many", datetime(2020, 1, 1, tzinfo=UTC))
    names = [f"cert-{i:02d}" for i in range(23)]
    aws.set_certificate_quota(len(names))  # above IAM's default of 20
    for name in names:
        aws.upload(name, body.body, body.private_key, uploaded=datetime(2020, 1, 2, tzinfo=UTC))
    aws.set_page_limit(5)  # IAM may answer fewer than MaxItems with IsTruncated set
    periodic(token)
    assert verdicts(aws) == {arn(name): "COMPLIANT" for name in names}


def test_change_event_evaluates_the_changed_certificate_under_its_arn(aws: AwsDouble, token: Token) -> None:
    """Scenario 2 (issued in 2013, uploaded in 2016), from the certificate's change event."""
    sample_account.build(aws)
    item = events.configuration_item("LegacyApiCertificate", arn("LegacyApiCertificate"))
    sent = lambda_handler(events.change_event(item, token(), OFFLINE), None)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [
        (arn("LegacyApiCertificate"), "NON_COMPLIANT")
    ]
    assert sent[0]["OrderingTimestamp"] == item["configurationItemCaptureTime"]


def test_both_triggers_give_the_same_verdict_on_the_same_row(aws: AwsDouble, token: Token) -> None:
    sample_account.build(aws)
    periodic(token)
    by_period = aws.evaluations(events.RULE_NAME)
    for name in sample_account.EXPECTED:
        path = "/cloudfront/prod/" if name == "CdnCertificate" else "/"
        item = events.configuration_item(name, arn(name, path), path)
        sent = lambda_handler(events.change_event(item, token(), OFFLINE), None)
        assert len(sent) == 1
        assert sent[0]["ComplianceResourceId"] == arn(name, path)
        assert sent[0]["ComplianceType"] == by_period[arn(name, path)].compliance_type
        assert sent[0]["Annotation"] == by_period[arn(name, path)].annotation
    assert len(aws.evaluations(events.RULE_NAME)) == len(sample_account.EXPECTED)


def test_oversized_change_event_is_inflated_and_evaluated(aws: AwsDouble, token: Token) -> None:
    """Scenario 3 (reissued with a flagged key), from an oversized change event."""
    sample_account.build(aws)
    sent = lambda_handler(events.oversized_change_event("ShopReissued2017", token(), OFFLINE), None)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [
        (arn("ShopReissued2017"), "NON_COMPLIANT")
    ]


def test_scenario_9_a_deleted_certificate_becomes_not_applicable_on_its_own_event(aws: AwsDouble, token: Token) -> None:
    sample_account.build(aws)
    periodic(token)
    aws.client("iam").delete_server_certificate(ServerCertificateName="FrontendSSLCertificate")
    item = events.configuration_item("FrontendSSLCertificate", arn("FrontendSSLCertificate"), status="ResourceDeleted")
    sent = lambda_handler(events.change_event(item, token(), OFFLINE), None)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [
        (arn("FrontendSSLCertificate"), "NOT_APPLICABLE")
    ]
    stored = aws.evaluations(events.RULE_NAME)[arn("FrontendSSLCertificate")]
    assert (stored.compliance_type, stored.annotation) == (
        "NOT_APPLICABLE",
        "The certificate is no longer recorded (ResourceDeleted).",
    )


def test_event_left_scope_is_not_applicable_under_the_arn(aws: AwsDouble, token: Token) -> None:
    sample_account.build(aws)
    item = events.configuration_item("ModernWebCertificate", arn("ModernWebCertificate"))
    sent = lambda_handler(events.change_event(item, token(), OFFLINE, left_scope=True), None)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [
        (arn("ModernWebCertificate"), "NOT_APPLICABLE")
    ]


def test_change_event_for_a_certificate_iam_no_longer_has(aws: AwsDouble, token: Token) -> None:
    item = events.configuration_item("Vanished", arn("Vanished"))
    sent = lambda_handler(events.change_event(item, token(), OFFLINE), None)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [(arn("Vanished"), "NOT_APPLICABLE")]
    assert sent[0]["Annotation"] == "The certificate no longer exists in IAM."


def test_the_periodic_clean_up_retires_rows_of_deleted_certificates(aws: AwsDouble, token: Token) -> None:
    sample_account.build(aws)
    periodic(token)
    aws.client("iam").delete_server_certificate(ServerCertificateName="ModernWebCertificate")
    periodic(token)
    result = verdicts(aws)
    assert result[arn("ModernWebCertificate")] == "NOT_APPLICABLE"
    assert result[arn("FrontendSSLCertificate")] == "NON_COMPLIANT"


def test_an_empty_account_sends_an_empty_put(aws: AwsDouble, token: Token) -> None:
    assert periodic(token) == []
    calls = aws.put_calls()
    assert len(calls) == 1
    assert calls[0].evaluations == []


def test_more_than_100_evaluations_go_in_batches(aws: AwsDouble, token: Token) -> None:
    body = issue("bulk", datetime(2015, 1, 1, tzinfo=UTC))
    aws.set_certificate_quota(130)
    for i in range(130):
        aws.upload(f"bulk-{i:03d}", body.body, body.private_key, uploaded=datetime(2015, 1, 2, tzinfo=UTC))
    periodic(token, CheckCertificateBody="false")
    assert [len(call.evaluations) for call in aws.put_calls()] == [100, 30]
    assert len(verdicts(aws)) == 130


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"CutOffDate": "2014-04-01"}, "unknown parameter 'CutOffDate'"),
        ({"CutoffDate": "2099-01-01"}, "CutoffDate '2099-01-01' is in the future"),
        ({"CheckCertificateBody": "maybe"}, "CheckCertificateBody 'maybe' is not valid: use true or false"),
    ],
)
def test_bad_parameters_fail_the_run_with_a_named_error(
    aws: AwsDouble, token: Token, parameters: dict[str, str], message: str
) -> None:
    sample_account.build(aws)
    response = lambda_handler(events.scheduled_event(token(), {**OFFLINE, **parameters}), None)
    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert message in response["customerErrorMessage"]
    assert aws.put_calls() == []
