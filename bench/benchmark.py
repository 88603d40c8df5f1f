"""The benchmark: the rule at the IAM quota's scale, against the seed's procedure.

The AWS double serves in this process; each Lambda container is a fresh
interpreter (bench_child), so wall time and peak RSS are the rule's own. Calls
are counted by the double, per action, as they arrive.

    python bench/run.py            everything (about 70 minutes: the pacing lines alone take 45)
    python bench/run.py --quick    N=20 and 100 only: no rate-limit curve, floor, storm or pacing
    python bench/run.py --skip-pacing         everything but the pacing lines, which are kept from --out
    python bench/run.py --organization-only   the organization line alone (bench_organization.py)
    python bench/run.py --storm-only          the change-event storm alone (bench_storm.py)
    python bench/run.py --pacing-only [--sizes 100 300] [--repeats 10]   throttles answered at once (bench_pacing.py)

The --*-only runs merge their lines into --out; `make bench` then renders the README's figures from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from heartbleed.deadline import RESERVE_MS
from heartbleed_audit import events
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import FAKE_CREDENTIALS, AwsDouble

from .child import IAM_033
from .organization import organization_runs
from .sizing import sizing

CUTOFF = datetime(2014, 4, 8, tzinfo=UTC)
FLOOR_REPEATS = 5  # rule and bare boto3 runs, in turn; the worst ratio is reported


def bound(size: int, rate: float) -> float:
    """Issue 9's time bound for reading size bodies at rate a second: 1.25 x N/R + 2 s."""
    return 1.25 * size / rate + 2


def build_account(aws: AwsDouble, size: int) -> None:
    """size certificates: one in ten uploaded before the cutoff, one in ten issued before it,
    one in twenty reissued later with such a key, the rest clean, each with its own key; every
    certificate is uploaded while it was valid, as IAM requires."""
    old_key = new_key()
    aws.set_certificate_quota(max(size, 20))  # raised as an account at this scale would have it
    with aws.environment():
        for i in range(size):
            name = f"cert-{i:04d}"
            kind = i % 20
            if kind in (0, 1):
                cert, uploaded = (
                    issue(name, datetime(2013, 6, 1, tzinfo=UTC), key=old_key),
                    datetime(2014, 1, 1, tzinfo=UTC),
                )
            elif kind in (2, 3):
                cert, uploaded = issue(name, datetime(2013, 9, 1, tzinfo=UTC)), datetime(2015, 6, 1, tzinfo=UTC)
            elif kind == 4:
                cert, uploaded = (
                    issue(name, datetime(2018, 1, 1, tzinfo=UTC), key=old_key),
                    datetime(2018, 1, 2, tzinfo=UTC),
                )
            else:
                cert, uploaded = _clean(name, i)
            aws.upload(name, cert.body, cert.private_key, path="/" if i % 3 else "/web/", uploaded=uploaded)


def _clean(name: str, i: int) -> tuple[Issued, datetime]:
    issued = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i)
    return issue(name, issued), issued + timedelta(hours=6)


def expected_calls(size: int, prior: int, body: bool) -> dict[str, int]:
    """The calls a cold periodic run makes: list pages, body reads, batches of 100, clean-up pages."""
    calls = {
        "iam:ListServerCertificates": max(1, math.ceil(size / 1000)),
        "config:PutEvaluations": max(1, math.ceil(size / 100)),
        "config:GetComplianceDetailsByConfigRule": max(1, math.ceil(prior / 100)),
    }
    if body and size:
        calls["iam:GetServerCertificate"] = size
    return calls


@dataclass
class Run:
    label: str
    size: int
    latency_ms: float
    wall: float
    rss_mib: float
    calls: dict[str, int]
    throttled: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict, repr=False)
    cpu: float = 0.0  # CPU seconds of the container process on this event


def containers(
    aws: AwsDouble, event_list: list[dict[str, Any]], mode: str = "rule"
) -> Iterator[tuple[dict[str, Any], dict[str, int], dict[str, int]]]:
    """Run the events in one fresh container (mode: rule, baseline or floor; see bench_child);
    yield each result with the calls it made."""
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": aws.endpoint_url}
    command = [sys.executable, "-P", "-m", "heartbleed_tools.bench_child", *([f"--{mode}"] if mode != "rule" else [])]
    with subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin and child.stdout
        aws.conditions.reset_counts()
        child.stdin.write(json.dumps(event_list) + "\n")
        child.stdin.flush()
        for index in range(len(event_list)):
            if index:
                assert child.stdout.readline().strip() == "ready"
                aws.conditions.reset_counts()
                child.stdin.write("go\n")
                child.stdin.flush()
            line = child.stdout.readline()
            if not line:
                raise RuntimeError(f"the container failed (exit {child.wait()})")
            yield json.loads(line), dict(aws.conditions.calls), dict(aws.conditions.throttled)


def periodic(aws: AwsDouble, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return events.scheduled_event(aws.result_token(events.RULE_NAME), {**events.LOCAL_ROLE, **(parameters or {})})


def run_once(aws: AwsDouble, label: str, size: int, event: dict[str, Any], mode: str = "rule") -> Run:
    result, calls, throttled = next(containers(aws, [event], mode))
    latency = aws.conditions.latency * 1000
    return Run(
        label, size, latency, result["wall"], result["rss_mib"], calls, throttled, result["verdicts"], result["cpu"]
    )


def floor_runs(aws: AwsDouble, size: int, latency_ms: float, repeats: int) -> list[dict[str, Any]]:
    """The rule against bare boto3 making the same calls, run by run in the same double, body check on
    and off: the worst ratio of the repeats, and the rule's CPU seconds per certificate (its worst)."""
    aws.reset()
    build_account(aws, size)
    run_once(aws, "warm-up", size, periodic(aws))  # the N earlier rows of a steady state
    aws.conditions.latency = latency_ms / 1000
    lines = []
    for body in (True, False):
        parameters = {} if body else {"CheckCertificateBody": "false"}
        pairs = [
            (
                run_once(aws, "rule", size, periodic(aws, parameters)),
                run_once(aws, "floor", size, periodic(aws, parameters), "floor"),
            )
            for _ in range(repeats)
        ]
        rule = max(pairs, key=lambda pair: pair[0].wall / pair[1].wall)
        line = {
            "size": size,
            "latency_ms": latency_ms,
            "body": body,
            "repeats": repeats,
            "rule_wall": rule[0].wall,
            "floor_wall": rule[1].wall,
            "ratio": rule[0].wall / rule[1].wall,
            "ratios": [r.wall / f.wall for r, f in pairs],
            "rule_calls": sum(rule[0].calls.values()),
            "floor_calls": sum(rule[1].calls.values()),
            "calls": rule[0].calls,
            "cpu_per_certificate_ms": max(r.cpu for r, _ in pairs) / size * 1000,
            "floor_cpu_per_certificate_ms": max(f.cpu for _, f in pairs) / size * 1000,
        }
        lines.append(line)
        print(
            f"N={size} {latency_ms:g} ms, body check {'on' if body else 'off'}: rule / bare boto3 worst of {repeats} "
            f"x{line['ratio']:.2f} ({line['rule_wall']:.2f} s / {line['floor_wall']:.2f} s), "
            f"{line['rule_calls']} calls (floor {line['floor_calls']}), "
            f"CPU {line['cpu_per_certificate_ms']:.2f} ms per certificate "
            f"(floor {line['floor_cpu_per_certificate_ms']:.2f})",
            flush=True,
        )
    aws.conditions.latency = 0.0
    return lines


def import_cost(repeats: int = 7) -> dict[str, float]:
    """Median import time in a fresh interpreter: the handler module against boto3 alone."""

    def timed(module: str) -> float:
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
        return float(out.stdout)

    handler = statistics.median(timed("HeartbleedServerCertificate") for _ in range(repeats))
    boto3 = statistics.median(timed("boto3") for _ in range(repeats))
    return {"handler_ms": handler * 1000, "boto3_ms": boto3 * 1000, "ratio": handler / boto3}


def benchmark(sizes: list[int], latency_ms: float, rates: list[float], quick: bool = False) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "periodic": [],
        "rate_limited": [],
        "change_events": [],
    }
    with AwsDouble() as aws:
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
                report["periodic"].append(
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
        report["change_events"] = change_events(aws)
        for rate in rates:
            aws.conditions.limit("iam:GetServerCertificate", rate)
            limited = run_once(aws, f"rule, {rate:g} GetServerCertificate/s", size, periodic(aws))
            floor = size / rate
            complete = len(limited.verdicts) == size and set(limited.verdicts.values()) <= {
                "COMPLIANT",
                "NON_COMPLIANT",
            }
            limited.verdicts = {}
            report["rate_limited"].append(
                {**asdict(limited), "rate": rate, "floor": floor, "bound": bound(size, rate), "complete": complete}
            )
            print(
                f"R={rate:g}/s: {limited.wall:.1f} s (floor {floor:.0f} s, bound {bound(size, rate):.1f} s), "
                f"throttled {limited.throttled}, complete {complete}",
                flush=True,
            )
        aws.conditions.limit("iam:GetServerCertificate", None)
        report["organization"] = organization_runs(aws, latency_ms)
        if not quick:
            report["floor"] = floor_runs(aws, max(sizes), latency_ms, FLOOR_REPEATS)
    report["import"] = import_cost()
    report["sizing"] = sizing_lines(report, latency_ms)
    return report


def sizing_lines(report: dict[str, Any], latency_ms: float) -> list[dict[str, Any]]:
    """The sizing table's cases: each cold periodic run at the service time, and the slowest rate-limited one
    (the Timeout's worst case); checked against the template's Timeout at its MemorySize."""
    runs = [
        {
            "label": f"N={e['rule']['size']:,}",
            "size": e["rule"]["size"],
            "wall": e["rule"]["wall"],
            "cpu": e["rule"]["cpu"],
        }
        for e in report["periodic"]
        if e["rule"]["latency_ms"] == latency_ms
    ]
    if report["rate_limited"]:
        slowest = max(report["rate_limited"], key=lambda e: e["wall"])
        runs.append({**slowest, "label": f"N={slowest['size']:,}, R={slowest['rate']:g}/s"})
    lines = sizing(runs, report["import"]["handler_ms"] / 1000)
    template = (Path(__file__).parent.parent / "rules" / "heartbleed-rule.yaml").read_text()
    memory, timeout = (int(re.search(rf"\b{key}: (\d+)", template)[1]) for key in ("MemorySize", "Timeout"))  # type: ignore[index]
    worst = max((line for line in lines if line["memory_mb"] == memory), key=lambda line: line["seconds"], default=None)
    if worst:
        budget = timeout - RESERVE_MS / 1000
        verdict = "within it" if worst["seconds"] <= budget else "OVER IT: raise MemorySize or Timeout"
        print(
            f"sizing: worst case at the template's {memory} MB: {worst['case']} {worst['seconds']:.1f} s; "
            f"the Timeout {timeout} s less the rule's {RESERVE_MS / 1000:g} s reserve is {budget:g} s: {verdict}",
            flush=True,
        )
    return lines


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=20 and 100, no rate-limit curve")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every request (default 50)")
    parser.add_argument("--rates", type=float, nargs="*", default=[5, 20, 100], help="GetServerCertificate limits")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument(
        "--organization-only", action="store_true", help="only the organization line, merged into --out"
    )
    parser.add_argument("--pacing-only", action="store_true", help="only the pacing lines, merged into --out")
    parser.add_argument("--storm-only", action="store_true", help="only the change-event storm, merged into --out")
    parser.add_argument(
        "--skip-pacing", action="store_true", help="everything but the pacing lines (45 minutes), kept from --out"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 300], help="pacing: N")
    parser.add_argument("--repeats", type=int, default=10, help="pacing: runs per line (the worst is reported)")
    args = parser.parse_args(argv)
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}

    def pacing(aws: AwsDouble) -> list[dict[str, Any]]:
        from .bench_pacing import pacing_runs  # it builds on this module

        return pacing_runs(aws, args.sizes, args.repeats)

    def storm(aws: AwsDouble) -> dict[str, Any]:
        from .bench_storm import storm_runs  # it builds on this module

        return storm_runs(aws)

    partial = {"pacing": args.pacing_only, "organization": args.organization_only, "storm": args.storm_only}
    runs = {"pacing": pacing, "organization": lambda aws: organization_runs(aws, args.latency_ms), "storm": storm}
    if any(partial.values()):
        report = earlier
        with AwsDouble() as aws:
            for key, chosen in partial.items():
                if chosen:
                    report[key] = runs[key](aws)
    else:
        sizes, rates = ([20, 100], []) if args.quick else ([20, 100, 1000], args.rates)
        report = benchmark(sizes, args.latency_ms, rates, quick=args.quick)
        print(
            f"import: handler {report['import']['handler_ms']:.0f} ms, boto3 {report['import']['boto3_ms']:.0f} ms, "
            f"ratio {report['import']['ratio']:.2f}"
        )
        if not args.quick:
            with AwsDouble() as aws:
                report["storm"] = storm(aws)
                report["pacing"] = earlier.get("pacing", []) if args.skip_pacing else pacing(aws)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
