"""The AWS calls of one invocation, counted inside its Lambda container (bench/child.py --stream).

The double counts requests as they arrive, for every container at once; with several containers running
side by side only the container itself knows which of them an invocation made. So every botocore client
call in the container is counted here, by service and operation (botocore's API call, not the HTTP
attempts: a retried request counts once), with:

- the calls that asked other accounts' rules to evaluate again: the AssumeRole of a propagation session
  and StartConfigRulesEvaluation, accepted or refused;
- the ledger's calls by the items they touch: kept re-evaluation requests, owed markers, rule
  registrations, run outcomes, the lease, or evidence (certificates and key summaries);
- the request units of each DynamoDB call (bench/ledger_cost.py), from the request and its answer.

Light on purpose: botocore and the ledger's key layout only, nothing of moto.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

from heartbleed.ledger.schema import LEASE, PENDING, rule_sk, run_sk
from heartbleed.retry_policy import error_code

from .ledger_cost import request_units

PROPAGATION_SESSION = "HeartbleedPropagation"  # the RoleSessionName heartbleed/ledger/propagation.py assumes with
RULE_PREFIX, RUN_PREFIX = rule_sk(""), run_sk("")


def _strings(value: Any) -> Iterator[str]:
    """Every string attribute value ({"S": ...}) in a DynamoDB request, at any depth."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if name == "S" and isinstance(inner, str):
                yield inner
            else:
                yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def ledger_part(params: Mapping[str, Any]) -> str:
    """Which of the ledger's items a DynamoDB request touches, by the key values it names."""
    values = list(_strings(params))
    if any(value.startswith(PENDING) for value in values):
        return "kept requests"
    # The outbox's marker on a key's summary, claimed and cleared on its own (a lowering writes it with the
    # evidence, under the condition on the earliest evidence: that write counts as evidence).
    owed = "owed" in str(params.get("UpdateExpression", "")) and "earliest" not in str(
        params.get("ConditionExpression", "")
    )
    if owed:
        return "owed markers"
    if any(value.startswith(RULE_PREFIX) for value in values):
        return "rule registrations"
    if any(value.startswith(RUN_PREFIX) for value in values):
        return "run outcomes"
    if LEASE in values:
        return "lease"
    return "evidence"


class CallLog:
    """One invocation's calls; reset before each."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.calls: Counter[str] = Counter()
            self.refused: Counter[str] = Counter()  # by call (ledger: by part) and error code
            self.propagation: Counter[str] = Counter()
            self.ledger: Counter[str] = Counter()  # by part and operation
            self.rru = 0.0
            self.wru = 0.0
            self.updated: list[list[str]] = []  # UpdateItem keys: their units depend on the item's size
            self.unpriced: Counter[str] = Counter()

    def add(self, service: str, operation: str, params: Mapping[str, Any], response: Any, error: str) -> None:
        name = f"{service}:{operation}"
        part = ledger_part(params) if service == "dynamodb" else ""
        with self.lock:
            self.calls[name] += 1
            if error:  # a ledger call by the items it touched: a claim lost is not a lowering that did not hold
                self.refused[f"{part} {operation}: {error}" if part else f"{name}: {error}"] += 1
            if name == "sts:AssumeRole" and params.get("RoleSessionName") == PROPAGATION_SESSION:
                self.propagation["sts:AssumeRole"] += 1
            if name == "config:StartConfigRulesEvaluation":
                self.propagation[name + (f" refused ({error})" if error else " accepted")] += 1
            if service == "dynamodb":
                self.ledger[f"{part} {operation}"] += 1
                units = request_units(operation, params, response or {})
                if units is None:
                    self.unpriced[operation] += 1
                else:
                    self.rru += units.rru
                    self.wru += units.wru
                    self.updated += [list(key) for key in units.updated]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "refused": dict(self.refused),
                "propagation": dict(self.propagation),
                "ledger": dict(self.ledger),
                "rru": self.rru,
                "wru": self.wru,
                "updated": list(self.updated),
                "unpriced": dict(self.unpriced),
            }


def install(log: CallLog) -> None:
    """Count every botocore client call of this interpreter in log."""
    client_class: Any = botocore.client.BaseClient  # _make_api_call is private: the one call every client makes
    original = client_class._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.endpoint_prefix
        try:
            response = original(client, operation, params)
        except ClientError as error:
            log.add(service, operation, params, None, error_code(error))
            raise
        log.add(service, operation, params, response, "")
        return response

    client_class._make_api_call = counted
