"""The teacher key: who may start and stop training and edit the class's drawings.

With no key configured the lab is a single-user lab and everything is open. With a key, a
browser session unlocks once by typing it. The key is compared in constant time
(`hmac.compare_digest` on digests, so neither content nor length leaks through timing), never
echoed or logged, and a session gets only a few tries per minute.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from .ratelimit import RateLimiter

KEY_ENV = "MNIST_LAB_TEACHER_KEY"
#: Tries per session per minute before further attempts are refused unread.
TRIES_PER_MINUTE = 5
#: Longer input is refused before hashing; no real key is this long (a 10 kB paste is a mistake
#: or an attack, and gets the same message as any wrong key).
MAX_KEY_LENGTH = 256


def configured_key(secrets_key: str | None = None) -> str | None:
    """The teacher key: the environment variable wins over `teacher_key` in secrets.toml.

    Blank values count as no key, so an empty variable cannot lock everyone out."""
    for candidate in (os.environ.get(KEY_ENV), secrets_key):
        if candidate is not None and str(candidate).strip():
            return str(candidate).strip()
    return None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass
class TeacherGate:
    """One browser session's unlock state and its own budget of tries."""

    unlocked: bool = False
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(TRIES_PER_MINUTE, 60.0))

    def try_unlock(self, attempt: str | None, key: str | None) -> str | None:
        """Unlock if `attempt` is the key. Returns None on success, else the message to show.

        The message never contains the attempt or the key."""
        if key is None:
            self.unlocked = True
            return None
        if not self.limiter.allow():
            wait = max(1, round(self.limiter.retry_after()))
            return f"Too many tries. Wait {wait} s before trying again."
        attempt = attempt or ""
        if not attempt.strip():
            return "Type the teacher key first."
        # Compare digests: equal length always, and the comparison runs in constant time.
        ok = len(attempt) <= MAX_KEY_LENGTH and hmac.compare_digest(_digest(attempt.strip()),
                                                                    _digest(key))
        if not ok:
            return "That is not the teacher key."
        self.unlocked = True
        return None
