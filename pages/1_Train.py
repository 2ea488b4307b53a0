"""Train: build an architecture (from a preset or a past run), start it in the background,
watch it live from any browser."""
import streamlit as st

import app_state
import builder_view
from mnist_core.data.mnist import DataError
from mnist_core.classroom.watchers import MIN_REFRESH_SECONDS

app_state.setup_page()

st.title("Train a network")
registry, store = app_state.job_registry(), app_state.store()
if app_state.is_teacher():   # whoever may press Start: TensorFlow and MNIST load meanwhile
    app_state.prepare_training()
FLASH = "train_flash"  # a message that must survive the rerun into the live view
if flash := st.session_state.pop(FLASH, None):
    st.warning(flash, icon=":material/info:")


def _set_confirm(value: bool) -> None:
    st.session_state["confirm_stop"] = value


def _stop(job) -> None:
    st.session_state["confirm_stop"] = False
    if not app_state.is_teacher():  # checked again here: the server refuses, not just the UI
        st.session_state[FLASH] = "Only the teacher can stop a run."
        return
    job.stop()


def _start(config, data) -> None:
    """Start a job, or explain why not; either way the next run of the page shows the result.
    A lab home that could not keep the run (read-only, disk full) is said now, not after
    minutes of training."""
    from mnist_core.jobs.registry import JobBusy
    from mnist_core.lab.store import StoreError, model_file_bytes

    if not app_state.is_teacher():  # checked where the job starts, not only on the button
        st.session_state[FLASH] = "Only the teacher can start a run."
    elif store is None:
        st.session_state[FLASH] = f"Not started: runs cannot be saved: {app_state.store_error()}."
    else:
        try:
            store.check_can_save(model_file_bytes(config.spec.parameter_count()))
            registry.start(config, data, store)
        except StoreError as e:
            st.session_state[FLASH] = f"Not started: {e}."
        except JobBusy as e:  # someone else started first: show their run, and say so
            st.session_state[FLASH] = f"Your run was not started: {e}."
    st.rerun()


# Every watching browser redraws the live view (two charts) every 2 s, less often for a class
# of more than 10 (app_state.live_refresh_seconds): each redraw costs the server's cores, which
# the training needs. The interval is set when the page runs whole, e.g. as a run starts.
app_state.watching_the_train_page()
REFRESH = app_state.live_refresh_seconds()


@st.fragment(run_every=REFRESH if registry.current is not None and registry.current.active
             else None)
def live_view() -> None:
    app_state.watching_the_train_page()
    job = registry.current
    snap = job.snapshot()
    if not snap.active and st.session_state.get("watched_active"):
        st.session_state["watched_active"] = False
        st.rerun()  # the run just ended: redraw the whole page with its result
    st.session_state["watched_active"] = snap.active
    st.subheader(f"{job.config.preset} · {snap.status}")
    st.progress(snap.fraction_done, text=(
        f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}, batch {snap.batch}/"
        f"{snap.batches_per_epoch}" if snap.epochs else
        "starting: loading TensorFlow, the data and the model (a few seconds)"))
    if snap.active and REFRESH > MIN_REFRESH_SECONDS:
        st.caption(f"Updated every {REFRESH:.0f} s: many browsers are watching this run.")
    last = snap.history[-1] if snap.history else {}
    with st.container(horizontal=True):   # wraps, where four columns cut "98.6…" on tablets
        st.metric("Images / s", f"{snap.images_per_second:,.0f}")
        st.metric("ETA", "-" if snap.eta_seconds is None else f"{snap.eta_seconds:,.0f} s")
        st.metric("Elapsed", f"{snap.elapsed_seconds:,.0f} s")
        st.metric("Validation accuracy",
                  f"{100 * last['val_accuracy']:.2f}%" if "val_accuracy" in last else "-")
    left, right = st.columns(2)
    # No tool bar on the live charts: a touch screen shows it all the time, over the titles of
    # charts that are redrawn every few seconds anyway.
    live = {"displayModeBar": False}
    per_batch, per_epoch = app_state.live_figures().get(job, snap)
    left.plotly_chart(per_batch, key="batch_chart", config=live)
    if per_epoch is not None:
        right.plotly_chart(per_epoch, key="epoch_chart", config=live)
    else:
        right.caption("Train and validation accuracy per epoch appear after the first epoch.")
    if snap.status == "failed":
        st.error(f"Training failed: {app_state.plain(snap.error)}")
    elif snap.status in ("done", "stopped"):
        score = (f"test accuracy {100 * snap.test_accuracy:.2f}% on the official test images"
                 if snap.test_accuracy is not None else  # a Kaggle CSV has no labelled test set
                 f"validation accuracy {100 * last.get('val_accuracy', float('nan')):.2f}%")
        st.success(f"Run {snap.run_id or ''} {snap.status}: {score}.")
        if hasattr(job.result, "comparison"):  # a fine-tune: before and after, side by side
            st.table(job.result.comparison())
        record = job.record
        if record is not None and not record.offers_model:
            st.info("Stopped before its first epoch ended, so no model was kept (its record is "
                    "in the list of runs).", icon=":material/info:")
        elif snap.run_id and store is not None:
            # Not callbacks: this is a fragment, and a choice of model must redraw the whole
            # page (the sidebar's picker) and reach the browser's cookie: a full rerun.
            with st.container(horizontal=True):
                if app_state.is_teacher() and st.button(
                        "Make it the class model", type="primary", icon=":material/groups:",
                        help="Every browser that has not picked its own model uses it."):
                    app_state.make_class_model(snap.run_id)
                    st.rerun()
                if st.button("Use it in this browser"):
                    app_state.pick_model(snap.run_id)
                    st.rerun()
    if snap.active and app_state.teacher_only("Stopping the run"):
        if not st.session_state.get("confirm_stop"):
            st.button("Stop training", icon=":material/stop:", on_click=_set_confirm, args=(True,))
        else:
            st.warning("Stop now? The best weights so far are kept and saved (a run stopped "
                       "before its first epoch ends keeps none).")
            yes, no = st.columns(2)
            yes.button("Yes, stop", type="primary", on_click=_stop, args=(job,))
            no.button("No, keep training", on_click=_set_confirm, args=(False,))


LIVE = registry.current is not None and registry.current.active


@st.fragment(run_every=None if LIVE else 1.0)
def watch_for_a_new_run(live: bool) -> None:
    """Any session may start a run: switch this page to the live view within a second.

    Every full run calls it, before the st.stop() below: a script that ends in st.stop()
    keeps the fragments it did not call, and a tick already on its way when the page switched
    to the live view then redrew this one at its old place, past the end of the shorter page
    ("Bad delta path index 3", a blank page)."""
    app_state.watching_the_train_page()
    if not live and registry.current is not None and registry.current.active:
        st.rerun()


watch_for_a_new_run(LIVE)
if registry.current is not None:
    if registry.current.active and st.session_state.get("start_pressed") and not flash:
        # This browser pressed Start while another session's run began: say so, by name.
        st.warning(f"Your run was not started: {registry.current.describe()} is already "
                   "running.", icon=":material/info:")
    live_view()
    if registry.current.active:
        st.stop()
    st.divider()
elif (last := app_state.last_run()) is not None and last.status == "interrupted":
    from mnist_core.lab.catalog import run_config

    kept = ("Its curves are kept, and its best weights so far as a model in the model lists."
            if last.offers_model else "Its curves are kept; no model was saved.")
    st.warning(f"The last run, '{app_state.plain(last.preset)}' ({app_state.plain(last.id)}), "
               f"was interrupted after {last.how_far()}: the server stopped while it trained "
               f"(the laptop slept or the process was closed). {kept}",
               icon=":material/warning:")
    try:
        again = None if last.data_source.startswith("Kaggle") else run_config(last)
    except ValueError as e:   # a hand-edited record: say why it cannot be redone
        st.caption(f"It cannot be started again: {app_state.plain(e)}")
        again = None
    if again is not None and app_state.teacher_only("Starting a run") and st.button(
            "Start it again with the same settings", icon=":material/replay:"):
        try:
            _start(again, app_state.mnist())
        except (ValueError, DataError) as e:
            st.error(str(e))

st.subheader("New run")
editor = builder_view.editor()
builder_view.start_picker(editor)
draft = builder_view.layers(editor)
estimate = builder_view.summary(draft)
builder_view.settings(editor)
builder_view.data_and_start(editor, _start)
builder_view.estimate(estimate, editor, draft)
