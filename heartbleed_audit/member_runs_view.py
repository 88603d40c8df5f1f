"""heartbleed-audit ledger show --accounts: which accounts the rule served, and when, per Region.

The rule records every run that its guard let through (heartbleed.ledger.MemberRun): its last
success, and its last failure with the reason. A refused event records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from heartbleed.ledger import MemberRun
from heartbleed.verdict import stamp


def state(run: MemberRun) -> str:
    if run.last_success is None:
        return "no result"
    return "failed last" if run.needs_evaluation else "ok"


def as_json(run: MemberRun) -> dict[str, Any]:
    return {
        "account": run.account,
        "region": run.region,
        "rule": run.rule,
        "state": state(run),
        "last_success": stamp(run.last_success) if run.last_success else None,
        "last_failure": stamp(run.last_failure) if run.last_failure else None,
        "failure": run.failure,
    }


def show(runs: Sequence[MemberRun], output: str, table: str) -> int:
    """Print the runs as a table or JSON; exit code 0."""
    if output == "json":
        print(json.dumps([as_json(run) for run in runs], indent=2))
        return 0
    rows = [("ACCOUNT", "REGION", "STATE", "LAST SUCCESS", "LAST FAILURE", "RULE", "LAST FAILURE'S REASON")]
    for run in runs:
        last_success = stamp(run.last_success) if run.last_success else "-"
        last_failure = stamp(run.last_failure) if run.last_failure else "-"
        rows.append((run.account, run.region, state(run), last_success, last_failure, run.rule, run.failure or "-"))
    # The last column (a reason) is not padded: nothing follows it.
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))
    accounts = len({run.account for run in runs})
    print(f"\n{accounts} accounts with recorded runs in {table}; an account the rule never served has none")
    return 0
