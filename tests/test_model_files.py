import keras
import numpy as np
import pytest

from mnist_core.model.files import ModelError, load_checked, save_atomic
from mnist_core.model import build as models
from mnist_core.model.build import build_model, parameter_count, resolve_precision
from mnist_core.training.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_saves_and_loads_safely(tmp_path, name):
    model = build_model(PRESETS[name].spec)
    assert model.output_shape == (None, 10) and parameter_count(model) > 10_000
    path = save_atomic(model, tmp_path / f"{name}.keras")
    loaded = load_checked(path)
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)


def test_mixed_precision_build_computes_in_bfloat16_with_float32_output():
    model = build_model(PRESETS["fast"].spec, "mixed_bfloat16")
    assert model.layers[0].compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # global policy untouched


@pytest.mark.parametrize("gpu, native_bf16, expected", [
    (False, True, "mixed_bfloat16"), (False, False, "float32"),
    (True, True, "float32"), (True, False, "float32")])
def test_auto_precision_is_bfloat16_only_on_a_cpu_that_computes_it_natively(
        monkeypatch, gpu, native_bf16, expected):
    import tensorflow as tf

    gpus = ["/physical_device:GPU:0"] if gpu else []
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(models, "cpu_has_bf16", lambda: native_bf16)
    assert resolve_precision("auto") == expected
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError):
        resolve_precision("float16")


def test_lambda_layer_is_refused_by_safe_mode(tmp_path):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelError, match="cannot be loaded safely"):
        load_checked(path)


def test_wrong_shapes_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.save(tmp_path / "cifar.keras")
    with pytest.raises(ModelError, match=r"expects input \(32, 32, 3\)"):
        load_checked(tmp_path / "cifar.keras")
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(5)])
    model.save(tmp_path / "five.keras")
    with pytest.raises(ModelError, match=r"output \(5,\)"):
        load_checked(tmp_path / "five.keras")


def test_truncated_and_garbage_files_are_refused(tmp_path):
    good = save_atomic(build_model(PRESETS["tutorial"].spec), tmp_path / "good.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"\x00" * 1000)
    for path in (truncated, garbage):
        with pytest.raises(ModelError, match="cannot be loaded safely"):
            load_checked(path)


def test_hdf5_and_missing_files_are_refused(tmp_path):
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ModelError, match="only native .keras"):
        load_checked(tmp_path / "old.h5")
    with pytest.raises(ModelError, match="not found"):
        load_checked(tmp_path / "missing.keras")


def test_a_model_saved_as_sequential_loads_as_functional_with_the_same_answers(tmp_path):
    """Runs saved before the lab built functional models are Sequential: Keras reloads those by
    calling each layer once per layer added, and Inside needs each layer called once."""
    from mnist_core.drawing.inside import InsideNetwork

    old = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                            keras.layers.BatchNormalization(), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax")], name="fast")
    old.layers[1].set_weights([w + 0.5 for w in old.layers[1].get_weights()])  # not defaults
    path = tmp_path / "old.keras"
    old.save(path)
    assert len(keras.saving.load_model(path).layers[0]._inbound_nodes) > 1   # the Keras quirk
    model = load_checked(path)
    assert not isinstance(model, keras.Sequential) and model.name == "fast"
    assert all(len(layer._inbound_nodes) == 1 for layer in model.layers)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), old.predict(x, verbose=0), atol=1e-6)
    InsideNetwork(model)                                 # failed on the reloaded Sequential
