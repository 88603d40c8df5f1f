"""What one run costs in DynamoDB on-demand, and what the double spends serving DynamoDB.

moto answers ReturnConsumedCapacity with fixed numbers, so the request units are computed here: from
the calls the double counted and the sizes of the items those calls read or wrote, taken from the
table after the run. DynamoDB's rules, as its pricing page states them: a strongly consistent read
costs one read request unit (RRU) per 4 KB; a Query rounds the total of the items it returns up to
4 KB, a BatchGetItem each item; a write costs one write request unit (WRU) per 1 KB of the item.
Each request is charged at least one unit. The model is checked against the counted calls (the
number of batches it implies), so it cannot drift silently from what the rule does.

The prices are us-east-1's on-demand prices for the Standard table class since the reduction of
1 November 2024 (the README cites the page).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from .runs import served_cpu

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
    wru = {
        "BatchWriteItem": sum(_units(item_size(i), WRITE_UNIT) for i in mine + under_keys) if wrote else 0,
        "UpdateItem": calls.get("dynamodb:UpdateItem", 0) * _units(largest_summary, WRITE_UNIT),
        "PutItem": calls.get("dynamodb:PutItem", 0),  # the lease and the rule's record: each under 1 KB
        "DeleteItem": calls.get("dynamodb:DeleteItem", 0),
    }
    reads, writes = sum(rru.values()), sum(wru.values())
    return {
        "rru": rru,
        "wru": wru,
        "reads": reads,
        "writes": writes,
        "usd": reads * USD_PER_MILLION_RRU / 1e6 + writes * USD_PER_MILLION_WRU / 1e6,
        "certificate_item_bytes": max((item_size(i) for i in mine), default=0),
        "summary_item_bytes": largest_summary,
    }


def dynamodb_serving() -> AbstractContextManager[dict[str, float]]:
    """CPU seconds the double's threads spend serving each DynamoDB action while the block runs."""
    return served_cpu(DynamoHandler, lambda request: f"dynamodb:{request._get_action()}")
