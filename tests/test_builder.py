"""The architecture builder's logic (mnist_core.views.builder) and the measured epoch time
(mnist_core.training.estimate), without Streamlit."""
from dataclasses import replace

import pytest

from mnist_core.views import builder
from mnist_core.views.builder import Editor, Start, edited_name
from mnist_core.training.config import ConfigError
from mnist_core.training.presets import PRESETS
from mnist_core.model.spec import LAYER_TYPES, SpecError
from mnist_core.lab.runs import FINE_TUNE, RunRecord


def _editor(preset: str = "fast") -> Editor:
    start = next(s for s in builder.preset_starts() if s.key == f"preset:{preset}")
    return Editor(start)


def _types(ed: Editor) -> list[str]:
    return [l["type"] for l in ed.layers]


def _run(run_id: str, config: dict, status: str = "done", preset: str | None = None) -> RunRecord:
    return RunRecord(run_id, 0.0, 1.0, preset or config.get("preset", "fast"), config,
                     "MNIST", status, [], 0.99, 0.03, 10.0, None, None)


# --- loading and the unchanged config ----------------------------------------------------------

def test_a_preset_loads_its_layers_and_settings_and_gives_back_its_own_config():
    ed = _editor("best")
    assert _types(ed) == [l.type for l in PRESETS["best"].spec.layers]
    assert ed.settings == {"epochs": 20, "batch_size": 128, "learning_rate": 3e-3,
                           "augment": True, "validation_fraction": 0.1, "size": 60_000}
    assert not ed.changed
    assert ed.config() == PRESETS["best"].config           # label smoothing etc. carried over
    draft = ed.draft()
    assert draft.problem is None and draft.total == 325_994 and len(draft.rows) == 26


def test_loading_another_start_replaces_everything_with_new_ids():
    ed = _editor("fast")
    old_ids, generation = list(ed.ids), ed.generation
    ed.set_setting("epochs", 7)
    ed.load(next(s for s in builder.preset_starts() if s.key == "preset:dense-only"))
    assert _types(ed) == ["flatten", "dense", "dropout", "dense"]
    assert ed.settings["epochs"] == 10 and ed.generation == generation + 1
    assert not set(ed.ids) & set(old_ids)                  # old widgets are not reused


# --- editing -----------------------------------------------------------------------------------

def test_add_goes_before_the_output_by_default_with_the_types_defaults():
    ed = _editor("fast")
    ed.add("batchnorm")
    assert _types(ed)[-2:] == ["batchnorm", "dense"]
    assert ed.layers[-2] == {"type": "batchnorm", "momentum": 0.99}
    ed.add("conv2d", 0)
    assert ed.layers[0] == {"type": "conv2d", **{f.name: f.default
                                                 for f in LAYER_TYPES["conv2d"].fields}}
    ed.add("gap", 99)                                       # past the end: at the end
    assert _types(ed)[-1] == "gap"
    with pytest.raises(SpecError, match="not a layer type"):
        ed.add("lambda")
    assert len(ed.ids) == len(ed.layers) == len(set(ed.ids))


def test_remove_and_move_keep_ids_with_their_layers():
    ed = _editor("fast")                  # Conv2D, Conv2D, MaxPool, Flatten, ...
    first_id, second_id = ed.ids[1:3]
    key = ed.key(1, "filters")
    ed.move(1, 1)
    assert _types(ed)[1:3] == ["maxpool", "conv2d"] and ed.ids[1:3] == [second_id, first_id]
    assert ed.key(2, "filters") == key                     # the widget follows its layer
    ed.move(0, -1)                                          # past the top: nothing happens
    ed.move(len(ed.layers) - 1, 1)                          # past the bottom: nothing either
    assert _types(ed)[:3] == ["conv2d", "maxpool", "conv2d"]
    assert ed.index_of(first_id) == 2
    ed.remove(2)
    assert ed.index_of(first_id) is None and first_id not in ed.ids
    assert len(ed.layers) == len(ed.ids) == 6


def test_positions_are_labelled_by_the_layer_they_precede():
    ed = _editor("fast")
    assert ed.default_position() == 6
    assert ed.position_label(0) == "before layer 1 (Conv2D)"
    assert ed.position_label(6) == "before layer 7 (Dense)"
    assert ed.position_label(7) == "at the end"


def test_an_edited_stack_is_custom_with_an_edited_name_and_reverting_undoes_it():
    ed = _editor("fast")
    ed.set_field(0, "filters", 8)
    assert ed.changed and ed.describe(0) == "Conv2D 8 5x5 stride 2 relu"
    config = ed.config()
    assert config.preset == "custom" and config.spec.name == "fast (edited)"
    assert config.spec.layers[0].get("filters") == 8
    # half the filters: half of conv 1's weights, and conv 2 sees half the channels
    assert ed.draft().total == 108_874 - (16 - 8) * (25 + 1) - 3 * 3 * (16 - 8) * 32
    ed.set_field(0, "filters", 16)
    assert not ed.changed and ed.config().preset == "fast" and ed.config().spec.name == "fast"


def test_edited_names_stay_within_40_characters_and_are_not_edited_twice():
    assert edited_name("fast") == "fast (edited)"
    assert edited_name("fast (edited)") == "fast (edited)"
    assert len(edited_name("x" * 40)) == 40 and edited_name("x" * 40).endswith(" (edited)")


def test_settings_go_into_the_config_and_the_largest_size_means_all_images():
    ed = _editor("fast")
    for name, value in (("epochs", 1), ("batch_size", 64), ("learning_rate", 1e-5),
                        ("augment", True), ("validation_fraction", 0.2), ("size", 1000)):
        ed.set_setting(name, value)
    config = ed.config()
    assert (config.epochs, config.batch_size, config.learning_rate, config.augment,
            config.validation_fraction, config.limit) == (1, 64, 1e-5, True, 0.2, 1000)
    assert config.training_images(60_000) == 800
    ed.set_setting("size", 60_000)
    assert ed.config().limit is None
    with pytest.raises(KeyError):
        ed.set_setting("seed", 3)                           # not a setting the page shows


@pytest.mark.parametrize("name, value, label", [
    ("epochs", 0, "Epochs"), ("epochs", 10_000, "Epochs"), ("batch_size", 1, "Batch size"),
    ("learning_rate", 0.0, "Learning rate"), ("learning_rate", 10.0, "Learning rate"),
    ("epochs", None, "Epochs"), ("validation_fraction", 0.9, "Validation fraction")])
def test_settings_out_of_range_are_refused_naming_the_field(name, value, label):
    ed = _editor("fast")
    ed.set_setting(name, value)
    with pytest.raises(ConfigError) as e:
        ed.config()
    assert str(e.value).startswith(label)


def test_problems_lists_the_stack_and_every_setting_that_is_not_allowed():
    ed = _editor("fast")
    assert ed.problems() == []
    ed.set_field(6, "units", 0)
    ed.set_setting("epochs", 0)
    ed.set_setting("learning_rate", 10.0)
    ed.set_setting("augment", "yes")
    problems = ed.problems()
    assert [p.split(" must")[0] for p in problems] == [
        "layer 7 (Dense): units", "Epochs", "Learning rate", "Augmentation"]


# --- explaining a stack that cannot work -------------------------------------------------------

@pytest.mark.parametrize("field, value, expected", [
    ("filters", 0, "layer 1 (Conv2D): filters must be between 1 and 512, not 0"),
    ("filters", 9999, "layer 1 (Conv2D): filters must be between 1 and 512"),
    ("filters", "32", "layer 1 (Conv2D): filters must be a whole number, not '32'"),
    ("filters", None, "layer 1 (Conv2D): filters must be a whole number, not None"),
    ("kernel", 2.5, "layer 1 (Conv2D): kernel must be a whole number"),
    ("padding", "full", "layer 1 (Conv2D): padding must be one of valid, same"),
    ("use_bias", 1, "layer 1 (Conv2D): use_bias must be true or false"),
])
def test_a_field_out_of_range_or_of_the_wrong_type_names_the_layer_and_field(field, value,
                                                                             expected):
    ed = _editor("fast")
    ed.set_field(0, field, value)
    draft = ed.draft()
    assert draft.spec is None and not draft.rows and draft.problem.startswith(expected)
    assert draft.problem_layer == 1
    assert ed.describe(0) == "Conv2D"                       # no half-valid description
    with pytest.raises(SpecError, match="layer 1 \\(Conv2D\\)"):
        ed.config()


def test_a_stack_that_runs_out_of_map_names_the_layer_and_why():
    ed = _editor("fast")
    for _ in range(3):
        ed.add("maxpool", 3)                                # 5x5 -> 2x2 -> 1x1 -> nothing
    draft = ed.draft()
    assert draft.problem_layer == 6 and "2x2 pooling of a 1x1 map" in draft.problem
    ed = _editor("fast")
    ed.remove(len(ed.layers) - 1)                           # no Dense 10 softmax at the end
    draft = ed.draft()
    assert draft.problem_layer is None and "last layer must be Dense with 10" in draft.problem
    for _ in range(len(ed.layers)):
        ed.remove(0)
    assert "non-empty list of layers" in ed.draft().problem


def by_label(starts, key: str) -> str:
    return next(s.label for s in starts if s.key == key)


def test_the_caps_are_explained():
    ed = _editor("fast")
    while len(ed.layers) <= 32:
        ed.add("dropout")
    assert "more than the 32 allowed" in ed.draft().problem
    ed = _editor("fast")
    ed.set_field(1, "filters", 128)                         # 5x5x128 = 3200 values
    ed.set_field(5, "units", 4096)                          # 3200 x 4096 = 13M
    assert "more than the 5,000,000 allowed" in ed.draft().problem


# --- where a run starts from -------------------------------------------------------------------

def test_starts_are_the_presets_then_usable_runs_and_reasons_for_the_others():
    custom = replace(PRESETS["fast"].config, preset="custom",
                     spec=replace(PRESETS["dense-only"].spec, name="my dense"))
    broken = custom.to_dict()
    broken["spec"]["layers"][1]["units"] = -3                # edited by hand
    runs = [_run("r-custom", custom.to_dict()), _run("r-old", {"preset": "tutorial", "epochs": 2}),
            _run("r-broken", broken),
            _run("r-tuned", {"from": "bundled", "drawings": 40}, preset=FINE_TUNE),
            _run("r-failed", custom.to_dict(), status="failed"),
            _run("r-stopped", custom.to_dict(), status="stopped")]
    starts, problems = builder.starts(runs, None)
    keys = [s.key for s in starts]
    assert keys[:len(PRESETS)] == [f"preset:{name}" for name in PRESETS]
    assert keys[len(PRESETS):] == ["run:r-custom", "run:r-old", "run:r-stopped"]
    assert "suggested" in by_label(starts, "preset:lesson")
    by_key = {s.key: s for s in starts}
    assert by_key["run:r-custom"].config == custom
    assert by_key["run:r-old"].config.spec == PRESETS["tutorial"].spec    # an old record
    assert by_key["run:r-custom"].label == "run my dense · r-custom · 99.00%"
    assert by_key["run:r-old"].label == "run tutorial · r-old · 99.00%"
    assert "(done, 99.00%): Flatten → Dense 256 relu" in by_key["run:r-custom"].about
    assert len(problems) == 2
    assert "r-broken" in problems[0] and "layer 2 (Dense): units" in problems[0]
    assert "r-tuned" in problems[1] and "finetune --from bundled" in problems[1]
    assert "convolution" in by_key["preset:dense-only"].about               # says what it shows


def test_the_bundled_model_is_a_start_only_when_it_is_not_a_preset():
    card = {"preset": "best", "config": {"preset": "best", "epochs": 20}}
    assert [s.key for s in builder.starts([], card)[0]] == [f"preset:{n}" for n in PRESETS]
    from mnist_core.model.spec import ModelSpec, layer

    spec = ModelSpec("bundled", (layer("flatten"), layer("dense", units=10, activation="softmax")))
    other = replace(PRESETS["fast"].config, spec=spec, preset="bundled")
    starts, _ = builder.starts([], {"config": other.to_dict()})
    assert starts[-1].key == "bundled" and starts[-1].config == other
    assert builder.starts([], {"config": "garbage"})[0][-1].key.startswith("preset:")


def test_a_run_start_edited_stays_custom_and_unchanged_keeps_its_name():
    config = replace(PRESETS["fast"].config, preset="custom",
                     spec=replace(PRESETS["fast"].spec, name="fast (edited)"))
    start = Start("run:x", "run x", config, "")
    ed = Editor(start)
    assert ed.config() == config
    ed.move(4, 1)
    assert ed.config().spec.name == "fast (edited)" and ed.config().preset == "custom"


def test_training_image_choices_include_a_past_runs_own_limit():
    assert builder.size_for(None) == 60_000 and builder.limit_for(60_000) is None
    assert builder.size_choices(2000) == [1000, 2000, 3000, 10000, 30000, 60000]
    assert builder.size_choices(3000) == list(builder.SIZES)


def test_durations_read_naturally():
    assert [builder.duration_text(s) for s in (0.84, 12.3, 59.6, 200, 7500)] == \
        ["0.8 s", "12 s", "1 min 0 s", "3 min 20 s", "2 h 05 min"]
    assert builder.run_estimate(4.9, 3) == "≈ 15 s for 3 epochs (4.9 s each)"
    assert builder.run_estimate(4.9, 1) == "≈ 4.9 s for 1 epoch"


# --- the measured epoch time -------------------------------------------------------------------

def test_an_epoch_is_timed_on_a_few_real_steps_and_extrapolated():
    import time

    from mnist_core.training import estimate

    spec = PRESETS["dense-only"].spec
    started = time.monotonic()
    timing = estimate.time_steps(spec, 128, "float32")
    assert time.monotonic() - started < 20                  # a few steps, never an epoch
    assert timing.precision == "float32" and timing.batch_size == 128
    assert 0 < timing.seconds_per_step < 2 and 1 <= timing.steps_run <= 7
    assert timing.per_epoch(54_000) == pytest.approx(422 * timing.seconds_per_step)
    assert timing.per_epoch(1) == pytest.approx(timing.seconds_per_step)
    assert 0 < estimate.seconds_per_epoch(spec, 128, 1000, "float32") < 60


def test_an_augmented_preset_is_timed_with_its_augmentation(monkeypatch):
    """Training augments every batch on the way in; the estimate must pay for that too."""
    from mnist_core.training import augment
    from mnist_core.training import estimate
    from mnist_core.training.config import Augmentation

    jittered = []
    real = augment.augmenter

    def counting(aug, seed):
        layers = real(aug, seed)
        jittered.append(aug)
        return layers
    monkeypatch.setattr(augment, "augmenter", counting)
    aug = Augmentation(rotation_degrees=8, zoom=0.08, shift=0.08)
    timing = estimate.time_steps(PRESETS["dense-only"].spec, 128, "float32", aug)
    assert jittered == [aug] and timing.seconds_per_step > 0
    estimate.time_steps(PRESETS["dense-only"].spec, 128, "float32")
    assert jittered == [aug]                                 # none asked for, none applied


def test_timings_are_serialised():
    """Two timings at once would share the cores and each report about double."""
    import threading

    from mnist_core.training import estimate

    done = threading.Event()
    with estimate._lock:                                   # a timing in progress...
        thread = threading.Thread(target=lambda: (estimate.time_steps(
            PRESETS["dense-only"].spec, 32, "float32"), done.set()))
        thread.start()
        assert not done.wait(1.0)                           # ...makes the next one wait
    assert done.wait(60)
    thread.join()
