"""What the whole server shares: created once per process with `st.cache_resource` and used by
every session (the store, the training job, loaded models, MNIST, evaluations, rate limits).

Everything expensive lives here, so that thirty browsers cost one copy. Callers go through the
module (`resources.store()`), which lets tests replace one factory.
"""
from __future__ import annotations

import streamlit as st

from mnist_core import settings
from mnist_core.lab.db import StoreError
from mnist_core.lab.runs import BUNDLED
from mnist_core.lab.store import RunStore


@st.cache_resource(show_spinner=False)
def _store_or_error() -> tuple[RunStore | None, str | None]:
    try:
        return RunStore(), None
    except StoreError as e:
        return None, str(e)


def store() -> RunStore | None:
    """The run store, or None when the lab home is unusable (the app still runs)."""
    return _store_or_error()[0]


def store_error() -> str | None:
    return _store_or_error()[1]


@st.cache_resource(show_spinner=False)
def job_registry():
    """The server's one training job. Trainings run in a child process at lower priority
    (mnist_core.jobs.child_training) so that students drawing are answered first;
    MNIST_LAB_TRAINING=thread trains in this process instead (the tests do, for speed)."""
    from mnist_core.jobs.child_training import ProcessTrainingJob
    from mnist_core.jobs.registry import JobRegistry
    from mnist_core.jobs.thread_job import TrainingJob

    return JobRegistry(ProcessTrainingJob if settings.train_in_child_process() else TrainingJob)


@st.cache_resource(show_spinner=False)
def live_figures():
    """The Train page's live figures, built once for all watching browsers."""
    from mnist_core.views.charts import SharedLiveFigures

    return SharedLiveFigures()


@st.cache_resource(show_spinner=False)
def learning_views():
    """The Train page's "Watch it learn" figure and pictures, built once for all watchers."""
    from mnist_core.views.learning import SharedLearningViews

    return SharedLearningViews()


@st.cache_resource(show_spinner=False)
def train_page_watchers():
    """The browsers that have the Train page open (mnist_core.classroom.watchers)."""
    from mnist_core.classroom.watchers import PageWatchers

    return PageWatchers()


@st.cache_resource(show_spinner=False)
def _mnist_reading():
    """MNIST being read on a thread; call it to wait. Started early by `prepare_training`;
    where the reading failed, waiting loads again and says why. Images stay uint8 (a quarter
    of float32's memory); whatever trains or classifies them makes floats a batch at a time."""
    from mnist_core.data.mnist import start_loading_mnist

    return start_loading_mnist(as_uint8=True)


@st.cache_resource(show_spinner="Loading MNIST...")
def mnist():
    return _mnist_reading()()


def mnist_loader():
    """MNIST for a background job: a callable that waits for the reading started here, to be
    called in the job's thread (never st.* there), so that a page starting a job answers at
    once."""
    return _mnist_reading()


def prepare_training() -> None:
    """Get the first Start ready while the teacher picks a network: TensorFlow into the fork
    server and MNIST into memory, both in the background (docs/benchmarks.md, "How soon does a
    run start after Start?")."""
    job_registry().prepare()
    _mnist_reading()


@st.cache_resource(show_spinner=False)
def model_cache():
    """Process-wide models by reference, loaded once; shared by pages and the warm-up thread."""
    from mnist_core.drawing.model_cache import PredictorCache

    return PredictorCache(_model_file)


def _model_file(ref: str):
    if ref == BUNDLED:   # needs no store: the app draws even when the lab home is unusable
        return settings.BUNDLED_MODEL
    if store() is None:
        raise KeyError(f"run '{ref}' cannot be opened: {store_error()}")
    return store().lab_model_path(ref)


def predictor(ref: str):
    """A shared, thread-safe Predictor for the model `ref` (loaded once per process). Only the
    bundled model or a stored run: unlike the CLI, the app never opens a path."""
    cache = model_cache()
    if cache.is_loaded(ref):
        return cache.get(ref)
    with st.spinner("Loading the model..."):
        return cache.get(ref)


def warm_up_default_model() -> None:
    """Load and warm the bundled model in the background as soon as the server serves its
    first page, so the first student's drawing is answered like any other."""
    model_cache().warm_up_in_background(BUNDLED)


@st.cache_resource(show_spinner="Evaluating on the 10,000 test images...", max_entries=8)
def evaluation(ref: str):
    from mnist_core.model.evaluation import score

    data = mnist()
    return score(predictor(ref).probabilities(data.x_test), data.y_test)


@st.cache_resource(show_spinner=False, max_entries=4)
def augmentation_preview(augmentation):
    """Eight training images and augmented copies of them, for an `Augmentation`."""
    from mnist_core.data.dataset import float_images
    from mnist_core.training.loop import augmentation_preview as preview
    from mnist_core.views import charts

    return charts.enlarge(preview(float_images(mnist().x_train[:8]), augmentation), 3)


@st.cache_resource(show_spinner=False)
def bundled_card() -> dict:
    """The bundled model's card (read-only asset: read once per process)."""
    from mnist_core.untrusted import load_json

    try:   # bounded: a card edited into deep nesting is no card, not a crash of every page
        card = load_json(settings.BUNDLED_MODEL_CARD.read_text(), "the model card")
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


@st.cache_resource(show_spinner=False)
def class_predictions():
    """Each model's answers for the saved drawings, classified once per drawing and shared by
    every session (the Class page's refreshes, Analyze's class accuracy)."""
    from mnist_core.classroom.wall import PredictionCache

    return PredictionCache()


@st.cache_resource(show_spinner=False)
def teacher_gate():
    """The server's one TeacherGate: wrong keys counted per device, for every session."""
    from mnist_core.classroom.teacher import TeacherGate

    return TeacherGate()


@st.cache_resource(show_spinner=False)
def teacher_sessions():
    """The browsers unlocked as the teacher: in memory, so a server restart locks them all."""
    from mnist_core.classroom.teacher import TeacherSessions

    return TeacherSessions()


@st.cache_resource(show_spinner=False)
def drawing_saves():
    """Saves per device: one a second (a double tap, or a student hammering the digits),
    however many tabs or sessions that device opens."""
    from mnist_core.classroom.ratelimit import PerDevice

    return PerDevice(1, 1.0)


@st.cache_resource(show_spinner=False, ttl=300)
def lan_ip() -> str | None:
    from mnist_core.classroom.joining import lan_ip as find

    return find()


@st.cache_resource(show_spinner=False, max_entries=4)
def qr_code(url: str) -> bytes:
    from mnist_core.classroom.joining import qr_png

    return qr_png(url)


@st.cache_resource(show_spinner=False, max_entries=4)
def certificate_hosts(cert_file: str) -> frozenset[str] | None:
    """The addresses and names the server's certificate is valid for (None: unreadable)."""
    from mnist_core.classroom.https_cert import covered_hosts

    hosts = covered_hosts(cert_file)
    return None if hosts is None else frozenset(hosts)


@st.cache_resource(show_spinner=False, max_entries=64)
def step_timing(layers_json: str, batch_size: int, precision: str, augmentation_json: str):
    """Seconds per training step of one architecture on this machine, timed once per process
    (mnist_core.training.estimate)."""
    import json

    from mnist_core.model.spec import ModelSpec
    from mnist_core.training.config import Augmentation
    from mnist_core.training.estimate import time_steps

    spec = ModelSpec.from_dict({"name": "timing", "layers": json.loads(layers_json)})
    augmentation = Augmentation(**json.loads(augmentation_json)) if augmentation_json else None
    return time_steps(spec, batch_size, precision, augmentation)


@st.cache_resource(show_spinner=False)
def digit_maps():
    """The Map page's digit maps: one per model, computed once for the whole server in one
    background thread (never two at a time), kept on disk (mnist_core.drawing.digit_map_service)."""
    from mnist_core.drawing.digit_map_service import DigitMaps

    return DigitMaps(mnist_loader())


def digit_map(ref: str):
    """The `MapState` of model `ref`'s digit map, starting its computation if needed. Raises
    KeyError for an unknown model and OSError when its file is gone."""
    cache = model_cache()
    return digit_maps().request(ref, _model_file(ref), lambda: cache.get(ref).model)


@st.cache_resource(show_spinner=False, max_entries=4)
def _fooler(ref: str):
    from mnist_core.drawing.fooling import Fooler

    return Fooler(predictor(ref).model)


def fooler(ref: str):
    """The Fool it page's attack for model `ref` (mnist_core.drawing.fooling): its graph is
    traced once per model and shared by every session."""
    return _fooler(ref)
