"""The central function's guard on the organization route (ORGANIZATION_RULE_NAME set), a member that
joined a moment ago, and a member whose execution role arrives after the rule: on a simulated
organization over HTTP, under the double's IAM enforcement, as the template's FunctionRole."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from ledger_table import TABLE
from simulated_organization import (
    NOW,
    PARAMETERS,
    WITH_LEDGER,
    LambdaContext,
    Organization,
    as_central_function,
    copy_event,
    copy_of,
    invoke_copy,
    served_with_ledger,
)
from template_roles import create_roles

from heartbleed import organization_guard
from heartbleed.ledger import Ledger
from heartbleed.organization_guard import MembershipUnknown
from heartbleed.retry_policy import RetryableFailure
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

OUTSIDER = "210987654321"


@pytest.fixture
def organization(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Organization:
    return served_with_ledger(aws, monkeypatch)


def registration(aws: AwsDouble, account: str) -> dict[str, str]:
    """The account's rule registration in the ledger (how re-evaluations reach it)."""
    key = {"pk": {"S": f"A#{account}"}, "sk": {"S": "#RULE#us-east-1"}}
    item = aws.client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})
    return {name: value["S"] for name, value in item.items() if "S" in value}


def run_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"api_calls"')]


def test_the_members_copy_of_the_organization_rule_is_served_and_registered(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = organization.members[0]
    with as_central_function(aws, organization, monkeypatch):
        sent = invoke_copy(aws, first, WITH_LEDGER)
    assert [e["ComplianceType"] for e in sent] == ["NON_COMPLIANT"]
    name, _ = copy_of(first)
    assert {arn: e.compliance_type for arn, e in aws.evaluations(name, first).items()} == {
        organization.certificates[first]: "NON_COMPLIANT"
    }
    assert registration(aws, first)["rule"] == name


# Events a member's administrator can make its own Config send to the central function.
FORGED: dict[str, Callable[[str, str], dict[str, str]]] = {
    "its own custom rule": lambda account, _: {
        "configRuleName": "MembersOwnRule",
        "configRuleArn": f"arn:aws:config:us-east-1:{account}:config-rule/config-rule-own001",
    },
    "its own rule named like the copy": lambda account, _: {
        "configRuleArn": f"arn:aws:config:us-east-1:{account}:config-rule/config-rule-own002",
    },
    "another organization rule's copy": lambda account, _: {
        "configRuleName": "OrgConfigRule-AnotherOrganizationRule-ab12cd34",
    },
    "the copy's ARN in another account": lambda _, other: {
        "configRuleArn": copy_of(other)[1],
    },
    "another account's execution role": lambda _, other: {
        "executionRoleArn": f"arn:aws:iam::{other}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
    },
}


@pytest.mark.parametrize("forged", sorted(FORGED))
def test_a_members_own_rule_is_refused_and_leaves_the_registration_unchanged(
    aws: AwsDouble,
    organization: Organization,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    forged: str,
) -> None:
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        invoke_copy(aws, first, WITH_LEDGER)  # the organization rule's run registers the account's rule
    registered = registration(aws, first)
    runs = Ledger(aws.client("dynamodb"), TABLE).member_runs(first)
    event = copy_event(aws, first, WITH_LEDGER, **FORGED[forged](first, second))
    with as_central_function(aws, organization, monkeypatch):
        aws.conditions.reset_counts()  # from here on, only the forged event's calls
        response = lambda_handler(event, LambdaContext())
    assert isinstance(response, dict) and response["customerErrorCode"] == "AccessDeniedException", response
    assert "the event was refused, nothing was read or reported" in response["customerErrorMessage"]
    assert dict(aws.conditions.calls) == {}  # no AssumeRole, no read, no ledger write, no PutEvaluations
    assert len(aws.put_calls(first)) == 1  # the organization rule's own run only
    assert registration(aws, first) == registered
    assert Ledger(aws.client("dynamodb"), TABLE).member_runs(first) == runs
    assert run_lines(caplog)[-1]["outcome"] == "refused"


def test_a_member_that_joins_seconds_after_the_list_was_read_is_evaluated(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = organization.members[0]
    with as_central_function(aws, organization, monkeypatch):
        invoke_copy(aws, first)  # the container reads the member list
    created = aws.client("organizations").create_account(Email="new@example.com", AccountName="newcomer")
    newcomer = created["CreateAccountStatus"]["AccountId"]
    create_roles(aws, "member-execution-role.yaml", newcomer, CentralFunctionRoleArn=organization.function_role)
    cert = issue("new.example.com", NOW - timedelta(days=5))
    arn = aws.upload("NewcomerCertificate", cert.body, cert.private_key, account=newcomer)["Arn"]
    aws.conditions.reset_counts()
    with as_central_function(aws, organization, monkeypatch):
        sent = invoke_copy(aws, newcomer)
        invoke_copy(aws, newcomer)  # known now: not read again
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [(arn, "COMPLIANT")]
    assert aws.conditions.calls["organizations:ListAccounts"] == 1


def test_an_unknown_account_rereads_the_list_once_per_interval_and_an_outsider_is_never_served(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_roles(aws, "member-execution-role.yaml", OUTSIDER, CentralFunctionRoleArn=organization.function_role)
    cert = issue("outsider.example.com", NOW - timedelta(days=5))
    aws.upload("OutsiderCertificate", cert.body, cert.private_key, account=OUTSIDER)
    with as_central_function(aws, organization, monkeypatch):
        aws.conditions.reset_counts()
        first = invoke_copy(aws, OUTSIDER)  # read for it just now, and not listed: an outsider
        with pytest.raises(MembershipUnknown, match="read again for it after"):
            invoke_copy(aws, OUTSIDER)  # read for it a moment ago: not again, Lambda retries the event
        assert aws.conditions.calls["organizations:ListAccounts"] == 1
        monkeypatch.setattr(organization_guard, "RECHECK_AFTER_S", 0.0)  # the interval has passed
        again = invoke_copy(aws, OUTSIDER)
        assert aws.conditions.calls["organizations:ListAccounts"] == 2
    for response in (first, again):
        assert isinstance(response, dict) and response["customerErrorCode"] == "AccessDeniedException", response
    assert "sts:AssumeRole" not in aws.conditions.calls and aws.put_calls(OUTSIDER) == []


def test_a_member_whose_role_arrives_later_gets_its_results_on_lambdas_retry(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    third = organization.members[2]  # the StackSet has not reached it: no execution role yet
    event = copy_event(aws, third, WITH_LEDGER)
    ledger = Ledger(aws.client("dynamodb"), TABLE)
    with (
        as_central_function(aws, organization, monkeypatch),
        pytest.raises(RetryableFailure, match="execution role may not be deployed yet"),
    ):
        lambda_handler(event, LambdaContext())  # raised: Lambda retries it, then keeps it in the DLQ
    assert run_lines(caplog)[-1]["outcome"] == "failed"
    assert aws.put_calls(third) == []
    (failed,) = ledger.member_runs(third)
    assert failed.last_success is None and "AssumeRole" in (failed.failure or "") and failed.needs_evaluation
    create_roles(aws, "member-execution-role.yaml", third, CentralFunctionRoleArn=organization.function_role)
    with as_central_function(aws, organization, monkeypatch):
        sent = lambda_handler(event, LambdaContext())  # Lambda's retry: the same event, a minute later
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in sent] == [
        (organization.certificates[third], "COMPLIANT")
    ]
    (succeeded,) = ledger.member_runs(third)
    assert succeeded.rule == copy_of(third)[0] and succeeded.last_failure == failed.last_failure
    assert not succeeded.needs_evaluation


def test_a_deleted_certificates_change_event_is_retried_too_while_the_role_is_missing(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deleted item's path reads nothing; the role is still assumed where its refusal is retried."""
    third = organization.members[2]
    name, arn = copy_of(third)
    gone = f"arn:aws:iam::{third}:server-certificate/Gone"
    item = {**events.configuration_item("Gone", gone, status="ResourceDeleted"), "awsAccountId": third}
    event = {
        **events.change_event(item, aws.result_token(name, third), PARAMETERS),
        "configRuleName": name,
        "configRuleArn": arn,
    }
    with as_central_function(aws, organization, monkeypatch), pytest.raises(RetryableFailure, match="AssumeRole"):
        lambda_handler(event, LambdaContext())
    assert aws.put_calls(third) == []
