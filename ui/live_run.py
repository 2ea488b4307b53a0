"""The Train page's live view of the server's one job: progress, live charts, "Watch it learn",
the result, and the teacher's Stop. Every watching browser draws it from the same shared
snapshot and figures (ui.resources), refreshing every 2 s, less often for a big class: each
redraw costs the server's cores, which the training needs (mnist_core.classroom.watchers)."""
from __future__ import annotations

import streamlit as st

from mnist_core.classroom.watchers import MIN_REFRESH_SECONDS
from mnist_core.jobs import finetune
from ui import models, resources, session, teacher
from ui.text import plain


def watching() -> None:
    """Count this browser as one that has the Train page open (call at every refresh)."""
    resources.train_page_watchers().seen(session.train_watcher_id())


def refresh_seconds() -> float:
    """How often this browser's live view refreshes. The unlocked teacher's page, the one on
    the projector, keeps the shortest interval."""
    from mnist_core.classroom.watchers import live_refresh_seconds

    if teacher.teacher_key() is not None and teacher.is_teacher():
        return MIN_REFRESH_SECONDS
    return live_refresh_seconds(resources.train_page_watchers().count())


def _confirm_stop(value: bool) -> None:
    st.session_state[session.CONFIRM_STOP] = value


def _stop(job) -> None:
    st.session_state[session.CONFIRM_STOP] = False
    if not teacher.is_teacher():  # checked again here: the server refuses, not just the UI
        session.flash("Only the teacher can stop a run.", "page", "warning")
        return
    job.stop()


def show(job, refresh: float) -> None:
    """One redraw of the live view (call it from a fragment that reruns every `refresh` s)."""
    watching()
    snap = job.snapshot()
    if not snap.active and session.get(session.WATCHED_ACTIVE):
        st.session_state[session.WATCHED_ACTIVE] = False
        st.rerun()  # the run just ended: redraw the whole page with its result
    st.session_state[session.WATCHED_ACTIVE] = snap.active
    st.subheader(f"{job.config.preset} · {snap.status}")
    st.progress(snap.fraction_done, text=(
        f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}, batch {snap.batch}/"
        f"{snap.batches_per_epoch}" if snap.epochs else
        "starting: loading TensorFlow, the data and the model (a few seconds)"))
    if snap.active and refresh > MIN_REFRESH_SECONDS:
        st.caption(f"Updated every {refresh:.0f} s: many browsers are watching this run.")
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
    per_batch, per_epoch = resources.live_figures().get(job, snap)
    left.plotly_chart(per_batch, key="batch_chart", config=live)
    if per_epoch is not None:
        right.plotly_chart(per_epoch, key="epoch_chart", config=live)
    else:
        right.caption("Train and validation accuracy per epoch appear after the first epoch.")
    watch_it_learn(job, snap, live)
    if snap.status == "failed":
        st.error(f"Training failed: {plain(snap.error)}")
    elif snap.status in ("done", "stopped"):
        _result(job, snap, last)
    if snap.active and teacher.teacher_only("Stopping the run"):
        _stop_buttons(job)


# Kernel pictures arrive at one value per pixel: the browser enlarges them pixel-sharp, and
# shrinks them to the column on a phone.
LEARNING_STYLE = """<style>.st-key-watch_it_learn img {image-rendering: pixelated; height: auto;
margin-right: 10px; border-radius: 0}
.st-key-watch_it_learn [data-testid="stImageContainer"] {max-width: 100%}</style>"""


def watch_it_learn(job, snap, chart_config: dict) -> None:
    """"Watch it learn": the watched test digit, its ten probabilities after every epoch, and
    the first layer's kernels after each shown epoch (mnist_core.views.learning), built once
    for all watchers. Every browser draws the same records, so one that joins late, or
    reloads, sees every epoch so far."""
    if not snap.learning:
        return
    views = resources.learning_views().get(job, snap.learning, snap.epochs)
    with st.container(key="watch_it_learn"):
        st.markdown(LEARNING_STYLE, unsafe_allow_html=True)
        st.markdown("#### Watch it learn")
        digit, chart = st.columns([1, 3], vertical_alignment="center")
        if views.digit is not None:
            digit.image(views.digit.url, width=views.digit.width,
                        caption=f"The test digit we watch: a {views.label}")
        chart.plotly_chart(views.probabilities, key="learning_chart", config=chart_config)
        st.caption("How sure the network is of each digit after each epoch: the darker the "
                   "square, the surer. Epoch 0 is before any training, when it guesses.")
        if views.kernels:
            st.image([p.url for _, p in views.kernels], width=views.kernels[0][1].width,
                     caption=[f"epoch {epoch}" for epoch, _ in views.kernels])
            st.caption("The first layer's filters, the small patterns it looks for, after each "
                       "epoch: orange counts ink, blue counts against it. They start as faint "
                       "random noise and grow into strokes and edges.")


def _result(job, snap, last: dict) -> None:
    score = (f"test accuracy {100 * snap.test_accuracy:.2f}% on the official test images"
             if snap.test_accuracy is not None else  # a Kaggle CSV has no labelled test set
             f"validation accuracy {100 * last.get('val_accuracy', float('nan')):.2f}%")
    st.success(f"Run {snap.run_id or ''} {snap.status}: {score}.")
    record = job.record
    if record is not None and (before_after := finetune.comparison(record.config)):
        st.table(before_after)
    if record is not None and not record.offers_model:
        st.info("Stopped before its first epoch ended, so no model was kept (its record is "
                "in the list of runs).", icon=":material/info:")
    elif snap.run_id and resources.store() is not None:
        # Not callbacks: this is a fragment, and a choice of model must redraw the whole page
        # (the sidebar's picker) and reach the browser's cookie: a full rerun.
        with st.container(horizontal=True):
            if teacher.is_teacher() and st.button(
                    "Make it the class model", type="primary", icon=":material/groups:",
                    help="Every browser that has not picked its own model uses it."):
                models.make_class_model(snap.run_id)
                st.rerun()
            if st.button("Use it in this browser"):
                models.pick_model(snap.run_id)
                st.rerun()


def _stop_buttons(job) -> None:
    if not session.get(session.CONFIRM_STOP):
        st.button("Stop training", icon=":material/stop:", on_click=_confirm_stop, args=(True,))
        return
    st.warning("Stop now? The best weights so far are kept and saved (a run stopped before "
               "its first epoch ends keeps none).")
    yes, no = st.columns(2)
    yes.button("Yes, stop", type="primary", on_click=_stop, args=(job,))
    no.button("No, keep training", on_click=_confirm_stop, args=(False,))


def start(config, data) -> None:
    """Start a job, or explain why not; either way the next run of the page shows the result.
    A lab home that could not keep the run (read-only, disk full) is said now, not after
    minutes of training."""
    from mnist_core.jobs.registry import JobBusy
    from mnist_core.lab.db import StoreError, model_file_bytes

    store = resources.store()
    if not teacher.is_teacher():  # checked where the job starts, not only on the button
        session.flash("Only the teacher can start a run.", "page", "warning")
    elif store is None:
        session.flash(f"Not started: runs cannot be saved: {resources.store_error()}.",
                      "page", "warning")
    else:
        try:
            store.check_can_save(model_file_bytes(config.spec.parameter_count()))
            resources.job_registry().start(config, data, store)
        except StoreError as e:
            session.flash(f"Not started: {e}.", "page", "warning")
        except JobBusy as e:  # someone else started first: show their run, and say so
            session.flash(f"Your run was not started: {e}.", "page", "warning")
    st.rerun()


def interrupted(last) -> None:
    """The last run was interrupted (the server stopped while it trained): say so, and offer
    to start it again with the same settings where that can be done here."""
    from mnist_core.data.dataset import DataError
    from mnist_core.lab.catalog import redo_config

    kept = ("Its curves are kept, and its best weights so far as a model in the model lists."
            if last.offers_model else "Its curves are kept; no model was saved.")
    st.warning(f"The last run, '{plain(last.preset)}' ({plain(last.id)}), was interrupted after "
               f"{last.how_far()}: the server stopped while it trained (the laptop slept or the "
               f"process was closed). {kept}", icon=":material/warning:")
    try:
        again = redo_config(last)
    except ValueError as e:   # an upload, a fine-tune, a hand-edited record: say why
        st.caption(f"It cannot be started again here: {plain(e)}")
        return
    if teacher.teacher_only("Starting a run") and st.button(
            "Start it again with the same settings", icon=":material/replay:"):
        try:
            start(again, resources.mnist())
        except (ValueError, DataError) as e:
            st.error(str(e))
