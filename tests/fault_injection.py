"""One fault at one AWS call of a scenario, and what Lambda and the operator do next.

A scenario is a start (a ledger table, certificates, maybe an organization) and steps: the rule's
invocations with real Config event documents, operator commands, and changes made between them.
`record` plays it without faults and lists every AWS call its steps made, by step, operation and
occurrence. `play` plays it again from the same start with one fault at one of those calls:

- "500" or "throttle": every attempt of the call is answered so (the client's own retries run, without
  their back-off sleeps), so the call fails past the client's retries;
- "die": the call succeeds, then an after-call hook raises RunDied, a BaseException: it passes every
  `except Exception` and nothing after it runs, as when Lambda stops a function at its timeout. Every
  later call of the dead run raises it too (its threads die with it).

After the fault comes what AWS does: Lambda retries a raised invocation once more (an error document is
a success to Lambda: no retry), a dead run's container is gone (the retry is cold), an operator runs a
failed command again. Then every account's rule runs once more, fault-free, and `observe` reads what the
scenario left: the ledger's items, every Config row, and the re-evaluations asked or kept.

The calls are intercepted on every botocore client (BaseClient._make_api_call), so the rule's clients,
its assumed-role clients and the CLI's are all covered; arranging and observing happen outside steps
and are neither counted nor faulted.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from moto.config.models import config_backends

import HeartbleedServerCertificate as handler
from heartbleed.container import Members
from heartbleed.ledger.schema import run_sk
from heartbleed_audit.double.config_evaluations import evaluation_state

FAULT_KINDS = ("500", "throttle", "die")
ANY_OPERATION = "*"  # Call(step, "*", n): the n-th call of the step, whatever its operation


class RunDied(BaseException):
    """The run stopped at once (a Lambda timeout): no `except Exception`, no `finally` clean-up of its own."""


@dataclass(frozen=True, order=True)
class Call:
    """One AWS call of a scenario: the n-th call (from 0) of an operation in one step."""

    step: int
    operation: str  # e.g. "dynamodb:UpdateItem"
    occurrence: int

    def __str__(self) -> str:
        return f"step {self.step} {self.operation}#{self.occurrence}"


@dataclass(frozen=True)
class Fault:
    call: Call
    kind: str  # one of FAULT_KINDS

    def __str__(self) -> str:
        return f"{self.kind} at {self.call}"


@dataclass
class Injector:
    """Counts the calls of the current step, and serves the one fault at its call."""

    fault: Fault | None = None
    step: int | None = None  # None between steps: arranging and observing are not counted
    calls: list[Call] = field(default_factory=list)
    fired: bool = False
    dead: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, step: int | None) -> None:
        with self.lock:
            self.step, self.dead = step, False
            self.counts.clear()

    def arrive(self, operation: str) -> str | None:
        """Count a call; return the fault to serve on it, if any."""
        with self.lock:
            if self.dead:
                raise RunDied("the run is dead: no further call goes out")
            if self.step is None:
                return None
            call = Call(self.step, operation, self.counts[operation])
            anything = Call(self.step, ANY_OPERATION, self.counts[ANY_OPERATION])
            self.counts[operation] += 1
            self.counts[ANY_OPERATION] += 1
            self.calls.append(call)
            if self.fault is not None and not self.fired and self.fault.call in (call, anything):
                self.fired = True
                return self.fault.kind
            return None


ACTIVE = Injector()
_PER_THREAD = threading.local()  # the fault of the call this thread is making


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_response(request: Any, protocol: str, kind: str) -> AWSResponse:
    """The service's own error answer in the call's protocol: a 500, or a throttle."""
    status, json_code, query_code = (
        (400, "ThrottlingException", "Throttling")
        if kind == "throttle"
        else (500, "InternalFailure", "InternalFailure")
    )
    if protocol.endswith("json"):
        body = json.dumps({"__type": json_code, "message": f"injected {kind}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault"}
    elif protocol in ("query", "rest-xml", "ec2"):
        party = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{party}</Type><Code>{query_code}</Code><Message>injected {kind}"
            "</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:  # a protocol this module does not speak: fail the test, not the scenario
        raise AssertionError(f"fault injection does not know the {protocol} protocol")
    # AWSResponse keeps any mapping as its headers (botocore passes urllib3's); the stubs say HTTPHeaders.
    return AWSResponse(request.url, status, headers, _Body(body))  # type: ignore[arg-type]


def _before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
    kind = getattr(_PER_THREAD, "fault", None)
    if kind in ("500", "throttle"):
        return _error_response(request, _PER_THREAD.protocol, kind)
    return None


def _after_call(http_response: Any, **kwargs: Any) -> None:
    if getattr(_PER_THREAD, "fault", None) == "die" and http_response.status_code < 300:
        ACTIVE.dead = True
        raise RunDied("the run died right after this call succeeded")


_original_make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]


def _make_api_call(self: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
    operation = f"{self.meta.service_model.endpoint_prefix}:{operation_name}"
    kind = ACTIVE.arrive(operation)
    if kind is None:
        return _original_make_api_call(self, operation_name, api_params)
    events = self.meta.events  # each client has its own copy of its session's handlers
    events.register("before-send", _before_send, unique_id="fault-injection-send")
    events.register_last("after-call", _after_call, unique_id="fault-injection-after-call")
    _PER_THREAD.fault, _PER_THREAD.protocol = kind, self.meta.service_model.protocol
    try:
        return _original_make_api_call(self, operation_name, api_params)
    finally:
        _PER_THREAD.fault = None


def install(monkeypatch: pytest.MonkeyPatch) -> Injector:
    """Intercept every botocore call; retries keep their attempts but lose their back-off sleeps."""
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _make_api_call)
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    ACTIVE.fault, ACTIVE.fired, ACTIVE.dead = None, False, False
    ACTIVE.calls.clear()
    ACTIVE.begin(None)
    return ACTIVE


def cold_container() -> None:
    """A new Lambda container: nothing the dead one kept in memory."""
    handler.new_container()


# ---- scenarios ---------------------------------------------------------------------------------


@dataclass
class World:
    """A scenario's start, as built for one play: its accounts and places, and names for what varies."""

    aws: Any
    table: str
    dynamodb: Any  # a client of the DynamoDB the ledger lives in
    places: list[tuple[str, str]]  # (account, Region) of every rule in the scenario
    labels: dict[str, str] = field(default_factory=dict)  # a value that differs per play -> a stable name
    values: dict[str, Any] = field(default_factory=dict)  # what steps need (ARNs, paths)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_as: Callable[[], Any] | None = None  # a context manager the rule's runs happen in (the central function)


@dataclass(frozen=True)
class Step:
    """What happens next: an invocation or a command (`run`, returns whether it succeeded), or a change
    (`arrange`). Lambda retries a raised invocation; `retried` says what happens after a failure."""

    name: str
    run: Callable[[World], str] | None = None  # "ok", "error document" (Lambda does not retry) or "failed"
    arrange: Callable[[World], None] | None = None
    faulted: bool = True  # its calls are positions of the catalogue (set-up steps are not)
    operator: bool = False  # an operator's command: never run as the function (World.run_as)


@dataclass(frozen=True)
class Scenario:
    name: str
    start: Callable[[], World]
    steps: tuple[Step, ...]
    final: tuple[Step, ...]  # one more fault-free run of every account's rule
    expected: Mapping[str, str] = field(default_factory=dict)  # how a row's resource ends -> its compliance

    def check(self, outcome: Outcome) -> None:
        """The fault-free play's rows say what the scenario is about (else comparing with it proves little)."""
        for ending, compliance in self.expected.items():
            found = [row[0] for where, row in outcome.rows.items() if where.endswith(ending)]
            assert found == [compliance], f"{self.name}: the row of {ending} is {found}, expected {compliance}"


@dataclass
class Played:
    outcome: Outcome
    calls: list[Call]
    failed_steps: list[str]
    fired: bool


@contextmanager
def _running(world: World, step: Step) -> Iterator[None]:
    if world.run_as is None or step.operator:
        yield
    else:
        with world.run_as():
            yield


def _attempt(world: World, index: int | None, step: Step) -> str:
    """Run a step: "ok", "error document", "failed" (raised, or a command's exit status) or "died"."""
    assert step.run is not None
    with _running(world, step):
        ACTIVE.begin(index)
        try:
            return step.run(world)
        except RunDied:
            return "died"
        except Exception:  # a loud failure: what the retry is for
            return "failed"
        finally:
            ACTIVE.begin(None)


def play(scenario: Scenario, fault: Fault | None = None) -> Played:
    """Play the scenario from its start with at most one fault, then the retry, then the final runs."""
    cold_container()
    world = scenario.start()
    ACTIVE.fault, ACTIVE.fired = fault, False
    ACTIVE.calls.clear()
    failed = []
    for index, step in enumerate(scenario.steps):
        if step.arrange is not None:
            step.arrange(world)
            continue
        failed += perform(world, step, index if step.faulted else None)
    calls = list(ACTIVE.calls)
    lapse_claims(world)  # the next periodic run comes hours later
    for step in scenario.final:
        result = _attempt(world, None, step)
        assert result == "ok", f"the final fault-free run {step.name}: {result}"
    return Played(observe(world), calls, failed, ACTIVE.fired)


def perform(world: World, step: Step, index: int | None) -> list[str]:
    """Run a step (its calls counted as step index, if given), and what follows a failure; return the failures."""
    result = _attempt(world, index, step)
    if result == "ok":
        return []
    failed = [f"{step.name}: {result}"]
    if result == "error document":
        return failed  # a success to Lambda: no retry; the next periodic run is what comes
    if result == "died":
        cold_container()
    lapse_claims(world)  # Lambda retries a minute or more later: the failed run's leases and claims ran out
    again = _attempt(world, None, step)  # Lambda's retry of the same event, or the command run again
    if again != "ok":
        failed.append(f"{step.name} (retry): {again}")
    return failed


def lapse_claims(world: World) -> None:
    """Time passes: every lease and claim in the ledger (an `expires` or `*_expires` attribute) has expired,
    as the dead run's had by the time Lambda retries (a minute or more later; a claim lasts at most that).
    The guard's interval between reads of the member list for an unknown account (under a minute) has passed
    too, so the member list is dropped as a new container would."""
    handler.CONTAINER.members = Members()
    for item in _scan(world):
        lapsed = sorted(name for name in item if name == "expires" or name.endswith("_expires"))
        if not lapsed:
            continue
        world.dynamodb.update_item(
            TableName=world.table,
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :past" for i in range(len(lapsed))),
            ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(lapsed)},
            ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000000Z"}},
        )


def _scan(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": world.table, "ConsistentRead": True}
    while True:
        page = world.dynamodb.scan(**request)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---- what a scenario leaves ----------------------------------------------------------------------

_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|\+00:00)?")
# Not evidence: a lease (a dead run's stays, expired) and kept requests (compared as owed re-evaluations).
_NOT_COMPARED = ("#LEASE",)
# A member's run record keeps the last failure by design (ledger show --accounts): a faulted play has one where
# the fault-free play has none. What must converge is its last success.
_RUN_HISTORY = ("last_failure", "failure")


@dataclass(frozen=True)
class Outcome:
    ledger: frozenset[str]  # every item but leases and kept requests, normalised, as JSON
    rows: Mapping[str, tuple[str, str]]  # "account/Region/resource" -> (compliance, annotation)
    owed: frozenset[str]  # "account/Region/rule" asked (Config accepted) or kept in the ledger

    def differences(self, expected: Outcome) -> list[str]:
        """What this outcome lacks or has beyond the expected one; more re-evaluations asked is no loss."""
        found = [f"ledger item missing: {item}" for item in sorted(expected.ledger - self.ledger)]
        found += [f"ledger item extra: {item}" for item in sorted(self.ledger - expected.ledger)]
        for where in sorted(set(expected.rows) | set(self.rows)):
            if expected.rows.get(where) != self.rows.get(where):
                found.append(f"row {where}: {self.rows.get(where)} instead of {expected.rows.get(where)}")
        found += [f"re-evaluation lost: {rule}" for rule in sorted(expected.owed - self.owed)]
        return found


def normaliser(world: World) -> Callable[[str], str]:
    labels = sorted(world.labels.items(), key=lambda pair: -len(pair[0]))
    recent = world.started - timedelta(minutes=10)

    def normal(text: str) -> str:
        for value, label in labels:
            text = text.replace(value, label)

        def instant(match: re.Match[str]) -> str:
            try:
                moment = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
            except ValueError:
                return match.group(0)
            return "<now>" if moment.astimezone(UTC) >= recent else match.group(0)

        return _INSTANT.sub(instant, text)

    return normal


def canonical(value: Any, normal: Callable[[str], str]) -> Any:
    """An item's value with its strings normalised and its sets (SS, NS) sorted: DynamoDB keeps no set order."""
    if isinstance(value, dict):
        return {
            name: sorted(normal(part) for part in inner) if name in ("SS", "NS") else canonical(inner, normal)
            for name, inner in value.items()
        }
    if isinstance(value, list):
        return [canonical(inner, normal) for inner in value]
    return normal(value) if isinstance(value, str) else value


def observe(world: World) -> Outcome:
    normal = normaliser(world)
    items, kept = set(), set()
    for item in _scan(world):
        if item["sk"]["S"] in _NOT_COMPARED:
            continue
        if item["pk"]["S"] == "PENDING":
            kept.add(normal(f"{item['account']['S']}/{item['region']['S']}/{item['rule']['S']}"))
            continue
        if item["sk"]["S"].startswith(run_sk("")):
            item = {name: value for name, value in item.items() if name not in _RUN_HISTORY}
        items.add(json.dumps(canonical(item, normal), sort_keys=True))
    rows, asked = {}, set()
    for account, region in world.places:
        state = evaluation_state(config_backends[account][region])
        for rule, results in state.results.items():
            for (_, resource), stored in results.items():
                where = normal(f"{account}/{region}/{rule}/{resource}")
                rows[where] = (stored.compliance_type, normal(stored.annotation or ""))
        asked |= {normal(f"{account}/{region}/{rule}") for started in state.started for rule in started.rules}
    return Outcome(frozenset(items), rows, frozenset(asked | kept))


def positions(calls: list[Call]) -> list[Call]:
    return sorted(set(calls))
