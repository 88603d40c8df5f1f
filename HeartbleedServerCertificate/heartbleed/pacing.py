"""Client-side rate control for the concurrent body reads.

IAM throttles GetServerCertificate at an account rate it does not publish. The
readers share one Pace: unlimited until the first Throttling answer, then the
rate IAM was seen to accept over the last second (a little under it), growing
again by a few percent a second while no throttling comes back. botocore's
adaptive mode does the same per client, but measured too cautious here (about
half the accepted rate at 100 requests/s); bench/ shows the difference.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)
BACK_OFF = 0.9  # after a throttle: this share of the rate IAM accepted in the last second
GROWTH = 0.05  # per second without throttling
WINDOW = 1.0  # seconds over which accepted requests are counted


class Pace:
    def __init__(self) -> None:
        self.rate: float | None = None  # requests per second; None: no limit seen yet
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._accepted: deque[float] = deque()
        self._last_cut = 0.0
        self._last_growth = 0.0

    def wait(self, **_: Any) -> None:
        """Block until this request's slot (botocore before-send hook: every attempt passes here)."""
        with self._lock:
            if self.rate is None:
                return
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            time.sleep(slot - now)

    def observe(self, response: Any = None, **_: Any) -> None:
        """Learn from each answer (botocore needs-retry hook); botocore still decides the retry."""
        if response is None:  # a connection error: says nothing about the rate
            return
        code = response[1].get("Error", {}).get("Code")
        now = time.monotonic()
        with self._lock:
            while self._accepted and self._accepted[0] < now - WINDOW:
                self._accepted.popleft()
            if code in THROTTLING_CODES:
                # One cut per window: the other answers in flight report the same overload.
                if now - self._last_cut >= WINDOW:
                    self.rate = max(1.0, BACK_OFF * max(len(self._accepted), 1) / WINDOW)
                    self._last_cut = self._last_growth = now
            elif code is None:
                self._accepted.append(now)
                if self.rate is not None and now - self._last_growth >= WINDOW:
                    self.rate *= 1 + GROWTH
                    self._last_growth = now


@contextmanager
def paced(client: Any, operation: str) -> Iterator[Pace]:
    """Within the block, pace every attempt of operation on client and learn from every answer."""
    pace = Pace()
    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    hooks = ((f"before-send.{service}.{operation}", pace.wait), (f"needs-retry.{service}.{operation}", pace.observe))
    events.register(hooks[0][0], hooks[0][1], unique_id=f"pace-wait-{id(pace)}")
    events.register_first(hooks[1][0], hooks[1][1], unique_id=f"pace-observe-{id(pace)}")
    try:
        yield pace
    finally:
        events.unregister(hooks[0][0], unique_id=f"pace-wait-{id(pace)}")
        events.unregister(hooks[1][0], unique_id=f"pace-observe-{id(pace)}")
