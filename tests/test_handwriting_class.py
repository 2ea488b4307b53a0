"""Synthetic classes: a few writers sharing one hard style mix, on evaluation seeds."""
import numpy as np

from mnist_core.drawing.handwriting import EVAL_SEED_BASE
from mnist_core.drawing.handwriting_class import make_class
from mnist_core.drawing.style_search import HardRegion
from mnist_core.drawing.styles import STYLES

HARD = [HardRegion("1-flag", {"flag_angle": (0.0, 1 / 3), "writer.aspect": (2 / 3, 1.0)}, 0.8,
                   100, "flag_angle 20 to 36.7, writer.aspect 1.13 to 1.35"),
        HardRegion("0-slashed", {"overshoot": (2 / 3, 1.0)}, 0.5, 100, "overshoot 0.333 to 0.5"),
        HardRegion("4-open", {"bar_reach": (0.0, 1 / 3)}, 0.1, 100, "bar_reach -0.1 to 0.0167")]


def test_a_class_writes_its_hard_digits_in_their_regions_with_shared_habits():
    group = make_class(0, HARD, n_writers=3, hard_digits=3)
    assert group.seed >= EVAL_SEED_BASE and len(group.writers) == 3
    assert {group.styles[d] for d in (0, 1, 4)} == {"0-slashed", "1-flag", "4-open"}
    assert set(group.regions) == {"0-slashed", "1-flag", "4-open"}
    assert all(STYLES[style][0] == digit for digit, style in group.styles.items())
    # The writers share the habits of the worst region: a wide hand.
    assert all(1.13 <= w.aspect <= 1.35 for w in group.writers)
    assert "1-flag (flag_angle 20 to 36.7" in group.summary()


def test_a_class_is_reproducible_and_its_batches_differ_but_not_its_writers():
    a, b = make_class(1, HARD), make_class(1, HARD)
    assert a == b and make_class(2, HARD).writers != a.writers
    images, labels, names = a.drawings(2, 0)
    again, labels_again, _ = b.drawings(2, 0)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert sorted(labels.tolist()) == sorted(list(range(10)) * 2)
    assert all(a.styles[int(d)] == n for d, n in zip(labels, names))
    later, _, _ = a.drawings(2, 1)
    assert not np.array_equal(images, later)


def test_fewer_hard_regions_than_digits_asked_for():
    group = make_class(3, HARD[:1], hard_digits=3)
    assert group.styles[1] == "1-flag" and set(group.regions) == {"1-flag"}
