"""The backfill's line: heartbleed-audit audit --organization --ledger TABLE --record over 50 accounts x 20
certificates at an added latency, into an empty ledger (no member's rule has recorded anything yet), then
run again (nothing to change). Each run in a fresh interpreter; its wall time, its calls by operation, and
what its DynamoDB requests cost on demand.

Every member's rule is registered in the ledger first (one item per account, as a run of the organization
rule leaves it), so the lowering of the shared 2013 key queues a re-evaluation of every account that
carries it, as it would in an organization where the rule runs but has not yet seen those certificates.

The cost: a write costs one write request unit per 1 KB of the item, a strongly consistent read one read
request unit per 4 KB (Query: of the items it returns, together; BatchGetItem: each item), each request
at least one unit, at the on-demand prices in bench/ledger_cost.py (us-east-1, Standard table class; the
docs/performance.md cites the pricing page). The certificate items' sizes are taken from the table after the run; every
UpdateItem is charged at the largest summary's size, an upper bound.

    python -m bench.backfill [--latency-ms 50] [--accounts 50] [--per-account 20]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from heartbleed.ledger import Ledger, RuleRegistration
from heartbleed_audit.double import AwsDouble

from .ledger_cost import READ_UNIT, USD_PER_MILLION_RRU, USD_PER_MILLION_WRU, WRITE_UNIT, item_size
from .organization import MEMBER_ROLE, _certificates, _organization, _run_audit
from .runs import LEDGER_TABLE, create_ledger, ledger_items

RULE = "OrgConfigRule-HeartbleedServerCertificate-bench"


def _units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


def cost(calls: dict[str, int], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Request units and dollars of one backfill, from its counted calls and the table after it."""
    certificates = [item for item in items if item["pk"]["S"].startswith("A#") and item["sk"]["S"].startswith("C#")]
    summaries = [item for item in items if item["sk"]["S"] == "#"]
    largest = max((item_size(item) for item in summaries), default=0)
    holders = [item for item in items if item["sk"]["S"].startswith("C#")]  # both items of each certificate
    wrote = calls.get("dynamodb:BatchWriteItem", 0) > 0
    wru = (sum(_units(item_size(item), WRITE_UNIT) for item in holders) if wrote else 0) + calls.get(
        "dynamodb:UpdateItem", 0
    ) * _units(largest, WRITE_UNIT)
    # Each account's run reads back its keys' summaries; then the pool's keys are read once more to judge.
    per_account = {(item["pk"]["S"], item["key"]["S"]) for item in certificates}
    pool = {item["key"]["S"] for item in certificates}
    summary_reads = (len(per_account) + len(pool)) * _units(largest, READ_UNIT)
    # Every Query here reads one account's partition or a rule's items: 4 KB or less on a cold ledger; a warm
    # one reads the account's certificate items, charged together.
    query_reads = calls.get("dynamodb:Query", 0)
    if not wrote:
        by_account: dict[str, int] = {}
        for item in certificates:
            by_account[item["pk"]["S"]] = by_account.get(item["pk"]["S"], 0) + item_size(item)
        query_reads += sum(_units(size, READ_UNIT) - 1 for size in by_account.values())
    rru = query_reads + summary_reads
    return {"wru": wru, "rru": rru, "usd": wru * USD_PER_MILLION_WRU / 1e6 + rru * USD_PER_MILLION_RRU / 1e6}


def backfill_line(aws: AwsDouble, latency_ms: float, accounts: int, per_account: int) -> dict[str, Any]:
    certificates = _certificates(accounts * per_account)
    members = _organization(aws, certificates, per_account)
    create_ledger(aws)
    ledger = Ledger(aws.client("dynamodb"), LEDGER_TABLE)
    for account in members:
        ledger.register_rule(RuleRegistration(account, "us-east-1", RULE, f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"))
    aws.conditions.latency = latency_ms / 1000
    runs = []
    for name in ("into an empty ledger", "again"):
        line, rows = _run_audit(aws, "--organization", "--ledger", LEDGER_TABLE, "--record")
        dynamodb = {k: v for k, v in line["calls"].items() if k.startswith("dynamodb:")}
        line["cost"] = cost(dynamodb, ledger_items(aws))
        runs.append({"name": name, **line})
        print(
            f"backfill {name}, {accounts} accounts x {per_account} at {latency_ms:g} ms: {line['wall']:.2f} s, "
            f"{len(rows)} rows, {sum(line['calls'].values())} calls {line['calls']}; DynamoDB "
            f"{line['cost']['wru']} WRU + {line['cost']['rru']} RRU = ${line['cost']['usd']:.6f}",
            flush=True,
        )
    aws.conditions.latency = 0.0
    pending = [item for item in ledger_items(aws) if item["pk"]["S"] == "PENDING"]
    return {
        "accounts": accounts,
        "per_account": per_account,
        "latency_ms": latency_ms,
        "runs": runs,
        "kept": len(pending),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--per-account", type=int, default=20)
    args = parser.parse_args()
    with AwsDouble() as aws:
        line = backfill_line(aws, args.latency_ms, args.accounts, args.per_account)
    print(json.dumps(line, indent=2, default=str))


if __name__ == "__main__":
    main()
