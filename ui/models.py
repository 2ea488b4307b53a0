"""Which model a browser uses: the class model (the teacher's choice, followed live) or its own
pick, kept in a cookie for a school term; and the model picker in every page's sidebar. The
lists and rules are mnist_core.lab.catalog's; this module keeps the choice per browser."""
from __future__ import annotations

import streamlit as st

from mnist_core.lab import catalog
from mnist_core.lab.catalog import FOLLOW_CLASS
from mnist_core.lab.db import StoreError
from mnist_core.lab.runs import RunRecord
from ui import resources, session
from ui.teacher import is_teacher
from ui.text import plain, reason

#: How often an open page checks whether the teacher changed the class model (seconds).
CLASS_MODEL_POLL_SECONDS = 3.0
#: How long a browser remembers the model it picked (a school term).
MODEL_PICK_SECONDS = 120 * 24 * 3600


def models() -> list[catalog.ModelInfo]:
    """Every model this lab can use (bundled first, then runs newest first), read fresh on
    each call so a run that just finished is there at once (one small SQLite query)."""
    return catalog.list_models(resources.store(), resources.bundled_card())


def last_run() -> RunRecord | None:
    """The most recent run in the store (None if none, or the store cannot be read)."""
    s = resources.store()
    try:
        return s.latest_run() if s is not None else None
    except StoreError:
        return None


def past_runs() -> list[RunRecord]:
    """Every stored run, newest first ([] without a readable store): the builder's starts."""
    s = resources.store()
    try:
        return s.list_runs() if s is not None else []
    except StoreError:
        return []


@st.cache_resource(show_spinner=False)
def _class_model_choice() -> catalog.ClassModelChoice:
    return catalog.ClassModelChoice(resources.store())


def class_model_ref() -> str:
    """The class model's ref (stored: it survives a restart); read at most once a second."""
    return _class_model_choice().ref()


def model_pick() -> str:
    """This browser's pick: FOLLOW_CLASS (the default) or a model ref; from its cookie when a
    session starts, so a reload or a new tab keeps it."""
    if session.MODEL_PICK not in st.session_state:
        st.session_state[session.MODEL_PICK] = session.browser_cookie("model") or FOLLOW_CLASS
    return st.session_state[session.MODEL_PICK]


def follows_class() -> bool:
    return model_pick() == FOLLOW_CLASS


def pick_model(ref: str) -> None:
    """This browser uses `ref` (FOLLOW_CLASS: the class model, whatever it becomes) on every
    page and after reloads. Usable as a button's on_click callback."""
    st.session_state[session.MODEL_PICK] = ref
    session.keep_cookie("model", None if ref == FOLLOW_CLASS else ref, MODEL_PICK_SECONDS)


def active_model() -> catalog.ModelInfo:
    """The model this browser uses: its own pick, or else the class model."""
    return catalog.chosen_model(models(), model_pick(), class_model_ref())


def class_model() -> catalog.ModelInfo:
    return catalog.class_model(models(), class_model_ref())


def make_class_model(ref: str) -> None:
    """Button callback: the teacher makes `ref` the class model, for every browser that has
    not picked its own, open pages included (they check every CLASS_MODEL_POLL_SECONDS). This
    browser follows it too. Checked here, on the server, not only by hiding the button."""
    if not is_teacher():
        session.flash("Only the teacher can choose the class model.")
        return
    try:
        _class_model_choice().set(ref)
    except (KeyError, StoreError) as e:
        session.flash(f"The class model was not changed: {reason(e)}.")
        return
    pick_model(FOLLOW_CLASS)
    label = next((m.label for m in models() if m.ref == ref), ref)
    session.flash(f"The class model is now {plain(label)}: every browser uses it.")


def damaged_runs() -> list[str]:
    """One line per run whose record cannot be read: the runs are listed without it."""
    s = resources.store()
    try:
        damaged = s.read_runs()[1] if s is not None else []
    except StoreError:
        return []
    return [f"Run {d.run_id} skipped: its record is damaged ({d.reason})." for d in damaged]


def _damaged_runs_sidebar(shown: int = 3) -> None:
    lines = damaged_runs()
    for line in lines[:shown]:
        st.sidebar.warning(plain(line), icon=":material/warning:")
    if len(lines) > shown:
        st.sidebar.caption(f"{len(lines) - shown} more damaged run records (see the server's "
                           "log).")


def _picked_in_sidebar() -> None:
    pick_model(st.session_state[session.MODEL_PICKER])


def sidebar() -> None:
    """The model picker shown on every page: "Class model" or any one model for this browser
    alone. The unlocked teacher can make the picked model the class model."""
    available = models()
    options = {m.ref: m for m in available}
    pick = model_pick()
    if pick != FOLLOW_CLASS and pick not in options:   # its run is gone: follow the class
        pick = FOLLOW_CLASS
        pick_model(pick)
    current = catalog.class_model(available, class_model_ref())
    labels = {FOLLOW_CLASS: f"Class model: {current.label}"} | {
        ref: m.label for ref, m in options.items()}
    st.session_state[session.MODEL_PICKER] = pick    # the widget shows the pick, on every page
    st.sidebar.selectbox("Model", list(labels), key=session.MODEL_PICKER,
                         format_func=labels.get, on_change=_picked_in_sidebar,
                         help="The class model is the one the teacher chose for everyone; "
                              "pick another to use it in this browser only.")
    chosen = current if pick == FOLLOW_CLASS else options[pick]
    if chosen.test_accuracy is not None:
        st.sidebar.caption(f"Test accuracy {chosen.test_accuracy:.2%} on the official MNIST "
                           "test set.")
    if pick != FOLLOW_CLASS and chosen.ref != current.ref and is_teacher():
        st.sidebar.button("Make it the class model", on_click=make_class_model,
                          args=(chosen.ref,), icon=":material/groups:")
    _damaged_runs_sidebar()
    store = resources.store()
    if resources.store_error():
        st.sidebar.warning(f"Runs cannot be saved: {resources.store_error()}")
    elif store is not None and store.read_only:
        st.sidebar.warning(f"Nothing can be saved: the lab home `{store.home}` cannot be "
                           f"written ({store.read_only}). Saved drawings and runs can still "
                           "be viewed.")


@st.fragment(run_every=CLASS_MODEL_POLL_SECONDS)
def follow_the_class_model() -> None:
    """Redraw the whole page when the teacher has changed the class model since it was drawn
    (only in browsers that follow it): the open Draw page then reads drawings with it."""
    if session.get(session.SHOWN_CLASS_MODEL) != class_model_ref() and follows_class():
        st.rerun()   # (never during a whole-page run: setup_page has just set what it shows)
