"""Where the network looked (mnist_core.drawing.attribution): the three maps, on the bundled
model and synthetic pen drawings as the Draw page gets them."""
import cv2
import numpy as np
import pytest

from mnist_core.drawing import attribution
from mnist_core.drawing.attribution import (GRADIENT, METHODS, OCCLUSION, PATCH, SMOOTHGRAD,
                                            Explainer, occluded_copies, patch_corners,
                                            spread_over_pixels)
from mnist_core.drawing.inference import Predictor
from mnist_core.drawing.preprocess import Prepared, to_mnist
from mnist_core.drawing.synthetic import drawn_digits
from mnist_core.views import charts


@pytest.fixture(scope="module")
def predictor(bundled_model):
    return Predictor(bundled_model)


@pytest.fixture(scope="module")
def drawings():
    canvases, labels = drawn_digits(3, seed=11)
    return [to_mnist(c).image for c in canvases], labels


def test_patches_reach_every_edge_and_only_inked_ones_are_covered():
    assert patch_corners()[0] == 0 and patch_corners()[-1] == 28 - PATCH
    image = np.zeros((28, 28), np.float32)
    image[10:14, 12] = 1.0
    copies, corners = occluded_copies(image)
    assert corners and all(image[r:r + PATCH, c:c + PATCH].any() for r, c in corners)
    assert all(copy[r:r + PATCH, c:c + PATCH].max() == 0 for copy, (r, c) in zip(copies, corners))
    for copy, (r, c) in zip(copies, corners):   # the rest of the drawing untouched
        outside = np.ones((28, 28), bool)
        outside[r:r + PATCH, c:c + PATCH] = False
        np.testing.assert_array_equal(copy[outside], image[outside])
    assert occluded_copies(np.zeros((28, 28), np.float32))[1] == []


def test_each_pixel_gets_the_mean_change_of_the_patches_over_it():
    second = patch_corners()[1]                               # the next patch along a row
    corners = [(0, 0), (0, second)]
    spread = spread_over_pixels(np.array([0.6, 0.3]), corners)
    assert spread[0, 0] == pytest.approx(0.6)                 # under the first patch only
    assert spread[0, second] == pytest.approx((0.6 + 0.3) / 2)   # under both (of two there)
    assert spread[27, 27] == 0                                # under no patch with ink


def test_covering_a_patch_with_no_ink_changes_nothing(predictor, drawings):
    image = drawings[0][0]
    empty = [(r, c) for r in patch_corners() for c in patch_corners()
             if not image[r:r + PATCH, c:c + PATCH].any()]
    assert empty
    r, c = empty[0]
    covered = image.copy()
    covered[r:r + PATCH, c:c + PATCH] = 0
    np.testing.assert_array_equal(predictor.probabilities(covered[None, ..., None]),
                                  predictor.probabilities(image[None, ..., None]))
    occlusion = predictor.explain(Prepared(image), OCCLUSION)
    # a patch reaches PATCH - 1 px from the ink, the blur 2 px more
    far = cv2.dilate((image > 0).astype(np.uint8), np.ones((2 * PATCH + 3,) * 2)) == 0
    assert far.any() and not occlusion.values[far].any()     # no map far from the ink
    assert occlusion.values[~far].any()


@pytest.mark.parametrize("method", METHODS)
def test_each_map_is_28x28_scaled_to_its_strongest_pixel(predictor, drawings, method):
    for image, label in zip(*drawings):
        shown = predictor.explain(Prepared(image), method)
        assert shown.method == method and shown.digit == label and 0.5 < shown.probability <= 1
        assert shown.values.shape == (28, 28) and shown.values.dtype == np.float32
        assert np.abs(shown.values).max() == pytest.approx(1.0) and shown.strongest > 0
        assert shown.signed == (method == OCCLUSION)
        assert shown.values.min() >= (-1 if shown.signed else 0)
    # occlusion's strongest: how much covering the most important ink lowers the probability
    assert predictor.explain(Prepared(image), OCCLUSION).strongest <= shown.probability + 1e-6


def test_any_digit_can_be_explained_not_only_the_one_it_read(predictor, drawings):
    image, label = drawings[0][0], int(drawings[1][0])
    other = (label + 1) % 10
    probs = predictor.probabilities(image[None, ..., None])[0]
    for method in METHODS:
        read = predictor.explain(Prepared(image), method)
        why_not = predictor.explain(Prepared(image), method, other)
        assert read.digit == label and why_not.digit == other
        assert why_not.probability == pytest.approx(float(probs[other]), abs=1e-6)
        assert not np.allclose(read.values, why_not.values)
    with pytest.raises(ValueError, match="digit 10"):
        predictor.explain(Prepared(image), GRADIENT, 10)
    with pytest.raises(ValueError, match="unknown method"):
        predictor.explain(Prepared(image), "magic")


def test_smoothgrad_without_noise_is_the_gradient(bundled_model, drawings):
    explainer = Explainer(bundled_model)
    image, label = drawings[0][0], int(drawings[1][0])
    still = explainer.smoothgrad(image, label, copies=4, noise=0.0)
    np.testing.assert_allclose(cv2.GaussianBlur(still, (3, 3), 0.8),
                               explainer.gradient(image, label), rtol=1e-4, atol=1e-9)
    assert not np.allclose(explainer.smoothgrad(image, label), still)


def test_smoothgrad_is_the_same_for_the_same_seed(bundled_model, drawings):
    explainer = Explainer(bundled_model)
    image, label = drawings[0][0], int(drawings[1][0])
    np.testing.assert_array_equal(explainer.smoothgrad(image, label, seed=3),
                                  explainer.smoothgrad(image, label, seed=3))
    assert not np.array_equal(explainer.smoothgrad(image, label, seed=3),
                              explainer.smoothgrad(image, label, seed=4))


def test_classify_stays_cheap_and_an_empty_drawing_has_no_map(predictor, drawings):
    canvases, _ = drawn_digits(1, seed=11)
    gradient = predictor.explain(predictor.classify(canvases[0]).prepared, GRADIENT)
    assert gradient.values.shape == (28, 28) and gradient.values.max() == pytest.approx(1.0)
    assert predictor.explain(Prepared(None, "nothing drawn")) is None
    assert attribution.DEFAULT_METHOD == OCCLUSION and SMOOTHGRAD in METHODS


def test_the_overlay_shows_helping_ink_orange_and_opposing_ink_blue():
    image = np.zeros((28, 28), np.float32)
    values = np.zeros((28, 28), np.float32)
    values[:, :14], values[:, 14:] = 1.0, -1.0
    rgb = charts.attribution_overlay(image, values, signed=True, factor=4)
    assert rgb.shape == (112, 112, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[56, 10]) == charts.POSITIVE and tuple(rgb[56, 100]) == charts.NEGATIVE
    unsigned = charts.attribution_overlay(image, np.abs(values) * 0, signed=False, factor=4)
    assert unsigned.max() < 40          # no map: only the dim background
