"""The digit map: hidden-layer features of any model, the projection, placing a drawing and
its nearest training digits, the map files (keyed by the model, damaged ones recomputed), the
server's one-at-a-time computation, and the Map page's states under AppTest.

Everything runs on small data (synthetic digits, tiny models); the full 70,000 images are the
bench's job (bench/digit_map.py).
"""
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.dataset import Dataset, compact
from mnist_core.drawing import digit_map_service as service
from mnist_core.drawing.digit_map import (NEIGHBOURS, build_map, fit_projection,
                                          neighbour_agreement)
from mnist_core.drawing.digit_map_cache import load_map, map_file, model_key, save_map
from mnist_core.drawing.digit_map_features import (MAX_WIDTH, HiddenFeatures, NoHiddenLayer,
                                                   hidden_layer_input)
from mnist_core.drawing.digit_map_service import (COMPUTING, FAILED, READY, WAITING, DigitMaps,
                                                  MapState)
from mnist_core.drawing.preprocess import Prepared
from tests.helpers import ROOT, TIMEOUT
from ui import resources, session


def clusters(n_per_digit=60, width=16, seed=0):
    """Ten well-separated clusters of unit-length features, one per digit."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, width)) * 3
    labels = np.repeat(np.arange(10), n_per_digit)
    x = centres[labels] + rng.standard_normal((len(labels), width)) * 0.3
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def tiny_model(head="gap"):
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    if head == "gap":
        x = layers.GlobalAveragePooling2D()(x)               # 4 wide
    elif head == "dense":
        x = layers.Dense(12, activation="relu")(layers.Flatten()(x))
    else:
        x = layers.Flatten()(x)                                # 26 * 26 * 4 = 2,704 wide
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


# --- projection, placement, neighbours --------------------------------------------------------

def test_lda_separates_the_digits_better_than_chance_and_places_exactly():
    x, y = clusters()
    projection = fit_projection(x, y)
    xy = projection(x)
    assert xy.shape == (len(x), 2) and np.allclose(xy.std(axis=0), 1, atol=0.05)
    assert neighbour_agreement(xy, y, sample=None) > 0.9
    m = build_map("k", x, y, x[:100], y[:100])
    placed = m.place(x[7])
    assert np.allclose(placed.xy, projection(x[7:8])[0], atol=1e-5)   # exact, not guessed
    assert placed.neighbours[0] == 7 and placed.similarity[0] == pytest.approx(1, abs=1e-5)


def test_neighbours_are_the_most_similar_training_digits_nearest_first():
    x, y = clusters(width=8, seed=3)
    m = build_map("k", x, y, x, y)
    query = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    query /= np.linalg.norm(query)
    placed = m.place(query)
    expected = np.argsort(-(x @ query), kind="stable")[:NEIGHBOURS]
    assert len(placed.neighbours) == NEIGHBOURS
    assert set(placed.neighbours) == set(expected)
    assert np.all(np.diff(placed.similarity) <= 1e-7)
    assert m.place(query, k=3).neighbours.tolist() == placed.neighbours[:3].tolist()


def test_each_digit_gets_its_label_in_its_middle():
    x, y = clusters()
    m = build_map("k", x, y, x, y)
    centres = m.digit_centres()
    assert sorted(centres) == list(range(10))
    for digit, centre in centres.items():
        assert np.allclose(centre, np.median(m.positions[y == digit], axis=0))


def test_neighbour_agreement_is_one_for_apart_and_about_a_tenth_for_mixed():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 50)
    apart = np.c_[y * 100.0, np.zeros(len(y))] + rng.random((len(y), 2))
    assert neighbour_agreement(apart, y, sample=None) == 1.0
    mixed = rng.random((len(y), 2))
    assert neighbour_agreement(mixed, y, sample=None) < 0.3


# --- features of any model --------------------------------------------------------------------

@pytest.mark.parametrize("head, width", [("gap", 4), ("dense", 12), ("flatten", MAX_WIDTH)])
def test_features_come_from_the_input_of_the_last_dense_layer(head, width, synthetic_digits):
    model = tiny_model(head)
    features = HiddenFeatures(model)
    f = features(synthetic_digits.x_test[:20])
    assert f.shape == (20, width) and features.width == width
    assert np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-4)
    many = features.of_many(synthetic_digits.x_test[:300])
    assert np.allclose(many[:20], f, atol=1e-5)
    uint8 = compact(Dataset(synthetic_digits.x_test[:20], synthetic_digits.y_test[:20], None,
                            None, "s")).x_train
    assert np.allclose(features(uint8), f, atol=1e-5)   # the server's compact MNIST


def test_the_bundled_models_hidden_layer_is_its_pooled_128(bundled_model):
    assert tuple(hidden_layer_input(bundled_model).shape[1:]) == (128,)


def test_a_model_without_dense_layer_has_no_map():
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(10, 28),
                              keras.layers.Flatten(), keras.layers.Softmax()])
    with pytest.raises(NoHiddenLayer):
        HiddenFeatures(model)


def test_progress_counts_images_and_cancel_stops(synthetic_digits):
    features = HiddenFeatures(tiny_model())
    seen = []
    features.of_many(synthetic_digits.x_test[:300], progress=seen.append)
    assert seen == [128, 256, 300]
    assert len(features.of_many(synthetic_digits.x_test[:300], cancelled=lambda: True)) == 0


# --- map files ---------------------------------------------------------------------------------

def small_map(key="v1-abc"):
    x, y = clusters(n_per_digit=20, width=6)
    return build_map(key, x, y, x[:50], y[:50])


def test_a_map_file_round_trips_and_leaves_no_temporary_file(tmp_path):
    m = small_map()
    path = save_map(m, tmp_path)
    assert path == map_file(m.key, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    back = load_map(m.key, m.train_labels, m.test_labels, tmp_path)
    assert np.array_equal(back.positions, m.positions)
    assert np.allclose(back.train_features, m.train_features, atol=1e-3)   # kept as float16
    assert back.place(m.train_features[3]).neighbours[0] == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other data", "empty"])
def test_a_damaged_or_foreign_map_file_is_not_used(tmp_path, damage):
    m = small_map()
    path = save_map(m, tmp_path)
    if damage == "garbage":
        path.write_bytes(b"not a map" * 100)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "empty":
        path.write_bytes(b"")
    labels = m.train_labels[::-1].copy() if damage == "other data" else m.train_labels
    assert load_map(m.key, labels, m.test_labels, tmp_path) is None


def test_the_key_follows_the_model_files_content(tmp_path):
    a, b, c = tmp_path / "a.keras", tmp_path / "b.keras", tmp_path / "c.keras"
    a.write_bytes(b"weights 1")
    b.write_bytes(b"weights 1")
    c.write_bytes(b"weights 2")    # retrained: new weights, new map
    assert model_key(a) == model_key(b) != model_key(c)


def test_an_unwritable_folder_keeps_the_map_in_memory_only(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    assert save_map(small_map(), blocker / "maps") is None


# --- the server's computation -----------------------------------------------------------------

@pytest.fixture
def data(synthetic_digits):
    return compact(synthetic_digits.limit(600))


def wait_ready(maps, ref, path, load, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = maps.request(ref, path, load)
        if state.status in (READY, FAILED):
            return state
        time.sleep(0.05)
    raise AssertionError("the map was not ready in time")


def test_one_map_per_model_is_computed_saved_and_placed(tmp_path, data):
    model, path = tiny_model(), tmp_path / "m.keras"
    path.write_bytes(b"model 1")
    loads = []
    maps = DigitMaps(lambda: data, folder=lambda: tmp_path / "maps")
    load = lambda: loads.append(1) or model  # noqa: E731
    first = maps.request("r1", path, load)
    assert first.status == WAITING
    state = wait_ready(maps, "r1", path, load)
    assert state.status == READY and state.done == state.total == 1200 and loads == [1]
    assert map_file(model_key(path), tmp_path / "maps").is_file()
    assert maps.request("r1", path, lambda: model) is state          # shared, not recomputed
    placed = state.place(Prepared(data.x_test[0].reshape(28, 28) / 255.0))
    assert placed.xy.shape == (2,) and len(placed.neighbours) == NEIGHBOURS
    maps.close()


def test_a_damaged_map_file_is_computed_again(tmp_path, data, monkeypatch):
    model, path = tiny_model(), tmp_path / "m.keras"
    path.write_bytes(b"model 1")
    folder = tmp_path / "maps"
    folder.mkdir()
    map_file(model_key(path), folder).write_bytes(b"\x00" * 64)
    maps = DigitMaps(lambda: data, folder=lambda: folder)
    state = wait_ready(maps, "r", path, lambda: model)
    assert state.status == READY
    assert load_map(model_key(path), np.asarray(data.y_train, np.uint8),
                    np.asarray(data.y_test, np.uint8), folder) is not None
    # a restarted server reads it instead of computing
    computed = []
    monkeypatch.setattr(service, "build_map", lambda *a: computed.append(1))
    again = wait_ready(DigitMaps(lambda: data, folder=lambda: folder), "r", path, lambda: model)
    assert again.status == READY and not computed


def test_one_map_computes_at_a_time_and_only_the_latest_waits(tmp_path, data):
    model = tiny_model()
    release = threading.Event()
    paths = []
    for name in "abc":
        paths.append(tmp_path / f"{name}.keras")
        paths[-1].write_bytes(name.encode())
    maps = DigitMaps(lambda: data, folder=lambda: tmp_path / "maps")
    started = []

    def slow_model():
        started.append(1)
        release.wait(30)
        return model

    maps.request("a", paths[0], slow_model)
    deadline = time.monotonic() + 10
    while maps.request("a", paths[0], slow_model).status != COMPUTING:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert maps.request("b", paths[1], lambda: model).status == WAITING
    assert maps.request("c", paths[2], lambda: model).status == WAITING   # replaces b
    release.set()
    assert wait_ready(maps, "a", paths[0], slow_model).status == READY
    assert wait_ready(maps, "c", paths[2], lambda: model).status == READY
    assert started == [1]
    assert not map_file(model_key(paths[1]), tmp_path / "maps").exists()   # b never ran
    maps.close()


def test_a_model_without_hidden_layer_fails_with_the_reason(tmp_path, data):
    import keras

    path = tmp_path / "m.keras"
    path.write_bytes(b"x")
    flat = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Softmax()])
    state = wait_ready(DigitMaps(lambda: data, folder=lambda: tmp_path), "r", path, lambda: flat)
    assert state.status == FAILED and "no Dense layer" in state.error


def test_missing_mnist_fails_with_the_loaders_reason(tmp_path):
    from mnist_core.data.dataset import DataError

    path = tmp_path / "m.keras"
    path.write_bytes(b"x")

    def no_mnist():
        raise DataError("MNIST was not found in any of these places")

    state = wait_ready(DigitMaps(no_mnist, folder=lambda: tmp_path), "r", path, tiny_model)
    assert state.status == FAILED and "MNIST was not found" in state.error


# --- the page ----------------------------------------------------------------------------------

def map_page(drawing=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if drawing is not None:
        at.session_state[session.PREPARED_DRAWING] = drawing
    at.switch_page("pages/6_Map.py").run()
    assert not at.exception, at.exception
    return at


def run_until_ready(at, seconds=120):
    deadline = time.monotonic() + seconds
    while at.get("plotly_chart") == [] and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    return at


def test_while_the_map_computes_every_page_shows_its_progress(monkeypatch):
    monkeypatch.setattr(resources, "digit_map", lambda ref: MapState(COMPUTING, 35_000, 70_000))
    at = map_page()
    assert at.title[0].value == "Your digit among 70,000"
    assert "35,000 done" in at.get("progress")[0].proto.text
    assert not at.get("plotly_chart")


def test_a_failed_map_says_why(monkeypatch):
    monkeypatch.setattr(resources, "digit_map",
                        lambda ref: MapState(FAILED, error="no Dense layer"))
    at = map_page()
    assert any("no Dense layer" in e.value for e in at.error)


def test_without_a_drawing_the_map_shows_and_asks_for_one(synthetic_app_data):
    at = run_until_ready(map_page())
    assert any("Draw a digit on the Draw page" in i.value for i in at.info)
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"name":"yours"' not in chart.replace(" ", "")


def test_with_a_drawing_the_star_and_its_neighbours_show(synthetic_app_data):
    drawing = Prepared(synthetic_app_data.x_test[0].reshape(28, 28) / 255.0)
    at = run_until_ready(map_page(drawing))
    assert not at.info
    chart = at.get("plotly_chart")[0].proto.spec.replace(" ", "")
    assert '"name":"yours"' in chart and '"symbol":"star"' in chart
    assert any("The network reads it as a" in m.value for m in at.markdown)
    neighbours = next(h.proto.body for h in at.get("html") if "map-neighbours" in h.proto.body)
    assert neighbours.count("<figure") == 1 + NEIGHBOURS
    # drawing again and coming back (or any rerun) moves the star
    labels = synthetic_app_data.y_test
    other = next(i for i, y in enumerate(labels) if y != labels[0])
    at.session_state[session.PREPARED_DRAWING] = Prepared(
        synthetic_app_data.x_test[other].reshape(28, 28) / 255.0)
    at.run()
    assert at.get("plotly_chart")[0].proto.spec.replace(" ", "") != chart
