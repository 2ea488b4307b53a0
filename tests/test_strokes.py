"""Strokes from the browser canvas: validation of untrusted input and rendering to a picture."""
import re
from pathlib import Path

import numpy as np
import pytest

from mnist_core.drawing.preprocess import to_mnist
from mnist_core.drawing.strokes import MAX_POINTS, render_strokes, validate_strokes

WIDTH = 20 / 280   # the Draw page's default: 20 px on the old 280 px canvas


def ink(image: np.ndarray) -> np.ndarray:
    return image[..., 0] > 127


def test_picture_is_the_old_canvas_format_white_on_opaque_black():
    image = render_strokes([[[0.2, 0.5], [0.8, 0.5]]], WIDTH)
    assert image.shape == (280, 280, 4) and image.dtype == np.uint8
    assert (image[..., 3] == 255).all()
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    assert image[0, 0, 0] == 0 and image[140, 140, 0] == 255


def test_a_line_has_the_stroke_width_and_round_caps_at_its_ends():
    rows, cols = np.nonzero(ink(render_strokes([[[0.2, 0.5], [0.8, 0.5]]], WIDTH)))
    assert 19 <= np.ptp(rows) + 1 <= 22                       # 20 px thick
    assert 56 - 12 <= cols.min() <= 56 - 8                     # caps reach ~10 px past the ends
    assert 224 + 8 <= cols.max() <= 224 + 12


def test_a_single_point_is_a_round_dot_of_the_stroke_width():
    image = render_strokes([[[0.5, 0.5]]], WIDTH)
    rows, cols = np.nonzero(ink(image))
    assert 19 <= np.ptp(rows) + 1 <= 22 and 19 <= np.ptp(cols) + 1 <= 22
    assert ink(image).sum() == pytest.approx(np.pi * 10 ** 2, rel=0.15)
    assert ink(render_strokes([[[0.5, 0.5], [0.5, 0.5]]], WIDTH)).sum() == ink(image).sum()


def test_coordinates_are_relative_to_the_side_at_any_size():
    small = render_strokes([[[0.1, 0.1], [0.9, 0.9]]], WIDTH, size=280)
    large = render_strokes([[[0.1, 0.1], [0.9, 0.9]]], WIDTH, size=560)
    halved = large[::2, ::2, 0].astype(int)
    assert np.abs(halved - small[..., 0].astype(int)).mean() < 6


def test_several_strokes_are_all_drawn_and_rendered_drawings_are_readable():
    seven = [[[0.25, 0.18], [0.75, 0.18], [0.43, 0.86]], [[0.39, 0.54], [0.68, 0.54]]]
    image = render_strokes(seven, WIDTH)
    assert image[int(0.54 * 280), int(0.6 * 280), 0] == 255   # the crossbar, second stroke
    assert not to_mnist(image).empty


def test_nothing_drawn_is_a_black_picture():
    image = render_strokes([], WIDTH)
    assert not ink(image).any() and to_mnist(image).empty


@pytest.mark.parametrize("bad, message", [
    ("[[0.1, 0.2]]", "must be a list"),
    ({"x": 1}, "must be a list"),
    ([[]], "non-empty"),
    ([[0.1, 0.2]], "not [x, y]"),             # one stroke's points, not a list of strokes
    ([[[0.1]]], "not [x, y]"),
    ([[[0.1, 0.2, 0.3]]], "not [x, y]"),
    ([[["0.1", 0.2]]], "not [x, y]"),
    ([[[True, False]]], "not [x, y]"),
    ([[[float("nan"), 0.2]]], "not [x, y]"),
    ([[[float("inf"), 0.2]]], "not [x, y]"),
    ([[[1.5, 0.2]]], "between 0 and 1"),
    ([[[-0.01, 0.2]]], "between 0 and 1"),
    ([[[0.1, 0.2]], None], "stroke 1"),
])
def test_malformed_strokes_are_refused_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_strokes(bad)
    with pytest.raises(ValueError):
        render_strokes(bad, WIDTH)


def test_too_many_points_are_refused_before_drawing():
    within = [[[0.5, 0.5]] * 1000] * (MAX_POINTS // 1000)
    assert len(validate_strokes(within)) == MAX_POINTS // 1000
    with pytest.raises(ValueError, match="too many points"):
        render_strokes(within + [[[0.5, 0.5]]], WIDTH)


@pytest.mark.parametrize("width", [0, -0.1, 0.6, float("nan"), "20"])
def test_a_stroke_width_outside_the_canvas_is_refused(width):
    with pytest.raises(ValueError, match="stroke width"):
        render_strokes([[[0.5, 0.5]]], width)


def test_the_edges_of_the_canvas_can_be_drawn_on():
    image = render_strokes([[[0.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]]], WIDTH)
    assert image[0, 0, 0] > 127 and image[0, 279, 0] > 127 and image[279, 279, 0] > 127


def test_the_wire_format_round_trips_on_the_canvas_grid():
    from mnist_core.drawing.strokes import GRID, decode_strokes, encode_strokes

    rng = np.random.default_rng(0)
    strokes = [rng.random((n, 2)) for n in (1, 7, 300)] + [np.array([[0.0, 1.0], [1.0, 0.0]])]
    decoded = decode_strokes(encode_strokes(strokes))
    assert [len(s) for s in decoded] == [1, 7, 300, 2]
    for sent, got in zip(strokes, decoded):
        assert np.abs(sent - got).max() <= 0.5 / GRID + 1e-12
    assert decoded[-1].tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_the_canvas_and_the_server_share_one_wire_format():
    """canvas.js encodes what decode_strokes reads: the same grid and alphabet."""
    from mnist_core.drawing import strokes as core

    js = (Path(__file__).resolve().parent.parent / "ui" / "canvas" / "canvas.js").read_text()
    assert int(re.search(r"const GRID = (\d+);", js).group(1)) == core.GRID
    assert re.search(r'const ALPHABET = "([^"]+)";', js).group(1) == core._ALPHABET


@pytest.mark.parametrize("bad, message", [
    (None, "must be text"), ([[[0.1, 0.2]]], "must be text"), ("", "canvas's format"),
    ("AAA=", "canvas's format"), ("AAAA,", "whole number"), ("A" * 80_100, "too many points"),
    (",".join(["AAAA"] * 501), "too many strokes"), ("AAAA" * 20_001, "too many points"),
])
def test_a_hostile_wire_string_is_refused_before_it_is_decoded(bad, message):
    from mnist_core.drawing.strokes import decode_strokes

    with pytest.raises(ValueError, match=message):
        decode_strokes(bad)
