"""What propagation.py keeps in the ledger: rule registrations, owed markers and kept requests (schema.py
gives their items; docs/ledger.md, "Write order", the protocol)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from .schema import (
    PENDING,
    KeptRequest,
    RuleRegistration,
    account_pk,
    instant,
    kept_request_attributes,
    kept_request_from_item,
    pending_key,
    rule_from_item,
    rule_item,
    string,
    summary_key,
)
from .store import Table, claim, set_clause

MAX_CONCURRENT_UPDATES = 16


class KeptRequests:
    """The Ledger's methods for re-evaluations owed and kept (records.py composes them)."""

    store: Table

    def register_rule(self, registration: RuleRegistration) -> None:
        """What another run needs to ask this account's rule to evaluate again."""
        self.store.put(rule_item(registration))

    def rules(self, accounts: Iterable[str]) -> list[RuleRegistration]:
        """The recorded rules of these accounts."""

        def of(account: str) -> list[dict[str, Any]]:
            return list(self.store.query(account_pk(account), "#RULE#"))

        # One Query per account (a rule's Region is not known in advance), in parallel: a key may have hundreds.
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPDATES) as pool:
            found = list(pool.map(of, sorted(set(accounts))))
        return [rule_from_item(item) for items in found for item in items]

    def claim_owed(self, key: str, token: str, owner: str, now: datetime, expires: datetime) -> bool:
        """Take the writing-out of the key's owed re-evaluations (token), unless another run holds it."""
        taken = self.store.update(
            summary_key(key), **claim(owner, now, expires, "owed_", also="owed = :t", values={":t": string(token)})
        )
        return taken is not None

    def clear_owed(self, key: str, token: str) -> bool:
        """Remove the owed marker once its requests are kept; a newer lowering's marker (another token) stays."""
        cleared = self.store.update(
            summary_key(key),
            UpdateExpression="REMOVE owed, owed_spare, owed_owner, owed_expires",
            ConditionExpression="owed = :t",
            ExpressionAttributeValues={":t": string(token)},
        )
        return cleared is not None

    def keep(self, request: KeptRequest) -> None:
        """Keep a re-evaluation until Config accepts it (idempotent; a claim on it is left alone)."""
        assignments, names, values = set_clause(kept_request_attributes(request), "k")
        self.store.update(
            pending_key(request.account, request.region),
            UpdateExpression=f"SET {assignments}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def claim_kept(
        self, account: str, region: str, owner: str, now: datetime, expires: datetime, asked_before: datetime
    ) -> KeptRequest | None:
        """Take one kept request to ask it: only if it exists, nobody else holds it, and it was not
        refused after asked_before (Config accepts one request a minute per rule). Returns it as claimed."""
        claimed = self.store.update(
            pending_key(account, region),
            **claim(
                owner,
                now,
                expires,
                also="attribute_exists(pk) AND (attribute_not_exists(asked) OR asked <= :before)",
                values={":before": instant(asked_before)},
            ),
            ReturnValues="ALL_NEW",
        )
        return None if claimed is None else kept_request_from_item(claimed)

    def release_kept(self, request: KeptRequest, owner: str, asked: datetime) -> None:
        """Leave a claimed request kept, refused (or overtaken) at asked, for a later run."""
        self.store.update(
            pending_key(request.account, request.region),
            UpdateExpression="SET asked = :asked REMOVE #owner, expires",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":asked": instant(asked), ":me": string(owner)},
        )

    def finish_kept(self, request: KeptRequest, owner: str) -> bool:
        """Delete a claimed request Config accepted, unless it was kept again since it was claimed."""
        same = "owed = :t" if request.owed is not None else "attribute_not_exists(owed)"
        return self.store.delete(
            pending_key(request.account, request.region),
            ConditionExpression=f"#owner = :me AND {same}",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": string(owner), **({":t": string(request.owed)} if request.owed else {})},
        )

    def kept_window(self, start: str, limit: int) -> list[KeptRequest]:
        """At most limit kept requests, from sort key start on and then from the partition's beginning:
        a run reads a window of the PENDING partition, not all of it."""
        found = [kept_request_from_item(item) for item in self.store.query(PENDING, from_sk=start, limit=limit)]
        if len(found) < limit and start:
            found += [
                kept_request_from_item(item)
                for item in self.store.query(PENDING, below_sk=start, limit=limit - len(found))
            ]
        return found

    def kept_requests(self) -> list[KeptRequest]:
        """Every kept request (the whole PENDING partition: for operators and tests, never for a run)."""
        return [kept_request_from_item(item) for item in self.store.query(PENDING)]
