"""heartbleed-audit audit --organization --ledger: the organization report from the key ledger, over HTTP.

The organization: the management account (the double's own, which runs the audit) and three members made by
Organizations CreateAccount, each with the organization route's member execution role (the management
account's through a plain stack, as the template says). A holds a certificate issued in 2013; B reissued A's
key in 2025, in IAM and into ACM; C and the management account have fresh certificates with their own keys.
The ledger is filled by the rule itself: the central function's periodic run in every account, with
KeyLedgerTable set, as Config would invoke it.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audited_estate import upload_estate
from identities import AUDIT_ROLE, AUDITOR, acting_as, use_credentials
from ledger_table import TABLE, create_table
from moto.core.authorization import enable_iam_authentication
from simulated_organization import MEMBER_RULE, PARAMETERS, LambdaContext, Organization, member_copy
from template_roles import create_roles

from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

NOW = datetime.now(UTC)
OLD = datetime(2013, 6, 1, tzinfo=UTC)
WITH_LEDGER = {**PARAMETERS, "KeyLedgerTable": TABLE}
READS = ("iam:GetServerCertificate", "acm:GetCertificate")
WRITES = ("dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


@dataclass(frozen=True)
class Estate:
    organization: Organization
    a: str
    b: str
    c: str

    @property
    def accounts(self) -> list[str]:
        return [ACCOUNT_ID, self.a, self.b, self.c]


def run_the_rule(aws: AwsDouble, estate: Estate, monkeypatch: pytest.MonkeyPatch, *accounts: str) -> None:
    """The central function's periodic run in each account (all of them by default), as Config invokes it: with
    FunctionRole's credentials, through each account's execution role; the organization rule's event names the
    account's Config service-linked role, the management account's too. IAM enforcement is on for the members;
    for the management account it is off, as moto 5.2 refuses a same-account AssumeRole under enforcement even
    where both the identity policy and the trust policy allow it (tests/identities.py checks the rest)."""
    got = aws.client("sts").assume_role(RoleArn=estate.organization.function_role, RoleSessionName="function")
    with monkeypatch.context() as scoped:
        use_credentials(scoped, got["Credentials"])
        for account in accounts or estate.accounts:
            token = aws.result_token(MEMBER_RULE, account)
            event = member_copy(events.scheduled_event(token, WITH_LEDGER, account=account), account)
            event["executionRoleArn"] = events.member_event_role(account)
            with nullcontext() if account == ACCOUNT_ID else enable_iam_authentication():
                result = lambda_handler(event, LambdaContext())
            assert isinstance(result, list), (account, result["internalErrorDetails"])


@pytest.fixture
def estate(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Estate:
    new_container()  # a new Lambda container: no member list kept
    a, b, c = aws.organization(3)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    for account in (ACCOUNT_ID, a, b, c):
        create_roles(aws, "member-execution-role.yaml", account, CentralFunctionRoleArn=function_role)
    create_table(aws.client("dynamodb"))  # in the management account, where the central function runs
    upload_estate(aws, a, b, c)
    own = issue("intranet.example.net", NOW - timedelta(days=3))
    aws.upload("Intranet2026", own.body, own.private_key)
    made = Estate(Organization([a, b, c], function_role, {}), a, b, c)
    run_the_rule(aws, made, monkeypatch)
    return made


def audit(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    aws.conditions.reset_counts()  # the CLI keeps its own container: none of the rule's bodies
    code = main(["audit", *argv, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    return code, out, err


def rows(out: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["account"], row["name"]): row for row in json.loads(out)}


def ledger_items(aws: AwsDouble) -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


ESTATE = ("--organization", "--include-acm", "--output", "json")


def test_the_ledger_backed_report_agrees_with_the_live_audit_and_reads_no_body_the_ledger_holds(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    live_code, live_out, live_err = audit(aws, capfd, *ESTATE)
    live_calls = dict(aws.conditions.calls)
    before = ledger_items(aws)
    code, out, err = audit(aws, capfd, *ESTATE, "--ledger", TABLE)
    calls = dict(aws.conditions.calls)
    assert (code, live_code) == (1, 1), err + live_err
    assert json.loads(out) == json.loads(live_out)  # the same rows, verdicts and annotations, in the same order
    assert {key: row["compliance"] for key, row in rows(out).items()} == {
        (ACCOUNT_ID, "Intranet2026"): "COMPLIANT",
        (estate.a, "Legacy2013"): "NON_COMPLIANT",
        (estate.b, "Shop2025"): "NON_COMPLIANT",
        (estate.b, "api.example.com"): "NON_COMPLIANT",
        (estate.c, "Fresh2026"): "COMPLIANT",
        (estate.c, "cdn.example.org"): "COMPLIANT",
    }
    assert (live_calls["iam:GetServerCertificate"], live_calls["acm:GetCertificate"]) == (4, 2)
    assert [calls.get(action, 0) for action in READS] == [0, 0]  # every body came from the ledger
    assert [calls.get(action, 0) for action in WRITES] == [0, 0, 0, 0]  # read-only
    # One Query of each account's partition and one BatchGetItem of the pool's keys; the lists as live.
    assert (calls["dynamodb:Query"], calls["dynamodb:BatchGetItem"]) == (4, 1)
    for action in ("iam:ListServerCertificates", "acm:ListCertificates", "sts:AssumeRole"):
        assert calls[action] == live_calls[action], action
    assert f"6 certificate bodies taken from the key ledger {TABLE}" in err
    assert ledger_items(aws) == before

    code, table, _ = audit(aws, capfd, "--organization", "--include-acm", "--ledger", TABLE)
    _, live_table, _ = audit(aws, capfd, "--organization", "--include-acm")
    assert code == 1 and table == live_table


def test_a_certificate_uploaded_since_the_rules_last_run_is_read_and_the_report_still_agrees(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    later = issue("new.example.org", NOW - timedelta(days=1))
    aws.upload("New2026", later.body, later.private_key, account=estate.c)
    _, live_out, _ = audit(aws, capfd, *ESTATE)
    code, out, err = audit(aws, capfd, *ESTATE, "--ledger", TABLE)
    assert code == 1 and json.loads(out) == json.loads(live_out)
    assert aws.conditions.calls["iam:GetServerCertificate"] == 1  # New2026's alone
    assert rows(out)[(estate.c, "New2026")]["compliance"] == "COMPLIANT"
    assert "6 certificate bodies taken from the key ledger" in err


def test_a_deleted_2013_certificate_still_makes_its_same_key_reissue_non_compliant(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What only the ledger knows: the live audit sees the certificates that exist now."""
    aws.client("iam", estate.a).delete_server_certificate(ServerCertificateName="Legacy2013")  # the seed's step 1
    _, live_out, _ = audit(aws, capfd, *ESTATE)
    live = rows(live_out)
    assert (estate.a, "Legacy2013") not in live
    assert live[(estate.b, "Shop2025")]["compliance"] == "COMPLIANT"  # forgotten
    assert live[(estate.b, "api.example.com")]["compliance"] == "COMPLIANT"

    before = ledger_items(aws)
    code, out, _ = audit(aws, capfd, *ESTATE, "--ledger", TABLE)
    found = rows(out)
    assert code == 1 and found.keys() == live.keys()  # the rows are the current lists
    evidence_of = f"Shares its public key with Legacy2013 (account {estate.a}), issued 2013-06-01T00:00:00Z, before"
    for name in ("Shop2025", "api.example.com"):
        assert found[(estate.b, name)]["compliance"] == "NON_COMPLIANT"
        assert found[(estate.b, name)]["annotation"].startswith(evidence_of)
    assert ledger_items(aws) == before  # the audit marked nothing deleted: that is the rule's run

    run_the_rule(aws, estate, monkeypatch, estate.a)  # A's next periodic run records the deletion
    _, out, _ = audit(aws, capfd, *ESTATE, "--ledger", TABLE)
    annotation = rows(out)[(estate.b, "Shop2025")]["annotation"]
    assert f"Shares its public key with Legacy2013 (account {estate.a}, deleted since " in annotation


def test_the_table_from_the_environment_and_only_when_asked(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBLEED_KEY_LEDGER", TABLE)
    code, _, err = audit(aws, capfd, "--organization", "--ledger", "--output", "json")
    assert code == 1 and aws.conditions.calls.get("iam:GetServerCertificate", 0) == 0
    assert f"4 certificate bodies taken from the key ledger {TABLE}" in err
    code, _, err = audit(aws, capfd, "--organization", "--output", "json")  # without --ledger: the live audit
    assert code == 1 and aws.conditions.calls["iam:GetServerCertificate"] == 4 and "key ledger" not in err


# What the auditing principal needs for the ledger-backed audit: the live audit's (tests/test_organization_audit.py)
# and a read of the ledger's table.
AUDITOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "organizations:ListAccounts", "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::*:role/{AUDIT_ROLE}"},
        {"Effect": "Allow", "Action": ["iam:ListServerCertificates", "acm:ListCertificates"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:BatchGetItem"],
            "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/{TABLE}",
        },
    ],
}


def test_a_read_of_the_table_is_all_it_adds_and_an_account_that_cannot_be_read_fails_the_audit(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    """No GetServerCertificate or GetCertificate granted: the ledger holds every body. C has no audit role."""
    for member in (estate.a, estate.b):
        create_roles(aws, "audit-role.yaml", member, AuditingPrincipalArn=AUDITOR)
    with acting_as(aws, AUDITOR_POLICY):
        code, out, err = audit(aws, capfd, *ESTATE, "--role-name", AUDIT_ROLE, "--ledger", TABLE)
    assert code == 2, err  # never clean while an account is missing
    assert f"account {estate.c} not audited: AssumeRole refused (AccessDenied)" in err
    assert "incomplete: 1 of 4 accounts could not be audited" in err
    found = rows(out)
    assert {account for account, _ in found} == {ACCOUNT_ID, estate.a, estate.b}
    assert found[(estate.b, "api.example.com")]["compliance"] == "NON_COMPLIANT"


def test_a_ledger_that_refuses_a_read_ends_the_audit_with_no_report(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    aws.conditions.inject("dynamodb:BatchGetItem", "denied")
    code, out, err = audit(aws, capfd, *ESTATE, "--ledger", TABLE)
    assert code == 2 and out == ""
    assert f"the key ledger '{TABLE}' could not be read: AccessDenied" in err
    assert "'audit --ledger' needs dynamodb:Query and dynamodb:BatchGetItem on the table" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--organization", "--ledger", "NoSuchLedger"], "--ledger 'NoSuchLedger': no such DynamoDB table"),
        (["--ledger", TABLE], "--ledger needs --organization"),
        (["--include-acm", "--ledger", TABLE], "--ledger needs --organization"),
        (["--organization", "--ledger"], "--ledger names no table: pass --ledger NAME_OR_ARN or set HEARTBLEED"),
        (["--organization", "--ledger", "no spaces"], "--ledger 'no spaces'"),
    ],
)
def test_bad_ledger_input_exits_2_and_names_the_value(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.delenv("HEARTBLEED_KEY_LEDGER", raising=False)
    aws.organization(2)
    code, out, err = audit(aws, capfd, *argv)
    assert code == 2 and out == ""
    assert message in err
    assert aws.conditions.calls.get("sts:AssumeRole", 0) == 0  # refused before any member was read
