"""The shipped least-privilege policy, under moto's IAM policy enforcement.

moto checks every request's SigV4 signature and the caller's IAM policies once
enable_iam_authentication() is on; the double reports the certificate and rule
ARNs as the requested resources, so resource-scoped statements are really matched.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from config_results import stored
from identities import POLICY, acting_as

from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler


def test_the_shipped_policy_is_enough_for_every_trigger(aws: AwsDouble) -> None:
    sample_account.build(aws)
    with acting_as(aws, POLICY):
        periodic = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
        assert len(lambda_handler(periodic, None)) == len(sample_account.EXPECTED)
        oversized = events.oversized_change_event(
            "ModernWebCertificate", aws.result_token(events.RULE_NAME), events.LOCAL_ROLE
        )
        assert lambda_handler(oversized, None)[0]["ComplianceType"] == "COMPLIANT"
        # The second periodic run reads the old evaluations back for rdklib's clean-up.
        lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    assert stored(aws) == sample_account.EXPECTED


def test_enforcement_is_really_on(aws: AwsDouble) -> None:
    with acting_as(aws, POLICY):
        # Unknown keys are refused, and a known key gets only what its policy grants.
        with pytest.raises(ClientError) as unknown:
            aws.client("iam").list_server_certificates()  # built with the double's fake keys
        with pytest.raises(ClientError) as denied:
            boto3.session.Session().client("iam").list_users()
        boto3.session.Session().client("iam").list_server_certificates()
    assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_without_get_server_certificate_nothing_is_compliant(aws: AwsDouble) -> None:
    sample_account.build(aws)
    policy = copy.deepcopy(POLICY)
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != "iam:GetServerCertificate"]
    with acting_as(aws, policy):
        sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    assert len(sent) == len(sample_account.EXPECTED)
    assert {e["ComplianceType"] for e in sent} == {"NON_COMPLIANT"}
    assert all("iam:GetServerCertificate was denied" in e["Annotation"] for e in sent)


@pytest.mark.parametrize("action", ["acm:ListCertificates", "acm:GetCertificate"])
def test_each_acm_statement_is_needed(aws: AwsDouble, action: str) -> None:
    """Without ListCertificates the run fails and sends nothing; without GetCertificate an import's body
    is missing evidence, so it is NON_COMPLIANT, never COMPLIANT."""
    imported = issue("modern.example.com", datetime.now(UTC) - timedelta(days=10))
    arn = aws.import_acm(imported.body, imported.private_key)
    policy = copy.deepcopy(POLICY)
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != action]
    with acting_as(aws, policy):
        sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    if action == "acm:ListCertificates":
        assert sent["customerErrorCode"] == "AccessDeniedException" and aws.put_calls() == []
    else:
        (evaluation,) = [e for e in sent if e["ComplianceResourceId"] == arn]
        assert evaluation["ComplianceType"] == "NON_COMPLIANT"
        assert "acm:GetCertificate was denied" in evaluation["Annotation"]
