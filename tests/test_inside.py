"""The inside view: every layer's output in model order, the first kernels, and its page.

The core is checked on several architectures (Sequential presets, the functional bundled
`best` model, a hand-built functional model with every layer type a student may use, a
dense-only model); the page under AppTest, without a browser.
"""
import base64
import io
import re
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import resources, session
from mnist_core.views import charts
from mnist_core.drawing.inference import Predictor
from mnist_core.drawing.inside import (INPUT, MAPS, PROBABILITIES, SAME, VECTOR,
                               InsideNetwork, first_kernels)
from mnist_core.drawing.preprocess import to_mnist
from mnist_core.drawing.synthetic import drawn_digits
from tests.helpers import ROOT, TIMEOUT



def dense_only():
    import keras

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10),
        keras.layers.Activation("softmax"),
    ], name="dense_only")


def every_layer_type():
    """Functional, with each layer type the lab's users build, BN and a separate ReLU."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(6, 5, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)                      # 14x14x6
    x = layers.Conv2D(12, 3)(x)                        # 12x12x12
    x = layers.Activation("relu")(x)
    x = layers.AveragePooling2D(2)(x)                  # 6x6x12
    x = layers.Dropout(0.3)(x)
    x = layers.GlobalAveragePooling2D()(x)             # 12
    x = layers.Dense(16, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="every_layer_type")


def preset(name):
    from mnist_core.model.build import build_model

    from mnist_core.training.presets import get_preset

    return lambda: build_model(get_preset(name).spec)


MODELS = {"bundled": None, "tutorial": preset("tutorial"), "keras-example": preset("keras-example"),
          "fast": preset("fast"), "every-layer-type": every_layer_type, "dense-only": dense_only}


@pytest.fixture(scope="module")
def drawing():
    images, labels = drawn_digits(1, seed=4)
    return to_mnist(images[0])


@pytest.fixture(params=list(MODELS))
def model(request, bundled_model):
    build = MODELS[request.param]
    return bundled_model if build is None else build()


def shown_layers(model):
    return [la for la in model.layers if type(la).__name__ != "InputLayer"]


def test_every_layer_is_listed_in_model_order_with_its_shape(model, drawing):
    view = InsideNetwork(model).view(drawing)
    layers = shown_layers(model)
    assert [la.name for la in view.layers] == ["input"] + [la.name for la in layers]
    assert [la.index for la in view.layers] == list(range(len(layers) + 1))
    first = view.layers[0]
    assert first.kind == INPUT and first.values.shape == (28, 28, 1)
    assert np.array_equal(first.values[:, :, 0], drawing.image)
    for listed, layer in zip(view.layers[1:], layers):
        assert listed.layer_type == type(layer).__name__
        assert listed.shape == tuple(layer.output.shape[1:])
        if listed.kind == SAME:     # dropout at inference, flatten: nothing new, and said so
            assert listed.values is None and "same" in listed.note
            assert listed.layer_type in ("Dropout", "Flatten")
        else:
            assert listed.values.shape == listed.shape and listed.values.dtype == np.float32
            assert listed.kind == (PROBABILITIES if layer is layers[-1]
                                   else MAPS if len(listed.shape) == 3 else VECTOR)
    assert all(la.kind != SAME for la in view.layers if la.layer_type not in ("Dropout",
                                                                                "Flatten"))


def test_the_answer_comes_last_and_is_the_predictors(model, drawing):
    predictor = Predictor(model)
    view = predictor.inside(drawing)
    last = view.layers[-1]
    assert last.kind == PROBABILITIES and last.shape == (10,)
    assert abs(last.values.sum() - 1) < 1e-5
    expected = predictor.probabilities(drawing.batch())[0]
    np.testing.assert_allclose(view.probabilities, expected, atol=1e-6)
    assert predictor.inside(to_mnist(np.zeros((280, 280), np.uint8))) is None   # nothing drawn


def test_kernels_are_the_first_convolutions_weights(model, drawing):
    import keras

    kernels = first_kernels(model)
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2D)]
    if not convs:
        assert kernels is None and Predictor(model).feature_maps(drawing) is None
        return
    k = convs[0].kernel.shape
    assert kernels.layer_name == convs[0].name and kernels.weights.shape == tuple(k)
    assert k[2] == 1 and f"{k[3]} kernels of {k[0]}×{k[1]}" in kernels.caption
    np.testing.assert_array_equal(kernels.weights, np.asarray(convs[0].kernel))
    picture = charts.kernels_picture(kernels.weights)
    pixels = decode(picture.url)
    columns = charts.grid_columns(k[3])
    assert pixels.shape == (-(-k[3] // columns) * (k[0] + 1) - 1, columns * (k[1] + 1) - 1, 3)
    red, blue = pixels[..., 0].astype(int), pixels[..., 2].astype(int)
    assert (red > blue + 50).any() and (blue > red + 50).any()    # orange and blue weights
    assert picture.width == pixels.shape[1] * -(-charts.TILE_PX // k[0])
    assert Predictor(model).feature_maps(drawing).shape == tuple(convs[0].output.shape[1:])


def test_bundled_best_model_is_listed_block_by_block(bundled_model, drawing):
    view = Predictor(bundled_model).inside(drawing)
    maps = [la.shape for la in view.layers if la.kind == MAPS]
    assert maps[0] == (28, 28, 32) and maps[-1] == (7, 7, 128) and len(maps) == 21
    assert [la.layer_type for la in view.layers[1:4]] == ["Conv2D", "BatchNormalization",
                                                           "Activation"]
    assert [la.kind for la in view.layers[-3:]] == [VECTOR, SAME, PROBABILITIES]
    relu = next(la for la in view.layers if la.layer_type == "Activation")
    assert relu.values.min() >= 0 and "negative values become 0" in relu.caption
    dropout = next(la for la in view.layers if la.layer_type == "Dropout")
    assert dropout.caption.endswith("same as above (dropout is off when classifying)")


def test_a_shared_layer_and_bfloat16_layers_are_listed_honestly(drawing):
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, activation="relu", dtype="mixed_bfloat16")(inputs)
    x = layers.Dense(8, dtype="mixed_bfloat16")(layers.Flatten()(x))
    shared = layers.Dense(8, activation="relu", name="shared")
    x = shared(shared(x))                              # one layer, two outputs: which to show?
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    view = Predictor(model).inside(drawing)
    listed = {la.name: la for la in view.layers}
    assert listed["shared"].kind == SAME and "used more than once" in listed["shared"].note
    conv = view.layers[1]
    assert conv.kind == MAPS and conv.values.dtype == np.float32 and conv.shape == (26, 26, 4)
    assert view.layers[-1].kind == PROBABILITIES
    np.testing.assert_allclose(view.probabilities, model.predict(drawing.batch(), verbose=0)[0],
                               atol=1e-6)


def test_concurrent_sessions_get_their_own_layers(bundled_model):
    images, _ = drawn_digits(8, seed=9)
    drawings = [to_mnist(image) for image in images]
    network = InsideNetwork(bundled_model)
    expected = [network.view(d).layers[5].values for d in drawings]
    errors = []

    def worker(i):
        for _ in range(3):
            if not np.array_equal(network.view(drawings[i]).layers[5].values, expected[i]):
                errors.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(drawings))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# --- pictures -------------------------------------------------------------------------------

def decode(url: str) -> np.ndarray:
    """A data: URL's PNG back to RGB pixels, as the browser shows them."""
    from PIL import Image

    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        assert image.format == "PNG" and image.mode == "P"   # one byte a pixel
        return np.asarray(image.convert("RGB"))


def test_maps_become_one_grid_with_a_shared_scale():
    maps = np.zeros((7, 7, 20), np.float32)
    maps[:, :, 3] = 2.0            # the strongest map: white
    maps[:, :, 4] = 1.0            # half as strong: mid grey, not stretched to white
    picture = charts.maps_picture(maps)
    pixels = decode(picture.url)
    assert pixels.shape == (3 * 8 - 1, 8 * 8 - 1, 3)              # 8 columns, 3 rows, 1 px gaps
    assert picture.width == pixels.shape[1] * 6 and picture.height == pixels.shape[0] * 6
    assert tuple(pixels[0, 3 * 8]) == (255, 255, 255) and tuple(pixels[0, 0]) == (0, 0, 0)
    assert abs(int(pixels[0, 4 * 8, 0]) - 128) <= 1                # half as strong: mid grey
    assert tuple(pixels[7, 0]) == charts.GAP and tuple(pixels[-1, -1]) == charts.GAP  # gap, empty
    signed = decode(charts.maps_picture(np.stack([np.ones((7, 7)), -np.ones((7, 7)),
                                                  np.zeros((7, 7))], -1)).url)
    assert signed.shape == (7, 23, 3)
    assert tuple(signed[0, 0]) == charts.POSITIVE and tuple(signed[0, 8]) == charts.NEGATIVE
    assert tuple(signed[0, 16]) == (0, 0, 0)


def test_tile_grid_is_the_loop_it_replaces():
    maps = np.random.default_rng(0).random((5, 4, 11)).astype(np.float32)
    grid = charts.feature_grid(maps, columns=4)
    expected = np.zeros((3 * 7, 4 * 6), np.float32)
    for i in range(11):
        m = maps[:, :, i]
        r, c = divmod(i, 4)
        expected[r * 7:r * 7 + 5, c * 6:c * 6 + 4] = (m - m.min()) / (m.max() - m.min())
    expected = np.kron((expected * 255).astype(np.uint8), np.ones((3, 3), np.uint8))
    assert grid.shape == expected.shape and np.abs(grid.astype(int) - expected).max() <= 1


def test_each_kind_of_layer_has_its_figure(bundled_model, drawing):
    view = Predictor(bundled_model).inside(drawing)
    shown = {la.kind: charts.layer_figure(la) for la in view.layers}
    assert isinstance(shown[INPUT], charts.Picture) and isinstance(shown[MAPS], charts.Picture)
    assert shown[SAME] is None
    assert len(shown[VECTOR].data[0].y) == 128 and len(shown[PROBABILITIES].data[0].y) == 10


# --- the page -------------------------------------------------------------------------------

def inside_page(drawing=None, monkeypatch=None, model=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if drawing is not None:
        at.session_state[session.PREPARED_DRAWING] = drawing
    if model is not None:
        shared = Predictor(model)     # one per model, as the app's cache keeps it
        monkeypatch.setattr(resources, "predictor", lambda ref: shared)
    at.switch_page("pages/5_Inside.py").run()
    assert not at.exception, at.exception
    return at


def test_without_a_drawing_the_page_sends_you_to_draw(fresh_resources):
    at = inside_page()
    assert at.title[0].value == "Inside the network"
    assert any("Draw a digit on the Draw page first" in i.value for i in at.info)
    assert not at.get("image") and not at.get("plotly_chart")
    assert any(link.proto.page == "Draw" and link.proto.label == "Draw a digit"
               for link in at.get("page_link"))


def test_a_drawing_made_on_the_draw_page_is_shown_layer_by_layer(fresh_resources,
                                                                 bundled_model, fake_canvas):
    images, labels = drawn_digits(1, seed=6)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    fake_canvas.show(images[0])
    at.switch_page("pages/3_Draw.py").run()
    assert at.metric[0].value == str(labels[0])
    at.switch_page("pages/5_Inside.py").run()
    assert not at.exception, at.exception
    layers = InsideNetwork(bundled_model).layer_count
    titles = [m.value for m in at.markdown if re.match(r"\*\*\d+\. ", m.value)]
    assert len(titles) == layers and titles[0].startswith("**0. input")
    assert titles[1] == "**1. conv 1 (Conv2D)**" and titles[-1].startswith(f"**{layers - 1}. dense")
    assert not [t for t in titles if "_" in t]       # no Keras names such as "conv2d_7"
    # the kernels, the open neuron's receptive field, the input and 21 map layers
    assert len(at.get("image")) == 1 + 1 + 22
    assert len(at.get("plotly_chart")) == 2         # the pooled vector, the probabilities
    assert not at.info


def test_layers_are_named_by_their_role_and_counted_per_role():
    import keras

    from mnist_core.drawing.inside import role_names

    L = keras.layers
    layers = [L.Conv2D(4, 3), L.ReLU(), L.Conv2D(4, 3), L.BatchNormalization(),
              L.Activation("relu"), L.MaxPooling2D(), L.AveragePooling2D(2), L.Dropout(0.1),
              L.GlobalAveragePooling2D(), L.Flatten(), L.Dense(8), L.Dense(10),
              L.Activation("softmax"), L.GaussianNoise(0.1)]
    assert role_names(layers) == [
        "conv 1", "relu 1", "conv 2", "batch norm 1", "relu 2", "pool 1", "pool 2",
        "dropout 1", "global pool 1", "flatten 1", "dense 1", "dense 2", "softmax 1",
        "gaussiannoise 1"]


def test_a_dense_only_model_says_it_has_no_kernels(fresh_resources, monkeypatch, drawing):
    at = inside_page(drawing, monkeypatch, dense_only())
    assert any("no convolution (Conv2D) layer" in i.value for i in at.info)
    assert len(at.get("image")) == 1 and len(at.get("plotly_chart")) == 3   # input; 3 vectors
    captions = [c.value for c in at.caption]
    assert any("784 · the same numbers as above" in c for c in captions)


# --- open a neuron (ui.neuron) ---------------------------------------------------------------

def neuron_lines(at) -> str:
    """The open neuron's sum, as the page lists it."""
    return next(m.value for m in at.markdown if "Sum of all" in m.value)


def test_a_neuron_is_open_at_the_strongest_cell_of_the_first_map(fresh_resources, drawing,
                                                                 bundled_model, monkeypatch):
    at = inside_page(drawing, monkeypatch, bundled_model)
    layer = at.selectbox(key=session.NEURON_LAYER)
    assert layer.options[0] == "conv 1 (28×28×32)" and layer.options[-1] == "dense 1 (10)"
    assert len(layer.options) == 8                        # 7 convolutions and the dense layer
    network = InsideNetwork(bundled_model)
    conv1 = network.view(drawing).layers[1].values[:, :, 0]
    row, col = np.unravel_index(int(conv1.argmax()), conv1.shape)
    assert (at.number_input(key=session.NEURON_ROW).value,
            at.number_input(key=session.NEURON_COL).value) == (row, col)
    lines = neuron_lines(at)
    assert "This layer has no bias" in lines and "Then **batch norm 1**" in lines
    assert "Then **relu 1**" in lines and "the same as the sum above ✓" in lines
    grids = [h.proto.body for h in at.get("html") if "<td" in h.proto.body]
    assert len(grids) == 1 and grids[0].count("<td") == 3 * 9   # weights, input, products
    field = f"rows {row - 1}–{row + 1}, columns {col - 1}–{col + 1} (3×3 of 28×28 pixels)"
    assert any(field in c for image in at.get("image") for c in image.captions)


def test_picking_a_cell_by_numbers_opens_it_and_outlines_its_field(fresh_resources, drawing,
                                                                   bundled_model, monkeypatch):
    at = inside_page(drawing, monkeypatch, bundled_model)
    at.selectbox(key=session.NEURON_LAYER).select_index(2).run()           # conv 3: 5x5 stride 2
    at.selectbox(key=session.NEURON_CHANNEL).select(5).run()
    at.number_input(key=session.NEURON_ROW).set_value(6).run()
    at.number_input(key=session.NEURON_COL).set_value(7).run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("**Row 6, column 7 of map 5**: a 5×5 kernel slides over the "
                                  "32 maps") for m in at.markdown)
    assert any("here are the 4 that add the most" in c.value for c in at.caption)
    lines = neuron_lines(at)
    assert "The other 28 maps add" in lines and "✓" in lines
    captions = [c for image in at.get("image") for c in image.captions]
    assert any("rows 9–17, columns 11–19 (9×9 of 28×28 pixels)" in c for c in captions)
    # Another layer with fewer rows keeps the pick inside its map.
    at.selectbox(key=session.NEURON_LAYER).select_index(6).run()           # conv 7: 7x7
    assert not at.exception, at.exception
    assert at.number_input(key=session.NEURON_ROW).value < 7


def test_a_dense_unit_lists_its_largest_inputs(fresh_resources, drawing, bundled_model,
                                               monkeypatch):
    at = inside_page(drawing, monkeypatch, bundled_model)
    at.selectbox(key=session.NEURON_LAYER).select_index(7).run()
    at.number_input(key=session.NEURON_UNIT).set_value(3).run()
    assert not at.exception, at.exception
    table = at.table[0].value
    assert list(table.columns) == ["input", "value", "weight", "weight × input"]
    assert len(table) == 10 and table["input"][0].endswith("of global pool 1")
    lines = neuron_lines(at)
    assert "The other 118 inputs add" in lines and "its softmax" in lines and "✓" in lines
    assert any(m.value.startswith("**Unit 3 of dense 1**") for m in at.markdown)


def test_without_convolutions_only_dense_units_open(fresh_resources, monkeypatch, drawing):
    at = inside_page(drawing, monkeypatch, dense_only())
    assert at.selectbox(key=session.NEURON_LAYER).options == ["dense 1 (32)", "dense 2 (10)"]
    assert not [s for s in at.selectbox if s.key == session.NEURON_CHANNEL]
    assert "Sum of all 784 products" in neuron_lines(at)
    assert at.table[0].value["input"][0].endswith("of the input")


def test_a_tap_opens_its_cell_and_a_value_no_map_has_is_ignored(fresh_resources, drawing,
                                                                bundled_model, monkeypatch):
    """The component's value (ui/neuron_cells.js) as the browser sends it, once, after a tap."""
    from ui import neuron

    sent = []

    def component(**kwargs):          # stands in for the browser: its value this run
        return {"cell": sent.pop()} if sent else {}

    monkeypatch.setattr(neuron, "_cells", component)
    at = inside_page(drawing, monkeypatch, bundled_model)
    sent.append({"row": 3, "col": 25})
    at.run()
    assert any(m.value.startswith("**Row 3, column 25 of map 0**") for m in at.markdown)
    assert at.number_input(key=session.NEURON_ROW).value == 3
    for hostile in ({"row": 28, "col": 0}, {"row": -1, "col": 2}, {"row": "3", "col": 1},
                    {"row": 2.0, "col": 1}, "3,1", {"row": True, "col": 1}):
        sent.append(hostile)
        at.run()
        assert not at.exception, (hostile, at.exception)
        assert (at.number_input(key=session.NEURON_ROW).value,
                at.number_input(key=session.NEURON_COL).value) == (3, 25), hostile
