"""The benchmark's storm lines: a Terraform apply uploads K certificates, and AWS Config invokes the
rule K times at once, one change event per new certificate (docs/performance.md, change-event storms).

The account holds N certificates in all: build_account(N), whose last K stand for the new ones.
GetServerCertificate is limited to R a second (a token bucket; throttles answered at once) and every
accepted request takes 50 ms. Each Lambda container is a fresh interpreter (bench/child.py):

- uncapped, Lambda starts K cold containers at once, one event each, and each reads every body;
- capped at a reserved concurrency C, Lambda queues what it cannot start (AWS Config invokes
  asynchronously) and C containers take the queued events in turn, so all but C of the events meet
  a warm container and its body cache. The K events are dealt round-robin to the C containers.

A container whose invocation fails (non-zero exit, no result line, or no verdict for its
certificate) is replaced by a cold one for the rest of its share, as Lambda would; failures are
counted at the first attempt (Lambda retries a failed asynchronous invocation twice more, later).

With the key ledger (--ledger), every storm starts on a new, empty ledger table and
each event names it: the containers share the ledger, and the account's lease lets one of them read
the bodies while the others wait for them.

    python -m bench.storm [--size 100] [--rate 20] [--storms 10 50] [--caps 1 2 5] [--ledger]   the lines only
    python -m bench.run --storm-only       the defaults, merged into bench/results.json
    python -m bench.run --ledger-storm-only   with the ledger, caps 1, 5 and 10, merged as storm_ledger
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from subprocess import Popen
from typing import IO, Any

from heartbleed_audit import events
from heartbleed_audit.double import AwsDouble

from .runs import LEDGER_TABLE, build_account, create_ledger, double_env, periodic, run_once, start_container

READ = "iam:GetServerCertificate"
LATENCY = 0.05  # seconds an accepted request takes
LEDGER_CAPS = (1, 5, 10)  # the caps the reserved concurrency is chosen from
STORM_TIMEOUT = 900.0  # seconds; beyond it every container left is killed and its events count as failed


@dataclass
class _Tally:
    """What the containers of one storm saw, filled in by their threads."""

    failed: int = 0
    containers: int = 0  # cold starts, replacements included
    longest: float = 0.0  # the slowest successful invocation, seconds
    reasons: Counter[str] = field(default_factory=Counter)  # failed invocations by cause
    children: list[Popen[str]] = field(default_factory=list)
    stopped: bool = False  # past STORM_TIMEOUT: no replacement containers
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, count: int, reason: str) -> None:
        with self.lock:
            self.failed += count
            self.reasons[reason] += count


def _cause(stderr: str) -> str:
    """A failed container's cause, from the last line it wrote: the AWS error and operation, the
    error code of rdklib's error response, or the exception's class."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no output"
    if found := re.search(r"\((\w+)\) when calling the (\w+) operation", lines[-1]):
        return f"{found[1]} on {found[2]}"
    if found := re.search(r"'customerErrorCode': '(\w+)'", lines[-1]):
        return found[1]
    return lines[-1].split(":", 1)[0][-120:]


@dataclass
class StormRun:
    storm: int  # K events
    cap: int | None  # reserved concurrency; None: unreserved, K cold containers
    containers: int
    failed: int
    reads: int  # GetServerCertificate requests, throttled ones included
    throttled: int
    wall: float  # first container started to last one finished
    longest_invocation: float
    sent: int  # changed certificates whose verdict this storm stored in Config
    correct: int  # ... and equal to an unthrottled periodic run's verdict
    reasons: dict[str, int]  # failed invocations by cause

    def done(self, size: int) -> bool:
        """The storm's bar for the cap: nothing failed, every verdict sent and right, reads within 2N."""
        return self.failed == 0 and self.correct == self.sent == self.storm and self.reads <= 2 * size


def _next_result(child: Popen[str]) -> dict[str, Any] | None:
    """The child's next JSON result line (skipping "ready" and any stray output); None at its end."""
    assert child.stdout
    for line in child.stdout:
        if line.startswith("{"):
            try:
                result: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            return result
    return None


def _start(env: dict[str, str], stderr: IO[str], tally: _Tally) -> Popen[str] | None:
    """A cold container; None once the storm has been stopped (checked under the lock, so that
    no container starts after the stop has killed the others)."""
    with tally.lock:
        if tally.stopped:
            return None
        child = start_container(env, stderr=stderr)
        tally.containers += 1
        tally.children.append(child)
        return child


def _run_share(child: Popen[str], pending: list[tuple[str, dict[str, Any]]], stderr: IO[str], tally: _Tally) -> int:
    """Feed the events to one container in turn; return how many it took, the failed one included."""
    assert child.stdin
    for index, (arn, _) in enumerate(pending):
        try:
            # bench/child.py reads the whole list first, then a line before every event after the first.
            child.stdin.write((json.dumps([event for _, event in pending]) if index == 0 else "go") + "\n")
            child.stdin.flush()
        except OSError:
            result = None  # it died before it could read: reported below as having no result
        else:
            result = _next_result(child)
        if result is None:
            child.kill()
            stderr.seek(0)
            child.wait()
            tally.fail(1, _cause(stderr.read()))
            return index + 1
        if arn not in result.get("verdicts", {}):
            tally.fail(1, "no verdict for its certificate")
            return index + 1
        with tally.lock:
            tally.longest = max(tally.longest, float(result["wall"]))
    return len(pending)


def _container(env: dict[str, str], share: list[tuple[str, dict[str, Any]]], tally: _Tally) -> None:
    """One reserved slot: a container takes the share's events in turn; after a failure, a cold one
    takes the rest (Lambda replaces a container whose invocation failed)."""
    pending = list(share)
    while pending:
        with tempfile.TemporaryFile("w+") as stderr:
            child = _start(env, stderr, tally)
            if child is None:
                tally.fail(len(pending), "not run: the storm timed out")
                return
            try:
                taken = _run_share(child, pending, stderr, tally)
            finally:  # the container is done (or lost): nothing may outlive the storm
                child.kill()
                child.wait()
                for pipe in (child.stdin, child.stdout):
                    if pipe:
                        with contextlib.suppress(OSError):  # a write the dead child never read
                            pipe.close()
        pending = pending[taken:]


def _storm(aws: AwsDouble, shares: list[list[tuple[str, dict[str, Any]]]]) -> tuple[_Tally, float]:
    """Every share in its own container, all at once; the tally and the wall time."""
    env = double_env(aws)
    tally = _Tally()
    threads = [threading.Thread(target=_container, args=(env, share, tally)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, started + STORM_TIMEOUT - time.perf_counter()))
    wall = time.perf_counter() - started
    with tally.lock:
        tally.stopped = True
        running = list(tally.children)
    for child in running:  # past the timeout, if any are left: their readers count the failures
        child.kill()
    for thread in threads:
        thread.join()
    return tally, wall


def _new_certificates(aws: AwsDouble, count: int) -> list[tuple[str, str, str]]:
    """(name, ARN, path) of the last `count` certificates build_account uploaded."""
    with aws.environment():
        listed = aws.client("iam").list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"]
    listed.sort(key=lambda meta: meta["ServerCertificateName"])
    return [(m["ServerCertificateName"], m["Arn"], m["Path"]) for m in listed[-count:]]


def storm_run(
    aws: AwsDouble,
    size: int,
    rate: float,
    storm: int,
    cap: int | None,
    reference: dict[str, str],
    ledger: bool = False,
) -> StormRun:
    """One storm of `storm` change events on the account, uncapped (cap None) or under a cap; with the
    ledger, on a new, empty one (so that every storm is cold)."""
    parameters = {**events.LOCAL_ROLE, **({"KeyLedgerTable": LEDGER_TABLE} if ledger else {})}
    if ledger:
        create_ledger(aws)
    changed = [
        (
            arn,
            events.change_event(
                events.configuration_item(name, arn, path), aws.result_token(events.RULE_NAME), parameters
            ),
        )
        for name, arn, path in _new_certificates(aws, storm)
    ]
    lanes = storm if cap is None else min(cap, storm)
    shares = [changed[lane::lanes] for lane in range(lanes)]
    aws.conditions.latency = LATENCY
    aws.conditions.limit(READ, rate, "bucket")  # a fresh bucket, full: the storm arrives on a quiet account
    aws.conditions.reset_counts()
    since = datetime.now(UTC)
    try:
        tally, wall = _storm(aws, shares)
    finally:
        aws.conditions.limit(READ, None)
        aws.conditions.latency = 0.0
    stored = aws.evaluations(events.RULE_NAME)
    sent = [arn for arn, _ in changed if arn in stored and stored[arn].recorded >= since]
    return StormRun(
        storm=storm,
        cap=cap,
        containers=tally.containers,
        failed=tally.failed,
        reads=aws.conditions.calls[READ],
        throttled=aws.conditions.throttled[READ],
        wall=wall,
        longest_invocation=tally.longest,
        sent=len(sent),
        correct=sum(stored[arn].compliance_type == reference.get(arn) for arn in sent),
        reasons=dict(tally.reasons),
    )


def storm_runs(
    aws: AwsDouble,
    size: int = 100,
    rate: float = 20.0,
    storms: tuple[int, ...] = (10, 50),
    caps: tuple[int, ...] = (1, 2, 5),
    ledger: bool = False,
) -> dict[str, Any]:
    """Each storm uncapped, then under each cap, on one account of `size` certificates."""
    if max(storms) > size:
        raise ValueError(f"a storm of {max(storms)} new certificates needs an account of at least that many")
    aws.reset()
    build_account(aws, size)
    # The verdicts to expect: an unthrottled periodic run (stored before any storm starts, so
    # a storm's own rows are told apart by their time).
    reference = run_once(aws, "reference", size, periodic(aws)).verdicts
    runs = []
    for storm in storms:
        for cap in (None, *caps):
            run = storm_run(aws, size, rate, storm, cap, reference, ledger)
            print(_line(run, size), flush=True)
            runs.append({**asdict(run), "done": run.done(size)})
    return {
        "size": size,
        "rate": rate,
        "latency_ms": LATENCY * 1000,
        "limit": "token bucket",
        "new_certificates": "the last K of build_account(N)",
        "ledger": ledger,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "runs": runs,
    }


def _line(run: StormRun, size: int) -> str:
    how = "uncapped" if run.cap is None else f"cap {run.cap}"
    return (
        f"storm K={run.storm} N={size} {how}: {run.containers} containers, {run.failed} failed, "
        f"{run.reads} reads ({run.throttled} throttled; 2N = {2 * size}), {run.wall:.1f} s "
        f"(longest invocation {run.longest_invocation:.1f} s), verdicts sent {run.sent}/{run.storm}, "
        f"correct {run.correct}, done {run.done(size)}" + (f"; failures: {run.reasons}" if run.reasons else "")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100, help="N certificates in the account (default 100)")
    parser.add_argument("--rate", type=float, default=20.0, help="GetServerCertificate per second (default 20)")
    parser.add_argument("--storms", type=int, nargs="*", default=[10, 50], help="K change events at once")
    parser.add_argument("--caps", type=int, nargs="*", default=[1, 2, 5], help="reserved concurrency to try")
    parser.add_argument("--ledger", action="store_true", help="with the key ledger, empty at each storm's start")
    args = parser.parse_args(argv)
    with AwsDouble() as aws:
        storm_runs(aws, args.size, args.rate, tuple(args.storms), tuple(args.caps), args.ledger)  # prints each line


if __name__ == "__main__":
    main()
