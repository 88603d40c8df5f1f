"""The benchmark's organization line: heartbleed-audit over 50 accounts x 20 certificates against
one account of 1,000, measured in the same run, each in a fresh interpreter, at the same latency.

The 1,000 certificates are the same in both estates (same keys and dates), so the two audits
judge the same pool; only the spread over accounts differs.

    python -m bench.run --organization-only   merged into bench/results.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from heartbleed_audit.demo.pki import Issued, issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

from .runs import double_env

ACCOUNTS, PER_ACCOUNT = 50, 20
REPEATS = 3  # the target is a bound: the worst ratio of these is reported


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


def _audit(aws: AwsDouble, *argv: str) -> dict[str, Any]:
    """heartbleed-audit in a fresh interpreter; wall time, exit code, rows and the calls it made."""
    env = double_env(aws)
    command = [sys.executable, "-P", "-c", "from heartbleed_audit.cli import entry; entry()", "audit", *argv]
    aws.conditions.reset_counts()
    started = time.perf_counter()
    done = subprocess.run([*command, "--output", "json"], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the audit failed ({done.returncode}): {done.stderr[-500:]}")
    rows = json.loads(done.stdout)
    return {"wall": wall, "exit": done.returncode, "rows": len(rows), "calls": dict(aws.conditions.calls)}


def organization_line(aws: AwsDouble, latency_ms: float) -> dict[str, Any]:
    certificates = _certificates(ACCOUNTS * PER_ACCOUNT)
    aws.reset()
    accounts = [ACCOUNT_ID, *aws.organization(ACCOUNTS - 1)]
    for index, (cert, uploaded) in enumerate(certificates):  # PER_ACCOUNT to each account, in turn
        account = accounts[index // PER_ACCOUNT]
        aws.upload(f"c-{index:04d}", cert.body, cert.private_key, uploaded=uploaded, account=account)
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
