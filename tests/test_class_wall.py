"""The class set (mnist_core.classroom.wall) and the Class page that projects it."""
import csv
import io
import sqlite3
import statistics
import threading
import time
import zipfile

import cv2
import numpy as np
import pytest

from ui import resources, session
from mnist_core.classroom import wall as class_set
from mnist_core.classroom.wall import UNKNOWN, PredictionCache, digit_stats, wall_view
from mnist_core.lab.store import RunStore
from tests.helpers import by_label, open_page as open_app_page

CLASS_PAGE = "pages/4_Class.py"


def random_images(n, seed=0):
    """n different uint8-exact images in [0, 1] (what the store keeps)."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.float32) / 255


class CountingModel:
    """Stands in for Predictor.probabilities: answers (sum of ink) % 10, counts its images."""

    def __init__(self):
        self.seen = 0
        self.lock = threading.Lock()

    def __call__(self, images):
        with self.lock:
            self.seen += len(images)
        digits = (np.rint(images.sum(axis=(1, 2, 3)) * 255).astype(np.int64)) % 10
        return np.eye(10, dtype=np.float32)[digits]


def expected_digit(image):
    return int(np.rint(image.sum() * 255)) % 10


# --- numbers -------------------------------------------------------------------------------


def test_digit_stats_count_each_digit_and_ignore_unknown_predictions():
    labels = np.array([0, 0, 0, 1, 1, 7, 7])
    predictions = np.array([0, 0, 6, 1, UNKNOWN, 1, UNKNOWN])
    stats = digit_stats(labels, predictions)
    assert [(s.digit, s.drawings, s.correct) for s in stats[:2]] == [(0, 3, 2), (1, 1, 1)]
    assert stats[0].accuracy == pytest.approx(2 / 3) and stats[7].drawings == 1
    assert stats[7].accuracy == 0 and stats[5].drawings == 0 and stats[5].accuracy is None
    assert class_set.overall_accuracy(stats) == pytest.approx(3 / 5)
    assert class_set.overall_accuracy(digit_stats(np.array([], int), np.array([], int))) is None


def test_predictions_are_computed_once_per_drawing_and_model():
    store = RunStore()
    images = random_images(30)
    for i in range(20):
        store.add_drawing(images[i], i % 10, None, None)
    cache, model = PredictionCache(batch=8), CountingModel()
    known = cache.predictions(store, "bundled", model)
    assert model.seen == 20 and known.last_id == 20
    assert known.lookup(np.array([3, 99])).tolist() == [expected_digit(images[2]), UNKNOWN]
    cache.predictions(store, "bundled", model)
    assert model.seen == 20                                   # a refresh costs nothing
    for i in range(20, 25):
        store.add_drawing(images[i], 1, None, None)
    # Saved with the model the wall uses: its stored answer is taken, not recomputed.
    for i in range(25, 30):
        store.add_drawing(images[i], 1, 4, "bundled")
    known = cache.predictions(store, "bundled", model)
    assert model.seen == 25 and known.lookup(np.array([30])).tolist() == [4]
    cache.predictions(store, "run-2", model)                  # another model: its own answers
    assert model.seen == 55


def test_a_budget_spreads_a_big_first_fill_over_several_refreshes():
    store = RunStore()
    for i, image in enumerate(random_images(50)):
        store.add_drawing(image, i % 10, None, None)
    cache, model = PredictionCache(batch=10), CountingModel()
    views = [wall_view(store, cache, "m", model, budget=20) for _ in range(4)]
    assert [v.pending for v in views] == [30, 10, 0, 0] and model.seen == 50
    assert [sum(s.drawings for s in v.stats) for v in views] == [20, 40, 50, 50]
    assert all(v.total == 50 and len(v.tiles) == 50 for v in views)
    assert [t.predicted is None for t in views[0].tiles] == [True] * 30 + [False] * 20


def test_two_sessions_refreshing_at_once_classify_each_drawing_once():
    store = RunStore()
    for i, image in enumerate(random_images(40)):
        store.add_drawing(image, i % 10, None, None)
    cache, model = PredictionCache(batch=16), CountingModel()
    barrier = threading.Barrier(4)
    results = []

    def session():
        barrier.wait()
        results.append(cache.predictions(store, "bundled", model).last_id)

    threads = [threading.Thread(target=session) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [40] * 4 and model.seen == 40


def test_wall_view_filters_pages_and_reads_images_only_for_the_page(monkeypatch):
    store = RunStore()
    images = random_images(150)
    labels = [(expected_digit(img) + (1 if i % 5 == 0 else 0)) % 10   # every 5th misread
              for i, img in enumerate(images)]
    ids = [store.add_drawing(img, label, None, None) for img, label in zip(images, labels)]
    fetched = []
    real_get = RunStore.get_drawings
    monkeypatch.setattr(RunStore, "get_drawings",
                        lambda self, wanted: fetched.append(len(wanted)) or real_get(self, wanted))
    cache, model = PredictionCache(), CountingModel()

    view = wall_view(store, cache, "m", model, per_page=60)
    assert (view.total, view.matching, view.pages, view.page) == (150, 150, 3, 1)
    assert [t.drawing.id for t in view.tiles] == ids[::-1][:60]          # newest first
    assert fetched == [60]
    assert view.accuracy == pytest.approx(120 / 150) and view.misread == 30
    assert view.digit_table().shape == (2, 10)
    assert sum(s.drawings for s in view.stats) == 150

    last = wall_view(store, cache, "m", model, page=99, per_page=60)     # clamped
    assert last.page == 3 and [t.drawing.id for t in last.tiles] == ids[::-1][120:]

    wrong = wall_view(store, cache, "m", model, wrong_only=True, per_page=60)
    assert [t.drawing.id for t in wrong.tiles] == ids[::5][::-1]
    assert all(t.wrong and t.predicted == (t.drawing.label - 1) % 10 for t in wrong.tiles)

    digit = labels[7]
    sevens = wall_view(store, cache, "m", model, digit=digit, per_page=500)
    assert [t.drawing.id for t in sevens.tiles] == [i for i, lab in zip(ids, labels)
                                                    if lab == digit][::-1]
    assert model.seen == 150                                             # predicted once
    none = wall_view(RunStore(store.home / "other"), PredictionCache(), "m", model)
    assert (none.total, none.pages, none.tiles) == (0, 1, [])


# --- exports -------------------------------------------------------------------------------


def test_export_zip_round_trip():
    store = RunStore()
    images = random_images(12)
    saved = {store.add_drawing(img, i % 10, None, None): (img, i % 10)
             for i, img in enumerate(images)}
    data = class_set.export_zip(store.iter_drawings())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert len(rows) == 12 and sorted(archive.namelist()) == sorted(
            [r["file"] for r in rows] + ["labels.csv"])
        for row in rows:
            image, label = saved[int(row["id"])]
            assert int(row["label"]) == label and row["file"].startswith(f"{label}/")
            assert row["saved_at"].endswith("+00:00")
            png = cv2.imdecode(np.frombuffer(archive.read(row["file"]), np.uint8),
                               cv2.IMREAD_UNCHANGED)
            assert png.shape == (28, 28) and png.dtype == np.uint8
            np.testing.assert_array_equal(png, np.rint(image * 255).astype(np.uint8))


def test_export_npz_round_trip():
    store = RunStore()
    images = random_images(7)
    for i, img in enumerate(images):
        store.add_drawing(img, 9 - i, None, None)
    with np.load(io.BytesIO(class_set.export_npz(store.iter_drawings()))) as npz:
        assert npz["images"].dtype == np.uint8 and npz["images"].shape == (7, 28, 28)
        np.testing.assert_array_equal(npz["images"], np.rint(images * 255).astype(np.uint8))
        assert npz["labels"].tolist() == [9 - i for i in range(7)]
        assert npz["ids"].tolist() == list(range(1, 8))
    with np.load(io.BytesIO(class_set.export_npz([]))) as empty:
        assert empty["images"].shape == (0, 28, 28)


def test_tile_urls_carry_each_drawing_exactly():
    import base64

    a, b = (np.rint(img * 255).astype(np.uint8) for img in random_images(2))
    for image in (a, b, a):                      # cached by content: never the other's image
        url = class_set.tile_url(image)
        assert url.startswith("data:image/png;base64,")
        png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
        np.testing.assert_array_equal(cv2.imdecode(png, cv2.IMREAD_UNCHANGED), image)


# --- the Class page ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_digits(mnist):
    """The first 70 MNIST test images, which the bundled model reads right."""
    return mnist.x_test[:70, :, :, 0], mnist.y_test[:70].astype(int)


def save(images, labels, start, stop, misread_every=0):
    """Save drawings start..stop-1; with misread_every=k every k-th gets a wrong true label."""
    store = resources.store()
    for i in range(start, stop):
        wrong = misread_every and i % misread_every == 0
        store.add_drawing(images[i], (labels[i] + 1) % 10 if wrong else labels[i], None, None)


def tile_captions(at):
    return [m.value for m in at.markdown if m.value.startswith("**")]


def open_page(page):
    """Like tests.test_app.open_page, with the bundled model's background load finished
    (until then the wall shows drawings without answers; see the test for that)."""
    at = open_app_page(None)
    resources.model_cache().warm_up_in_background("bundled").join(timeout=120)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def edit_open(at, drawing_id):
    at.session_state[f"edit-{drawing_id}"] = True
    at.run()
    assert not at.exception, at.exception


def test_class_page_with_no_drawings_says_where_they_come_from():
    at = open_page(CLASS_PAGE)
    assert any("No saved drawings yet" in i.value for i in at.info)
    assert not at.get("image") and not at.metric


def test_class_page_shows_tiles_and_a_drawing_saved_meanwhile(test_digits):
    images, labels = test_digits
    save(images, labels, 0, 20, misread_every=7)
    at = open_page(CLASS_PAGE)
    assert len(at.get("image")) == 20
    captions = tile_captions(at)
    wrong = [c for c in captions if "✗ read as" in c]
    assert len(wrong) == 3 and all(c.startswith("**") and ":red[" in c for c in wrong)
    assert [m.value for m in at.metric] == ["20", "85.0%", "3"]
    save(images, labels, 20, 21)                  # another student's save
    at.run()
    assert len(at.get("image")) == 21 and at.metric[0].value == "21"
    assert tile_captions(at)[0] == f"**{labels[20]}** :green[✓]"       # newest first


def test_tiles_show_at_once_while_the_model_is_still_loading(test_digits, monkeypatch):
    from types import SimpleNamespace

    loading = SimpleNamespace(is_loaded=lambda ref: False,
                              warm_up_in_background=lambda ref: SimpleNamespace(
                                  is_alive=lambda: True))
    images, labels = test_digits
    save(images, labels, 0, 5)
    at = open_app_page(None)
    real = resources.model_cache
    monkeypatch.setattr(resources, "model_cache", lambda: loading)
    at.switch_page(CLASS_PAGE).run()
    assert len(at.get("image")) == 5 and all(":gray[…]" in c for c in tile_captions(at))
    assert any("Reading 5 more drawings" in c.value for c in at.caption)
    monkeypatch.setattr(resources, "model_cache", real)   # loaded now
    resources.model_cache().warm_up_in_background("bundled").join(timeout=120)
    at.run()
    assert len(tile_captions(at)) == 5 and all(":green[✓]" in c for c in tile_captions(at))


def test_class_page_filters_and_pages(test_digits):
    images, labels = test_digits
    save(images, labels, 0, 70, misread_every=7)
    at = open_page(CLASS_PAGE)
    assert len(at.get("image")) == 60
    at.number_input(key="class_page").set_value(2).run()
    assert len(at.get("image")) == 10
    at.toggle(key="class_wrong_only").set_value(True).run()
    captions = tile_captions(at)
    assert len(captions) == 10 and all("✗ read as" in c for c in captions)
    assert at.number_input(key="class_page").value == 1                # filters reset the page
    digit = int((labels[0] + 1) % 10)
    at.button_group(key="class_digit").set_value(digit).run()
    assert tile_captions(at) and all(c.startswith(f"**{digit}** :red[")
                                     for c in tile_captions(at))


def test_teacher_relabels_and_deletes_when_no_key_is_configured(test_digits):
    images, labels = test_digits
    save(images, labels, 0, 3)
    at = open_page(CLASS_PAGE)
    assert not any("teacher only" in c.value for c in at.caption)
    edit_open(at, 2)
    new = (labels[1] + 3) % 10
    at.button_group(key=f"label-2-{labels[1]}").set_value(new)
    at.button(key="relabel-2").click().run()
    assert not at.exception and "is now labelled" in at.toast[0].value
    assert resources.store().get_drawings([2])[0].label == new
    assert any(f"**{new}** :red[**✗ read as {labels[1]}**]" == c for c in tile_captions(at))
    edit_open(at, 3)
    at.button(key="delete-3").click().run()
    assert any("Deleted drawing #3." in m.value for m in at.markdown)
    assert [d.id for d in resources.store().list_drawings()] == [2, 1]
    assert len(at.get("image")) == 2
    by_label(at.button, "Undo").click().run()                       # a slip, taken back
    assert not at.exception and "Restored drawing #3" in at.toast[0].value
    assert [d.id for d in resources.store().list_drawings()] == [3, 2, 1]
    assert len(at.get("image")) == 3


def test_the_teacher_deletes_a_selection_or_the_last_minutes_and_can_undo(test_digits):
    images, labels = test_digits
    save(images, labels, 0, 6)
    at = open_page(CLASS_PAGE)
    at.toggle(key="class_selecting").set_value(True).run()
    for drawing_id in (2, 5):
        at.checkbox(key=f"pick-{drawing_id}").check().run()
    by_label(at.button, "Delete the 2 selected").click().run()
    assert not at.exception
    assert [d.id for d in resources.store().list_drawings()] == [6, 4, 3, 1]
    assert any("Deleted 2 drawings (the selected drawings)" in m.value for m in at.markdown)
    by_label(at.button, "Undo").click().run()
    assert [d.id for d in resources.store().list_drawings()] == [6, 5, 4, 3, 2, 1]
    by_label(at.button, "Delete these 6").click().run()             # all of the last 10 minutes
    assert resources.store().list_drawings() == []
    assert any("No saved drawings yet" in i.value for i in at.info)
    by_label(at.button, "Undo").click().run()
    assert len(resources.store().list_drawings()) == 6


def test_a_locked_student_cannot_edit_and_the_server_refuses_a_stale_button(test_digits,
                                                                            monkeypatch):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "owl-42")
    images, labels = test_digits
    save(images, labels, 0, 3)
    at = open_page(CLASS_PAGE)
    assert any("teacher only" in c.value for c in at.caption)
    assert not at.get("popover") and not [b for b in at.button if b.key.startswith("delete")]
    edit_open(at, 1)                      # even asking for the editor shows no controls
    assert not [b for b in at.button if (b.key or "").startswith(("delete", "relabel"))]

    at.sidebar.text_input(key="teacher_key_attempt").input("owl-42")
    at.button(key="FormSubmitter:teacher_unlock-Unlock").click().run()
    edit_open(at, 1)
    delete = at.button(key="delete-1")
    resources.teacher_sessions().close(at.session_state[session.TEACHER_TOKEN])  # locked
                                                                  # meanwhile (another tab)
    delete.click().run()
    assert not at.exception and "Only the teacher" in at.toast[0].value
    assert len(resources.store().list_drawings()) == 3


def test_two_teachers_deleting_and_relabelling_one_drawing(test_digits):
    images, labels = test_digits
    save(images, labels, 0, 2)
    first, second = open_page(CLASS_PAGE), open_page(CLASS_PAGE)
    edit_open(first, 2)
    edit_open(second, 2)
    first.button(key="delete-2").click().run()
    second.button(key="relabel-2").click().run()
    assert not first.exception and not second.exception
    assert any("Deleted drawing #2" in m.value for m in first.markdown)
    assert second.toast[0].value == ("Nothing changed: drawing #2 was already deleted by "
                                     "someone else.")
    assert [d.id for d in resources.store().list_drawings()] == [1]


def test_class_page_with_an_unusable_lab_home_shows_why(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_LAB_HOME", str(blocker / "home"))
    at = open_page(CLASS_PAGE)
    assert any("cannot be used" in e.value for e in at.error)



def test_analyze_counts_each_drawing_once_and_links_to_the_class_page(test_digits,
                                                                      synthetic_app_data):
    from mnist_core.lab.drawings import DuplicateDrawing

    images, labels = test_digits
    save(images, labels, 0, 4)
    for _ in range(5):                    # the same drawing again: refused, not counted
        with pytest.raises(DuplicateDrawing):
            save(images, labels, 0, 1)
    at = open_page("pages/2_Analyze.py")
    assert any(m.label == "Accuracy on 4 saved drawings" for m in at.metric)
    assert [link.proto.page for link in at.main.get("page_link")
            if link.proto.label.startswith("See every drawing")] == ["Class"]


# --- a flood of saves ----------------------------------------------------------------------


def test_a_flood_of_saves_neither_slows_predictions_nor_damages_the_store(bundled_model):
    """One thread saves different drawings as fast as it can, as 30 students hammering Save
    would (each limited like the Draw page, one save a second) plus a client that ignores the
    limit; meanwhile another session's drawing is classified at about its normal speed."""
    from mnist_core.drawing.inference import Predictor
    from mnist_core.classroom.ratelimit import RateLimiter
    from mnist_core.drawing.synthetic import drawn_digits

    predictor = Predictor(bundled_model)
    canvas = drawn_digits(1, seed=11)[0][0]

    def latencies(n=40):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            assert predictor.classify(canvas).digit is not None
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    latencies(10)                                   # warm up
    quiet = latencies()
    store = RunStore()
    stop = threading.Event()
    tally = {"saved": 0, "limited": 0, "errors": []}

    def flood():
        rng = np.random.default_rng(0)
        sessions = [RateLimiter(1, 1.0) for _ in range(30)] + [None]   # None: no limit
        while not stop.is_set():
            for limit in sessions:
                if limit is not None and not limit.allow():
                    tally["limited"] += 1
                    continue
                try:
                    store.add_drawing(rng.random((28, 28)), int(rng.integers(10)), None, None)
                    tally["saved"] += 1
                except Exception as e:  # noqa: BLE001 - asserted empty below
                    tally["errors"].append(repr(e))

    writer = threading.Thread(target=flood)
    writer.start()
    try:
        time.sleep(0.3)
        busy = latencies()
    finally:
        stop.set()
        writer.join(timeout=60)
    assert tally["errors"] == [] and tally["saved"] > 30 and tally["limited"] > 0
    assert busy < 3 * quiet + 0.05, f"median {1000 * busy:.1f} ms vs {1000 * quiet:.1f} ms"
    with sqlite3.connect(store.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows, hashes = db.execute("SELECT COUNT(*), COUNT(DISTINCT hash) FROM drawings"
                                  ).fetchone()
    assert rows == hashes == tally["saved"] == sum(store.label_counts().values())


def test_a_damaged_drawing_row_shows_grey_on_the_wall_and_is_skipped_by_analyze(lab_home):
    from mnist_core.lab.drawings import UNREADABLE
    from mnist_core.lab.store import RunStore

    store = RunStore()
    good = store.add_drawing(np.full((28, 28), 0.5, np.float32), 3, 3, "bundled")
    with store.connect() as db:
        db.execute("INSERT INTO drawings (created_at, label, predicted, model, image, hash) "
                   "VALUES (0, 4, NULL, NULL, ?, 'broken')", (b"\x00" * 100,))
    page = store.list_drawings()
    assert [d.id for d in page][-1] == good and (page[0].image == UNREADABLE).all()
    images, labels = store.drawings()
    assert images.shape == (1, 28, 28, 1) and labels.tolist() == [3]
