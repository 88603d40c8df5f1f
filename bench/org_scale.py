"""The organization at scale: one periodic event per member account through the central function, at its
default reserved concurrency, with a key that most members share, on the AWS double.

    python -m bench.run --organization-scale-only    400 members x 5 certificates, merged into bench/results.json
    python -m bench.org_scale --members 40 --holders 30    a smaller line, printed only

The organization and its events are bench/org_estate.py's; Lambda's queue, its containers and Config's
re-evaluations bench/lambda_queue.py's.

Measured: the wall time until every member has its rows and until every holder's wildcard row is
NON_COMPLIANT (from the moment the warm containers take the first event; their cold start is reported
apart), the calls of each invocation by operation (counted inside its container, bench/call_log.py),
the calls that propagation made, the function-seconds, and the cost of one organization-day: every
member's periodic run once, plus the re-evaluations, in DynamoDB on-demand request units
(bench/ledger_cost.py) and Lambda GB-seconds and requests (bench/sizing.py's rates); then, unless told
otherwise, a later day: every member's periodic run again on the warm ledger.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from heartbleed_audit.double import AwsDouble

from .lambda_queue import serve
from .ledger_cost import updated_units, usd
from .org_estate import OLD_AT, build_estate, member_event, member_rule, planted, template_defaults
from .runs import create_ledger, ledger_items
from .sizing import PRICE_PER_GB_SECOND, PRICE_PER_REQUEST

MEMBERS, PER_MEMBER, HOLDERS = 400, 5, 300
LATENCY_MS = 50.0
READ = "iam:GetServerCertificate"
START = "config:StartConfigRulesEvaluation"


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
    old, sharing = planted(members, holders, old_at)
    built = time.perf_counter()
    expected = build_estate(aws, accounts, per_member, old, sharing)
    build_s = time.perf_counter() - built
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
