"""The widened handwriting space: knobs (`style_space.Params`), drawing anywhere in it or
within a region (`handwriting.space_digits`), the writers' habits, the failure search
(`style_search`, with a fake model that fails in a known corner) and contact sheets."""
import json

import numpy as np
import pytest

from mnist_core.drawing import style_search
from mnist_core.drawing.handwriting import (EVAL_SEED_BASE, MAX_INK, Writer, space_digits,
                                            style_strokes)
from mnist_core.drawing.preprocess import to_mnist
from mnist_core.drawing.style_search import HardRegion, region_digits, search
from mnist_core.drawing.style_space import Params, describe
from mnist_core.drawing.styles import STYLES
from mnist_core.drawing.synthetic import CANVAS
from mnist_core.views.contact_sheet import RIGHT, WRONG, contact_sheet


def within_canvas(paths: list[np.ndarray], width: float) -> bool:
    points = np.vstack(paths)
    return bool(points.min() >= width / 2 and points.max() <= CANVAS - width / 2)


# --- Params -----------------------------------------------------------------------------

def test_knobs_are_uniform_positions_mapped_onto_their_ranges():
    rng = np.random.default_rng(0)
    ts, values = [], []
    for _ in range(500):
        p = Params(rng)
        values.append(p.u("angle", 20, 70))
        ts.append(p.t("angle"))
        assert values[-1] == pytest.approx(20 + 50 * ts[-1])
        assert p.ranges == {"angle": (20, 70)} and p.drawn == {"angle": ts[-1]}
    ts = np.array(ts)
    assert (ts >= 0).all() and (ts <= 1).all()
    assert ts.min() < 0.05 and ts.max() > 0.95 and 0.4 < ts.mean() < 0.6
    assert np.histogram(ts, bins=4, range=(0, 1))[0].min() > 90        # roughly uniform


def test_a_region_restricts_the_knobs_it_names_and_no_others():
    rng = np.random.default_rng(1)
    seen = []
    for _ in range(300):
        p = Params(rng, {"angle": (0.2, 0.3)})
        assert 0.2 <= p.t("angle") <= 0.3
        assert 25 <= p.u("angle", 20, 70) <= 35
        seen.append(p.t("other"))
    assert min(seen) < 0.1 and max(seen) > 0.9                      # not named: anywhere


def test_a_knob_is_drawn_once_per_drawing():
    p = Params(np.random.default_rng(2))
    first = p.u("length", 0.3, 1.0)
    assert p.u("length", 0.3, 1.0) == first and p.t("length") == p.drawn["length"]
    assert p.u("length", 0.0, 10.0) == pytest.approx(10 * p.t("length"))   # same position
    assert Params(np.random.default_rng(2)).u("length", 0.3, 1.0) == first  # rng decides
    assert Params(np.random.default_rng(3)).u("length", 0.3, 1.0) != first


def test_a_scoped_params_shares_the_drawing_under_a_prefix():
    p = Params(np.random.default_rng(4), {"writer.slant": (0.9, 1.0)})
    writer = p.scoped("writer.")
    slant = writer.u("slant", -0.42, 0.22)
    p.u("slant", 0, 1)                                   # the style's own, a different knob
    assert set(p.drawn) == {"writer.slant", "slant"} and writer.drawn is p.drawn
    assert p.ranges == {"writer.slant": (-0.42, 0.22), "slant": (0, 1)}
    assert writer.ranges is p.ranges and 0.9 <= p.drawn["writer.slant"] <= 1.0
    assert slant == pytest.approx(-0.42 + 0.64 * p.drawn["writer.slant"])
    assert writer.t("slant") == p.drawn["writer.slant"]
    deeper = writer.scoped("pen.")
    deeper.t("width")
    assert "writer.pen.width" in p.drawn


def test_chance_says_yes_for_the_first_part_of_its_range():
    rng = np.random.default_rng(5)
    assert all(Params(rng, {"hook": (0.0, 0.29)}).chance("hook", 0.3) for _ in range(50))
    assert not any(Params(rng, {"hook": (0.31, 1.0)}).chance("hook", 0.3) for _ in range(50))
    yes = [Params(rng).chance("hook", 0.3) for _ in range(1000)]
    assert 0.25 < np.mean(yes) < 0.35
    p = Params(rng)
    said = p.chance("hook", 0.3)
    assert p.ranges["hook"] == (0.0, 1.0) and said == (p.drawn["hook"] < 0.3)
    assert p.chance("hook", 0.3) == said                               # remembered too


def test_describe_speaks_in_the_knobs_own_units():
    ranges = {"flag_angle": (20, 70), "writer.slant": (-0.42, 0.22)}
    assert describe({"flag_angle": (0.0, 1 / 3)}, ranges) == "flag_angle 20 to 36.7"
    assert describe({"writer.slant": (0.5, 1.0), "flag_angle": (2 / 3, 1.0)}, ranges) == \
        "flag_angle 53.3 to 70, writer.slant -0.1 to 0.22"        # sorted by name
    assert describe({"gap": (0.0, 1 / 3)}) == "gap 0-33% of its range"
    assert describe({"gap": (0.25, 0.5)}, ranges) == "gap 25-50% of its range"
    assert describe({}) == "the whole space"


# --- every style, at both ends of every knob -------------------------------------------

@pytest.mark.parametrize("style", list(STYLES))
def test_every_knob_at_either_end_still_draws_the_digit(style):
    """All knobs (the writer's and the style's) pinned to their low ends, then to their high
    ends: the drawing stays within the canvas and preprocessing takes it for a digit (at the
    high end a 45 px pen on a canvas-filling 8 covered over half the canvas: refused)."""
    _, knobs, ranges = space_digits(style, 1, 0)
    names = set(knobs[0])
    assert names == set(ranges)
    assert any(n.startswith("writer.") for n in names)
    assert any(not n.startswith("writer.") for n in names)
    for end in ((0.0, 0.001), (0.999, 1.0)):
        region = {name: end for name in names}
        rng = np.random.default_rng(7)
        for _ in range(2):
            p = Params(rng, region)
            paths, width = style_strokes(style, Writer.random(p.scoped("writer.")), rng, p)
            assert set(p.drawn) == names                   # the same knobs at either end
            assert within_canvas(paths, width), (style, end)
        images, drawn, _ = space_digits(style, 2, 1, region)
        for image, k in zip(images, drawn):
            assert all(end[0] <= t <= end[1] for t in k.values())
            assert (image[..., 0] > 127).mean() <= MAX_INK   # else the page takes it inverted
            assert not to_mnist(image).empty, (style, end)


# --- space_digits -----------------------------------------------------------------------

def test_space_digits_is_determined_by_its_seed_and_records_every_knob():
    images, knobs, ranges = space_digits("1-flag", 3, 5)
    again, knobs_again, _ = space_digits("1-flag", 3, 5)
    np.testing.assert_array_equal(images, again)
    assert knobs == knobs_again
    other, knobs_other, _ = space_digits("1-flag", 3, 6)
    assert not np.array_equal(images, other) and knobs != knobs_other
    assert images.shape == (3, CANVAS, CANVAS, 4) and images.dtype == np.uint8
    assert len({json.dumps(k, sort_keys=True) for k in knobs}) == 3   # a new writer each
    for k in knobs:
        assert {"flag_angle", "flag_length", "writer.slant", "writer.pen", "writer.hooks"} \
            <= set(k)
        assert all(0 <= t <= 1 for t in k.values())
    assert ranges["flag_angle"] == (20, 70) and ranges["flag_length"] == (0.3, 1.0)
    assert ranges["writer.slant"] == (-0.42, 0.22) and ranges["writer.tilt"] == (-6, 6)
    empty, none, _ = space_digits("1-flag", 0, 5)
    assert empty.shape == (0, CANVAS, CANVAS, 4) and none == []
    with pytest.raises(ValueError, match="unknown styles"):
        space_digits("1-fancy", 1, 0)


def test_space_digits_stays_within_its_region():
    region = {"flag_angle": (0.0, 1 / 3), "writer.slant": (0.8, 0.9), "one_stroke": (0.5, 1)}
    _, knobs, _ = space_digits("1-flag", 20, 3, region)
    for k in knobs:
        assert 0 <= k["flag_angle"] <= 1 / 3 and 0.8 <= k["writer.slant"] <= 0.9
        assert "one_stroke" not in k               # a knob the style has not: never drawn
    free = [k["flag_angle"] for k in space_digits("1-flag", 20, 3)[1]]
    assert max(free) > 1 / 3                       # without the region: anywhere


# --- the writer's habits ----------------------------------------------------------------

def person(**habits) -> Writer:
    base = {"slant": -0.1, "tilt_deg": 1, "wobble_deg": 2, "height": (110, 120), "pen": 12,
            "aspect": 1.0, "jitter": 0.005, "spread": 0.5}
    return Writer(**(base | habits))


def drawn(style: str, writer: Writer, seed: int) -> tuple[list[np.ndarray], float]:
    rng = np.random.default_rng(seed)
    return style_strokes(style, writer, rng, Params(rng))


def test_hooks_add_a_tick_at_both_ends_of_every_stroke():
    for seed in range(5):
        plain, _ = drawn("4-open", person(hooks=0.0), seed)
        hooked, width = drawn("4-open", person(hooks=1.0, hook_size=0.1), seed)
        assert within_canvas(hooked, width)
        assert [len(h) for h in hooked] == [len(p) + 2 for p in plain]
        # The first stroke is the same drawing (up to where it lands), plus its two ticks.
        shift = hooked[0][1:-1] - plain[0]
        np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-6)
        for end, inner in ((0, 1), (-1, -2)):
            tick = np.hypot(*(hooked[0][end] - hooked[0][inner]))
            assert 3 < tick < 0.2 * 120                    # about hook_size of the height


def test_tremor_shakes_the_stroke_smoothly_and_slightly():
    for seed in range(5):
        steady, _ = drawn("7-plain", person(), seed)
        shaky, width = drawn("7-plain", person(tremor=0.012), seed)
        assert within_canvas(shaky, width)
        assert [len(s) for s in shaky] == [len(s) for s in steady]
        moved = shaky[0] - steady[0]
        moved = moved - moved.mean(axis=0)                 # where it lands aside
        assert np.abs(moved).max() > 0.2                   # shaken, not just moved
        assert np.abs(moved).max() < 0.1 * 120             # by a fraction of the height


def test_a_gap_moves_the_later_strokes_away_from_the_first():
    shifts = []
    for seed in range(10):
        joined, _ = drawn("4-open", person(), seed)
        apart, width = drawn("4-open", person(gap=0.08), seed)
        assert within_canvas(apart, width)
        first = apart[0] - joined[0]                       # the first stroke: only relocated
        np.testing.assert_allclose(first, np.broadcast_to(first[0], first.shape), atol=1e-6)
        second = apart[1] - joined[1] - first[0]           # the second: moved as a whole
        np.testing.assert_allclose(second, np.broadcast_to(second[0], second.shape), atol=1e-6)
        shifts.append(np.hypot(*second[0]))
    assert np.mean(shifts) > 0.03 * 110                    # a few percent of the height


def test_every_habit_at_its_strongest_stays_within_the_canvas():
    writer = Writer(slant=-0.42, tilt_deg=6, wobble_deg=5, height=(240, 265), pen=45,
                    aspect=1.35, jitter=0.04, spread=1.0, tremor=0.012, gap=0.08, hooks=1.0,
                    hook_size=0.1)
    rng = np.random.default_rng(8)
    for style in STYLES:
        paths, width = style_strokes(style, writer, rng)
        assert width == 45 and within_canvas(paths, width), style


# --- the failure search, with a fake model ----------------------------------------------

@pytest.fixture
def fake_reader(monkeypatch):
    """Makes `style_search` read drawings by their knobs: `misreads(knobs)` says which the
    "model" gets wrong (it answers 7 for those, the right digit for the rest). Returns the
    list of space_digits calls the search made: (style, n, seed, region, knobs)."""
    calls = []
    real = style_search.space_digits

    def recording(style, n, seed, region=None):
        images, knobs, ranges = real(style, n, seed, region)
        calls.append((style, n, seed, dict(region or {}), knobs))
        return images, knobs, ranges

    def answers(model, images):
        style, _, _, _, knobs = calls[-1]
        assert len(images) == len(knobs)
        digit = STYLES[style][0]
        given = np.array([7 if model(k) else digit for k in knobs], np.int64)
        return given, np.zeros((len(images), 28, 28, 1), np.float32)

    monkeypatch.setattr(style_search, "space_digits", recording)
    monkeypatch.setattr(style_search, "answers", answers)
    return calls


def test_the_search_finds_the_corner_where_the_model_fails(fake_reader):
    def shallow_flags(knobs):                        # misreads 1s with a flag below ~37 deg
        return knobs["flag_angle"] < 1 / 3

    found = search(shallow_flags, "1-flag", n=240, confirm=40, candidates=3, keep=2)
    assert len(found) == 2
    worst = found[0]
    assert worst.style == "1-flag" and worst.region == {"flag_angle": (0.0, 1 / 3)}
    assert worst.error == 1.0 and worst.n == 40
    assert worst.description == "flag_angle 20 to 36.7"
    for hard in found:
        assert hard.region["flag_angle"] == (0.0, 1 / 3) and hard.error == 1.0
    first, *confirming = fake_reader
    assert first[3] == {} and first[1] == 240       # the search itself: the whole space
    assert confirming and all(n == 40 for _, n, _, _, _ in confirming)
    seeds = [seed for _, _, seed, _, _ in fake_reader]
    assert len(set(seeds)) == len(seeds) and max(seeds) < EVAL_SEED_BASE   # fresh drawings
    for _, _, _, region, knobs in confirming:       # confirmed inside the boxes
        assert all(lo <= k[name] <= hi for k in knobs for name, (lo, hi) in region.items())


def test_a_model_that_never_errs_leaves_no_hard_region(fake_reader):
    found = search(lambda knobs: False, "0-slashed", n=120, confirm=20, candidates=2, keep=2)
    assert len(found) == 2 and all(r.error == 0.0 for r in found)
    assert len(fake_reader) == 3                    # no refinement where nothing failed


def test_the_search_refuses_evaluation_seeds():
    with pytest.raises(ValueError, match="below"):
        search(None, "1-flag", seed=EVAL_SEED_BASE)


def test_a_hard_region_survives_json():
    hard = HardRegion("1-flag", {"flag_angle": (0.0, 1 / 3), "writer.slant": (0.5, 1.0)},
                      0.42, 100, "flag_angle 20 to 36.7, writer.slant -0.1 to 0.22")
    assert HardRegion.from_dict(json.loads(json.dumps(hard.to_dict()))) == hard
    with pytest.raises(ValueError, match="unknown style"):
        HardRegion.from_dict(hard.to_dict() | {"style": "1-fancy"})


def test_region_digits_labels_each_drawing_with_its_region():
    hard = [HardRegion("1-flag", {"flag_angle": (0.0, 0.2)}, 0.5, 10, ""),
            HardRegion("0-slashed", {"slash_angle": (0.8, 1.0)}, 0.3, 10, "")]
    images, labels, index = region_digits(hard, 3, 20)
    assert images.shape == (6, CANVAS, CANVAS, 4)
    assert list(labels) == [1, 1, 1, 0, 0, 0] and list(index) == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(images[3:], space_digits("0-slashed", 3, 21, hard[1].region)[0])
    none = region_digits([], 3, 20)
    assert none[0].shape == (0, CANVAS, CANVAS, 4) and len(none[1]) == len(none[2]) == 0


# --- contact sheets ---------------------------------------------------------------------

def test_a_contact_sheet_frames_only_the_misread_digits():
    rng = np.random.default_rng(9)
    ones = rng.uniform(0, 1, (5, 28, 28)).astype(np.float32)          # 0..1 floats
    zeros = (rng.uniform(0, 1, (2, 28, 28, 1)) * 255).astype(np.uint8)  # 0..255, channel
    sheet = contact_sheet([ones, zeros], [[1, 7, 1, None, 1], [0, 0]], [1, 0], columns=4)
    cell = 28 * 3 + 4
    assert sheet.shape == (2 * cell, 4 * cell, 3) and sheet.dtype == np.uint8
    expected = {(0, 0): RIGHT, (0, 1): WRONG, (0, 2): RIGHT, (0, 3): WRONG,
                (1, 0): RIGHT, (1, 1): RIGHT}
    for (r, c), colour in expected.items():
        y, x = r * cell, c * cell
        frame = np.concatenate([sheet[y:y + 2, x:x + cell].reshape(-1, 3),
                                sheet[y + cell - 2:y + cell, x:x + cell].reshape(-1, 3),
                                sheet[y:y + cell, x:x + 2].reshape(-1, 3),
                                sheet[y:y + cell, x + cell - 2:x + cell].reshape(-1, 3)])
        assert (frame == colour).all(), (r, c)
        inside = sheet[y + 2:y + cell - 2, x + 2:x + cell - 2]
        labelled = (inside == WRONG).all(axis=-1).any()      # the answer, written in red
        assert labelled == (colour == WRONG), (r, c)
        if colour == RIGHT:                                  # the digit itself, enlarged
            digit = (ones[c] * 255).astype(np.uint8) if r == 0 else zeros[c, ..., 0]
            np.testing.assert_array_equal(inside[..., 0], np.kron(digit, np.ones((3, 3))))
    assert (sheet[cell:, 2 * cell:] == 30).all()            # no digit there: background
    assert contact_sheet([], [], [], columns=2).shape == (cell, 2 * cell, 3)
