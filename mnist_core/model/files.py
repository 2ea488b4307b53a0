"""Saving and loading model files safely.

Only native `.keras` files are read, always with `safe_mode=True` (no Lambda layers or other
embedded code), and only from the lab's own store or the bundled assets: users never upload
models. Saves go to a temporary file that is renamed into place, so a crash cannot leave a
half-written model under the final name.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class ModelError(Exception):
    """A model file is missing, unreadable, unsafe or of the wrong shape."""


def save_atomic(model, path: Path) -> Path:
    """Write `model` to `path` via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; models are meant to be readable
        model.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checked(path: Path):
    """Load a `.keras` model safely and check it maps (N, 28, 28, 1) images to 10 classes."""
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path.name}: only native .keras model files are loaded "
                         "(HDF5 and pickles can carry code and are refused)")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path.name}: cannot be loaded safely ({first[:300]})") from e
    in_shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    out_shape = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else None
    if in_shape != (28, 28, 1) or out_shape != (10,):
        raise ModelError(f"{path.name}: expects input {in_shape} and gives output {out_shape}; "
                         "an MNIST model takes (28, 28, 1) images and gives 10 probabilities")
    return as_functional(model)


def as_functional(model):
    """A Sequential model rebuilt as a functional one with the same layers' configurations and
    weights (others unchanged). Keras reloads a saved Sequential by calling every layer again
    for each layer added; a layer called many times has no single output for the Inside page,
    the neuron view and the digit map to read. Models saved before the lab built functional
    models are Sequential."""
    import keras

    if not isinstance(model, keras.Sequential):
        return model
    inputs = keras.Input(tuple(model.inputs[0].shape[1:]))
    x, fresh = inputs, []
    for layer in model.layers:
        twin = layer.__class__.from_config(layer.get_config())
        x = twin(x)
        fresh.append((twin, layer))
    rebuilt = keras.Model(inputs, x, name=model.name)
    for twin, layer in fresh:
        twin.set_weights(layer.get_weights())
    return rebuilt
