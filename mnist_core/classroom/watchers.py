"""How many browsers have the Train page open, so that the live view refreshes less often for a
big class.

Every refresh of a watcher's live view costs the server milliseconds of Python, taken from the
training on a two-core laptop: a whole class watching slows a training noticeably
(docs/benchmarks.md, "What do students watching a run cost?"). Most of that cost is inside
Streamlit and Plotly, so the lever is fewer refreshes: up to 10 watchers refresh every 2 s;
beyond that the interval grows so that the whole class asks for about 5 refreshes a second, at
most every 6 s.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

MIN_REFRESH_SECONDS = 2.0
MAX_REFRESH_SECONDS = 6.0
#: Refreshes a second the whole class may ask of the server (a small share of one core).
CLASS_REFRESHES_PER_SECOND = 5.0
#: A page counts as watching while it checked in within this many seconds; it checks in at every
#: refresh of its live view (at most every MAX_REFRESH_SECONDS) or, between runs, every second.
WINDOW_SECONDS = 15.0


def live_refresh_seconds(watchers: int) -> float:
    """The live view's refresh interval for `watchers` browsers: 2 s up to 10, 3 s up to 15, ...,
    6 s from 26. Whole seconds, so that a class joining one by one changes it only a few times."""
    wanted = math.ceil(watchers / CLASS_REFRESHES_PER_SECOND)
    return float(min(MAX_REFRESH_SECONDS, max(MIN_REFRESH_SECONDS, wanted)))


class PageWatchers:
    """The browsers (sessions) that checked in lately: one per server, shared by every session,
    so it is safe to call from any script thread."""

    def __init__(self, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._window, self._clock = window, clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def seen(self, session: str) -> None:
        with self._lock:
            self._seen[session] = self._clock()

    def count(self) -> int:
        """Sessions seen within the window (older ones are forgotten: closed tabs, phones that
        slept)."""
        with self._lock:
            now = self._clock()
            self._seen = {s: t for s, t in self._seen.items() if now - t <= self._window}
            return len(self._seen)
