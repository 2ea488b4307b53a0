"""A sliding-window rate limiter for things one browser session may do only so often.

Used for teacher-unlock attempts (guessing the key) and for saving drawings (one student
clicking "Save" twenty times). Kept in a session's state, so each session has its own budget;
the clock is injectable so tests need not sleep.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class RateLimiter:
    """At most `max_events` events in any window of `per_seconds` seconds."""

    def __init__(self, max_events: int, per_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_events < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs max_events >= 1 and per_seconds > 0")
        self.max_events = max_events
        self.per_seconds = per_seconds
        self._clock = clock
        self._events: deque[float] = deque()
        self._lock = threading.Lock()  # one session can run two script threads at once

    def _forget_old(self, now: float) -> None:
        while self._events and now - self._events[0] >= self.per_seconds:
            self._events.popleft()

    def allow(self) -> bool:
        """Count one event if the budget allows it; False (and nothing counted) if not."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            if len(self._events) >= self.max_events:
                return False
            self._events.append(now)
            return True

    def retry_after(self) -> float:
        """Seconds until the next event would be allowed (0 when it would be now)."""
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            if len(self._events) < self.max_events:
                return 0.0
            return max(0.0, self._events[0] + self.per_seconds - now)
