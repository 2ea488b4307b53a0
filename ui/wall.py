"""The class wall (pages/4_Class.py): every saved drawing, live, as the active model reads it,
with the teacher's tools to relabel, delete (with undo) and teach the model the class's
handwriting. The wall refreshes every 2 s; mnist_core.classroom.wall keeps that cheap
(each drawing classified once per model, shared by every browser)."""
from __future__ import annotations

import streamlit as st

from mnist_core.classroom import wall as class_wall
from mnist_core.lab.db import StoreError
from mnist_core.views import gallery
from ui import navigation, resources, session, teacher
from ui.text import plain, reason

PER_PAGE = 60
PAGE, DIGIT, WRONG = session.CLASS_PAGE, session.CLASS_DIGIT, session.CLASS_WRONG_ONLY
SELECTING, SELECTED, UNDO = session.CLASS_SELECTING, session.CLASS_SELECTED, session.CLASS_UNDO


def teach(store, model) -> None:
    """Fine-tune `model` on the saved drawings, as the server's one job (see
    mnist_core.jobs.finetune), or say why it cannot start. It starts at once (MNIST is read in
    the job's thread) and the page stays here, with a link to the live run: after a switch of
    page made by the server, this page's wall, which refreshes on its own, could be redrawn
    onto the Train page (Streamlit keeps a page's fragments until the next page's run
    completes) and blank it."""
    from mnist_core.jobs import finetune
    from mnist_core.jobs.registry import JobBusy

    if not teacher.is_teacher():  # checked again here, on the server
        st.warning("Only the teacher can teach the model (unlock in the sidebar).")
        return
    try:
        finetune.start(resources.job_registry(), store,
                       finetune.FineTuneConfig(source=model.ref), resources.mnist_loader())
    except JobBusy as e:
        st.warning(f"Not started: {e}.", icon=":material/info:")
    except (ValueError, KeyError, StoreError) as e:
        st.warning(f"Not started: {plain(reason(e))}.", icon=":material/info:")
    else:
        st.success(f"{plain(model.label)} is learning the class's handwriting.",
                   icon=":material/school:")
        st.page_link(navigation.TRAIN, label="Watch it live on the Train page",
                     icon=":material/model_training:")


def _edit(drawing_id: int, seen_label: int, delete: bool) -> None:
    """Button callback; the teacher check is repeated here, on the server, before writing."""
    store = resources.store()
    if not teacher.is_teacher():
        session.flash("Only the teacher can change drawings (unlock in the sidebar).")
        return
    if delete and st.session_state.get(UNDO, (None, ""))[1] == f"drawing #{drawing_id}":
        return  # a replay of the click that just deleted it (see _delete_many)
    try:
        if delete:
            batch = store.delete_drawing(drawing_id, expected_label=seen_label)
            st.session_state[UNDO] = (batch, f"drawing #{drawing_id}")
        else:
            new = st.session_state[session.relabel_key(drawing_id, seen_label)]
            store.relabel_drawing(drawing_id, new, expected_label=seen_label)
            session.flash(f"Drawing #{drawing_id} is now labelled {new}.")
        st.session_state[session.editor_key(drawing_id)] = False  # done: close its editor
    except StoreError as e:
        session.flash(f"Nothing changed: {e}.")


def _delete_many(selected: bool, round_shown: int) -> None:
    """Delete the selected drawings, or those of the last N minutes; either can be undone.
    `round_shown`: the deletion round the button was drawn in. Streamlit can run a click's
    callback again when a rerun (the wall's 2 s refresh) interrupts the run it started; a
    replay that arrives after this deletion, or after its Undo, carries an older round and
    must not delete again (it would delete what Undo just restored)."""
    if round_shown != st.session_state.get(session.DELETE_ROUND, 0):
        return
    store = resources.store()
    if not teacher.is_teacher():
        session.flash("Only the teacher can delete drawings (unlock in the sidebar).")
        return
    try:
        if selected:
            batch, count = store.delete_drawings(st.session_state.get(SELECTED, set()))
            st.session_state[SELECTED] = set()
            st.session_state[SELECTING] = False
            what = "the selected drawings"
        else:
            minutes = st.session_state[session.DELETE_MINUTES]
            batch, count = store.delete_drawings_since(60 * minutes)
            what = f"the drawings of the last {minutes} minutes"
    except StoreError as e:
        session.flash(f"Nothing deleted: {e}.")
        return
    if count == 0:
        # The buttons are disabled at 0, so this is a replay: Streamlit can run a click's
        # callback again when a rerun (the wall's 2 s refresh) interrupts the run it started.
        # The first call's Undo must survive it.
        return
    st.session_state[UNDO] = (batch, f"{count:,} drawing{'s' * (count != 1)} ({what})")
    _next_round()


def _next_round() -> None:
    st.session_state[session.DELETE_ROUND] = st.session_state.get(session.DELETE_ROUND, 0) + 1


def _undo() -> None:
    if not teacher.is_teacher() or UNDO not in st.session_state:
        return
    batch, what = st.session_state.pop(UNDO)
    _next_round()
    try:
        back = resources.store().restore_drawings(batch)
    except StoreError as e:
        session.flash(f"Nothing restored: {e}.")
        return
    session.flash(f"Restored {what}." if back else
                  "Nothing to restore: the deletion is too old, or its drawings were saved "
                  "again meanwhile.")


def _pick(drawing_id: int) -> None:
    picked = st.session_state.setdefault(SELECTED, set())
    if st.session_state[session.pick_key(drawing_id)]:
        picked.add(drawing_id)
    else:
        picked.discard(drawing_id)


def delete_tools(store) -> None:
    """The teacher's ways to delete many drawings at once; every deletion can be undone."""
    with st.expander("Delete many drawings", icon=":material/delete_sweep:"):
        selecting = st.toggle("Select drawings on the wall", key=SELECTING,
                              help="A tick box appears under each drawing.")
        if selecting:
            count = len(st.session_state.get(SELECTED, set()))
            st.button(f"Delete the {count} selected", on_click=_delete_many,
                      args=(True, st.session_state.get(session.DELETE_ROUND, 0)),
                      disabled=count == 0, icon=":material/delete:")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            minutes = st.number_input("Saved in the last (minutes)", 1, 24 * 60, 10,
                                      key=session.DELETE_MINUTES, width=200)
            recent = store.count_drawings_since(60 * minutes)
            st.button(f"Delete these {recent:,}", on_click=_delete_many,
                      args=(False, st.session_state.get(session.DELETE_ROUND, 0)),
                      disabled=recent == 0, icon=":material/delete:")
        st.caption("Deleted drawings can be restored with Undo for a day.")


def _budget(ref: str) -> int:
    """How many drawings this refresh may classify: none while the model is still loading
    (it loads in the background; the tiles show at once and their answers follow)."""
    models = resources.model_cache()
    if models.is_loaded(ref) or not models.warm_up_in_background(ref).is_alive():
        # Bounded, so that a refresh stays well under its 2 s interval while a class's backlog
        # is read (docs/benchmarks.md, "How big can the class wall get?"). A failed warm-up
        # loads here, and says why.
        return 1024
    return 0


def _first_page() -> None:
    st.session_state[PAGE] = 1


def edit_popover(drawing) -> None:
    pop = st.popover(f"#{drawing.id}", icon=":material/edit:", type="tertiary",
                     key=session.editor_key(drawing.id), on_change="rerun")
    if pop.open:  # widgets only for the open one: 60 tiles stay cheap to refresh
        with pop:
            st.image(gallery.drawing_picture(drawing.image))
            st.segmented_control("True digit", range(10), default=drawing.label, required=True,
                                 key=session.relabel_key(drawing.id, drawing.label))
            st.button("Save label", key=f"relabel-{drawing.id}", on_click=_edit,
                      args=(drawing.id, drawing.label, False))
            st.button("Delete drawing", key=f"delete-{drawing.id}", icon=":material/delete:",
                      on_click=_edit, args=(drawing.id, drawing.label, True))


@st.fragment(run_every=2)
def wall(store, model, can_edit: bool) -> None:
    """Re-reads the store every 2 s; the core keeps that cheap (mnist_core.classroom.wall)."""
    session.show_flashes("toast")   # what the callbacks said: this fragment reruns alone
    # Always there, empty or not: what follows keeps its place (an open expander stays open).
    with st.container(horizontal=True, vertical_alignment="center", key="undo_bar"):
        if can_edit and UNDO in st.session_state:
            st.markdown(f":material/delete: Deleted {st.session_state[UNDO][1]}.")
            st.button("Undo", on_click=_undo, icon=":material/undo:", type="primary")
    try:
        view = class_wall.wall_view(
            store, resources.class_predictions(), model.ref,
            lambda images: resources.predictor(model.ref).probabilities(images),
            digit=st.session_state.get(DIGIT), wrong_only=st.session_state.get(WRONG, False),
            fooled_only=st.session_state.get(session.CLASS_FOOLED_ONLY, False),
            page=st.session_state.get(PAGE, 1), per_page=PER_PAGE, budget=_budget(model.ref))
    except (StoreError, KeyError) as e:  # the store failed, or the model's run is gone
        st.error(str(e))
        return
    if view.total == 0:  # no st.stop(): the wall keeps polling for the first drawing
        st.info("No saved drawings yet: students save them from the Draw page.",
                icon=":material/draw:")
        return
    with st.container(key="pending_bar"):   # always there too: the expander below stays open
        if view.pending:
            st.caption(f":material/hourglass_top: Reading {view.pending:,} more drawings: the "
                       "numbers fill in over the next refreshes.")
    with st.container(horizontal=True, gap="medium"):  # one row, on a phone too
        st.metric("Drawings", f"{view.total:,}", width="content")
        st.metric("Read right", "–" if view.accuracy is None else f"{view.accuracy:.1%}",
                  width="content")
        st.metric("Misread", f"{view.misread:,}", width="content")
    st.dataframe(view.digit_table())
    if can_edit:
        delete_tools(store)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.segmented_control("Digit", range(10), key=DIGIT, on_change=_first_page)
        st.toggle("Wrong only", key=WRONG, on_change=_first_page)
        st.toggle("Fooled only", key=session.CLASS_FOOLED_ONLY, on_change=_first_page,
                  help="Drawings made on the Fool it page to trick the network.")
        st.session_state[PAGE] = view.page
        st.number_input(f"Page (of {view.pages})", 1, view.pages, key=PAGE, width=140)
    if not view.tiles:
        st.caption("No drawings match these filters.")
    _tiles(view, can_edit)
    _downloads(store)


def _tiles(view, can_edit: bool) -> None:
    with st.container(horizontal=True, gap="small", key="class-tiles"):
        for tile in view.tiles:
            with st.container(width=96, gap=None):
                st.image(class_wall.tile_url(tile.drawing.image), width=84,
                         alt=f"Drawing #{tile.drawing.id}, a {tile.drawing.label}")
                st.markdown(tile.caption)
                if can_edit and st.session_state.get(SELECTING):
                    key = session.pick_key(tile.drawing.id)
                    st.session_state[key] = tile.drawing.id in st.session_state.get(SELECTED, ())
                    st.checkbox(f"#{tile.drawing.id}", key=key, on_change=_pick,
                                args=(tile.drawing.id,))
                elif can_edit:
                    edit_popover(tile.drawing)


def _downloads(store) -> None:
    with st.container(horizontal=True):
        st.download_button("PNGs + labels.csv (zip)", lambda: class_wall.export_zip(
            store.iter_drawings()), "class-drawings.zip", "application/zip", on_click="ignore",
            icon=":material/download:")
        st.download_button("NumPy arrays (.npz)", lambda: class_wall.export_npz(
            store.iter_drawings()), "class-drawings.npz", on_click="ignore",
            icon=":material/download:")
