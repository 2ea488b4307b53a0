"""What the app asks of the browser itself, beyond Streamlit's widgets: a tiny, invisible
Streamlit component (JavaScript in `browser_side.js`; Streamlit components v2 run in the page
itself, not in a frame), rendered once per page run.

- Cookies, set from Python. Streamlit reads the cookies a browser sends when it opens a page
  (`st.context.cookies`) but cannot set any; this writes them, so that what one page load
  decided, the teacher's unlock or the model this browser picked, is there for the next:
  reloads, new tabs and pages opened from a bookmark. Cookie values are opaque strings the
  server checks on every use; nothing here trusts them.
- On a phone, the sidebar closes once a page was picked in it (Streamlit does that for its own
  page list, not for the page links this app's sidebar uses).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

_component = st.components.v2.component(
    "mnist_lab_browser_side",
    js=(Path(__file__).resolve().parent / "browser_side.js").read_text(encoding="utf-8"))


def browser_side(cookies: dict[str, tuple[str | None, int]], *, path: str = "/",
                 key: str = "browser_side") -> None:
    """Make this browser hold `cookies`: name -> (value, seconds to keep it); a value of None
    deletes that cookie. They are sent back only to this site (SameSite=Strict; Secure over
    https). Call once per page run, with everything this session wants kept."""
    data = [{"name": name, "value": value, "max_age": int(seconds)}
            for name, (value, seconds) in cookies.items()]
    _component(key=key, data={"cookies": data, "path": path}, height=0, width="stretch")
