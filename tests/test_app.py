"""The app's pages under Streamlit's AppTest: rendered and driven without a browser."""
import time

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import app_state
from mnist_core.synthetic import drawn_digits
from tests.conftest import ROOT

TIMEOUT = 120  # TensorFlow's import alone exceeds AppTest's default 3 s


@pytest.fixture(autouse=True)
def fresh_resources():
    """Each test starts with empty process-wide caches (and so its own lab home and jobs)."""
    st.cache_resource.clear()
    yield
    job = app_state.job_registry().current
    if job is not None:
        job.stop()
        job.join(timeout=60)
    st.cache_resource.clear()


def by_label(elements, label):
    return next(e for e in elements if e.label == label)


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_every_page_renders_without_exception():
    for page in (None, "pages/1_Train.py", "pages/2_Analyze.py", "pages/3_Draw.py",
                 "pages/4_Class.py"):
        at = open_page(page)
        assert at.title, f"{page} has no title"


def test_home_shows_the_active_model_and_its_accuracy():
    at = open_page()
    assert at.title[0].value == "MNIST CNN Lab"
    values = [m.value for m in at.metric]
    assert any(v.startswith("Bundled") for v in values)
    assert any(v.endswith("%") and float(v[:-1]) >= 99.3 for v in values)


def test_draw_shows_the_hint_on_an_empty_canvas():
    at = open_page("pages/3_Draw.py")
    assert any("Draw a digit" in i.value for i in at.info)
    assert not at.metric  # no prediction without a drawing
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    at.session_state[app_state.TEST_DRAWING] = blank
    at.run()
    assert any("Draw a digit" in i.value for i in at.info) and not at.metric


@pytest.mark.parametrize("seed", [1, 2])
def test_draw_classifies_a_drawing(seed):
    images, labels = drawn_digits(1, seed=seed)
    at = open_page("pages/3_Draw.py")
    at.session_state[app_state.TEST_DRAWING] = images[0]
    at.run()
    assert not at.exception
    assert at.metric[0].label == "Prediction" and at.metric[0].value == str(labels[0])
    assert len(at.get("image")) >= 2  # what the network saw + saliency


def test_draw_saves_a_labelled_drawing():
    images, labels = drawn_digits(1, seed=3)
    at = open_page("pages/3_Draw.py")
    at.session_state[app_state.TEST_DRAWING] = images[0]
    at.run()
    at.button(key="FormSubmitter:feedback-Save drawing").click().run()
    saved, saved_labels = app_state.store().drawings()
    assert saved.shape == (1, 28, 28, 1) and saved_labels.tolist() == [labels[0]]


def test_a_full_disk_when_saving_a_drawing_is_a_message_and_drawing_goes_on(monkeypatch):
    from mnist_core.store import RunStore, StoreError

    def disk_full(self, *args):
        raise StoreError("the lab's database failed: database or disk is full")

    monkeypatch.setattr(RunStore, "add_drawing", disk_full)
    images, labels = drawn_digits(2, seed=5)
    at = open_page("pages/3_Draw.py")
    at.session_state[app_state.TEST_DRAWING] = images[0]
    at.run()
    at.button(key="FormSubmitter:feedback-Save drawing").click().run()
    assert not at.exception and any("disk is full" in e.value for e in at.error)
    at.session_state[app_state.TEST_DRAWING] = images[1]
    at.run()
    assert not at.exception and at.metric[0].value == str(labels[1])


def test_analyze_shows_metrics_matrix_and_filtered_gallery():
    at = open_page("pages/2_Analyze.py")
    assert float(at.metric[0].value.rstrip("%")) >= 99.3
    assert at.get("plotly_chart"), "no confusion matrix"
    by_label(at.selectbox, "True digit").set_value(4).run()
    captions = [c for img in at.get("image") for c in img.captions]
    assert captions and all(c.startswith("true 4 →") for c in captions)


def test_train_runs_a_tiny_job_and_shows_the_finished_run():
    at = open_page("pages/1_Train.py")
    by_label(at.selectbox, "Architecture preset").set_value("fast")
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.button, "Start training").click().run()
    assert not at.exception and not at.error
    job = app_state.job_registry().current
    assert job is not None
    assert job.join(timeout=120) and job.snapshot().status == "done"
    at.run()
    assert any("test accuracy" in s.value for s in at.success)
    run = app_state.store().list_runs()[0]
    assert run.status == "done" and run.has_model
    by_label(at.button, "Make it the active model").click().run()
    assert at.session_state[app_state.ACTIVE_MODEL] == run.id


def test_two_sessions_share_one_job_and_a_second_start_is_refused():
    from mnist_core.jobs import JobBusy
    from mnist_core.training import TrainConfig

    first = open_page("pages/1_Train.py")
    by_label(first.select_slider, "Training images").set_value(3000)
    by_label(first.number_input, "Epochs").set_value(30)
    by_label(first.button, "Start training").click().run()
    job = app_state.job_registry().current
    deadline = time.monotonic() + 60
    while job.snapshot().batch == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    second = open_page("pages/1_Train.py")   # another browser: sees the same live run...
    assert any(sub.value.startswith(job.config.preset) for sub in second.subheader)
    assert second.get("progress") and second.get("plotly_chart")  # progress and live chart
    assert not [b for b in second.button if b.label == "Start training"]  # ...and no Start
    with pytest.raises(JobBusy, match="already running"):
        app_state.job_registry().start(TrainConfig(), app_state.mnist(), None)
    by_label(second.button, "Stop training").click().run()
    by_label(second.button, "Yes, stop").click().run()
    assert job.join(timeout=60) and job.snapshot().status == "stopped"


def test_a_failure_inside_training_is_shown_and_the_app_keeps_working(monkeypatch):
    import mnist_core.jobs as jobs

    def explode(*args, **kwargs):
        raise RuntimeError("out of memory while training")

    monkeypatch.setattr(jobs, "train", explode)
    at = open_page("pages/1_Train.py")
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.button, "Start training").click().run()
    job = app_state.job_registry().current
    assert job.join(timeout=60) and job.snapshot().status == "failed"
    at.run()
    assert any("out of memory while training" in e.value for e in at.error)
    assert [b for b in at.button if b.label == "Start training"]  # a new run can start
    assert app_state.store().list_runs()[0].status == "failed"
    assert not open_page("pages/3_Draw.py").exception             # other pages still work


def test_pages_explain_missing_mnist_instead_of_crashing(monkeypatch, tmp_path):
    from mnist_core import data, settings

    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "no-mnist"))
    monkeypatch.setattr(settings, "project_data_dir", lambda: tmp_path / "nowhere")
    monkeypatch.setattr(data, "keras_cache_file", lambda: tmp_path / "no-cache" / "mnist.npz")

    def offline():
        raise ConnectionError("no internet")

    import keras
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    at = open_page("pages/2_Analyze.py")
    assert any("MNIST was not found" in e.value for e in at.error)
    at = open_page("pages/1_Train.py")
    by_label(at.button, "Start training").click().run()
    assert not at.exception and any("MNIST was not found" in e.value for e in at.error)


def test_unwritable_lab_home_still_runs_with_the_bundled_model(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_LAB_HOME", str(blocker / "home"))
    at = open_page()
    assert any("Runs cannot be saved" in w.value for w in at.sidebar.warning)
    images, labels = drawn_digits(1, seed=4)
    at = open_page("pages/3_Draw.py")
    at.session_state[app_state.TEST_DRAWING] = images[0]
    at.run()
    assert not at.exception and at.metric[0].value == str(labels[0])


def test_a_batch_larger_than_the_training_set_is_refused_before_starting():
    at = open_page("pages/1_Train.py")
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Batch size").set_value(2000)
    by_label(at.button, "Start training").click().run()
    assert any("larger than the" in e.value for e in at.error)
    assert app_state.job_registry().current is None and not app_state.store().list_runs()


def test_streamlit_no_longer_resets_keras_after_each_run(monkeypatch):
    """Guards the fix that keeps training fast while browsers watch (see app_state): if a
    Streamlit upgrade renames its hook, this fails instead of training silently slowing 60x."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    open_page()
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    script_runner._clean_problem_modules()
    assert calls == []
