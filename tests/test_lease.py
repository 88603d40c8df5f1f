"""The account's lease on reading certificate bodies: one run reads, the others wait, nobody waits for ever.

A cold run takes the account's lease before it reads the bodies the ledger lacks; a concurrent run
waits, then takes what the first recorded. Checked here through lambda_handler with real Config
events over HTTP to the double:
- while one run reads, the others read nothing: a fixed schedule, not thread timing, so a broken
  lease fails every time;
- a run killed while it holds the lease (no `finally`, no release, as a Lambda timeout stops it)
  holds the account only until the lease expires: Lambda's retry then converges;
- a run whose Lambda time runs down while another holds the lease fails loudly (retryable) before
  its Lambda timeout, reporting nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from ledger_table import TABLE, create_table
from moto.core.responses import BaseResponse

import HeartbleedServerCertificate as handler
from heartbleed.clients import install_client_defaults
from heartbleed.deadline import RESERVE_MS, TimeBudgetExceeded
from heartbleed.ledger.records import Ledger
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler

WITH_LEDGER = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}
NOW = datetime.now(UTC)
OLD = datetime(2013, 6, 1, tzinfo=UTC)


@pytest.fixture
def ledger(aws: AwsDouble) -> Ledger:
    create_table(aws.client("dynamodb"))
    return Ledger(aws.client("dynamodb"), TABLE)


@dataclass
class LambdaContext:
    """A Lambda context whose remaining time runs down with the clock from when it is made."""

    timeout_ms: int
    started: float = field(default_factory=time.monotonic)
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:HeartbleedServerCertificate"

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - self.elapsed_ms())


def periodic(aws: AwsDouble, context: Any = None) -> Any:
    return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), WITH_LEDGER), context)


def verdicts(sent: Any) -> dict[str, str]:
    assert isinstance(sent, list), sent
    return {e["ComplianceResourceId"]: e["ComplianceType"] for e in sent}


def an_account(aws: AwsDouble) -> dict[str, str]:
    """A 2013 certificate and its reissue with the same key: the verdicts a fault-free run reports."""
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    reissue = issue("shop.example.com", NOW - timedelta(days=30), key=key)
    first = aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    second = aws.upload("Shop2025", reissue.body, reissue.private_key)
    return {first["Arn"]: "NON_COMPLIANT", second["Arn"]: "NON_COMPLIANT"}


# --- a run killed while it holds the lease ------------------------------------------------------------


class RunKilled(BaseException):
    """The Lambda runtime stopping a run: it passes every `except Exception` of the rule and rdklib."""


@contextmanager
def killed_after(operation: str) -> Iterator[None]:
    """The run dies right after the first call of operation ("iam.GetServerCertificate") succeeded: that call
    raises RunKilled once answered, and no later call of the run reaches AWS (no `finally` clean-up does)."""
    install_client_defaults(handler.CONTAINER.sdk)  # the container's SDK session, which the handler goes on using
    assert boto3.DEFAULT_SESSION is not None
    emitter = boto3.DEFAULT_SESSION.events
    dead = threading.Event()

    def answered(**_: Any) -> None:
        dead.set()
        raise RunKilled(f"killed after {operation}")

    def calling(**_: Any) -> None:
        if dead.is_set():
            raise RunKilled("a dead run makes no more calls")

    emitter.register(f"after-call.{operation}", answered, unique_id="test-lease-killed")
    emitter.register("before-call", calling, unique_id="test-lease-dead")
    try:
        yield
    finally:
        emitter.unregister(f"after-call.{operation}", unique_id="test-lease-killed")
        emitter.unregister("before-call", unique_id="test-lease-dead")
    assert dead.is_set(), f"the run never called {operation}"


def dies_holding_the_lease(aws: AwsDouble, lease_s: int) -> None:
    """A cold run that is killed while it reads bodies (holding the lease), with lease_s of its Lambda time
    left to work: its lease lasts about that long."""
    with killed_after("iam.GetServerCertificate"), pytest.raises(RunKilled):
        periodic(aws, LambdaContext(RESERVE_MS + lease_s * 1000))
    assert aws.put_calls() == []


@pytest.mark.timeout(60)  # a lease that never expires would hold the retry until then
def test_lambdas_retry_of_a_run_killed_holding_the_lease_converges_once_the_lease_expires(
    aws: AwsDouble, ledger: Ledger
) -> None:
    expected = an_account(aws)
    dies_holding_the_lease(aws, lease_s=3)
    aws.conditions.reset_counts()
    retry = LambdaContext(RESERVE_MS + 30_000)
    assert verdicts(periodic(aws, retry)) == expected  # what a fault-free run reports
    assert retry.elapsed_ms() < 30_000
    assert aws.conditions.calls["iam:GetServerCertificate"] == 2  # the retry read the bodies itself
    assert {arn for arn, _ in ledger.account_certificates(ACCOUNT_ID)} == set(expected)


@pytest.mark.timeout(60)  # a lease that never expires would otherwise hang here: no deadline outside Lambda
def test_a_run_outside_lambda_takes_over_the_lease_of_a_killed_run_once_it_expires(
    aws: AwsDouble, ledger: Ledger
) -> None:
    expected = an_account(aws)
    dies_holding_the_lease(aws, lease_s=3)
    assert verdicts(periodic(aws)) == expected


@pytest.mark.timeout(90)  # without a deadline the run would wait for the killed run's lease (5 minutes)
def test_a_run_waiting_for_the_lease_fails_loudly_before_its_lambda_timeout(aws: AwsDouble, ledger: Ledger) -> None:
    """Another run holds the lease for a minute; this run's Lambda has 2 s of work left before the reserve."""
    an_account(aws)
    dies_holding_the_lease(aws, lease_s=60)
    context = LambdaContext(RESERVE_MS + 2_000)
    with pytest.raises(TimeBudgetExceeded):  # raised, so Lambda retries the event
        periodic(aws, context)
    assert context.elapsed_ms() < context.timeout_ms  # before Lambda would have stopped it
    assert aws.put_calls() == []  # nothing reported, so no row was retired


# --- concurrent cold runs, in a fixed order -------------------------------------------------------------


@dataclass
class ReadHeld:
    """The first body read (run A's) is held in the double until released; any other body read that arrives
    meanwhile is recorded, as is each waiting run's first pause (time.sleep in its thread)."""

    waiting_runs: set[str]
    released: threading.Event = field(default_factory=threading.Event)
    reading: threading.Event = field(default_factory=threading.Event)
    all_waiting: threading.Event = field(default_factory=threading.Event)
    read_while_held: list[str] = field(default_factory=list)
    waited: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_read(self, response: BaseResponse) -> None:
        with self.lock:
            first = not self.reading.is_set()
            self.reading.set()
            if not first and not self.released.is_set():
                self.read_while_held.append(response.querystring.get("ServerCertificateName", ["?"])[0])
                self.all_waiting.set()  # the schedule is broken: stop waiting for the others
        if first and not self.released.wait(timeout=15):  # below the client's 20 s read timeout
            raise AssertionError("run A's body read was never released")

    def sleeper(self, original: Callable[[float], None]) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            me = threading.current_thread().name
            if me in self.waiting_runs and self.reading.is_set() and not self.released.is_set():
                with self.lock:
                    self.waited.add(me)
                    if self.waited == self.waiting_runs:
                        self.all_waiting.set()
            original(seconds)

        return sleep


@pytest.mark.parametrize("waiting", [1, 3])
def test_while_one_cold_run_reads_the_bodies_the_others_wait_and_read_none(
    aws: AwsDouble, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, waiting: int
) -> None:
    """Run A takes the lease and is held in its body read. Only then do the other runs start; A is released
    once each of them waits (or one reads a body: a broken lease, caught in every run of this test)."""
    cert = issue("shop.example.com", NOW - timedelta(days=30))  # one body: one read to hold
    expected = {aws.upload("Shop2025", cert.body, cert.private_key)["Arn"]: "COMPLIANT"}
    others = {f"run-{index}" for index in range(waiting)}
    held = ReadHeld(others)
    aws.conditions.before("iam:GetServerCertificate", held.on_read)
    monkeypatch.setattr(time, "sleep", held.sleeper(time.sleep))
    install_client_defaults(handler.CONTAINER.sdk)  # the container's SDK session, made once before the runs share it
    aws.conditions.reset_counts()
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            results[name] = verdicts(periodic(aws))
        except BaseException as error:  # reported by the main thread
            results[name] = error

    first = threading.Thread(target=run, args=("A",), name="A")
    first.start()
    assert held.reading.wait(timeout=30), "run A never read a body"
    threads = [threading.Thread(target=run, args=(name,), name=name) for name in sorted(others)]
    for thread in threads:
        thread.start()
    waited = held.all_waiting.wait(timeout=30)
    held.released.set()
    for thread in [first, *threads]:
        thread.join(timeout=60)
    assert held.read_while_held == [], f"a run read {held.read_while_held} while run A held the lease"
    assert waited, f"only {sorted(held.waited)} of {sorted(others)} waited while run A held the lease"
    assert results == {name: expected for name in ["A", *others]}
    assert aws.conditions.calls["iam:GetServerCertificate"] == 1  # the others took the body from the ledger
