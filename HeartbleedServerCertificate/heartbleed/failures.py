"""Which failures Lambda should retry: the raise-or-return split (README.md, "Failed invocations").

rdklib turns every ClientError raised in a rule into an error document, which Lambda counts as a
success: no retry, nothing in the dead-letter queue. That is right for a refusal a retry cannot
change (AccessDenied, a bad parameter), and wrong for throttling or a server error that outlasted
the client's retries, which a later try may well pass. Those leave the rule as RetryableFailure,
which rdklib does not catch, so the invocation fails and Lambda retries the event, then keeps it in
the dead-letter queue. (Timeouts and connection errors are BotoCoreErrors, which rdklib never
caught.)

One AccessDenied is retryable too: STS refusing AssumeRole into the execution role. In an
organization the rule reaches a member as soon as it is created, and the StackSet that deploys the
member's role may reach it minutes later; until then the role does not exist, and a retry a minute
or two later succeeds. A role that never comes ends in the dead-letter queue, where it is seen
(README.md, "When a member has no results").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

# Error codes AWS services use for "too many requests"; the same ones botocore's standard mode retries.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class RetryableFailure(RuntimeError):
    """A failure a later invocation may not meet: raised past rdklib so that Lambda retries the event."""


def _role_refused(error: ClientError) -> bool:
    return error.operation_name == "AssumeRole" and "AccessDenied" in str(error.response.get("Error", {}).get("Code"))


def is_retryable(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(error.response.get("Error", {}).get("Code", ""))
    return status >= 500 or code in THROTTLING_CODES or _role_refused(error)


def for_lambda(error: ClientError) -> RetryableFailure:
    """The retryable error as the failure that Lambda retries, saying why."""
    why = "the execution role may not be deployed yet" if _role_refused(error) else "outlasted the client's retries"
    return RetryableFailure(f"{error} ({why}; Lambda retries the event)")


@contextmanager
def retried_by_lambda() -> Iterator[None]:
    """Let throttling and server errors fail the invocation; every other ClientError stays rdklib's."""
    try:
        yield
    except ClientError as error:
        if not is_retryable(error):
            raise
        raise for_lambda(error) from error
