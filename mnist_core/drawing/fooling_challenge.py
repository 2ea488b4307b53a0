"""The fooling challenge's rule: change the network's answer with a little extra ink, so that
the drawing still looks like the digit it started as.

A person cannot be asked "does it still look like a 3?" by the server, so the rule is one a
class can check by eye and a 15-year-old can explain: keep every bit of the original drawing
(`KEEP_ORIGINAL` of its ink), and add at most `INK_BUDGET` of its ink again. Ink is measured on
the canvas as drawn (before the drawing is scaled into 28x28, which would move the original
pixels when a stroke widens the drawing), so what counts is what the student drew.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.drawing.fooling import ANY_OTHER

#: At most this much new ink, as a share of the original drawing's ink: a quarter more.
INK_BUDGET = 0.25
#: At least this share of the original ink must still be there (a Clear starts over).
KEEP_ORIGINAL = 0.95
#: Side of the grid the ink is measured on: fine enough for thin strokes, small to keep.
INK_SIDE = 112


def ink(canvas: np.ndarray) -> np.ndarray:
    """A rendered canvas (H, W, 4) RGBA uint8, white ink on black, as `render_strokes` draws
    it at INK_SIDE -> (H, W) float32 ink in [0, 1]."""
    canvas = np.asarray(canvas)
    grey = canvas[..., 0] if canvas.ndim == 3 else canvas
    return grey.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Challenge:
    """A started challenge: the drawing as it was, what the model read, what to make it read."""
    original_ink: np.ndarray     # (INK_SIDE, INK_SIDE) float32, see `ink`
    digit: int                   # what the model read on the original
    target: int                  # the digit to reach, or ANY_OTHER

    def goal(self) -> str:
        return "any other digit" if self.target == ANY_OTHER else f"a {self.target}"


@dataclass(frozen=True)
class Progress:
    """Where a challenge stands for the drawing on the canvas now."""
    added: float                 # new ink, as a share of the original's
    kept: float                  # share of the original ink still there
    reading: int | None          # what the model reads now (None: nothing readable)
    challenge: Challenge

    @property
    def within_budget(self) -> bool:
        return self.added <= INK_BUDGET

    @property
    def original_kept(self) -> bool:
        return self.kept >= KEEP_ORIGINAL

    @property
    def reads_goal(self) -> bool:
        if self.reading is None:
            return False
        if self.challenge.target == ANY_OTHER:
            return self.reading != self.challenge.digit
        return self.reading == self.challenge.target

    @property
    def fooled(self) -> bool:
        """The model reads the goal, the original is all there and the extra ink is within
        the budget: the drawing still looks like the original digit, by the rule."""
        return self.reads_goal and self.within_budget and self.original_kept

    @property
    def budget_used(self) -> float:
        """Share of the budget used, for a progress bar (capped at 1)."""
        return min(self.added / INK_BUDGET, 1.0)


def start(canvas_ink: np.ndarray, digit: int, target: int) -> Challenge:
    """The challenge for the drawing now on the canvas, which the model reads as `digit`."""
    if target != ANY_OTHER and (not 0 <= int(target) <= 9 or int(target) == int(digit)):
        raise ValueError(f"the target must be another digit than {digit}, not {target!r}")
    if float(canvas_ink.sum()) <= 0:
        raise ValueError("nothing drawn")
    return Challenge(np.asarray(canvas_ink, np.float32), int(digit), int(target))


def progress(challenge: Challenge, canvas_ink: np.ndarray | None,
             reading: int | None) -> Progress:
    """How the drawing on the canvas (its `ink`, or None when empty) and the model's reading
    of it stand against the challenge's rule."""
    original = challenge.original_ink
    total = max(float(original.sum()), 1e-6)
    if canvas_ink is None or canvas_ink.shape != original.shape:
        return Progress(0.0, 0.0, reading, challenge)
    added = float(np.clip(canvas_ink - original, 0, None).sum()) / total
    kept = float(np.minimum(canvas_ink, original).sum()) / total
    return Progress(added, kept, reading, challenge)
