"""Synthetic classes: a few writers who share one hard style mix.

A real class differs from MNIST in a shared way: its teacher taught one way of writing (the
continental 1 with its long flag, the slashed 0) and the children write it alike. "Teach the
model our handwriting" must pay off for such a group: fine-tuned on some of its drawings, the
model must read the group's other drawings better, and everyone else no worse. A
`SyntheticClass` stands in for that group when measuring it (bench/class_teaching.py):

- its writers are a few people drawn from the widened writer space, sharing the writer habits
  (slant, aspect, ...) of the class's hardest style region;
- for each digit it writes one style, and where the failure search found a hard region of
  that style for the model, within that region (the class's shared habit);
- its drawings come from evaluation seeds, so the bundled model never trained on its writers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mnist_core.drawing.handwriting import EVAL_SEED_BASE, Writer, style_digits
from mnist_core.drawing.style_search import HardRegion
from mnist_core.drawing.style_space import Params, Region, describe
from mnist_core.drawing.styles import STYLES

CLASS_SEED_BASE = EVAL_SEED_BASE + 2_000   # classes' writers and drawings: evaluation seeds


@dataclass(frozen=True)
class SyntheticClass:
    name: str
    seed: int
    writers: tuple[Writer, ...]
    styles: dict[int, str]                          # digit -> the style the class writes
    regions: dict[str, Region] = field(default_factory=dict)   # style -> its shared corner
    described: dict[str, str] = field(default_factory=dict)    # style -> the corner in words

    def drawings(self, per_digit: int, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`per_digit` drawings of every digit by the class's writers, shuffled: canvas images
        (N, 280, 280, 4), labels and style names. Batches differ (0: what the class saved,
        1: what it draws later), the writers stay."""
        seed = self.seed + 1_000 * (batch + 1)
        images, labels, names = style_digits(per_digit, seed, list(self.styles.values()),
                                             people=self.writers, regions=self.regions)
        order = np.random.default_rng([seed, 9]).permutation(len(labels))
        return images[order], labels[order], names[order]

    def summary(self) -> str:
        """'1-flag (flag_angle 20 to 36.7), 0-slashed (...), the rest plain'."""
        hard = [f"{style} ({self.described.get(style) or describe(self.regions[style])})"
                for style in self.styles.values() if style in self.regions]
        return "; ".join(hard) or "no hard region"


def make_class(index: int, hard: Sequence[HardRegion], n_writers: int = 4,
               hard_digits: int = 3) -> SyntheticClass:
    """Class number `index`: `hard_digits` digits written in one of their hard regions (chosen
    at random among `hard`, the worst first more likely), the others in a random style of their
    own; `n_writers` writers sharing the writer habits of the class's worst region."""
    seed = CLASS_SEED_BASE + index
    rng = np.random.default_rng([seed, 7])
    by_digit: dict[int, list[HardRegion]] = {}
    for region in hard:
        by_digit.setdefault(STYLES[region.style][0], []).append(region)
    chosen = list(rng.permutation(sorted(by_digit))[:hard_digits])
    styles, regions, described, worst = {}, {}, {}, None
    for digit in range(10):
        if digit in chosen:
            options = by_digit[digit]
            weights = np.array([max(r.error, 1e-3) for r in options])
            pick = options[rng.choice(len(options), p=weights / weights.sum())]
            styles[digit], regions[pick.style] = pick.style, dict(pick.region)
            described[pick.style] = pick.description
            if worst is None or pick.error > worst.error:
                worst = pick
        else:
            names = [name for name, (d, _) in STYLES.items() if d == digit]
            styles[digit] = names[rng.integers(len(names))]
    habits = {k: v for k, v in (worst.region if worst else {}).items()
              if k.startswith("writer.")}
    people = tuple(Writer.random(Params(rng, habits).scoped("writer."))
                   for _ in range(n_writers))
    return SyntheticClass(f"class {index}", seed, people, styles, regions, described)
