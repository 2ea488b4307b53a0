"""The teacher key in the browser: who is the teacher, the unlock field and the lock, one-time
teacher links. The rules (key check, budgets per device, tokens) are mnist_core.classroom.
teacher's; this module only asks them, and remembers the unlock per browser.

`is_teacher()` must be asked again inside every callback that changes shared state: the check
happens on the server when the action runs, not only when the button was drawn.
"""
from __future__ import annotations

import streamlit as st

from mnist_core import settings
from mnist_core.lab.db import StoreError
from ui import resources, session


def teacher_key() -> str | None:
    """The configured key (environment first, then `teacher_key` in .streamlit/secrets.toml)."""
    from mnist_core.classroom.teacher import configured_key

    try:
        secret = st.secrets.get("teacher_key")
    except Exception:  # no secrets.toml, or one that does not parse: no key from there
        secret = None
    return configured_key(secret)


def device() -> str:
    """The device this session runs on: its network address, as mnist_core.lab.devices decides
    (behind a trusted reverse proxy, the address the proxy forwarded). Rate limits and quotas
    count per device, so a reload or a new session gives no fresh allowance."""
    from mnist_core.lab.devices import client_device

    return client_device(st.context.ip_address, st.context.headers.get("X-Forwarded-For"),
                         settings.trusted_proxies())


def _token() -> str | None:
    """The token this browser unlocked with: this session's own, or the one its cookie brought
    when the session opened (a reload, another tab). Whether it still unlocks anything,
    `resources.teacher_sessions` says."""
    if not st.session_state.get(session.TEACHER_TOKEN):
        st.session_state[session.TEACHER_TOKEN] = session.browser_cookie("teacher")
    return st.session_state[session.TEACHER_TOKEN]


def is_teacher() -> bool:
    """True in a single-user lab (no key configured) or in a browser unlocked as the teacher
    (typed key or teacher link, in this tab or another, until the teacher locks or the server
    restarts)."""
    return teacher_key() is None or resources.teacher_sessions().valid(_token())


def teacher_only(action: str) -> bool:
    """is_teacher(); when locked, also say (briefly) that `action` needs the teacher unlock."""
    if is_teacher():
        return True
    st.caption(f":material/lock: {action}: teacher only (unlock in the sidebar).")
    return False


def _open_session() -> None:
    """Unlock this browser: a new token, kept by this session and in the browser's cookie."""
    from mnist_core.classroom.teacher import SESSION_SECONDS

    token = resources.teacher_sessions().open()
    st.session_state[session.TEACHER_TOKEN] = token
    session.keep_cookie("teacher", token, SESSION_SECONDS)


def _unlock() -> None:
    attempt = st.session_state.pop(session.TEACHER_KEY_ATTEMPT, "")
    message = resources.teacher_gate().try_unlock(device(), attempt, teacher_key())
    if message is None:
        _open_session()
    else:
        session.flash(message, "sidebar", "error")


def _lock() -> None:
    """Lock this browser, every tab of it: its token stops working on the server at once."""
    resources.teacher_sessions().close(_token())
    session.keep_cookie("teacher", None, 0)


def sidebar() -> None:
    """The unlock field, shown only when a key is configured. The typed key is removed from
    the session state as soon as it is checked, and never shown again."""
    if teacher_key() is None:
        return
    if is_teacher():
        st.sidebar.caption(":material/lock_open: Teacher controls unlocked in this browser "
                           "(reloads and new tabs too) until you lock them.")
        st.sidebar.button("Lock teacher controls", on_click=_lock, icon=":material/lock:")
        return
    with st.sidebar.form("teacher_unlock", border=False, enter_to_submit=True):
        st.text_input("Teacher key", type="password", key=session.TEACHER_KEY_ATTEMPT,
                      help="Starting or stopping training and editing the class's drawings "
                           "need the teacher key. Students can draw and watch without it.")
        st.form_submit_button("Unlock", on_click=_unlock)
    session.show_flashes("sidebar")


def use_link() -> None:
    """A one-time teacher link (`?teacher=TOKEN`) unlocks this browser, once; the token leaves
    the address bar at once, so it is neither bookmarked nor shown on the projector."""
    token = st.query_params.get("teacher")
    if token is None:
        return
    del st.query_params["teacher"]
    if teacher_key() is None or is_teacher():
        return
    message = resources.teacher_gate().try_link(token, resources.store())
    if message is None:
        _open_session()
        session.flash("Teacher controls unlocked by the teacher link.")
    else:
        session.flash(message, "sidebar", "error")


@st.cache_resource(show_spinner=False)
def announce_link() -> str | None:
    """Once per server, when it serves its first page: print a one-time teacher link in the
    server's console, as Jupyter does, so the key need not be typed in front of the class.
    Never shown in a page."""
    from mnist_core.classroom.teacher import LINK_SECONDS, create_link_token, teacher_link
    from ui.joining import join_address

    s = resources.store()
    if teacher_key() is None or s is None:
        return None
    try:
        url = teacher_link(join_address().url, create_link_token(s))
    except StoreError:
        return None
    print(f"\n  Teacher link (unlocks one browser once, within {LINK_SECONDS // 3600} h; "
          f"more: python -m mnist_core teacher-link):\n  {url}\n", flush=True)
    return url
