"""The benchmark's organization lines: heartbleed-audit over 50 accounts x 20 certificates against
one account of 1,000; and over the same organization from the key ledger (audit --organization --ledger)
against the live organization audit. Each pair is measured in the same run, each audit in a fresh
interpreter, at the same latency.

The 1,000 certificates are the same in both estates (same keys and dates), so the two audits
judge the same pool; only the spread over accounts differs.

The ledger line fills the ledger before anything is timed, as the organization rule fills it: one
periodic run of the rule per account (the management account's too), all in one container of the
central function (bench/child.py with BENCH_FUNCTION_ACCOUNT), each through the account's execution
role, with no added latency. Then both audits run, in turn, at the added latency, and must agree row
for row (the same JSON), or the benchmark stops.

    python -m bench.run --organization-only   merged into bench/results.json
    python -m bench.run --ledger-audit-only   the ledger line alone, merged into bench/results.json
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import BaseResponse

from heartbleed_audit import events
from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

from .runs import LEDGER_TABLE, containers, create_ledger, double_env, ledger_items, served_cpu

ACCOUNTS, PER_ACCOUNT = 50, 20
REPEATS = 3  # the target is a bound: the worst ratio of these is reported
MEMBER_ROLE = "HeartbleedServerCertificateExecution"  # the templates' default ExecutionRoleName
FROM_LEDGER = re.compile(r"(\d+) certificate bodies taken from the key ledger")


def _certificates(count: int) -> list[tuple[Issued, datetime]]:
    """Certificates and upload instants: one in ten issued in 2013 with one shared key, the rest clean."""
    old_key = new_key()
    made = []
    for i in range(count):
        if i % 10 == 0:
            made.append(
                (issue(f"old-{i}", datetime(2013, 6, 1, tzinfo=UTC), key=old_key), datetime(2013, 6, 2, tzinfo=UTC))
            )
        else:
            issued = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i % 300)
            made.append((issue(f"cert-{i}", issued), issued + timedelta(hours=6)))
    return made


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_audit(aws: AwsDouble, *argv: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """heartbleed-audit in a fresh interpreter: wall time, exit code, rows, the calls it made, its own CPU
    seconds and the double's in serving it; and its rows."""
    env = double_env(aws)
    command = [sys.executable, "-P", "-c", "from heartbleed_audit.cli import entry; entry()", "audit", *argv]
    aws.conditions.reset_counts()
    cpu = _children_cpu()
    with served_cpu(BaseResponse, lambda request: str(request.service_name)) as served:
        started = time.perf_counter()
        done = subprocess.run([*command, "--output", "json"], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the audit failed ({done.returncode}): {done.stderr[-500:]}")
    rows = json.loads(done.stdout)
    line = {
        "wall": wall,
        "exit": done.returncode,
        "rows": len(rows),
        "calls": dict(aws.conditions.calls),
        "cpu": _children_cpu() - cpu,
        "double_cpu": dict(served),
    }
    known = FROM_LEDGER.search(done.stderr)
    if known:
        line["bodies_from_ledger"] = int(known[1])
    return line, rows


def _audit(aws: AwsDouble, *argv: str) -> dict[str, Any]:
    return _run_audit(aws, *argv)[0]


def _organization(aws: AwsDouble, certificates: list[tuple[Issued, datetime]], per_account: int) -> list[str]:
    """A new organization: the management account and members, per_account certificates to each, in turn."""
    aws.reset()
    accounts = [ACCOUNT_ID, *aws.organization(len(certificates) // per_account - 1)]
    for index, (cert, uploaded) in enumerate(certificates):
        account = accounts[index // per_account]
        aws.upload(f"c-{index:04d}", cert.body, cert.private_key, uploaded=uploaded, account=account)
    return accounts


def organization_line(aws: AwsDouble, latency_ms: float) -> dict[str, Any]:
    certificates = _certificates(ACCOUNTS * PER_ACCOUNT)
    _organization(aws, certificates, PER_ACCOUNT)
    aws.conditions.latency = latency_ms / 1000
    spread = _audit(aws, "--organization")
    aws.conditions.latency = 0.0

    aws.reset()
    aws.set_certificate_quota(len(certificates))
    for index, (cert, uploaded) in enumerate(certificates):
        aws.upload(f"c-{index:04d}", cert.body, cert.private_key, uploaded=uploaded)
    aws.conditions.latency = latency_ms / 1000
    single = _audit(aws)
    aws.conditions.latency = 0.0
    ratio = spread["wall"] / single["wall"]
    print(
        f"organization audit, {ACCOUNTS} accounts x {PER_ACCOUNT} at {latency_ms:g} ms: {spread['wall']:.2f} s, "
        f"{sum(spread['calls'].values())} calls {spread['calls']}; one account of {len(certificates)}: "
        f"{single['wall']:.2f} s, {sum(single['calls'].values())} calls; ratio {ratio:.2f} (target 1.5)",
        flush=True,
    )
    return {
        "accounts": ACCOUNTS,
        "per_account": PER_ACCOUNT,
        "latency_ms": latency_ms,
        "organization": spread,
        "one_account": single,
        "ratio": ratio,
    }


def organization_runs(aws: AwsDouble, latency_ms: float) -> dict[str, Any]:
    runs = [organization_line(aws, latency_ms) for _ in range(REPEATS)]
    worst = max(run["ratio"] for run in runs)
    print(f"organization audit: worst ratio of {REPEATS} runs {worst:.2f} (target 1.5)", flush=True)
    return {"runs": runs, "worst_ratio": worst}


def _summary(audit: dict[str, Any]) -> str:
    served = ", ".join(f"{service} {spent:.2f} s" for service, spent in sorted(audit["double_cpu"].items()))
    return (
        f"{audit['wall']:.2f} s, {sum(audit['calls'].values())} calls {audit['calls']}, CPU {audit['cpu']:.2f} s, "
        f"the double's CPU {served}"
    )


def _fill_ledger(aws: AwsDouble, accounts: list[str]) -> dict[str, Any]:
    """One periodic run of the organization rule per account, in one container of the central function, with
    KeyLedgerTable: what fills the ledger in a deployment. Its wall time and calls, summed over the events."""
    parameters = {"KeyLedgerTable": LEDGER_TABLE, "ExecutionRoleName": MEMBER_ROLE}
    runs = [
        events.scheduled_event(aws.result_token(events.RULE_NAME, account), parameters, account=account)
        for account in accounts
    ]
    wall, calls = 0.0, Counter[str]()
    env = {"BENCH_FUNCTION_ACCOUNT": ACCOUNT_ID}  # the function's ARN in its context: the guard applies
    for result, made, _ in containers(aws, runs, extra_env=env):
        wall += result["wall"]
        calls.update(made)
    return {"events": len(runs), "wall": wall, "calls": dict(calls)}


def ledger_audit_line(
    aws: AwsDouble,
    latency_ms: float = 50.0,
    repeats: int = REPEATS,
    accounts: int = ACCOUNTS,
    per_account: int = PER_ACCOUNT,
) -> dict[str, Any]:
    """The organization report from the key ledger against the live organization audit, on one organization
    whose ledger the rule filled; the two audits alternate which runs first, repeats times."""
    certificates = _certificates(accounts * per_account)
    members = _organization(aws, certificates, per_account)
    create_ledger(aws)  # in the management account, where the central function runs and the audit is run
    fill = _fill_ledger(aws, members)
    aws.conditions.latency = latency_ms / 1000
    runs = []
    for repeat in range(repeats):
        order: list[tuple[str, tuple[str, ...]]] = [("live", ()), ("ledger", ("--ledger", LEDGER_TABLE))]
        if repeat % 2:  # the second run of each pair meets a double that has served the first
            order.reverse()
        measured = {name: _run_audit(aws, "--organization", *extra) for name, extra in order}
        (live, live_rows), (ledger, ledger_rows) = measured["live"], measured["ledger"]
        if ledger_rows != live_rows:
            raise RuntimeError("the ledger-backed organization report disagrees with the live audit")
        runs.append({"live": live, "ledger": ledger, "agree": True, "ratio": ledger["wall"] / live["wall"]})
        print(
            f"organization report, {accounts} accounts x {per_account} at {latency_ms:g} ms, the same "
            f"{len(live_rows)} rows: from the ledger {_summary(ledger)}; live {_summary(live)}",
            flush=True,
        )
    aws.conditions.latency = 0.0
    line = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "accounts": accounts,
        "per_account": per_account,
        "latency_ms": latency_ms,
        "fill": fill,
        "ledger_items": len(ledger_items(aws)),
        "runs": runs,
        "worst_live_wall": max(run["live"]["wall"] for run in runs),
        "worst_ledger_wall": max(run["ledger"]["wall"] for run in runs),
    }
    print(
        f"organization report from the ledger: worst of {repeats} {line['worst_ledger_wall']:.2f} s, live "
        f"{line['worst_live_wall']:.2f} s (the ledger filled by {fill['events']} rule runs, {fill['wall']:.1f} s)",
        flush=True,
    )
    return line
