"""Shared fixtures: no network beyond loopback, and the AWS double over HTTP."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from dynalite import CLI, Dynalite, DynaliteMissing, node
from log_secrets import SECRETS
from make_targets import made

from heartbleed.clients import quiet_sdk_logging
from heartbleed_audit import events
from heartbleed_audit.double import FAKE_CREDENTIALS, AwsDouble
from HeartbleedServerCertificate import new_container

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def _is_loopback(host: object) -> bool:
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OSError(f"test tried to reach {address[0]}: only loopback is allowed")
    _real_connect(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback(host):
        raise OSError(f"test tried to resolve {host}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Every test runs offline: any connection or lookup beyond loopback fails."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = _guarded_getaddrinfo
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    os.environ.update({**FAKE_CREDENTIALS, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def nothing_secret_in_any_log(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Every test: all log records at every level, and all output, are searched for secrets."""
    quiet_sdk_logging()  # as the rule does: the tests' own uploads carry private keys
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capfd.readouterr()
    text = "\n".join(record.getMessage() for record in caplog.records) + out + err
    leak = SECRETS.search(text)
    assert leak is None, f"secret material in the logs: {text[max(0, leak.start() - 80) : leak.end() + 20]!r}"


@pytest.fixture(scope="session")
def double_server() -> Iterator[AwsDouble]:
    with AwsDouble() as aws:
        yield aws


@pytest.fixture
def aws(double_server: AwsDouble) -> Iterator[AwsDouble]:
    """The double, emptied, with every boto3 client of the test pointed at it."""
    double_server.reset()
    double_server.set_page_limit(None)
    new_container()  # the double is new: so is the Lambda container that read it and registered its rule
    with double_server.environment():
        yield double_server


@pytest.fixture
def token(aws: AwsDouble) -> Any:
    """A fresh result token for the rule, per call, as Config issues per invocation."""
    return lambda: aws.result_token(events.RULE_NAME)


@pytest.fixture(scope="module")
def dynalite_server() -> Iterator[Dynalite]:
    """dynalite (npm), the second DynamoDB implementation, on loopback for one test module."""
    binary = node()
    if binary is None:
        pytest.skip("node is not installed: the tests against dynalite (npm) need it; CI has node")
    made(CLI, "dynalite")  # a plain `pip install -e` has not run `make dynalite`: its npm ci, once
    try:
        server = Dynalite(binary)
    except DynaliteMissing as missing:
        pytest.fail(str(missing))
    with server:
        yield server
