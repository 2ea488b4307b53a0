"""The teacher key: who may start and stop training and edit the class's drawings.

With no key configured the lab is a single-user lab and everything is open. With a key, a
browser unlocks by typing it (or by opening a one-time teacher link). The key is compared in
constant time (`hmac.compare_digest` on digests, so neither content nor length leaks through
timing), never echoed or logged, and a device gets only a few wrong keys per minute.

An unlock is remembered for the browser, not for one page load: the server gives it a random
token (`TeacherSessions`), which the browser keeps in a cookie and sends with every page it
opens, reloads and new tabs included. The server keeps only the token's digest, in memory, so
locking (or restarting the server) ends it; Streamlit's session ids, which its log prints,
unlock nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from mnist_core.classroom.ratelimit import PerDevice

KEY_ENV = "MNIST_LAB_TEACHER_KEY"
#: Wrong keys per device per minute before its further tries are refused unread.
WRONG_KEYS_PER_MINUTE = 10
#: Longer input is refused before hashing; no real key is this long (a 10 kB paste is a mistake
#: or an attack, and gets the same message as any wrong key).
MAX_KEY_LENGTH = 256
#: How long an unlocked browser stays unlocked unless the teacher locks it: a school day.
SESSION_SECONDS = 12 * 3600
#: How long a one-time teacher link works if nobody opens it.
LINK_SECONDS = 12 * 3600
#: A teacher token is 43 characters (32 random bytes, URL-safe base64); longer input is refused
#: unread, so a hostile cookie or link costs nothing to check.
_MAX_TOKEN_LENGTH = 64


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
    """The server's budget of wrong keys, per device (the client's address, whatever session
    or tab it types in): at most `WRONG_KEYS_PER_MINUTE`, then its tries are refused unread
    until the minute has passed.

    Students flooding wrong keys cannot lock the teacher out: each device spends its own
    budget, so only the guessing device waits; and a one-time teacher link is always checked
    (a 256-bit token cannot be guessed, and checking it costs one look-up), so a teacher link
    from the server's console gets in even from a device whose key budget is spent."""

    wrong_keys: PerDevice = field(default_factory=lambda: PerDevice(WRONG_KEYS_PER_MINUTE, 60.0))

    def try_unlock(self, device: str, attempt: str | None, key: str | None) -> str | None:
        """None if `attempt` is the key (or no key is configured): the caller unlocks the
        browser (`TeacherSessions.open`). Otherwise the message to show, which never contains
        the attempt or the key. Only wrong keys count against `device`."""
        if key is None:
            return None
        if wait := self.wrong_keys.retry_after(device):
            return (f"Too many wrong keys from this device. Wait {max(1, math.ceil(wait))} s "
                    "before trying again.")
        attempt = attempt or ""
        if not attempt.strip():
            return "Type the teacher key first."
        # Compare digests: equal length always, and the comparison runs in constant time.
        ok = len(attempt) <= MAX_KEY_LENGTH and hmac.compare_digest(_digest(attempt.strip()),
                                                                    _digest(key))
        if ok:
            return None
        self.wrong_keys.allow(device)
        return "That is not the teacher key."

    def try_link(self, token: object, store) -> str | None:
        """None if `token` is a valid one-time teacher link's (it is used up at once): the
        caller unlocks the browser. Otherwise the message to show. Never rate-limited (see
        the class): a token longer than any real one is refused unread."""
        if store is not None and redeem_link_token(store, token):
            return None
        return ("This teacher link was already used or has expired. Type the key, or make a "
                "new link on the server: python -m mnist_core teacher-link")


def _token_digest(token: object) -> str | None:
    """The digest the server keeps of a token, or None for anything that cannot be one."""
    if not isinstance(token, str) or not 0 < len(token) <= _MAX_TOKEN_LENGTH:
        return None
    return _digest(token).hex()


class TeacherSessions:
    """The browsers unlocked as the teacher, by the digest of a random token that only that
    browser holds (in a cookie). In memory, shared by the server's sessions: a restart locks
    every browser, as does `close` for one. At most `limit` at once; the oldest go first."""

    def __init__(self, seconds: float = SESSION_SECONDS, limit: int = 64,
                 clock: Callable[[], float] = time.time) -> None:
        self.seconds, self.limit, self._clock = seconds, limit, clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        """A new unlocked browser: its token (give it to that browser, and to no one else)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._expiry = {d: t for d, t in self._expiry.items() if t > now}
            while len(self._expiry) >= self.limit:
                self._expiry.pop(min(self._expiry, key=self._expiry.get))
            self._expiry[_token_digest(token)] = now + self.seconds
        return token

    def valid(self, token: object) -> bool:
        digest = _token_digest(token)
        with self._lock:
            return digest is not None and self._expiry.get(digest, 0) > self._clock()

    def close(self, token: object) -> None:
        """Lock the browser holding `token` (every tab of it)."""
        digest = _token_digest(token)
        with self._lock:
            self._expiry.pop(digest, None)


def create_link_token(store, seconds: float = LINK_SECONDS) -> str:
    """A one-time teacher link's token, recorded (as its digest) in the lab home's store, so
    that the server accepts it once, until it expires: printed in the server's console at
    start, or by `python -m mnist_core teacher-link`."""
    token = secrets.token_urlsafe(32)
    store.add_teacher_link(_token_digest(token), time.time() + seconds)
    return token


def redeem_link_token(store, token: object) -> bool:
    """True once for a valid, unexpired link token; it is used up whatever happens next."""
    digest = _token_digest(token)
    return digest is not None and store.use_teacher_link(digest)


def teacher_link(base_url: str, token: str) -> str:
    """The address that unlocks a browser once: the lab's address with `?teacher=TOKEN`."""
    return f"{base_url.rstrip('/')}/?teacher={token}"
