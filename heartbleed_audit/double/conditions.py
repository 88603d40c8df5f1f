"""moto extension: the conditions of a real network and service, for every action.

- latency: each request takes at least this long, as a round trip to AWS would; the
  double's own processing counts towards it, as AWS's does towards a real round trip;
- rate limits per action, as a token bucket (requests per second, with a one-second burst) or
  a sliding window (at most that many requests in any second): AWS publishes neither IAM's
  limits nor their shape. Beyond the limit the request is answered with the service's
  Throttling error at once, without the service's time, as IAM answers a request it refuses
  (so the first throttles of a run can arrive before any accepted answer);
- counts: every request is counted per service and action, throttled ones too;
- faults: the next requests of an action can be answered with Throttling, HTTP 500 or
  503, a connection reset, a late answer past the client's read timeout, or AccessDenied;
- hooks: code that runs just before an action, such as deleting the certificate
  a GetServerCertificate is about to read (the list-then-get race).

It wraps moto's BaseResponse.call_action, which every action of every service passes.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import BaseResponse

_XML_ERROR = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{party}</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"
)
_ERRORS = {  # fault kind -> (status, query-protocol code, JSON-protocol code)
    "throttle": (400, "Throttling", "ThrottlingException"),
    "500": (500, "ServiceFailure", "InternalFailure"),
    "503": (503, "ServiceUnavailable", "ServiceUnavailable"),
    "denied": (403, "AccessDenied", "AccessDeniedException"),
}
TRANSIENT_FAULTS = ("throttle", "500", "503", "reset", "timeout")  # what retries are for
FAULT_KINDS = (*TRANSIENT_FAULTS, "denied")


class SlidingWindow:
    """At most rate requests admitted in any one-second window."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.admitted: deque[float] = deque()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self.admitted and self.admitted[0] <= now - 1.0:
                self.admitted.popleft()
            if len(self.admitted) < self.rate:
                self.admitted.append(now)
                return True
            return False


class TokenBucket:
    """rate tokens per second, holding at most rate tokens (a one-second burst)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class Conditions:
    latency: float = 0.0  # seconds every request takes at least
    late_answer: float = 2.0  # seconds a "timeout" fault waits before answering
    buckets: dict[str, TokenBucket | SlidingWindow] = field(default_factory=dict)  # "iam:GetServerCertificate" ->
    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    faults: dict[str, list[str]] = field(default_factory=dict)  # action -> fault kinds still to serve
    hooks: dict[str, list[Callable[[BaseResponse], None]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Requests being answered: a client that gave up (a read timeout) leaves its request running here, and
    # a late PutEvaluations must not land in the next test's fresh state (AwsDouble.reset waits for them).
    in_flight: int = 0
    settled: threading.Condition = field(default_factory=threading.Condition)

    def wait_until_settled(self, limit_s: float = 30.0) -> None:
        """Block until no request is being answered (at most limit_s)."""
        with self.settled:
            self.settled.wait_for(lambda: self.in_flight == 0, timeout=limit_s)

    def inject(self, action: str, kind: str, times: int = 1) -> None:
        """Answer the next `times` requests of action (service:Action) with the fault `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}: use one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.setdefault(action, []).extend([kind] * times)

    def before(self, action: str, hook: Callable[[BaseResponse], None]) -> None:
        """Run hook(response) before every request of action, until reset."""
        self.hooks.setdefault(action, []).append(hook)

    def arrive(self, action: str) -> str | None:
        """Count the request; return the fault it is to be answered with, if any."""
        with self.lock:
            self.calls[action] += 1
            queue = self.faults.get(action)
            return queue.pop(0) if queue else None

    def limit(self, action: str, per_second: float | None, shape: str = "bucket") -> None:
        """Throttle action (service:Action) beyond per_second, as a token "bucket" or a sliding "window";
        None removes the limit."""
        if per_second is None:
            self.buckets.pop(action, None)
        elif shape in ("bucket", "window"):
            self.buckets[action] = TokenBucket(per_second) if shape == "bucket" else SlidingWindow(per_second)
        else:
            raise ValueError(f"unknown limit shape {shape!r}: use bucket or window")

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()
            self.throttled.clear()

    def reset(self) -> None:
        self.latency = 0.0
        self.buckets.clear()
        self.faults.clear()
        self.hooks.clear()
        self.reset_counts()

    def admit(self, action: str) -> bool:
        """Say whether the rate limit lets the request through (counting it if not)."""
        bucket = self.buckets.get(action)
        if bucket is None or bucket.take():
            return True
        with self.lock:
            self.throttled[action] += 1
        return False


CONDITIONS = Conditions()
_original_call_action = BaseResponse.call_action


def _error(self: BaseResponse, kind: str) -> tuple[int, dict[str, str], str]:
    """The service's own error answer, in the request's protocol (JSON for Config, XML for IAM)."""
    status, query_code, json_code = _ERRORS[kind]
    message = {"throttle": "Rate exceeded", "denied": "Not authorized (injected)"}.get(kind, "Injected failure")
    if "json" in str(self.headers.get("Content-Type", "")):
        body = json.dumps({"__type": json_code, "message": message})
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body
    party = "Receiver" if status >= 500 else "Sender"
    return status, {"Content-Type": "text/xml"}, _XML_ERROR.format(party=party, code=query_code, message=message)


def _reset_connection(self: BaseResponse) -> None:
    """Close the client's socket without an answer, as a dropped connection does."""
    connection = self.normalized_request.environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def _call_action(self: BaseResponse) -> Any:
    with CONDITIONS.settled:
        CONDITIONS.in_flight += 1
    try:
        return _answer(self)
    finally:
        with CONDITIONS.settled:
            CONDITIONS.in_flight -= 1
            CONDITIONS.settled.notify_all()


def _answer(self: BaseResponse) -> Any:
    started = time.monotonic()
    action = f"{self.service_name}:{self._get_action()}"
    for hook in CONDITIONS.hooks.get(action, []):
        hook(self)
    fault = CONDITIONS.arrive(action)
    if fault == "reset":
        _reset_connection(self)
        response: Any = _error(self, "500")  # never read: the connection is gone
    elif fault == "timeout":
        time.sleep(CONDITIONS.late_answer)
        response = _original_call_action(self)
    elif fault == "throttle":
        return _error(self, fault)  # refused at once, as a rate limit refuses
    elif fault is not None:
        response = _error(self, fault)
    elif CONDITIONS.admit(action):
        response = _original_call_action(self)
    else:
        return _error(self, "throttle")  # refused at once: no service time spent
    remaining = CONDITIONS.latency - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return response


def install() -> None:
    BaseResponse.call_action = _call_action  # type: ignore[method-assign]
