"""Every key this app keeps in `st.session_state`, in one place, with typed accessors for what
more than one module reads, and the one way to leave a message for the next run (`flash`).

A session is one browser tab's connection; what must outlive it (the model a browser picked,
the teacher's unlock) is also kept in a cookie (`keep_cookie`; ui.browser_side writes it) and
checked on the server each time it is used. Widget keys that belong to one module only are
defined here too, so that a key is never written in one file and read, by spelling, in another.
docs/architecture.md, "Session keys", lists them with their owners.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st

# --- every page (ui.navigation, ui.models, ui.teacher) ---------------------------------------
MODEL_PICK = "model_pick"                 # this browser's model: FOLLOW_CLASS or a ref
MODEL_PICKER = "model_picker"             # the sidebar's picker widget (copied to MODEL_PICK)
SHOWN_CLASS_MODEL = "shown_class_model"   # the class model this page was drawn with
COOKIES = "cookies_to_keep"               # name -> (value or None to delete, seconds)
FLASHES = "flashes"                       # messages left for the next run (see `flash`)
TEACHER_TOKEN = "teacher_token"           # this browser's teacher token, once unlocked here
TEACHER_KEY_ATTEMPT = "teacher_key_attempt"   # the unlock field (popped once checked)
# --- Train (pages/1_Train.py, ui.live_run, ui.builder) ---------------------------------------
TRAIN_WATCHER = "train_page_watcher"      # this session's id among the Train page's watchers
CONFIRM_STOP = "confirm_stop"             # the Stop button asked "Stop now?"
WATCHED_ACTIVE = "watched_active"         # the live view last saw the run active
START_PRESSED = "start_pressed"           # the Start button (a widget key)
BUILDER_EDITOR = "builder_editor"         # the architecture builder's Editor
BUILDER_START = "builder_start"           # its "Start from" box
# --- Draw and Inside (pages/3_Draw.py, ui.prediction, ui.canvas, pages/5_Inside.py) ----------
PROJECTOR = "projector_mode"              # large canvas and digit, for the class's screen
PROJECTOR_TOGGLE = "projector_toggle"     # its sidebar widget (copied to PROJECTOR)
CANVAS = "canvas"                         # the canvas widget
CANVAS_GENERATION = "canvas_generation"   # bumped by Clear: the canvas empties itself
CANVAS_RESETS = "draw_canvas_resets"      # per canvas key: values refused (ui.canvas)
STROKE_WIDTH = "stroke_width"             # the pen size slider
SAVE_AS = "save_as"                       # the row of digits that saves a drawing
LAST_SAVE = "last_saved_drawing"          # `LastSave`: what this browser saved last
PREPARED_DRAWING = "inside_drawing"       # the last drawing, as the network saw it
# --- Draw: where it looked (ui.prediction) ---------------------------------------------------
LOOKED_METHOD = "looked_method"           # widget: how "Where it looked" is shown
LOOKED_DIGIT = "looked_digit"             # widget: the digit it explains (None: the one it read)
LOOKED_GENERATION = "looked_generation"   # the canvas generation LOOKED_DIGIT was picked in
LOOKED_SHOWN = "looked_shown"             # (what it is for, the map): computed once a drawing
# --- Inside: open a neuron (pages/5_Inside.py, ui.neuron) ------------------------------------
NEURON_LAYER = "neuron_layer"             # widget: the layer whose neuron is open (its name)
NEURON_CHANNEL = "neuron_channel"         # widget: the map (channel) of a conv layer
NEURON_ROW = "neuron_row"                 # widget: the cell's row (also set by a tap on the map)
NEURON_COL = "neuron_col"                 # widget: the cell's column (likewise)
NEURON_UNIT = "neuron_unit"               # widget: the unit of a dense layer (or a tap on it)
NEURON_MAP = "neuron_map"                 # the map (or units) to tap: its last tap, this run
# --- Map (pages/6_Map.py, ui.digit_map) ------------------------------------------------------
MAP_CHART = "digit_map_chart"             # the map's chart (no state: keeps its identity)
MAP_PROGRESS = "digit_map_progress"       # the progress that polls while a map computes
# --- Fool it (pages/7_Fool.py, ui.fooling) ---------------------------------------------------
FOOL_TARGET = "fool_target"               # widget: the digit the smallest change aims at
FOOL_RESULT = "fool_result"               # (model ref, image digest, target, `Fooling`)
FOOL_CANVAS = "fool_canvas"               # the challenge's canvas widget
FOOL_GENERATION = "fool_canvas_generation"   # bumped by its Clear / a new challenge
FOOL_CHALLENGE_TARGET = "fool_challenge_target"   # widget: the challenge's goal
FOOL_CHALLENGE = "fool_challenge"         # the started `fooling_challenge.Challenge`, or absent
FOOL_SAVED = "fool_saved"                 # the id of the fooled drawing saved from it
FOOL_CELEBRATED = "fool_celebrated"       # the balloons flew for this challenge
# --- Class (pages/4_Class.py, ui.wall) -------------------------------------------------------
CLASS_PAGE = "class_page"                 # the wall's page number
CLASS_DIGIT = "class_digit"               # its digit filter
CLASS_WRONG_ONLY = "class_wrong_only"     # its "wrong only" filter
CLASS_FOOLED_ONLY = "class_fooled_only"   # its "fooled only" filter (drawings tagged fooled)
CLASS_SELECTING = "class_selecting"       # select mode: a tick box under each drawing
CLASS_SELECTED = "class_selected"         # ids ticked so far
CLASS_UNDO = "class_undo"                 # the last deletion: (batch id, what it deleted)
DELETE_MINUTES = "delete_minutes"         # "saved in the last N minutes"
DELETE_ROUND = "class_delete_round"       # counts deletions and undos: a click from before is stale


def relabel_key(drawing_id: int, label: int) -> str:
    """The label picker of one drawing's editor (its label in the key: a relabel elsewhere
    gives a fresh widget)."""
    return f"label-{drawing_id}-{label}"


def editor_key(drawing_id: int) -> str:
    return f"edit-{drawing_id}"


def pick_key(drawing_id: int) -> str:
    return f"pick-{drawing_id}"


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


# --- one-shot messages -----------------------------------------------------------------------

Where = Literal["toast", "page", "sidebar"]


@dataclass(frozen=True)
class Flash:
    text: str
    kind: Literal["info", "warning", "error", "success"] = "info"


def flash(text: str, where: Where = "toast", kind: str = "info") -> None:
    """Leave `text` for the next run to show, once: as a toast (ui.navigation shows those on
    every page, fragments call `show_flashes("toast")` themselves), on the page (where the
    page calls `show_flashes("page")`) or in the sidebar. For callbacks and for messages that
    must survive an st.rerun()."""
    st.session_state.setdefault(FLASHES, []).append((where, Flash(text, kind)))


def take_flashes(where: Where) -> list[Flash]:
    """The messages waiting for `where`, removed."""
    waiting = st.session_state.get(FLASHES, [])
    taken = [f for w, f in waiting if w == where]
    if taken:
        st.session_state[FLASHES] = [(w, f) for w, f in waiting if w != where]
    return taken


_ICONS = {"info": ":material/info:", "warning": ":material/info:",
          "error": ":material/error:", "success": ":material/check_circle:"}


def show_flashes(where: Where, container=None) -> list[Flash]:
    """Show and forget the messages waiting for `where` (in `container`, default the page or
    the sidebar)."""
    shown = take_flashes(where)
    for message in shown:
        if where == "toast":
            st.toast(message.text, duration="long")
            continue
        box = container or (st.sidebar if where == "sidebar" else st)
        getattr(box, message.kind)(message.text, icon=_ICONS[message.kind])
    return shown


# --- cookies ---------------------------------------------------------------------------------

def _cookie_name(what: str) -> str:
    """Per server port: two labs on one computer keep separate cookies."""
    return f"mnist_lab_{what}_{int(st.get_option('server.port'))}"


def cookie_path() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else "/"


def keep_cookie(what: str, value: str | None, seconds: int) -> None:
    """Ask this browser to keep (or, with None, forget) a cookie from the next page run on."""
    st.session_state.setdefault(COOKIES, {})[_cookie_name(what)] = (value, seconds)


def cookies_to_keep() -> dict[str, tuple[str | None, int]]:
    return st.session_state.get(COOKIES, {})


def browser_cookie(what: str) -> str | None:
    """The cookie this browser sent when this session opened (never trusted: callers check)."""
    value = st.context.cookies.get(_cookie_name(what))
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


# --- the drawing, shared by Draw and Inside --------------------------------------------------

@dataclass(frozen=True)
class LastSave:
    """What this browser saved last, so that it (and only it) can be undone."""
    drawing_id: int
    label: int
    generation: int   # the canvas generation it was drawn in


def prepared_drawing():
    """The last drawing, as the network saw it (a `mnist_core.drawing.preprocess.Prepared`),
    left by the Draw page for the Inside page; None when there is none."""
    return st.session_state.get(PREPARED_DRAWING)


def set_prepared_drawing(prepared) -> None:
    if prepared is None:
        st.session_state.pop(PREPARED_DRAWING, None)
    else:
        st.session_state[PREPARED_DRAWING] = prepared


def canvas_generation() -> int:
    return st.session_state.get(CANVAS_GENERATION, 0)


def clear_canvas() -> None:
    """A new canvas generation: the canvas empties itself when it sees one."""
    st.session_state[CANVAS_GENERATION] = canvas_generation() + 1


def train_watcher_id() -> str:
    """This session's id among the browsers watching the Train page."""
    if TRAIN_WATCHER not in st.session_state:
        import uuid

        st.session_state[TRAIN_WATCHER] = uuid.uuid4().hex
    return st.session_state[TRAIN_WATCHER]
