"""Find where a model misreads handwriting, instead of waiting for a class to find it.

The widened style space (`style_space`, `styles`, `handwriting.Writer`) has a few dozen knobs
per style. Uniform sampling measures a style as a whole; a model's failures hide in corners
(a long, shallow flag on a right-leaning 1; a slash that overshoots a narrow 0). `search`
finds them per style:

1. draw `n` drawings uniformly over the style's space, each with its knob positions;
2. score every box that restricts one or two knobs to a third of their range by its error
   rate (shrunk towards zero for boxes with few drawings);
3. confirm the best boxes on fresh drawings drawn inside them, and refine the best by a
   third knob when that makes it worse still;
4. return the worst confirmed regions (`HardRegion`), which training then samples more
   (bench/style_mix.py --regions) and evaluation measures on seeds of its own.

Seeds: the search draws from SEARCH_SEED up, below EVAL_SEED_BASE (it shapes training) and
far from the seeds training data is drawn from.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mnist_core.drawing.handwriting import EVAL_SEED_BASE, space_digits, style_digits
from mnist_core.drawing.style_space import Region, describe
from mnist_core.drawing.styles import STYLES

SEARCH_SEED = 9_000
THIRDS = ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0))
MIN_BOX = 8              # drawings a box needs before its error rate is believed at all


@dataclass
class HardRegion:
    """A corner of one style's space where the model failed: the knobs restricted, the error
    rate measured on `n` drawings drawn inside it, and the region in the knobs' units."""
    style: str
    region: dict[str, tuple[float, float]]
    error: float
    n: int
    description: str

    def to_dict(self) -> dict:
        return asdict(self) | {"region": {k: list(v) for k, v in self.region.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "HardRegion":
        if d["style"] not in STYLES:
            raise ValueError(f"unknown style {d['style']!r}")
        return cls(d["style"], {k: (float(a), float(b)) for k, (a, b) in d["region"].items()},
                   float(d["error"]), int(d["n"]), str(d["description"]))


def prepare(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canvas drawings -> (N, 28, 28, 1) float32 exactly as the Draw page prepares them, and
    which were judged empty (their image is blank)."""
    from mnist_core.drawing.preprocess import to_mnist

    out, empty = [], []
    for image in images:
        prepared = to_mnist(image)
        empty.append(prepared.empty)
        out.append(np.zeros((28, 28), np.float32) if prepared.empty else prepared.image)
    return (np.asarray(out, np.float32).reshape(-1, 28, 28)[..., None],
            np.asarray(empty, bool))


def answers(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's answers to canvas drawings (-1 for a drawing judged empty) and the
    prepared 28x28 images."""
    from mnist_core.model.evaluation import predict_probabilities

    x, empty = prepare(images)
    if not len(x):
        return np.zeros(0, np.int64), x
    given = predict_probabilities(model, x).argmax(axis=1)
    return np.where(empty, -1, given), x


def _error_rates(wrong: np.ndarray, knobs: list[dict[str, float]]) -> list[tuple[float, dict]]:
    """Every one- and two-knob box of thirds, scored by its shrunk error rate."""
    names = sorted(set().union(*knobs))
    t = np.array([[k.get(name, np.nan) for name in names] for k in knobs])  # NaN: not drawn
    inside = {(i, b): (t[:, i] >= lo) & (t[:, i] <= hi)
              for i in range(len(names)) for b, (lo, hi) in enumerate(THIRDS)}
    boxes = [((i, b),) for i, b in inside] + [
        (a, c) for a, c in itertools.combinations(inside, 2) if a[0] != c[0]]
    scored = []
    for box in boxes:
        mask = np.logical_and.reduce([inside[key] for key in box])
        count = int(mask.sum())
        if count < MIN_BOX:
            continue
        score = (wrong[mask].sum() + 0.5) / (count + 5)
        scored.append((float(score), {names[i]: THIRDS[b] for i, b in box}))
    scored.sort(key=lambda s: -s[0])
    return scored


def _measure(model, style: str, region: Region, n: int, seed: int
             ) -> tuple[float, np.ndarray, list[dict[str, float]], dict]:
    images, knobs, ranges = space_digits(style, n, seed, region)
    given, _ = answers(model, images)
    wrong = given != STYLES[style][0]
    return float(wrong.mean()), wrong, knobs, ranges


def search(model, style: str, n: int = 600, confirm: int = 100, candidates: int = 4,
           keep: int = 2, seed: int = SEARCH_SEED) -> list[HardRegion]:
    """The `keep` worst regions of `style` for `model`, worst first (see the module's doc)."""
    if seed >= EVAL_SEED_BASE:
        raise ValueError(f"the search shapes training: its seeds are below {EVAL_SEED_BASE}")
    _, wrong, knobs, ranges = _measure(model, style, {}, n, seed)
    found: list[HardRegion] = []
    seen: list[dict] = []
    for k, (_, box) in enumerate(_error_rates(wrong, knobs)):
        if len(seen) == candidates:
            break
        if box in seen:
            continue
        seen.append(box)
        error, wrong_in, knobs_in, _ = _measure(model, style, box, confirm, seed + 1 + k)
        found.append(HardRegion(style, box, error, confirm, describe(box, ranges)))
        if error > 0:   # refine: a third knob that makes it worse still
            extra = [(s, b) for s, b in _error_rates(wrong_in, knobs_in)
                     if len(b) == 1 and not set(b) & set(box)]
            if extra:
                finer = box | extra[0][1]
                e2, *_ = _measure(model, style, finer, confirm, seed + 101 + k)
                if e2 > error and all(r.region != finer for r in found):
                    found.append(HardRegion(style, finer, e2, confirm, describe(finer, ranges)))
    found.sort(key=lambda r: -r.error)
    return found[:keep]


def region_digits(regions: Sequence[HardRegion], n_per_region: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drawings from inside each region (a new writer each): images, labels, region index."""
    images, labels, index = [], [], []
    for i, hard in enumerate(regions):
        drawn, _, _ = space_digits(hard.style, n_per_region, seed + i, hard.region)
        images.append(drawn)
        labels += [STYLES[hard.style][0]] * len(drawn)
        index += [i] * len(drawn)
    if not images:
        return np.zeros((0, 280, 280, 4), np.uint8), np.zeros(0, np.int64), np.zeros(0, int)
    return np.concatenate(images), np.array(labels, np.int64), np.array(index)


def style_accuracy(model, n_per_style: int = 300, seed: int = EVAL_SEED_BASE,
                   styles: Sequence[str] | None = None, uniform: bool = True
                   ) -> dict[str, dict]:
    """Accuracy of `model` per style through the Draw page's preprocessing (a drawing judged
    empty counts as wrong, its answer None): `n_per_style` drawings drawn uniformly over the
    widened space (`space_digits`, a new writer each) or, with `uniform=False`, by the 40
    writers of `writers(seed)`. Per style: n, accuracy, the most common wrong answer and how
    often it was given."""
    if n_per_style < 1:
        raise ValueError("n_per_style must be at least 1")
    results = {}
    for name in (list(STYLES) if styles is None else list(styles)):
        digit = STYLES[name][0]
        images = (space_digits(name, n_per_style, seed)[0] if uniform
                  else style_digits(n_per_style, seed, [name])[0])
        given, _ = answers(model, images)
        wrong = given[given != digit]
        values, counts = np.unique(wrong, return_counts=True)
        top = int(values[counts.argmax()]) if len(wrong) else None
        results[name] = {"digit": digit, "n": len(given),
                         "accuracy": float(np.mean(given == digit)),
                         "empty": int(np.sum(given == -1)),
                         "top_wrong": None if top in (None, -1) else top,
                         "top_wrong_count": int(counts.max()) if len(wrong) else 0}
    return results
