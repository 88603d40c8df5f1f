"""The Lambda time budget: stop, loudly, while there is still time to say so.

A periodic run that ran out of time must not report what it has: rdklib and the
rule retire every row a periodic run leaves out. So the run checks the time left
before each body read and before reporting, and fails with TimeBudgetExceeded
while RESERVE_MS remain, enough to send 1,000 evaluations and log the failure.
"""

from __future__ import annotations

from typing import Any

RESERVE_MS = 15_000


class TimeBudgetExceeded(RuntimeError):
    """The run stopped before the Lambda timeout; nothing was reported."""


class Deadline:
    def __init__(self, context: Any = None, reserve_ms: int = RESERVE_MS) -> None:
        # Outside Lambda (tests, the CLI) there is no context and no budget.
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.reserve_ms = reserve_ms

    def left_s(self) -> float | None:
        """Seconds until the run must stop (the Lambda timeout less the reserve); None outside Lambda."""
        return None if self._remaining is None else (int(self._remaining()) - self.reserve_ms) / 1000

    def check(self, stage: str) -> None:
        if self._remaining is None:
            return
        left = int(self._remaining())
        if left < self.reserve_ms:
            raise TimeBudgetExceeded(
                f"stopped {stage} with {left} ms of the Lambda timeout left (reserve {self.reserve_ms} ms): "
                "nothing reported, so no row was retired; raise the function timeout"
            )


NO_DEADLINE = Deadline()
