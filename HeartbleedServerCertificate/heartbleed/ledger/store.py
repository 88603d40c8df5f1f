"""The key ledger's store: one DynamoDB table, its items, batches and conditional writes.

Every AWS error of a call becomes a LedgerError here, and only here: the rule never judges without the
evidence it was asked to use. A batch is called again until DynamoDB has processed all of it, the one
retry above botocore's own (heartbleed/retry_policy.py holds both).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..retry_policy import UNPROCESSED_ROUNDS, error_code, unprocessed_pause
from .errors import LedgerError, LedgerMissing
from .schema import instant, string

BATCH_GET_LIMIT = 100  # BatchGetItem: at most 100 keys per call
BATCH_WRITE_LIMIT = 25  # BatchWriteItem: at most 25 items per call


def _failure(table: str, doing: str, error: Exception) -> LedgerError:
    if isinstance(error, ClientError):
        code = error_code(error)
        if code == "ResourceNotFoundException":
            return LedgerMissing(
                f"KeyLedgerTable {table!r} does not exist (or is not in this Region): create it from "
                "rules/key-ledger.yaml, or leave KeyLedgerTable empty for the per-account check",
                table,
            )
        return LedgerError(f"the key ledger {table!r} could not be {doing}: {code}")
    return LedgerError(f"the key ledger {table!r} could not be {doing}: {type(error).__name__}")


def _pause(round_: int) -> None:
    time.sleep(unprocessed_pause(round_))


class Table:
    """One DynamoDB table. Every call's AWS error becomes a LedgerError here, and only here; a batch is
    called again until DynamoDB has processed all of it (the one retry policy above botocore's own)."""

    def __init__(self, dynamodb: Any, name: str) -> None:
        self.dynamodb = dynamodb
        self.name = name

    def call(self, doing: str, operation: str, *, conditional: bool = False, **request: Any) -> Any:
        """One DynamoDB call. conditional: None where the write's condition did not hold."""
        try:
            return getattr(self.dynamodb, operation)(**request)
        except (ClientError, BotoCoreError) as error:
            if (
                conditional
                and isinstance(error, ClientError)
                and error_code(error) == "ConditionalCheckFailedException"
            ):
                return None
            raise _failure(self.name, doing, error) from None

    def query(
        self,
        pk: str,
        sk_prefix: str | None = None,
        *,
        from_sk: str | None = None,
        below_sk: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The items of one partition (sort key starting with sk_prefix, or >= from_sk, or < below_sk),
        in sort-key order, all pages or the first `limit` items, strongly consistent."""
        condition, values = "pk = :pk", {":pk": string(pk)}
        for clause, value in (
            ("begins_with(sk, :sk)", sk_prefix),  # DynamoDB refuses an empty key value
            ("sk >= :sk", from_sk),
            ("sk < :sk", below_sk),
        ):
            if value:
                condition, values[":sk"] = f"{condition} AND {clause}", string(value)
        request: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        left = limit
        while left is None or left > 0:
            if left is not None:
                request["Limit"] = left
            page = self.call("read", "query", TableName=self.name, **request)
            items = page.get("Items", [])
            yield from items
            left = None if left is None else left - len(items)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(self, item: Mapping[str, Any], **condition: Any) -> bool:
        """PutItem; False where its ConditionExpression (with its names and values) did not hold."""
        request = {"TableName": self.name, "Item": item, **condition}
        answer = self.call("written", "put_item", conditional=bool(condition), **request)
        return answer is not None

    def update(self, key: Mapping[str, Any], **request: Any) -> dict[str, Any] | None:
        """UpdateItem (UpdateExpression and the rest given); its attributes as returned (ReturnValues), or
        None where its condition did not hold."""
        conditional = "ConditionExpression" in request
        answer = self.call("written", "update_item", conditional=conditional, TableName=self.name, Key=key, **request)
        return None if answer is None else dict(answer.get("Attributes", {}))

    def delete(self, key: Mapping[str, Any], **condition: Any) -> bool:
        """DeleteItem; False where its condition did not hold."""
        request = {"TableName": self.name, "Key": key, **condition}
        answer = self.call("written", "delete_item", conditional=bool(condition), **request)
        return answer is not None

    def batch_get(self, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The items of these keys that exist, 100 keys a call, strongly consistent."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            wanted = {self.name: {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), "ConsistentRead": True}}
            for answer in self._until_processed("read", "batch_get_item", wanted, "UnprocessedKeys", "keys"):
                items += answer.get("Responses", {}).get(self.name, [])
        return items

    def batch_write(self, requests: Sequence[Mapping[str, Any]]) -> None:
        """PutRequests and DeleteRequests, 25 a call."""
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            batch = {self.name: list(requests[start : start + BATCH_WRITE_LIMIT])}
            for _ in self._until_processed("written", "batch_write_item", batch, "UnprocessedItems", "items"):
                pass

    def _until_processed(
        self, doing: str, operation: str, batch: Mapping[str, Any], unprocessed: str, what: str
    ) -> Iterator[dict[str, Any]]:
        for round_ in range(UNPROCESSED_ROUNDS + 1):
            answer = dict(self.call(doing, operation, RequestItems=batch))
            yield answer
            batch = answer.get(unprocessed) or {}
            if not batch:
                return
            if round_ < UNPROCESSED_ROUNDS:
                _pause(round_)
        raise LedgerError(f"the key ledger {self.name!r} left {what} unprocessed after {UNPROCESSED_ROUNDS} retries")


def set_clause(attributes: Mapping[str, Any], tag: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`#t0 = :t0, ...` for a SET, with its names and values (every name through a placeholder: some of
    the ledger's attribute names are DynamoDB reserved words)."""
    names = {f"#{tag}{i}": name for i, name in enumerate(attributes)}
    values = {f":{tag}{i}": value for i, value in enumerate(attributes.values())}
    return ", ".join(f"#{tag}{i} = :{tag}{i}" for i in range(len(attributes))), names, values


def unless_held(owner: str, now: datetime, prefix: str = "", *, either: str = "") -> dict[str, Any]:
    """The condition of a claim, with its names and values: nobody holds it ({prefix}owner until
    {prefix}expires), its holder's time ran out, or it is owner's. either: a condition that also lets it."""
    held = f"(attribute_not_exists({prefix}expires) OR {prefix}expires < :now OR #owner = :me)"
    return {
        "ConditionExpression": f"{either} OR {held}" if either else held,
        "ExpressionAttributeNames": {"#owner": f"{prefix}owner"},
        "ExpressionAttributeValues": {":now": instant(now), ":me": string(owner)},
    }


def claim(
    owner: str, now: datetime, until: datetime, prefix: str = "", *, also: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    """An UpdateItem's expressions that take a claim: {prefix}owner is owner until `until`, if unless_held
    and also (a condition over values) hold. Table.update returns None where the claim was not taken."""
    held = unless_held(owner, now, prefix)
    condition = held["ConditionExpression"]
    return {
        "UpdateExpression": f"SET #owner = :me, {prefix}expires = :until",
        "ConditionExpression": f"{also} AND {condition}",
        "ExpressionAttributeNames": held["ExpressionAttributeNames"],
        "ExpressionAttributeValues": {**held["ExpressionAttributeValues"], ":until": instant(until), **values},
    }
