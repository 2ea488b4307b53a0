"""What one browser may send the server over Streamlit's WebSocket, at most.

Streamlit reads every message a client sends in full, parses it, and keeps the widget values
it carries in the session, which Streamlit keeps for two more minutes after a client leaves
(up to 128 such sessions). The smallest limit its configuration takes is 1 MB
(`server.maxWidgetStateSize`, in .streamlit/config.toml), and a 1 MB JSON array costs the
server about ten times that in Python objects, kept per session: a few scripted clients could
hold a core and much memory (measured by bench/flood.py). Nothing the app's pages send comes
near it: a
drawing at the canvas's cap (mnist_core.drawing.strokes.MAX_POINTS) is ~80 kB of text, every other
widget a few bytes. So the WebSocket closes on any message over `MAX_MESSAGE_BYTES`, before it
is parsed; what a client can make the server hold is then bounded by that size.

Streamlit has no public setting below 1 MB, so this replaces the function its WebSocket
handler asks for the limit (streamlit.web.server.starlette.starlette_websocket). If a future
Streamlit moves it, `apply()` says so (False, and a warning in the log): the 1 MB limit of
the configuration still holds, and tests/test_server_limits.py fails until this is updated.
"""
from __future__ import annotations

import logging

#: The largest message a browser may send: a drawing at the canvas's cap, three times over.
MAX_MESSAGE_BYTES = 256 * 1024

_LOG = logging.getLogger(__name__)


def apply(max_bytes: int = MAX_MESSAGE_BYTES) -> bool:
    """Make Streamlit's WebSocket close on any client message over `max_bytes` (never more
    than the configured limit). True when in effect."""
    try:
        from streamlit.runtime import runtime_util
        from streamlit.web.server.starlette import starlette_websocket as websocket
    except ImportError:
        websocket = None
    if websocket is None or not hasattr(websocket, "get_max_widget_state_size_bytes"):
        _LOG.warning("Streamlit's WebSocket limit could not be lowered to %d bytes: its "
                     "messages stay bounded by server.maxWidgetStateSize only", max_bytes)
        return False
    configured = runtime_util.get_max_widget_state_size_bytes()
    websocket.get_max_widget_state_size_bytes = lambda: min(max_bytes, configured)
    return True
