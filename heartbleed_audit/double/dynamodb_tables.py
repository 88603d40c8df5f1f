"""moto extension: DynamoDB requests authorized against the tables they name, as IAM does.

moto 5.2 checks every DynamoDB request against "*" under IAM enforcement, so a policy whose
Resource is a table's ARN (the key ledger's, rules/heartbleed-rule.yaml) is denied. DynamoDB's
service authorization reference makes the table the resource of the item and batch actions;
here a request is checked against arn:<partition>:dynamodb:<region>:<account>:table/<name> for
each table it names: TableName, every table of a BatchGetItem/BatchWriteItem RequestItems, and
every table of a transaction's TransactItems. A TableName may already be an ARN (DynamoDB takes
one where it takes a name), which is then the resource as given. A request naming no table
(ListTables) stays on "*". Indexes and streams are not modelled: nothing here uses them.

A denial is answered as DynamoDB answers it, a JSON AccessDeniedException (HTTP 400) naming the
action and the table, so the SDK's error code is what the rule logs; moto sends an XML AccessDenied
with HTTP 403, which a JSON-protocol client reads as the code "403".

DynamoDB applies a conditional write atomically per item: of two concurrent writes with the same
condition, one fails. moto's server answers requests in threads and checks and writes without a lock,
so both could pass (measured: 300 kept requests claimed by 10 concurrent runs, 3 rules asked twice).
The double answers item writes one at a time; the network latency it models is outside that lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.utilities.utils import get_partition

_original_authorize = DynamoHandler._authenticate_and_authorize_normal_action
_TRANSACT_KINDS = ("ConditionCheck", "Put", "Delete", "Update", "Get")


class AccessDeniedException(DynamodbException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "AccessDeniedException", message)


def _table_names(handler: DynamoHandler) -> list[str]:
    """Every table the request names, in order, each once."""
    names: list[str] = []
    single = handler._get_param("TableName")
    if single:
        names.append(str(single))
    names += [str(name) for name in (handler._get_param("RequestItems") or {})]
    for item in handler._get_param("TransactItems") or []:
        names += [str(item[kind]["TableName"]) for kind in _TRANSACT_KINDS if kind in item]
    return list(dict.fromkeys(names))


def _table_arn(handler: DynamoHandler, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:{get_partition(handler.region)}:dynamodb:{handler.region}:{handler.current_account}:table/{name}"


def _determine_resource(self: DynamoHandler) -> str:
    """The table's ARN for a request about one table; "*" for none (several: see _authorize)."""
    names = _table_names(self)
    return _table_arn(self, names[0]) if len(names) == 1 else "*"


def _authorize(self: DynamoHandler, resource: str = "*") -> None:
    """A batch or transaction over several tables needs the action on each of them, as in IAM."""
    names = _table_names(self)
    for arn in [_table_arn(self, name) for name in names] if len(names) > 1 else [resource]:
        try:
            _original_authorize(self, arn)
        except AccessDeniedError as denied:
            raise AccessDeniedException(f"{denied.message} on resource: {arn}") from None


_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
_ONE_WRITE_AT_A_TIME = threading.RLock()


def _atomic(write: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    def atomic(self: DynamoHandler) -> Any:
        with _ONE_WRITE_AT_A_TIME:
            return write(self)

    atomic.atomic = True  # type: ignore[attr-defined]
    return atomic


def install() -> None:
    handler: Any = DynamoHandler
    handler._determine_resource = _determine_resource
    handler._authenticate_and_authorize_normal_action = _authorize
    for name in _WRITES:
        if not getattr(getattr(handler, name), "atomic", False):  # installed once
            setattr(handler, name, _atomic(getattr(handler, name)))
