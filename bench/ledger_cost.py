"""What one run costs in DynamoDB on-demand, and what the double spends serving DynamoDB.

moto answers ReturnConsumedCapacity with fixed numbers, so the request units are computed here: from
the calls the double counted and the sizes of the items those calls read or wrote, taken from the
table after the run. DynamoDB's rules, as its pricing page states them: a strongly consistent read
costs one read request unit (RRU) per 4 KB; a Query rounds the total of the items it returns up to
4 KB, a BatchGetItem each item; a write costs one write request unit (WRU) per 1 KB of the item.
Each request is charged at least one unit. The model is checked against the counted calls (the
number of batches it implies), so it cannot drift silently from what the rule does.

The prices are us-east-1's on-demand prices for the Standard table class since the reduction of
1 November 2024 (docs/performance.md cites the page).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

USD_PER_MILLION_RRU = 0.125
USD_PER_MILLION_WRU = 0.625
QUERY_PAGE = 1024 * 1024  # DynamoDB returns at most 1 MB of items per Query page
READ_UNIT, WRITE_UNIT = 4096, 1024
Item = Mapping[str, Any]


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":  # about one byte per two significant digits, plus one
        digits = str(content).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "SS":
        return sum(len(str(member).encode()) for member in content)
    if kind == "NS":
        return sum(_value_size({"N": member}) for member in content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":  # 3 bytes for the list, one per element, and the elements
        return 3 + sum(1 + _value_size(member) for member in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(member) for name, member in content.items())
    raise ValueError(f"no size rule here for a DynamoDB {kind} attribute")


def item_size(item: Item) -> int:
    """DynamoDB's size of an item: each attribute's name and value, in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _text(item: Item, name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def run_cost(items: Sequence[Item], calls: Mapping[str, int], account: str) -> dict[str, Any]:
    """The request units and dollars of one run on account, from its calls and the table after it.

    A run that wrote certificate items (BatchWriteItem) found the account's partition empty: a cold run
    on an empty ledger. Otherwise it read them all (the ledger was warm).
    """
    mine = [i for i in items if _text(i, "pk") == f"A#{account}" and _text(i, "sk").startswith("C#")]
    keys = {_text(i, "key") for i in mine}
    under_keys = [i for i in items if _text(i, "pk").startswith("K#") and _text(i, "sk").startswith("C#")]
    under_keys = [i for i in under_keys if _text(i, "account") == account]
    summaries = [i for i in items if _text(i, "sk") == "#" and _text(i, "pk")[2:] in keys]
    wrote = calls.get("dynamodb:BatchWriteItem", 0) > 0
    if wrote and calls["dynamodb:BatchWriteItem"] != math.ceil((len(mine) + len(under_keys)) / 25):
        raise ValueError(f"{calls['dynamodb:BatchWriteItem']} BatchWriteItem calls for {len(mine)} certificates")
    if calls.get("dynamodb:BatchGetItem", 0) != math.ceil(len(summaries) / 100):
        raise ValueError(f"{calls.get('dynamodb:BatchGetItem', 0)} BatchGetItem calls for {len(summaries)} keys")
    pages: list[int] = [0]  # the account partition's Query, page by page
    for item in [] if wrote else mine:
        if pages[-1] + item_size(item) > QUERY_PAGE:
            pages.append(0)
        pages[-1] += item_size(item)
    rru = {
        "Query": sum(_units(page, READ_UNIT) for page in pages)
        + max(0, calls.get("dynamodb:Query", 0) - len(pages)),  # the others read one small item or none
        "BatchGetItem": sum(_units(item_size(i), READ_UNIT) for i in summaries),
    }
    largest_summary = max((item_size(i) for i in summaries), default=0)
    # One update notes the run's outcome in its small item (under 1 KB); the others lower key summaries.
    noted = min(
        calls.get("dynamodb:UpdateItem", 0),
        sum(_text(i, "pk") == f"A#{account}" and _text(i, "sk").startswith("#RUN#") for i in items),
    )
    wru = {
        "BatchWriteItem": sum(_units(item_size(i), WRITE_UNIT) for i in mine + under_keys) if wrote else 0,
        "UpdateItem": noted + (calls.get("dynamodb:UpdateItem", 0) - noted) * _units(largest_summary, WRITE_UNIT),
        "PutItem": calls.get("dynamodb:PutItem", 0),  # the lease and the rule's record: each under 1 KB
        "DeleteItem": calls.get("dynamodb:DeleteItem", 0),
    }
    reads, writes = sum(rru.values()), sum(wru.values())
    return {
        "rru": rru,
        "wru": wru,
        "reads": reads,
        "writes": writes,
        "usd": usd(reads, writes),
        "certificate_item_bytes": max((item_size(i) for i in mine), default=0),
        "summary_item_bytes": largest_summary,
    }


def dynamodb_serving() -> AbstractContextManager[dict[str, float]]:
    """CPU seconds the double's threads spend serving each DynamoDB action while the block runs."""
    # Imported here: a Lambda container of the benchmark imports this module for request_units, not moto.
    from moto.dynamodb.responses import DynamoHandler

    from .runs import served_cpu

    return served_cpu(DynamoHandler, lambda request: f"dynamodb:{request._get_action()}")


@dataclass(frozen=True)
class Units:
    """The request units of one DynamoDB call; updated: the (pk, sk) of items an UpdateItem wrote, whose
    units follow the item's size, which the request does not carry (priced from the table afterwards)."""

    rru: float
    wru: float
    updated: tuple[tuple[str, str], ...] = ()


def _read_units(size: int, consistent: bool) -> float:
    # An eventually consistent read costs half a strongly consistent one.
    return _units(size, READ_UNIT) * (1.0 if consistent else 0.5)


def _key(key: Item) -> tuple[str, str]:
    return _text(key, "pk"), _text(key, "sk")


def request_units(operation: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> Units | None:
    """The RRU and WRU of one call, from its request and answer (an empty answer for a refused call: a
    failed conditional write is charged as a write). None for an operation this model does not price."""
    consistent = bool(request.get("ConsistentRead"))
    if operation == "GetItem":
        return Units(_read_units(item_size(response.get("Item", {})), consistent), 0.0)
    if operation == "Query":  # one request per page: the page's items together, rounded up
        return Units(_read_units(sum(item_size(i) for i in response.get("Items", [])), consistent), 0.0)
    if operation == "BatchGetItem":  # each item read rounded up on its own
        asked = request.get("RequestItems", {})
        return Units(
            sum(
                _read_units(item_size(item), bool(asked.get(table, {}).get("ConsistentRead")))
                for table, items in response.get("Responses", {}).items()
                for item in items
            ),
            0.0,
        )
    if operation == "PutItem":
        return Units(0.0, _units(item_size(request["Item"]), WRITE_UNIT))
    if operation == "DeleteItem":  # the ledger deletes only small items (a kept request, a lease): one unit
        return Units(0.0, 1.0)
    if operation == "UpdateItem":
        return Units(0.0, 0.0, (_key(request["Key"]),))
    if operation == "BatchWriteItem":
        unprocessed = response.get("UnprocessedItems", {})
        written = [
            put
            for table, requests in request.get("RequestItems", {}).items()
            for put in requests
            if put not in unprocessed.get(table, [])
        ]
        return Units(
            0.0,
            sum(_units(item_size(w["PutRequest"]["Item"]), WRITE_UNIT) if "PutRequest" in w else 1.0 for w in written),
        )
    return None


def updated_units(keys: Sequence[Sequence[str]], items: Sequence[Item]) -> float:
    """The WRU of UpdateItem calls on these (pk, sk) keys, each at its item's size in the table now (an upper
    bound: an item only grows as accounts and holders are added); an item gone since counts one unit."""
    sizes = {_key(item): item_size(item) for item in items}
    return float(sum(_units(sizes.get((pk, sk), 0), WRITE_UNIT) for pk, sk in keys))


def usd(rru: float, wru: float) -> float:
    return rru * USD_PER_MILLION_RRU / 1e6 + wru * USD_PER_MILLION_WRU / 1e6
