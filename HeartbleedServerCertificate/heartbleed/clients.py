"""How every boto3 client of the rule is built: retries, pool size, checked PutEvaluations, counted calls.

rdklib builds its clients with boto3.client(), i.e. from boto3's default
session, so lambda_handler sets up that session, with these defaults, at the
start of every invocation.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from .iam import MAX_CONCURRENT_READS
from .run_log import APICalls

# Standard mode retries throttling and server errors with jittered backoff; the
# body reads' rate itself is set by heartbleed.pacing, which measured better than
# botocore's adaptive mode (bench/).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 10},
    max_pool_connections=MAX_CONCURRENT_READS,
    connect_timeout=5,
    read_timeout=20,
)


class EvaluationsRejectedError(RuntimeError):
    """AWS Config refused some evaluations; the run must not look successful."""


def check_put_evaluations(**kwargs: Any) -> None:
    """Fail loudly on FailedEvaluations, which rdklib would otherwise drop (botocore after-call hook)."""
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


def install_client_defaults() -> APICalls:
    """Make boto3's default session build clients with the rule's settings; count their calls."""
    quiet_sdk_logging()
    calls = APICalls()
    session = botocore.session.get_session()
    session.set_default_client_config(CLIENT_CONFIG)
    session.register("after-call.config-service.PutEvaluations", check_put_evaluations)
    session.register("before-call", calls.on_call)
    session.register("before-send", calls.on_send)
    session.register("before-endpoint-resolution.sts", honour_configured_sts_endpoint)
    boto3.setup_default_session(botocore_session=session)
    return calls
