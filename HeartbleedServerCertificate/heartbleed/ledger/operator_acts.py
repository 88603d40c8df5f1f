"""The key ledger as an operator uses it from a terminal (heartbleed-audit ledger): what the rule's function never
does. Enumerating every key or every member run is a Scan, and removing evidence deletes its items; the
function's role is granted neither (tests/test_templates.py reads the modules the rule uses, not this one), and
removing evidence is an explicit, logged operator act (docs/ledger.md).

A removal is logged first (pk FORGOTTEN, schema.py), with every item it removes and the accounts whose rules it
queues, and marked done last: a removal stopped part-way is on record, and running forget again finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .member_runs import MemberRun, member_run_from_item
from .records import Ledger
from .schema import (
    FORGOTTEN,
    IMPORTED,
    SCHEMA_VERSION,
    SUMMARY,
    Holder,
    KeptRequest,
    RuleRegistration,
    account_pk,
    certificate_sk,
    holder_from_item,
    instant,
    key_pk,
    owed_token,
    run_sk,
    string,
    text_of,
)

LOGGED = "logged"  # a removal's state until its items are deleted and its accounts queued
DONE = "done"


@dataclass(frozen=True)
class Removal:
    """One logged removal of a key's evidence."""

    sk: str
    key: str
    who: str
    reason: str
    removed: tuple[tuple[str, str], ...]  # (pk, sk) of every item it removes
    accounts: tuple[str, ...]  # whose recorded rules it queues to evaluate again
    done: bool


def _removal(item: Mapping[str, Any]) -> Removal:
    removed = tuple(tuple(str(entry["S"]).split(" ", 1)) for entry in item.get("removed", {}).get("L", []))
    return Removal(
        sk=text_of(item, "sk") or "",
        key=text_of(item, "key") or "",
        who=text_of(item, "who") or "",
        reason=text_of(item, "reason") or "",
        removed=tuple((pk, sk) for pk, sk in removed),
        accounts=tuple(str(entry["S"]) for entry in item.get("accounts", {}).get("L", [])),
        # A log without a state was written by an earlier version, which finished or failed loudly.
        done=(text_of(item, "state") or DONE) == DONE,
    )


@dataclass(frozen=True)
class KeyEvidence:
    """Everything the ledger holds against one key, as a removal deletes it."""

    holders: list[Holder]  # the certificates that carry or carried the key
    under_key: list[tuple[str, str]]  # (pk, sk) of every item under the key, its summary last

    @property
    def removed(self) -> list[tuple[str, str]]:
        """Every item a removal deletes, in its order: the certificates under their accounts first and the
        summary last, so that no run meets a summary-less certificate item of the key halfway (it would
        write the summary again)."""
        accounts = [
            (account_pk(h.account), certificate_sk(h.arn, h.certificate_id))
            for h in self.holders
            if h.service != IMPORTED
        ]
        return accounts + self.under_key


class OperatorLedger(Ledger):
    """The Ledger with the operator's reads and removals."""

    def _scan(self, **request: Any) -> list[dict[str, Any]]:
        """Every item a Scan returns, every page, strongly consistent."""
        request = {"TableName": self.name, "ConsistentRead": True, **request}
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
            ExpressionAttributeValues={":summary": string(SUMMARY), ":k": string(key_pk(""))},
        )
        return sorted(str(item["pk"]["S"]).removeprefix(key_pk("")) for item in items)

    def all_member_runs(self) -> list[MemberRun]:
        """Every account's recorded runs, per Region (a Scan: the rule reads them by account only)."""
        items = self._scan(
            FilterExpression="begins_with(pk, :a) AND begins_with(sk, :run)",
            ExpressionAttributeValues={":a": string(account_pk("")), ":run": string(run_sk(""))},
        )
        return sorted((member_run_from_item(item) for item in items), key=lambda run: (run.account, run.region))

    def key_evidence(self, key: str) -> KeyEvidence:
        """Every item under the key (one Query): its certificates and its summary."""
        items = list(self.store.query(key_pk(key)))
        holders = [holder_from_item(item) for item in items if str(item["sk"]["S"]).startswith("C#")]
        under_key = sorted(((str(i["pk"]["S"]), str(i["sk"]["S"])) for i in items), key=lambda pair: pair[1] == SUMMARY)
        return KeyEvidence(holders, under_key)

    def log_removal(
        self,
        key: str,
        who: str,
        when: datetime,
        reason: str,
        removed: Sequence[tuple[str, str]],
        accounts: Iterable[str],
    ) -> str:
        """Record a removal of evidence in the ledger itself, before it is made; returns the log item's sort key."""
        sk = f"{instant(when)['S']}#{key}"
        self.store.put(
            {
                "pk": string(FORGOTTEN),
                "sk": string(sk),
                "key": string(key),
                "who": string(who),
                "when": instant(when),
                "reason": string(reason),
                "removed": {"L": [string(f"{pk} {sk}") for pk, sk in removed]},
                "accounts": {"L": [string(account) for account in sorted(set(accounts))]},
                "state": string(LOGGED),
                "v": {"N": str(SCHEMA_VERSION)},
            }
        )
        return sk

    def removals(self) -> list[Removal]:
        """Every logged removal, oldest first."""
        return [_removal(item) for item in self.store.query(FORGOTTEN)]

    def unfinished(self, key: str) -> list[Removal]:
        """The logged removals of the key that were stopped before they were done, oldest first."""
        return [removal for removal in self.removals() if removal.key == key and not removal.done]

    def finish_removal(self, sk: str, when: datetime) -> None:
        """Mark a logged removal done: its items deleted and its accounts queued."""
        self.store.update(
            {"pk": string(FORGOTTEN), "sk": string(sk)},
            UpdateExpression="SET #state = :done, finished = :when",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": string(DONE), ":when": instant(when)},
        )

    def delete_items(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete these (pk, sk) items, 25 a call, retrying unprocessed ones (deleting a gone item is no error)."""
        self.store.batch_write([{"DeleteRequest": {"Key": {"pk": string(pk), "sk": string(sk)}}} for pk, sk in keys])

    def ask_again(self, accounts: Iterable[str], now: datetime) -> list[RuleRegistration]:
        """Keep a re-evaluation of the accounts' recorded rules, as a lowering does: the next run of the
        rule anywhere asks them (propagation.py). Returns the rules kept. Idempotent.

        The operator needs no Config permission in other accounts: the function asks, through the roles it
        recorded. Kept with no refused ask, so the next run asks at once.
        """
        rules = self.rules(accounts)
        token = owed_token(now, "operator")
        for rule in rules:
            self.keep(KeptRequest(rule.account, rule.region, rule.rule, rule.role, owed=token))
        return rules
