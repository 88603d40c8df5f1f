"""A simulated organization on the double, as the organization route (rules/organization.yaml with
rules/member-execution-role.yaml) deploys it, and the central function's invocations in it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from identities import use_credentials
from ledger_table import TABLE, create_table
from moto.core.authorization import enable_iam_authentication
from template_roles import create_roles

from heartbleed.organization_guard import ORGANIZATION_RULE_VARIABLE
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from heartbleed_audit.double.config_evaluations import ORGANIZATION_COPY_PATH
from HeartbleedServerCertificate import lambda_handler, new_container

MEMBER_ROLE = "HeartbleedServerCertificateExecution"  # the templates' default ExecutionRoleName
PARAMETERS = {"ExecutionRoleName": MEMBER_ROLE}  # as the organization rule's InputParameters pass it
# Each member's copy of the organization rule, as config-multiaccountsetup names it (OrgConfigRule-<name>-<suffix>).
MEMBER_RULE = "OrgConfigRule-HeartbleedServerCertificate-x1y2z3ab"
NOW = datetime.now(UTC)
WITH_LEDGER = {**PARAMETERS, "KeyLedgerTable": TABLE}  # the same, naming the key ledger's table


@dataclass(frozen=True)
class LambdaContext:
    """What rdklib and the rule read of the Lambda context."""

    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:HeartbleedServerCertificate"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass(frozen=True)
class Organization:
    members: list[str]  # the first two have the member role, the third has not
    function_role: str
    certificates: dict[str, str]  # account -> its certificate's ARN


def build_organization(aws: AwsDouble, shared_key: bool = False) -> Organization:
    """Three members: the first with a 2013 certificate, the others with recent ones (all carrying
    one key if shared_key); the first two have the member role, the third has not."""
    new_container()  # a new Lambda container: no member list kept
    key = new_key() if shared_key else None
    members = aws.organization(3)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    certificates = {}
    for index, member in enumerate(members):
        if index < 2:
            create_roles(aws, "member-execution-role.yaml", member, CentralFunctionRoleArn=function_role)
        issued = datetime(2013, 6, 1, tzinfo=UTC) if index == 0 else NOW - timedelta(days=5)
        cert = issue(f"m{index}.example.com", issued, key=key)
        certificates[member] = aws.upload(
            f"Member{index}Certificate",
            cert.body,
            cert.private_key,
            uploaded=issued + timedelta(days=1),
            account=member,
        )["Arn"]
    return Organization(members, function_role, certificates)


def with_shared_key_and_ledger(aws: AwsDouble) -> tuple[Organization, dict[str, str]]:
    """An organization whose first two members carry one key (the first's certificate from 2013), the key
    ledger's table in the management account, where the central function runs, and the rule parameters
    that name it."""
    organization = build_organization(aws, shared_key=True)
    create_table(aws.client("dynamodb"))
    return organization, WITH_LEDGER


def served_with_ledger(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Organization:
    """An organization whose organization rule the central function serves, with the key ledger's table in
    the management account, where the central function runs."""
    made = build_organization(aws)
    create_table(aws.client("dynamodb"))
    serve_organization_rule(monkeypatch)
    return made


@contextmanager
def as_central_function(aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The function's own credentials: a session of FunctionRole, with enforcement on."""
    got = aws.client("sts").assume_role(RoleArn=organization.function_role, RoleSessionName="function")
    use_credentials(monkeypatch, got["Credentials"])
    with enable_iam_authentication():
        yield


def member_copy(event: dict[str, Any], account: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event as Config sends it for the member's copy of the organization rule: its name and its
    service-linked ARN (the management account holds a copy too)."""
    arn = f"arn:aws:config:{region}:{account}:config-rule/{ORGANIZATION_COPY_PATH}config-rule-hb0001"
    return event | {"configRuleName": MEMBER_RULE, "configRuleArn": arn}


def invoke(aws: AwsDouble, account: str, parameters: Mapping[str, str] = PARAMETERS) -> Any:
    event = events.scheduled_event(aws.result_token(MEMBER_RULE, account), parameters, account=account)
    assert event["executionRoleArn"].endswith("role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
    return lambda_handler(member_copy(event, account), LambdaContext())


def stored(aws: AwsDouble, account: str) -> dict[str, str]:
    return {arn: e.compliance_type for arn, e in aws.evaluations(MEMBER_RULE, account).items()}


# --- the organization rule's own copies (ORGANIZATION_RULE_NAME set on the function) -----------------

ORGANIZATION_RULE = "HeartbleedServerCertificate"  # OrganizationConfigRuleName in rules/organization.yaml


def copy_of(account: str) -> tuple[str, str]:
    """The name and ARN Config gives the account's copy of the organization rule (the suffix is Config's
    choice; here one per account)."""
    suffix = f"hb{account[-6:]}"
    arn = f"arn:aws:config:us-east-1:{account}:config-rule/{ORGANIZATION_COPY_PATH}config-rule-{suffix}"
    return f"OrgConfigRule-{ORGANIZATION_RULE}-{suffix}", arn


def serve_organization_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's environment as rules/organization.yaml sets it: the organization rule it serves."""
    monkeypatch.setenv(ORGANIZATION_RULE_VARIABLE, ORGANIZATION_RULE)


def copy_event(aws: AwsDouble, account: str, parameters: Mapping[str, str] = PARAMETERS, **fields: str) -> Any:
    """A periodic event of the account's copy of the organization rule (fields override the event's)."""
    name, arn = copy_of(account)
    rule = fields.get("configRuleName", name)
    event = events.scheduled_event(aws.result_token(rule, account), parameters, account=account)
    return {**event, "configRuleName": name, "configRuleArn": arn, **fields}


def invoke_copy(aws: AwsDouble, account: str, parameters: Mapping[str, str] = PARAMETERS, **fields: str) -> Any:
    return lambda_handler(copy_event(aws, account, parameters, **fields), LambdaContext())
