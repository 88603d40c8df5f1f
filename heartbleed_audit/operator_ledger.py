"""The key ledger as an operator uses it from a terminal: what the rule's function never does.

Enumerating every key is a Scan, and removing evidence is deleting items; both live here, outside the
rule's package, so the function's role needs neither dynamodb:Scan nor dynamodb:DeleteItem on items
of evidence (design section 11: removing evidence is an explicit, logged operator act).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from heartbleed.ledger import Ledger
from heartbleed.ledger_schema import (
    FORGOTTEN,
    SCHEMA_VERSION,
    SUMMARY,
    MemberRun,
    account_pk,
    instant,
    key_pk,
    member_run_from_item,
    run_sk,
)
from heartbleed.propagation import ASK_AGAIN_AFTER


class OperatorLedger(Ledger):
    def keys(self) -> list[str]:
        """Every key with a summary: a Scan of the whole table, every page, strongly consistent."""
        request: dict[str, Any] = {
            "FilterExpression": "sk = :summary AND begins_with(pk, :k)",
            "ProjectionExpression": "pk",
            "ExpressionAttributeValues": {":summary": {"S": SUMMARY}, ":k": {"S": key_pk("")}},
            "ConsistentRead": True,
        }
        found = []
        while True:
            page = self._call("read", "scan", **request)
            found += [str(item["pk"]["S"]).removeprefix(key_pk("")) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(found)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def all_member_runs(self) -> list[MemberRun]:
        """Every account's recorded runs, per Region (a Scan: the rule reads them by account only)."""
        request: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :a) AND begins_with(sk, :run)",
            "ExpressionAttributeValues": {":a": {"S": account_pk("")}, ":run": {"S": run_sk("")}},
            "ConsistentRead": True,
        }
        found = []
        while True:
            page = self._call("read", "scan", **request)
            found += [member_run_from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda run: (run.account, run.region))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def key_items(self, key: str) -> list[dict[str, Any]]:
        """Every item under the key, as stored: its summary and its certificates."""
        return list(self._query(key_pk(key)))

    def log_forget(self, key: str, who: str, when: datetime, reason: str, removed: Sequence[tuple[str, str]]) -> str:
        """Record a removal of evidence in the ledger itself, before it is made; returns the log item's sort key."""
        sk = f"{instant(when)['S']}#{key}"
        self._call(
            "written",
            "put_item",
            Item={
                "pk": {"S": FORGOTTEN},
                "sk": {"S": sk},
                "key": {"S": key},
                "who": {"S": who},
                "when": instant(when),
                "reason": {"S": reason},
                "removed": {"L": [{"S": f"{pk} {sk}"} for pk, sk in removed]},
                "v": {"N": str(SCHEMA_VERSION)},
            },
        )
        return sk

    def forgotten(self) -> list[dict[str, Any]]:
        """Every logged removal, oldest first."""
        return list(self._query(FORGOTTEN))

    def delete_items(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete these (pk, sk) items, 25 a call, retrying unprocessed ones."""
        self._batch_requests([{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in keys])

    def ask_again(self, accounts: Iterable[str], now: datetime) -> list[dict[str, str]]:
        """Queue a re-evaluation of the accounts' recorded rules, as a run keeps one Config refused: the
        next run of the rule anywhere asks them (heartbleed.propagation.ask). Returns the rules queued.

        The operator needs no Config permission in other accounts: the function asks, through the roles it
        recorded. Queued as if asked a minute ago, so the next run asks at once.
        """
        rules = self.rules(accounts)
        for rule in rules:
            self.keep_pending(rule["account"], rule["region"], rule["rule"], instant(now - ASK_AGAIN_AFTER)["S"])
        return rules
