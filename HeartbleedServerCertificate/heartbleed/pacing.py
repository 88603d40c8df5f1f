"""Client-side rate control for the concurrent body reads.

IAM throttles GetServerCertificate at an account rate it does not publish. The
readers share one Pace: unlimited until the first Throttling answer, then the
rate IAM was seen to accept over the last second (a little under it), growing
again by a few percent a second while no throttling comes back. botocore's
adaptive mode does the same per client, but measured too cautious here (about
half the accepted rate at 100 requests/s); bench/ shows the difference.

IAM answers a request it throttles at once, while an accepted one takes the
service's time, so the first throttles of a run come back before any accepted
answer. A cut therefore counts, over the last second, the accepted answers or,
while those are still in flight, the requests sent and not refused, whichever
is more; and a later cut keeps at least CUT_LIMIT of the pace, since a second
in which readers sat in retry backoff holds few answers. Either way the pace
never falls to one request a second on thin evidence (bench/: --pacing-only).

A throttled read is retried at its next slot on the pace after a short pause of
its own, not after botocore's exponential backoff: the pace already spaces the
requests, and a backoff of up to 1, 2, 4 s on top left a tail of late retries
after the others had finished (the sliding-window limit at 200 ms missed
1.25 x N/R + 2 s by 1.7 s). The pause (0.1 s, doubling, at most WINDOW) is for
the read that is nearly alone in the queue, whose next slot comes at once: a
sliding window that was filled refuses everything for up to a second, and at 20
certificates one read used all 10 attempts in 0.7 s. Other errors, and a read
out of attempts, are left to botocore's retry mode.

A throttle the pace retries costs none of the client's retry quota (botocore's
standard mode: 500 units, 5 a throttled retry, 14 any other, refilled only by
successes). botocore asks every needs-retry handler and acts on the first answer,
so its standard handler used to charge for the pace's retries too and gave back
only the last 5 of a read's charges: 190-295 units were left at N=100, and a dry
quota leaves a later 5xx or timeout without a retry. So, while paced, the client's
standard handler stands aside for exactly the attempts the pace has retried.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.retries import standard

from .retry_policy import THROTTLING_CODES, error_code, replace_retry_handler

BACK_OFF = 0.9  # after a throttle: this share of the rate IAM accepted in the last second
GROWTH = 0.05  # per second without throttling
WINDOW = 1.0  # seconds over which accepted requests are counted
CUT_LIMIT = 0.8  # a cut keeps at least this share of the current pace
RETRY_PAUSE = 0.1  # seconds before a throttled read's first retry; doubled for each later one, up to WINDOW
PACED_RETRY = "heartbleed_paced_retry"  # request-context key: the attempt whose throttle the pace retries


class Pace:
    def __init__(self, max_attempts: int = 10) -> None:
        self.max_attempts = max_attempts  # the client's total_max_attempts: the pace retries no more often
        self.rate: float | None = None  # requests per second; None: no limit seen yet
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._accepted: deque[float] = deque()
        self._sent: deque[float] = deque()  # attempts that left, in the last WINDOW
        self._refused: deque[float] = deque()  # throttled answers, in the last WINDOW
        self._last_cut = 0.0
        self._last_growth = 0.0

    def wait(self, **_: Any) -> None:
        """Block until this request's slot (botocore before-send hook: every attempt passes here)."""
        with self._lock:
            now = slot = time.monotonic()
            if self.rate is not None:
                slot = max(now, self._next_slot)
                self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            time.sleep(slot - now)
        with self._lock:
            self._sent.append(time.monotonic())

    def observe(
        self, response: Any = None, attempts: int = 1, request_dict: dict[str, Any] | None = None, **_: Any
    ) -> float | None:
        """Learn from each answer (botocore needs-retry hook).

        Returns the pause before a throttled attempt's retry (then wait() gives the retry its slot)
        while attempts remain, and None otherwise, which leaves the decision to botocore's retry handler.
        The pauses of 9 retries add up to 6.5 s: past any one-second window that refuses them.
        """
        if response is None:  # a connection error: says nothing about the rate
            return None
        code = error_code(response[1])
        now = time.monotonic()
        with self._lock:
            for times in (self._accepted, self._sent, self._refused):
                while times and times[0] < now - WINDOW:
                    times.popleft()
            if code in THROTTLING_CODES:
                self._refused.append(now)
                # One cut per window: the other answers in flight report the same overload.
                if now - self._last_cut >= WINDOW:
                    # Accepted answers, or, while they are still in flight, what was sent and not refused.
                    seen = max(len(self._accepted), len(self._sent) - len(self._refused))
                    measured = BACK_OFF * seen / WINDOW
                    # Few answers in a window whose readers sat in retry backoff say little about
                    # IAM's rate: a later cut takes at most CUT_LIMIT of the pace away.
                    floor = CUT_LIMIT * self.rate if self.rate is not None else 1.0
                    self.rate = max(1.0, measured, floor)
                    self._last_cut = self._last_growth = now
                if attempts >= self.max_attempts:
                    return None
                if request_dict is not None:  # botocore's standard handler stands aside for this attempt
                    request_dict["context"][PACED_RETRY] = attempts
                return min(WINDOW, RETRY_PAUSE * 2.0 ** (int(attempts) - 1))
            if not code:
                self._accepted.append(now)
                if self.rate is not None and now - self._last_growth >= WINDOW:
                    self.rate *= 1 + GROWTH
                    self._last_growth = now
        return None


class StandardRetries:
    """botocore's standard retry handler of one client, standing aside for the attempts a pace retries."""

    def __init__(self, handler: standard.RetryHandler) -> None:
        self.handler = handler

    def needs_retry(self, **kwargs: Any) -> float | None:
        if kwargs["request_dict"]["context"].get(PACED_RETRY) == kwargs["attempts"]:
            return None  # the pace answered first (its pause): no quota taken, no second decision
        return self.handler.needs_retry(**kwargs)


# The clients whose standard retry handler a pace took over, each with the StandardRetries in its place
# (a warm container's: heartbleed/container.py).
TakenOver = weakref.WeakKeyDictionary[Any, StandardRetries]
_TAKING_OVER = threading.Lock()


def standard_retries(client: Any, taken_over: TakenOver) -> StandardRetries | None:
    """Put StandardRetries in place of the client's standard retry handler, once; None in legacy mode.

    taken_over remembers the clients already done (the container's), so that each keeps one handler
    and one quota however many paced blocks it reads in."""
    retries = client.meta.config.retries
    if retries.get("mode") not in ("standard", "adaptive"):  # legacy mode has no retry quota
        return None
    with _TAKING_OVER:
        if client not in taken_over:
            taken_over[client] = replace_retry_handler(client, StandardRetries)
        return taken_over[client]


@contextmanager
def paced(client: Any, operation: str, taken_over: TakenOver) -> Iterator[Pace]:
    """Within the block, pace every attempt of operation on client and learn from every answer."""
    standard_retries(client, taken_over)
    pace = Pace(client.meta.config.retries.get("total_max_attempts", 10))
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
