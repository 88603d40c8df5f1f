"""The rule's retry policy, in one place: what is retried, by whom, and how often.

Three layers retry, each for what the one below it cannot settle:

- botocore, in every client (CLIENT_CONFIG): standard mode, jittered backoff, for throttling and
  server errors. Two kinds of client replace botocore's handler (_remove_retry_handler, the one
  place that touches it, under replace_retry_handler and without_retries): the paced body reads'
  (heartbleed/pacing.py stands aside for the attempts its pace retries) and the re-evaluation
  requests' (without_retries: a refused request is kept in the ledger for a later run instead).
- the key ledger's batches (UNPROCESSED_ROUNDS): DynamoDB may leave part of a batch unprocessed
  without an error, which botocore does not see.
- Lambda, for a failure that outlasted the above (the raise-or-return split below).

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
(docs/deployment.md, "When a member has no results").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries import standard

# "Too many requests": the codes botocore's standard mode counts as throttling (botocore/retries/
# standard.py), less three that mean something else here. LimitExceededException is Config's answer to
# a rule asked again within a minute (heartbleed/ledger/propagation.py keeps that request) and elsewhere
# a quota that no retry lifts; TransactionInProgressException (a conflict) and PriorRequestNotComplete
# (botocore lists it as transient too) are not a rate, so they are TRANSIENT_CODES. The paced body
# reads cut their pace on these; Lambda retries a run they end.
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
        "BandwidthLimitExceeded",
        "SlowDown",
        "EC2ThrottledException",
    }
)
# Not a rate, but gone on a later try: botocore's transient codes, and a transaction conflict.
# Lambda retries a run they end; the pace ignores them.
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "TransactionInProgressException"}
)

# Bodies are read with this many requests in flight on one client: at ~50 ms a round trip that is
# up to ~640 reads/s, so the 1,000-certificate quota is read in under 2 s when IAM allows it; when
# it does not, the Pace (pacing.py), not the pool, sets the rate. The connection pool matches.
# Peak RSS at 1,000 certificates stays at 111 MiB (bench/results.json), within the smallest Lambda
# memory size.
MAX_CONCURRENT_READS = 32

# Every client of the rule, the CLI and the benchmark. Standard mode measured better than adaptive
# mode for the body reads, whose rate heartbleed.pacing sets (bench/).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 10},
    max_pool_connections=MAX_CONCURRENT_READS,
    connect_timeout=5,
    read_timeout=20,
)

# Calls of a DynamoDB batch again for its UnprocessedKeys/Items, 50 ms doubling to 1 s: about 10 s in all.
UNPROCESSED_ROUNDS = 12


def unprocessed_pause(round_: int) -> float:
    """Seconds before a batch's unprocessed part is sent again, after round round_ (from 0)."""
    return min(1.0, 0.05 * 2.0**round_)


def error_code(error: ClientError | Mapping[str, Any]) -> str:
    """The AWS error code of a ClientError, or of a parsed response (botocore's hooks); "" for none."""
    response = error.response if isinstance(error, ClientError) else error
    return str(response.get("Error", {}).get("Code") or "")


class RetryDecider(Protocol):
    """What decides a client's retries in place of botocore's handler (botocore's needs-retry arguments)."""

    def needs_retry(self, **kwargs: Any) -> float | None: ...


def _remove_retry_handler(client: Any) -> tuple[str, str]:
    """Unregister the client's standard retry handler; returns the event and unique id it was under.

    botocore registers that handler with standard.register_retry_handler under the unique id
    retry-config-<service> on needs-retry.<service>, the only place outside botocore that relies on it.
    """
    service = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{service}", f"retry-config-{service}"
    client.meta.events.unregister(event, unique_id=unique_id)
    return event, unique_id


def replace_retry_handler[Decider: RetryDecider](
    client: Any, replacement: Callable[[standard.RetryHandler], Decider]
) -> Decider:
    """Put replacement(botocore's handler) in place of the client's standard retry handler.

    Calling botocore's register_retry_handler again, after the client's own handler is removed, gives a
    handler the caller holds (with its own full quota); the replacement's needs_retry decides in its
    place, under the same unique id. Returns the replacement.
    """
    event, unique_id = _remove_retry_handler(client)
    handler = standard.register_retry_handler(client, client.meta.config.retries.get("total_max_attempts"))
    client.meta.events.unregister(event, unique_id=unique_id)
    replaced = replacement(handler)
    client.meta.events.register(event, replaced.needs_retry, unique_id=unique_id)
    return replaced


def without_retries(client: Any) -> Any:
    """The client with botocore's retries removed: a refused re-evaluation request is kept in the ledger.

    Standard mode counts LimitExceededException, Config's answer to a rule asked again within a
    minute, as throttling and would retry it for about a minute inside the run (measured: a cold
    change event took 63 s, 4 s without the limit). The client is a new one, used only for that.
    """
    _remove_retry_handler(client)
    return client


class RetryableFailure(RuntimeError):
    """A failure a later invocation may not meet: raised past rdklib so that Lambda retries the event."""


def _role_refused(error: ClientError) -> bool:
    return error.operation_name == "AssumeRole" and "AccessDenied" in error_code(error)


def is_retryable(error: ClientError) -> bool:
    """Whether Lambda retries the event this error ended (else it becomes rdklib's error document)."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = error_code(error)
    return status >= 500 or code in THROTTLING_CODES or code in TRANSIENT_CODES or _role_refused(error)


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
