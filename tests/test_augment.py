"""The training augmentation: one random affine resampling per image (mnist_core.training.augment)."""
import math

import numpy as np

from mnist_core.training.augment import augmenter
from mnist_core.training.config import Augmentation

N = 256


def _bars(n: int = N) -> np.ndarray:
    """`n` copies of a horizontal bar, 4 px tall and 12 px wide, centred on a 28x28 canvas
    (whose centre is pixel 13.5, 13.5)."""
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[:, 12:16, 8:20, 0] = 1.0
    return x


def _centres(images: np.ndarray) -> np.ndarray:
    """(n, 2) centre of mass (row, column) of each image."""
    ink = images[..., 0]
    rows, cols = np.mgrid[:28, :28]
    total = ink.sum(axis=(1, 2))
    return np.stack([(ink * rows).sum(axis=(1, 2)) / total,
                     (ink * cols).sum(axis=(1, 2)) / total], axis=1)


def _angles(images: np.ndarray) -> np.ndarray:
    """The orientation of each image's ink in degrees, from its second moments."""
    ink = images[..., 0]
    rows, cols = np.mgrid[:28, :28]
    out = []
    for im, (r0, c0) in zip(ink, _centres(images)):
        dr, dc = rows - r0, cols - c0
        mrr, mcc, mrc = (im * dr * dr).sum(), (im * dc * dc).sum(), (im * dr * dc).sum()
        out.append(math.degrees(0.5 * math.atan2(2 * mrc, mcc - mrr)))
    return np.array(out)


def test_no_jitter_passes_the_images_through_untouched():
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    still = augmenter(Augmentation(rotation_degrees=0, zoom=0, shift=0), 0)
    assert still(x) is x


def test_a_shift_moves_each_image_within_its_range_both_ways():
    moved = np.asarray(augmenter(Augmentation(rotation_degrees=0, zoom=0, shift=0.1), 0)(_bars()))
    offsets = _centres(moved) - _centres(_bars())
    assert np.abs(offsets).max() <= 0.1 * 28 + 0.05          # at most 2.8 px on each axis
    for axis in (0, 1):                                      # both axes, both ways, far and near
        assert offsets[:, axis].min() < -1.5 and offsets[:, axis].max() > 1.5
    np.testing.assert_allclose(_angles(moved), 0, atol=0.5)  # a shift turns nothing
    np.testing.assert_allclose(moved.sum(axis=(1, 2, 3)), 48, rtol=0.02)  # ink kept


def test_a_rotation_turns_about_the_centre_within_its_range():
    turned = np.asarray(augmenter(Augmentation(rotation_degrees=10, zoom=0, shift=0), 3)(_bars()))
    angles = _angles(turned)
    assert np.abs(angles).max() <= 10.5 and angles.min() < -6 and angles.max() > 6
    np.testing.assert_allclose(_centres(turned), 13.5, atol=0.1)


def test_a_zoom_scales_about_the_centre_within_its_range():
    zoom = 0.1
    scaled = np.asarray(augmenter(Augmentation(rotation_degrees=0, zoom=zoom, shift=0), 5)(_bars()))
    np.testing.assert_allclose(_centres(scaled), 13.5, atol=0.1)
    width = (scaled[..., 0] > 0.5).any(axis=1).sum(axis=1)   # columns the bar covers
    assert width.min() >= math.floor(12 / (1 + zoom)) and width.max() <= math.ceil(12 / (1 - zoom))
    assert width.min() < 12 < width.max()                    # zoomed both in and out


def test_all_three_are_one_resampling_so_a_digit_stays_sharp():
    """Keras' three layers in a row blurred each digit three times (a median of 40 grey
    pixels per bar here, measured); one resampling greys about the bar's 32 edge pixels."""
    jitter = augmenter(Augmentation(rotation_degrees=8, zoom=0.08, shift=0.08), 1)
    out = np.asarray(jitter(_bars()))
    assert out.shape == (N, 28, 28, 1) and out.dtype == np.float32
    grey = ((out > 0.1) & (out < 0.9)).sum(axis=(1, 2, 3))
    assert np.median(grey) <= 32


def test_the_same_seed_draws_the_same_jitter_and_each_batch_its_own():
    aug = Augmentation(rotation_degrees=8, zoom=0.08, shift=0.08)
    first, again = augmenter(aug, 7), augmenter(aug, 7)
    a = np.asarray(first(_bars(8)))
    np.testing.assert_array_equal(a, np.asarray(again(_bars(8))))
    assert not np.array_equal(a, np.asarray(first(_bars(8))))        # the next batch differs
    assert not np.array_equal(a, np.asarray(augmenter(aug, 8)(_bars(8))))


def test_it_runs_inside_a_parallel_tf_data_map():
    import tensorflow as tf

    jitter = augmenter(Augmentation(), 0)
    ds = tf.data.Dataset.from_tensor_slices(_bars(64)).batch(16).map(
        lambda b: jitter(b), num_parallel_calls=tf.data.AUTOTUNE)
    batches = [b.numpy() for b in ds]
    assert [len(b) for b in batches] == [16] * 4
    assert len({b.tobytes() for b in batches}) == 4
