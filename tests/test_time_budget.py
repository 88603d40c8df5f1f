"""The Lambda time budget, with a fake context: fail loudly in time, and never report a partial run."""

from __future__ import annotations

import logging

import pytest

from heartbleed.deadline import RESERVE_MS, TimeBudgetExceeded
from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container


class FakeContext:
    """Lambda's context object: the time left shrinks by `step` ms at every look."""

    def __init__(self, start_ms: int, step_ms: int) -> None:
        self.left, self.step = start_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.left -= self.step
        return self.left


def periodic(aws: AwsDouble, context: FakeContext) -> object:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), context)


def test_running_out_of_time_fails_before_the_timeout_and_reports_nothing(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sample_account.build(aws)
    new_container()  # a cold container reads every body
    context = FakeContext(start_ms=RESERVE_MS + 2_500, step_ms=1_000)  # runs out after two looks
    with pytest.raises(TimeBudgetExceeded, match="nothing reported"):
        periodic(aws, context)
    assert aws.put_calls() == []  # no partial periodic result, so no row retired
    assert context.left > 0  # it stopped while the Lambda still had time
    failure = [r.getMessage() for r in caplog.records if r.name == "heartbleed" and r.levelno == logging.ERROR]
    assert any('"outcome": "failed"' in line and "TimeBudgetExceeded" in line for line in failure)


def test_with_time_to_spare_the_run_completes(aws: AwsDouble) -> None:
    sample_account.build(aws)
    sent = periodic(aws, FakeContext(start_ms=300_000, step_ms=10))
    assert isinstance(sent, list) and len(sent) == len(sample_account.EXPECTED)


def test_a_change_event_checks_the_budget_too(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    sample_account.build(aws)
    new_container()
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/ModernWebCertificate"
    event = events.change_event(
        events.configuration_item("ModernWebCertificate", arn), aws.result_token(events.RULE_NAME), events.LOCAL_ROLE
    )
    with pytest.raises(TimeBudgetExceeded):
        lambda_handler(event, FakeContext(start_ms=RESERVE_MS, step_ms=1))
    assert aws.put_calls() == []


NO_BODIES = {**events.LOCAL_ROLE, "CheckCertificateBody": "false"}  # no body read, so no check per read


def test_a_periodic_run_checks_the_budget_before_reporting(aws: AwsDouble) -> None:
    # Without body reads the check before reporting is the run's only look at the clock.
    sample_account.build(aws)
    context = FakeContext(start_ms=RESERVE_MS, step_ms=1)  # below the reserve at the first look
    with pytest.raises(TimeBudgetExceeded, match="stopped before reporting"):
        lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), NO_BODIES), context)
    assert aws.put_calls() == []
    assert context.left == RESERVE_MS - 1  # looked once


def test_a_change_event_checks_the_budget_before_reporting(aws: AwsDouble) -> None:
    sample_account.build(aws)
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/ModernWebCertificate"
    item = events.configuration_item("ModernWebCertificate", arn)
    context = FakeContext(start_ms=RESERVE_MS, step_ms=1)
    with pytest.raises(TimeBudgetExceeded, match="stopped before reporting"):
        lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), NO_BODIES), context)
    assert aws.put_calls() == []
    assert context.left == RESERVE_MS - 1
