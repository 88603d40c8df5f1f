"""The benchmark: the rule at the IAM quota's scale, against the seed's procedure, on the AWS double.

Composes the runners (bench/periodic.py, organization.py, storm.py, pacing.py, sizing.py; what they
share is bench/runs.py) and writes their lines to --out. Run from the project root:

    python -m bench.run            everything (about 70 minutes: the pacing lines alone take 45)
    python -m bench.run --quick    N=20 and 100 only: no rate-limit curve, floor, storm or pacing
    python -m bench.run --skip-pacing         everything but the pacing lines, which are kept from --out
    python -m bench.run --organization-only   the organization line alone (bench/organization.py)
    python -m bench.run --storm-only          the change-event storm alone (bench/storm.py)
    python -m bench.run --floor-only          the rule against bare boto3 alone (bench/periodic.py)
    python -m bench.run --start-only          the lean start: import and cold periodic runs against boto3,
                                              5 times each, the worst ratio reported (bench/report_start.py)
    python -m bench.run --pacing-only [--sizes 100 300] [--repeats 10]   throttles answered at once (bench/pacing.py)
    python -m bench.run --ledger-only         the key ledger's periodic line (bench/ledger.py, about 9 minutes)
    python -m bench.run --ledger-storm-only   the storm with the ledger, caps 1, 5 and 10 (bench/storm.py)
    python -m bench.run --central-only        the central function over 50 members with the ledger (bench/ledger.py)
    python -m bench.run --ledger-audit-only   the organization report from the ledger vs live (bench/organization.py)
    python -m bench.run --organization-scale-only   400 members through the central function at its reserved
                                              concurrency, 300 sharing a key (bench/org_scale.py, about 13 minutes)

The --*-only runs merge their lines into --out; `make bench` then renders docs/performance.md's figures from it
(python -m bench.report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heartbleed_audit.double import AwsDouble

from .ledger import central_line, ledger_lines
from .org_scale import org_scale_line
from .organization import ledger_audit_line, organization_runs
from .pacing import pacing_runs
from .periodic import floor_lines, import_cost, single_account, start_lines
from .sizing import sizing_lines
from .storm import LEDGER_CAPS, storm_runs

SIZES = [20, 100, 1000]  # the periodic table's N; the floor and the rate limits run at the largest


def benchmark(sizes: list[int], latency_ms: float, rates: list[float], quick: bool = False) -> dict[str, Any]:
    """Everything but the storm and the pacing lines, in one double."""
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    with AwsDouble() as aws:
        report |= single_account(aws, sizes, latency_ms, rates)
        report["organization"] = organization_runs(aws, latency_ms)
        if not quick:
            report["floor"] = floor_lines(aws, max(sizes), latency_ms)
    report["import"] = import_cost()
    report["sizing"] = sizing_lines(report, latency_ms)
    return report


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
    parser.add_argument("--floor-only", action="store_true", help="only the floor lines, merged into --out")
    parser.add_argument(
        "--start-only", action="store_true", help="only the lean start (import, cold runs), merged into --out"
    )
    parser.add_argument("--ledger-only", action="store_true", help="only the ledger's periodic line, merged")
    parser.add_argument("--ledger-storm-only", action="store_true", help="only the storm with the ledger, merged")
    parser.add_argument("--central-only", action="store_true", help="only the central function's line, merged")
    parser.add_argument(
        "--ledger-audit-only", action="store_true", help="only the organization report from the ledger, merged"
    )
    parser.add_argument(
        "--organization-scale-only",
        action="store_true",
        help="only the organization at scale (400 members, 300 sharing a key), merged",
    )
    parser.add_argument(
        "--skip-pacing", action="store_true", help="everything but the pacing lines (45 minutes), kept from --out"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 300], help="pacing: N")
    parser.add_argument("--repeats", type=int, default=10, help="pacing: runs per line (the worst is reported)")
    args = parser.parse_args(argv)
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}

    def pacing(aws: AwsDouble) -> list[dict[str, Any]]:
        return pacing_runs(aws, args.sizes, args.repeats)

    partial = {
        "pacing": args.pacing_only,
        "organization": args.organization_only,
        "storm": args.storm_only,
        "floor": args.floor_only,
        "start": args.start_only,
        "ledger": args.ledger_only,
        "storm_ledger": args.ledger_storm_only,
        "organization_ledger": args.central_only,
        "ledger_audit": args.ledger_audit_only,
        "organization_scale": args.organization_scale_only,
    }
    runs: dict[str, Callable[[AwsDouble], Any]] = {
        "pacing": pacing,
        "organization": lambda aws: organization_runs(aws, args.latency_ms),
        "storm": storm_runs,
        "floor": lambda aws: floor_lines(aws, max(SIZES), args.latency_ms),
        "start": lambda aws: start_lines(aws, max(SIZES), args.latency_ms),
        "ledger": lambda aws: ledger_lines(aws, max(SIZES), args.latency_ms),
        "storm_ledger": lambda aws: storm_runs(aws, caps=LEDGER_CAPS, ledger=True),
        "organization_ledger": lambda aws: central_line(aws, args.latency_ms),
        "ledger_audit": lambda aws: ledger_audit_line(aws, args.latency_ms),
        "organization_scale": lambda aws: org_scale_line(aws, latency_ms=args.latency_ms),
    }
    if any(partial.values()):
        report = earlier
        with AwsDouble() as aws:
            for key, chosen in partial.items():
                if chosen:
                    report[key] = runs[key](aws)
    else:
        sizes, rates = ([20, 100], []) if args.quick else (SIZES, args.rates)
        report = benchmark(sizes, args.latency_ms, rates, quick=args.quick)
        print(
            f"import: handler {report['import']['handler_ms']:.0f} ms, boto3 {report['import']['boto3_ms']:.0f} ms, "
            f"ratio {report['import']['ratio']:.2f}"
        )
        if not args.quick:
            with AwsDouble() as aws:
                report["storm"] = storm_runs(aws)
                for key in ("ledger", "storm_ledger", "organization_ledger", "ledger_audit", "organization_scale"):
                    report[key] = runs[key](aws)
                report["pacing"] = earlier.get("pacing", []) if args.skip_pacing else pacing(aws)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
