"""The Train page's architecture builder and run settings as widgets (Streamlit glue).

The logic lives in `mnist_core.views.builder`: this module only draws an `Editor` kept in the
session and writes every widget's value back into it, exactly as shown, valid or not. Widget
keys follow each layer's stable id, so a moved layer keeps its inputs, and no edit is lost on
a rerun or while the page only shows a live run.
"""
from __future__ import annotations

import streamlit as st

from ui import models, resources, session, teacher
from ui.text import plain
from mnist_core.views import builder
from mnist_core.training.config import RANGES, range_hint
from mnist_core.model.spec import CAPS, LAYER_TYPES

EDITOR, START = session.BUILDER_EDITOR, session.BUILDER_START


def editor() -> builder.Editor:
    """This session's editor; the first visit starts from the default preset."""
    if EDITOR not in st.session_state:
        st.session_state[EDITOR] = builder.Editor(builder.default_start())
    return st.session_state[EDITOR]


def start_picker(ed: builder.Editor) -> None:
    """"Start from": a preset, the bundled model or a past run; choosing one loads it."""
    starts, problems = builder.starts(models.past_runs(), resources.bundled_card())
    by_key = {s.key: s for s in starts}
    by_key.setdefault(ed.start.key, ed.start)   # a run since removed stays while it is loaded

    def load() -> None:
        ed.load(by_key[st.session_state[START]])

    keys = list(by_key)
    st.selectbox("Start from", keys, index=keys.index(ed.start.key), key=START, on_change=load,
                 format_func=lambda k: by_key[k].label,
                 help="Loads its layers and settings into the editor below; then change them.")
    st.caption(plain(ed.start.about))   # a past run's id comes from its record
    if ed.changed:
        st.button("Undo my changes", icon=":material/undo:", type="tertiary",
                  help=f"Back to the layers and settings of {ed.start.label}",
                  on_click=ed.load, args=(ed.start,))
    if problems:
        with st.expander(f"{len(problems)} past run(s) cannot be a starting point"):
            for problem in problems:   # about hand-edited records: shown as typed
                st.caption(plain(problem))


def _move(ed: builder.Editor, layer_id: int, delta: int) -> None:
    index = ed.index_of(layer_id)
    if index is not None:
        ed.move(index, delta)


def _remove(ed: builder.Editor, layer_id: int) -> None:
    index = ed.index_of(layer_id)
    if index is not None:
        ed.remove(index)


def _sync(ed: builder.Editor, layer_id: int, name: str, key: str) -> None:
    """on_change: copy the widget into the editor before the page draws the rows above it."""
    index = ed.index_of(layer_id)
    if index is not None:
        ed.set_field(index, name, st.session_state[key])


def _field(ed: builder.Editor, index: int, f) -> None:
    """One parameter's widget; its value goes into the editor exactly as entered."""
    value = ed.layers[index].get(f.name, f.default)
    key, label = ed.key(index, f.name), builder.field_label(f.name)
    sync = {"key": key, "on_change": _sync, "args": (ed, ed.ids[index], f.name, key)}
    if f.choices is not None:
        options = list(f.choices)
        st.selectbox(label, options, index=options.index(value) if value in options else None,
                     help=f.help or None, **sync)
    elif f.kind is bool:
        st.toggle(label, value=bool(value), help=f.help or None, **sync)
    else:
        # No min/max: for a number outside them the browser would show the new number but
        # send the old one. What is typed is what is checked, and explained, here. A value
        # that is not a number (a hand-edited record) shows as empty, never as another number.
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            (f.kind is float or isinstance(value, int))
        shown = (float(value) if f.kind is float else value) if number else None
        st.number_input(label, value=shown, step=builder.field_step(f),
                        format=None if f.kind is int else "%g",
                        help=f"{f.help + '. ' if f.help else ''}From {f.low:g} to {f.high:g}.",
                        **sync)


def layers(ed: builder.Editor) -> builder.Draft:
    """One row per layer (what it is, its output shape and parameters, edit, ↑ ↓ ✕), then
    "Add layer". Returns what the layers make, for the summary and the Start button."""
    draft = ed.draft()
    with st.container(width=720):
        _rows(ed, draft)
        if draft.problem:
            st.error(f"This stack cannot be trained: {draft.problem}", icon=":material/error:")
        _add_layer(ed)
    return draft


# The row buttons show only their icons; their labels ("Move layer 3 up") are there for screen
# readers, which otherwise read Streamlit's fallback, "arrow_upward icon". Hidden visually, the
# way screen-reader-only text is, so they take no room.
_LABELS_FOR_SCREEN_READERS = """<style>[class*="st-key-layer-row-"] button
[data-testid="stMarkdownContainer"] {position: absolute; width: 1px; height: 1px;
overflow: hidden; clip-path: inset(50%); white-space: nowrap}</style>"""


def _rows(ed: builder.Editor, draft: builder.Draft) -> None:
    st.html(_LABELS_FOR_SCREEN_READERS)
    st.markdown("**Layers** (input: a 28×28×1 image)")
    for i, layer_id in enumerate(list(ed.ids)):
        kind = LAYER_TYPES[ed.layers[i]["type"]]
        name = f"**{i + 1}** {ed.describe(i)}"
        if draft.problem_layer == i + 1:
            name = f":red[{name}] :material/error:"
        if draft.rows:
            row = draft.rows[i]
            name += (f"  \n:gray[→ {builder.shape_text(row.output_shape)}, "
                     f"{row.parameters:,} parameters]")
        with st.container(horizontal=True, vertical_alignment="center", gap="small",
                          wrap=False, key=f"layer-row-{layer_id}"):
            st.markdown(name, width="stretch")
            with st.popover(f"Edit layer {i + 1}", icon=":material/tune:",
                            disabled=not kind.fields, key=f"tune-{layer_id}",
                            help=f"Edit layer {i + 1}" if kind.fields else
                            f"{kind.label} has no settings"):
                st.caption(f"{kind.label}: {kind.about}.")
                width = min(3, len(kind.fields)) or 1
                for first in range(0, len(kind.fields), width):   # rows of three: on a phone
                    cells = st.columns(width)                      # they stack in order
                    for cell, f in zip(cells, kind.fields[first:first + width]):
                        with cell:
                            _field(ed, i, f)
            st.button(f"Move layer {i + 1} up", icon=":material/arrow_upward:",
                      key=f"up-{layer_id}", type="tertiary", help="Move up", disabled=i == 0,
                      on_click=_move, args=(ed, layer_id, -1))
            st.button(f"Move layer {i + 1} down", icon=":material/arrow_downward:",
                      key=f"down-{layer_id}", type="tertiary", help="Move down",
                      disabled=i == len(ed.ids) - 1, on_click=_move, args=(ed, layer_id, 1))
            st.button(f"Remove layer {i + 1}", icon=":material/close:", key=f"remove-{layer_id}",
                      type="tertiary", help="Remove", on_click=_remove, args=(ed, layer_id))


def _add(ed: builder.Editor, kind_key: str, where_key: str) -> None:
    ed.add(st.session_state[kind_key], st.session_state[where_key])


def _add_layer(ed: builder.Editor) -> None:
    kind_key, where_key = "add_type", f"add_where-{ed.generation}-{len(ed.layers)}"
    kind, where, add = st.columns([2, 3, 1.4], vertical_alignment="bottom")
    chosen = kind.selectbox("Layer type", list(LAYER_TYPES), key=kind_key,
                            format_func=lambda t: LAYER_TYPES[t].label)
    positions = list(range(len(ed.layers) + 1))
    where.selectbox("Position", positions, index=ed.default_position(), key=where_key,
                    format_func=ed.position_label)
    add.button("Add layer", icon=":material/add:", on_click=_add,
               args=(ed, kind_key, where_key))
    st.caption(f"{LAYER_TYPES[chosen].label}: {LAYER_TYPES[chosen].about}.")


def summary(draft: builder.Draft):
    """The total, the caps and why, and a slot for the measured time (see `estimate`)."""
    if draft.spec is not None:
        st.markdown(f"**{draft.total:,} parameters** in {len(draft.rows)} layers, output "
                    f"{builder.shape_text(draft.rows[-1].output_shape)} (one probability per "
                    "digit)")
    slot = st.empty()
    (layers_cap, layers_why), (params_cap, params_why) = CAPS["layers"], CAPS["parameters"]
    st.caption(f":material/info: At most {layers_cap} layers: {layers_why}. At most "
               f"{params_cap:,} parameters: {params_why}.")
    return slot


def settings(ed: builder.Editor) -> None:
    """The run's numbers, shown without bounds so the server sees what the student sees;
    the Start button's check names any that is out of range."""
    s, key = ed.settings, ed.setting_key
    a, b, c = st.columns(3)
    ed.set_setting("epochs", a.number_input("Epochs", value=s["epochs"], step=1,
                                            key=key("epochs"), help=range_hint("epochs")))
    ed.set_setting("batch_size", b.number_input("Batch size", value=s["batch_size"], step=1,
                                                key=key("batch_size"),
                                                help=range_hint("batch_size")))
    ed.set_setting("learning_rate", c.number_input(
        "Learning rate", value=s["learning_rate"], step=1e-4, format="%g",
        key=key("learning_rate"), help=range_hint("learning_rate")))
    a, b, c = st.columns(3)
    ed.set_setting("size", a.select_slider(
        "Training images", builder.size_choices(s["size"]), s["size"], key=key("size"),
        format_func=lambda n: f"{n:,}",
        help="1,000 images and 1 epoch make a 20-second classroom run."))
    _, low, high, _ = RANGES["validation_fraction"]
    ed.set_setting("validation_fraction", b.slider(
        "Validation fraction", low, high, s["validation_fraction"], 0.05,
        key=key("validation_fraction"), help=range_hint("validation_fraction")))
    ed.set_setting("augment", c.toggle("Augmentation (rotate, zoom, shift)", s["augment"],
                                       key=key("augment")))


def data_and_start(ed: builder.Editor, start) -> None:
    """The augmentation preview, the data source and the Start button, which refuses (naming
    every layer or field that is not allowed) or calls `start(config, data)`."""
    from mnist_core.data.dataset import DataError
    from mnist_core.data.kaggle import load_kaggle_train

    if ed.settings["augment"] and st.toggle("Preview augmented samples"):
        try:
            st.image(resources.augmentation_preview(ed.start.config.augmentation),
                     caption="Top: originals; below: augmented")
        except DataError as e:
            st.error(str(e))
    source = st.radio("Data", ["Official MNIST", "Upload Kaggle train.csv"], horizontal=True)
    upload = None
    if source != "Official MNIST" and teacher.teacher_only("Uploading a CSV"):
        upload = st.file_uploader("Kaggle train.csv", type="csv")
    if not teacher.teacher_only("Starting a run") or not st.button(
            "Start training", type="primary", icon=":material/play_arrow:", key=session.START_PRESSED):
        return
    try:
        if problems := ed.problems():
            raise ValueError(problems[0] if len(problems) == 1 else
                             "\n".join(["", *(f"- {p}" for p in problems)]))
        config = ed.config()
        if source == "Official MNIST":
            data = resources.mnist()
        elif upload is None:
            raise ValueError("choose a Kaggle train.csv file first")
        else:
            with st.spinner("Reading and checking every cell of the CSV..."):
                data = load_kaggle_train(upload)
        config.check_data(len(data.x_train))
    except DataError as e:   # its text comes from the uploaded file: shown as typed
        st.error(f"Not started: {plain(e)}", icon=":material/error:")
    except ValueError as e:   # the editor's own problems (a Markdown list when several)
        st.error(f"Not started: {e}", icon=":material/error:")
    else:
        start(config, data)


def estimate(slot, ed: builder.Editor, draft: builder.Draft) -> None:
    """Fill `slot` with the measured training time (last on the page: it may take seconds)."""
    if draft.spec is None:
        slot.caption("Time per epoch: fix the stack first.")
        return
    try:
        config = ed.config()
    except ValueError:
        slot.caption("Time per epoch: once the settings below are allowed.")
        return
    if not teacher.is_teacher():   # thirty students timing stacks would slow the shared server
        slot.caption("Time per epoch: measured on the teacher's screen (timing takes the "
                     "server's CPU, which the whole class shares).")
        return
    with slot, st.spinner("Timing a few training steps on this machine..."):
        seconds = seconds_per_epoch(config, builder.MNIST_TRAINING_IMAGES)
    if seconds is None:
        slot.caption("Time per epoch: estimated after the current run (timing now would slow "
                     "it down and be wrong).")
    else:
        slot.caption(f":material/timer: {builder.run_estimate(seconds, config.epochs)} on this "
                     "machine, timed on a few batches (training steps only: the first epoch also "
                     "prepares the network, a second or two, and validation adds a little).")


def seconds_per_epoch(config, n_images: int) -> float | None:
    """Measured seconds per epoch of `config` on this machine, timed once per (architecture,
    batch size, precision, augmentation) for the whole process; None while a job trains:
    timing would slow the run down and be slowed by it."""
    import json
    from dataclasses import asdict

    job = resources.job_registry().current
    if job is not None and job.active:
        return None
    layers = json.dumps(config.spec.to_dict()["layers"], sort_keys=True)  # not the name
    augmentation = json.dumps(asdict(config.augmentation)) if config.augment else ""
    timing = resources.step_timing(layers, config.batch_size, config.precision, augmentation)
    return timing.per_epoch(config.training_images(n_images))
