"""The organization route (rules/organization.yaml with rules/member-execution-role.yaml) on a
simulated organization, over HTTP, under the double's IAM enforcement and role trust.

The central function runs with the template's FunctionRole in the management account. Config in
each member account invokes it with that member's accountId, its Config service-linked role as
executionRoleArn (which Lambda cannot assume) and a result token of that member's Config; the
organization rule passes ExecutionRoleName, so rdklib assumes the member role of that name.
"""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from simulated_organization import (
    MEMBER_ROLE,
    NOW,
    Organization,
    as_central_function,
    build_organization,
    invoke,
    stored,
)
from template_roles import create_roles

from heartbleed.organization_guard import MembershipUnknown
from heartbleed.retry_policy import RetryableFailure
from heartbleed_audit import estate
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

OUTSIDER = "210987654321"


@pytest.fixture
def organization(aws: AwsDouble) -> Organization:
    return build_organization(aws)


def test_each_member_is_evaluated_in_its_own_config_and_nowhere_else(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        assert [e["ComplianceType"] for e in invoke(aws, first)] == ["NON_COMPLIANT"]
        assert [e["ComplianceType"] for e in invoke(aws, second)] == ["COMPLIANT"]
    assert stored(aws, first) == {organization.certificates[first]: "NON_COMPLIANT"}
    assert stored(aws, second) == {organization.certificates[second]: "COMPLIANT"}
    assert stored(aws, ACCOUNT_ID) == {}  # nothing lands in the central account
    assert aws.put_calls(ACCOUNT_ID) == []


def test_the_central_role_can_assume_only_the_named_member_role(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = organization.members[0]
    with as_central_function(aws, organization, monkeypatch):
        sts = boto3.session.Session().client("sts")  # the function's credentials, from the environment
        sts.assume_role(RoleArn=f"arn:aws:iam::{first}:role/{MEMBER_ROLE}", RoleSessionName="ok")
        with pytest.raises(ClientError) as refused:  # the administrator role Organizations made
            sts.assume_role(RoleArn=f"arn:aws:iam::{first}:role/OrganizationAccountAccessRole", RoleSessionName="no")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_the_central_role_cannot_assume_a_role_of_that_name_outside_its_organization(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws:ResourceOrgID on the function role's AssumeRole: an outsider's role of the member role's name,
    trusting the central function role, is out of reach; a member's is not."""
    outsider = create_roles(
        aws, "member-execution-role.yaml", OUTSIDER, CentralFunctionRoleArn=organization.function_role
    )
    first = organization.members[0]
    with as_central_function(aws, organization, monkeypatch):
        sts = boto3.session.Session().client("sts")
        sts.assume_role(RoleArn=f"arn:aws:iam::{first}:role/{MEMBER_ROLE}", RoleSessionName="member")
        with pytest.raises(ClientError) as refused:
            sts.assume_role(RoleArn=outsider["ExecutionRole"], RoleSessionName="outsider")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_member_without_the_role_fails_loudly_and_writes_nothing(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised, not an error document: the role may be on its way (the StackSet), so Lambda retries."""
    third = organization.members[2]
    with as_central_function(aws, organization, monkeypatch), pytest.raises(RetryableFailure, match="AssumeRole"):
        invoke(aws, third)
    assert aws.put_calls(third) == [] and stored(aws, third) == {}


def test_an_outsider_account_is_refused_before_any_call(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The outsider even made a role of the expected name that trusts the central function.
    create_roles(aws, "member-execution-role.yaml", OUTSIDER, CentralFunctionRoleArn=organization.function_role)
    cert = issue("outsider.example.com", NOW - timedelta(days=5))
    aws.upload("OutsiderCertificate", cert.body, cert.private_key, account=OUTSIDER)
    with as_central_function(aws, organization, monkeypatch):
        aws.conditions.reset_counts()  # from here on, only the function's calls
        response = invoke(aws, OUTSIDER)
    assert isinstance(response, dict) and response["customerErrorCode"] == "AccessDeniedException", response
    assert (
        f"account {OUTSIDER} is not an ACTIVE account of this function's organization"
        in response["customerErrorMessage"]
    )
    calls = dict(aws.conditions.calls)
    assert calls == {"organizations:ListAccounts": 1}  # no AssumeRole, no IAM read, no PutEvaluations
    assert aws.put_calls(OUTSIDER) == []
    assert any(f"refused an event from account {OUTSIDER}" in r.getMessage() for r in caplog.records)
    summary = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"api_calls"')]
    assert summary and summary[-1]["outcome"] == "refused"


def test_a_suspended_member_is_refused_as_the_estate_audit_leaves_it_out(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    first, second, _ = organization.members
    aws.client("organizations").close_account(AccountId=second)  # SUSPENDED, then closed
    with as_central_function(aws, organization, monkeypatch):
        assert isinstance(invoke(aws, first), list)
        refused = invoke(aws, second)
    assert isinstance(refused, dict) and refused["customerErrorCode"] == "AccessDeniedException", refused
    assert aws.put_calls(second) == []
    clients = estate.Clients(boto3.session.Session(), aws.endpoint_url, "us-east-1")
    assert estate.organization_accounts(clients) == sorted([ACCOUNT_ID, first, organization.members[2]])


def test_when_the_member_list_cannot_be_read_the_event_fails_for_lambda_to_retry(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = organization.members[0]
    aws.conditions.inject("organizations:ListAccounts", "denied")
    with (
        as_central_function(aws, organization, monkeypatch),
        pytest.raises(MembershipUnknown, match="organizations:ListAccounts failed"),
    ):
        invoke(aws, first)
    assert aws.put_calls(first) == []


def test_the_member_list_is_kept_per_container(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = organization.members
    aws.conditions.reset_counts()
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first)
        invoke(aws, second)
    assert aws.conditions.calls["organizations:ListAccounts"] == 1
