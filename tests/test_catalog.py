"""The model catalog: which models exist and what each is, from records of every vintage."""
import json

import pytest

from mnist_core.lab import catalog

from mnist_core import settings
from mnist_core.training.config import ConfigError, TrainConfig
from mnist_core.training.presets import get_preset
from mnist_core.model.spec import SpecError
from mnist_core.lab.runs import BUNDLED
from mnist_core.lab.store import RunStore
from tests.helpers import OLD_SCHEMA, SMALL_SPEC, FakeModel, config_with_spec

def _run(store: RunStore, config: dict, accuracy: float | None = 0.97,
         history: list | None = None) -> str:
    run_id = store.create_run(config, "MNIST")
    store.finish_run(run_id, status="done", model=FakeModel(), test_accuracy=accuracy,
                     history=history or [])
    return run_id


@pytest.fixture
def store(lab_home):
    return RunStore(lab_home)


@pytest.fixture
def card():
    return json.loads(settings.BUNDLED_MODEL_CARD.read_text())


def test_every_vintage_of_run_is_listed_with_its_architecture_or_the_reason(store, card):
    old = _run(store, OLD_SCHEMA, history=[{"epoch": 1, "accuracy": 0.9}])
    new = _run(store, TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=1).to_dict())
    tuned = _run(store, {"preset": "fine-tune", "from": "bundled", "drawings": 12})
    bad_type = config_with_spec({"name": "x", "layers": [{"type": "lambda", "code": "rm -rf"},
                                                   {"type": "dense", "units": 10,
                                                    "activation": "softmax"}]})
    lambda_run = _run(store, bad_type)
    big_kernel = _run(store, config_with_spec({**SMALL_SPEC.to_dict(), "layers": [
        {"type": "conv2d", "filters": 4, "kernel": 99}, *SMALL_SPEC.to_dict()["layers"][1:]]}))
    never_finished = store.create_run(OLD_SCHEMA, "MNIST")      # no model: not a model

    models = catalog.list_models(store, card)
    by_ref = {m.ref: m for m in models}
    assert [m.ref for m in models] == [BUNDLED, big_kernel, lambda_run, tuned, new, old]
    assert never_finished not in by_ref

    assert by_ref[BUNDLED].spec == get_preset("best").spec and by_ref[BUNDLED].history == ()
    assert by_ref[old].spec == get_preset("tutorial").spec         # migrated from the preset
    assert by_ref[old].parameters == 204_906 and by_ref[old].history[0]["accuracy"] == 0.9
    assert by_ref[new].spec == SMALL_SPEC and by_ref[new].spec_problem is None
    assert by_ref[tuned].spec == get_preset("best").spec            # its source's layers
    assert by_ref[tuned].label.startswith("fine-tuned from bundled on 12 drawings")
    assert by_ref[new].label.endswith(", 97.00%")

    assert by_ref[lambda_run].spec is None and by_ref[lambda_run].parameters is None
    assert "layer 1" in by_ref[lambda_run].spec_problem
    assert "'lambda' is not a layer type" in by_ref[lambda_run].spec_problem
    assert by_ref[lambda_run].layer_table() == []
    assert by_ref[big_kernel].spec is None
    assert "layer 1 (Conv2D): kernel must be between 1 and 7, not 99" in \
        by_ref[big_kernel].spec_problem


def test_run_config_rebuilds_runs_and_refuses_fine_tunes_and_edited_records(store):
    old = store.get_run(_run(store, OLD_SCHEMA))
    config = catalog.run_config(old)
    assert config.spec == get_preset("tutorial").spec and config.epochs == 2
    assert config.limit == 2000 and config.schedule == get_preset("tutorial").config.schedule
    new = store.get_run(_run(store, TrainConfig(spec=SMALL_SPEC, preset="custom").to_dict()))
    assert catalog.run_config(new).spec == SMALL_SPEC

    tuned = store.get_run(_run(store, {"preset": "fine-tune", "from": "bundled",
                                       "drawings": 12}))
    with pytest.raises(ConfigError, match="fine-tuned from bundled.*finetune --from bundled"):
        catalog.run_config(tuned)
    edited = store.get_run(_run(store, config_with_spec({"name": "x", "layers": [
        {"type": "lambda"}, {"type": "dense", "units": 10, "activation": "softmax"}]})))
    with pytest.raises(SpecError, match=f"run {edited.id}'s recorded settings cannot be used: "
                                        "layer 1: 'lambda' is not a layer type"):
        catalog.run_config(edited)
    pooled_away = store.get_run(_run(store, config_with_spec({"name": "x", "layers": [
        *[{"type": "maxpool"}] * 5, {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "softmax"}]})))
    with pytest.raises(SpecError, match=r"layer 5 \(MaxPool\): 2x2 pooling of a 1x1 map"):
        catalog.run_config(pooled_away)


def test_a_fine_tune_of_a_model_whose_architecture_is_unknown_says_so(store, card):
    edited = _run(store, config_with_spec({"name": "x", "layers": [{"type": "lambda"}]}))
    tuned = _run(store, {"preset": "fine-tune", "from": edited, "drawings": 12})
    gone = _run(store, {"preset": "fine-tune", "from": "20990101-000000-abcdef",
                        "drawings": 12})
    by_ref = {m.ref: m for m in catalog.list_models(store, card)}
    assert by_ref[tuned].spec is None
    assert by_ref[tuned].spec_problem == f"fine-tuned from {edited}, whose architecture is unknown"
    assert "not stored any more" in by_ref[gone].spec_problem


def test_the_bundled_model_needs_no_store_and_a_bad_card_is_a_reason_not_a_crash(card):
    models = catalog.list_models(None, card)
    assert [m.ref for m in models] == [BUNDLED]
    assert models[0].label == "Bundled (best)" and models[0].test_accuracy == 0.996
    assert models[0].spec == get_preset("best").spec
    assert models[0].parameters == card["parameters"]
    old_card = {"preset": "best", "test_accuracy": 0.996,    # as written before specs existed
                "config": {**OLD_SCHEMA, "preset": "best", "epochs": 20}}
    assert catalog.list_models(None, old_card)[0].spec == get_preset("best").spec
    no_config = catalog.list_models(None, {"preset": "best"})[0]
    assert no_config.spec is None and "records no training config" in no_config.spec_problem
    edited = {**old_card, "config": {**old_card["config"], "preset": "huge"}}
    problem = catalog.list_models(None, edited)[0].spec_problem
    assert "bundled model's card cannot be used" in problem and "'huge' is not a preset" in problem
    edited_spec = {**card, "config": {**card["config"], "spec": {"name": "x", "layers": [
        {"type": "conv2d", "filters": 32, "kernel": 99}]}}}
    problem = catalog.list_models(None, edited_spec)[0].spec_problem
    assert "layer 1 (Conv2D): kernel must be between 1 and 7, not 99" in problem


def test_layer_table_has_one_compact_row_per_layer():
    info = catalog.ModelInfo("r", "small", None, SMALL_SPEC)
    assert info.layer_table() == [
        {"layer": "Conv2D 4 3x3 relu", "output shape": "26x26x4", "parameters": 40},
        {"layer": "MaxPool 2x2", "output shape": "13x13x4", "parameters": 0},
        {"layer": "Flatten", "output shape": "676", "parameters": 0},
        {"layer": "Dense 10 softmax", "output shape": "10", "parameters": 6770}]
    assert info.parameters == 6810


def test_a_record_edited_while_the_lab_runs_is_read_again(store, card):
    """Parsed specs are remembered per record content (every page lists the models), so an
    edit to the record must not be hidden behind the remembered one."""
    import sqlite3

    run_id = _run(store, TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=1).to_dict())
    assert {m.ref: m for m in catalog.list_models(store, card)}[run_id].spec == SMALL_SPEC
    edited = config_with_spec({**SMALL_SPEC.to_dict(), "layers": [{"type": "lambda"}]})
    with sqlite3.connect(store.db_path) as db:
        db.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(edited), run_id))
    again = {m.ref: m for m in catalog.list_models(store, card)}[run_id]
    assert again.spec is None and "'lambda' is not a layer type" in again.spec_problem


def test_runs_stopped_before_their_first_epoch_are_not_offered_even_from_old_records(store,
                                                                                      card):
    """Records from before the rule kept a model for a Start-then-Stop: it stays in the store
    (and `runs`), but no model list offers it, and it cannot become the class model."""
    config = TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=3).to_dict()
    early = store.create_run(config, "MNIST")
    with store.connect() as db:   # as the old code left it: stopped, no epoch, a model file
        db.execute("UPDATE runs SET status='stopped', model_file='x.keras' WHERE id=?", (early,))
    late = store.create_run(config, "MNIST")
    store.finish_run(late, status="stopped", model=FakeModel(), history=[{"epoch": 1}])
    none_kept = store.create_run(config, "MNIST")
    store.finish_run(none_kept, status="stopped", model=FakeModel(), history=[])
    assert not store.get_run(none_kept).has_model          # the rule, where runs are closed
    assert [m.ref for m in catalog.list_models(store, card)] == [BUNDLED, late]
    with pytest.raises(KeyError, match="no model to use"):
        store.set_class_model(early)


def test_a_browser_uses_its_own_pick_while_it_exists_and_else_the_class_model(store, card):
    run = _run(store, TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=1).to_dict())
    models = catalog.list_models(store, card)
    follow = catalog.FOLLOW_CLASS
    assert catalog.chosen_model(models, follow, BUNDLED).ref == BUNDLED
    assert catalog.chosen_model(models, follow, run).ref == run
    assert catalog.chosen_model(models, BUNDLED, run).ref == BUNDLED     # its own pick wins
    assert catalog.chosen_model(models, run, BUNDLED).ref == run
    for stale in ("20990101-000000-gone00", "", None, 7, "x" * 500):     # cookies are hostile
        assert catalog.chosen_model(models, stale, run).ref == run
    assert catalog.class_model(models, "20990101-000000-gone00").ref == BUNDLED


def test_the_class_model_is_stored_shared_and_read_at_most_once_a_second(store):
    run = _run(store, TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=1).to_dict())
    now = [100.0]
    choice = catalog.ClassModelChoice(store, seconds=1.0, clock=lambda: now[0])
    other = catalog.ClassModelChoice(RunStore(store.home), seconds=1.0, clock=lambda: now[0])
    assert choice.ref() == other.ref() == BUNDLED
    choice.set(run)
    assert choice.ref() == run and other.ref() == BUNDLED        # the other reads it next second
    now[0] += 1.0
    assert other.ref() == run and RunStore(store.home).class_model() == run   # a restart too
    with pytest.raises(KeyError):
        choice.set("20990101-000000-gone00")
    assert choice.ref() == run
    assert catalog.ClassModelChoice(None).ref() == BUNDLED        # no usable lab home
