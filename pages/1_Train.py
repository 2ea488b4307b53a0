"""Train: pick a preset, start a run in the background, watch it live from any browser."""
import streamlit as st

import app_state
from mnist_core import charts
from mnist_core.data import DataError
from mnist_core.models import DEFAULT_PRESET, PRESETS

app_state.setup_page()

st.title("Train a network")
registry, store = app_state.job_registry(), app_state.store()
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
    """Start a job, or explain why not; either way the next run of the page shows the result."""
    from mnist_core.jobs import JobBusy

    if not app_state.is_teacher():  # checked where the job starts, not only on the button
        st.session_state[FLASH] = "Only the teacher can start a run."
    else:
        try:
            registry.start(config, data, store)
        except JobBusy as e:  # someone else started first: show their run, and say so
            st.session_state[FLASH] = f"Your run was not started: {e}."
    st.rerun()


@st.fragment(run_every=1.0 if registry.current is not None and registry.current.active else None)
def live_view() -> None:
    job = registry.current
    snap = job.snapshot()
    if not snap.active and st.session_state.get("watched_active"):
        st.session_state["watched_active"] = False
        st.rerun()  # the run just ended: redraw the whole page with its result
    st.session_state["watched_active"] = snap.active
    st.subheader(f"{job.config.preset} · {snap.status}")
    st.progress(snap.fraction_done, text=f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}"
                f", batch {snap.batch}/{snap.batches_per_epoch}")
    cols = st.columns(4)
    cols[0].metric("Images / s", f"{snap.images_per_second:,.0f}")
    cols[1].metric("ETA", "-" if snap.eta_seconds is None else f"{snap.eta_seconds:,.0f} s")
    cols[2].metric("Elapsed", f"{snap.elapsed_seconds:,.0f} s")
    last = snap.history[-1] if snap.history else {}
    cols[3].metric("Validation accuracy",
                   f"{100 * last['val_accuracy']:.2f}%" if "val_accuracy" in last else "-")
    left, right = st.columns(2)
    left.plotly_chart(charts.batch_curves(snap.batch_loss, snap.batch_accuracy,
                                          snap.batches_per_epoch), key="batch_chart")
    if snap.history:
        right.plotly_chart(charts.epoch_curves({"run": snap.history}, "accuracy"),
                           key="epoch_chart")
    else:
        right.caption("Train and validation accuracy per epoch appear after the first epoch.")
    if snap.status == "failed":
        st.error(f"Training failed: {snap.error}")
    elif snap.status in ("done", "stopped"):
        score = (f"test accuracy {100 * snap.test_accuracy:.2f}% on the official test images"
                 if snap.test_accuracy is not None else  # a Kaggle CSV has no labelled test set
                 f"validation accuracy {100 * last.get('val_accuracy', float('nan')):.2f}%")
        st.success(f"Run {snap.run_id or ''} {snap.status}: {score}.")
        if hasattr(job.result, "comparison"):  # a fine-tune: before and after, side by side
            st.table(job.result.comparison())
        if snap.run_id and store is not None:
            st.button("Make it the active model", on_click=app_state.set_active_model,
                      args=(snap.run_id,), type="primary")
    if snap.active and app_state.teacher_only("Stopping the run"):
        if not st.session_state.get("confirm_stop"):
            st.button("Stop training", icon=":material/stop:", on_click=_set_confirm, args=(True,))
        else:
            st.warning("Stop now? The best weights so far are kept and saved.")
            yes, no = st.columns(2)
            yes.button("Yes, stop", type="primary", on_click=_stop, args=(job,))
            no.button("No, keep training", on_click=_set_confirm, args=(False,))

@st.fragment(run_every=1.0)
def watch_for_a_new_run() -> None:
    """Any session may start a run: switch this page to the live view within a second."""
    if registry.current is not None and registry.current.active:
        st.rerun()


def restart_interrupted(run) -> None:
    from mnist_core.training import TrainConfig

    config = TrainConfig(**{k: v for k, v in run.config.items()
                            if k in TrainConfig.__dataclass_fields__})
    _start(config, app_state.mnist())


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
    st.warning(f"The last run, '{last.preset}' ({last.id}), was interrupted after "
               f"{last.how_far()}: the server stopped while it trained (the laptop slept or the "
               "process was closed). Its curves are kept; no model was saved.",
               icon=":material/warning:")
    if not last.data_source.startswith("Kaggle") and last.preset in PRESETS and \
            app_state.teacher_only("Starting a run"):
        if st.button("Start it again with the same settings", icon=":material/replay:"):
            try:
                restart_interrupted(last)
            except (ValueError, DataError) as e:
                st.error(str(e))
watch_for_a_new_run()

st.subheader("New run")
preset = st.selectbox("Architecture preset", list(PRESETS),
                      index=list(PRESETS).index(DEFAULT_PRESET))
p = PRESETS[preset]
st.caption(p.description)
a, b, c = st.columns(3)
epochs = a.number_input("Epochs", 1, 200, p.epochs)
batch_size = b.number_input("Batch size", 8, 4096, p.batch_size)
learning_rate = c.number_input("Learning rate", 1e-5, 1.0, p.learning_rate, format="%.4f")
a, b, c = st.columns(3)
size = a.select_slider("Training images", [1000, 3000, 10000, 30000, 60000], 60000,
                       help="1,000 images and 1 epoch make a 20-second classroom run.")
val_fraction = b.slider("Validation fraction", 0.05, 0.3, 0.1, 0.05)
augment = c.toggle("Augmentation (rotate, zoom, shift)", p.augmentation is not None)
if augment and st.toggle("Preview augmented samples"):
    try:
        st.image(app_state.augmentation_preview(preset), caption="Top: originals; below: augmented")
    except DataError as e:
        st.error(str(e))
source = st.radio("Data", ["Official MNIST", "Upload Kaggle train.csv"], horizontal=True)
upload = None
if source != "Official MNIST" and app_state.teacher_only("Uploading a CSV"):
    upload = st.file_uploader("Kaggle train.csv", type="csv")

if app_state.teacher_only("Starting a run") and st.button(
        "Start training", type="primary", icon=":material/play_arrow:", key="start_pressed"):
    from mnist_core.data import load_kaggle_train
    from mnist_core.training import TrainConfig

    config = TrainConfig.from_preset(preset, epochs=int(epochs), batch_size=int(batch_size),
                                     learning_rate=float(learning_rate), augment=augment,
                                     validation_fraction=float(val_fraction),
                                     limit=None if size == 60000 else int(size))
    try:
        if source == "Official MNIST":
            data = app_state.mnist()
        elif upload is None:
            raise ValueError("choose a Kaggle train.csv file first")
        else:
            with st.spinner("Reading and checking every cell of the CSV..."):
                data = load_kaggle_train(upload)
        images = min(len(data.x_train), config.limit or len(data.x_train))
        config.validate(n_train=int(images * (1 - config.validation_fraction)))
    except (ValueError, DataError) as e:
        st.error(str(e))
    else:
        _start(config, data)
