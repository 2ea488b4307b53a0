"""The handwriting-style generator: named styles, simulated writers, seeds kept apart."""
import hashlib

import numpy as np
import pytest

from mnist_core.drawing.handwriting import (EVAL_SEED_BASE, Writer, style_digits,
                                            style_strokes, train_seed, writers)
from mnist_core.drawing.preprocess import to_mnist
from mnist_core.drawing.style_search import style_accuracy
from mnist_core.drawing.style_space import Params
from mnist_core.drawing.styles import STYLES
from mnist_core.drawing.synthetic import CANVAS, drawn_digits, render, stroke_paths

REQUIRED = ["1-plain", "1-flag", "1-flag+base", "7-plain", "7-crossed", "7-hooked", "0-plain",
            "0-slashed", "0-dotted", "4-closed", "4-open", "9-straight", "9-curved", "2-loop",
            "2-plain", "3-flat", "6-straight", "6-curved", "8-stroke", "8-circles"]


def test_every_digit_has_styles_and_the_required_ones_exist():
    assert set(REQUIRED) <= set(STYLES)
    assert {digit for digit, _ in STYLES.values()} == set(range(10))
    for name, (digit, _) in STYLES.items():
        assert name.startswith(f"{digit}-")


def test_style_digits_shapes_labels_and_names():
    images, labels, names = style_digits(3, EVAL_SEED_BASE, ["1-flag", "0-slashed", "4-open"])
    assert images.shape == (9, CANVAS, CANVAS, 4) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and list(labels) == [1, 1, 1, 0, 0, 0, 4, 4, 4]
    assert list(names) == ["1-flag"] * 3 + ["0-slashed"] * 3 + ["4-open"] * 3
    assert (images[..., 3] == 255).all() and (images[..., 0] == images[..., 1]).all()
    empty = style_digits(0, 1)
    assert empty[0].shape == (0, CANVAS, CANVAS, 4) and len(empty[1]) == len(empty[2]) == 0
    with pytest.raises(ValueError, match="unknown styles"):
        style_digits(1, 0, ["1-fancy"])


def test_same_seed_same_drawings_and_a_style_does_not_depend_on_the_others():
    a = style_digits(2, 5, ["7-crossed", "2-loop"])
    b = style_digits(2, 5, ["7-crossed", "2-loop"])
    only = style_digits(2, 5, ["2-loop"])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0][2:], only[0])
    assert not np.array_equal(style_digits(2, 6, ["2-loop"])[0], only[0])


def test_different_seeds_give_different_writers():
    assert writers(3) == writers(3)
    assert writers(3) != writers(4)
    training = {w for seed in range(5) for w in writers(seed)}
    evaluation = {w for seed in range(EVAL_SEED_BASE, EVAL_SEED_BASE + 5) for w in writers(seed)}
    assert len(training) == 5 * len(writers(0))          # no writer repeats across seeds
    assert not training & evaluation


def test_training_seeds_stay_below_the_evaluation_range():
    assert train_seed(0) == 0 and train_seed(EVAL_SEED_BASE - 1) == EVAL_SEED_BASE - 1
    for seed in (EVAL_SEED_BASE, EVAL_SEED_BASE + 7, -1):
        with pytest.raises(ValueError, match="evaluation|training seeds"):
            train_seed(seed)


def test_writers_are_plausible_people():
    people = writers(0, 200)
    pens = np.array([w.pen for w in people])
    assert (pens >= 5).all() and (pens <= 50).all()          # the Draw page's slider
    assert 0.3 < np.mean(pens == 20) < 0.7                   # many keep the default pen
    for w in people:
        lo, hi = w.height
        assert 30 <= lo < hi <= 265 and lo >= 4 * w.pen     # a thick pen draws big
        assert -0.42 <= w.slant <= 0.22


def test_one_writer_draws_with_one_pen_and_within_the_canvas():
    writer = Writer(slant=-0.2, tilt_deg=2, wobble_deg=3, height=(200, 260), pen=33, aspect=1.2,
                    jitter=0.03, spread=1.0)
    rng = np.random.default_rng(0)
    for name in STYLES:
        paths, width = style_strokes(name, writer, rng)
        assert width == 33
        points = np.vstack(paths)
        assert points.min() >= width / 2 and points.max() <= CANVAS - width / 2
    images, _, _ = style_digits(2, 0, writer=writer)
    assert len(images) == 2 * len(STYLES)


def test_the_continental_one_has_a_flag_not_a_bar():
    """30-100% of the stem long, rising at 20-70 degrees to the top: never a 7's flat bar."""
    _, template = STYLES["1-flag"]
    rng = np.random.default_rng(1)
    lengths, angles = [], []
    for _ in range(200):
        (flag, stem), = template(Params(rng))                # a fresh drawing's knobs each
        (x0, y0), (x1, y1) = flag
        lengths.append(np.hypot(x1 - x0, y1 - y0))
        angles.append(np.degrees(np.arctan2(y0 - y1, x1 - x0)))   # y0 > y1: below the top
        assert len(stem) == 3                                       # a (slightly bowed) stem
        assert stem[0] == (x1, y1) and stem[-1][1] == 1.0            # then down the stem
        assert abs(stem[1][0]) <= 0.04 and stem[1][1] == 0.5
    lengths, angles = np.array(lengths), np.array(angles)
    assert (lengths >= 0.3 - 1e-9).all() and (lengths <= 1.0 + 1e-9).all()
    assert (angles >= 20 - 1e-9).all() and (angles <= 70 + 1e-9).all()
    assert lengths.min() < 0.4 and lengths.max() > 0.9           # the whole range is drawn
    assert angles.min() < 30 and angles.max() > 60


def test_every_style_is_taken_for_a_digit_by_preprocessing():
    images, _, names = style_digits(4, EVAL_SEED_BASE + 1)
    refused = [n for img, n in zip(images, names) if to_mnist(img).empty]
    assert not refused


def test_drawn_digits_output_is_unchanged():
    """Existing tests and benches rely on `drawn_digits`: its paths are pinned."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.arange(30) % 10)
    digest = hashlib.sha256(labels.astype(np.int64).tobytes())
    rendered = []
    for digit in labels:
        strokes, width = stroke_paths(int(digit), rng)
        for stroke in strokes:
            digest.update(np.round(stroke, 3).tobytes())
        digest.update(np.round(np.float64(width), 3).tobytes())
        rendered.append(render(strokes, width))
    assert digest.hexdigest() == \
        "082bff4aef322db4a3dd2e4f441532f8695396859204944b8da663e67d807f94"
    images, drawn_labels = drawn_digits(30, 0)
    np.testing.assert_array_equal(drawn_labels, labels)
    np.testing.assert_array_equal(images, np.stack(rendered))


def test_the_bundled_model_reads_the_plain_styles(bundled_model):
    """The plain ways of writing are legible: a style benchmark's weak spots are the styles."""
    plain = ["0-plain", "1-plain", "2-plain", "4-closed", "7-plain", "8-stroke", "9-straight"]
    results = style_accuracy(bundled_model, 20, EVAL_SEED_BASE, plain)
    assert set(results) == set(plain)
    for name, r in results.items():
        assert r["n"] == 20 and r["digit"] == STYLES[name][0]
        assert r["accuracy"] >= 0.9, (name, r)


@pytest.mark.parametrize("slant, aspect", [(-0.42, 1.35), (0.22, 0.7), (0.0, 1.0)])
def test_a_writers_slant_and_width_do_not_flatten_the_flag(slant, aspect):
    """The flag's angle is as drawn: a right-leaning, wide hand still draws 20-70 degrees
    (flattened, a 1's flag would become a 7's bar)."""
    writer = Writer(slant=slant, tilt_deg=0, wobble_deg=1e-6, height=(200, 201), pen=10,
                    aspect=aspect, jitter=0.0, spread=0)
    rng = np.random.default_rng(0)
    for position, expected in ((0.0, 20), (1.0, 70)):
        t = min(position, 1 - 1e-9)
        params = Params(rng, {"flag_angle": (t, t + 1e-9), "flag_length": (0.5, 0.5 + 1e-9)})
        (path,), _ = style_strokes("1-flag", writer, rng, params)
        top = path[np.argmin(path[:, 1])]
        dx, dy = top - path[0]
        assert np.degrees(np.arctan2(-dy, dx)) == pytest.approx(expected, abs=4)
