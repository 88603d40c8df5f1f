"""The benchmark's key ledger lines (docs/performance.md): a cold periodic run on an empty ledger, then a second
cold run (a new interpreter) on the warm ledger against bare boto3 making the same calls; and the
organization's central function taking one event per member account in turn, with the ledger.

    python -m bench.run --ledger-only        the periodic line, merged into bench/results.json
    python -m bench.run --central-only       the organization line, merged into bench/results.json
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from heartbleed_audit import events
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

from .ledger_cost import dynamodb_serving, run_cost
from .org_estate import build_estate
from .runs import LEDGER_TABLE, bound, build_account, containers, create_ledger, ledger_items, periodic, run_once

READ = "iam:GetServerCertificate"
REPEATS = 5  # the targets are bounds: the worst of these is reported
WARM_TARGET_S, FLOOR_TARGET = 3.0, 1.15
WITH_LEDGER = {"KeyLedgerTable": LEDGER_TABLE}


def ledger_lines(
    aws: AwsDouble, size: int = 1000, latency_ms: float = 50.0, rate: float = 20.0, repeats: int = REPEATS
) -> dict[str, Any]:
    """Each repeat on a new, empty ledger: the cold run under the read limit, then the second cold run
    and the floor of its calls (bench/child.py --ledger-floor)."""
    aws.reset()
    build_account(aws, size)
    # The verdicts to expect, and the N earlier rows of a steady state (the clean-up's pages).
    reference = run_once(aws, "reference", size, periodic(aws)).verdicts
    aws.conditions.latency = latency_ms / 1000
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        create_ledger(aws)
        aws.conditions.limit(READ, rate)
        with dynamodb_serving() as cold_cpu:
            cold = run_once(aws, "cold, empty ledger", size, periodic(aws, WITH_LEDGER))
        cold_cost = run_cost(ledger_items(aws), cold.calls, ACCOUNT_ID)
        with dynamodb_serving() as warm_cpu:
            warm = run_once(aws, "second cold run, warm ledger", size, periodic(aws, WITH_LEDGER))
        warm_cost = run_cost(ledger_items(aws), warm.calls, ACCOUNT_ID)
        floor = run_once(aws, "bare boto3, the same calls", size, periodic(aws, WITH_LEDGER), "ledger-floor")
        aws.conditions.limit(READ, None)
        run = {
            "cold_wall": cold.wall,
            "cold_calls": cold.calls,
            "cold_throttled": cold.throttled,
            "cold_cpu": cold.cpu,
            "cold_double_dynamodb_cpu": sum(cold_cpu.values()),
            "cold_cost": cold_cost,
            "warm_wall": warm.wall,
            "warm_calls": warm.calls,
            "warm_cpu": warm.cpu,
            "warm_double_dynamodb_cpu": sum(warm_cpu.values()),
            "warm_double_dynamodb_cpu_by_action": dict(warm_cpu),
            "warm_cost": warm_cost,
            "floor_wall": floor.wall,
            "floor_calls": floor.calls,
            "same_calls": floor.calls == warm.calls,
            "ratio": warm.wall / floor.wall,
            "correct": cold.verdicts == reference and warm.verdicts == reference,
        }
        runs.append(run)
        print(
            f"ledger N={size} R={rate:g}/s: cold {cold.wall:.1f} s (bound {bound(size, rate):.1f} s; "
            f"{cold.calls.get(READ, 0)} reads, double's DynamoDB CPU {run['cold_double_dynamodb_cpu']:.1f} s), "
            f"second cold {warm.wall:.2f} s ({warm.calls.get(READ, 0)} reads, double's DynamoDB CPU "
            f"{run['warm_double_dynamodb_cpu']:.2f} s), floor {floor.wall:.2f} s, x{run['ratio']:.2f}, "
            f"same calls {run['same_calls']}, correct {run['correct']}",
            flush=True,
        )
    aws.conditions.latency = 0.0
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "size": size,
        "latency_ms": latency_ms,
        "rate": rate,
        "bound": bound(size, rate),
        "repeats": repeats,
        "warm_target_s": WARM_TARGET_S,
        "floor_target": FLOOR_TARGET,
        "runs": runs,
        "worst_cold_wall": max(r["cold_wall"] for r in runs),
        "worst_warm_wall": max(r["warm_wall"] for r in runs),
        "worst_ratio": max(r["ratio"] for r in runs),
        "warm_reads": max(r["warm_calls"].get(READ, 0) for r in runs),
    }


# The organization line: members x certificates; the 2013 certificate whose key recent certificates of
# other members carry sits in the middle member, so that members before it learn of it by propagation.
MEMBERS, PER_MEMBER = 50, 20
MEMBER_ROLE = "HeartbleedServerCertificateExecution"  # the templates' default ExecutionRoleName


def _planted(members: int) -> tuple[int, list[int]]:
    """The member with the 2013 certificate, and every holder of its key (it, every tenth and the last)."""
    old = members // 2
    return old, sorted({old, *range(0, members, 10), members - 1})


def _event(aws: AwsDouble, member: str) -> dict[str, Any]:
    parameters = {**WITH_LEDGER, "ExecutionRoleName": MEMBER_ROLE}
    return events.scheduled_event(aws.result_token(events.RULE_NAME, member), parameters, account=member)


def central_line(
    aws: AwsDouble, latency_ms: float = 50.0, member_count: int = MEMBERS, per_member: int = PER_MEMBER
) -> dict[str, Any]:
    """One container of the central function takes a periodic event per member in turn, then the
    re-evaluations the run that found the 2013 certificate asked for (as Config would run them)."""
    aws.reset()
    members = aws.organization(member_count)
    old_member, holders = _planted(member_count)
    expected = build_estate(aws, members, per_member, old_member, holders)
    shared_members = [m for m in holders if m != old_member]
    create_ledger(aws)  # in the central account, where the function runs
    aws.conditions.latency = latency_ms / 1000
    per_event = []
    env = {"BENCH_FUNCTION_ACCOUNT": ACCOUNT_ID}  # the function's ARN in its context: the guard applies
    for member, (result, calls, _) in zip(
        members, containers(aws, [_event(aws, m) for m in members], extra_env=env), strict=True
    ):
        per_event.append({"account": member, "wall": result["wall"], "calls": calls})
    asked = [m for m in members if aws.started_evaluations(m)]
    again = []
    for member, (result, calls, _) in zip(
        asked, containers(aws, [_event(aws, m) for m in asked], extra_env=env), strict=True
    ):
        again.append({"account": member, "wall": result["wall"], "calls": calls})
    aws.conditions.latency = 0.0
    wrong = [
        f"{member} {arn.rsplit('/', 1)[-1]}: {stored.compliance_type if stored else 'none'}, expected {verdict}"
        for member in members
        for arn, verdict in expected[member].items()
        if (stored := aws.evaluations(events.RULE_NAME, member).get(arn)) is None or stored.compliance_type != verdict
    ]
    cross = [
        aws.evaluations(events.RULE_NAME, members[index]).get(arn)
        for index in shared_members
        for arn, verdict in expected[members[index]].items()
        if verdict == "NON_COMPLIANT"
    ]
    names_old_account = sum(members[old_member] in (e.annotation or "") for e in cross if e is not None)
    operations = sorted({op for e in per_event for op in e["calls"]})
    calls_per_account = {
        op: {
            "first": per_event[0]["calls"].get(op, 0),
            "median": statistics.median(e["calls"].get(op, 0) for e in per_event[1:]),
            "max": max(e["calls"].get(op, 0) for e in per_event),
        }
        for op in operations
    }
    line = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "members": member_count,
        "per_member": per_member,
        "latency_ms": latency_ms,
        "shared_key_accounts": len(shared_members) + 1,
        "wall": sum(e["wall"] for e in per_event),
        "first_event_wall": per_event[0]["wall"],
        "median_event_wall": statistics.median(e["wall"] for e in per_event[1:]),
        "asked": len(asked),
        "re_evaluation_wall": sum(e["wall"] for e in again),
        "calls_per_account": calls_per_account,
        "verdicts": sum(len(v) for v in expected.values()),
        "wrong": wrong,
        "cross_account_verdicts": len(cross),
        "cross_account_naming_the_2013_account": names_old_account,
        "per_event": per_event,
        "re_evaluations": again,
    }
    print(
        f"central function, {member_count} members x {per_member}, ledger, {latency_ms:g} ms: {line['wall']:.1f} s for "
        f"{member_count} events (first {line['first_event_wall']:.2f} s, median {line['median_event_wall']:.2f} s), "
        f"{len(asked)} re-evaluations asked ({line['re_evaluation_wall']:.1f} s); {len(wrong)} wrong of "
        f"{line['verdicts']}; {names_old_account}/{len(cross)} cross-account verdicts name the 2013 account; "
        f"calls per account {calls_per_account}",
        flush=True,
    )
    return line
