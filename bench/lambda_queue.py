"""Lambda's queue in front of the central function, and Config's side of a re-evaluation, for the
organization-at-scale line (bench/org_scale.py).

Config invokes the central function asynchronously, so the members' events wait in one queue, in arrival
order, and C containers (the reserved concurrency) take them in turn; each container is a fresh
interpreter that stays warm (bench/child.py --stream), one at a time started before the clock. An
invocation that raises is retried 60 and then 120 s later, at most twice, as Lambda retries it.

When the double accepts a StartConfigRulesEvaluation of a member's rule, config_reinvokes puts a new
periodic event for that member at the end of the queue, as Config would invoke the rule again. The double
refuses a second StartConfigRulesEvaluation of one rule within 60 s (LimitExceededException), as Config
does; the rule keeps a refused request in the ledger, and a later run asks again.
"""

from __future__ import annotations

import heapq
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from subprocess import Popen
from typing import IO, Any

from moto.config.responses import ConfigResponse

from heartbleed.organization_guard import ORGANIZATION_RULE_VARIABLE
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

from .runs import double_env, start_container

RETRIES_S = (60.0, 120.0)  # Lambda retries a failed asynchronous invocation twice, about 1 and 2 minutes later
TIMEOUT_S = 3600.0  # beyond it the line stops and reports what it has


@dataclass(order=True)
class _Queued:
    ready_at: float
    seq: int
    account: str = field(compare=False)
    kind: str = field(compare=False)  # "periodic" or "re-evaluation"
    attempt: int = field(compare=False, default=0)


class LambdaQueue:
    """Lambda's queue of asynchronous invocations, in arrival order; a retry waits until its time."""

    def __init__(self) -> None:
        self.heap: list[_Queued] = []
        self.busy = 0
        self.seq = 0
        self.stopped = False
        self.changed = threading.Condition()

    def put(self, account: str, kind: str, delay: float = 0.0, attempt: int = 0) -> None:
        with self.changed:
            self.seq += 1
            heapq.heappush(self.heap, _Queued(time.monotonic() + delay, self.seq, account, kind, attempt))
            self.changed.notify_all()

    def take(self) -> _Queued | None:
        """The next event whose time has come; None once nothing is queued or running (or on stop)."""
        with self.changed:
            while not self.stopped:
                if self.heap and self.heap[0].ready_at <= time.monotonic():
                    self.busy += 1
                    return heapq.heappop(self.heap)
                if not self.heap and not self.busy:
                    return None
                wait = self.heap[0].ready_at - time.monotonic() if self.heap else None
                self.changed.wait(wait)
            return None

    def done(self) -> None:
        with self.changed:
            self.busy -= 1
            self.changed.notify_all()

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


@contextmanager
def config_reinvokes(queue: LambdaQueue) -> Iterator[list[tuple[float, str]]]:
    """While the block runs, every StartConfigRulesEvaluation the double accepts queues a periodic-like event
    for that member, as Config would invoke the rule again; yields (time, account) of each."""
    original = ConfigResponse.start_config_rules_evaluation  # type: ignore[attr-defined]
    accepted: list[tuple[float, str]] = []

    def started(self: ConfigResponse) -> str:
        answer: str = original(self)  # raises LimitExceededException and the like: nothing queued
        accepted.append((time.monotonic(), self.current_account))
        queue.put(self.current_account, "re-evaluation")
        return answer

    ConfigResponse.start_config_rules_evaluation = started  # type: ignore[attr-defined]
    try:
        yield accepted
    finally:
        ConfigResponse.start_config_rules_evaluation = original  # type: ignore[attr-defined]


def _result(child: Popen[str]) -> dict[str, Any] | None:
    """The container's next JSON line (skipping anything else it printed); None once it has ended."""
    assert child.stdout
    for line in child.stdout:
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    return None


def _ready(child: Popen[str], stderr: IO[str]) -> Popen[str]:
    """The container, once it has imported and said so; a container that did not start stops the line."""
    assert child.stdout
    if child.stdout.readline().strip() != "ready":
        _close(child)
        stderr.seek(0)
        raise RuntimeError(f"a container did not start: {stderr.read()[-500:]}")
    return child


def _boot(env: dict[str, str], stderr: IO[str]) -> Popen[str]:
    """A cold container of the rule, once it has imported."""
    return _ready(start_container(env, "stream", stderr), stderr)


def _close(child: Popen[str]) -> None:
    child.kill()
    child.wait()
    for pipe in (child.stdin, child.stdout):
        if pipe:
            pipe.close()


@dataclass
class _Serving:
    """What the reserved slots share while they serve the queue."""

    queue: LambdaQueue
    event_of: Callable[[str], dict[str, Any]]
    env: dict[str, str]
    started: float = 0.0  # perf_counter when the warm containers took the first event
    results: list[dict[str, Any]] = field(default_factory=list)
    replaced: int = 0  # containers that died and were started again
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, child: Popen[str], item: _Queued) -> dict[str, Any] | None:
        """One invocation; its result with when it began and ended (seconds from the start); None if the
        container died."""
        assert child.stdin
        begun = time.perf_counter() - self.started
        try:
            child.stdin.write(json.dumps(self.event_of(item.account)) + "\n")
            child.stdin.flush()
        except OSError:
            return None
        result = _result(child)
        if result is None:
            return None
        ended = time.perf_counter() - self.started
        return result | {
            "account": item.account,
            "kind": item.kind,
            "attempt": item.attempt,
            "begun": begun,
            "ended": ended,
        }

    def slot(self, child: Popen[str], stderr: IO[str]) -> None:
        """One reserved slot: its container takes the queue's events until nothing is left; a container
        that dies is replaced by a cold one (Lambda's), and its event counts as a failed invocation."""
        try:
            while (item := self.queue.take()) is not None:
                try:
                    result = self.invoke(child, item)
                    if result is None:
                        stderr.seek(0)
                        reason = (stderr.read().strip().splitlines() or ["no output"])[-1][-300:]
                        result = {"account": item.account, "kind": item.kind, "attempt": item.attempt}
                        result |= {"error": f"container died: {reason}", "wall": 0.0, "cpu": 0.0, "calls": {}}
                        _close(child)
                        stderr.seek(0)
                        stderr.truncate()
                        child = _boot(self.env, stderr)
                        with self.lock:
                            self.replaced += 1
                    with self.lock:
                        self.results.append(result)
                    if result["error"] and item.attempt < len(RETRIES_S):
                        self.queue.put(item.account, item.kind, RETRIES_S[item.attempt], item.attempt + 1)
                finally:
                    self.queue.done()
        finally:
            _close(child)


def serve(
    aws: AwsDouble, accounts: list[str], event_of: Callable[[str], dict[str, Any]], concurrency: int, rule: str
) -> dict[str, Any]:
    """The accounts' periodic events through `concurrency` warm containers, with the re-evaluations Config
    runs on the way; every invocation's result, the containers' cold starts and the re-evaluations accepted."""
    queue = LambdaQueue()
    for account in accounts:
        queue.put(account, "periodic")
    # The function's ARN in its context, and the organization rule it serves, as rules/organization.yaml
    # sets it: the guard serves only members' copies of that rule.
    env = {**double_env(aws), "BENCH_FUNCTION_ACCOUNT": ACCOUNT_ID, ORGANIZATION_RULE_VARIABLE: rule}
    serving = _Serving(queue, event_of, env)
    with ExitStack() as stack:
        stderrs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(concurrency)]
        spawned, inits = [], []
        for stderr in stderrs:
            # One at a time, so that each cold start is the interpreter's own, not the others' on these cores.
            booted = time.perf_counter()
            spawned.append(_boot(env, stderr))
            stack.callback(_close, spawned[-1])
            inits.append(time.perf_counter() - booted)
        aws.conditions.reset_counts()
        with config_reinvokes(queue) as accepted:
            serving.started = time.perf_counter()
            threads = [threading.Thread(target=serving.slot, args=pair) for pair in zip(spawned, stderrs, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, serving.started + TIMEOUT_S - time.perf_counter()))
            timed_out = any(thread.is_alive() for thread in threads)
            queue.stop()
            if timed_out:  # an invocation still running past the line's limit is lost, as at a Lambda timeout
                for child in spawned:
                    child.kill()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - serving.started
    return {
        "wall": wall,
        "timed_out": timed_out,
        "left_queued": len(queue.heap),
        "results": sorted(serving.results, key=lambda r: r.get("ended", 0.0)),
        "inits": inits,
        "replaced": serving.replaced,
        "accepted": [(at - serving.started, account) for at, account in accepted],
        "double_calls": dict(aws.conditions.calls),
    }
