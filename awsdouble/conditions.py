"""moto extension: the conditions of a real network and service, for every action.

- latency: each request takes at least this long, as a round trip to AWS would; the
  double's own processing counts towards it, as AWS's does towards a real round trip;
- rate limits: a token bucket per action (requests per second, with a one-second burst);
  beyond it the request is answered with the service's Throttling error, as IAM and Config do;
- counts: every request is counted per service and action, throttled ones too.

It wraps moto's BaseResponse.call_action, which every action of every service passes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import BaseResponse

_THROTTLE_XML = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"
)
_THROTTLE_JSON = '{"__type": "ThrottlingException", "message": "Rate exceeded"}'


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
    latency: float = 0.0  # seconds added to every request
    buckets: dict[str, TokenBucket] = field(default_factory=dict)  # "iam:GetServerCertificate" -> bucket
    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def limit(self, action: str, per_second: float | None) -> None:
        """Throttle action (service:Action) beyond per_second; None removes the limit."""
        if per_second is None:
            self.buckets.pop(action, None)
        else:
            self.buckets[action] = TokenBucket(per_second)

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()
            self.throttled.clear()

    def reset(self) -> None:
        self.latency = 0.0
        self.buckets.clear()
        self.reset_counts()

    def admit(self, action: str) -> bool:
        """Count the request and say whether the rate limit lets it through."""
        with self.lock:
            self.calls[action] += 1
        bucket = self.buckets.get(action)
        if bucket is None or bucket.take():
            return True
        with self.lock:
            self.throttled[action] += 1
        return False


CONDITIONS = Conditions()
_original_call_action = BaseResponse.call_action


def _call_action(self: BaseResponse) -> Any:
    started = time.monotonic()
    action = f"{self.service_name}:{self._get_action()}"
    if CONDITIONS.admit(action):
        response = _original_call_action(self)
    else:
        json_protocol = "json" in str(self.headers.get("Content-Type", ""))
        body = _THROTTLE_JSON if json_protocol else _THROTTLE_XML
        response = 400, {"Content-Type": "application/x-amz-json-1.1" if json_protocol else "text/xml"}, body
    remaining = CONDITIONS.latency - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return response


def install() -> None:
    BaseResponse.call_action = _call_action  # type: ignore[method-assign]
