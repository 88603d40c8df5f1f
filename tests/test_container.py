"""What a warm Lambda container keeps between invocations, and that a new one keeps nothing.

The handler module owns one WarmContainer (heartbleed/container.py); new_container() is a cold start.
Real events through lambda_handler, over HTTP to the double.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from ledger_table import TABLE, create_table
from simulated_organization import as_central_function, build_organization, invoke

from heartbleed.ledger import Ledger, RuleRegistration
from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

BODY_READ = "iam:GetServerCertificate"


def periodic(aws: AwsDouble, parameters: dict[str, str] = events.LOCAL_ROLE) -> Any:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), parameters), None)


def judged(sent: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    """The evaluations sent, without their OrderingTimestamp (each event's own)."""
    return {(e["ComplianceResourceId"], e["ComplianceType"], e["Annotation"]) for e in sent}


def test_a_warm_container_reads_no_body_again_and_keeps_its_session_a_new_one_does_neither(aws: AwsDouble) -> None:
    sample_account.build(aws)
    new_container()
    cold = judged(periodic(aws))
    session, bodies = boto3.DEFAULT_SESSION, aws.conditions.calls[BODY_READ]
    assert bodies > 0
    aws.conditions.reset_counts()
    assert judged(periodic(aws)) == cold
    assert aws.conditions.calls.get(BODY_READ, 0) == 0  # every body is the warm container's already
    assert boto3.DEFAULT_SESSION is session  # models and parsers stay loaded
    new_container()
    aws.conditions.reset_counts()
    assert judged(periodic(aws)) == cold
    assert aws.conditions.calls[BODY_READ] == bodies  # a cold start reads them all again
    assert boto3.DEFAULT_SESSION is not session


def test_a_warm_container_registers_its_rule_once_a_new_one_again(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_account.build(aws)
    create_table(aws.client("dynamodb"))
    registered: list[RuleRegistration] = []
    real = Ledger.register_rule

    def counted(self: Ledger, rule: RuleRegistration) -> None:
        registered.append(rule)
        real(self, rule)

    monkeypatch.setattr(Ledger, "register_rule", counted)
    with_ledger = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}
    new_container()
    periodic(aws, with_ledger)
    periodic(aws, with_ledger)
    assert len(registered) == 1
    new_container()
    periodic(aws, with_ledger)
    assert len(registered) == 2 and registered[0] == registered[1]


def test_a_warm_container_reads_the_member_list_once_a_new_one_again(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = build_organization(aws)
    first = organization.members[0]
    aws.conditions.reset_counts()
    with as_central_function(aws, organization, monkeypatch):
        for _ in range(2):
            assert isinstance(invoke(aws, first), list)
        assert aws.conditions.calls["organizations:ListAccounts"] == 1  # the member is known after the first
        new_container()
        assert isinstance(invoke(aws, first), list)
    assert aws.conditions.calls["organizations:ListAccounts"] == 2
