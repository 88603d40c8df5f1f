"""How every boto3 client of the rule is built: retries, pool size, checked PutEvaluations, counted calls.

rdklib builds its clients with boto3.client(), i.e. from boto3's default
session, so lambda_handler sets up that session, with these defaults, at the
start of every invocation. The session is built once per container (kept in
heartbleed/container.py's SdkSession; the retries are heartbleed/retry_policy.py's): a new one
would load and resolve the service models again (a warm change event took 116 ms
of CPU with a new session, 19 ms without, at 20 certificates), and in Lambda the
environment it is built from does not change.

Timestamps are parsed with datetime.fromisoformat instead of botocore's
dateutil-based parser: two per certificate in the list and two per row in the
clean-up answers, the largest item in a body-off run's profile at 1,000. botocore lets a session
choose its timestamp parser (the response_parser_factory component's
set_parser_defaults, the hook the AWS CLI uses for its own timestamp format).
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import botocore.utils
from botocore.exceptions import ClientError

from . import retry_policy
from .retry_policy import for_lambda, is_retryable
from .run_log import APICalls

if TYPE_CHECKING:
    from .container import SdkSession


class EvaluationsRejectedError(RuntimeError):
    """AWS Config refused some evaluations; the run must not look successful."""


def check_put_evaluations(**kwargs: Any) -> None:
    """Fail loudly on FailedEvaluations, which rdklib would otherwise drop (botocore after-call hook).

    rdklib calls PutEvaluations itself, after the rule's evaluate_* methods, and answers a ClientError
    with an error document, which Lambda counts as a success: a throttle or 5xx that outlasted the
    client's retries would lose the run's results for good. This hook runs on the final answer, after
    botocore's retries, so such an answer is raised here for Lambda to retry the event.
    """
    if kwargs["http_response"].status_code >= 300:
        error = ClientError(kwargs["parsed"], "PutEvaluations")
        if is_retryable(error):
            raise for_lambda(error)
        return  # any other refusal stays rdklib's error document
    failed = kwargs["parsed"].get("FailedEvaluations") or []
    if failed:
        ids = ", ".join(str(item.get("ComplianceResourceId")) for item in failed[:5])
        raise EvaluationsRejectedError(f"AWS Config rejected {len(failed)} evaluation(s), e.g. for {ids}")


def quiet_sdk_logging() -> None:
    """Keep the SDK's loggers at INFO at most, whatever the caller configured.

    botocore's DEBUG logging prints request and response bodies: certificate bodies
    here, private keys in an upload, and the session token among the headers.
    """
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


# rdklib assumes the execution role through this regional STS endpoint, given explicitly (it gets past
# firewalls that block the global one), so a configured endpoint would be ignored without the hook below.
RDKLIB_STS_ENDPOINT = re.compile(r"https://sts\.[a-z0-9-]+\.amazonaws\.com")


def honour_configured_sts_endpoint(**kwargs: Any) -> None:
    """Send rdklib's AssumeRole to the STS endpoint the environment configures, if it configures one.

    Lambda configures none, so this changes nothing there; a local run against an AWS double
    (heartbleed-audit invoke --endpoint-url) would otherwise reach the real STS.
    (botocore's before-endpoint-resolution event: handlers may change the builtins in place.)
    """
    builtins = kwargs["builtins"]
    configured = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL")
    if configured and RDKLIB_STS_ENDPOINT.fullmatch(str(builtins.get("SDK::Endpoint") or "")):
        builtins["SDK::Endpoint"] = configured


def parse_timestamp(value: Any) -> datetime:
    """An AWS timestamp as an aware datetime: ISO 8601 (the query and XML protocols) and epoch seconds
    (JSON) directly, anything else by botocore's own parser."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return botocore.utils.parse_timestamp(value)


def parse_ordering_timestamps(**kwargs: Any) -> None:
    """PutEvaluations: turn rdklib's OrderingTimestamp strings into datetimes before botocore sees them.

    botocore's validator and serializer each parse a timestamp string with dateutil: 2,000 parses for
    1,000 evaluations that share one timestamp (before-parameter-build handlers may change the
    parameters in place).
    """
    params = kwargs["params"]
    parsed: dict[str, datetime] = {}

    def with_datetime(evaluation: dict[str, Any]) -> dict[str, Any]:
        stamp = evaluation.get("OrderingTimestamp")
        if not isinstance(stamp, str):
            return evaluation
        if stamp not in parsed:
            parsed[stamp] = parse_timestamp(stamp)
        return {**evaluation, "OrderingTimestamp": parsed[stamp]}

    # Copies: rdklib returns these very dicts from the handler, and Lambda must serialize them as JSON.
    params["Evaluations"] = [with_datetime(evaluation) for evaluation in params.get("Evaluations") or []]


# What a session is built from: when any of it changes (a test, the CLI's invoke), a new session is built.
SESSION_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def sdk_session() -> botocore.session.Session:
    """A botocore session that parses response timestamps with parse_timestamp, and nothing else of the
    rule's: what the benchmark's bare-boto3 floor shares with it (bench/child.py)."""
    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


def _new_session(kept: SdkSession) -> botocore.session.Session:
    session = sdk_session()
    session.register("before-parameter-build.config-service.PutEvaluations", parse_ordering_timestamps)
    session.register("after-call.config-service.PutEvaluations", check_put_evaluations)
    session.register("before-call", kept.on_call)
    session.register("before-send", kept.on_send)
    session.register("before-endpoint-resolution.sts", honour_configured_sts_endpoint)
    return session


def install_client_defaults(kept: SdkSession) -> APICalls:
    """Make boto3's default session build clients with the rule's settings, from the container's session
    (a new one if the environment changed or there is none); count this invocation's calls."""
    quiet_sdk_logging()
    environment = tuple(os.environ.get(name) for name in SESSION_ENVIRONMENT)
    if (
        kept.session is None
        or kept.botocore_session is None
        or environment != kept.environment
        or boto3.DEFAULT_SESSION is not kept.session
    ):
        kept.botocore_session, kept.environment = _new_session(kept), environment
        kept.session = boto3.session.Session(botocore_session=kept.botocore_session)
        boto3.DEFAULT_SESSION = kept.session
    # cheap; read per invocation (and from the module, where a test may set another)
    kept.botocore_session.set_default_client_config(retry_policy.CLIENT_CONFIG)
    kept.calls = APICalls()
    return kept.calls
