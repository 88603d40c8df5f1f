"""heartbleed-audit audit --organization --ledger TABLE --record, over HTTP against the double.

The organization: members B and C run the organization rule (their copies, with the key ledger) and hold 2025
certificates that carry one key; S is excluded from the rule and has none, and holds a 2013 certificate with
that key. The rule alone never learns of S's key: the backfill reads S through the audit role and records it,
and the re-evaluations it queues turn B and C NON_COMPLIANT at the next rule run anywhere, naming S.
The operator acts under IAM enforcement with rules/ledger-operator-policy.json and the organization audit's
reads (rules/audit-role.yaml in each member).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from identities import AUDIT_ROLE, AUDITOR, acting_as, use_credentials
from ledger_table import TABLE, create_table
from log_secrets import SECRETS
from moto.core.authorization import enable_iam_authentication
from simulated_organization import PARAMETERS, LambdaContext, copy_event, copy_of, serve_organization_rule
from template_roles import create_roles

from heartbleed.ledger import protocol as ledger_run
from heartbleed_audit import ledger_backfill
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

WITH_LEDGER = {**PARAMETERS, "KeyLedgerTable": TABLE}
RULES = Path(__file__).resolve().parents[1] / "rules"
OPERATOR_POLICY = json.loads((RULES / "ledger-operator-policy.json").read_text())
# The organization audit's own reads (tests/test_ledger_audit.py): the member accounts through the audit role.
AUDIT_READS = [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::*:role/{AUDIT_ROLE}"},
    {"Effect": "Allow", "Action": ["iam:ListServerCertificates", "acm:ListCertificates"], "Resource": "*"},
]
OPERATOR = {**OPERATOR_POLICY, "Statement": OPERATOR_POLICY["Statement"] + AUDIT_READS}
BACKFILL = ("--organization", "--role-name", AUDIT_ROLE, "--ledger", TABLE, "--record", "--output", "json")


@dataclass(frozen=True)
class Estate:
    b: str
    c: str
    s: str  # excluded from the organization rule: no copy of it, never a run
    function_role: str
    key: Any  # the private key every certificate here carries


@contextmanager
def as_function(aws: AwsDouble, estate: Estate, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The central function's credentials (FunctionRole), for the rule runs in the block only."""
    got = aws.client("sts").assume_role(RoleArn=estate.function_role, RoleSessionName="function")
    with monkeypatch.context() as scoped:
        use_credentials(scoped, got["Credentials"])
        yield


def run_copy(aws: AwsDouble, estate: Estate, monkeypatch: pytest.MonkeyPatch, account: str) -> None:
    """One run of the account's copy of the organization rule, as Config invokes it. Enforcement is off for the
    management account's own run (moto refuses a same-account AssumeRole under enforcement; see
    tests/test_ledger_audit.py's run_the_rule)."""
    enforced = nullcontext() if account == ACCOUNT_ID else enable_iam_authentication()
    with as_function(aws, estate, monkeypatch), enforced:
        result = lambda_handler(copy_event(aws, account, WITH_LEDGER), LambdaContext())
    assert isinstance(result, list), result


@pytest.fixture
def estate(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Estate:
    new_container()  # a new Lambda container: no member list kept
    serve_organization_rule(monkeypatch)
    b, c, s = aws.organization(3)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    for account in (ACCOUNT_ID, b, c):  # S runs no rule, so it has no execution role either
        create_roles(aws, "member-execution-role.yaml", account, CentralFunctionRoleArn=function_role)
    for account in (b, c, s):
        create_roles(aws, "audit-role.yaml", account, AuditingPrincipalArn=AUDITOR)
    create_table(aws.client("dynamodb"))
    key = new_key("rsa")
    for account, name, issued in (
        (b, "Shop2025", datetime(2025, 6, 1, tzinfo=UTC)),
        (c, "Api2025", datetime(2025, 7, 1, tzinfo=UTC)),
        (s, "Legacy2013", datetime(2013, 6, 1, tzinfo=UTC)),
    ):
        cert = issue(f"{name.lower()}.example.com", issued, key=key)
        aws.upload(name, cert.body, cert.private_key, uploaded=issued + timedelta(days=1), account=account)
    made = Estate(b, c, s, function_role, key)
    for account in (b, c):
        run_copy(aws, made, monkeypatch, account)
        assert verdicts(aws, account) == {"COMPLIANT"}  # the rule alone never sees S's key
    return made


def verdicts(aws: AwsDouble, account: str) -> set[str]:
    return {stored.compliance_type for stored in aws.evaluations(copy_of(account)[0], account).values()}


def annotations_of(aws: AwsDouble, account: str) -> list[str]:
    return [stored.annotation or "" for stored in aws.evaluations(copy_of(account)[0], account).values()]


def audit(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    aws.conditions.reset_counts()  # the CLI keeps its own container: none of the rule's bodies
    code = main(["audit", *argv, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    assert SECRETS.search(out + err) is None
    return code, out, err


def ledger_items(aws: AwsDouble) -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_the_backfill_records_the_excluded_account_and_the_next_rule_run_turns_its_key_holders_non_compliant(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with acting_as(aws, OPERATOR):
        code, out, err = audit(aws, capfd, *BACKFILL)
    assert code == 1, err  # findings: the pool is judged with what it just recorded
    assert {row["account"]: row["compliance"] for row in json.loads(out)} == {
        estate.b: "NON_COMPLIANT",
        estate.c: "NON_COMPLIANT",
        estate.s: "NON_COMPLIANT",
    }
    assert f"recorded: {estate.s} IAM Legacy2013" in err
    for account in (estate.b, estate.c):
        assert f"queued: re-evaluation of {copy_of(account)[0]} in {account} (us-east-1)" in err
    counts = "1 certificates recorded, 0 recorded deleted, 2 already held (0 last seen again); 1 keys with older"
    assert counts in err
    assert "2 re-evaluations queued, 1 accounts owed one have no rule recorded" in err
    assert all(aws.started_evaluations(account) == [] for account in (estate.b, estate.c))  # queued, not asked
    assert verdicts(aws, estate.b) == verdicts(aws, estate.c) == {"COMPLIANT"}

    # The next run of the rule anywhere (here the management account's copy, which shares no key) asks them,
    # through the roles the members' runs recorded; Config then runs each member's copy.
    run_copy(aws, estate, monkeypatch, ACCOUNT_ID)
    for account in (estate.b, estate.c):
        assert [started.rules for started in aws.started_evaluations(account)] == [(copy_of(account)[0],)]
        run_copy(aws, estate, monkeypatch, account)
        assert verdicts(aws, account) == {"NON_COMPLIANT"}
        (annotation,) = annotations_of(aws, account)
        assert f"Shares its public key with Legacy2013 (account {estate.s}), issued 2013-06-01" in annotation
    assert (
        aws.client("dynamodb").query(
            TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "PENDING"}}
        )["Items"]
        == []
    )


def pending(aws: AwsDouble) -> list[str]:
    """The accounts with a kept re-evaluation."""
    items = aws.client("dynamodb").query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "PENDING"}}
    )["Items"]
    return sorted(item["account"]["S"] for item in items)


def test_a_certificate_the_rule_has_not_judged_with_older_evidence_gets_its_accounts_rule_queued(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No lowering names B here (S's evidence is recorded already), but B's rule has never judged Late2025."""
    assert audit(aws, capfd, *BACKFILL, "--accounts", estate.s)[0] == 1
    run_copy(aws, estate, monkeypatch, ACCOUNT_ID)  # asks B and C, which then run
    for account in (estate.b, estate.c):
        run_copy(aws, estate, monkeypatch, account)
    assert pending(aws) == []
    later = issue("late.example.com", datetime(2025, 9, 1, tzinfo=UTC), key=estate.key)
    aws.upload("Late2025", later.body, later.private_key, account=estate.b)
    code, _, err = audit(aws, capfd, *BACKFILL)
    assert code == 1, err
    assert f"recorded: {estate.b} IAM Late2025" in err
    assert f"queued: re-evaluation of {copy_of(estate.b)[0]} in {estate.b} (us-east-1)" in err
    assert "0 keys with older evidence" in err and pending(aws) == [estate.b]


def test_a_second_backfill_changes_nothing_and_says_so(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    with acting_as(aws, OPERATOR):
        assert audit(aws, capfd, *BACKFILL)[0] == 1
    before = ledger_items(aws)
    code, _, err = audit(aws, capfd, *BACKFILL)  # the double's own credentials: the table can be compared after
    assert code == 1
    assert ledger_items(aws) == before
    assert f"backfill of {TABLE}: nothing changed: the ledger held all 3 certificates read" in err
    assert "queued:" not in err and "recorded:" not in err


def test_a_backfill_a_day_later_rewrites_last_seen_dates_and_says_so(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the rule does: a certificate's last-seen date is rewritten at most once a day (here: every run)."""
    assert audit(aws, capfd, *BACKFILL)[0] == 1
    monkeypatch.setattr(ledger_run, "REFRESH_LAST_SEEN", timedelta(0))
    monkeypatch.setattr(ledger_backfill, "REFRESH_LAST_SEEN", timedelta(0))
    code, _, err = audit(aws, capfd, *BACKFILL)
    assert code == 1 and "3 already held (3 last seen again)" in err and "nothing changed" not in err


def test_a_backfill_stopped_before_its_certificate_items_is_completed_by_running_it_again(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    """The summary (with its owed marker) is written, the certificate item is refused: the rerun finishes."""
    aws.conditions.inject("dynamodb:BatchWriteItem", "denied")
    code, out, err = audit(aws, capfd, *BACKFILL)
    assert code == 2 and out == "", err
    assert "'audit --ledger --record' needs dynamodb:Query" in err
    code, _, err = audit(aws, capfd, *BACKFILL)
    assert code == 1, err
    assert f"recorded: {estate.s} IAM Legacy2013" in err
    # The owed marker the first attempt left is written out by now: by that attempt's reads of the key in B or C
    # (concurrent with S's), or by the rerun's.
    assert pending(aws) == sorted([estate.b, estate.c])
    assert not any("owed" in item for item in ledger_items(aws) if item["sk"]["S"] == "#")  # no summary owes
    assert "nothing changed" in audit(aws, capfd, *BACKFILL)[2]


def test_an_account_that_cannot_be_read_makes_the_backfill_incomplete_and_is_named(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    iam = aws.client("iam", estate.s)  # S's audit role is gone
    for policy in iam.list_role_policies(RoleName=AUDIT_ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=AUDIT_ROLE, PolicyName=policy)
    iam.delete_role(RoleName=AUDIT_ROLE)
    with acting_as(aws, OPERATOR):
        code, _, err = audit(aws, capfd, *BACKFILL)
    assert code == 2, err
    assert f"account {estate.s} not audited: AssumeRole refused" in err
    assert f"backfill incomplete: account {estate.s} was not read, so nothing of it was recorded" in err
    assert "nothing changed: the ledger held all 2 certificates read" in err


def test_without_the_ledgers_writes_the_backfill_stops_and_says_what_it_needs(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    reads_only = json.loads(json.dumps(OPERATOR))
    reads_only["Statement"][0]["Action"] = ["dynamodb:Query", "dynamodb:BatchGetItem"]
    with acting_as(aws, reads_only):
        code, out, err = audit(aws, capfd, *BACKFILL)
    assert code == 2 and out == ""
    assert "could not be written: AccessDeniedException" in err
    assert "needs dynamodb:Query, dynamodb:BatchGetItem, dynamodb:UpdateItem and dynamodb:BatchWriteItem" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--organization", "--ledger", "NoSuchLedger", "--record"], "--ledger 'NoSuchLedger': no such DynamoDB table"),
        (["--organization", "--record"], "--record needs --ledger TABLE"),
        (["--ledger", TABLE, "--record"], "--ledger needs --organization"),
        (["--organization", "--ledger", "no spaces", "--record"], "--ledger 'no spaces'"),
    ],
)
def test_bad_backfill_input_exits_2_and_names_it(
    aws: AwsDouble, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.delenv("HEARTBLEED_KEY_LEDGER", raising=False)
    aws.organization(2)
    create_table(aws.client("dynamodb"))
    code, out, err = audit(aws, capfd, *argv)
    assert code == 2 and out == ""
    assert message in err
    assert aws.conditions.calls.get("sts:AssumeRole", 0) == 0  # refused before any member was read
