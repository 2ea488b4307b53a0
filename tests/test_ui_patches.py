"""ui/patches.py changes two private Streamlit functions: these fail when a Streamlit upgrade
moves either, instead of the lab silently losing what each patch is for."""
from streamlit.runtime import runtime_util
from streamlit.web.server.starlette import starlette_websocket

from ui import patches


def test_the_websocket_refuses_messages_over_the_lab_limit(monkeypatch):
    monkeypatch.setattr(starlette_websocket, "get_max_widget_state_size_bytes",
                        starlette_websocket.get_max_widget_state_size_bytes)
    assert runtime_util.get_max_widget_state_size_bytes() >= 1_000_000   # Streamlit's floor, 1 MB
    assert patches.limit_message_size() is True
    assert starlette_websocket.get_max_widget_state_size_bytes() == patches.MAX_MESSAGE_BYTES


def test_the_limit_never_exceeds_the_configured_one(monkeypatch):
    monkeypatch.setattr(starlette_websocket, "get_max_widget_state_size_bytes",
                        starlette_websocket.get_max_widget_state_size_bytes)
    patches.limit_message_size(max_bytes=10 ** 12)
    assert (starlette_websocket.get_max_widget_state_size_bytes()
            == runtime_util.get_max_widget_state_size_bytes())


def test_keras_is_no_longer_reset_after_each_run(monkeypatch):
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setattr(script_runner, "_clean_problem_modules",
                        script_runner._clean_problem_modules)
    assert patches.keep_keras_state_between_runs() is True
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    script_runner._clean_problem_modules()
    assert calls == []
