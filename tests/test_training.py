import time
from dataclasses import replace

import numpy as np
import pytest

from mnist_core.jobs.registry import JobBusy, JobRegistry
from mnist_core.jobs.thread_job import TrainingJob
from mnist_core.lab.store import RunStore
from mnist_core.training.config import TrainConfig
from mnist_core.training.presets import config_from_dict, get_preset, preset_config
from mnist_core.training.progress import Progress
from mnist_core.training.loop import train


def test_short_real_training_learns(small_mnist):
    config = preset_config("fast", epochs=2, seed=1, validation_fraction=0.1)
    progress = Progress()
    result = train(config, small_mnist, progress)
    snap = progress.snapshot()
    assert result.status == "done" and len(result.history) == 2
    assert snap.batch_loss[-1] < snap.batch_loss[0]                   # loss falls
    assert result.history[1]["loss"] < result.history[0]["loss"]
    assert result.test_accuracy > 0.85                                # chance is 0.10
    assert snap.images_per_second > 0 and snap.batches_per_epoch == 22  # ceil(2700 / 128)
    assert result.model.layers[0].compute_dtype == "float32"          # saved in float32


def test_augmented_tutorial_preset_runs_with_its_pipeline(small_mnist):
    config = preset_config("tutorial", epochs=1, limit=1000, seed=0)
    assert config.augment and config.batch_size == 250
    result = train(config, small_mnist)
    assert result.status == "done" and result.test_accuracy is not None


@pytest.mark.slow
def test_label_smoothing_preset_trains(small_mnist):
    result = train(preset_config("best", epochs=1, limit=600, augment=False),
                   small_mnist)
    assert 0 <= result.test_accuracy <= 1


def test_stop_ends_at_a_batch_boundary_and_keeps_the_model(small_mnist):
    config = preset_config("fast", epochs=50, batch_size=32, seed=0)
    job = TrainingJob(config, small_mnist, RunStore()).start()
    deadline = time.monotonic() + 120
    while job.snapshot().epoch < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop()
    assert job.snapshot().status in ("stopping", "stopped")
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.status == "stopped" and 1 <= snap.epoch < 50
    # Watch it learn: epoch 0 and each complete epoch, not the one cut short.
    assert [r["epoch"] for r in snap.learning] == list(range(snap.epoch + 1))
    record = RunStore().get_run(snap.run_id)
    assert record.status == "stopped" and record.has_model and record.test_accuracy > 0.5
    assert len(record.history) >= 1


def test_a_run_stopped_before_its_first_epoch_ends_keeps_its_record_but_no_model(small_mnist):
    """Start, then Stop at once (a slip, or a demonstration): a few batches of one epoch are
    not a model worth offering in everyone's lists, and stopping skips the test pass."""
    config = preset_config("fast", epochs=5, batch_size=32, seed=0)
    job = TrainingJob(config, small_mnist, RunStore()).start()
    deadline = time.monotonic() + 120
    while job.snapshot().batch == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.stop()
    assert job.join(timeout=120)
    record = RunStore().get_run(job.snapshot().run_id)
    assert record.status == "stopped" and record.history == []
    assert [r["epoch"] for r in job.snapshot().learning] == [0]   # only the random start
    assert not record.has_model and not record.offers_model and record.test_accuracy is None
    assert job.result.model is None


def test_failure_inside_training_is_reported_and_recorded(small_mnist, monkeypatch):
    import mnist_core.jobs.thread_job as jobs

    def explode(*args, **kwargs):
        raise RuntimeError("GPU on fire")

    monkeypatch.setattr(jobs, "train", explode)
    job = TrainingJob(preset_config("fast"), small_mnist, RunStore()).start()
    job.join(timeout=60)
    snap = job.snapshot()
    assert snap.status == "failed" and snap.error == "GPU on fire"
    assert RunStore().get_run(snap.run_id).status == "failed"


def test_data_loading_failure_is_a_failed_job_not_a_crash():
    def no_data():
        raise FileNotFoundError("no MNIST here")

    job = TrainingJob(preset_config("fast"), no_data, RunStore()).start()
    job.join(timeout=30)
    assert job.snapshot().status == "failed" and "no MNIST" in job.snapshot().error


@pytest.mark.parametrize("overrides, message", [
    ({"epochs": 0}, "Epochs"), ({"epochs": -3}, "Epochs"), ({"epochs": 10000}, "Epochs"),
    ({"epochs": 2.5}, "Epochs"), ({"batch_size": 0}, "Batch size"), ({"batch_size": 1}, "Batch size"),
    ({"learning_rate": 0.0}, "Learning rate"), ({"learning_rate": 10.0}, "Learning rate"),
    ({"learning_rate": float("nan")}, "Learning rate"), ({"learning_rate": -1.0}, "Learning rate"),
    ({"learning_rate": "0.1"}, "Learning rate"), ({"validation_fraction": 0.9}, "Validation"),
    ({"limit": 5}, "Training images"), ({"preset": ""}, "preset name"),
    ({"optimizer": "lbfgs"}, "Optimizer"), ({"precision": "float8"}, "Precision"),
    ({"seed": -1}, "Seed"), ({"label_smoothing": 0.9}, "Label smoothing"),
])
def test_bad_hyperparameters_are_refused_when_the_config_is_made(overrides, message):
    with pytest.raises(ValueError, match=message):
        replace(get_preset("fast").config, **overrides)


def test_a_config_needs_an_architecture_and_presets_are_known_by_name():
    with pytest.raises(TypeError):
        TrainConfig()                       # no architecture: a preset builds configs
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("nope")
    assert preset_config("fast", epochs=None) == get_preset("fast").config


def test_batch_larger_than_data_is_refused_when_the_job_is_made(small_mnist):
    with pytest.raises(ValueError, match="larger than the"):
        TrainingJob(preset_config("fast", limit=100, batch_size=500), small_mnist)
    with pytest.raises(ValueError, match="larger than the"):
        JobRegistry().start(preset_config("fast", limit=100, batch_size=500), small_mnist, None)


def test_a_config_round_trips_through_json_and_old_records_migrate():
    import json

    from mnist_core.training.presets import PRESETS

    for preset in PRESETS.values():
        config = preset.config
        assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    # A record written before architectures were data: only the preset name.
    old = {"preset": "best", "epochs": 20, "batch_size": 128, "learning_rate": 0.003,
           "augment": True, "validation_fraction": 0.1, "limit": None, "seed": 0,
           "precision": "auto"}
    with pytest.raises(ValueError, match="no architecture"):
        TrainConfig.from_dict(old)          # the preset fills the gaps, not the config
    migrated = config_from_dict(old)
    assert migrated == PRESETS["best"].config
    assert migrated.schedule == "one-cycle" and migrated.label_smoothing == 0.05


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["spec"]["layers"].insert(0, {"type": "lambda", "code": "print(1)"}),
     "layer 1: 'lambda' is not a layer type"),
    (lambda d: d["spec"]["layers"][0].update(kernel=99), r"layer 1 \(Conv2D\): kernel"),
    (lambda d: d["spec"]["layers"][0].update(filters="32"), "filters must be a whole number"),
    (lambda d: d["spec"]["layers"][0].update(activation="__import__"), "activation"),
    (lambda d: d["spec"]["layers"].pop(), "last layer must be Dense with 10"),
    (lambda d: d.update(epochs=0), "Epochs"),
    (lambda d: d.update(shell="rm -rf /"), "unknown config field"),
    (lambda d: d["augmentation"].update(rotation_degrees=400), "Rotation"),
])
def test_a_hand_edited_config_is_refused_with_the_reason(edit, message):
    data = preset_config("fast").to_dict()
    edit(data)
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


@pytest.mark.slow
def test_registry_runs_one_job_at_a_time(small_mnist):
    registry = JobRegistry()
    first = registry.start(preset_config("fast", epochs=30, batch_size=32), small_mnist, None)
    with pytest.raises(JobBusy, match="already running"):
        registry.start(preset_config("fast"), small_mnist, None)
    assert registry.current is first
    first.stop()
    assert first.join(timeout=120)
    second = registry.start(preset_config("fast", epochs=1, limit=200), small_mnist, None)
    assert second.join(timeout=120) and second.snapshot().status == "done"


def test_snapshot_is_a_copy_safe_to_read_while_training():
    progress = Progress()
    progress.begin(epochs=1, batches_per_epoch=10)
    snap = progress.snapshot()
    progress.end_batch(0, 1.0, 0.5, 32)
    assert snap.batch_loss == [] and progress.snapshot().batch_loss == [1.0]
    assert snap.batch_steps == [] and progress.snapshot().batch_steps == [1]
    assert progress.snapshot().fraction_done == pytest.approx(0.1)
    progress.end_learning({"epoch": 0, "kernels": None, "probabilities": None})
    assert snap.learning == [] and len(progress.snapshot().learning) == 1


def test_a_kaggle_dataset_without_test_set_trains_and_reports_validation(small_mnist):
    from mnist_core.data.dataset import Dataset

    kaggle = Dataset(small_mnist.x_train[:1000], small_mnist.y_train[:1000], None, None,
                     "Kaggle CSV train.csv")
    job = TrainingJob(preset_config("fast", epochs=1), kaggle, RunStore()).start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.status == "done" and snap.test_accuracy is None
    assert "val_accuracy" in snap.history[-1]
    assert RunStore().get_run(snap.run_id).data_source == "Kaggle CSV train.csv"


def test_a_refused_history_write_does_not_stop_training(small_mnist, monkeypatch):
    """Disk full for a moment after an epoch: training carries on and the final record still
    has every epoch."""
    from mnist_core.lab.db import StoreError

    refused = []

    def disk_full(self, run_id, history):
        refused.append(len(history))
        raise StoreError("database or disk is full")

    monkeypatch.setattr(RunStore, "record_history", disk_full)
    config = preset_config("fast", epochs=2, limit=600, seed=0)
    job = TrainingJob(config, small_mnist, RunStore()).start()
    assert job.join(timeout=300)
    snap = job.snapshot()
    assert snap.status == "done" and refused == [1, 2]
    assert len(RunStore().get_run(snap.run_id).history) == 2


def test_each_epoch_records_its_seconds_and_the_live_chart_stays_light(small_mnist):
    from mnist_core.views import charts

    result = train(preset_config("fast", epochs=2, limit=600, seed=0), small_mnist)
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert all(h["seconds"] > 0 for h in result.history)     # speed over whole epochs
    losses, steps = list(np.linspace(2.0, 0.1, 5000)), list(range(1, 5001))
    fig = charts.batch_curves(steps, losses, [0.5] * 5000, 422)
    x, y = fig.data[0].x, fig.data[0].y
    assert len(x) == charts.LIVE_POINTS and x[-1] == 5000 / 422 and y[-1] == losses[-1]
    assert x[0] == 1 / 422 and list(x) == sorted(x)
    assert len(charts.batch_curves(steps[:50], losses[:50], [0.5] * 50, 422).data[0].x) == 50


def test_cheap_steps_run_in_groups_and_the_live_curve_keeps_its_place(small_mnist):
    """`fast` runs 8 training steps per call into TensorFlow (a `best` step, 1): the curve then
    has a point per group, each at the run's batch count, so the x axis still reads epochs."""
    from mnist_core.views import charts
    from mnist_core.training.presets import get_preset
    from mnist_core.training.loop import steps_per_execution

    assert steps_per_execution(get_preset("fast").config.spec, 128) == 8
    assert steps_per_execution(get_preset("best").config.spec, 128) == 1
    assert steps_per_execution(get_preset("fast").config.spec, 2048) == 1
    progress = Progress()
    result = train(preset_config("fast", epochs=2, limit=2500, seed=0), small_mnist,
                   progress)     # 2,250 training images: 18 batches an epoch, 3 groups
    snap = progress.snapshot()
    assert result.status == "done" and snap.batches_per_epoch == 18
    assert snap.batch_steps == [8, 16, 18, 26, 34, 36] and len(snap.batch_loss) == 6
    assert list(charts.batch_curves(snap.batch_steps, snap.batch_loss, snap.batch_accuracy,
                                    18).data[0].x) == [s / 18 for s in snap.batch_steps]


def test_training_pipelines_run_without_the_autotuner():
    """With tf.data's autotuner on, about every other epoch began with a 1-2 s stall
    (bench/epoch_gaps.py); every training pipeline turns it off."""
    from mnist_core.training.config import Augmentation
    from mnist_core.jobs.finetune_data import weighted_pipeline
    from mnist_core.training.loop import augmenter, dataset_pipeline

    x = np.zeros((8, 28, 28, 1), np.float32)
    y = np.arange(8) % 10
    pipelines = [dataset_pipeline(x, y, 4, shuffle_seed=0),
                 dataset_pipeline(x, y, 4, shuffle_seed=0, one_hot=True,
                           jitter=augmenter(Augmentation(), 0)),
                 dataset_pipeline(x, y, 4, shuffle_seed=None),
                 weighted_pipeline(x, y, 4, 0, one_hot=True)]
    for ds in pipelines:
        assert ds.options().autotune.enabled is False
        assert sum(len(b[0]) for b in ds) == 8      # and still yields every image


def test_an_earlier_epoch_must_be_clearly_better_to_replace_the_final_weights():
    from mnist_core.training.callbacks import clearly_better

    # 6,000 validation images at 99.4%: one standard error is 0.1%, about 6 images.
    assert not clearly_better(0.9945, 0.9940, 6000)      # 3 images ahead: noise
    assert clearly_better(0.9955, 0.9940, 6000)          # 9 images ahead
    assert not clearly_better(0.9940, 0.9940, 6000)
    assert not clearly_better(0.91, 0.90, 300)           # 3 of 300: within 1.7%
    assert clearly_better(0.95, 0.90, 300)


@pytest.mark.parametrize("earlier_clearly_better", [False, True])
def test_a_finished_run_keeps_its_final_weights_unless_an_earlier_epoch_is_clearly_better(
        small_mnist, monkeypatch, earlier_clearly_better):
    import mnist_core.training.callbacks as callbacks

    seen = {}

    class FirstEpochCounts(callbacks.KeepBest):   # the first epoch stands as the best one
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            seen.setdefault("first", self.best_weights)
            self.best_weights = seen["first"]

        def on_train_end(self, logs=None):
            seen["last"] = self.model.get_weights()

    monkeypatch.setattr(callbacks, "KeepBest", FirstEpochCounts)
    monkeypatch.setattr(callbacks, "clearly_better", lambda *args: earlier_clearly_better)
    config = preset_config("fast", epochs=2, limit=600, seed=0, precision="float32")
    result = train(config, small_mnist)
    expected = seen["first"] if earlier_clearly_better else seen["last"]
    assert not np.allclose(seen["first"][0], seen["last"][0])
    assert all(np.array_equal(w, e) for w, e in zip(result.model.get_weights(), expected))
