"""The key ledger in the rule: a compromised key stays compromised, in every account (docs/ledger.md).

Real Config events through lambda_handler, botocore over HTTP to the double, whose DynamoDB holds the
ledger table and whose Config records the StartConfigRulesEvaluation calls a run makes; a test then
does what Config would, and runs the rule again in the account it was asked to evaluate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from ledger_table import TABLE, create_table
from simulated_organization import MEMBER_RULE, as_central_function, invoke, stored, with_shared_key_and_ledger

from heartbleed.ledger import Ledger, RuleRegistration, propagation
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

WITH_LEDGER = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}
NOW = datetime.now(UTC)
OLD = datetime(2013, 6, 1, tzinfo=UTC)


@pytest.fixture
def ledger(aws: AwsDouble) -> str:
    create_table(aws.client("dynamodb"))
    return TABLE


def periodic(aws: AwsDouble, parameters: dict[str, str] = WITH_LEDGER) -> Any:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), parameters), None)


def verdict(aws: AwsDouble, arn: str) -> tuple[str, str]:
    stored = aws.evaluations(events.RULE_NAME)[arn]
    return stored.compliance_type, stored.annotation or ""


def test_scenario_14_deleting_the_2013_certificate_does_not_clear_its_key(aws: AwsDouble, ledger: str) -> None:
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    reissue = issue("shop.example.com", datetime(2020, 1, 1, tzinfo=UTC), key=key)
    aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    reissued = aws.upload("Shop2020", reissue.body, reissue.private_key, uploaded=datetime(2020, 1, 2, tzinfo=UTC))
    periodic(aws)
    assert verdict(aws, reissued["Arn"])[0] == "NON_COMPLIANT"
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop2013")  # the seed's first step
    periodic(aws)
    compliance, annotation = verdict(aws, reissued["Arn"])
    assert compliance == "NON_COMPLIANT"
    assert "Shares its public key with Shop2013 (deleted since " in annotation
    assert "issued 2013-06-01T00:00:00Z, before the cutoff" in annotation


def test_without_a_ledger_the_deleted_evidence_is_forgotten(aws: AwsDouble) -> None:
    """What the per-account mode (KeyLedgerTable empty) cannot see: docs/deployment.md says so."""
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    reissue = issue("shop.example.com", datetime(2020, 1, 1, tzinfo=UTC), key=key)
    aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    reissued = aws.upload("Shop2020", reissue.body, reissue.private_key, uploaded=datetime(2020, 1, 2, tzinfo=UTC))
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop2013")
    periodic(aws, events.LOCAL_ROLE)
    assert verdict(aws, reissued["Arn"])[0] == "COMPLIANT"


def test_the_holder_turns_non_compliant_after_the_change_event_and_its_re_evaluation(
    aws: AwsDouble, ledger: str
) -> None:
    key = new_key()
    current = issue("shop.example.com", NOW - timedelta(days=30), key=key)
    holder = aws.upload("Shop2025", current.body, current.private_key)
    periodic(aws)
    assert verdict(aws, holder["Arn"])[0] == "COMPLIANT"
    restored = issue("shop.example.com", OLD, key=key, days=20 * 365)  # from a backup, still valid
    backup = aws.upload("ShopRestored", restored.body, restored.private_key)
    item = events.configuration_item("ShopRestored", backup["Arn"])
    sent = lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), WITH_LEDGER), None)
    assert [e["ComplianceResourceId"] for e in sent] == [backup["Arn"]]  # the event reports the new one only
    assert verdict(aws, holder["Arn"])[0] == "COMPLIANT"  # until the re-evaluation it asked for
    assert [started.rules for started in aws.started_evaluations()] == [(events.RULE_NAME,)]
    periodic(aws)  # what Config runs when asked
    compliance, annotation = verdict(aws, holder["Arn"])
    assert compliance == "NON_COMPLIANT"
    assert "Shares its public key with ShopRestored" in annotation


def test_a_key_without_new_evidence_asks_no_account_to_evaluate_again(aws: AwsDouble, ledger: str) -> None:
    current = issue("shop.example.com", NOW - timedelta(days=30))
    aws.upload("Shop2025", current.body, current.private_key)
    periodic(aws)
    periodic(aws)
    assert aws.started_evaluations() == []


def test_a_cold_run_reads_no_body_the_ledger_holds(aws: AwsDouble, ledger: str) -> None:
    for index in range(5):
        cert = issue(f"s{index}.example.com", NOW - timedelta(days=30))
        aws.upload(f"Shop{index}", cert.body, cert.private_key)
    periodic(aws)
    new_container()  # a new Lambda container: nothing read is kept in memory
    aws.conditions.reset_counts()
    periodic(aws)
    assert aws.conditions.calls.get("iam:GetServerCertificate", 0) == 0


def test_a_missing_ledger_table_fails_the_run_and_sends_nothing(aws: AwsDouble) -> None:
    cert = issue("shop.example.com", NOW - timedelta(days=30))
    aws.upload("Shop2025", cert.body, cert.private_key)
    with pytest.raises(RuntimeError, match=f"KeyLedgerTable '{TABLE}' does not exist"):
        periodic(aws)
    assert aws.put_calls() == []


@pytest.mark.parametrize("order", ["the 2013 account first", "the 2025 account first"])
def test_scenario_13_another_accounts_key_is_non_compliant_in_the_members_own_config(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """Organization route: account B's recent certificate carries account A's 2013 key."""
    organization, parameters = with_shared_key_and_ledger(aws)
    first, second, _ = organization.members
    with as_central_function(aws, organization, monkeypatch):
        if order == "the 2013 account first":
            invoke(aws, first, parameters)
            invoke(aws, second, parameters)
            assert aws.started_evaluations(second) == []  # it saw the evidence itself
        else:
            invoke(aws, second, parameters)
            assert stored(aws, second) == {organization.certificates[second]: "COMPLIANT"}
            invoke(aws, first, parameters)  # new evidence: it asks the second account's rule
            assert [started.rules for started in aws.started_evaluations(second)] == [(MEMBER_RULE,)]
            invoke(aws, second, parameters)  # what Config runs when asked
    result = aws.evaluations(MEMBER_RULE, second)[organization.certificates[second]]
    assert result.compliance_type == "NON_COMPLIANT"
    assert f"Shares its public key with Member0Certificate (account {first})" in (result.annotation or "")


def test_an_expired_lease_of_a_run_that_died_does_not_hold_the_account(aws: AwsDouble, ledger: str) -> None:
    cert = issue("shop.example.com", NOW - timedelta(days=30))
    aws.upload("Shop2025", cert.body, cert.private_key)
    dead = Ledger(aws.client("dynamodb"), TABLE)
    assert dead.take_lease(ACCOUNT_ID, "a run that died", NOW - timedelta(minutes=10), NOW - timedelta(minutes=5))
    result = periodic(aws)
    assert [e["ComplianceType"] for e in result] == ["COMPLIANT"]


@pytest.mark.parametrize(
    ("action", "fault", "times", "code"),
    [
        ("dynamodb:Query", "throttle", 10, "Throttling"),  # every attempt the client makes (slow: backoff)
        ("dynamodb:BatchWriteItem", "denied", 1, "AccessDenied"),
        ("dynamodb:BatchGetItem", "denied", 1, "AccessDenied"),
    ],
)
def test_a_ledger_that_cannot_be_read_or_written_fails_the_run_and_sends_nothing(
    aws: AwsDouble, ledger: str, action: str, fault: str, times: int, code: str
) -> None:
    cert = issue("shop.example.com", NOW - timedelta(days=30))
    aws.upload("Shop2025", cert.body, cert.private_key)
    aws.conditions.inject(action, fault, times=times)
    with pytest.raises(RuntimeError, match=f"the key ledger '{TABLE}' could not be (read|written): {code}"):
        periodic(aws)
    assert aws.put_calls() == []


def test_a_re_evaluation_config_refuses_is_kept_after_one_attempt(aws: AwsDouble, ledger: str) -> None:
    """LimitExceededException (asked again within a minute) is not retried inside the run: it is kept."""
    aws.result_token(events.RULE_NAME)  # the rule exists
    table = Ledger(aws.client("dynamodb"), TABLE)
    own = RuleRegistration(ACCOUNT_ID, "us-east-1", events.RULE_NAME)
    clients = propagation.config_clients(ACCOUNT_ID, lambda region: boto3.client("config", region_name=region))
    assert propagation.ask(table, {ACCOUNT_ID}, clients, NOW, own) == [f"{ACCOUNT_ID}/us-east-1/{events.RULE_NAME}"]
    aws.conditions.reset_counts()
    assert propagation.ask(table, {ACCOUNT_ID}, clients, NOW, own) == []  # within the minute: refused
    assert aws.conditions.calls["config:StartConfigRulesEvaluation"] == 1  # one attempt, no retries
    assert [p.rule for p in table.kept_requests()] == [events.RULE_NAME]


def test_a_kept_re_evaluation_of_another_member_is_retried_through_that_members_role(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Organization route: member B's rule refuses the first ask (asked within its minute); a later run of
    member A asks again, through B's recorded execution role, in B's account."""
    organization, parameters = with_shared_key_and_ledger(aws)
    first, second, _ = organization.members
    monkeypatch.setattr(propagation, "ASK_AGAIN_AFTER", timedelta(0))  # no minute to wait in a test
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, second, parameters)  # B's rule registers how to reach it
    aws.set_start_interval(3600, account=second)
    aws.client("config", second).start_config_rules_evaluation(ConfigRuleNames=[MEMBER_RULE])  # by someone
    table = Ledger(aws.client("dynamodb"), TABLE)
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first, parameters)  # new evidence: asks B, refused, kept
    assert [(p.account, p.rule) for p in table.kept_requests()] == [(second, MEMBER_RULE)]
    aws.set_start_interval(0, account=second)
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first, parameters)  # no new evidence; retries what was kept
    assert len(aws.started_evaluations(second)) == 2  # someone's, and the retry, in B's own Config
    assert aws.started_evaluations(first) == []
    assert table.kept_requests() == []
