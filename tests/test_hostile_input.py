"""Hostile input gets a message, never a traceback (issue 34, part 3).

Each test is one probe: a run record edited in the database, a model card, a Kaggle CSV, a
drawing's value, an architecture file for the command line. Each must end in a message that
says what is wrong, and every page must keep working for everyone else.
"""
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
from contextlib import closing

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ui import navigation, resources, text
import ui.canvas as draw_canvas
from mnist_core.lab import catalog
from mnist_core import settings
from mnist_core.training.config import ConfigError
from mnist_core.data.dataset import DataError
from mnist_core.data.kaggle import MAX_LINE_BYTES, read_kaggle_csv
from mnist_core.training.presets import config_from_dict, get_preset, preset_config
from mnist_core.model.spec import ModelSpec, SpecError, keras_name, layer
from mnist_core.lab.db import StoreError
from mnist_core.lab.runs import BUNDLED, DamagedRun
from mnist_core.lab.store import RunStore
from mnist_core.drawing.strokes import render_strokes, validate_strokes
from tests.helpers import OLD_SCHEMA, ROOT, FakeModel, TIMEOUT

HUGE = int("9" * 400)
PIXELS = ",".join(f"pixel{i}" for i in range(784))


def nested(depth: int = 5000) -> list:
    """A list nested `depth` deep, built without recursion (str() of it: RecursionError)."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def unescaped(text: str) -> str:
    """What a Markdown renderer shows for text escaped by text.plain."""
    return re.sub(r"\\(.)", r"\1", text)


def renders_as_text(source: str, text: str) -> bool:
    """Markdown `source` renders as exactly `text`, in one paragraph: no image, link, emphasis,
    code, heading, list or HTML (markdown-it-py: CommonMark, as Streamlit's renderer)."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml

    markdown = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return markdown.render(source) == f"<p>{escapeHtml(text)}</p>\n"


def page(path: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if path:
        at.switch_page(path).run()
    return at


# --- run records edited in the database ---------------------------------------------------------

def _finished_run(store: RunStore, config: dict | None = None) -> str:
    run_id = store.create_run(config or preset_config("fast", epochs=1).to_dict(), "MNIST")
    store.finish_run(run_id, status="done", model=FakeModel(), test_accuracy=0.97,
                     history=[{"epoch": 1, "accuracy": 0.9, "val_accuracy": 0.95}])
    return run_id


def _edit(store: RunStore, run_id: str, **columns) -> None:
    """Edit a run's row behind the store's back, as someone with the sqlite3 shell would."""
    with closing(sqlite3.connect(store.db_path)) as db, db:
        for column, value in columns.items():
            db.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, run_id))


DAMAGE = {
    "invalid JSON": ({"config": '{"preset": "fast", "epochs": 4'}, "config is not valid JSON"),
    "400-digit integer": ({"config": json.dumps(preset_config("fast", epochs=1).to_dict()).replace(
        '"epochs": 1', f'"epochs": {HUGE}')}, "config holds a number too large to use"),
    "deep nesting": ({"history": "[" * 100_000 + "]" * 100_000},
                     "history is nested too deeply"),
    "accuracy as text": ({"test_accuracy": "ninety-nine"},
                         "test_accuracy is 'ninety-nine', not a number"),
    "config a list": ({"config": '["fast"]'}, "config is list, not a JSON object"),
    "model outside the store": ({"model_file": "../../elsewhere.keras"},
                                "is not a model's name in the models folder"),
}


def _damaged_store(lab_home, damage: dict) -> tuple[RunStore, str, str]:
    store = RunStore(lab_home)
    good = _finished_run(store)
    time.sleep(0.01)    # the damaged run is the newest
    bad = _finished_run(store)
    _edit(store, bad, **damage)
    return store, good, bad


@pytest.mark.parametrize("damage, reason", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_run_record_is_skipped_with_its_id_and_reason(lab_home, damage, reason):
    store, good, bad = _damaged_store(lab_home, damage)
    assert [r.id for r in store.list_runs()] == [good]
    runs, damaged = store.read_runs()
    assert [r.id for r in runs] == [good]
    assert [d.run_id for d in damaged] == [bad] and reason in damaged[0].reason
    assert store.latest_run().id == good
    with pytest.raises(DamagedRun, match=re.escape(f"run {bad}'s record is damaged")):
        store.get_run(bad)
    card = json.loads(settings.BUNDLED_MODEL_CARD.read_text())
    assert [m.ref for m in catalog.list_models(store, card)] == [BUNDLED, good]


def test_a_damaged_run_cannot_be_picked_as_the_class_model(lab_home):
    store, _, bad = _damaged_store(lab_home, DAMAGE["invalid JSON"][0])
    with pytest.raises(StoreError, match="record is damaged"):
        store.set_class_model(bad)
    assert store.class_model() == BUNDLED


def test_a_list_as_the_preset_is_an_unknown_architecture_with_the_reason(lab_home):
    store = RunStore(lab_home)
    listed = _finished_run(store, OLD_SCHEMA)
    _edit(store, listed, config=json.dumps({**OLD_SCHEMA, "preset": ["fast"]}))
    card = json.loads(settings.BUNDLED_MODEL_CARD.read_text())
    model = {m.ref: m for m in catalog.list_models(store, card)}[listed]
    assert model.spec is None and "['fast'] is not a preset" in model.spec_problem


CONFIG_OVERFLOWS = {
    "epochs": ({"epochs": HUGE}, "Epochs must be from 1 to 200"),
    "learning rate": ({"learning_rate": HUGE}, "Learning rate must be from"),
    "augmentation": ({"augmentation": {"zoom": HUGE}}, "Zoom must be from"),
    "seed": ({"seed": -HUGE}, "Seed must be a whole number"),
    "limit nested": ({"limit": nested()}, "Training images must be a whole number"),
    "preset list": ({"preset": ["fast"], "spec": None}, "is not a preset"),
    "filters": ({"spec": {"name": "x", "layers": [{"type": "conv2d", "filters": HUGE}]}},
                "filters must be between 1 and 512"),
    "rate": ({"spec": {"name": "x", "layers": [{"type": "dropout", "rate": HUGE}]}},
             "rate must be between 0 and 0.9"),
    "kernel nested": ({"spec": {"name": "x", "layers": [{"type": "conv2d",
                                                           "kernel": nested()}]}},
                      "kernel must be a whole number"),
}


@pytest.mark.parametrize("change, message", CONFIG_OVERFLOWS.values(), ids=CONFIG_OVERFLOWS.keys())
def test_a_config_is_rebuilt_only_if_valid_and_says_why_not(change, message):
    """Overflow, recursion and type errors are ValueErrors with the reason, in short."""
    data = {k: v for k, v in {**preset_config("fast", epochs=1).to_dict(), **change}.items()
            if v is not None}
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        config_from_dict(data)
    assert isinstance(refused.value, (ConfigError, SpecError)) and len(str(refused.value)) < 300


def test_every_page_keeps_working_and_says_which_runs_were_skipped(lab_home, synthetic_app_data):
    store = resources.store()
    good = _finished_run(store)
    damaged = {}
    for name in ("invalid JSON", "400-digit integer", "accuracy as text"):
        run_id = _finished_run(store)
        _edit(store, run_id, **DAMAGE[name][0])
        damaged[run_id] = DAMAGE[name][1]
    for each in navigation.PAGES:
        at = page(None if each == navigation.HOME else each.path)
        assert not at.exception, f"{each.path}: {at.exception}"
        warnings = [unescaped(w.value) for w in at.sidebar.warning]
        for run_id, reason in damaged.items():
            assert any(f"Run {run_id} skipped: its record is damaged" in w and reason in w
                       for w in warnings), (each.path, warnings)
        assert good in at.sidebar.selectbox[0].options or any(
            good in option for option in at.sidebar.selectbox[0].options)


# --- the model card ------------------------------------------------------------------------------

def test_a_card_with_its_accuracy_as_text_breaks_no_page(tmp_path, monkeypatch):
    card = json.loads(settings.BUNDLED_MODEL_CARD.read_text())
    edited = tmp_path / "model.json"
    edited.write_text(json.dumps({**card, "test_accuracy": "99.6%", "preset": ["best"]}))
    monkeypatch.setattr(settings, "BUNDLED_MODEL_CARD", edited)
    bundled = catalog.list_models(None, json.loads(edited.read_text()))[0]
    assert bundled.test_accuracy is None and bundled.label == "Bundled (model)"
    at = page()
    assert not at.exception, at.exception
    assert any(m.value == "Bundled (model)" for m in at.metric)


def test_a_card_nested_too_deeply_is_no_card(tmp_path, monkeypatch):
    edited = tmp_path / "model.json"
    edited.write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.setattr(settings, "BUNDLED_MODEL_CARD", edited)
    assert resources.bundled_card() == {}
    assert catalog.list_models(None, resources.bundled_card())[0].spec_problem


# --- Kaggle CSVs ---------------------------------------------------------------------------------

def _upload(text: str | bytes, name: str = "test.csv") -> io.BytesIO:
    """What st.file_uploader gives a page: an in-memory file with a name."""
    upload = io.BytesIO(text.encode() if isinstance(text, str) else text)
    upload.name = name
    return upload


def _row(value: str = "0", at: int = 5, cells: int = 784) -> str:
    row = ["0"] * cells
    row[at] = value
    return ",".join(row)


@pytest.mark.parametrize("cell, shown", [
    ("1" + "0" * 30, "1000000000...00000000000"),      # 1e30 written out: was IndexError
    ("9" * 400, "9999999999...99999999999"),           # was OverflowError
    ("-" + "9" * 400, "-999999999...99999999999"),
    ("1e30", "1e+30"),                                 # (pandas reads this one as a float)
], ids=["1e30-digits", "400-digits", "minus-400-digits", "1e30-literal"])
def test_a_cell_too_large_for_any_number_type_is_named(cell, shown):
    text = f"{PIXELS}\n{_row()}\n{_row(cell)}\n"
    with pytest.raises(DataError, match=re.escape(
            f"row 2 (line 3), column pixel5: value {shown} is outside the allowed range")):
        read_kaggle_csv(_upload(text), labelled=False)


def test_a_row_with_one_extra_unnamed_column_is_refused_not_shifted():
    """Every row one cell longer than the header (an index written without a name): pandas
    would take it as the index and read every column one to the left, all labels 0."""
    rows = "\n".join(f"{i},3,{_row('0')}" for i in range(300))
    with pytest.raises(DataError, match=re.escape(
            "malformed CSV: row 1 (line 2) has 786 cells, the header 785")):
        read_kaggle_csv(_upload(f"label,{PIXELS}\n{rows}\n", "train.csv"), labelled=True)
    later = f"label,{PIXELS}\n3,{_row()}\n3,{_row()},0\n"
    with pytest.raises(DataError, match=re.escape("malformed CSV: line 3 has 786 cells")):
        read_kaggle_csv(_upload(later, "train.csv"), labelled=True)


class CountingUpload(io.BytesIO):
    """An upload that counts how many bytes were read from it."""
    name = "test.csv"
    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.read_bytes += len(data)
        return data


def test_a_header_of_two_million_columns_is_refused_before_the_body_is_read():
    upload = CountingUpload(b"pixel0," * 2_000_000 + b"pixel1\n" + _row().encode() + b"\n")
    started = time.perf_counter()
    with pytest.raises(DataError, match="header is longer than 16,384 characters"):
        read_kaggle_csv(upload, labelled=False)
    assert time.perf_counter() - started < 0.5
    assert upload.read_bytes <= MAX_LINE_BYTES + 1


def test_file_text_in_an_error_is_shown_as_text_not_markdown(monkeypatch, synthetic_app_data):
    """A header (and a file name) of Markdown: the page's error shows the characters, so no
    image is fetched from another host and no link is drawn."""
    upload = _upload(f"![x](http://host/x.png)\n{_row()}\n", "[y](http://host/y).csv")
    monkeypatch.setattr(st, "file_uploader", lambda *args, **kwargs: upload)
    at = page("pages/2_Analyze.py")
    assert not at.exception, at.exception
    shown = next(e.value for e in at.error if "header does not match" in unescaped(e.value))
    assert "column 1 is '![x](http://host/x.png)'" in unescaped(shown)
    assert renders_as_text(shown, unescaped(shown)), shown
    assert re.search(r"(?<!\\)://", shown) is None, shown   # nor a bare address a link


@pytest.mark.parametrize("hostile", [
    "![x](http://host/x.png)", "<img src=x onerror=alert(1)>", "**b** _i_ `c` ~~s~~", "$x^2$",
    ":red[colour]", "# heading", "- item", "+ item", "1. one", "2) two", "> quote", "***",
    "a | b\n--|--\nc | d", "text\n===", "&lt;b&gt;", "\\*", "[f]: http://x", "<http://x>",
    "run 20261204-101010-abcdef's settings: layer 1 (Conv2D): filters must be 'x'",
])
def test_plain_text_renders_as_the_characters_typed(hostile):
    assert renders_as_text(text.plain(hostile), hostile)


@pytest.mark.parametrize("address", ["http://host/x.png", "https://host", "www.host.com",
                                     "someone@host.com"])
def test_plain_text_makes_no_link_of_a_bare_address(address):
    """GitHub's Markdown (Streamlit's) makes links of these; markdown-it's CommonMark does not,
    so the check is that the signs it looks for are escaped."""
    shown = text.plain(address)
    assert unescaped(shown) == address and re.search(r"(?<!\\)(://|www\.|@)", shown) is None


# --- drawing values ------------------------------------------------------------------------------

@pytest.mark.parametrize("strokes, message", [
    ([[[HUGE, 0.5]]], "not [x, y]"),
    ([[[0.5, -HUGE]]], "not [x, y]"),
    (5, "must be a list"),
    ({"strokes": 5}, "must be a list"),
    ([[nested()]], "not [x, y]"),
    ([[[nested(), 0.5]]], "not [x, y]"),
    ([nested()], "not [x, y]"),
], ids=["400-digit-x", "400-digit-y", "strokes-5", "object", "deep-point", "deep-x",
        "deep-stroke"])
def test_a_malformed_drawing_is_a_short_message(strokes, message):
    for check in (validate_strokes, lambda s: render_strokes(s, 0.07)):
        with pytest.raises(ValueError, match=re.escape(message)) as refused:
            check(strokes)
        assert len(str(refused.value)) < 200


@pytest.mark.parametrize("strokes", [5, [[[HUGE, 0.5]]], nested()],
                         ids=["strokes-5", "400-digits", "deep"])
def test_the_draw_page_says_a_hostile_drawing_could_not_be_read_and_goes_on(monkeypatch,
                                                                              strokes):
    sent = {"drawing": {"generation": 0, "strokes": strokes}}
    monkeypatch.setattr(draw_canvas, "_component", lambda **kwargs: sent)
    at = page("pages/3_Draw.py")
    assert not at.exception, at.exception
    assert any("could not be read" in e.value for e in at.error)
    sent = {}    # the next drawing is an empty canvas: the session is not broken
    at.run()
    assert not at.exception and not at.error
    assert any("Draw a digit" in i.value for i in at.info)


# --- architecture files for the command line ----------------------------------------------------

def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def _spec_text(name: str = "fast", filters: object = 32) -> str:
    spec = get_preset("fast").spec.to_dict()
    spec["name"] = name
    spec["layers"][0]["filters"] = "FILTERS"
    return json.dumps(spec).replace('"FILTERS"', str(filters))


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "is nested too deeply to read"),
    (_spec_text(filters="9" * 400), "holds a number too large to use"),
    (_spec_text(name="-dash"), "the architecture's name must start with a letter or digit"),
], ids=["deep", "400-digits", "dash-name"])
def test_a_bad_architecture_file_is_one_line_before_any_data_loads(tmp_path, monkeypatch,
                                                                   text, message):
    """`--data` names no data at all: the message is about the file, so nothing was loaded."""
    from mnist_core import cli

    spec = tmp_path / "spec.json"
    spec.write_text(text)
    monkeypatch.setattr(cli, "start_loading_mnist", lambda *a, **k: pytest.fail("data was read"))
    assert cli.main(["train", "--spec", str(spec)]) == 2
    started = time.monotonic()
    proc = _cli("train", "--spec", str(spec), "--data", str(tmp_path / "no-data"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr and str(ROOT) not in proc.stderr
    assert time.monotonic() - started < 30


def test_runs_lists_the_readable_runs_and_names_the_damaged_ones(lab_home):
    _, good, bad = _damaged_store(lab_home, DAMAGE["invalid JSON"][0])
    proc = _cli("runs")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert good in proc.stdout and bad not in proc.stdout
    assert f"run {bad} skipped: its record is damaged (config is not valid JSON" in proc.stderr


# --- model names as Keras and TensorFlow take them ----------------------------------------------

def test_our_name_rule_is_tensorflows_root_scope_rule_without_slashes():
    """Every name of one or two printable characters: refused by our check exactly when its
    Keras name breaks TensorFlow's rule for the model's root name scope, or Keras' "no /"."""
    from tensorflow.python.framework.ops import _VALID_OP_NAME_REGEX

    tiny = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]
    printable = [chr(c) for c in range(32, 127)] + ["é", "ß", "\t"]
    names = printable + [a + b for a in ("a", "-", "_", ".", "0") for b in printable]
    for name in names:
        try:
            ModelSpec.from_dict({"name": name, "layers": tiny})
            ours = True
        except SpecError:
            ours = False
        theirs = bool(_VALID_OP_NAME_REGEX.match(keras_name(name))) and "/" not in keras_name(
            name)
        assert ours == theirs, repr(name)


@pytest.mark.parametrize("name", ["a", "Z9", "7up", "fast (edited)", "x-y.z", "a/b", "-dash",
                                  "_under", ".dot", " space", "é", "/slash", ">gt", "\\back"])
def test_a_name_our_check_accepts_trains_in_keras_and_one_it_refuses_would_not(name):
    """The real thing: a model built as mnist_core.model.build builds it, one training step."""
    import keras

    from mnist_core.model.build import build_model

    layers = (layer("flatten"), layer("dense", units=10, activation="softmax"))
    try:
        ModelSpec.from_dict(ModelSpec(name, layers).to_dict())
        accepted = True
    except SpecError:
        accepted = False
    model = build_model(ModelSpec(name, layers))   # built past our check, as before it
    model.compile(keras.optimizers.SGD(), "sparse_categorical_crossentropy")
    try:
        model.fit(np.zeros((2, 28, 28, 1), np.float32), np.zeros(2, np.int64), epochs=1,
                  verbose=0)
        trains = True
    except ValueError:
        trains = False
    assert accepted == trains


# --- what a browser is shown when something fails anyway ----------------------------------------

def test_no_traceback_or_server_path_reaches_a_browser():
    import streamlit.config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert streamlit.config.ShowErrorDetailsConfigOptions.NONE == "none"
