"""Digits ready to show: enlarged pictures with their captions, so pages only lay them out.

The Analyze page shows test images the model got wrong (dozens at a time), the Class page one
saved drawing in its editor. Both need the same small steps (take the 28x28 plane, scale to
0..1, enlarge pixel-sharp, say what the model read) that do not belong in a page.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.views.charts import enlarge
from mnist_core.data.dataset import float_images
from mnist_core.model.evaluation import Evaluation

GALLERY_LIMIT = 48   # a page of mistakes: more is slow to send and nobody looks at them all
GALLERY_SCALE = 3    # 84x84 px: readable in a grid of six to eight per row


@dataclass(frozen=True)
class Gallery:
    """Pictures of some test images and what the model made of each."""

    images: list[np.ndarray]   # uint8 (28*scale, 28*scale)
    captions: list[str]        # "true 4 → 9 (97%)"
    total: int                 # how many images matched; more than shown when capped

    @property
    def note(self) -> str | None:
        """"Showing 48 of 120." when some were left out, else None."""
        if self.total > len(self.images):
            return f"Showing {len(self.images)} of {self.total:,}."
        return None


def gallery(result: Evaluation, images: np.ndarray, indices: Sequence[int] | np.ndarray,
            limit: int = GALLERY_LIMIT, scale: int = GALLERY_SCALE) -> Gallery:
    """The first `limit` of `indices` (into `images`, the set `result` scored, (N, 28, 28, 1)
    uint8 pixels or floats in 0..1), enlarged `scale` times, each captioned with the truth, the
    answer and how sure the model was."""
    indices = np.asarray(indices, np.int64)
    shown = indices[:max(0, int(limit))]
    return Gallery([enlarge(float_images(images[i]).reshape(28, 28), scale) for i in shown],
                   [f"true {result.labels[i]} → {result.predictions[i]} "
                    f"({result.confidence[i]:.0%})" for i in shown],
                   len(indices))


def drawing_picture(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """A saved drawing (uint8 28x28, as the store keeps it) enlarged `scale` times, pixel-sharp."""
    return enlarge(np.asarray(image, np.float32).reshape(28, 28) / 255.0, scale)
