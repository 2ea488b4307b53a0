"""Cookies for this browser, set from Python: a tiny, invisible Streamlit component.

Streamlit reads the cookies a browser sends when it opens a page (`st.context.cookies`) but
cannot set any. This component writes them in the browser (JavaScript in `memory.js`; Streamlit
components v2 run in the page itself, not in a frame), so that what one page load decided, the
teacher's unlock or the model this browser picked, is there for the next: reloads, new tabs
and pages opened from a bookmark.

Cookie values are opaque strings the server checks on every use; nothing here trusts them.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

_component = st.components.v2.component(
    "mnist_lab_browser_memory",
    js=(Path(__file__).resolve().parent / "memory.js").read_text(encoding="utf-8"))


def remember(cookies: dict[str, tuple[str | None, int]], *, path: str = "/",
             key: str = "browser_memory") -> None:
    """Make this browser hold `cookies`: name -> (value, seconds to keep it); a value of None
    deletes that cookie. They are sent back only to this site (SameSite=Strict; Secure over
    https). Call once per page run, with everything this session wants kept."""
    data = [{"name": name, "value": value, "max_age": int(seconds)}
            for name, (value, seconds) in cookies.items()]
    _component(key=key, data={"cookies": data, "path": path}, height=0, width="stretch")
