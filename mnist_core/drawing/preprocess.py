"""Turning a drawing or a photo of a digit into the 28x28 image an MNIST network expects.

MNIST digits were size-normalised to fit a 20x20 box (aspect ratio kept, anti-aliased), then
placed in a 28x28 field so that their centre of mass sits at the centre. We do the same to
whatever the user gives us, because a network only recognises digits that look like what it
was trained on: resizing a whole 280x280 canvas to 28x28 shrinks small or off-centre digits
into shapes it never saw.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

MNIST_BOX = 20          # the longer side of the digit, in pixels, as in MNIST
MNIST_FIELD = 28
INK_THRESHOLD = 0.25    # ink level that counts for the bounding box (ignores faint noise)


class ImageError(Exception):
    """The input cannot be read as an image."""


@dataclass(frozen=True)
class Prepared:
    """The network's view of a drawing: `image` is (28, 28) float32 in [0, 1] with white ink
    on black, or None when nothing usable was drawn (`empty`, with the `reason`)."""

    image: np.ndarray | None
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return self.image is None

    def batch(self) -> np.ndarray:
        """(1, 28, 28, 1), ready for `model(...)`."""
        if self.image is None:
            raise ValueError("an empty drawing has nothing to classify")
        return self.image.reshape(1, MNIST_FIELD, MNIST_FIELD, 1)


def _to_unit_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float32))
        return arr if arr.max(initial=0) <= 1.0 else np.clip(arr / 255.0, 0, 1)
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr.astype(np.float32) / 255.0, 0, 1)
    raise ImageError(f"unsupported pixel type {arr.dtype}")


def ink_map(image: np.ndarray) -> np.ndarray:
    """Any grey/RGB/RGBA array -> (H, W) float32 where 1 is ink and 0 is background.

    Transparency wins when present (a canvas or PNG with a transparent background: ink is what
    is opaque). Otherwise the polarity is detected: the background is the median colour, since
    a digit covers far less than half of its picture, and ink is what differs from it.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"expected a grey, RGB or RGBA image, got an array of shape {arr.shape}")
    if min(arr.shape[:2]) < 1:
        raise ImageError("the image has no pixels")
    arr = _to_unit_float(arr)
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3]
        if alpha.min() < 0.99:
            return alpha
        arr = arr[:, :, :3]
    grey = arr if arr.ndim == 2 else arr @ np.array([0.299, 0.587, 0.114], np.float32)
    background = float(np.median(grey))
    if background > 0.5:
        ink = (background - grey) / max(background, 1e-6)
    else:
        ink = (grey - background) / max(1.0 - background, 1e-6)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


MIN_SIDE = 4            # px: anything smaller on its longer side is a speck of noise
DOT_EXTENT = 1.5        # a dot spans at most this many brush widths ...
DOT_AREA = 2.0          # ... and holds at most this many round dabs' worth of ink
FILLED_FRACTION = 0.85  # a picture this much ink is a filled canvas, not a drawing
EDGE_BAND = 0.02        # the outer 2% of each side is "the edge" ...
FRAME_COVERAGE = 0.5    # ... and ink along at least half of all four edges is a frame


def _brush_width(mask: np.ndarray) -> float:
    """The width of the pen that drew `mask`, in pixels: twice the typical distance from the
    middle of a stroke to its edge (the median over the distance transform's ridge, so that
    the extra ink where strokes meet or turn does not count), plus the ridge pixel itself."""
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    return float(2 * np.median(dist[ridge]) + 1) if ridge.any() else 0.0


def _edge_coverage(mask: np.ndarray) -> list[float]:
    """For the top, bottom, left and right edge: the fraction of its length that has ink in
    the outer band (EDGE_BAND of the picture's side, at least one pixel)."""
    h, w = mask.shape
    band = max(1, round(EDGE_BAND * min(h, w)))
    return [float(mask[:band].any(axis=0).mean()), float(mask[-band:].any(axis=0).mean()),
            float(mask[:, :band].any(axis=1).mean()), float(mask[:, -band:].any(axis=1).mean())]


def _ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, bottom and right exclusive; None without ink."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def refusal(mask: np.ndarray) -> str | None:
    """Why `mask` (True = ink) is not a digit, or None when it may be one.

    Decided by shape, not size: a big drawing that touches the edges and a small one drawn
    with a thick pen are digits. Refused are only
    - nothing at all, or a speck smaller than MIN_SIDE px;
    - a dot: a blob about one round dab of the pen, at most DOT_EXTENT pen widths across and
      DOT_AREA dabs of ink (a 7 drawn 22 px tall with the default 20 px pen spans 1.9 pen
      widths and holds 2.8 dabs: a digit; a tap is 1.0 and 1.1);
    - a filled picture: more than FILLED_FRACTION of it ink;
    - a frame: ink along at least FRAME_COVERAGE of every one of the four edges (a digit
      touches an edge at a point or along part of one side: a 7's bar, a 1's ends).
    """
    box = _ink_box(mask)
    if box is None:
        return "nothing drawn"
    y0, y1, x0, x1 = box
    longest = max(y1 - y0, x1 - x0)
    if longest < MIN_SIDE:
        return "only a dot or speck: draw a whole digit"
    if mask.mean() > FILLED_FRACTION:
        return "the picture is mostly ink: draw a digit on a plain background"
    if min(_edge_coverage(mask)) >= FRAME_COVERAGE:
        return "the drawing runs along every edge, like a frame: draw one digit inside the canvas"
    pen = _brush_width(mask[y0:y1, x0:x1])
    dab = np.pi * pen ** 2 / 4
    if longest <= DOT_EXTENT * pen and mask.sum() <= DOT_AREA * dab:
        return "only a dot or speck: draw a whole digit"
    return None


def to_mnist(image: np.ndarray) -> Prepared:
    """Crop to the ink, scale its longer side to 20 px (anti-aliased), centre by mass in 28x28.

    Empty results (with the reason) only for what is not a digit at all: see `refusal`."""
    ink = ink_map(image)
    mask = ink >= INK_THRESHOLD
    reason = refusal(mask)
    if reason is not None:
        return Prepared(None, reason)
    y0, y1, x0, x1 = _ink_box(mask)
    height, width = y1 - y0, x1 - x0
    longest = max(height, width)
    crop = ink[y0:y1, x0:x1]
    scale = MNIST_BOX / longest
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA averages source pixels: the anti-aliasing MNIST's own scaling produced.
    small = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1
                       else cv2.INTER_LINEAR)
    field = np.zeros((MNIST_FIELD, MNIST_FIELD), np.float32)
    top, left = (MNIST_FIELD - new_h) // 2, (MNIST_FIELD - new_w) // 2
    field[top:top + new_h, left:left + new_w] = small
    mass = field.sum()
    cy, cx = (np.indices(field.shape) * field).reshape(2, -1).sum(axis=1) / mass
    shift = np.float32([[1, 0, MNIST_FIELD / 2 - 0.5 - cx], [0, 1, MNIST_FIELD / 2 - 0.5 - cy]])
    centred = cv2.warpAffine(field, shift, (MNIST_FIELD, MNIST_FIELD), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    peak = centred.max()
    return Prepared(np.clip(centred / peak if peak > 0 else centred, 0, 1).astype(np.float32))


def naive_resize(image: np.ndarray) -> np.ndarray:
    """The approach we replace, kept for comparison: squash the whole picture to 28x28."""
    return cv2.resize(ink_map(image), (MNIST_FIELD, MNIST_FIELD), interpolation=cv2.INTER_AREA)


MAX_FILE_SIDE = 2048


def read_image_file(path) -> np.ndarray:
    """Read any still image file Pillow understands into an array (grey, RGB or RGBA).

    Palette, CMYK, 16-bit and other modes are converted; animated files use their first frame.
    Images larger than MAX_FILE_SIDE are reduced (box filter) first: the result is 28x28
    anyway, and a 10000x10000 photo would otherwise need gigabytes of float arrays.
    Decompression bombs and unreadable files raise ImageError.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Between 89 and 179 megapixels Pillow only warns; we reduce such images at once.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            img.seek(0)
            if img.mode.startswith("I"):  # 16/32-bit grey; 8-bit data saved wide stays 8-bit
                arr = np.asarray(_reduced(img.convert("I")), dtype=np.float64)
                return (arr / (255.0 if arr.max(initial=0) <= 255 else arr.max())).astype(np.float32)
            if img.mode == "F":
                arr = np.asarray(_reduced(img), dtype=np.float32)
                return arr / max(1.0, float(arr.max()))
            has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            return np.asarray(_reduced(img.convert("RGBA" if has_alpha else "RGB")))
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: image too large ({e})") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: not a readable image ({type(e).__name__})") from e


def _reduced(img):
    factor = -(-max(img.size) // MAX_FILE_SIDE)  # ceiling division
    return img.reduce(factor) if factor > 1 else img
