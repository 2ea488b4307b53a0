"""The Train page under AppTest: the architecture builder, bad input refused by name, and
runs started, shared, stopped and failed."""
import re
import time
from dataclasses import replace

import pytest

from ui import builder, models, resources, session
from mnist_core.training.presets import PRESETS
from mnist_core.lab.store import RunStore
from tests.helpers import by_label, open_page

TRAIN = "pages/1_Train.py"


def _editor(at):
    return at.session_state[builder.EDITOR]


def _rows(at) -> list[str]:
    """The layer rows as shown: "**1** Conv2D 16 3x3 relu  \\n:gray[→ 26×26×16, ...]"."""
    return [m.value for m in at.markdown if re.match(r"(:red\[)?\*\*\d+\*\* ", m.value)]


def _field(at, index: int, name: str):
    return at.number_input(key=_editor(at).key(index, name))


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


def _nothing_started(at) -> bool:
    return resources.job_registry().current is None and not resources.store().list_runs()


def _start(at):
    by_label(at.button, "Start training").click().run()
    assert not at.exception, at.exception
    return at


# --- the builder -------------------------------------------------------------------------------

def test_the_builder_shows_each_layers_shape_and_parameters_and_the_caps():
    at = open_page(TRAIN)
    rows = _rows(at)
    assert len(rows) == 7
    assert rows[0].startswith("**1** Conv2D 16 5x5 stride 2 relu")
    assert "→ 12×12×16, 416 parameters" in rows[0]
    assert "→ 128, 102,528 parameters" in rows[5]
    text = " ".join(m.value for m in at.markdown)
    assert "**108,874 parameters** in 7 layers" in text
    captions = " ".join(c.value for c in at.caption)
    assert "At most 32 layers: plain stacks deeper" in captions
    assert "At most 5,000,000 parameters: a bigger model" in captions
    assert "timed on a few batches" in captions and "for 4 epochs" in captions


@pytest.mark.slow
def test_add_move_and_remove_change_the_table():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Layer type").set_value("batchnorm").run()
    by_label(at.button, "Add layer").click().run()          # before the output, by default
    rows = _rows(at)
    assert len(rows) == 8 and rows[6].startswith("**7** BatchNorm")
    assert "→ 128, 256 parameters" in rows[6]
    ids = list(_editor(at).ids)
    at.button(key=f"up-{ids[6]}").click().run()              # above Dense 128
    rows = _rows(at)
    assert rows[5].startswith("**6** BatchNorm") and "→ 800, 1,600 parameters" in rows[5]
    at.button(key=f"down-{ids[0]}").click().run()            # the 5x5 below the 3x3 Conv2D
    assert _rows(at)[0].startswith("**1** Conv2D 32 3x3") and "→ 26×26×32, 320" in _rows(at)[0]
    at.button(key=f"remove-{ids[6]}").click().run()
    rows = _rows(at)
    assert len(rows) == 7 and not any("BatchNorm" in r for r in rows)
    assert not at.exception and not at.error
    by_label(at.button, "Undo my changes").click().run()
    assert _rows(at)[0].startswith("**1** Conv2D 16") and not _editor(at).changed


def test_editing_a_field_updates_its_row_at_once_and_survives_reruns():
    at = open_page(TRAIN)
    _field(at, 0, "filters").set_value(16).run()
    assert _rows(at)[0].startswith("**1** Conv2D 16 5x5 stride 2 relu")
    assert "→ 12×12×16, 416 parameters" in _rows(at)[0]
    at.run()
    at.switch_page("pages/3_Draw.py").run()
    at.switch_page(TRAIN).run()                               # away and back: still there
    assert _rows(at)[0].startswith("**1** Conv2D 16 5x5 stride 2 relu")
    assert _field(at, 0, "filters").value == 16


def test_an_invalid_stack_is_explained_by_layer_and_start_is_refused():
    at = open_page(TRAIN)
    for _ in range(3):                                        # 5x5 -> 2x2 -> 1x1 -> nothing
        by_label(at.selectbox, "Layer type").set_value("maxpool").run()
        at.selectbox(key=next(s.key for s in at.selectbox if s.label == "Position")) \
            .set_value(3).run()
        by_label(at.button, "Add layer").click().run()
    message = "layer 6 (MaxPool): 2x2 pooling of a 1x1 map"
    assert any(message in e.value for e in at.error)
    assert any(r.startswith(":red[**6** MaxPool") for r in _rows(at))
    assert any("fix the stack first" in c.value for c in at.caption)
    _start(at)
    assert any(e.value.startswith("Not started: " + message) for e in at.error), _errors(at)
    assert _nothing_started(at)


@pytest.mark.parametrize("field, value, expected", [
    ("filters", 0, "layer 1 (Conv2D): filters must be between 1 and 512, not 0"),
    ("filters", 10_000, "layer 1 (Conv2D): filters must be between 1 and 512, not 10000"),
    ("kernel", 9, "layer 1 (Conv2D): kernel must be between 1 and 7, not 9"),
    ("stride", 0, "layer 1 (Conv2D): stride must be between 1 and 4, not 0"),
])
def test_a_layer_field_out_of_range_names_the_layer_and_field(field, value, expected):
    at = open_page(TRAIN)
    _field(at, 0, field).set_value(value).run()
    assert _field(at, 0, field).value == value               # what is shown is kept...
    assert expected in _errors(at)                            # ...and explained
    _start(at)
    assert any(e.value.startswith(f"Not started: {expected}") for e in at.error)
    assert _nothing_started(at)


def test_float_fields_and_wrong_types_are_explained_too():
    at = open_page(TRAIN)
    _field(at, 4, "rate").set_value(0.95).run()              # Dropout 0.3 -> 0.95
    assert "layer 5 (Dropout): rate must be between 0 and 0.9, not 0.95" in _errors(at)
    _field(at, 4, "rate").set_value(0.5).run()
    assert not at.error and _rows(at)[4].startswith("**5** Dropout 0.5")
    ed = _editor(at)                                          # a layer that arrives with text
    ed.remove(5)                                              # where a number belongs
    ed.add("dense", 5)
    ed.set_field(5, "units", "128")
    at.run()
    assert "layer 6 (Dense): units must be a whole number, not '128'" in _errors(at)
    assert _field(at, 5, "units").value is None               # shown empty, not as 128
    _start(at)
    assert _nothing_started(at)


@pytest.mark.parametrize("label, value, expected", [
    ("Epochs", 0, "Epochs must be from 1 to 200"),
    ("Epochs", 10_000, "Epochs must be from 1 to 200"),
    ("Batch size", 1, "Batch size must be from 8 to 4096"),
    ("Learning rate", 0.0, "Learning rate must be from 0.000001 to 1"),
    ("Learning rate", 10.0, "Learning rate must be from 0.000001 to 1"),
])
def test_settings_out_of_range_are_refused_naming_the_field(label, value, expected):
    at = open_page(TRAIN)
    by_label(at.number_input, label).set_value(value).run()
    assert by_label(at.number_input, label).value == value    # the browser keeps what it shows
    _start(at)
    assert any(e.value.startswith(f"Not started: {expected}") for e in at.error), _errors(at)
    assert f"not {value:g}" in _errors(at)
    assert _nothing_started(at)


def test_every_problem_is_listed_when_several_fields_are_wrong():
    at = open_page(TRAIN)
    _field(at, 0, "filters").set_value(0).run()
    by_label(at.number_input, "Epochs").set_value(0)
    by_label(at.number_input, "Learning rate").set_value(10.0).run()
    _start(at)
    refusal = next(e.value for e in at.error if e.value.startswith("Not started:"))
    assert "- layer 1 (Conv2D): filters must be between 1 and 512, not 0" in refusal
    assert "- Epochs must be from 1 to 200" in refusal
    assert "- Learning rate must be from 0.000001 to 1" in refusal and "not 10" in refusal
    assert _nothing_started(at)


def test_the_learning_rate_states_its_true_range_and_shows_small_rates():
    at = open_page(TRAIN)
    rate = by_label(at.number_input, "Learning rate")
    assert rate.help.startswith("From 0.000001 to 1:")
    assert rate.proto.default == 0.003 and rate.proto.format == "%g"   # 0.00001, not 0.0000
    assert by_label(at.number_input, "Epochs").help.startswith("From 1 to 200:")
    assert rate.proto.has_min is False and rate.proto.has_max is False


def test_a_batch_larger_than_the_training_set_is_refused_before_starting():
    at = open_page(TRAIN)
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Batch size").set_value(2000)
    _start(at)
    assert any("larger than the 900 training images" in e.value for e in at.error)
    assert _nothing_started(at)


def test_dense_only_is_a_start_that_says_what_it_shows():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Start from").set_value("preset:dense-only").run()
    assert [r.split("  \n")[0] for r in _rows(at)] == [
        "**1** Flatten", "**2** Dense 256 relu", "**3** Dropout 0.2", "**4** Dense 10 softmax"]
    assert any("No convolution" in c.value and "what convolution buys" in c.value
               for c in at.caption)
    assert by_label(at.number_input, "Epochs").value == 10


def test_starting_from_a_past_run_loads_its_layers_and_settings():
    from mnist_core.model.spec import ModelSpec, layer

    spec = ModelSpec("tiny", (layer("conv2d", filters=4, kernel=5, stride=2),
                              layer("gap"), layer("dense", units=10, activation="softmax")))
    config = replace(PRESETS["fast"].config, spec=spec, preset="custom", epochs=4,
                     batch_size=64, limit=2000)
    store = RunStore()
    run_id = store.create_run(config.to_dict(), "MNIST")
    store.finish_run(run_id, status="done", history=[], test_accuracy=0.5)
    tuned = store.create_run({"preset": "fine-tune", "from": "bundled"}, "drawings")
    store.finish_run(tuned, status="done", history=[])
    at = open_page(TRAIN)
    assert any("1 past run(s) cannot be a starting point" in e.label for e in at.expander)
    assert any(tuned in c.value and "finetune --from bundled" in c.value for c in at.caption)
    by_label(at.selectbox, "Start from").set_value(f"run:{run_id}").run()
    assert [r.split("  \n")[0] for r in _rows(at)] == [
        "**1** Conv2D 4 5x5 stride 2 relu", "**2** GlobalAveragePooling", "**3** Dense 10 softmax"]
    assert by_label(at.number_input, "Epochs").value == 4
    assert by_label(at.number_input, "Batch size").value == 64
    assert by_label(at.select_slider, "Training images").value == 2000
    assert not at.exception and not at.error


@pytest.mark.slow
def test_a_valid_edited_spec_trains_and_its_run_records_the_full_spec():
    at = open_page(TRAIN)
    _field(at, 5, "units").set_value(32).run()               # Dense 128 -> 32
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Epochs").set_value(1)
    _start(at)
    assert not at.error
    job = resources.job_registry().current
    assert job.join(timeout=120) and job.snapshot().status == "done"
    record = RunStore().get_run(job.snapshot().run_id)
    spec = record.config["spec"]
    assert record.preset == "custom" and spec["name"] == "fast (edited)"
    assert spec["layers"][5] == {"type": "dense", "units": 32, "activation": "relu"}
    assert [l["type"] for l in spec["layers"]] == [l.type for l in PRESETS["fast"].spec.layers]
    assert record.config["epochs"] == 1 and record.config["limit"] == 1000


def test_an_unchanged_start_keeps_its_preset_name():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Start from").set_value("preset:dense-only").run()
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Epochs").set_value(1)
    _start(at)
    job = resources.job_registry().current
    assert job.config.preset == "dense-only" and job.config.spec == PRESETS["dense-only"].spec
    job.stop()
    assert job.join(timeout=60)


@pytest.mark.slow
def test_no_timing_while_a_job_trains(monkeypatch):
    from mnist_core.training.presets import preset_config

    open_page(TRAIN)
    job = resources.job_registry().start(preset_config("fast", epochs=30, limit=3000), resources.mnist(),
                                         resources.store())
    assert builder.seconds_per_epoch(preset_config("fast"), 60_000) is None
    job.stop()
    assert job.join(timeout=60)
    assert builder.seconds_per_epoch(preset_config("fast"), 60_000) > 0


def test_the_timing_augments_when_the_run_will(monkeypatch):
    from mnist_core.training import estimate
    from mnist_core.training.presets import preset_config

    asked = []
    monkeypatch.setattr(estimate, "time_steps", lambda spec, batch, precision, aug: (
        asked.append(aug), estimate.StepTiming(0.01, batch, "float32", 7))[1])
    resources.step_timing.clear()
    lesson = preset_config("lesson")
    assert builder.seconds_per_epoch(lesson, 60_000) > 0
    assert builder.seconds_per_epoch(preset_config("fast"), 60_000) > 0
    assert asked == [lesson.augmentation, None]
    resources.step_timing.clear()


@pytest.mark.slow
def test_the_augmentation_preview_uses_the_starts_augmentation():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Start from").set_value("preset:best").run()
    assert by_label(at.toggle, "Augmentation (rotate, zoom, shift)").value is True
    by_label(at.toggle, "Preview augmented samples").set_value(True).run()
    assert not at.exception and at.get("image")


@pytest.mark.parametrize("teacher", [True, False])
def test_mnist_is_read_when_someone_who_may_start_opens_the_page(monkeypatch, teacher):
    """The first Start of a server should not wait for MNIST: whoever may press Start opens the
    page and the reading begins; a locked student's page reads nothing."""
    from mnist_core.data import mnist as data

    reads = []
    real = data.start_loading_mnist
    monkeypatch.setattr(data, "start_loading_mnist",
                        lambda *a, **k: (reads.append(a), real(*a, **k))[1])
    if not teacher:
        monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "a-key")
    open_page(TRAIN)
    assert reads == ([()] if teacher else [])
    assert resources.mnist().x_train.shape == (60000, 28, 28, 1)
    assert len(reads) == 1   # Start, or a student's Analyze page, reads it only once


# --- runs: started, shared, stopped, failed ----------------------------------------------------

def _watch_it_learn_shown(at, epochs: list[int], more: bool = False) -> bool:
    """The page shows "Watch it learn": its heading, the probabilities chart, and one kernel
    picture per epoch in `epochs`, captioned (and, with `more`, any later ones: a live run
    may have ended another epoch by the time the page runs)."""
    if not any(m.value == "#### Watch it learn" for m in at.markdown):
        return False
    charts = [c for c in at.get("plotly_chart") if "learning_chart" in c.proto.id]
    captions = [c for image in at.get("image") for c in image.captions if c.startswith("epoch")]
    shown = captions[:len(epochs)] if more else captions
    return len(charts) == 1 and shown == [f"epoch {e}" for e in epochs]


def test_train_runs_a_tiny_job_and_shows_the_finished_run():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Start from").set_value("preset:fast")
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Epochs").set_value(1)
    _start(at)
    assert not at.error
    job = resources.job_registry().current
    assert job is not None
    assert job.join(timeout=120) and job.snapshot().status == "done"
    at.run()
    assert any("test accuracy" in s.value for s in at.success)
    # Watch it learn: the finished run's strip stays, epoch 0 (random) and epoch 1.
    assert [r["epoch"] for r in job.snapshot().learning] == [0, 1]
    assert _watch_it_learn_shown(at, epochs=[0, 1])
    run = resources.store().list_runs()[0]
    assert run.status == "done" and run.has_model and run.preset == "fast"
    by_label(at.button, "Use it in this browser").click().run()
    assert at.session_state[session.MODEL_PICK] == run.id
    assert resources.store().class_model() == "bundled"           # nobody else's model changed
    by_label(at.button, "Make it the class model").click().run()
    assert resources.store().class_model() == run.id
    assert at.session_state[session.MODEL_PICK] == models.FOLLOW_CLASS
    picker = at.sidebar.selectbox(key=session.MODEL_PICKER)
    assert picker.value == models.FOLLOW_CLASS and picker.options[0].startswith(
        "Class model: fast · ")
    assert by_label(at.selectbox, "Start from").options[-1].startswith("run fast · ")


@pytest.mark.slow
def test_two_sessions_share_one_job_and_a_second_start_is_refused():
    from mnist_core.jobs.registry import JobBusy
    from mnist_core.training.presets import preset_config

    first = open_page(TRAIN)
    by_label(first.select_slider, "Training images").set_value(3000)
    by_label(first.number_input, "Epochs").set_value(30)
    _start(first)
    job = resources.job_registry().current
    deadline = time.monotonic() + 60
    while job.snapshot().batch == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    second = open_page(TRAIN)   # another browser: sees the same live run...
    assert any(sub.value.startswith(job.config.preset) for sub in second.subheader)
    assert second.get("progress") and second.get("plotly_chart")  # progress and live chart
    assert _watch_it_learn_shown(second, epochs=[0], more=True)   # from the random start on
    assert not [b for b in second.button if b.label == "Start training"]  # ...and no Start
    with pytest.raises(JobBusy, match="already running"):
        resources.job_registry().start(preset_config("fast"), resources.mnist(), None)
    by_label(second.button, "Stop training").click().run()
    by_label(second.button, "Yes, stop").click().run()
    assert job.join(timeout=60) and job.snapshot().status == "stopped"


def test_a_big_class_watching_refreshes_less_often_but_the_teachers_page_does_not(monkeypatch):
    """Thirty watchers redrawing every 2 s cost the training a quarter of its speed: beyond ten
    the students' pages refresh less often (and say so); the unlocked teacher's page, the one on
    the projector, keeps its 2 s."""
    from mnist_core.training.presets import preset_config

    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", "a-key")
    job = resources.job_registry().start(preset_config("fast", epochs=30, limit=3000), resources.mnist(),
                                         None)
    slower = "Updated every 6 s: many browsers are watching this run."
    few = open_page(TRAIN)   # a student, with nobody else watching
    assert not [c for c in few.caption if c.value == slower]
    for i in range(29):
        resources.train_page_watchers().seen(f"another browser {i}")
    student = open_page(TRAIN)
    assert [c for c in student.caption if c.value == slower]
    assert student.get("plotly_chart")   # the live view itself is unchanged
    teacher = open_page(TRAIN)
    teacher.sidebar.text_input(key="teacher_key_attempt").input("a-key")
    teacher.sidebar.button[0].click().run()   # the form's "Unlock" submit button
    assert any(b.label == "Stop training" for b in teacher.button)   # unlocked
    assert not [c for c in teacher.caption if c.value == slower]
    job.stop()
    assert job.join(timeout=60)


def test_a_failure_inside_training_is_shown_and_the_app_keeps_working(monkeypatch):
    import mnist_core.jobs.thread_job as jobs

    def explode(*args, **kwargs):
        raise RuntimeError("out of memory while training")

    monkeypatch.setattr(jobs, "train", explode)
    at = open_page(TRAIN)
    by_label(at.select_slider, "Training images").set_value(1000)
    _start(at)
    job = resources.job_registry().current
    assert job.join(timeout=60) and job.snapshot().status == "failed"
    at.run()
    assert any("out of memory while training" in e.value for e in at.error)
    assert [b for b in at.button if b.label == "Start training"]  # a new run can start
    assert resources.store().list_runs()[0].status == "failed"
    assert not open_page("pages/3_Draw.py").exception             # other pages still work


def _interrupted(config: dict) -> str:
    store = RunStore()
    run_id = store.create_run(config, "MNIST IDX files in /data")
    with store.connect() as db:   # the process that trained it has died
        db.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (run_id,))
    return run_id


def test_an_interrupted_custom_run_restarts_with_its_own_layers():
    from mnist_core.model.spec import ModelSpec, layer

    spec = ModelSpec("fast (edited)", (layer("flatten"),
                                       layer("dense", units=10, activation="softmax")))
    config = replace(PRESETS["fast"].config, spec=spec, preset="custom", epochs=30, limit=3000)
    _interrupted(config.to_dict())
    at = open_page(TRAIN)
    by_label(at.button, "Start it again with the same settings").click().run()
    job = resources.job_registry().current
    assert job is not None and job.config == config
    job.stop()
    assert job.join(timeout=60)


def test_an_interrupted_run_with_a_hand_edited_record_says_why_it_cannot_restart():
    config = PRESETS["fast"].config.to_dict()
    config["spec"]["layers"][0]["filters"] = 0
    run_id = _interrupted(config)
    at = open_page(TRAIN)
    assert not at.exception
    assert any(c.value.startswith(f"It cannot be started again here: run {run_id}'s recorded")
               and "layer 1 (Conv2D): filters" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "Start it again with the same settings"]
    assert [b for b in at.button if b.label == "Start training"]     # a new run still can


def test_a_run_interrupted_by_the_servers_death_says_so_and_offers_its_best_epoch():
    """What an orphaned training child records (mnist_core.jobs.child_training: the server was
    killed alone): the next server's Train page says it was interrupted, and its model, from
    the finished epochs, is in the model lists."""
    from mnist_core.jobs.child_training import ORPHANED
    from mnist_core.model.build import build_model

    config = replace(PRESETS["dense-only"].config, epochs=4)
    store = RunStore()
    run_id = store.create_run(config.to_dict(), "MNIST")
    store.finish_run(run_id, status="interrupted", history=[{"epoch": 1}, {"epoch": 2}],
                     model=build_model(config.spec, "float32"), error=ORPHANED)
    at = open_page(TRAIN)
    warning = next(w.value for w in at.warning if "was interrupted" in w.value)
    assert "after 2 of 4 epochs" in warning and "best weights so far as a model" in warning
    assert any(run_id in o for o in at.sidebar.selectbox(key=session.MODEL_PICKER).options)
    assert [b for b in at.button if b.label == "Start it again with the same settings"]


@pytest.mark.slow
def test_start_then_stop_at_once_says_no_model_was_kept():
    at = open_page(TRAIN)
    by_label(at.selectbox, "Start from").set_value("preset:fast")
    by_label(at.number_input, "Epochs").set_value(3)
    _start(at)
    job = resources.job_registry().current
    job.stop()
    assert job.join(timeout=120) and job.snapshot().status == "stopped"
    at.run()
    assert any("no model was kept" in i.value for i in at.info)
    assert not [b for b in at.button if b.label in ("Make it the class model",
                                                     "Use it in this browser")]
    assert len(models.models()) == 1 and resources.store().list_runs()[0].status == "stopped"
