"""Two concurrent runs on one key converge, in every interleaving of their ledger writes and reads.

Account A holds a 2013 certificate, account B a recent one with the same key. Both runs start at
once, in two threads, through the real handler; each run's three ledger steps (record its
certificates, read its keys' summaries, read the kept re-evaluations it may ask) are held until a
schedule lets them go, so each of the C(6, 3) = 20 orders is run exactly. Then the test does what Config does
with StartConfigRulesEvaluation, until nobody asks any more: both certificates must end
NON_COMPLIANT, without a periodic run.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ledger_table import TABLE, create_table
from simulated_organization import (
    MEMBER_RULE,
    PARAMETERS,
    LambdaContext,
    as_central_function,
    build_organization,
    invoke,
)

import HeartbleedServerCertificate as handler
from heartbleed.clients import install_client_defaults
from heartbleed.ledger import Ledger
from heartbleed.organization_guard import check_account
from heartbleed_audit.double import AwsDouble

STEPS = ("write_evidence", "summaries", "kept_window")  # in program order, once per run
ORDERS = sorted({"".join(o) for o in itertools.permutations("AAABBB")})


class Schedule:
    """Lets each thread's next gated ledger step run only when the order says it is that thread's turn."""

    def __init__(self, order: str) -> None:
        self.order = list(order)
        self.turn = threading.Condition()

    def gate(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def gated(ledger: Ledger, *args: Any, **kwargs: Any) -> Any:
            me = threading.current_thread().name
            if me not in ("A", "B"):  # the re-evaluations that follow the two runs are not scheduled
                return original(ledger, *args, **kwargs)
            with self.turn:
                if not self.turn.wait_for(lambda: bool(self.order) and self.order[0] == me, timeout=60):
                    raise TimeoutError(f"run {me} never got its turn: {self.order}")
            try:
                return original(ledger, *args, **kwargs)
            finally:
                with self.turn:
                    self.order.pop(0)
                    self.turn.notify_all()

        return gated


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def install(order: str) -> None:
        schedule = Schedule(order)
        for step in STEPS:
            monkeypatch.setattr(Ledger, step, schedule.gate(getattr(Ledger, step)))

    yield install


def test_there_are_twenty_orders() -> None:
    assert len(ORDERS) == 20


@pytest.mark.parametrize("order", ORDERS)
def test_two_runs_on_one_key_converge(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, gated: Callable[[str], None], order: str
) -> None:
    organization = build_organization(aws, shared_key=True)
    create_table(aws.client("dynamodb"))
    first, second, _ = organization.members
    accounts = {"A": first, "B": second}
    parameters = {**PARAMETERS, "KeyLedgerTable": TABLE}
    for account in accounts.values():
        aws.set_start_interval(0, account)
    failures: list[BaseException] = []
    with as_central_function(aws, organization, monkeypatch):
        install_client_defaults(handler.CONTAINER.sdk)  # the SDK session of these credentials, as the handler makes it
        check_account(
            first, LambdaContext(), handler.CONTAINER.members
        )  # the container's member list, read before the race
        gated(order)

        def run(account: str) -> None:
            try:
                assert isinstance(invoke(aws, account, parameters), list)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        threads = [threading.Thread(target=run, args=(account,), name=who) for who, account in accounts.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        answered = {account: 0 for account in accounts.values()}
        while True:  # Config runs each requested evaluation
            asked = {a: len(aws.started_evaluations(a)) for a in accounts.values()}
            pending = [a for a in accounts.values() if asked[a] > answered[a]]
            if not pending:
                break
            for account in pending:
                answered[account] = asked[account]
                invoke(aws, account, parameters)
    for account in accounts.values():
        (result,) = aws.evaluations(MEMBER_RULE, account).values()
        assert result.compliance_type == "NON_COMPLIANT", (order, account, result.annotation)
