"""The two places where the lab changes Streamlit's own behaviour, each applied once per process
by `apply_all()` (ui.navigation.setup_page calls it on every page run; it costs nothing after
the first). Both replace a private Streamlit function, so each says what it replaces, checks
that it is still there, and does nothing (with a warning) when a future Streamlit moved it;
tests/test_app.py and tests/test_hostile_input.py fail until this file is updated.

Checked against Streamlit 1.67 (requirements.txt pins the range).

1. Keep Keras' state between script runs. Streamlit calls keras.backend.clear_session() after
   every run, fragment reruns included (script_runner._clean_problem_modules). That empties
   TensorFlow's kernel cache and runs a full garbage collection while the shared model serves
   other sessions: the lab's models are built once and shared on purpose
   (docs/decisions/keras-reset-patch.md). The function's only other job is closing matplotlib
   figures, which this app never creates.
2. Bound what one browser may send. Streamlit reads every client message in full, parses it
   and keeps the widget values it carries in the session (and keeps a session two minutes
   after its client leaves). Its configuration's floor is 1 MB (`server.maxWidgetStateSize`),
   and a 1 MB JSON array costs the server about ten times that in Python objects. Nothing the
   pages send comes near it: a drawing at the canvas's cap (mnist_core.drawing.strokes.
   MAX_POINTS) is about 80 kB of text. So the WebSocket closes on any message over
   `MAX_MESSAGE_BYTES`, before it is parsed (docs/benchmarks.md, "Can students knock the lab
   over?").
"""
from __future__ import annotations

import logging

import streamlit as st

#: The largest message a browser may send: a drawing at the canvas's cap, three times over.
MAX_MESSAGE_BYTES = 256 * 1024

_LOG = logging.getLogger(__name__)


def keep_keras_state_between_runs() -> bool:
    """Stop Streamlit from resetting Keras after every script run. True when in effect."""
    from streamlit.runtime.scriptrunner import script_runner

    if not hasattr(script_runner, "_clean_problem_modules"):
        _LOG.warning("Streamlit no longer has script_runner._clean_problem_modules: Keras' "
                     "state is reset after every run (ui/patches.py needs updating)")
        return False
    script_runner._clean_problem_modules = lambda: None
    return True


def limit_message_size(max_bytes: int = MAX_MESSAGE_BYTES) -> bool:
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


@st.cache_resource(show_spinner=False)
def apply_all() -> dict[str, bool]:
    """Once per process: both patches; which of them are in effect."""
    return {"keras_state": keep_keras_state_between_runs(),
            "message_size": limit_message_size()}
