import io

import cv2
import numpy as np
import pytest
from PIL import Image

from mnist_core.drawing.preprocess import ImageError, ink_map, naive_resize, read_image_file, to_mnist
from tests.helpers import stroke_canvas

SEVEN = [(60, 50), (200, 50), (110, 230)]


def test_empty_canvas_is_empty_not_a_prediction():
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    result = to_mnist(blank)
    assert result.empty and result.reason == "nothing drawn"
    with pytest.raises(ValueError):
        result.batch()


def test_transparent_canvas_with_no_ink_is_empty():
    assert to_mnist(np.zeros((280, 280, 4), np.uint8)).empty


@pytest.mark.parametrize("width", [6, 30, 60])
def test_single_dot_is_a_speck_not_a_digit(width):
    result = to_mnist(stroke_canvas([(140, 140), (141, 141)], width=width))
    assert result.empty and "dot" in result.reason


def test_fully_filled_canvas_is_refused():
    full = np.full((280, 280, 4), 255, np.uint8)
    assert to_mnist(full).empty


def test_output_is_mnist_shaped_fitted_and_centred_by_mass():
    image = to_mnist(stroke_canvas(SEVEN)).image
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.max() == pytest.approx(1.0) and image.min() >= 0
    rows, cols = np.nonzero(image > 0.05)
    assert 19 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 22        # longer side ~20 px
    cy, cx = (np.indices(image.shape) * image).reshape(2, -1).sum(1) / image.sum()
    assert abs(cy - 13.5) < 0.5 and abs(cx - 13.5) < 0.5


def test_position_and_size_on_the_canvas_do_not_matter():
    small_corner = stroke_canvas([(10 + x // 4, 10 + y // 4) for x, y in SEVEN], width=6)
    big_centre = stroke_canvas(SEVEN, width=24)
    a, b = to_mnist(small_corner).image, to_mnist(big_centre).image
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85


def test_dark_on_light_gives_the_same_result_as_light_on_dark():
    light_on_dark = stroke_canvas(SEVEN)[..., :3]
    dark_on_light = 255 - light_on_dark
    np.testing.assert_allclose(to_mnist(dark_on_light).image, to_mnist(light_on_dark).image,
                               atol=1e-5)


def test_a_one_drawn_as_a_single_line_keeps_its_aspect():
    image = to_mnist(stroke_canvas([(140, 30), (140, 250)], width=16)).image
    rows, cols = np.nonzero(image > 0.3)
    assert np.ptp(rows) >= 18 and np.ptp(cols) <= 5


@pytest.mark.parametrize("array", [
    np.zeros((5, 5, 2)), np.zeros((4,)), np.zeros((3, 3, 5)), np.zeros((0, 10)),
], ids=["two-channels", "1d", "five-channels", "no-pixels"])
def test_unusable_arrays_raise_image_error(array):
    with pytest.raises(ImageError):
        to_mnist(array)


@pytest.mark.parametrize("dtype, scale", [(np.uint16, 65535), (np.float32, 1.0),
                                          (np.float64, 255.0), (np.bool_, 1)])
def test_pixel_types_are_normalised(dtype, scale):
    grey = stroke_canvas(SEVEN)[..., 0] / 255.0
    arr = (grey > 0.5) if dtype is np.bool_ else (grey * scale).astype(dtype)
    result = to_mnist(arr)
    assert not result.empty and result.image.max() == pytest.approx(1.0)


def test_odd_sizes():
    assert to_mnist(np.zeros((1, 1), np.uint8)).empty
    tall = np.zeros((500, 30), np.uint8)
    tall[50:450, 12:18] = 255
    assert not to_mnist(tall).empty


def test_naive_resize_is_kept_for_comparison():
    assert naive_resize(stroke_canvas(SEVEN)).shape == (28, 28)


# --- image files --------------------------------------------------------------------------------

def _save(tmp_path, image: Image.Image, name: str, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


@pytest.fixture
def digit_rgb():
    return Image.fromarray(255 - stroke_canvas(SEVEN)[..., :3])  # dark ink on white paper


@pytest.mark.parametrize("mode, name", [("L", "a.png"), ("RGB", "a.jpg"), ("P", "a.png"),
                                        ("CMYK", "a.jpg"), ("I;16", "a.png"), ("LA", "a.png")])
def test_image_file_modes_are_read(tmp_path, digit_rgb, mode, name):
    path = _save(tmp_path, digit_rgb.convert(mode), name)
    result = to_mnist(read_image_file(path))
    assert not result.empty


def test_animated_gif_uses_first_frame(tmp_path, digit_rgb):
    blank = Image.new("RGB", digit_rgb.size, "white")
    path = _save(tmp_path, digit_rgb, "anim.gif", save_all=True, append_images=[blank])
    assert not to_mnist(read_image_file(path)).empty


def test_transparent_png_without_ink_is_empty(tmp_path):
    path = _save(tmp_path, Image.new("RGBA", (100, 100), (0, 0, 0, 0)), "clear.png")
    assert to_mnist(read_image_file(path)).empty


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n trunc"],
                         ids=["zero-bytes", "text", "truncated-png"])
def test_non_images_raise_image_error(tmp_path, content):
    path = tmp_path / "file.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match="not a readable image"):
        read_image_file(path)


def test_file_objects_work_too(digit_rgb):
    buffer = io.BytesIO()
    digit_rgb.save(buffer, format="PNG")
    buffer.seek(0)
    assert not to_mnist(read_image_file(buffer)).empty


def test_a_border_line_is_not_taken_for_a_digit():
    frame = stroke_canvas([(3, 3), (276, 3), (276, 276), (3, 276), (3, 3)], width=6)
    result = to_mnist(frame)
    assert result.empty and "every edge" in result.reason


@pytest.mark.parametrize("width", [60, 120])
def test_huge_stroke_widths_give_an_answer_or_a_reason_never_an_error(width):
    result = to_mnist(stroke_canvas(SEVEN, width=width))
    assert result.empty == (result.image is None)
    assert result.image is not None or result.reason


def test_a_one_pixel_file_is_empty_not_an_error(tmp_path):
    path = _save(tmp_path, Image.new("L", (1, 1), 255), "dot.png")
    assert to_mnist(read_image_file(path)).empty


def test_a_10000_pixel_wide_photo_is_reduced_and_read(tmp_path, recwarn):
    """100 megapixels: Pillow only warns below 179 MP; we reduce on reading so memory stays
    small, and the digit is still found."""
    page = np.full((10_000, 10_000), 255, np.uint8)               # white paper
    cv2.line(page, (3000, 2000), (7000, 2000), 0, 400)           # a thick dark 7
    cv2.line(page, (7000, 2000), (4500, 8500), 0, 400)
    path = _save(tmp_path, Image.fromarray(page), "huge.png")
    image = read_image_file(path)
    assert max(image.shape[:2]) <= 2048
    result = to_mnist(image)
    assert not result.empty and result.image.shape == (28, 28)
    assert not [w for w in recwarn if "decompression" in str(w.message).lower()]


# --- big and small drawings are digits too -----------------------------------------------------

def _canvas(strokes, width_px=20):
    """The Draw page's own rendering: strokes in 0..1 of a 280 px canvas, pen width in px."""
    from mnist_core.drawing.strokes import render_strokes

    return render_strokes([[(x / 280, y / 280) for x, y in s] for s in strokes], width_px / 280)


@pytest.fixture(scope="module")
def predictor(bundled_model):
    from mnist_core.drawing.inference import Predictor

    return Predictor(bundled_model)


@pytest.mark.parametrize("strokes", [
    [[(0, 0), (280, 0), (105, 280)]],                  # bar on the top edge, corner to corner
    [[(0, 4), (280, 6), (120, 280)]],
    [[(0, 0), (280, 0), (90, 280)], [(60, 140), (230, 140)]],   # crossed, edge to edge
], ids=["edge-to-edge", "bar-just-inside", "crossed"])
def test_a_big_seven_touching_left_top_right_and_bottom_is_read_as_seven(strokes, predictor):
    canvas = _canvas(strokes)
    ys, xs = np.nonzero(canvas[..., 0] > 64)
    assert (ys.min(), xs.min(), xs.max(), ys.max()) == (0, 0, 279, 279)  # all four edges
    prediction = predictor.classify(canvas)
    assert not prediction.prepared.empty, prediction.prepared.reason
    assert prediction.digit == 7


@pytest.mark.parametrize("centre", [(140, 140), (20, 20), (255, 250)])
def test_a_small_seven_drawn_with_a_thick_pen_is_a_digit(centre):
    """About 22 px tall at the default 20 px pen: two dabs of ink, not one."""
    cx, cy = centre
    seven = [[(cx - 8, cy - 11), (cx + 8, cy - 11), (cx - 1, cy + 11)]]
    result = to_mnist(_canvas(seven, width_px=20))
    assert not result.empty, result.reason


@pytest.mark.parametrize("strokes, width_px", [
    ([[(140, 140)]], 5), ([[(140, 140)]], 20), ([[(140, 140)]], 50),      # a tap: one dab
    ([[(30, 200), (32, 201)]], 20),                                       # a dab, slightly moved
    ([[(140, 140), (146, 141), (143, 146)]], 30),                        # a tiny wiggle
    ([[(100, 100), (101, 100)]], 3),                                      # a speck
], ids=["tap-5", "tap-20", "tap-50", "dab", "wiggle", "speck"])
def test_a_dot_or_single_dab_is_refused(strokes, width_px):
    if width_px < 5:   # thinner than the Draw page's pen: a speck in a file
        image = stroke_canvas(strokes[0], width=width_px)
    else:
        image = _canvas(strokes, width_px)
    result = to_mnist(image)
    assert result.empty and "dot" in result.reason


@pytest.mark.parametrize("inset, width_px", [(3, 6), (8, 20), (0, 5)])
def test_a_frame_along_all_four_edges_is_refused(inset, width_px):
    a, b = inset, 280 - inset
    frame = _canvas([[(a, a), (b, a), (b, b), (a, b), (a, a)]], width_px)
    result = to_mnist(frame)
    assert result.empty and "every edge" in result.reason


def test_a_filled_canvas_is_refused_whatever_its_colours():
    on_transparent = np.zeros((280, 280, 4), np.uint8)
    on_transparent[2:, :, 3] = 255              # all ink but a two-pixel transparent strip
    result = to_mnist(on_transparent)
    assert result.empty and "mostly ink" in result.reason
    assert to_mnist(np.full((280, 280, 4), 255, np.uint8)).empty
