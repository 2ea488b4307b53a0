"""Class: the class wall, every saved drawing live, as the active model reads it."""
import streamlit as st

import app_state
from mnist_core.classroom import wall as class_set
from mnist_core.views import gallery
from mnist_core.lab.store import StoreError

PER_PAGE = 60
PAGE, DIGIT, WRONG, NOTICE = "class_page", "class_digit", "class_wrong_only", "class_notice"
SELECTING, SELECTED = "class_selecting", "class_selected"   # select mode; ids picked so far
UNDO = "class_undo"   # the last deletion this browser made: (batch id, what it deleted)

app_state.setup_page()
st.title("The class's drawings")
store = app_state.store()
if store is None:
    st.error(f"Saved drawings cannot be shown: {app_state.store_error()}")
    st.stop()
model = app_state.active_model()
st.caption(f"Drawings saved on the Draw page appear here within 2 seconds, as "
           f"{app_state.plain(model.label)} "
           "reads them.")
can_edit = app_state.teacher_only("Relabelling or deleting drawings")


def teach() -> None:
    """Fine-tune the active model on the saved drawings, as the server's one job (see
    mnist_core.jobs.finetune), or say why it cannot start. It starts at once (MNIST is read in the
    job's thread) and the page stays here, with a link to the live run: after a switch of page
    made by the server, this page's wall, which refreshes on its own, could be redrawn onto the
    Train page (Streamlit keeps a page's fragments until the next page's run completes) and
    blank it."""
    from mnist_core.jobs import finetune
    from mnist_core.jobs.registry import JobBusy

    if not app_state.is_teacher():  # checked again here, on the server
        st.warning("Only the teacher can teach the model (unlock in the sidebar).")
        return
    try:
        finetune.start(app_state.job_registry(), store,
                       finetune.FineTuneConfig(source=model.ref), app_state.mnist_loader())
    except JobBusy as e:
        st.warning(f"Not started: {e}.", icon=":material/info:")
    except (ValueError, KeyError, StoreError) as e:
        st.warning(f"Not started: {app_state.plain(app_state.reason(e))}.",
                   icon=":material/info:")
    else:
        st.success(f"{app_state.plain(model.label)} is learning the class's handwriting.",
                   icon=":material/school:")
        st.page_link("pages/1_Train.py", label="Watch it live on the Train page",
                     icon=":material/model_training:")


if app_state.teacher_only("Teaching the model") and st.button(
        "Teach the model our handwriting", icon=":material/school:",
        help=f"Fine-tunes {model.label} on the saved drawings (a quarter of each digit's kept "
             "aside to measure it) mixed with MNIST images, a few epochs, live on the Train "
             "page; the result is a new model you can make the class model."):
    teach()
# Tiles arrive as 28x28 PNGs (see class_set.tile_url); the browser enlarges them, pixel-sharp.
st.html("<style>.st-key-class-tiles img {image-rendering: pixelated}</style>")


def _edit(drawing_id: int, seen_label: int, delete: bool) -> None:
    """Button callback; the teacher check is repeated here, on the server, before writing."""
    if not app_state.is_teacher():
        st.session_state[NOTICE] = "Only the teacher can change drawings (unlock in the sidebar)."
        return
    if delete and st.session_state.get(UNDO, (None, ""))[1] == f"drawing #{drawing_id}":
        return  # a replay of the click that just deleted it (see _delete_many)
    try:
        if delete:
            batch = store.delete_drawing(drawing_id, expected_label=seen_label)
            st.session_state[UNDO] = (batch, f"drawing #{drawing_id}")
        else:
            new = st.session_state[f"label-{drawing_id}-{seen_label}"]
            store.relabel_drawing(drawing_id, new, expected_label=seen_label)
            st.session_state[NOTICE] = f"Drawing #{drawing_id} is now labelled {new}."
        st.session_state[f"edit-{drawing_id}"] = False  # done: close its editor
    except StoreError as e:
        st.session_state[NOTICE] = f"Nothing changed: {e}."


def _delete_many(selected: bool) -> None:
    """Delete the selected drawings, or those of the last N minutes; either can be undone."""
    if not app_state.is_teacher():
        st.session_state[NOTICE] = "Only the teacher can delete drawings (unlock in the sidebar)."
        return
    try:
        if selected:
            batch, count = store.delete_drawings(st.session_state.get(SELECTED, set()))
            st.session_state[SELECTED] = set()
            st.session_state[SELECTING] = False
            what = "the selected drawings"
        else:
            minutes = st.session_state["delete_minutes"]
            batch, count = store.delete_drawings_since(60 * minutes)
            what = f"the drawings of the last {minutes} minutes"
    except StoreError as e:
        st.session_state[NOTICE] = f"Nothing deleted: {e}."
        return
    if count == 0:
        # The buttons are disabled at 0, so this is a replay: Streamlit can run a click's
        # callback again when a rerun (the wall's 2 s refresh) interrupts the run it started.
        # The first call's Undo must survive it.
        return
    st.session_state[UNDO] = (batch, f"{count:,} drawing{'s' * (count != 1)} ({what})")


def _undo() -> None:
    if not app_state.is_teacher() or UNDO not in st.session_state:
        return
    batch, what = st.session_state.pop(UNDO)
    try:
        back = store.restore_drawings(batch)
    except StoreError as e:
        st.session_state[NOTICE] = f"Nothing restored: {e}."
        return
    st.session_state[NOTICE] = (f"Restored {what}." if back else
                                "Nothing to restore: the deletion is too old, or its drawings "
                                "were saved again meanwhile.")


def _pick(drawing_id: int) -> None:
    picked = st.session_state.setdefault(SELECTED, set())
    if st.session_state[f"pick-{drawing_id}"]:
        picked.add(drawing_id)
    else:
        picked.discard(drawing_id)


def delete_tools() -> None:
    """The teacher's ways to delete many drawings at once; every deletion can be undone."""
    with st.expander("Delete many drawings", icon=":material/delete_sweep:"):
        selecting = st.toggle("Select drawings on the wall", key=SELECTING,
                              help="A tick box appears under each drawing.")
        if selecting:
            count = len(st.session_state.get(SELECTED, set()))
            st.button(f"Delete the {count} selected", on_click=_delete_many, args=(True,),
                      disabled=count == 0, icon=":material/delete:")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            minutes = st.number_input("Saved in the last (minutes)", 1, 24 * 60, 10,
                                      key="delete_minutes", width=200)
            recent = store.count_drawings_since(60 * minutes)
            st.button(f"Delete these {recent:,}", on_click=_delete_many, args=(False,),
                      disabled=recent == 0, icon=":material/delete:")
        st.caption("Deleted drawings can be restored with Undo for a day.")


def _budget() -> int:
    """How many drawings this refresh may classify: none while the model is still loading
    (it loads in the background; the tiles show at once and their answers follow)."""
    models = app_state.model_cache()
    if models.is_loaded(model.ref) or not models.warm_up_in_background(model.ref).is_alive():
        return 1024  # ~0.5 s on two cores; a failed warm-up loads here and says why
    return 0


def _first_page() -> None:
    st.session_state[PAGE] = 1


def edit_popover(drawing) -> None:
    pop = st.popover(f"#{drawing.id}", icon=":material/edit:", type="tertiary",
                     key=f"edit-{drawing.id}", on_change="rerun")
    if pop.open:  # widgets only for the open one: 60 tiles stay cheap to refresh
        with pop:
            st.image(gallery.drawing_picture(drawing.image))
            st.segmented_control("True digit", range(10), default=drawing.label, required=True,
                                 key=f"label-{drawing.id}-{drawing.label}")
            st.button("Save label", key=f"relabel-{drawing.id}", on_click=_edit,
                      args=(drawing.id, drawing.label, False))
            st.button("Delete drawing", key=f"delete-{drawing.id}", icon=":material/delete:",
                      on_click=_edit, args=(drawing.id, drawing.label, True))


@st.fragment(run_every=2)
def wall() -> None:
    """Re-reads the store every 2 s; the core keeps that cheap (see class_set)."""
    if NOTICE in st.session_state:
        st.toast(st.session_state.pop(NOTICE), duration="long")
    # Always there, empty or not: what follows keeps its place (an open expander stays open).
    with st.container(horizontal=True, vertical_alignment="center", key="undo_bar"):
        if can_edit and UNDO in st.session_state:
            st.markdown(f":material/delete: Deleted {st.session_state[UNDO][1]}.")
            st.button("Undo", on_click=_undo, icon=":material/undo:", type="primary")
    try:
        view = class_set.wall_view(
            store, app_state.class_predictions(), model.ref,
            lambda images: app_state.predictor(model.ref).probabilities(images),
            digit=st.session_state.get(DIGIT), wrong_only=st.session_state.get(WRONG, False),
            page=st.session_state.get(PAGE, 1), per_page=PER_PAGE, budget=_budget())
    except (StoreError, KeyError) as e:  # the store failed, or the model's run is gone
        st.error(str(e))
        return
    if view.total == 0:  # no st.stop(): the wall keeps polling for the first drawing
        st.info("No saved drawings yet: students save them from the Draw page.",
                icon=":material/draw:")
        return
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
        delete_tools()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.segmented_control("Digit", range(10), key=DIGIT, on_change=_first_page)
        st.toggle("Wrong only", key=WRONG, on_change=_first_page)
        st.session_state[PAGE] = view.page
        st.number_input(f"Page (of {view.pages})", 1, view.pages, key=PAGE, width=140)
    if not view.tiles:
        st.caption("No drawings match these filters.")
    with st.container(horizontal=True, gap="small", key="class-tiles"):
        for tile in view.tiles:
            with st.container(width=96, gap=None):
                st.image(class_set.tile_url(tile.drawing.image), width=84,
                         alt=f"Drawing #{tile.drawing.id}, a {tile.drawing.label}")
                st.markdown(tile.caption)
                if can_edit and st.session_state.get(SELECTING):
                    key = f"pick-{tile.drawing.id}"
                    st.session_state[key] = tile.drawing.id in st.session_state.get(SELECTED, ())
                    st.checkbox(f"#{tile.drawing.id}", key=key, on_change=_pick,
                                args=(tile.drawing.id,))
                elif can_edit:
                    edit_popover(tile.drawing)
    with st.container(horizontal=True):
        st.download_button("PNGs + labels.csv (zip)", lambda: class_set.export_zip(
            store.iter_drawings()), "class-drawings.zip", "application/zip", on_click="ignore",
            icon=":material/download:")
        st.download_button("NumPy arrays (.npz)", lambda: class_set.export_npz(
            store.iter_drawings()), "class-drawings.npz", on_click="ignore",
            icon=":material/download:")


wall()
