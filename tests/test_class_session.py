"""The class as one system, under AppTest: the class model every browser follows, a browser's
own pick kept across pages and reloads, the teacher's unlock kept for the browser (not the
page load), the one-time teacher link, and the Draw page's one-tap saves.

AppTest has no browser, so cookies are played by a dict that stands in for what a browser
would send when it opens a page (session.browser_cookie); tests/e2e covers real cookies.
"""
import pytest
import streamlit as st

from ui import navigation, resources, session
from mnist_core.lab.catalog import FOLLOW_CLASS
from mnist_core.drawing.synthetic import drawn_digits
from mnist_core.classroom.teacher import create_link_token
from tests.helpers import by_label, open_page, tap

KEY = "owl-7-maple"
DRAW = "pages/3_Draw.py"


@pytest.fixture
def browser(monkeypatch):
    """The cookies 'the browser' sends with the next page it opens (a new AppTest session)."""
    jar: dict[str, str] = {}
    monkeypatch.setattr(session, "browser_cookie", lambda what: jar.get(what))
    return jar


def kept_cookie(at, what: str):
    """What the session asked its browser to keep for `what` (value, seconds)."""
    name = next(n for n in at.session_state[session.COOKIES] if f"_{what}_" in n)
    return at.session_state[session.COOKIES][name]


def a_run(epochs_done: int = 1) -> str:
    """A stored run with a (tiny, real) model, as a finished training leaves it."""
    from mnist_core.model.build import build_model
    from mnist_core.training.presets import PRESETS

    store = resources.store()
    config = PRESETS["dense-only"].config
    run_id = store.create_run(config.to_dict(), "MNIST")
    store.finish_run(run_id, status="done", model=build_model(config.spec, "float32"),
                     history=[{"epoch": e + 1, "val_accuracy": 0.9} for e in range(epochs_done)],
                     test_accuracy=0.9)
    return run_id


def caption_of(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith(":material/neurology:"))


def unlock(at):
    at.sidebar.text_input(key="teacher_key_attempt").input(KEY)
    at.button(key="FormSubmitter:teacher_unlock-Unlock").click().run()
    return at


# --- the class model ---------------------------------------------------------------------------

def test_the_class_model_reaches_every_browser_that_did_not_pick_its_own(monkeypatch, browser):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    run = a_run()
    student, picky = open_page(DRAW), open_page(DRAW)
    assert "Bundled" in caption_of(student) and "the class model" in caption_of(student)
    picky.sidebar.selectbox(key=session.MODEL_PICKER).set_value("bundled").run()
    teacher = unlock(open_page())
    assert student.session_state[session.MODEL_PICK] == FOLLOW_CLASS
    teacher.sidebar.selectbox(key=session.MODEL_PICKER).set_value(run).run()
    by_label(teacher.sidebar.button, "Make it the class model").click().run()
    assert not teacher.exception and resources.store().class_model() == run
    assert "every browser uses it" in teacher.toast[0].value
    student.run()                      # its next refresh (an open page checks every 3 s)
    assert run in caption_of(student) and "the class model" in caption_of(student)
    picky.run()
    assert "Bundled" in caption_of(picky) and "picked in this browser" in caption_of(picky)
    st.cache_resource.clear()          # a server restart: the choice is stored
    assert run in caption_of(open_page(DRAW))


def test_only_the_teacher_makes_a_class_model_even_from_a_crafted_click(monkeypatch):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    run = a_run()
    student = open_page()
    student.sidebar.selectbox(key=session.MODEL_PICKER).set_value(run).run()
    assert not [b for b in student.sidebar.button if b.label == "Make it the class model"]
    teacher = unlock(open_page())
    teacher.sidebar.selectbox(key=session.MODEL_PICKER).set_value(run).run()
    button = by_label(teacher.sidebar.button, "Make it the class model")
    resources.teacher_sessions().close(teacher.session_state[session.TEACHER_TOKEN])
    button.click().run()                                  # locked in another tab meanwhile
    assert "Only the teacher" in teacher.toast[0].value
    assert resources.store().class_model() == "bundled"


def test_a_pick_stays_on_every_page_and_after_a_reload(browser, synthetic_app_data):
    run = a_run()
    at = open_page()
    at.sidebar.selectbox(key=session.MODEL_PICKER).set_value(run).run()
    for page in navigation.PAGES:
        at.switch_page(page.path).run()
        assert not at.exception and at.sidebar.selectbox(key=session.MODEL_PICKER).value == run
    value, seconds = kept_cookie(at, "model")
    assert value == run and seconds >= 30 * 24 * 3600
    browser["model"] = value                               # the browser sends it back
    reloaded = open_page(DRAW)
    assert run in caption_of(reloaded) and "picked in this browser" in caption_of(reloaded)
    reloaded.sidebar.selectbox(key=session.MODEL_PICKER).set_value(FOLLOW_CLASS).run()
    assert kept_cookie(reloaded, "model")[0] is None       # back to following: cookie deleted
    browser["model"] = "20990101-000000-gone00"            # a run deleted since, or forged
    assert "Bundled" in caption_of(open_page(DRAW))


def test_a_run_stopped_in_its_first_epoch_is_in_no_model_list(synthetic_app_data):
    from mnist_core.training.presets import PRESETS

    store = resources.store()
    run_id = store.create_run(PRESETS["fast"].config.to_dict(), "MNIST")
    store.finish_run(run_id, status="stopped", history=[], model=None)
    at = open_page("pages/2_Analyze.py")
    assert run_id not in by_label(at.selectbox, "Model").options[-1]
    assert len(at.sidebar.selectbox(key=session.MODEL_PICKER).options) == 2   # class, bundled


# --- the teacher's session ---------------------------------------------------------------------

def test_an_unlock_holds_for_the_browser_until_it_locks_and_not_for_a_session_id(monkeypatch,
                                                                                  browser):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    teacher = unlock(open_page("pages/1_Train.py"))
    assert [b for b in teacher.button if b.label == "Start training"]
    token, seconds = kept_cookie(teacher, "teacher")
    assert token == teacher.session_state[session.TEACHER_TOKEN] and seconds >= 3600
    assert KEY not in token
    browser["teacher"] = token                              # a reload, a new tab
    tab = open_page("pages/1_Train.py")
    assert [b for b in tab.button if b.label == "Start training"]
    assert any("unlocked in this browser" in c.value for c in tab.sidebar.caption)
    browser.pop("teacher")                                  # a student's browser
    student = open_page("pages/1_Train.py")
    assert not [b for b in student.button if b.label == "Start training"]
    by_label(tab.sidebar.button, "Lock teacher controls").click().run()
    assert kept_cookie(tab, "teacher")[0] is None
    browser["teacher"] = token                              # the old cookie is worth nothing
    assert not [b for b in open_page("pages/1_Train.py").button if b.label == "Start training"]
    teacher.run()                                           # the first tab is locked too
    assert not [b for b in teacher.button if b.label == "Start training"]


def test_a_server_restart_locks_every_browser(monkeypatch, browser):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    browser["teacher"] = kept_cookie(unlock(open_page()), "teacher")[0]
    assert any("unlocked" in c.value for c in open_page().sidebar.caption)
    st.cache_resource.clear()                               # the server restarts
    assert open_page().sidebar.text_input(key="teacher_key_attempt")


def test_the_teacher_link_unlocks_once_and_leaves_the_address(monkeypatch, browser, capsys):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", KEY)
    open_page()
    printed = capsys.readouterr().out
    assert "Teacher link" in printed and "?teacher=" in printed   # in the server's console
    token = printed.split("?teacher=")[1].split()[0]
    open_page()                                             # printed once per server
    assert "?teacher=" not in capsys.readouterr().out
    at = open_page()
    at.query_params["teacher"] = token
    at.run()
    assert not at.exception and "teacher" not in at.query_params
    assert any("unlocked" in c.value for c in at.sidebar.caption)
    assert "unlocked by the teacher link" in at.toast[0].value
    again = open_page()
    again.query_params["teacher"] = token
    again.run()
    assert any("already used or has expired" in e.value for e in again.sidebar.error)
    assert again.sidebar.text_input(key="teacher_key_attempt")
    other = create_link_token(resources.store())            # `python -m mnist_core teacher-link`
    fresh = open_page()
    fresh.query_params["teacher"] = other
    fresh.run()
    assert any("unlocked" in c.value for c in fresh.sidebar.caption)


def test_a_teacher_link_is_ignored_without_a_key(monkeypatch, capsys):
    monkeypatch.delenv("MNIST_LAB_TEACHER_KEY", raising=False)
    at = open_page()
    assert "?teacher=" not in capsys.readouterr().out
    at.query_params["teacher"] = "anything"
    at.run()
    assert not at.exception and not at.sidebar.error


# --- saving on the Draw page -------------------------------------------------------------------

def test_one_tap_saves_the_drawing_as_that_digit_clears_the_canvas_and_can_be_undone(
        monkeypatch, fake_canvas):
    import ui.canvas as draw_canvas

    shown = []
    monkeypatch.setattr(draw_canvas, "digit_row", lambda **kw: shown.append(kw) and None)
    images, labels = drawn_digits(1, seed=8)
    at = open_page(DRAW)
    fake_canvas.show(images[0])
    at.run()
    assert shown[-1] == {"key": "save_as", "highlight": labels[0]}   # a highlight, no choice
    generation = at.session_state["canvas_generation"] if "canvas_generation" in \
        at.session_state else 0
    wrong = (labels[0] + 1) % 10                            # the student meant another digit
    tap(monkeypatch, at, wrong)
    assert not at.exception
    assert resources.store().drawings()[1].tolist() == [wrong]
    assert at.session_state["canvas_generation"] == generation + 1   # cleared
    assert any(f"Saved as a {wrong} (drawing #1)" in s.value for s in at.success)
    assert not at.metric                                    # ready for the next digit
    by_label(at.button, "Undo this save").click().run()
    assert resources.store().drawings()[1].tolist() == []
    assert "removed" in at.toast[0].value
