"""Contact sheets: many 28x28 digits in one picture, the misread ones framed with the answer.

The failure search and the style benchmarks report what a model still misreads; a table of
percentages does not show *why*. A sheet of the drawings themselves, as the network saw them,
does: a reader sees at a glance whether a misread 1 is a fair 1 or already a 7.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCALE = 3                     # 84 px a digit: readable at a glance, small enough for 100s
WRONG = (60, 60, 230)         # BGR (OpenCV): a red frame
RIGHT = (90, 90, 90)


def contact_sheet(rows: Sequence[np.ndarray], answers: Sequence[Sequence[int | None]],
                  truths: Sequence[int], columns: int = 16) -> np.ndarray:
    """One row per group: `rows[i]` (n, 28, 28) floats 0..1 or uint8, `answers[i]` what the
    model said for each (None: judged empty), `truths[i]` the right digit. Misread digits get
    a red frame and the answer in their corner. Returns a BGR uint8 image for cv2.imwrite."""
    import cv2

    cell = 28 * SCALE + 4
    sheet = np.full((cell * max(len(rows), 1), cell * columns, 3), 30, np.uint8)
    for r, (images, given, truth) in enumerate(zip(rows, answers, truths)):
        for c, (image, answer) in enumerate(list(zip(images, given))[:columns]):
            grey = np.asarray(image, np.float32).reshape(28, 28)
            grey = (grey * 255 if grey.max() <= 1.0 else grey).clip(0, 255).astype(np.uint8)
            big = cv2.resize(grey, (28 * SCALE, 28 * SCALE), interpolation=cv2.INTER_NEAREST)
            y, x = r * cell, c * cell
            wrong = answer != truth
            sheet[y:y + cell, x:x + cell] = WRONG if wrong else RIGHT
            sheet[y + 2:y + cell - 2, x + 2:x + cell - 2] = big[..., None]
            if wrong:
                label = "?" if answer is None or answer < 0 else str(answer)
                cv2.putText(sheet, label, (x + 5, y + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                            WRONG, 2, cv2.LINE_AA)
    return sheet
