"""Sliding-window rate limits for things one device may do only so often.

Used for wrong teacher keys (guessing the key) and for saving drawings (one student tapping
digits twenty times). Budgets are kept per device (`PerDevice`, keyed by the client's address),
not per browser session: a reload, a new tab or a script opening fresh sessions gets no fresh
allowance. The clock is injectable so tests need not sleep.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
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


class PerDevice:
    """A `RateLimiter` per device, created on a device's first event. At most `max_devices`
    are remembered (the least recently seen is forgotten first), so a flood of addresses costs
    bounded memory; a forgotten device had been quiet longer than the others."""

    def __init__(self, max_events: int, per_seconds: float, max_devices: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        RateLimiter(max_events, per_seconds)   # checks the arguments
        self.max_events, self.per_seconds = max_events, per_seconds
        self.max_devices, self._clock = max_devices, clock
        self._limiters: OrderedDict[str, RateLimiter] = OrderedDict()
        self._lock = threading.Lock()

    def _limiter(self, device: str) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.pop(device, None)
            if limiter is None:
                limiter = RateLimiter(self.max_events, self.per_seconds, self._clock)
                while len(self._limiters) >= self.max_devices:
                    self._limiters.popitem(last=False)
            self._limiters[device] = limiter
            return limiter

    def allow(self, device: str) -> bool:
        """Count one event of `device` if its budget allows it; False (nothing counted) if not."""
        return self._limiter(device).allow()

    def retry_after(self, device: str) -> float:
        """Seconds until `device` may act again (0 when it may now)."""
        with self._lock:
            limiter = self._limiters.get(device)
        return 0.0 if limiter is None else limiter.retry_after()
