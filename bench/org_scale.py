"""The organization at scale: one periodic event per member account through the central function, at its
default reserved concurrency, with a key that most members share, on the AWS double.

    python -m bench.run --organization-scale-only    400 members x 5 certificates, merged into bench/results.json
    python -m bench.org_scale --members 40 --holders 30    a smaller line, printed only

The estate: every member holds `per_member` certificates, each with its own key, except that `holders` of
them also carry one wildcard certificate (`*.example.com`) with a shared key: one member's was issued in
2013, the others' in 2025. So every holder's wildcard row must end NON_COMPLIANT, every other row
COMPLIANT.

Lambda's queue: Config invokes the central function asynchronously, so the members' periodic events wait in
one queue, in member order, and C containers (the template's ReservedConcurrency, read from
rules/organization.yaml) take them in turn; each container is a fresh interpreter that stays warm
(bench/child.py --stream). The member whose certificate is from 2013 comes at `old_at` of the queue
(three quarters by default), so that most holders have run, reported COMPLIANT and registered their rule
before its run records the evidence: propagation must then reach them.

Config's side of a re-evaluation: when the double accepts a StartConfigRulesEvaluation of a member's
rule, this module puts a new periodic event for that member at the end of the queue, as Config would invoke
the rule again. The double refuses a second StartConfigRulesEvaluation of one rule within 60 s
(LimitExceededException), as Config does; the rule keeps a refused request in the ledger, and a later run
asks again. An invocation that raises is retried by "Lambda" 60 and then 120 s later, at most twice.

Measured: the wall time until every member has its rows and until every holder's wildcard row is
NON_COMPLIANT (from the moment the warm containers take the first event; their cold start is reported
apart), the calls of each invocation by operation (counted inside its container, bench/call_log.py),
the calls that propagation made, the function-seconds, and the cost of one organization-day: every
member's periodic run once, plus the re-evaluations, in DynamoDB on-demand request units
(bench/ledger_cost.py) and Lambda GB-seconds and requests (bench/sizing.py's rates).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from subprocess import Popen
from typing import IO, Any

from moto.config.responses import ConfigResponse

from heartbleed.organization_guard import ORGANIZATION_RULE_VARIABLE
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, REGION, AwsDouble

from .ledger_cost import updated_units, usd
from .runs import LEDGER_TABLE, ROOT, create_ledger, double_env, ledger_items, start_container
from .sizing import PRICE_PER_GB_SECOND, PRICE_PER_REQUEST

MEMBERS, PER_MEMBER, HOLDERS = 400, 5, 300
OLD_AT = 0.75  # where in the queue the member with the 2013 certificate stands
LATENCY_MS = 50.0
MEMBER_ROLE = "HeartbleedServerCertificateExecution"  # the templates' default ExecutionRoleName
RETRIES_S = (60.0, 120.0)  # Lambda retries a failed asynchronous invocation twice, about 1 and 2 minutes later
TIMEOUT_S = 3600.0  # beyond it the line stops and reports what it has
WILDCARD = "*.example.com"
READ = "iam:GetServerCertificate"
START = "config:StartConfigRulesEvaluation"


def template_defaults() -> dict[str, Any]:
    """The organization template's defaults the line runs at: the reserved concurrency, the function's
    memory and the organization rule's name (rules/organization.yaml, the one place they are written)."""
    from cfnlint.decode import cfn_yaml  # a dev dependency, as the benchmark is

    template = cfn_yaml.load(str(ROOT / "rules" / "organization.yaml"))
    resources = template["Resources"]
    rule = next(
        r for r in resources.values() if isinstance(r, dict) and r.get("Type") == "AWS::Config::OrganizationConfigRule"
    )
    return {
        "concurrency": int(template["Parameters"]["ReservedConcurrency"]["Default"]),
        "memory_mb": int(resources["Function"]["Properties"]["MemorySize"]),
        "rule": str(rule["Properties"]["OrganizationConfigRuleName"]),
    }


def member_rule(organization_rule: str, index: int) -> str:
    """The name of a member's copy of the organization rule, as config-multiaccountsetup forms it."""
    return f"OrgConfigRule-{organization_rule}-{index:08x}"


def planted(members: int, holders: int, old_at: float = OLD_AT) -> tuple[int, list[int]]:
    """The member with the 2013 certificate and every holder of the shared key (it included), as queue
    positions: the holders spread evenly over the queue."""
    if not 1 <= holders <= members:
        raise ValueError(f"holders must be between 1 and the {members} members, not {holders}")
    spread = sorted({(k * members) // holders for k in range(holders)})
    old = max((i for i in spread if i <= old_at * (members - 1)), default=spread[0])
    return old, spread


def build_estate(
    aws: AwsDouble, members: list[str], per_member: int, holders: int, old_at: float = OLD_AT
) -> dict[str, dict[str, str]]:
    """Upload every member's certificates; the verdict each row must end with, by account and ARN."""
    old, sharing = planted(len(members), holders, old_at)
    shared = new_key()
    now = datetime.now(UTC)
    expected: dict[str, dict[str, str]] = {}
    for index, member in enumerate(members):
        expected[member] = {}
        for n in range(per_member):
            if n == 0 and index in sharing:
                issued = datetime(2013, 6, 1, tzinfo=UTC) if index == old else datetime(2025, 6, 1, tzinfo=UTC)
                cert, verdict = issue(WILDCARD, issued, key=shared), "NON_COMPLIANT"
            else:
                issued = now - timedelta(days=30 + n)
                cert, verdict = issue(f"m{index}-{n}.example.com", issued), "COMPLIANT"
            meta = aws.upload(
                f"m{index}-c{n}", cert.body, cert.private_key, uploaded=issued + timedelta(hours=1), account=member
            )
            expected[member][meta["Arn"]] = verdict
    return expected


def member_event(aws: AwsDouble, member: str, rule: str) -> dict[str, Any]:
    """A periodic event of the member's copy of the organization rule, as Config in the member sends it."""
    parameters = {"KeyLedgerTable": LEDGER_TABLE, "ExecutionRoleName": MEMBER_ROLE}
    event = events.scheduled_event(aws.result_token(rule, member), parameters, account=member)
    rule_id = f"config-rule-{abs(hash((member, rule))) % 16**6:06x}"
    return event | {
        "configRuleName": rule,
        "configRuleId": rule_id,
        "configRuleArn": (
            f"arn:aws:config:{REGION}:{member}:config-rule/aws-service-rule/"
            f"config-multiaccountsetup.amazonaws.com/{rule_id}"
        ),
    }


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


def _settled(results: list[dict[str, Any]], account: str, arn: str, verdict: str) -> float | None:
    """When the row's verdict became `verdict` for good: the end of the first invocation of the account's
    last run of verdicts that all said so (None if its last verdict differs)."""
    said = [
        (r["ended"], r["verdicts"][arn]) for r in results if r["account"] == account and arn in r.get("verdicts", {})
    ]
    since = None
    for ended, value in said:
        since = (since if since is not None else ended) if value == verdict else None
    return since


def _by_operation(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Calls per invocation by operation: fewest, median, most, and the total."""
    operations = sorted({op for r in results for op in r["calls"]})
    return {
        op: {
            "min": min(r["calls"].get(op, 0) for r in results),
            "median": statistics.median(r["calls"].get(op, 0) for r in results),
            "max": max(r["calls"].get(op, 0) for r in results),
            "total": sum(r["calls"].get(op, 0) for r in results),
        }
        for op in operations
    }


def _summed(results: list[dict[str, Any]], key: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for result in results:
        total.update(result.get(key, {}))
    return dict(sorted(total.items()))


def day_cost(
    results: list[dict[str, Any]], inits: list[float], items: list[dict[str, Any]], memory_mb: int
) -> dict[str, Any]:
    """DynamoDB on-demand and Lambda cost of the invocations measured (an organization-day)."""
    rru = sum(r.get("rru", 0.0) for r in results)
    wru = sum(r.get("wru", 0.0) for r in results) + updated_units(
        [k for r in results for k in r.get("updated", [])], items
    )
    invocation_s = sum(r["wall"] for r in results)
    # Lambda bills the initialization of each container as well as the handler (bench/sizing.py).
    gb_seconds = (invocation_s + sum(inits)) * memory_mb / 1024
    lambda_usd = gb_seconds * PRICE_PER_GB_SECOND + len(results) * PRICE_PER_REQUEST
    dynamodb_usd = usd(rru, wru)
    return {
        "rru": rru,
        "wru": wru,
        "dynamodb_usd": dynamodb_usd,
        "invocations": len(results),
        "function_seconds": invocation_s,
        "init_seconds": sum(inits),
        "gb_seconds": gb_seconds,
        "lambda_usd": lambda_usd,
        "usd": dynamodb_usd + lambda_usd,
        "cpu_seconds": sum(r.get("cpu", 0.0) for r in results),
        "unpriced": _summed(results, "unpriced"),
    }


def org_scale_line(
    aws: AwsDouble,
    members: int = MEMBERS,
    per_member: int = PER_MEMBER,
    holders: int = HOLDERS,
    latency_ms: float = LATENCY_MS,
    concurrency: int | None = None,
    old_at: float = OLD_AT,
    later_day: bool = True,
) -> dict[str, Any]:
    """The line: build the organization, serve every member's periodic event once, and measure; then, with
    later_day, every member's periodic event once more on the ledger the first day left (new containers, as
    a day later), which is what each following day costs."""
    defaults = template_defaults()
    concurrency = concurrency or defaults["concurrency"]
    aws.reset()
    accounts = aws.organization(members)
    built = time.perf_counter()
    expected = build_estate(aws, accounts, per_member, holders, old_at)
    build_s = time.perf_counter() - built
    old, sharing = planted(members, holders, old_at)
    rules = {account: member_rule(defaults["rule"], index) for index, account in enumerate(accounts)}
    create_ledger(aws)  # in the central account, where the function runs
    aws.conditions.latency = latency_ms / 1000
    try:
        served = serve(
            aws, accounts, lambda account: member_event(aws, account, rules[account]), concurrency, defaults["rule"]
        )
        items = ledger_items(aws)  # the first day's UpdateItem calls are priced at the sizes it left
        if later_day:
            next_day = serve(
                aws, accounts, lambda account: member_event(aws, account, rules[account]), concurrency, defaults["rule"]
            )
    finally:
        aws.conditions.latency = 0.0
    results = served["results"]
    wildcard = {accounts[i]: next(iter(expected[accounts[i]])) for i in sharing}  # each holder's first upload
    wrong = [
        f"{account} {arn.rsplit('/', 1)[-1]}: {stored.compliance_type if stored else 'none'}, expected {verdict}"
        for account in accounts
        for arn, verdict in expected[account].items()
        if (stored := aws.evaluations(rules[account], account).get(arn)) is None or stored.compliance_type != verdict
    ]
    rows_at = {
        account: min(
            (
                r["ended"]
                for r in results
                if r["account"] == account and not r["error"] and set(expected[account]) <= set(r["verdicts"])
            ),
            default=None,
        )
        for account in accounts
    }
    flagged_at = {account: _settled(results, account, arn, "NON_COMPLIANT") for account, arn in wildcard.items()}
    periodic = [r for r in results if r["kind"] == "periodic" and r["attempt"] == 0]
    again = [r for r in results if r["kind"] == "re-evaluation"]
    finder = [r for r in periodic if r["account"] == accounts[old]]
    propagation = _summed(results, "propagation")
    ledger_calls = _summed(results, "ledger")
    kept_left = [i for i in items if str(i.get("pk", {}).get("S", "")).startswith("PENDING")]
    line = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "members": members,
        "per_member": per_member,
        "holders": holders,
        "old_member_position": old + 1,
        "holders_before_old": sum(i < old for i in sharing),
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "memory_mb": defaults["memory_mb"],
        "start_interval_s": 60,
        "build_s": build_s,
        "container_init_s": served["inits"],
        "wall": served["wall"],
        "timed_out": served["timed_out"],
        "left_queued": served["left_queued"],
        "containers_replaced": served["replaced"],
        "rows_wall": None if None in rows_at.values() else max(rows_at.values()),  # type: ignore[type-var]
        "without_rows": sorted(a for a, t in rows_at.items() if t is None),
        "non_compliant_wall": None if None in flagged_at.values() else max(flagged_at.values()),  # type: ignore[type-var]
        "holders_not_non_compliant": sorted(a for a, t in flagged_at.items() if t is None),
        "evidence_recorded_at": min((r["ended"] for r in finder), default=None),
        "verdicts": sum(len(v) for v in expected.values()),
        "wrong": wrong,
        "invocations": len(results),
        "failed": [
            f"{r['account']} ({r['kind']}, attempt {r['attempt']}): {r['error']}" for r in results if r["error"]
        ],
        "error_documents": sum(bool(r.get("error_document")) for r in results),
        "re_evaluations_accepted": len(served["accepted"]),
        "re_evaluated_accounts": len({account for _, account in served["accepted"]}),
        "re_evaluations": len(again),
        "kept_requests_left": len(kept_left),
        # How the asking was shared: runs that called StartConfigRulesEvaluation, and the most one run made.
        "asking_runs": sum(r["calls"].get(START, 0) > 0 for r in results),
        "most_asks_in_a_run": max((r["calls"].get(START, 0) for r in results), default=0),
        "propagation": propagation,
        "ledger_calls": ledger_calls,
        "refused": _summed(results, "refused"),
        "calls_per_periodic_event": _by_operation(periodic),
        "calls_per_re_evaluation": _by_operation(again) if again else {},
        "calls_of_the_finding_run": finder[0]["calls"] if finder else {},
        "finding_run_wall": finder[0]["wall"] if finder else None,
        "periodic_wall": {
            "median": statistics.median(r["wall"] for r in periodic),
            "max": max(r["wall"] for r in periodic),
        },
        "calls_counted": sum(sum(r["calls"].values()) for r in results),
        "requests_at_the_double": sum(served["double_calls"].values()),
        "cost": day_cost(results, served["inits"], items, defaults["memory_mb"]),
        "invocations_log": [_logged(r) for r in results],
    }
    if later_day:
        line["later_day"] = _later_day(aws, next_day, expected, rules, defaults["memory_mb"])
    print(summary(line), flush=True)
    return line


def _later_day(
    aws: AwsDouble,
    served: dict[str, Any],
    expected: dict[str, dict[str, str]],
    rules: dict[str, str],
    memory_mb: int,
) -> dict[str, Any]:
    """A day after the first: what every member's periodic run costs once the ledger holds the organization."""
    results = served["results"]
    wrong = [
        f"{account} {arn.rsplit('/', 1)[-1]}"
        for account, rows in expected.items()
        for arn, verdict in rows.items()
        if (stored := aws.evaluations(rules[account], account).get(arn)) is None or stored.compliance_type != verdict
    ]
    return {
        "wall": served["wall"],
        "timed_out": served["timed_out"],
        "invocations": len(results),
        "re_evaluations": sum(r["kind"] == "re-evaluation" for r in results),
        "failed": [f"{r['account']} ({r['kind']}): {r['error']}" for r in results if r["error"]],
        "wrong": wrong,
        "calls_per_periodic_event": _by_operation([r for r in results if r["kind"] == "periodic"]),
        "propagation": _summed(results, "propagation"),
        "ledger_calls": _summed(results, "ledger"),
        "container_init_s": served["inits"],
        "cost": day_cost(results, served["inits"], ledger_items(aws), memory_mb),
    }


def _logged(result: dict[str, Any]) -> dict[str, Any]:
    """One invocation as results.json keeps it: whose, which, when (seconds, to the millisecond) and how."""
    kept = {k: result.get(k) for k in ("account", "kind", "attempt", "error")}
    return kept | {k: round(float(result.get(k) or 0.0), 3) for k in ("begun", "ended", "wall", "cpu")}


def summary(line: dict[str, Any]) -> str:
    cost = line["cost"]

    def at(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f} s"

    return (
        f"organization at scale: {line['members']} members x {line['per_member']}, {line['holders']} share a key, "
        f"concurrency {line['concurrency']}, {line['latency_ms']:g} ms: "
        f"every member's rows at {at(line['rows_wall'])}, "
        f"every holder NON_COMPLIANT at {at(line['non_compliant_wall'])} (wall {line['wall']:.1f} s); "
        f"{line['invocations']} invocations ({line['re_evaluations']} re-evaluations, {len(line['failed'])} failed), "
        f"{len(line['wrong'])} wrong of {line['verdicts']}; kept requests left {line['kept_requests_left']}; "
        f"propagation {line['propagation']}; function-minutes {cost['function_seconds'] / 60:.1f}; "
        f"day: {cost['rru']:.0f} RRU + {cost['wru']:.0f} WRU = ${cost['dynamodb_usd']:.4f}, "
        f"Lambda ${cost['lambda_usd']:.4f}"
        + (
            f"; later day: {later['invocations']} invocations in {later['wall']:.1f} s, {len(later['failed'])} failed, "
            f"{len(later['wrong'])} wrong, ${later['cost']['dynamodb_usd']:.4f} + ${later['cost']['lambda_usd']:.4f}"
            if (later := line.get("later_day"))
            else ""
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--per-member", type=int, default=PER_MEMBER)
    parser.add_argument("--holders", type=int, default=HOLDERS)
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the template's ReservedConcurrency")
    parser.add_argument("--first-day-only", action="store_true", help="not the later day on the warm ledger")
    args = parser.parse_args(argv)
    with AwsDouble() as aws:
        org_scale_line(
            aws,
            args.members,
            args.per_member,
            args.holders,
            args.latency_ms,
            args.concurrency,
            later_day=not args.first_day_only,
        )


if __name__ == "__main__":
    main()
