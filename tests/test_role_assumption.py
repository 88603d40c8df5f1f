"""The trust paths through rdklib's own role assumption, under the double's IAM enforcement.

rdk's route 1 keeps the default AssumeRoleMode: the function assumes the event's
executionRoleArn. Route 4 (organization) names ExecutionRoleName: rdklib builds the role's
ARN in the event's account. In both, the function's own identity may only assume the role,
and the role holds the shipped least-privilege policy. The double enforces the role's trust
policy (heartbleed_audit/double/role_trust.py); rdklib's STS call reaches it through the configured
endpoint (heartbleed.clients.honour_configured_sts_endpoint).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from config_results import stored
from identities import FUNCTION_USER, POLICY, acting_as

from heartbleed.retry_policy import RetryableFailure
from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

FUNCTION_ARN = f"arn:aws:iam::{events.ACCOUNT_ID}:user/{FUNCTION_USER}"  # the function's identity (acting_as)
ROUTES = {
    # route: (rule parameters, the role rdklib assumes)
    "rdk default (executionRoleArn)": ({}, "config-role"),
    "ExecutionRoleName": (
        {"ExecutionRoleName": "HeartbleedServerCertificateExecution"},
        "HeartbleedServerCertificateExecution",
    ),
}


def trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def execution_role(aws: AwsDouble, name: str, policy: dict[str, Any], trusted: str = FUNCTION_ARN) -> str:
    iam = aws.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(trusted))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="rule", PolicyDocument=json.dumps(policy))
    return arn


def may_assume(role_arn: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    return {"Version": "2012-10-17", "Statement": [statement]}


def run(aws: AwsDouble, parameters: dict[str, str]) -> Any:
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), parameters)  # AssumeRoleMode: default
    return lambda_handler(event, None)


@pytest.mark.parametrize("route", ROUTES)
def test_the_assumed_role_with_the_shipped_policy_evaluates_everything(aws: AwsDouble, route: str) -> None:
    parameters, role = ROUTES[route]
    sample_account.build(aws)
    role_arn = execution_role(aws, role, POLICY)
    aws.conditions.reset_counts()
    with acting_as(aws, may_assume(role_arn)):  # the function itself can read nothing
        sent = run(aws, parameters)
    assert isinstance(sent, list) and len(sent) == len(sample_account.EXPECTED)
    assert stored(aws) == sample_account.EXPECTED
    assert aws.conditions.calls["sts:AssumeRole"] == 1


@pytest.mark.parametrize("route", ROUTES)
def test_a_role_without_get_server_certificate_is_never_compliant(aws: AwsDouble, route: str) -> None:
    parameters, role = ROUTES[route]
    sample_account.build(aws)
    policy = copy.deepcopy(POLICY)
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != "iam:GetServerCertificate"]
    role_arn = execution_role(aws, role, policy)
    with acting_as(aws, may_assume(role_arn)):
        sent = run(aws, parameters)
    assert {e["ComplianceType"] for e in sent} == {"NON_COMPLIANT"}
    assert all("iam:GetServerCertificate was denied" in e["Annotation"] for e in sent)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("why", ["trusts someone else", "does not exist", "the function may not assume it"])
def test_a_role_that_cannot_be_assumed_fails_loudly_and_writes_nothing(aws: AwsDouble, route: str, why: str) -> None:
    parameters, role = ROUTES[route]
    sample_account.build(aws)
    role_arn = f"arn:aws:iam::{events.ACCOUNT_ID}:role/{role}"
    function_policy = may_assume(role_arn)
    if why == "trusts someone else":
        execution_role(aws, role, POLICY, trusted="arn:aws:iam::210987654321:root")
    elif why == "the function may not assume it":
        execution_role(aws, role, POLICY)
        function_policy = may_assume(f"arn:aws:iam::{events.ACCOUNT_ID}:role/another-role")
    # Raised past rdklib, whose error document Lambda would count as a success: a role that is not there
    # yet (an organization's StackSet reaches members after the rule) is there at Lambda's retry; one that
    # never comes ends in the dead-letter queue.
    with acting_as(aws, function_policy), pytest.raises(RetryableFailure, match="AssumeRole operation"):
        run(aws, parameters)
    assert aws.put_calls() == [] and aws.evaluations(events.RULE_NAME) == {}
