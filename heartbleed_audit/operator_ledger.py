"""The key ledger as an operator uses it from a terminal: what the rule's function never does.

Enumerating every key is a Scan, and removing evidence is deleting items; both live here, outside the
rule's package, so the function's role needs neither dynamodb:Scan nor dynamodb:DeleteItem on items
of evidence (docs/cli.md, `ledger forget`: removing evidence is an explicit, logged operator act). Everything here goes
through the ledger's public methods and its store (heartbleed.ledger.Table), like the rule's code.

A removal is logged first, with every item it removes and the accounts whose rules it queues, and
marked done last: a removal stopped part-way is on record, and running forget again finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from heartbleed.ledger.records import Ledger
from heartbleed.ledger.schema import (
    FORGOTTEN,
    SCHEMA_VERSION,
    SUMMARY,
    KeptRequest,
    MemberRun,
    account_pk,
    instant,
    key_pk,
    member_run_from_item,
    run_sk,
)

LOGGED = "logged"  # a removal's state until its items are deleted and its accounts queued
DONE = "done"


@dataclass(frozen=True)
class Removal:
    """One logged removal of a key's evidence."""

    sk: str
    key: str
    who: str
    removed: tuple[tuple[str, str], ...]  # (pk, sk) of every item it removes
    accounts: tuple[str, ...]  # whose recorded rules it queues to evaluate again
    done: bool


def _removal(item: dict[str, Any]) -> Removal:
    removed = tuple(tuple(str(entry["S"]).split(" ", 1)) for entry in item.get("removed", {}).get("L", []))
    return Removal(
        sk=str(item["sk"]["S"]),
        key=str(item.get("key", {}).get("S", "")),
        who=str(item.get("who", {}).get("S", "")),
        removed=tuple((pk, sk) for pk, sk in removed),
        accounts=tuple(str(entry["S"]) for entry in item.get("accounts", {}).get("L", [])),
        # A log without a state was written by an earlier version, which finished or failed loudly.
        done=item.get("state", {}).get("S", DONE) == DONE,
    )


class OperatorLedger(Ledger):
    def _scan(self, **request: Any) -> list[dict[str, Any]]:
        """Every item a Scan returns, every page, strongly consistent. The rule's own code never scans: Scan
        is the operator's alone."""
        request = {"TableName": self.table, "ConsistentRead": True, **request}
        found: list[dict[str, Any]] = []
        while True:
            page = self.store.call("read", "scan", **request)
            found += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def keys(self) -> list[str]:
        """Every key with a summary: a Scan of the whole table."""
        items = self._scan(
            FilterExpression="sk = :summary AND begins_with(pk, :k)",
            ProjectionExpression="pk",
            ExpressionAttributeValues={":summary": {"S": SUMMARY}, ":k": {"S": key_pk("")}},
        )
        return sorted(str(item["pk"]["S"]).removeprefix(key_pk("")) for item in items)

    def all_member_runs(self) -> list[MemberRun]:
        """Every account's recorded runs, per Region (a Scan: the rule reads them by account only)."""
        items = self._scan(
            FilterExpression="begins_with(pk, :a) AND begins_with(sk, :run)",
            ExpressionAttributeValues={":a": {"S": account_pk("")}, ":run": {"S": run_sk("")}},
        )
        return sorted((member_run_from_item(item) for item in items), key=lambda run: (run.account, run.region))

    def key_items(self, key: str) -> list[dict[str, Any]]:
        """Every item under the key, as stored: its summary and its certificates."""
        return list(self.store.query(key_pk(key)))

    def log_forget(
        self,
        key: str,
        who: str,
        when: datetime,
        reason: str,
        removed: Sequence[tuple[str, str]],
        accounts: Iterable[str] = (),
    ) -> str:
        """Record a removal of evidence in the ledger itself, before it is made; returns the log item's sort key."""
        sk = f"{instant(when)['S']}#{key}"
        self.store.put(
            {
                "pk": {"S": FORGOTTEN},
                "sk": {"S": sk},
                "key": {"S": key},
                "who": {"S": who},
                "when": instant(when),
                "reason": {"S": reason},
                "removed": {"L": [{"S": f"{pk} {sk}"} for pk, sk in removed]},
                "accounts": {"L": [{"S": account} for account in sorted(set(accounts))]},
                "state": {"S": LOGGED},
                "v": {"N": str(SCHEMA_VERSION)},
            }
        )
        return sk

    def forgotten(self) -> list[dict[str, Any]]:
        """Every logged removal, oldest first."""
        return list(self.store.query(FORGOTTEN))

    def unfinished(self, key: str) -> list[Removal]:
        """The logged removals of the key that were stopped before they were done, oldest first."""
        return [removal for removal in map(_removal, self.forgotten()) if removal.key == key and not removal.done]

    def finish_forget(self, sk: str, when: datetime) -> None:
        """Mark a logged removal done: its items deleted and its accounts queued."""
        self.store.update(
            {"pk": {"S": FORGOTTEN}, "sk": {"S": sk}},
            "SET #state = :done, finished = :when",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": {"S": DONE}, ":when": instant(when)},
        )

    def delete_items(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete these (pk, sk) items, 25 a call, retrying unprocessed ones (deleting a gone item is no error)."""
        self.store.batch_write([{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in keys])

    def ask_again(self, accounts: Iterable[str], now: datetime) -> list[dict[str, str]]:
        """Keep a re-evaluation of the accounts' recorded rules, as a lowering does: the next run of the
        rule anywhere asks them (heartbleed.ledger.propagation). Returns the rules kept. Idempotent.

        The operator needs no Config permission in other accounts: the function asks, through the roles it
        recorded. Kept with no refused ask, so the next run asks at once.
        """
        rules = self.rules(accounts)
        token = f"{instant(now)['S']}#operator"
        for rule in rules:
            self.keep(KeptRequest(rule["account"], rule["region"], rule["rule"], rule["role"], owed=token))
        return rules
