"""The app's pages under Streamlit's AppTest: rendered and driven without a browser."""
import json

import numpy as np
import pytest

from ui import navigation, resources
from mnist_core.drawing.synthetic import drawn_digits
from tests.helpers import (OLD_SCHEMA, ROOT, FakeModel, by_label, config_with_spec, open_page,
                           tap)


def test_every_page_renders_without_exception(synthetic_app_data):
    """Walks the one page registry, which must list exactly the app's files: a new page left
    out of it (and so out of the sidebar and Home) fails here."""
    files = {"streamlit_app.py"} | {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert {p.path for p in navigation.PAGES} == files
    assert len({p.label for p in navigation.PAGES}) == len(navigation.PAGES)
    for page in navigation.PAGES:
        at = open_page(None if page == navigation.HOME else page.path)
        assert at.title, f"{page.path} has no title"
        assert not at.exception, f"{page.path}: {at.exception}"


def test_analyze_shows_the_architecture_of_the_selected_model(synthetic_app_data):
    """The bundled model is the `best` preset (its card's config: a full spec, or in cards
    from before specs only the preset name, which migrates): its layers, with the parameter
    count the card states."""
    from mnist_core.training.presets import get_preset

    at = open_page("pages/2_Analyze.py")
    layers = next(d.value for d in at.dataframe if "output shape" in d.value.columns)
    best = get_preset("best").spec
    assert list(layers["layer"]) == [row.description for row in best.table()]
    assert list(layers["output shape"])[:2] == ["28x28x32", "28x28x32"]
    assert list(layers["output shape"])[-1] == "10"
    assert layers["parameters"].sum() == resources.bundled_card()["parameters"] == 325_994
    assert any("325,994 learned parameters" in c.value for c in at.caption)


def test_analyze_compares_the_architectures_of_picked_runs_and_explains_unknown_ones(
        synthetic_app_data):
    store, history = resources.store(), [{"epoch": 1, "accuracy": 0.9, "val_accuracy": 0.95}]
    runs = []
    for config in (OLD_SCHEMA, config_with_spec({"name": "x", "layers": [{"type": "lambda"}]})):
        runs.append(store.create_run(config, "MNIST"))
        store.finish_run(runs[-1], status="done", model=FakeModel(), history=history)
    at = open_page("pages/2_Analyze.py")          # the bundled model, compared with both runs
    by_label(at.multiselect, "Runs to compare").set_value(runs).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2   # matrix + curves
    curves = json.loads(at.get("plotly_chart")[1].proto.spec)["data"]   # named as in the picker
    assert {c["name"] for c in curves} == {f"{store.get_run(r).title()} {kind}" for r in runs
                                           for kind in ("train", "validation")}
    tables = [d.value for d in at.dataframe if "output shape" in d.value.columns]
    assert [t["parameters"].sum() for t in tables] == [325_994, 204_906]  # bundled, tutorial
    assert any(c.value.startswith("Architecture unknown: ") and "'lambda'" in c.value
               for c in at.caption)


def test_home_shows_the_active_model_and_its_accuracy():
    at = open_page()
    assert at.title[0].value == "MNIST CNN Lab"
    values = [m.value for m in at.metric]
    assert any(v.startswith("Bundled") for v in values)
    assert any(v.endswith("%") and float(v[:-1]) >= 99.3 for v in values)


def test_draw_shows_the_hint_on_an_empty_canvas(fake_canvas):
    at = open_page("pages/3_Draw.py")
    assert any("Draw a digit" in i.value for i in at.info)
    assert not at.metric  # no prediction without a drawing
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    fake_canvas.show(blank)
    at.run()
    assert any("Draw a digit" in i.value for i in at.info) and not at.metric


@pytest.mark.parametrize("seed", [1, 2])
def test_draw_classifies_a_drawing(seed, fake_canvas):
    images, labels = drawn_digits(1, seed=seed)
    at = open_page("pages/3_Draw.py")
    fake_canvas.show(images[0])
    at.run()
    assert not at.exception
    assert at.metric[0].label == "Prediction" and at.metric[0].value == str(labels[0])
    assert len(at.get("image")) >= 2  # what the network saw + saliency


def test_draw_saves_a_labelled_drawing(monkeypatch, fake_canvas):
    images, labels = drawn_digits(1, seed=3)
    at = open_page("pages/3_Draw.py")
    fake_canvas.show(images[0])
    at.run()
    tap(monkeypatch, at, labels[0])
    saved, saved_labels = resources.store().drawings()
    assert saved.shape == (1, 28, 28, 1) and saved_labels.tolist() == [labels[0]]


def test_a_full_disk_when_saving_a_drawing_is_a_message_and_drawing_goes_on(monkeypatch, fake_canvas):
    from mnist_core.lab.db import StoreError
    from mnist_core.lab.store import RunStore

    def disk_full(self, *args, **kwargs):
        raise StoreError("the lab's database failed: database or disk is full")

    monkeypatch.setattr(RunStore, "add_drawing", disk_full)
    images, labels = drawn_digits(2, seed=5)
    at = open_page("pages/3_Draw.py")
    fake_canvas.show(images[0])
    at.run()
    tap(monkeypatch, at, labels[0])
    assert not at.exception and any("disk is full" in e.value for e in at.error)
    fake_canvas.show(images[1])
    at.run()
    assert not at.exception and at.metric[0].value == str(labels[1])


@pytest.mark.slow
def test_analyze_shows_metrics_matrix_and_filtered_gallery():
    at = open_page("pages/2_Analyze.py")
    assert float(at.metric[0].value.rstrip("%")) >= 99.3
    assert at.get("plotly_chart"), "no confusion matrix"
    by_label(at.selectbox, "True digit").set_value(4).run()
    captions = [c for img in at.get("image") for c in img.captions]
    assert captions and all(c.startswith("true 4 →") for c in captions)
    # The server keeps MNIST as uint8 (55 MB, not 220 MB of float32), the gallery included.
    assert resources.mnist().x_test.dtype == np.uint8 == resources.mnist().x_train.dtype


def test_pages_explain_missing_mnist_instead_of_crashing(monkeypatch, tmp_path):
    from mnist_core.data import mnist as data

    from mnist_core import settings

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


def test_unwritable_lab_home_still_runs_with_the_bundled_model(monkeypatch, tmp_path, fake_canvas):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_LAB_HOME", str(blocker / "home"))
    at = open_page()
    assert any("Runs cannot be saved" in w.value for w in at.sidebar.warning)
    images, labels = drawn_digits(1, seed=4)
    at = open_page("pages/3_Draw.py")
    fake_canvas.show(images[0])
    at.run()
    assert not at.exception and at.metric[0].value == str(labels[0])


def test_streamlit_no_longer_resets_keras_after_each_run(monkeypatch):
    """Guards the fix that keeps training fast while browsers watch (see ui/patches.py): if a
    Streamlit upgrade renames its hook, this fails instead of training silently slowing 60x."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    open_page()
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    script_runner._clean_problem_modules()
    assert calls == []
