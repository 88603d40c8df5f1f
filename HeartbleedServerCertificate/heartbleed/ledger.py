"""The key ledger in DynamoDB: the thin AWS layer under ledger_schema's items.

A run writes its own facts before it reads anyone's (strongly consistent reads on the table's own
keys), so of two concurrent runs at least one sees the other's evidence (design section 11).
Any failure to read or write a configured ledger raises LedgerError: the rule never judges
without the evidence it was asked to use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .ledger_schema import (
    IMPORTED,
    LEASE,
    OPTIONAL_EARLIEST,
    PENDING,
    SCHEMA_VERSION,
    SUMMARY,
    Holder,
    KeySummary,
    LedgerFormatError,
    MemberRun,
    account_pk,
    certificate_items,
    certificate_sk,
    earliest_attributes,
    holder_from_item,
    instant,
    key_pk,
    member_run_from_item,
    rule_sk,
    run_sk,
    summary_from_item,
)

LOG = logging.getLogger(__name__)

BATCH_GET_LIMIT = 100  # BatchGetItem: at most 100 keys per call
BATCH_WRITE_LIMIT = 25  # BatchWriteItem: at most 25 items per call
UNPROCESSED_ROUNDS = 12  # retries of UnprocessedKeys/Items, 50 ms doubling to 1 s: about 10 s in all
MAX_CONCURRENT_UPDATES = 16


class LedgerError(RuntimeError):
    """The configured key ledger cannot be read or written; the run reports nothing."""


class LedgerMissing(LedgerError):
    """The table does not exist (or is not in this Region): the terminal commands name it as bad input."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


def _failure(table: str, doing: str, error: Exception) -> LedgerError:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "ResourceNotFoundException":
            return LedgerMissing(
                f"KeyLedgerTable {table!r} does not exist (or is not in this Region): create it from "
                "rules/key-ledger.yaml, or leave KeyLedgerTable empty for the per-account check",
                table,
            )
        return LedgerError(f"the key ledger {table!r} could not be {doing}: {code}")
    return LedgerError(f"the key ledger {table!r} could not be {doing}: {type(error).__name__}")


def _pause(round_: int) -> None:
    time.sleep(min(1.0, 0.05 * 2**round_))


def open_ledger(table: str) -> Ledger:
    """The ledger named by KeyLedgerTable, with the function's own credentials (never a member's role).

    A table ARN names its Region; a bare name is in the function's Region.
    """
    import boto3

    region = table.split(":")[3] if table.startswith("arn:") else None
    return Ledger(boto3.client("dynamodb", region_name=region), table)


class Ledger:
    """One ledger table, through a DynamoDB client of the function's own account."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def _call(self, doing: str, operation: str, **request: Any) -> Any:
        try:
            return getattr(self.dynamodb, operation)(TableName=self.table, **request)
        except (ClientError, BotoCoreError) as error:
            raise _failure(self.table, doing, error) from None

    # Reads -----------------------------------------------------------------------------------

    def _query(self, pk: str, sk_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of one partition (whose sort key starts with sk_prefix), all pages, strongly consistent."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if sk_prefix:  # DynamoDB refuses an empty key value
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        while True:
            page = self._call("read", "query", **request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def account_certificates(self, account: str) -> dict[tuple[str, str], Holder]:
        """Every certificate the ledger holds for the account, by (ARN, id), deleted ones included."""
        holders = (holder_from_item(item) for item in self._query(account_pk(account), "C#"))
        return {(holder.arn, holder.certificate_id): holder for holder in holders}

    def key_holders(self, key: str) -> list[Holder]:
        """Every certificate that carries or carried the key."""
        return [holder_from_item(item) for item in self._query(key_pk(key), "C#")]

    def _batch_get(self, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            wanted: Mapping[str, Any] = {
                self.table: {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), "ConsistentRead": True}
            }
            for round_ in range(UNPROCESSED_ROUNDS + 1):
                try:
                    page = self.dynamodb.batch_get_item(RequestItems=wanted)
                except (ClientError, BotoCoreError) as error:
                    raise _failure(self.table, "read", error) from None
                items += page.get("Responses", {}).get(self.table, [])
                wanted = page.get("UnprocessedKeys") or {}
                if not wanted:
                    break
                if round_ < UNPROCESSED_ROUNDS:
                    _pause(round_)
            else:
                raise LedgerError(
                    f"the key ledger {self.table!r} left keys unprocessed after {UNPROCESSED_ROUNDS} retries"
                )
        return items

    def summaries(self, keys: Iterable[str]) -> dict[str, KeySummary]:
        """The summary of each key that has one (strongly consistent)."""
        wanted = [{"pk": {"S": key_pk(key)}, "sk": {"S": SUMMARY}} for key in sorted(set(keys))]
        found = {}
        for item in self._batch_get(wanted):
            summary = summary_from_item(item)
            found[summary.key] = summary
        return found

    def rules(self, accounts: Iterable[str]) -> list[dict[str, str]]:
        """The recorded rules of these accounts: account, region, rule name, role ARN (may be empty)."""
        return [
            {name: str(item.get(name, {}).get("S", "")) for name in ("account", "region", "rule", "role")}
            for account in sorted(set(accounts))
            for item in self._query(account_pk(account), "#RULE#")
        ]

    # Writes ----------------------------------------------------------------------------------

    def _batch_write(self, items: Sequence[dict[str, Any]]) -> None:
        self._batch_requests([{"PutRequest": {"Item": item}} for item in items])

    def _batch_requests(self, requests: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending: Mapping[str, Any] = {self.table: list(requests[start : start + BATCH_WRITE_LIMIT])}
            for round_ in range(UNPROCESSED_ROUNDS + 1):
                try:
                    answer = self.dynamodb.batch_write_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as error:
                    raise _failure(self.table, "written", error) from None
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                if round_ < UNPROCESSED_ROUNDS:
                    _pause(round_)
            else:
                raise LedgerError(
                    f"the key ledger {self.table!r} left items unprocessed after {UNPROCESSED_ROUNDS} retries"
                )

    def put_certificates(self, holders: Sequence[Holder]) -> None:
        """Write both items of each certificate (idempotent: the same facts give the same items)."""
        self._batch_write([item for holder in holders for item in certificate_items(holder)])

    def add_evidence(self, holder: Holder, accounts: Iterable[str] = ()) -> bool:
        """Add the holder's account (and accounts: other holders' of the same write) to its key's summary,
        and make the holder the earliest evidence if it is.

        Returns whether this write lowered the key's earliest evidence date (or created the summary):
        new evidence, which other holders of the key must hear of.
        """
        key = {"pk": {"S": key_pk(holder.key)}, "sk": {"S": SUMMARY}}
        earliest = earliest_attributes(holder)
        names = {f"#e{i}": name for i, name in enumerate(earliest)}
        values = {f":e{i}": value for i, value in enumerate(earliest.values())}
        assignments = ", ".join(f"#e{i} = :e{i}" for i in range(len(earliest)))
        removed = [name for name in OPTIONAL_EARLIEST if name not in earliest]
        # Imported evidence belongs to no account: the summary's accounts stay the accounts that carry the key.
        holders = sorted({*accounts, *([] if holder.service == IMPORTED else [holder.account])})
        expression = f"SET v = :v, {assignments}" + (" ADD accounts :a" if holders else "")
        expression += f" REMOVE {', '.join(removed)}" if removed else ""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
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
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _failure(self.table, "written", error) from None
        except BotoCoreError as error:
            raise _failure(self.table, "written", error) from None
        if holders:
            self._call(
                "written",
                "update_item",
                Key=key,
                UpdateExpression="ADD accounts :a",
                ExpressionAttributeValues={":a": {"SS": holders}},
            )
        return False

    def mark_deleted(self, holder: Holder) -> None:
        """Keep a deleted certificate's evidence, saying since when it is gone (never removes it)."""
        assert holder.deleted_since is not None
        self.put_certificates([holder])
        try:  # the summary says so too, if this certificate is its earliest evidence
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": key_pk(holder.key)}, "sk": {"S": SUMMARY}},
                UpdateExpression="SET earliest_deleted_since = :d",
                ConditionExpression="earliest_arn = :arn AND earliest_certificate_id = :id",
                ExpressionAttributeValues={
                    ":d": instant(holder.deleted_since),
                    ":arn": {"S": holder.arn},
                    ":id": {"S": holder.certificate_id},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _failure(self.table, "written", error) from None
        except BotoCoreError as error:
            raise _failure(self.table, "written", error) from None

    def record(self, new: Sequence[Holder], refreshed: Sequence[Holder], deleted: Sequence[Holder]) -> set[str]:
        """Write a run's facts: new certificates, ones seen again, ones gone. Returns the keys with new evidence."""
        self.put_certificates([*new, *refreshed])
        # One summary write per key: a run's own holders of one key never race each other.
        earliest: dict[str, Holder] = {}
        accounts: dict[str, set[str]] = {}
        for holder in new:
            if holder.key not in earliest or holder.evidence_date < earliest[holder.key].evidence_date:
                earliest[holder.key] = holder
            accounts.setdefault(holder.key, set()).add(holder.account)
        firsts = list(earliest.values())
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPDATES) as pool:
            writes = pool.map(lambda holder: self.add_evidence(holder, accounts[holder.key]), firsts)
            lowered = {holder.key for holder, low in zip(firsts, writes, strict=True) if low}
            list(pool.map(self.mark_deleted, deleted))
        return lowered

    def take_lease(self, account: str, owner: str, now: datetime, expires: datetime) -> bool:
        """Take the account's lease for reading its bodies, unless another run holds an unexpired one."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": account_pk(account)},
                    "sk": {"S": LEASE},
                    "owner": {"S": owner},
                    "expires": instant(expires),
                    "v": {"N": str(SCHEMA_VERSION)},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": instant(now), ":me": {"S": owner}},
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _failure(self.table, "written", error) from None
        except BotoCoreError as error:
            raise _failure(self.table, "written", error) from None

    def lease_held(self, account: str, now: datetime) -> bool:
        """Whether a run holds the account's lease now (a cheap read: one item)."""
        page = self._call(
            "read",
            "query",
            KeyConditionExpression="pk = :pk AND sk = :l",
            ExpressionAttributeValues={":pk": {"S": account_pk(account)}, ":l": {"S": LEASE}},
            ConsistentRead=True,
        )
        return any(item.get("expires", {}).get("S", "") >= instant(now)["S"] for item in page.get("Items", []))

    def release_lease(self, account: str, owner: str) -> None:
        """Give the lease up, if it is still this run's (an expired one may have passed to another run)."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": account_pk(account)}, "sk": {"S": LEASE}},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _failure(self.table, "written", error) from None
        except BotoCoreError as error:
            raise _failure(self.table, "written", error) from None

    def register_rule(self, account: str, region: str, rule: str, role: str) -> None:
        """What another run needs to ask this account's rule to evaluate again."""
        self._call(
            "written",
            "put_item",
            Item={
                "pk": {"S": account_pk(account)},
                "sk": {"S": rule_sk(region)},
                "account": {"S": account},
                "region": {"S": region},
                "rule": {"S": rule},
                "role": {"S": role},
                "v": {"N": str(SCHEMA_VERSION)},
            },
        )

    def note_run(self, account: str, region: str, rule: str, when: datetime, failure: str | None = None) -> None:
        """Record that a run for the account and Region delivered its evaluations (failure None) or failed,
        and why; an update, so a failure keeps the time of the last success and the other way round."""
        field, values = ("last_failure", {":why": {"S": failure[:500]}}) if failure else ("last_success", {})
        self._call(
            "written",
            "update_item",
            Key={"pk": {"S": account_pk(account)}, "sk": {"S": run_sk(region)}},
            UpdateExpression=f"SET #a = :a, #r = :r, #rule = :rule, v = :v, {field} = :t"
            + (", failure = :why" if failure else ""),
            ExpressionAttributeNames={"#a": "account", "#r": "region", "#rule": "rule"},
            ExpressionAttributeValues={
                ":a": {"S": account},
                ":r": {"S": region},
                ":rule": {"S": rule},
                ":v": {"N": str(SCHEMA_VERSION)},
                ":t": instant(when),
                **values,
            },
        )

    def member_runs(self, account: str) -> list[MemberRun]:
        """The account's recorded runs, one per Region the rule ran in."""
        return [member_run_from_item(item) for item in self._query(account_pk(account), run_sk(""))]

    def keep_pending(self, account: str, region: str, rule: str, asked: str) -> None:
        """A re-evaluation Config did not accept yet: a later run asks again (never dropped)."""
        self._call(
            "written",
            "put_item",
            Item={
                "pk": {"S": PENDING},
                "sk": {"S": f"{account}#{region}"},
                "account": {"S": account},
                "region": {"S": region},
                "rule": {"S": rule},
                "asked": {"S": asked},
                "v": {"N": str(SCHEMA_VERSION)},
            },
        )

    def pending(self) -> list[dict[str, str]]:
        return [
            {name: str(item.get(name, {}).get("S", "")) for name in ("account", "region", "rule", "asked")}
            for item in self._query(PENDING)
        ]

    def done_pending(self, account: str, region: str) -> None:
        self._call("written", "delete_item", Key={"pk": {"S": PENDING}, "sk": {"S": f"{account}#{region}"}})


__all__ = [
    "Holder",
    "KeySummary",
    "Ledger",
    "LedgerError",
    "LedgerFormatError",
    "LedgerMissing",
    "certificate_sk",
    "open_ledger",
]
