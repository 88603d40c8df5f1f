"""What a run says in its logs: one structured JSON line, and never a body, key or token.

APICalls counts every API call and every HTTP attempt (the difference is the
retries) through botocore's event hooks on the session the rule's clients come
from. summary() is the one line a run logs, whatever its outcome.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

LOG = logging.getLogger("heartbleed")
LOG.setLevel(logging.INFO)  # Lambda's root handler writes INFO records of this logger


class LedgerTally:
    """What this invocation's run did with the key ledger's repairs and re-evaluations (ledger/propagation.py):
    owed markers written out, requests kept, claimed, accepted, refused, left for later runs."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, counts: dict[str, int]) -> None:
        with self._lock:
            self.counts.update(counts)


# One invocation at a time per Lambda container: lambda_handler starts a new tally for each.
_TALLY = LedgerTally()


def start_tally() -> None:
    global _TALLY
    _TALLY = LedgerTally()


def tally_ledger(counts: dict[str, int]) -> None:
    _TALLY.add(counts)


class APICalls:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def _name(event_name: str) -> str:
        _, service, operation = event_name.split(".", 2)  # e.g. before-call.iam.GetServerCertificate
        return f"{service}:{operation}"

    def on_call(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls[self._name(kwargs["event_name"])] += 1

    def on_send(self, **kwargs: Any) -> None:
        with self._lock:
            self.attempts[self._name(kwargs["event_name"])] += 1

    @property
    def retries(self) -> int:
        return sum(self.attempts.values()) - sum(self.calls.values())


def summary(
    event: Any, outcome: str, result: Any, calls: APICalls, duration_ms: float, error: str | None = None
) -> dict[str, Any]:
    """The run's one log line: trigger, outcome, verdict counts, API calls, retries and duration."""
    fields = event if isinstance(event, dict) else {}
    invoking = fields.get("invokingEvent")
    try:
        trigger = json.loads(invoking).get("messageType") if isinstance(invoking, str) else None
    except (ValueError, AttributeError):
        trigger = None
    evaluations: Sequence[Any] = result if isinstance(result, list) else []
    line: dict[str, Any] = {
        "rule": fields.get("configRuleName") if isinstance(fields.get("configRuleName"), str) else None,
        "trigger": trigger if isinstance(trigger, str) else None,
        "outcome": outcome,
        "verdicts": dict(Counter(e.get("ComplianceType") for e in evaluations if isinstance(e, dict))),
        "api_calls": dict(sorted(calls.calls.items())),
        "retries": calls.retries,
        "duration_ms": round(duration_ms),
    }
    if _TALLY.counts:
        line["ledger"] = dict(sorted(_TALLY.counts.items()))
    if error:
        line["error"] = error[:500]
    return line


def log_summary(line: dict[str, Any]) -> None:
    LOG.log(logging.INFO if line["outcome"] == "ok" else logging.ERROR, json.dumps(line, sort_keys=True))
