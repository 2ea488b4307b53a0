"""Fooling the network: the attack (mnist_core.drawing.fooling) on the bundled model, the
challenge's rule (fooling_challenge), fooled drawings on the class wall, and the Fool it page
under AppTest (the canvas stood in for, as in tests/test_draw_page.py)."""
import sqlite3

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui.canvas as draw_canvas
from mnist_core.data.dataset import float_images
from mnist_core.classroom.wall import PredictionCache, Tile, wall_view
from mnist_core.drawing import fooling, fooling_challenge as rules
from mnist_core.drawing.fooling import ANY_OTHER, Fooler, change_picture
from mnist_core.drawing.strokes import render_strokes
from mnist_core.lab.drawings import FOOLED
from mnist_core.lab.store import RunStore
from ui import session
from tests.helpers import ROOT, TIMEOUT

SEVEN = [[[0.25, 0.18], [0.75, 0.18], [0.43, 0.86]], [[0.39, 0.54], [0.68, 0.54]]]
PEN = 20 / 280


@pytest.fixture(scope="module")
def fooler(bundled_model):
    return Fooler(bundled_model)


@pytest.fixture(scope="module")
def digits(mnist):
    """Eight MNIST test images the bundled model reads right, as floats in [0, 1]."""
    return float_images(mnist.x_test[:8]).reshape(-1, 28, 28)


@pytest.mark.parametrize("index", range(6))
def test_the_attack_reaches_any_other_digit_with_few_pixels(fooler, digits, index):
    result = fooler.fool(digits[index], ANY_OTHER)
    assert result.fooled and result.digit != result.original_digit
    assert 0 < result.pixels_changed <= 40 and result.ink_share < 0.5
    # What it reports is the model's own reading of the changed image, in [0, 1].
    assert result.changed.min() >= 0 and result.changed.max() <= 1
    np.testing.assert_allclose(result.probabilities, fooler.probabilities(result.changed)[0],
                               atol=1e-6)
    assert result.digit == int(fooler.probabilities(result.changed)[0].argmax())


def test_the_attack_reaches_a_chosen_digit_for_several_drawings(fooler, digits):
    reached = 0
    for image in digits:
        digit = int(fooler.probabilities(image)[0].argmax())
        target = (digit + 1) % 10
        result = fooler.fool(image, target)
        assert result.original_digit == digit and result.target == target
        assert result.pixels_changed <= fooling.MAX_STEPS * fooling.PIXELS_PER_STEP
        if result.fooled:
            reached += 1
            assert result.digit == target
            # Changed pixels are set fully to ink or to background: readable "ink".
            moved = result.added | result.erased
            assert set(np.unique(result.changed[moved])) <= {0.0, 1.0}
    assert reached >= 6


def test_pruning_keeps_it_fooled_and_every_kept_change_matters_together(fooler, digits):
    image = digits[0]
    result = fooler.fool(image, ANY_OTHER)
    aim = -result.original_digit - 1
    bigger = result.changed.copy()
    spare = np.argwhere((image == 0) & ~result.added)[:10]   # needless extra ink, far away
    bigger[tuple(spare.T)] = 1.0
    if fooling._reads(fooler.probabilities(bigger), aim)[0]:
        pruned = fooler._prune(image, bigger, aim)
        assert fooling._reads(fooler.probabilities(pruned), aim)[0]
        assert np.abs(pruned - image).sum() < np.abs(bigger - image).sum()


def test_the_step_cap_bounds_the_work_and_says_when_it_failed(fooler, digits, monkeypatch):
    monkeypatch.setattr(fooling, "MAX_STEPS", 1)   # a fresh attack graph with a 1-step cap
    capped = Fooler(fooler.model)
    digit = int(capped.probabilities(digits[0])[0].argmax())
    result = capped.fool(digits[0], (digit + 5) % 10)
    assert result.pixels_changed <= fooling.PIXELS_PER_STEP and result.steps <= 1
    assert not result.fooled and result.digit != result.target


def test_asking_for_the_digit_it_already_reads_changes_nothing(fooler, digits):
    digit = int(fooler.probabilities(digits[1])[0].argmax())
    result = fooler.fool(digits[1], digit)
    assert result.pixels_changed == 0 and not result.fooled
    with pytest.raises(ValueError):
        fooler.fool(digits[1], 10)


def test_the_change_picture_shows_added_ink_green_and_erased_ink_red(fooler, digits):
    result = fooler.fool(digits[2], ANY_OTHER)
    picture = change_picture(result, factor=2)
    assert picture.shape == (56, 56, 3)
    green = np.all(picture[::2, ::2] == fooling.ADDED_RGB, axis=2)
    red = np.all(picture[::2, ::2] == fooling.ERASED_RGB, axis=2)
    assert (green == result.added).all() and (red == result.erased).all()


# --- the challenge's rule ---------------------------------------------------------------------

def ink_of(strokes):
    return rules.ink(render_strokes(strokes, PEN, rules.INK_SIDE))


def test_a_little_extra_ink_that_changes_the_reading_fools_it():
    challenge = rules.start(ink_of(SEVEN), digit=7, target=ANY_OTHER)
    same = rules.progress(challenge, ink_of(SEVEN), reading=7)
    assert same.added == 0 and same.kept == pytest.approx(1) and not same.fooled
    dot = SEVEN + [[[0.3, 0.6], [0.32, 0.62]]]
    fooled = rules.progress(challenge, ink_of(dot), reading=9)
    assert 0 < fooled.added <= rules.INK_BUDGET and fooled.fooled
    assert not rules.progress(rules.start(ink_of(SEVEN), 7, 1), ink_of(dot), 9).fooled


def test_too_much_ink_or_a_lost_original_does_not_count():
    challenge = rules.start(ink_of(SEVEN), digit=7, target=3)
    scribble = SEVEN + [[[0.1, y], [0.9, y]] for y in (0.3, 0.45, 0.6, 0.75)]
    over = rules.progress(challenge, ink_of(scribble), reading=3)
    assert over.added > rules.INK_BUDGET and not over.fooled and over.budget_used == 1
    other = rules.progress(challenge, ink_of([[[0.5, 0.1], [0.5, 0.9]]]), reading=3)
    assert not other.original_kept and not other.fooled
    assert not rules.progress(challenge, None, None).fooled
    with pytest.raises(ValueError):
        rules.start(ink_of(SEVEN), digit=7, target=7)


# --- fooled drawings in the store and on the wall ---------------------------------------------

def test_a_fooled_drawing_is_stored_tagged_and_filtered_on_the_wall(lab_home):
    store = RunStore()
    plain = store.add_drawing(np.full((28, 28), 0.2), 3, 3, "bundled")
    fooled = store.add_drawing(np.full((28, 28), 0.4), 3, 8, "bundled", tag=FOOLED)
    assert [d.tag for d in store.get_drawings([plain, fooled])] == [None, FOOLED]
    assert store.tagged_ids(FOOLED).tolist() == [fooled]
    with pytest.raises(ValueError):
        store.add_drawing(np.full((28, 28), 0.6), 3, 8, "bundled", tag="<b>")

    def reads_eight(images):
        return np.eye(10, dtype=np.float32)[np.full(len(images), 8)]

    view = wall_view(store, PredictionCache(), "bundled", reads_eight, fooled_only=True)
    assert [t.drawing.id for t in view.tiles] == [fooled] and view.matching == 1
    tile = view.tiles[0]
    assert tile.fooled and "fooled" in tile.caption and "read as 8" in tile.caption
    assert "fooled" not in Tile(store.get_drawings([plain])[0], 3).caption
    # Deleted and restored, it keeps its tag.
    batch, _ = store.delete_drawings([fooled])
    store.restore_drawings(batch)
    assert store.get_drawings([fooled])[0].tag == FOOLED


def test_a_database_from_before_tags_gains_the_column(lab_home):
    lab_home.mkdir(parents=True)
    with sqlite3.connect(lab_home / "lab.sqlite3") as db:
        db.execute("CREATE TABLE drawings (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at "
                   "REAL NOT NULL, label INTEGER NOT NULL, predicted INTEGER, model TEXT, "
                   "image BLOB NOT NULL, hash TEXT, device TEXT)")
        db.execute("INSERT INTO drawings (created_at, label, predicted, model, image, hash) "
                   "VALUES (1, 4, 4, 'bundled', ?, 'h1')", (bytes(784),))
    store = RunStore()
    assert [d.tag for d in store.list_drawings()] == [None]
    with sqlite3.connect(lab_home / "lab.sqlite3") as db:
        for table in ("drawings", "deleted_drawings"):
            assert "tag" in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    store.add_drawing(np.full((28, 28), 0.5), 4, 9, "bundled", tag=FOOLED)
    assert len(store.tagged_ids(FOOLED)) == 1


# --- the page ---------------------------------------------------------------------------------

def fool_page(prepared=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if prepared is not None:
        at.session_state[session.PREPARED_DRAWING] = prepared
    at.switch_page("pages/7_Fool.py").run()
    assert not at.exception, at.exception
    return at


def canvas_sends(monkeypatch, strokes):
    monkeypatch.setattr(draw_canvas, "draw_canvas", lambda **kwargs: strokes)


def test_without_a_drawing_the_page_sends_you_to_draw_one(monkeypatch):
    canvas_sends(monkeypatch, None)
    at = fool_page()
    assert any("Draw a digit on the Draw page first" in i.value for i in at.info)
    assert any(link.proto.label == "Draw a digit" for link in at.get("page_link"))
    assert any("Why does this work?" in m.value for m in at.markdown)
    start = next(b for b in at.button if b.label == "Start")
    assert start.disabled   # nothing drawn on the challenge's canvas yet


def test_a_drawing_and_a_target_show_the_change_and_the_new_reading(monkeypatch, mnist):
    from mnist_core.drawing.preprocess import Prepared

    canvas_sends(monkeypatch, None)
    at = fool_page(Prepared(float_images(mnist.x_test[:1]).reshape(28, 28)))
    assert at.success and "pixels" in at.success[0].value
    kept = at.session_state[session.FOOL_RESULT]
    assert kept[2] == ANY_OTHER and kept[3].fooled
    captions = [c for img in at.get("image") for c in img.captions]
    assert any("Green: add ink" in c for c in captions)
    at.segmented_control(key=session.FOOL_TARGET).set_value(3).run()
    assert not at.exception
    result = at.session_state[session.FOOL_RESULT][3]
    assert result.target == 3
    shown = at.success[0].value if result.fooled else at.warning[0].value
    assert ("reads a **3**" in shown) if result.fooled else ("No change small" in shown)


def test_the_challenge_starts_is_fooled_and_saves_tagged(monkeypatch):
    canvas_sends(monkeypatch, SEVEN)
    at = fool_page()
    assert "reads your drawing as a **7**" in " ".join(m.value for m in at.markdown)
    start = next(b for b in at.button if b.label == "Start")
    start.click().run()
    challenge = at.session_state[session.FOOL_CHALLENGE]
    assert challenge.digit == 7 and challenge.target == ANY_OTHER
    assert any("Extra ink: 0%" in p.proto.text for p in at.get("progress"))
    # A small stroke that the model (stood in for here) reads as another digit.
    canvas_sends(monkeypatch, SEVEN + [[[0.3, 0.6], [0.33, 0.62]]])
    from ui import resources

    real = resources.predictor

    class ReadsOne:
        def __init__(self, predictor):
            self.predictor = predictor

        def classify(self, image):
            answer = self.predictor.classify(image)
            probs = np.eye(10, dtype=np.float32)[1]
            return type(answer)(answer.prepared, probs)

    monkeypatch.setattr(resources, "predictor", lambda ref: ReadsOne(real(ref)))
    at.run()
    assert at.success and "You fooled it" in at.success[0].value
    save = next(b for b in at.button if b.label == "Save it to the class wall")
    save.click().run()
    assert not at.exception, at.exception
    saved = at.session_state[session.FOOL_SAVED]
    drawing = RunStore().get_drawings([saved])[0]
    assert (drawing.label, drawing.predicted, drawing.tag) == (7, 1, FOOLED)
    assert any("tagged fooled" in c.value for c in at.caption)


def test_the_class_wall_tags_fooled_drawings_and_filters_them(mnist):
    from tests.helpers import open_page

    store = RunStore()
    images = float_images(mnist.x_test[:3]).reshape(-1, 28, 28)
    labels = mnist.y_test[:3]
    store.add_drawing(images[0], int(labels[0]), int(labels[0]), "bundled")
    store.add_drawing(images[1], int(labels[1]), int(labels[1]), "bundled")
    fooled = store.add_drawing(images[2], int(labels[2]), int(labels[2]), "bundled",
                               tag=FOOLED)
    at = open_page("pages/4_Class.py")
    captions = [m.value for m in at.markdown if m.value.startswith("**")]   # under the tiles
    assert len(captions) == 3 and sum(":material/theater_comedy: fooled" in c
                                      for c in captions) == 1
    at.toggle(key=session.CLASS_FOOLED_ONLY).set_value(True).run()
    assert not at.exception, at.exception
    captions = [m.value for m in at.markdown if m.value.startswith("**")]
    assert len(captions) == 1 and "fooled" in captions[0]
    assert store.tagged_ids(FOOLED).tolist() == [fooled]
