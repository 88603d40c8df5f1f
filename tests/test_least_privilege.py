"""The shipped least-privilege policy, under moto's IAM policy enforcement.

moto checks every request's SigV4 signature and the caller's IAM policies once
enable_iam_authentication() is on; the double reports the certificate and rule
ARNs as the requested resources, so resource-scoped statements are really matched.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

POLICY = json.loads((Path(__file__).resolve().parents[1] / "rules" / "least-privilege-policy.json").read_text())


@contextmanager
def acting_as(aws: AwsDouble, policy: dict[str, Any]) -> Iterator[None]:
    """Run the block with the credentials of an IAM user holding only policy, enforcement on."""
    iam = aws.client("iam")
    iam.create_user(UserName="rule-function")
    iam.put_user_policy(UserName="rule-function", PolicyName="rule", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="rule-function")["AccessKey"]
    saved = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    try:
        with enable_iam_authentication():
            yield
    finally:
        os.environ.update(saved)


def stored(aws: AwsDouble) -> dict[str, str]:
    return {arn.rsplit("/", 1)[1]: e.compliance_type for arn, e in aws.evaluations(events.RULE_NAME).items()}


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
