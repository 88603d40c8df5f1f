"""What a run writes to its logs: one JSON summary line, errors with action and resource, no secrets.

(conftest.nothing_secret_in_any_log searches every test's logs and output for secrets.)
"""

from __future__ import annotations

import json
import logging

import pytest
from botocore.config import Config
from log_secrets import SESSION_TOKEN_CANARY

import heartbleed.retry_policy
from heartbleed.retry_policy import RetryableFailure
from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container


def summaries(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "heartbleed" and r.getMessage().startswith("{")
    ]


def test_one_summary_line_per_run_with_counts_calls_retries_and_duration(
    aws: AwsDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_account.build(aws)
    new_container()
    aws.conditions.inject("iam:GetServerCertificate", "500", 1)  # one retry to count
    lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    [line] = summaries(caplog)
    assert line["outcome"] == "ok"
    assert line["trigger"] == "ScheduledNotification"
    assert line["verdicts"] == {"NON_COMPLIANT": 4, "COMPLIANT": 2}
    assert line["api_calls"] == {
        "acm:ListCertificates": 1,
        "config-service:GetComplianceDetailsByConfigRule": 1,
        "config-service:PutEvaluations": 1,
        "iam:GetServerCertificate": 6,
        "iam:ListServerCertificates": 1,
    }
    assert line["retries"] == 1
    assert isinstance(line["duration_ms"], int)


def test_a_failed_run_logs_the_failing_action(
    aws: AwsDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = heartbleed.retry_policy.CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 2}))
    monkeypatch.setattr(heartbleed.retry_policy, "CLIENT_CONFIG", quick)
    aws.conditions.inject("iam:ListServerCertificates", "500", 1000)
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    with pytest.raises(RetryableFailure):  # a 5xx that outlasted the retries: Lambda retries the event
        lambda_handler(event, None)
    [line] = summaries(caplog)
    assert line["outcome"] == "failed"
    assert "ListServerCertificates operation" in str(line["error"])
    assert line["retries"] == 1


def test_a_denied_body_read_is_logged_with_action_and_certificate(
    aws: AwsDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_account.build(aws)
    new_container()
    aws.conditions.inject("iam:GetServerCertificate", "denied", 1)
    sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    denied = [e for e in sent if "iam:GetServerCertificate was denied" in e["Annotation"]]
    assert len(denied) == 1 and denied[0]["ComplianceType"] == "NON_COMPLIANT"
    assert "COMPLIANT" not in {e["ComplianceType"] for e in sent}  # one unread key casts doubt on all
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("heartbleed")
    ]
    assert warnings == [f"GetServerCertificate denied for {denied[0]['ComplianceResourceId']}: AccessDenied"]


def test_sdk_debug_logging_is_capped_and_the_session_token_never_logged(
    aws: AwsDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_account.build(aws)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN_CANARY)
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # as a user chasing a problem might
    lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    assert logging.getLogger("botocore").level == logging.INFO
    assert summaries(caplog)[0]["outcome"] == "ok"
