"""Throttling from the double over HTTP: botocore's retries and the rule's pacing give a complete result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import heartbleed.iam
from bench.runs import build_account
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler


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
    heartbleed.iam._BODIES.clear()  # a cold container: every body is read

    sent = run(aws)

    assert aws.conditions.throttled["iam:GetServerCertificate"] > 0  # the limit really bit
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent} == expected
    assert len(expected) == 100 and set(expected.values()) == {"COMPLIANT", "NON_COMPLIANT"}


def run(aws: AwsDouble) -> list[dict[str, str]]:
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    sent: list[dict[str, str]] = lambda_handler(event, None)
    return sent
