"""Opening a neuron: its receptive field, kernel, patch, products, sum, bias and activation.

Every number is checked against the model's own forward pass (Keras) to 1e-4, on the bundled
model (convs without bias, then batch norm and a ReLU layer; a 5x5 stride-2 "same" conv) and on
builder-made models covering every layer type and option the builder offers (valid and same
padding, strides 1-3, max and average pooling, a conv's own activation and bias, global
pooling, flatten, dense, softmax inside a conv, no conv at all). Receptive fields are checked
by brute force: in a linear model with random weights, an input pixel can reach a cell exactly
when the cell's gradient with respect to it is not zero.
"""
import numpy as np
import pytest

from mnist_core.drawing.inside import InsideNetwork
from mnist_core.drawing.neuron import SHOWN_CHANNELS, SHOWN_INPUTS, NeuronExplainer
from mnist_core.drawing.preprocess import to_mnist
from mnist_core.drawing.synthetic import drawn_digits
from mnist_core.model.build import build_model
from mnist_core.model.spec import ModelSpec

TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def spec_model(*layers, name="test"):
    """A model as the builder makes it, from its JSON layers (the 10-way softmax appended)."""
    spec = ModelSpec.from_dict({"name": name, "layers": [
        *layers, {"type": "dense", "units": 10, "activation": "softmax"}]})
    return build_model(spec)


def strided_valid_pooling():
    return spec_model(
        {"type": "conv2d", "filters": 6, "kernel": 5, "stride": 2, "padding": "valid",
         "activation": "relu"},                                    # 12x12, own relu and bias
        {"type": "maxpool", "pool": 2},                              # 6x6
        {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "tanh"},
        {"type": "avgpool", "pool": 2},                              # 3x3
        {"type": "flatten"}, {"type": "dense", "units": 16, "activation": "relu"})


def batchnorm_and_gap():
    return spec_model(
        {"type": "conv2d", "filters": 5, "kernel": 3, "stride": 3, "padding": "same",
         "activation": "linear", "use_bias": False},                 # 10x10
        {"type": "batchnorm"}, {"type": "activation", "activation": "elu"},
        {"type": "conv2d", "filters": 7, "kernel": 4, "stride": 2, "padding": "same",
         "activation": "softmax"},                                   # softmax over channels
        {"type": "conv2d", "filters": 9, "kernel": 2, "activation": "sigmoid"},
        {"type": "gap"}, {"type": "dropout", "rate": 0.3},
        {"type": "dense", "units": 12, "activation": "gelu"})


def dense_only():
    return spec_model({"type": "flatten"}, {"type": "dense", "units": 20, "activation": "elu"},
                      {"type": "dropout", "rate": 0.2})


MODELS = {"strided-valid-pooling": strided_valid_pooling, "batchnorm-and-gap": batchnorm_and_gap,
          "dense-only": dense_only}


def with_trained_statistics(model):
    """Batch norms with statistics other than the initial 0 and 1, as after training."""
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.2, 3, n).astype(np.float32))
            layer.gamma.assign(rng.uniform(0.5, 2, n).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.5, n).astype(np.float32))
    for layer in model.layers:          # biases that are not all zero
        if getattr(layer, "use_bias", False):
            layer.bias.assign(np.random.default_rng(2).normal(0, 0.3, layer.bias.shape[0])
                              .astype(np.float32))
    return model


@pytest.fixture(scope="module")
def drawing():
    images, _ = drawn_digits(1, seed=4)
    return to_mnist(images[0])


@pytest.fixture(params=["bundled", *MODELS])
def model(request, bundled_model):
    if request.param == "bundled":
        return bundled_model
    return with_trained_statistics(MODELS[request.param]())


def cells(shape, rng):
    """Corners (where the padding is), the centre and a few random cells of (H, W, C)."""
    h, w, c = shape
    fixed = [(0, 0, 0), (h - 1, w - 1, c - 1), (0, w - 1, c // 2), (h // 2, w // 2, c - 1)]
    return fixed + [tuple(int(rng.integers(n)) for n in shape) for _ in range(3)]


def test_every_conv_cell_and_dense_unit_matches_the_model(model, drawing):
    view = InsideNetwork(model).view(drawing)
    explainer = NeuronExplainer(model)
    openable = explainer.openable(view)
    expected = [la.name for la in model.layers if type(la).__name__ in ("Conv2D", "Dense")]
    assert [la.name for la in openable] == expected
    rng = np.random.default_rng(0)
    checked = 0
    for layer in openable:
        if layer.layer_type == "Conv2D":
            for row, col, channel in cells(layer.values.shape, rng):
                check_conv(explainer.conv(view, layer.name, row, col, channel))
                checked += 1
        else:
            for unit in {0, layer.values.shape[0] - 1, int(rng.integers(layer.values.shape[0]))}:
                check_dense(explainer.dense(view, layer.name, unit))
                checked += 1
    assert checked >= len(openable)


def check_conv(n):
    kh, kw, shown = n.kernel.shape
    assert n.patch.shape == n.kernel.shape and n.padded.shape == (kh, kw)
    assert shown == min(SHOWN_CHANNELS, n.in_channels) and len(n.channels) == shown
    assert (n.patch[n.padded] == 0).all()
    sums = np.abs(n.channel_sums)
    assert all(sums[c] >= sums[o] - 1e-9 for c in n.channels
               for o in set(range(n.in_channels)) - set(n.channels))   # the largest shown
    # What is shown adds up: the products, the channels not shown, the bias.
    np.testing.assert_allclose(n.products.sum() + n.other_channels, n.total, **TOLERANCE)
    if n.in_channels <= SHOWN_CHANNELS:
        assert n.other_channels == pytest.approx(0, abs=1e-6)
    if not n.has_bias:
        assert n.bias == 0
    if n.activation == "linear":
        assert n.output == pytest.approx(n.pre_activation, abs=1e-5)
    np.testing.assert_allclose(n.output, n.model_output, **TOLERANCE)
    for step in n.steps:
        np.testing.assert_allclose(step.value, step.model_value, **TOLERANCE)


def check_dense(n):
    assert len(n.inputs) == min(SHOWN_INPUTS, n.input_count) == len(n.labels)
    assert np.all(np.diff(np.abs(n.products)) <= 1e-7)          # largest weight x input first
    np.testing.assert_allclose(n.products.sum() + n.other_inputs, n.total, **TOLERANCE)
    np.testing.assert_allclose(n.output, n.model_output, **TOLERANCE)
    if n.activation == "linear":
        assert n.output == pytest.approx(n.pre_activation, abs=1e-5)


def test_the_bundled_chain_is_sum_then_batch_norm_then_relu(bundled_model, drawing):
    view = InsideNetwork(bundled_model).view(drawing)
    explainer = NeuronExplainer(bundled_model)
    conv1 = explainer.openable(view)[0]
    # The strongest cell of the first map after ReLU: a positive value all along.
    relu = view.layers[conv1.index + 2].values
    row, col, channel = np.unravel_index(int(relu.argmax()), relu.shape)
    n = explainer.conv(view, conv1.name, int(row), int(col), int(channel))
    assert n.role == "conv 1" and not n.has_bias and n.activation == "linear"
    assert [s.role for s in n.steps] == ["batch norm 1", "relu 1"]
    assert "scale and shift" in n.steps[0].what and "ReLU" in n.steps[1].what
    assert n.final == pytest.approx(float(relu[row, col, channel]), abs=1e-4) and n.final > 0
    assert n.kernel.shape == (3, 3, 1) and n.channels == (0,)
    np.testing.assert_array_equal(n.patch[:, :, 0], drawing.image[row - 1:row + 2,
                                                                    col - 1:col + 2])
    assert n.field_rows == (row - 1, row + 1) and n.field_cols == (col - 1, col + 1)
    dense = explainer.dense(view, explainer.openable(view)[-1].name, 0)
    assert dense.activation == "softmax" and dense.labels[0].startswith("map ")
    assert dense.labels[0].endswith("of global pool 1") and dense.input_count == 128


def test_same_padding_puts_the_odd_pixel_after_as_tensorflow_does(bundled_model, drawing):
    """The bundled model's 5x5 stride-2 "same" conv on 28x28: TF pads 1 before, 2 after."""
    view = InsideNetwork(bundled_model).view(drawing)
    explainer = NeuronExplainer(bundled_model)
    conv3 = explainer.openable(view)[2]
    first = explainer.conv(view, conv3.name, 0, 0, 0)
    assert first.kernel.shape[:2] == (5, 5)
    assert first.padded[:, 0].all() and not first.padded[1:, 1:].any()       # 1 before
    last = explainer.conv(view, conv3.name, 13, 13, 0)
    assert last.padded[-2:, :].all() and not last.padded[:3, :3].any()      # 2 after
    # conv 1 and 2 (3x3 same) widen it by one pixel each side: 5 + 2 + 2 = 9 pixels, clipped.
    assert first.field_rows == (0, 5) and last.field_rows == (23, 27)
    middle = explainer.conv(view, conv3.name, 6, 7, 0)
    assert middle.field_rows == (9, 17) and middle.field_cols == (11, 19)


def brute_force_fields(model, layer_name):
    """For a linear model: per output cell (channel 0), the bounding box of the input pixels
    whose change changes it (a non-zero gradient), as ((r0, r1), (c0, c1))."""
    import keras
    import tensorflow as tf

    layer = model.get_layer(layer_name)
    probe = keras.Model(model.inputs[0], layer.output)
    x = tf.constant(np.random.default_rng(3).random((1, 28, 28, 1)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = probe(x, training=False)[0, :, :, 0]
    jacobian = tape.jacobian(y, x).numpy()[:, :, 0, :, :, 0]    # (H, W, 28, 28)
    fields = {}
    for (r, c) in np.ndindex(*jacobian.shape[:2]):
        rows, cols = np.nonzero(jacobian[r, c])
        fields[r, c] = ((rows.min(), rows.max()), (cols.min(), cols.max()))
    return fields


@pytest.mark.parametrize("layers", [
    [{"type": "conv2d", "kernel": 5, "stride": 2, "padding": "same"}],
    [{"type": "conv2d", "kernel": 3, "padding": "same"}, {"type": "conv2d", "kernel": 5,
     "stride": 2, "padding": "same"}, {"type": "conv2d", "kernel": 4, "padding": "same"}],
    [{"type": "conv2d", "kernel": 5, "stride": 2}, {"type": "avgpool", "pool": 2},
     {"type": "conv2d", "kernel": 3, "stride": 3, "padding": "same"}],
    [{"type": "conv2d", "kernel": 7, "stride": 4, "padding": "same"}, {"type": "batchnorm"},
     {"type": "avgpool", "pool": 3}, {"type": "conv2d", "kernel": 2, "stride": 1}],
], ids=["5x5-stride-2-same", "the-bundled-pattern", "valid-avgpool-stride-3", "stride-4-pool-3"])
def test_receptive_fields_are_the_pixels_that_reach_the_cell(layers):
    linear = [{**la, "filters": 3, "activation": "linear"} if la["type"] == "conv2d" else la
              for la in layers]
    model = spec_model(*linear, {"type": "flatten"})
    last = [la for la in model.layers if type(la).__name__ == "Conv2D"][-1]
    explainer = NeuronExplainer(model)
    for (r, c), field in brute_force_fields(model, last.name).items():
        assert explainer.receptive_field(last.name, (r, r), (c, c)) == field, (r, c)


def test_max_pooling_windows_count_whole(drawing):
    model = spec_model({"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "maxpool",
                       "pool": 3}, {"type": "conv2d", "filters": 2, "kernel": 2},
                       {"type": "flatten"})
    explainer = NeuronExplainer(model)
    conv2 = [la for la in model.layers if type(la).__name__ == "Conv2D"][1]
    # conv 2's cell (0, 0) reads pool cells 0-1, i.e. conv 1 cells 0-5, i.e. pixels 0-7.
    assert explainer.receptive_field(conv2.name, (0, 0), (1, 1)) == ((0, 7), (3, 10))


def test_a_model_without_conv_opens_dense_units_only(drawing):
    model = with_trained_statistics(dense_only())
    view = InsideNetwork(model).view(drawing)
    explainer = NeuronExplainer(model)
    assert [la.layer_type for la in explainer.openable(view)] == ["Dense", "Dense"]
    first = explainer.dense(view, explainer.openable(view)[0].name, 4)
    assert first.input_count == 784 and first.labels[0].endswith("of the input")
    assert first.labels[0].startswith("map 0 at row ")
    with pytest.raises(ValueError, match="no unit 20"):
        explainer.dense(view, explainer.openable(view)[0].name, 20)


def test_cells_outside_the_map_are_refused(bundled_model, drawing):
    view = InsideNetwork(bundled_model).view(drawing)
    explainer = NeuronExplainer(bundled_model)
    conv1 = explainer.openable(view)[0].name
    for row, col, channel in [(28, 0, 0), (0, -1, 0), (0, 0, 32)]:
        with pytest.raises(ValueError, match="no cell"):
            explainer.conv(view, conv1, row, col, channel)


# --- its pictures and numbers (mnist_core.views.neuron_figures) -------------------------------

def test_the_receptive_field_is_outlined_and_the_rest_dimmed():
    import base64
    import io

    from PIL import Image

    from mnist_core.views.neuron_figures import FIELD_FACTOR, HIGHLIGHT, field_picture

    image = np.ones((28, 28), np.float32)                   # all ink: white everywhere
    picture = field_picture(image, (9, 17), (11, 19))
    assert picture.width == picture.height == 28 * FIELD_FACTOR
    with Image.open(io.BytesIO(base64.b64decode(picture.url.split(",", 1)[1]))) as png:
        pixels = np.asarray(png.convert("RGB"))
    f = FIELD_FACTOR
    outline = tuple(int(HIGHLIGHT[i:i + 2], 16) for i in (1, 3, 5))
    assert tuple(pixels[9 * f, 15 * f]) == outline                   # its top edge
    assert tuple(pixels[18 * f - 1, 15 * f]) == outline              # its bottom edge
    assert tuple(pixels[13 * f, 15 * f]) == (255, 255, 255)          # inside: as drawn
    assert pixels[2 * f, 2 * f].max() < 160                          # outside: dimmed
    plain = field_picture(image, None, None)                         # unknown: the drawing
    assert plain.url != picture.url


def test_numbers_are_short_and_padding_is_shown_as_such():
    from mnist_core.views.neuron_figures import kernel_row_html, number, number_grid_html

    assert [number(v) for v in (0.0, 0.1234, -1.234, 12.34, 123.4, 0.0123, -0.0004)] == [
        "0", "0.12", "−1.23", "12.3", "123", "0.012", "−0.000"]
    padded = np.zeros((3, 3), bool)
    padded[0] = True
    html = number_grid_html("input", np.arange(9.0).reshape(3, 3), padded)
    assert html.count("<td") == 9 and html.count("background:#d8d8de") == 3
    row = kernel_row_html("map <b>", np.ones((2, 2)), np.full((2, 2), 0.5), np.zeros((2, 2), bool))
    assert "map &lt;b&gt;" in row and "add up to 2.00" in row and row.count("<table>") == 3
