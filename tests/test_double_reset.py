"""The double between tests: a request a client gave up on never lands in the next test's state."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from heartbleed_audit import events
from heartbleed_audit.double import AwsDouble


def test_a_late_answer_is_finished_before_the_state_is_reset(aws: AwsDouble) -> None:
    """Seen in CI: a PutEvaluations whose client timed out was answered after the next test's reset, and
    its token matched that test's first token (tokens are numbered per state), so rows appeared there."""
    token = aws.result_token(events.RULE_NAME)
    aws.conditions.late_answer = 1.5
    aws.conditions.inject("config:PutEvaluations", "timeout")
    impatient = boto3.client(
        "config",
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}),
    )
    evaluation: Any = {
        "ComplianceResourceType": "AWS::IAM::ServerCertificate",
        "ComplianceResourceId": "arn:aws:iam::123456789012:server-certificate/Late",
        "ComplianceType": "COMPLIANT",
        "OrderingTimestamp": datetime.now(UTC),
    }
    with pytest.raises(ReadTimeoutError):
        impatient.put_evaluations(Evaluations=[evaluation], ResultToken=token)
    aws.reset()  # the next test's start
    assert aws.result_token(events.RULE_NAME) == token  # the same number in the fresh state
    time.sleep(1.5)
    assert aws.evaluations(events.RULE_NAME) == {}
