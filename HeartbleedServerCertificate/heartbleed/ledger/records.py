"""The key ledger's typed interface, class Ledger: the thin AWS layer under schema.py's items.

A run writes its own facts before it reads anyone's (strongly consistent reads on the table's own
keys), so of two concurrent runs at least one sees the other's evidence (docs/ledger.md).
Facts that others depend on are written before the items that say "done" (docs/ledger.md, "Write
order"). Any failure to read or write a configured ledger raises LedgerError (errors.py): the rule never
judges without the evidence it was asked to use.

This module holds the evidence (certificates and key summaries); the lease, the kept requests and the
member runs are the Ledger's too, each in its own module (leases.py, kept_requests.py, member_runs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .kept_requests import MAX_CONCURRENT_UPDATES, KeptRequests
from .leases import Leases
from .member_runs import MemberRuns
from .schema import (
    IMPORTED,
    OPTIONAL_EARLIEST,
    SCHEMA_VERSION,
    Holder,
    KeySummary,
    Owed,
    account_pk,
    certificate_items,
    earliest_attributes,
    holder_from_item,
    instant,
    key_pk,
    string,
    summary_from_item,
    summary_key,
)
from .store import Table, set_clause


def open_ledger(table: str) -> Ledger:
    """The ledger named by KeyLedgerTable, with the function's own credentials (never a member's role)."""
    import boto3

    return Ledger(boto3.client("dynamodb", region_name=table_region(table)), table)


def table_region(table: str) -> str | None:
    """A table ARN names its Region; a bare name (None) is in the client's Region."""
    return table.split(":")[3] if table.startswith("arn:") else None


class Ledger(Leases, KeptRequests, MemberRuns):
    """One ledger table, through a DynamoDB client of the function's own account."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.store = Table(dynamodb, table)

    @property
    def name(self) -> str:
        """The table's name or ARN, as KeyLedgerTable gives it."""
        return self.store.name

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
        for item in self.store.batch_get([summary_key(key) for key in sorted(set(keys))]):
            summary = summary_from_item(item)
            found[summary.key] = summary
        return found

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
                {"owed": string(owed.token), **({"owed_spare": string(owed.spare)} if owed.spare else {})}, "o"
            )
            assignments, names, values = f"{assignments}, {more}", names | more_names, values | more_values
            removed += ["owed_owner", "owed_expires"] + ([] if owed.spare else ["owed_spare"])
        # Imported evidence belongs to no account: the summary's accounts stay the accounts that carry the key.
        holders = sorted({*accounts, *([] if holder.service == IMPORTED else [holder.account])})
        expression = f"SET v = :v, {assignments}" + (" ADD accounts :a" if holders else "")
        expression += f" REMOVE {', '.join(removed)}" if removed else ""
        lowered = self.store.update(
            summary_key(holder.key),
            UpdateExpression=expression,
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
                summary_key(holder.key),
                UpdateExpression="ADD accounts :a",
                ExpressionAttributeValues={":a": {"SS": holders}},
            )
        return False

    def mark_summary_deleted(self, holder: Holder) -> None:
        """The summary says since when its earliest holder is gone, if that is this holder (the first
        mark stays: a retry does not move it)."""
        assert holder.deleted_since is not None
        self.store.update(
            summary_key(holder.key),
            UpdateExpression="SET earliest_deleted_since = :d",
            ConditionExpression=(
                "earliest_arn = :arn AND earliest_certificate_id = :id AND attribute_not_exists(earliest_deleted_since)"
            ),
            ExpressionAttributeValues={
                ":d": instant(holder.deleted_since),
                ":arn": string(holder.arn),
                ":id": string(holder.certificate_id),
            },
        )

    def mark_deleted(self, holder: Holder) -> None:
        """Keep a deleted certificate's evidence, saying since when it is gone (never removes it): the
        summary first, then the certificate's items, which tell a later run it was recorded gone."""
        self.mark_summary_deleted(holder)
        self.put_certificates([holder])

    def write_evidence(
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
