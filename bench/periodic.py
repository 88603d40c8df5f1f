"""The benchmark's periodic runs: the rule at the IAM quota's scale against the seed's procedure, under
GetServerCertificate limits and against bare boto3 (the floor); with them, a change event's calls and
the handler's import time, and the lean start's lines. bench/run.py composes them (`python -m bench.run`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from heartbleed_audit import events
from heartbleed_audit.double import AwsDouble

from .runs import IAM_033, Run, bound, build_account, containers, periodic, run_once

FLOOR_REPEATS = 5  # rule and bare boto3 runs, in turn; the worst ratio is reported
# Besides N=1,000 at the benchmark's latency: with no latency nothing is waited for, so the ratio is the
# rule's own CPU work against the SDK's (the floor's set-up was measured here: docs/performance.md, against the floor).
FLOOR_CPU_LINE = (300, 0.0)
START_IMPORTS = 21  # the lean start's imports of each side per repetition (start_lines)
START_RUNS = 3  # the lean start's cold runs of each side per repetition, the fastest kept (start_lines)


def single_account(aws: AwsDouble, sizes: list[int], latency_ms: float, rates: list[float]) -> dict[str, Any]:
    """The periodic table (each N, unloaded and at latency_ms), then on the largest account at
    latency_ms a change event's calls and the rate-limited runs."""
    lines = []
    for size in sizes:
        aws.reset()
        build_account(aws, size)
        run_once(aws, "warm-up", size, periodic(aws))  # leaves the N rows a steady state has
        for latency in (0.0, latency_ms):
            aws.conditions.latency = latency / 1000
            rule = run_once(aws, "rule", size, periodic(aws))
            base = run_once(aws, "baseline", size, periodic(aws), "baseline")
            # Body check off at IAM-033's cutoff: the rule must then judge exactly as the baseline.
            off = run_once(aws, "rule, body check off, IAM-033 cutoff", size, periodic(aws, IAM_033))
            if off.verdicts != base.verdicts:
                raise AssertionError(f"N={size}: the rule at IAM-033's settings and the baseline disagree")
            lines.append(
                {
                    "rule": asdict(rule),
                    "baseline": asdict(base),
                    "body_check_off": asdict(off),
                    "ratio": base.wall / rule.wall,
                }
            )
            for entry in (rule, base, off):
                entry.verdicts = {}
            print(_row(rule, base, off), flush=True)
    size = max(sizes)
    aws.conditions.latency = latency_ms / 1000
    change = change_events(aws)
    limited = []
    for rate in rates:
        aws.conditions.limit("iam:GetServerCertificate", rate)
        run = run_once(aws, f"rule, {rate:g} GetServerCertificate/s", size, periodic(aws))
        floor = size / rate
        complete = len(run.verdicts) == size and set(run.verdicts.values()) <= {"COMPLIANT", "NON_COMPLIANT"}
        run.verdicts = {}
        limited.append({**asdict(run), "rate": rate, "floor": floor, "bound": bound(size, rate), "complete": complete})
        print(
            f"R={rate:g}/s: {run.wall:.1f} s (floor {floor:.0f} s, bound {bound(size, rate):.1f} s), "
            f"throttled {run.throttled}, complete {complete}",
            flush=True,
        )
    aws.conditions.limit("iam:GetServerCertificate", None)
    return {"periodic": lines, "rate_limited": limited, "change_events": change}


def floor_lines(aws: AwsDouble, size: int, latency_ms: float) -> list[dict[str, Any]]:
    """The floor at size and latency_ms, then at FLOOR_CPU_LINE."""
    return floor_runs(aws, size, latency_ms) + floor_runs(aws, *FLOOR_CPU_LINE)


def _pair(aws: AwsDouble, size: int, parameters: dict[str, str], least_of: int) -> tuple[Run, Run]:
    """One repetition: the rule and the floor in turn, least_of times, each side's fastest run (the one the
    machine's other processes disturbed least; both sides are treated alike)."""
    runs = [
        (
            run_once(aws, "rule", size, periodic(aws, parameters)),
            run_once(aws, "floor", size, periodic(aws, parameters), "floor"),
        )
        for _ in range(least_of)
    ]
    return min((r for r, _ in runs), key=lambda run: run.wall), min((f for _, f in runs), key=lambda run: run.wall)


def floor_runs(
    aws: AwsDouble, size: int, latency_ms: float, repeats: int = FLOOR_REPEATS, least_of: int = 1
) -> list[dict[str, Any]]:
    """The rule against bare boto3 making the same calls, run by run in the same double, body check on
    and off: the worst ratio of the repeats (wall, and CPU seconds of the two processes), and each side's
    CPU seconds per certificate (its worst). A repetition is each side's fastest of least_of runs in turn."""
    aws.reset()
    build_account(aws, size)
    run_once(aws, "warm-up", size, periodic(aws))  # the N earlier rows of a steady state
    aws.conditions.latency = latency_ms / 1000
    lines = []
    for body in (True, False):
        parameters = {} if body else {"CheckCertificateBody": "false"}
        pairs = [_pair(aws, size, parameters, least_of) for _ in range(repeats)]
        rule = max(pairs, key=lambda pair: pair[0].wall / pair[1].wall)
        line = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),  # --floor-only runs later than the rest
            "size": size,
            "latency_ms": latency_ms,
            "body": body,
            "repeats": repeats,
            "least_of": least_of,
            "rule_wall": rule[0].wall,
            "floor_wall": rule[1].wall,
            "ratio": rule[0].wall / rule[1].wall,
            "ratios": [r.wall / f.wall for r, f in pairs],
            "rule_calls": sum(rule[0].calls.values()),
            "floor_calls": sum(rule[1].calls.values()),
            "calls": rule[0].calls,
            "cpu_per_certificate_ms": max(r.cpu for r, _ in pairs) / size * 1000,
            "floor_cpu_per_certificate_ms": max(f.cpu for _, f in pairs) / size * 1000,
            "cpu_ratio": max(r.cpu / f.cpu for r, f in pairs),
            "pairs": [
                {"rule_wall": r.wall, "floor_wall": f.wall, "rule_cpu": r.cpu, "floor_cpu": f.cpu} for r, f in pairs
            ],
        }
        lines.append(line)
        print(
            f"N={size} {latency_ms:g} ms, body check {'on' if body else 'off'}: rule / bare boto3 worst of {repeats} "
            f"x{line['ratio']:.2f} ({line['rule_wall']:.2f} s / {line['floor_wall']:.2f} s), "
            f"{line['rule_calls']} calls (floor {line['floor_calls']}), "
            f"CPU {line['cpu_per_certificate_ms']:.2f} ms per certificate "
            f"(floor {line['floor_cpu_per_certificate_ms']:.2f}), CPU rule / floor worst x{line['cpu_ratio']:.2f}",
            flush=True,
        )
    aws.conditions.latency = 0.0
    return lines


def import_cost(repeats: int = 7, statistic: Callable[[list[float]], float] = statistics.median) -> dict[str, float]:
    """Import time in a fresh interpreter (statistic of repeats: the median by default), the handler module
    against boto3 alone, one of each in turn, so that a change in the machine's load falls on both sides;
    wall time, and the CPU time of the import (less disturbed by other processes on a loaded machine)."""

    def timed(module: str) -> tuple[float, float]:
        code = (
            f"import time; t, c = time.perf_counter(), time.process_time(); import {module}; "
            "print(time.perf_counter() - t, time.process_time() - c)"
        )
        out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
        wall, cpu = out.stdout.split()
        return float(wall), float(cpu)

    pairs = [(timed("HeartbleedServerCertificate"), timed("boto3")) for _ in range(repeats)]
    handler, boto3 = statistic([h[0] for h, _ in pairs]), statistic([b[0] for _, b in pairs])
    handler_cpu, boto3_cpu = statistic([h[1] for h, _ in pairs]), statistic([b[1] for _, b in pairs])
    return {
        "handler_ms": handler * 1000,
        "boto3_ms": boto3 * 1000,
        "ratio": handler / boto3,
        "handler_cpu_ms": handler_cpu * 1000,
        "boto3_cpu_ms": boto3_cpu * 1000,
        "cpu_ratio": handler_cpu / boto3_cpu,
    }


def compile_rule() -> None:
    """Byte code for the handler and its package where this venv imports them from, as the Lambda bundle
    carries it (build_tools/bundle.py); boto3 and rdklib were compiled when pip installed them. Without it
    (PYTHONDONTWRITEBYTECODE on this machine) every import would compile the rule's modules again."""
    code = (
        "import compileall, importlib.util as u, pathlib; "
        "origin = pathlib.Path(u.find_spec('HeartbleedServerCertificate').origin); "
        "ok = compileall.compile_file(origin, quiet=1); "
        "ok = compileall.compile_dir(origin.parent / 'heartbleed', quiet=1) and ok; "
        "raise SystemExit(0 if ok else 1)"
    )
    subprocess.run([sys.executable, "-P", "-c", code], check=True)


def start_lines(aws: AwsDouble, size: int, latency_ms: float, repeats: int = FLOOR_REPEATS) -> dict[str, Any]:
    """The rule's lean start (bench/report_start.py): the handler's import against `import boto3`, and the
    cold periodic run against bare boto3 with the body check on and off (floor_runs), each repeated, every
    repetition kept and the worst ratio reported."""
    started, load = time.monotonic(), os.getloadavg()[0]
    compile_rule()
    imports = []
    for _ in range(repeats):
        # The least of each side's imports: the one the other processes on the machine disturbed least.
        imports.append(import_cost(START_IMPORTS, min))
        print(
            f"import: handler {imports[-1]['handler_ms']:.0f} ms, boto3 {imports[-1]['boto3_ms']:.0f} ms, "
            f"ratio {imports[-1]['ratio']:.2f} (CPU {imports[-1]['cpu_ratio']:.2f})",
            flush=True,
        )
    lines = floor_runs(aws, size, latency_ms, repeats, START_RUNS)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "repeats": repeats,
        "import": {
            "ratio": max(i["ratio"] for i in imports),
            "cpu_ratio": max(i["cpu_ratio"] for i in imports),
            "imports": START_IMPORTS,
            "repetitions": imports,
        },
        "periodic": [{key: value for key, value in line.items() if key != "calls"} for line in lines],
        "wall_s": time.monotonic() - started,
        # The machine's load (1-minute average) at the start and the end: the worst of 5 is read against it.
        "load": [load, os.getloadavg()[0]],
        # The rule's modules were imported from byte code, as the Lambda bundle ships them (compile_rule).
        "byte_code": True,
    }


def change_events(aws: AwsDouble) -> list[dict[str, Any]]:
    """A change event's IAM calls: body check off; on, in a cold container and in a warm one."""
    iam = aws.client("iam")
    with aws.environment():
        name = iam.list_server_certificates(MaxItems=1)["ServerCertificateMetadataList"][0]["ServerCertificateName"]
        arn = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]["ServerCertificateMetadata"][
            "Arn"
        ]
    item = events.configuration_item(name, arn)
    off = {**events.LOCAL_ROLE, "CheckCertificateBody": "false"}
    results = []
    cases = [
        ("body check off", [events.change_event(item, aws.result_token(events.RULE_NAME), off)]),
        (
            "body check on, cold then warm container",
            [
                events.change_event(item, aws.result_token(events.RULE_NAME), events.LOCAL_ROLE),
                events.change_event(item, aws.result_token(events.RULE_NAME), events.LOCAL_ROLE),
            ],
        ),
    ]
    for label, event_list in cases:
        for index, (result, calls, _) in enumerate(containers(aws, event_list)):
            state = "" if len(event_list) == 1 else (" (cold)" if index == 0 else " (warm)")
            iam_calls = sum(count for action, count in calls.items() if action.startswith("iam:"))
            results.append({"case": label + state, "wall": result["wall"], "calls": calls, "iam_calls": iam_calls})
            print(f"change event, {label}{state}: {iam_calls} IAM calls {calls}, {result['wall']:.2f} s", flush=True)
    return results


def _row(rule: Run, base: Run, off: Run) -> str:
    calls = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(rule.calls.items()))
    return (
        f"N={rule.size:>4} latency {rule.latency_ms:>2.0f} ms: "
        f"rule {rule.wall:6.2f} s ({calls}; {rule.rss_mib:.0f} MiB), "
        f"baseline {base.wall:6.2f} s ({sum(base.calls.values())} calls), x{base.wall / rule.wall:.1f}; "
        f"body check off {off.wall:.2f} s ({sum(off.calls.values())} calls)"
    )
