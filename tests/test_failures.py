"""The raise-or-return split: what Lambda retries (and then keeps in the dead-letter queue), and what not.

rdklib answers any ClientError with an error document, which Lambda counts as a success; a failure
a later try may pass must raise instead (docs/reliability.md). Real events through the handler, over
HTTP to the double.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.retries import standard

from heartbleed.retry_policy import THROTTLING_CODES, TRANSIENT_CODES, RetryableFailure, is_retryable
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

NOW = datetime.now(UTC)


def shop(aws: AwsDouble) -> str:
    cert = issue("shop.example.com", NOW - timedelta(days=30))
    return str(aws.upload("Shop2025", cert.body, cert.private_key)["Arn"])


def test_throttling_that_outlasts_the_retries_fails_a_periodic_run_for_lambda_to_retry(aws: AwsDouble) -> None:
    shop(aws)
    aws.conditions.inject("iam:GetServerCertificate", "throttle", times=10)  # every attempt of the read
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    with pytest.raises(RetryableFailure, match=r"Throttling.*Lambda retries the event"):
        lambda_handler(event, None)
    assert aws.put_calls() == []


def test_throttling_that_outlasts_the_retries_fails_a_change_event_for_lambda_to_retry(aws: AwsDouble) -> None:
    arn = shop(aws)
    aws.conditions.inject("iam:GetServerCertificate", "throttle", times=10)
    item = events.configuration_item("Shop2025", arn)
    with pytest.raises(RetryableFailure):
        lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    assert aws.put_calls() == []


@pytest.mark.parametrize("fault", ["throttle", "500"])
def test_put_evaluations_failing_past_the_retries_fails_the_run_for_lambda_to_retry(aws: AwsDouble, fault: str) -> None:
    """rdklib calls PutEvaluations itself and would answer with an error document (no retry: results lost)."""
    shop(aws)
    aws.conditions.inject("config:PutEvaluations", fault, times=10)  # every attempt
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    with pytest.raises(RetryableFailure, match="Lambda retries the event"):
        lambda_handler(event, None)
    assert aws.put_calls() == []
    assert isinstance(lambda_handler(event, None), list)  # Lambda's retry delivers
    assert len(aws.put_calls()) == 1


def test_access_denied_stays_an_error_document_that_no_retry_would_change(aws: AwsDouble) -> None:
    shop(aws)
    aws.conditions.inject("iam:ListServerCertificates", "denied")
    event = events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE)
    response = lambda_handler(event, None)
    assert isinstance(response, dict) and response["customerErrorCode"] == "AccessDenied", response
    assert aws.put_calls() == []


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("Throttling", 400, True),
        ("ProvisionedThroughputExceededException", 400, True),
        ("InternalFailure", 500, True),
        ("ServiceUnavailable", 503, True),
        ("AccessDenied", 403, False),
        ("NoSuchEntity", 404, False),
        ("ValidationError", 400, False),
    ],
)
def test_which_errors_are_retryable(code: str, status: int, retryable: bool) -> None:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    error = ClientError(response, "Op")
    assert is_retryable(error) is retryable


@pytest.mark.parametrize(("operation", "retryable"), [("AssumeRole", True), ("GetServerCertificate", False)])
def test_access_denied_is_retryable_only_on_assume_role(operation: str, retryable: bool) -> None:
    """The execution role may not be deployed yet (an organization's StackSet reaches members after the rule)."""
    response: Any = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    assert is_retryable(ClientError(response, operation)) is retryable


def test_the_throttling_codes_are_botocores_less_three_that_mean_something_else() -> None:
    """One list, checked against botocore's own, so that a code a botocore upgrade adds is decided here."""
    checkers: Any = standard  # botocore has no public list (nor do its stubs name these)
    throttled = set(checkers.ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
    transient = set(checkers.TransientRetryableChecker._TRANSIENT_ERROR_CODES)
    other = {"LimitExceededException", "TransactionInProgressException", "PriorRequestNotComplete"}
    assert throttled - other == THROTTLING_CODES
    assert transient | {"TransactionInProgressException"} == TRANSIENT_CODES


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES | TRANSIENT_CODES))
def test_a_throttle_or_transient_error_that_outlasted_the_retries_is_lambdas_to_retry(code: str) -> None:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    assert is_retryable(ClientError(response, "Op"))


def test_configs_limit_on_asking_a_rule_again_is_not_a_throttle_lambda_retries() -> None:
    """StartConfigRulesEvaluation within a minute: the ledger keeps the request for a later run instead."""
    response: Any = {"Error": {"Code": "LimitExceededException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    assert not is_retryable(ClientError(response, "StartConfigRulesEvaluation"))
