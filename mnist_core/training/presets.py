"""The presets: named (architecture, settings) pairs, written as data.

Measured figures in the descriptions come from `bench/presets.py` on two 2-core machines, one
with AVX-512 and one with AVX2 only (docs/benchmarks.md, "Both kinds of CPU"); update both
together.
"""
from __future__ import annotations

from dataclasses import dataclass

from mnist_core.training.config import Augmentation, TrainConfig
from mnist_core.model.spec import ModelSpec, layer


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
# Plain convolutions (batch norm cost 30% more time per epoch on CPU for +0.1%), few filters
# (16-32: a third of the time per epoch of 32-64 for the same 99.0-99.2% once trained longer)
# and a warm-up/cosine rate: 99.1% in 4 epochs. The first convolution, 5x5 with stride 2,
# downsamples at once: a 26x26 first stage was half of each step on an AVX2-only CPU (memory
# traffic, not arithmetic). 28 -> 12 -> 10 -> 5; 800 -> 128 -> 10
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
# at once (28 -> 12 -> 10 -> 4; 1024 -> 128 -> 10). A first stage at full resolution (26x26, as
# in the first `lesson`) is little arithmetic over large maps: memory traffic, which made that
# network 2.4x slower on an AVX2-only CPU (391 s) than with AVX-512; without it 99.5% takes a
# median 147 s there (121-161 s; docs/benchmarks.md, "One lesson on an AVX2-only CPU"
# and "One resampling for the augmentation").
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
            "parameters, 98.7% test accuracy, 4-5 s/epoch on 2 AVX-512 CPU cores, 18 s on "
            "AVX2-only ones.",
            TUTORIAL, epochs=10, batch_size=250, learning_rate=1e-3, schedule="constant",
            augment=True),
    _preset("keras-example", "Keras' official simple MNIST convnet (Conv 32-64): 35k "
            "parameters, 99.1%, 4-10 s/epoch (AVX-512), 20 s (AVX2 only).",
            KERAS_EXAMPLE, epochs=15, batch_size=128, learning_rate=1e-3, schedule="constant"),
    _preset("fast", "Ours, shortest time to 99% on a CPU (Conv 16-32, the first with stride 2; "
            "warm-up + cosine rate): 109k parameters, 99.1% in 4 epochs: about 35 s of "
            "training on 2 AVX2-only CPU cores, 14-17 s on 2 cores with AVX-512.",
            FAST, epochs=4, batch_size=128, learning_rate=3e-3, schedule="one-cycle"),
    _preset("best", "Ours, highest accuracy (batch-norm CNN, augmentation, label smoothing): "
            "326k parameters, 99.66%, 39-81 s/epoch (AVX-512), over 3 min (AVX2 only).",
            BEST, epochs=20, batch_size=128, learning_rate=3e-3, schedule="one-cycle",
            label_smoothing=0.05, augment=True),
    _preset("lesson", "Ours, a strong model within one lesson (batch-norm CNN that downsamples "
            "at once, mild augmentation, label smoothing, 8 epochs): 189k parameters, "
            "99.5% in most runs, in 2-3 minutes of training on 2 AVX2-only CPU cores, about 2 "
            "minutes on 2 cores with AVX-512.",
            # Peak rate 0.008, not 0.005: the same arithmetic; 2 of 26 runs ended below 99.5%
            # (99.48-99.62%), where 0.005 left 6 of 20 there (99.40-99.62%). The typical run is
            # the same (docs/benchmarks.md, "A steadier `lesson`").
            LESSON, epochs=8, batch_size=128, learning_rate=8e-3, schedule="one-cycle",
            label_smoothing=0.1, augment=True,
            augmentation=Augmentation(rotation_degrees=8, zoom=0.08, shift=0.08),
            # Measured on the first `lesson` network: mixed bfloat16 was no faster even on a CPU
            # with native bfloat16 (166 s vs 163 s) and ended 0.1% lower (99.45% vs 99.54%); on
            # the present one (2 Xeon cores with AMX) 6-8% faster, 99.53/99.58% against
            # 99.48/99.51%: two seeds, too few to change the default.
            precision="float32"),
    _preset("dense-only", "No convolution: Flatten, Dense 256, Dense 10. About as many "
            "parameters as the tutorial CNN (204k), to show what convolution buys: "
            "97.9% against the tutorial's 98.7%, 1.5-2 s/epoch.",
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
