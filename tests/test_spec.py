"""Architectures as data: shapes and parameter counts worked out without TensorFlow agree with
Keras, and a stack that cannot work is explained by layer before anything is built."""
import numpy as np
import pytest

from mnist_core.model.build import build_model, parameter_count
from mnist_core.training.presets import PRESETS
from mnist_core.model.spec import (LAYER_TYPES, MAX_LAYERS, ModelSpec, SpecError, layer)

SOFTMAX = {"type": "dense", "units": 10, "activation": "softmax"}


def spec_of(*layers) -> ModelSpec:
    return ModelSpec.from_dict({"name": "test", "layers": [*layers]})


def assert_matches_keras(spec: ModelSpec) -> None:
    model = build_model(spec)
    rows = spec.table()
    layers = [la for la in model.layers if type(la).__name__ != "InputLayer"]
    assert len(rows) == len(layers)
    for row, keras_layer in zip(rows, layers):
        assert row.output_shape == tuple(keras_layer.output.shape[1:]), row
    assert spec.parameter_count() == parameter_count(model)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_data_that_keras_agrees_with(name):
    spec = PRESETS[name].spec
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert_matches_keras(spec)


def test_multiply_adds_count_each_kernel_at_every_output_pixel():
    """`fast` by hand: 12x12 pixels x 5x5x1x16, 10x10 x 3x3x16x32, 800x128, 128x10."""
    assert PRESETS["fast"].spec.multiply_adds() == (
        12 * 12 * 25 * 16 + 10 * 10 * 9 * 16 * 32 + 800 * 128 + 128 * 10)
    no_bias = spec_of({"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2,
                       "padding": "same", "use_bias": False}, {"type": "flatten"}, SOFTMAX)
    assert no_bias.multiply_adds() == 14 * 14 * 9 * 4 + 14 * 14 * 4 * 10


def test_every_layer_type_and_option_builds_with_the_shapes_we_predict():
    spec = spec_of(
        {"type": "conv2d", "filters": 6, "kernel": 5, "stride": 2, "padding": "same",
         "activation": "tanh", "use_bias": False},
        {"type": "batchnorm", "momentum": 0.9}, {"type": "activation", "activation": "gelu"},
        {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 3},   # 14 -> 4 (valid)
        {"type": "avgpool", "pool": 2}, {"type": "dropout", "rate": 0.1},
        {"type": "conv2d", "filters": 8, "kernel": 1}, {"type": "gap"},
        {"type": "dense", "units": 7, "activation": "elu"}, SOFTMAX)
    assert [r.output_shape for r in spec.table()][:5] == [
        (14, 14, 6), (14, 14, 6), (14, 14, 6), (4, 4, 4), (2, 2, 4)]
    assert_matches_keras(spec)
    dense_only = spec_of({"type": "flatten"}, {"type": "dense", "units": 32}, SOFTMAX)
    assert_matches_keras(dense_only)


def test_the_best_spec_rebuilds_the_bundled_model_exactly():
    from mnist_core import settings
    from mnist_core.model.files import load_checked

    bundled = load_checked(settings.BUNDLED_MODEL)
    rebuilt = build_model(PRESETS["best"].spec)
    rebuilt.set_weights(bundled.get_weights())
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(rebuilt(x), bundled(x), atol=1e-5)


@pytest.mark.parametrize("layers, message", [
    ([{"type": "maxpool"}] * 5 + [{"type": "flatten"}, SOFTMAX],
     r"layer 5 \(MaxPool\): 2x2 pooling of a 1x1 map"),
    ([{"type": "conv2d", "kernel": 7}] * 5 + [{"type": "flatten"}, SOFTMAX],
     r"layer 5 \(Conv2D\): a 7x7 window does not fit a 4x4 map"),
    ([{"type": "conv2d"}, SOFTMAX], r"layer 2 \(Dense\): Dense needs a vector.*Flatten"),
    ([{"type": "flatten"}, {"type": "conv2d"}, SOFTMAX],
     r"layer 2 \(Conv2D\): needs an image-like map"),
    ([{"type": "flatten"}, {"type": "dense", "units": 12, "activation": "softmax"}],
     "last layer must be Dense with 10 units and softmax"),
    ([{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "relu"}],
     "last layer must be Dense with 10 units and softmax"),
    ([{"type": "conv2d"}], "last layer must be Dense"),
    ([{"type": "flatten"}, {"type": "dense", "units": 4096}, {"type": "dense", "units": 4096},
      SOFTMAX], "parameters is more than the 5,000,000 allowed"),
    ([{"type": "dropout"}] * (MAX_LAYERS + 1), "more than the 32 allowed"),
    ([], "non-empty list of layers"),
])
def test_a_stack_that_cannot_work_is_explained_by_layer(layers, message):
    with pytest.raises(SpecError, match=message):
        spec_of(*layers)


@pytest.mark.parametrize("bad, message", [
    ({"type": "conv2d", "filters": 0}, r"layer 1 \(Conv2D\): filters must be between 1 and 512"),
    ({"type": "conv2d", "filters": 3.5}, "filters must be a whole number"),
    ({"type": "conv2d", "filters": True}, "filters must be a whole number"),
    ({"type": "conv2d", "padding": "full"}, "padding must be one of valid, same"),
    ({"type": "conv2d", "use_bias": "yes"}, "use_bias must be true or false"),
    ({"type": "dropout", "rate": 1.0}, r"layer 1 \(Dropout\): rate must be between 0 and 0.9"),
    ({"type": "dropout", "rate": float("nan")}, "rate must be a finite number"),
    ({"type": "dense", "units": -1}, "units must be between 1 and 4096"),
    ({"type": "dense", "activation": "exec"}, "activation must be one of"),
    ({"type": "maxpool", "pool": 2, "strides": 1}, "unknown field"),
    ({"type": "Lambda", "function": "lambda x: x"}, "'Lambda' is not a layer type"),
    ({"kind": "conv2d"}, "must be an object with a \"type\""),
    ("conv2d", "must be an object"),
])
def test_every_field_out_of_range_or_of_the_wrong_type_names_layer_and_field(bad, message):
    with pytest.raises(SpecError, match=message):
        spec_of(bad, {"type": "flatten"}, SOFTMAX)


def test_a_spec_is_only_data():
    with pytest.raises(SpecError):
        ModelSpec.from_dict("__import__('os').system('echo hi')")
    with pytest.raises(SpecError, match="unknown architecture field"):
        ModelSpec.from_dict({"name": "x", "layers": [SOFTMAX], "code": "print(1)"})
    assert set(LAYER_TYPES) == {"conv2d", "maxpool", "avgpool", "batchnorm", "activation",
                                "dropout", "flatten", "gap", "dense"}


def test_layer_descriptions_read_like_a_lesson():
    assert layer("conv2d", filters=32).describe() == "Conv2D 32 3x3 relu"
    assert layer("maxpool").describe() == "MaxPool 2x2"
    assert "(108,874 parameters)" in PRESETS["fast"].spec.summary()


def test_the_lesson_preset_downsamples_in_its_first_layer():
    """Maps at full resolution are little arithmetic over much memory: on an AVX2-only CPU that
    stage made the first `lesson` network take 391 s. The lesson network has no map larger
    than 12x12 and keeps within the work that trained to 99.5% in under 180 s there."""
    spec = PRESETS["lesson"].spec
    maps = [row.output_shape for row in spec.table() if len(row.output_shape) == 3]
    assert max(side for side, _, _ in maps) == 12
    assert spec.multiply_adds() <= 2_700_000
