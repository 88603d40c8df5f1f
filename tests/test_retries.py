"""Throttling from the double over HTTP: botocore's retries and the rule's pacing give a complete result."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.retries.quota import RetryQuota

import heartbleed.evidence
import heartbleed.pacing
from bench.runs import build_account
from heartbleed_audit import events
from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

READ = "iam:GetServerCertificate"


def test_a_rate_limited_account_is_read_completely(aws: AwsDouble) -> None:
    cert = issue("t", datetime(2020, 1, 1, tzinfo=UTC))
    names = [f"throttled-{i:02d}" for i in range(40)]
    aws.set_certificate_quota(len(names))
    for name in names:
        aws.upload(name, cert.body, cert.private_key, uploaded=datetime(2020, 1, 2, tzinfo=UTC))
    aws.conditions.limit("iam:GetServerCertificate", 10)  # 32 readers against 10 requests/s
    aws.conditions.reset_counts()

    sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)

    assert aws.conditions.throttled["iam:GetServerCertificate"] > 0  # the limit really bit
    assert sorted(e["ComplianceResourceId"].rsplit("/", 1)[1] for e in sent) == names
    assert {e["ComplianceType"] for e in sent} == {"COMPLIANT"}


@pytest.mark.parametrize("shape", ["bucket", "window"])
def test_pacing_run_with_throttles_answered_at_once(aws: AwsDouble, shape: str) -> None:
    """N=100 at R=20 GetServerCertificate/s, 50 ms service time: the benchmark's account, complete and correct."""
    build_account(aws, 100)
    expected = {e["ComplianceResourceId"]: e["ComplianceType"] for e in run(aws)}  # no limit
    aws.conditions.latency = 0.05  # accepted answers take the service's time; refusals come at once
    aws.conditions.limit("iam:GetServerCertificate", 20, shape)
    aws.conditions.reset_counts()
    new_container()  # a cold container: every body is read

    sent = run(aws)

    assert aws.conditions.throttled["iam:GetServerCertificate"] > 0  # the limit really bit
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent} == expected
    assert len(expected) == 100 and set(expected.values()) == {"COMPLIANT", "NON_COMPLIANT"}


def run(aws: AwsDouble) -> list[dict[str, str]]:
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    sent: list[dict[str, str]] = lambda_handler(event, None)
    return sent


def quota_left(client: Any) -> int:
    """What is left of the client's retry quota (botocore's standard mode), read from its retry handler.

    botocore has no public reader: the handler is found under the unique id it registers it with, and
    heartbleed.pacing's StandardRetries, where it stands, holds it as .handler.
    """
    service = client.meta.service_model.service_id.hyphenize()
    registered = client.meta.events._emitter._unique_id_handlers[f"retry-config-{service}"]["handler"]
    handler = getattr(registered.__self__, "handler", registered.__self__)
    left: int = handler._retry_quota._quota.available_capacity
    return left


class PacedReads:
    """The clients whose body reads were paced (the rule's, the CLI's: built where they are), in order."""

    def __init__(self) -> None:
        self.clients: list[Any] = []
        self.start_rate: float | None = None  # if set, the pace starts at this rate instead of unlimited


@pytest.fixture
def paced_reads(monkeypatch: pytest.MonkeyPatch) -> PacedReads:
    reads = PacedReads()
    real = heartbleed.pacing.paced

    @contextmanager
    def recording(
        client: Any, operation: str, taken_over: heartbleed.pacing.TakenOver
    ) -> Iterator[heartbleed.pacing.Pace]:
        reads.clients.append(client)
        with real(client, operation, taken_over) as pace:
            pace.rate = reads.start_rate if reads.start_rate is not None else pace.rate
            yield pace

    paced: Callable[[Any, str, heartbleed.pacing.TakenOver], AbstractContextManager[heartbleed.pacing.Pace]] = recording
    monkeypatch.setattr(heartbleed.evidence, "paced", paced)
    return reads


def attempts_per_read(aws: AwsDouble) -> Counter[str]:
    """Every attempt at a body read, throttled ones too, by certificate name (the double's before-hook)."""
    attempts: Counter[str] = Counter()
    aws.conditions.before(READ, lambda request: attempts.update([request._get_param("ServerCertificateName")]))
    return attempts


@pytest.mark.parametrize("shape", ["bucket", "window"])
def test_the_pace_not_botocore_retries_the_throttles_under_a_rate_limit(
    aws: AwsDouble, shape: str, paced_reads: PacedReads
) -> None:
    """Counts, not wall time: every throttled answer is retried by the pace (design: throttles are the pace's,
    the retry quota is for other errors), so botocore's quota is exactly full afterwards; without the pace
    botocore retries them, 5 units each (measured: 172-260 of 500 left at N=100, R=20)."""
    build_account(aws, 100)
    aws.conditions.latency = 0.05
    aws.conditions.limit(READ, 20, shape)
    attempts = attempts_per_read(aws)
    new_container()

    sent = run(aws)

    assert len(sent) == 100 and len(attempts) == 100  # complete: every body read
    throttled = aws.conditions.throttled[READ]
    assert throttled > 0  # the limit really bit
    assert sum(attempts.values()) == 100 + throttled  # each throttled answer was followed by a retry
    (client,) = paced_reads.clients
    assert max(attempts.values()) < client.meta.config.retries["total_max_attempts"]  # no read ran out
    assert quota_left(client) == RetryQuota.INITIAL_CAPACITY


THROTTLES = 120  # more than the 100 throttled retries (5 units each) that empty a full quota of 500


def periodic_trigger(aws: AwsDouble) -> object:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)


def change_trigger(aws: AwsDouble) -> object:
    arn = f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate/cert-0001"
    item = events.configuration_item("cert-0001", arn)
    return lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)


def cli_audit(aws: AwsDouble) -> object:
    return main(["audit", "--output", "json", "--endpoint-url", aws.endpoint_url])


@pytest.mark.parametrize("reader", [periodic_trigger, change_trigger, cli_audit])
def test_after_many_throttles_a_server_error_is_still_retried(
    aws: AwsDouble, reader: Callable[[AwsDouble], object], paced_reads: PacedReads, capfd: pytest.CaptureFixture[str]
) -> None:
    """120 throttles, then one HTTP 500, on the body reads: the pace's retries leave botocore's quota alone,
    so the 500 is retried too and the run completes (landed code: the quota was dry by then, the 500 got
    no retry and the run failed)."""
    # Injected throttles, unlike a rate limit, refuse everything at once, and the pace rightly falls to one
    # request a second: held high here, they take a second instead of two minutes (the quota is the point).
    paced_reads.start_rate = 1000.0
    build_account(aws, 40)
    aws.conditions.inject(READ, "throttle", THROTTLES)
    aws.conditions.inject(READ, "500")
    new_container()

    outcome = reader(aws)

    if reader is cli_audit:
        assert outcome == 1  # findings, not an error
        assert len(json.loads(capfd.readouterr().out)) == 40
    else:
        assert isinstance(outcome, list) and len(outcome) == (40 if reader is periodic_trigger else 1), outcome
    assert aws.conditions.calls[READ] == 40 + THROTTLES + 1  # every fault served, and each one retried
    (client,) = paced_reads.clients
    assert quota_left(client) == RetryQuota.INITIAL_CAPACITY  # the 500's 14 units came back with its success
