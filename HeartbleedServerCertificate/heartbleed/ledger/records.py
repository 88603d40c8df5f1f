"""The key ledger in DynamoDB: the thin AWS layer under schema.py's items.

A run writes its own facts before it reads anyone's (strongly consistent reads on the table's own
keys), so of two concurrent runs at least one sees the other's evidence (docs/ledger.md).
Facts that others depend on are written before the items that say "done" (schema.py's docstring
gives the order). Any failure to read or write a configured ledger raises LedgerError: the rule never
judges without the evidence it was asked to use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from .schema import (
    IMPORTED,
    LEASE,
    OPTIONAL_EARLIEST,
    PENDING,
    SCHEMA_VERSION,
    SUMMARY,
    Holder,
    KeptRequest,
    KeySummary,
    MemberRun,
    Owed,
    account_pk,
    certificate_items,
    earliest_attributes,
    holder_from_item,
    instant,
    kept_request_attributes,
    kept_request_from_item,
    key_pk,
    member_run_from_item,
    pending_sk,
    read_instant,
    rule_sk,
    run_sk,
    run_update,
    summary_from_item,
)
from .store import LedgerError, LedgerMissing, Table, set_clause, unless_held

LOG = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 16


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def open_ledger(table: str) -> Ledger:
    """The ledger named by KeyLedgerTable, with the function's own credentials (never a member's role).

    A table ARN names its Region; a bare name is in the function's Region.
    """
    import boto3

    region = table.split(":")[3] if table.startswith("arn:") else None
    return Ledger(boto3.client("dynamodb", region_name=region), table)


def _summary_key(key: str) -> dict[str, Any]:
    return {"pk": _s(key_pk(key)), "sk": _s(SUMMARY)}


def _pending_key(account: str, region: str) -> dict[str, Any]:
    return {"pk": _s(PENDING), "sk": _s(pending_sk(account, region))}


class Ledger:
    """One ledger table, through a DynamoDB client of the function's own account."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.store = Table(dynamodb, table)

    # Reads -----------------------------------------------------------------------------------

    def account_certificates(self, account: str) -> dict[tuple[str, str], Holder]:
        """Every certificate the ledger holds for the account, by (ARN, id), deleted ones included."""
        holders = (holder_from_item(item) for item in self.store.query(account_pk(account), "C#"))
        return {(holder.arn, holder.certificate_id): holder for holder in holders}

    def key_holders(self, key: str) -> list[Holder]:
        """Every certificate that carries or carried the key."""
        return [holder_from_item(item) for item in self.store.query(key_pk(key), "C#")]

    def summaries(self, keys: Iterable[str]) -> dict[str, KeySummary]:
        """The summary of each key that has one (strongly consistent)."""
        found = {}
        for item in self.store.batch_get([_summary_key(key) for key in sorted(set(keys))]):
            summary = summary_from_item(item)
            found[summary.key] = summary
        return found

    def rules(self, accounts: Iterable[str]) -> list[dict[str, str]]:
        """The recorded rules of these accounts: account, region, rule name, role ARN (may be empty)."""

        def of(account: str) -> list[dict[str, Any]]:
            return list(self.store.query(account_pk(account), "#RULE#"))

        # One Query per account (a rule's Region is not known in advance), in parallel: a key may have hundreds.
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPDATES) as pool:
            found = list(pool.map(of, sorted(set(accounts))))
        return [
            {name: str(item.get(name, {}).get("S", "")) for name in ("account", "region", "rule", "role")}
            for items in found
            for item in items
        ]

    # Evidence ----------------------------------------------------------------------------------

    def put_certificates(self, holders: Sequence[Holder]) -> None:
        """Write both items of each certificate (idempotent: the same facts give the same items)."""
        self.store.batch_write(
            [{"PutRequest": {"Item": item}} for holder in holders for item in certificate_items(holder)]
        )

    def add_evidence(self, holder: Holder, accounts: Iterable[str] = (), owed: Owed | None = None) -> bool:
        """Add the holder's account (and accounts: other holders' of the same write) to its key's summary,
        and make the holder the earliest evidence if it is; a lowering also records owed, the
        re-evaluations it owes (schema.py), in the same conditional write.

        Returns whether this write lowered the key's earliest evidence date (or created the summary):
        new evidence, which other holders of the key must hear of. Idempotent: applied again, it
        changes nothing and returns False.
        """
        assignments, names, values = set_clause(earliest_attributes(holder), "e")
        removed = [name for name in OPTIONAL_EARLIEST if name not in names.values()]
        if owed is not None:  # a newer lowering's marker replaces an older one (and any claim on it)
            more, more_names, more_values = set_clause(
                {"owed": _s(owed.token), **({"owed_spare": _s(owed.spare)} if owed.spare else {})}, "o"
            )
            assignments, names, values = f"{assignments}, {more}", names | more_names, values | more_values
            removed += ["owed_owner", "owed_expires"] + ([] if owed.spare else ["owed_spare"])
        # Imported evidence belongs to no account: the summary's accounts stay the accounts that carry the key.
        holders = sorted({*accounts, *([] if holder.service == IMPORTED else [holder.account])})
        expression = f"SET v = :v, {assignments}" + (" ADD accounts :a" if holders else "")
        expression += f" REMOVE {', '.join(removed)}" if removed else ""
        lowered = self.store.update(
            _summary_key(holder.key),
            expression,
            ConditionExpression="attribute_not_exists(earliest_evidence_date) OR earliest_evidence_date > :d",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **values,
                ":v": {"N": str(SCHEMA_VERSION)},
                ":d": instant(holder.evidence_date),
                **({":a": {"SS": holders}} if holders else {}),
            },
        )
        if lowered is not None:
            return True
        if holders:
            self.store.update(
                _summary_key(holder.key), "ADD accounts :a", ExpressionAttributeValues={":a": {"SS": holders}}
            )
        return False

    def mark_summary_deleted(self, holder: Holder) -> None:
        """The summary says since when its earliest holder is gone, if that is this holder (the first
        mark stays: a retry does not move it)."""
        assert holder.deleted_since is not None
        self.store.update(
            _summary_key(holder.key),
            "SET earliest_deleted_since = :d",
            ConditionExpression=(
                "earliest_arn = :arn AND earliest_certificate_id = :id AND attribute_not_exists(earliest_deleted_since)"
            ),
            ExpressionAttributeValues={
                ":d": instant(holder.deleted_since),
                ":arn": _s(holder.arn),
                ":id": _s(holder.certificate_id),
            },
        )

    def mark_deleted(self, holder: Holder) -> None:
        """Keep a deleted certificate's evidence, saying since when it is gone (never removes it): the
        summary first, then the certificate's items, which tell a later run it was recorded gone."""
        self.mark_summary_deleted(holder)
        self.put_certificates([holder])

    def record(
        self,
        new: Sequence[Holder],
        refreshed: Sequence[Holder],
        deleted: Sequence[Holder],
        owed: Callable[[Holder], Owed | None] = lambda _: None,
    ) -> set[str]:
        """Write a run's facts: new certificates, ones seen again, ones gone. Returns the keys with new evidence.

        The summaries first, the certificate items last: a run stopped in between has written no item
        that makes its retry skip a summary. owed(holder) is what a lowering by that holder owes.
        """
        lowered = self.write_summaries(new, deleted, owed)
        self.put_certificates([*new, *refreshed, *deleted])
        return lowered

    def write_summaries(
        self, holders: Sequence[Holder], deleted: Sequence[Holder], owed: Callable[[Holder], Owed | None]
    ) -> set[str]:
        """The summary writes for these holders (and deletion marks for deleted), all idempotent.
        Returns the keys whose earliest evidence they lowered."""
        # One summary write per key: a run's own holders of one key never race each other.
        earliest: dict[str, Holder] = {}
        accounts: dict[str, set[str]] = {}
        for holder in holders:
            if holder.key not in earliest or holder.evidence_date < earliest[holder.key].evidence_date:
                earliest[holder.key] = holder
            accounts.setdefault(holder.key, set()).add(holder.account)
        firsts = list(earliest.values())
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPDATES) as pool:
            writes = pool.map(lambda holder: self.add_evidence(holder, accounts[holder.key], owed(holder)), firsts)
            lowered = {holder.key for holder, low in zip(firsts, writes, strict=True) if low}
            list(pool.map(self.mark_summary_deleted, deleted))  # after the lowerings, which may name them
        return lowered

    # The lease -----------------------------------------------------------------------------------

    def take_lease(self, account: str, owner: str, now: datetime, expires: datetime) -> bool:
        """Take the account's lease for reading its bodies, unless another run holds an unexpired one."""
        return self.store.put(
            {
                "pk": _s(account_pk(account)),
                "sk": _s(LEASE),
                "owner": _s(owner),
                "expires": instant(expires),
                "v": {"N": str(SCHEMA_VERSION)},
            },
            ConditionExpression=f"attribute_not_exists(pk) OR {unless_held()}",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":now": instant(now), ":me": _s(owner)},
        )

    def lease_held(self, account: str, now: datetime) -> bool:
        """Whether a run holds the account's lease now (a cheap read: one item)."""
        items = self.store.query(account_pk(account), LEASE)
        return any(item.get("expires", {}).get("S", "") >= instant(now)["S"] for item in items)

    def release_lease(self, account: str, owner: str) -> None:
        """Give the lease up, if it is still this run's (an expired one may have passed to another run)."""
        self.store.delete(
            {"pk": _s(account_pk(account)), "sk": _s(LEASE)},
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": _s(owner)},
        )

    # Rules, owed re-evaluations and kept requests --------------------------------------------------

    def register_rule(self, account: str, region: str, rule: str, role: str) -> None:
        """What another run needs to ask this account's rule to evaluate again."""
        self.store.put(
            {
                "pk": _s(account_pk(account)),
                "sk": _s(rule_sk(region)),
                "account": _s(account),
                "region": _s(region),
                "rule": _s(rule),
                "role": _s(role),
                "v": {"N": str(SCHEMA_VERSION)},
            }
        )

    def note_run(self, account: str, region: str, rule: str, when: datetime, failure: str | None = None) -> None:
        """Record that a run for the account and Region delivered its evaluations (failure None) or failed."""
        update = run_update(account, region, rule, when, failure)
        self.store.update(update.pop("Key"), update.pop("UpdateExpression"), **update)

    def member_runs(self, account: str) -> list[MemberRun]:
        """The account's recorded runs, one per Region the rule ran in."""
        return [member_run_from_item(item) for item in self.store.query(account_pk(account), run_sk(""))]

    def claim_owed(self, key: str, token: str, owner: str, now: datetime, expires: datetime) -> bool:
        """Take the writing-out of the key's owed re-evaluations (token), unless another run holds it."""
        return (
            self.store.update(
                _summary_key(key),
                "SET owed_owner = :me, owed_expires = :until",
                ConditionExpression=f"owed = :t AND {unless_held('owed_')}",
                ExpressionAttributeNames={"#owner": "owed_owner"},
                ExpressionAttributeValues={
                    ":t": _s(token),
                    ":me": _s(owner),
                    ":now": instant(now),
                    ":until": instant(expires),
                },
            )
            is not None
        )

    def clear_owed(self, key: str, token: str) -> bool:
        """Remove the owed marker once its requests are kept; a newer lowering's marker (another token) stays."""
        return (
            self.store.update(
                _summary_key(key),
                "REMOVE owed, owed_spare, owed_owner, owed_expires",
                ConditionExpression="owed = :t",
                ExpressionAttributeValues={":t": _s(token)},
            )
            is not None
        )

    def keep(self, request: KeptRequest) -> None:
        """Keep a re-evaluation until Config accepts it (idempotent; a claim on it is left alone)."""
        assignments, names, values = set_clause(kept_request_attributes(request), "k")
        self.store.update(
            _pending_key(request.account, request.region),
            f"SET {assignments}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def claim_kept(
        self, account: str, region: str, owner: str, now: datetime, expires: datetime, asked_before: datetime
    ) -> KeptRequest | None:
        """Take one kept request to ask it: only if it exists, nobody else holds it, and it was not
        refused after asked_before (Config accepts one request a minute per rule). Returns it as claimed."""
        claimed = self.store.update(
            _pending_key(account, region),
            "SET #owner = :me, expires = :until",
            ConditionExpression=(
                f"attribute_exists(pk) AND {unless_held()} AND (attribute_not_exists(asked) OR asked <= :before)"
            ),
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":me": _s(owner),
                ":now": instant(now),
                ":until": instant(expires),
                ":before": instant(asked_before),
            },
            ReturnValues="ALL_NEW",
        )
        return None if claimed is None else kept_request_from_item(claimed)

    def release_kept(self, request: KeptRequest, owner: str, asked: datetime) -> None:
        """Leave a claimed request kept, refused (or overtaken) at asked, for a later run."""
        self.store.update(
            _pending_key(request.account, request.region),
            "SET asked = :asked REMOVE #owner, expires",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":asked": instant(asked), ":me": _s(owner)},
        )

    def finish_kept(self, request: KeptRequest, owner: str) -> bool:
        """Delete a claimed request Config accepted, unless it was kept again since it was claimed."""
        same = "owed = :t" if request.owed is not None else "attribute_not_exists(owed)"
        return self.store.delete(
            _pending_key(request.account, request.region),
            ConditionExpression=f"#owner = :me AND {same}",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": _s(owner), **({":t": _s(request.owed)} if request.owed else {})},
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

    def keep_pending(self, account: str, region: str, rule: str, asked: str, role: str | None = None) -> None:
        """Keep a re-evaluation refused at asked (an instant as schema.py writes it)."""
        self.keep(KeptRequest(account, region, rule, role, asked=read_instant(asked)))

    def pending(self) -> list[dict[str, str]]:
        """Every kept request (the whole PENDING partition: for operators and tests, not for a run)."""
        return [
            {name: str(item.get(name, {}).get("S", "")) for name in ("account", "region", "rule", "asked")}
            for item in self.store.query(PENDING)
        ]

    def done_pending(self, account: str, region: str) -> None:
        """Delete a kept request whatever its state (an operator's act; a run uses finish_kept)."""
        self.store.delete(_pending_key(account, region))


__all__ = ["Ledger", "LedgerError", "LedgerMissing", "Table", "open_ledger"]
