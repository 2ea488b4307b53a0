"""The presets: named (architecture, settings) pairs, written as data, and the configs built
from them (this module builds configs; `config` knows no preset).

The descriptions are shown to students: what each preset is for, its size, its accuracy and a
rough time scale, never one machine's timings (those are in docs/benchmarks.md, "How accurate
and how fast is each preset?", with the command that measures them).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mnist_core.model.spec import ModelSpec, layer
from mnist_core.training.config import Augmentation, ConfigError, TrainConfig
from mnist_core.untrusted import short


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: TrainConfig

    @property
    def spec(self) -> ModelSpec:
        return self.config.spec


def _spec(name: str, *layers) -> ModelSpec:
    return ModelSpec(name, tuple(layers))


def _conv(filters: int, kernel: int, **kw):
    return layer("conv2d", filters=filters, kernel=kernel, **kw)


def _conv_bn(filters: int, kernel: int, stride: int = 1, padding: str = "same"):
    # Convolution without bias (batch norm's shift replaces it), then batch norm with
    # momentum 0.9 (Keras' 0.99 lags on short classroom runs), then ReLU.
    return (_conv(filters, kernel, stride=stride, padding=padding, activation="linear",
                  use_bias=False),
            layer("batchnorm", momentum=0.9), layer("activation", activation="relu"))


SOFTMAX = layer("dense", units=10, activation="softmax")

# The Kaggle tutorial's CNN, layer for layer. 28x28x1 -> 14x14x8 -> 7x7x16 -> 784 -> 256 -> 10
TUTORIAL = _spec("tutorial",
                 _conv(8, 5, padding="same"), layer("maxpool"), layer("dropout", rate=0.25),
                 _conv(16, 3, padding="same"), layer("maxpool"), layer("dropout", rate=0.25),
                 layer("flatten"), layer("dense", units=256), layer("dropout", rate=0.5),
                 SOFTMAX)
# keras-io "Simple MNIST convnet": 28 -> 26 -> 13 -> 11 -> 5; 5*5*64 = 1600 -> 10
KERAS_EXAMPLE = _spec("keras-example",
                      _conv(32, 3), layer("maxpool"), _conv(64, 3), layer("maxpool"),
                      layer("flatten"), layer("dropout", rate=0.5), SOFTMAX)
# Fast to 99% on a CPU: plain convolutions (batch norm costs more time per epoch than the
# accuracy it adds in a few epochs), few filters (16-32 reach the same accuracy as 32-64 once
# trained a little longer, in far less time) and a warm-up/cosine rate. The first convolution,
# 5x5 with stride 2, downsamples at once: a full-resolution first stage is little arithmetic
# over large maps, memory traffic that slows CPUs without AVX-512 most (docs/benchmarks.md,
# "Precision, `fast`'s design, steps per execution"). 28 -> 12 -> 10 -> 5; 800 -> 128 -> 10
FAST = _spec("fast",
             _conv(16, 5, stride=2), _conv(32, 3), layer("maxpool"), layer("flatten"),
             layer("dropout", rate=0.3), layer("dense", units=128), SOFTMAX)
# Strided-convolution CNN in the style of the best single Kaggle MNIST models: 28 -> 14
# (learned downsampling) -> 7, batch norm everywhere, dropout between stages.
BEST = _spec("best",
             *_conv_bn(32, 3), *_conv_bn(32, 3), *_conv_bn(32, 5, stride=2),
             layer("dropout", rate=0.4),
             *_conv_bn(64, 3), *_conv_bn(64, 3), *_conv_bn(64, 5, stride=2),
             layer("dropout", rate=0.4),
             *_conv_bn(128, 4), layer("gap"), layer("dropout", rate=0.4), SOFTMAX)
# One lesson: three batch-norm convolutions, the first a 5x5 one with stride 2 that downsamples
# at once (28 -> 12 -> 10 -> 4; 1024 -> 128 -> 10), for the same reason as `fast`: a first
# stage at full resolution is memory traffic, and made a lesson too long on CPUs without
# AVX-512 (docs/benchmarks.md, "Does `lesson` fit in one lesson?").
LESSON = _spec("lesson",
               *_conv_bn(32, 5, 2, "valid"), *_conv_bn(64, 3, padding="valid"),
               *_conv_bn(64, 3, 2, "valid"),
               layer("flatten"), layer("dropout", rate=0.3), layer("dense", units=128), SOFTMAX)
# No convolution at all, with about as many parameters as the tutorial CNN (204k): what a
# class sees here is what convolution buys.
DENSE_ONLY = _spec("dense-only",
                   layer("flatten"), layer("dense", units=256), layer("dropout", rate=0.2),
                   SOFTMAX)


def _preset(name: str, description: str, spec: ModelSpec, **settings) -> Preset:
    return Preset(name, description, TrainConfig(spec=spec, preset=name, **settings))


PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("tutorial", "The original Kaggle tutorial CNN (Conv 8-16, Dense 256): 205k "
            "parameters, about 98.7% test accuracy, seconds per epoch on a laptop.",
            TUTORIAL, epochs=10, batch_size=250, learning_rate=1e-3, schedule="constant",
            augment=True),
    _preset("keras-example", "Keras' official simple MNIST convnet (Conv 32-64): 35k "
            "parameters, about 99.1%, seconds per epoch on a laptop.",
            KERAS_EXAMPLE, epochs=15, batch_size=128, learning_rate=1e-3, schedule="constant"),
    _preset("fast", "Ours, the shortest time to 99% on a CPU (Conv 16-32, the first with "
            "stride 2; warm-up + cosine rate): 109k parameters, about 99.1% in 4 epochs, well "
            "under a minute of training on a laptop.",
            FAST, epochs=4, batch_size=128, learning_rate=3e-3, schedule="one-cycle"),
    _preset("best", "Ours, the highest accuracy (batch-norm CNN, augmentation, label "
            "smoothing): 326k parameters, about 99.66%, 20 epochs: from a quarter of an hour "
            "to an hour on a laptop.",
            BEST, epochs=20, batch_size=128, learning_rate=3e-3, schedule="one-cycle",
            label_smoothing=0.05, augment=True),
    _preset("lesson", "Ours, a strong model within one lesson (batch-norm CNN that downsamples "
            "at once, mild augmentation, label smoothing, 8 epochs): 189k parameters, 99.5% in "
            "most runs, in a few minutes of training on a laptop.",
            # Peak rate 0.008, not 0.005: the same arithmetic, fewer runs end below 99.5% and
            # the typical run is the same (docs/benchmarks.md, "Does `lesson` fit in one lesson?").
            LESSON, epochs=8, batch_size=128, learning_rate=8e-3, schedule="one-cycle",
            label_smoothing=0.1, augment=True,
            augmentation=Augmentation(rotation_degrees=8, zoom=0.08, shift=0.08),
            # float32, not "auto": mixed bfloat16 was at best a little faster for this network,
            # even on CPUs with native bfloat16, and its accuracy no better; too little to make
            # a lesson depend on the CPU (docs/benchmarks.md, "Precision, `fast`'s design,
            # steps per execution").
            precision="float32"),
    _preset("dense-only", "No convolution: Flatten, Dense 256, Dense 10. About as many "
            "parameters as the tutorial CNN (204k), to show what convolution buys: about "
            "97.9% against the tutorial's 98.7%, in seconds per epoch.",
            DENSE_ONLY, epochs=10, batch_size=128, learning_rate=1e-3, schedule="constant"),
)}
DEFAULT_PRESET = "fast"
#: Suggested on the Train page when a class wants a strong model quickly.
LESSON_PRESET = "lesson"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None


def preset_config(name: str, **overrides: Any) -> TrainConfig:
    """The preset's config, with every override that is not None applied (and checked again);
    ValueError for an unknown preset."""
    return replace(get_preset(name).config,
                   **{k: v for k, v in overrides.items() if v is not None})


def config_from_dict(data: Any) -> TrainConfig:
    """A config from a run record or model card (`TrainConfig.from_dict`, checked the same).

    Records from before architectures were data hold only a preset name: that preset's
    architecture, schedule, smoothing and augmentation fill the gaps (they have not changed
    since)."""
    base = None
    if isinstance(data, dict) and "spec" not in data:
        name = data.get("preset")
        preset = PRESETS.get(name) if isinstance(name, str) else None
        if preset is None:
            raise ConfigError(f"this record holds no architecture and "
                              f"{short(name)} is not a preset")
        base = preset.config
    return TrainConfig.from_dict(data, base)
