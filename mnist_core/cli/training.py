"""`train` and `finetune`: a run (a preset, a stored run's settings or an architecture file)
or a fine-tune on the class's drawings, followed on the terminal and stored in the lab home."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mnist_core.cli.progress import follow


def plan_train(args):
    """(store, config) of a `train` command, checked before TensorFlow loads: bad settings, and
    a lab home that could not keep the run (read-only, full disk), are said at once, not after
    minutes of training."""
    from dataclasses import replace

    from mnist_core.lab.db import model_file_bytes
    from mnist_core.lab.store import RunStore

    store = RunStore()
    base = _base_config(args, store)
    overrides = {k: getattr(args, k) for k in ("epochs", "batch_size", "learning_rate", "limit",
                                                "augment", "validation_fraction", "seed",
                                                "precision") if getattr(args, k) is not None}
    if args.spec:
        overrides |= {"spec": _read_spec(Path(args.spec)), "preset": "custom"}
    config = replace(base, **overrides)
    store.check_can_save(model_file_bytes(config.spec.parameter_count()))
    return store, config


def cmd_train(args) -> int:
    from mnist_core.jobs.thread_job import TrainingJob

    store, config = args.plan if hasattr(args, "plan") else plan_train(args)
    job = TrainingJob(config, args.dataset(), store).start()
    snap = follow(job)
    if snap.status == "failed":
        raise ValueError(f"training failed: {snap.error}")
    record = job.record
    if args.export:
        _export(job, Path(args.export), args)
    result = {"run_id": record.id, "status": record.status, "preset": config.preset,
              "test_accuracy": record.test_accuracy, "test_loss": record.test_loss,
              "seconds": round(record.seconds or 0, 1),
              "model_file": str(store.model_path(record.id)) if record.has_model else None}
    if args.json:
        print(json.dumps(result))
    else:
        acc = "n/a" if record.test_accuracy is None else f"{record.test_accuracy:.4f}"
        print(f"run {record.id}: {record.status}, test accuracy {acc}, "
              f"{record.seconds:.1f} s; model {result['model_file']}")
    return 0


def _base_config(args, store):
    """The preset's config, or a stored run's, rebuilt from its record alone."""
    from mnist_core.lab import catalog
    from mnist_core.training.presets import DEFAULT_PRESET, preset_config

    if not args.from_run:
        return preset_config(args.preset or DEFAULT_PRESET)
    record = store.get_run(args.from_run)
    config = catalog.run_config(record)
    if record.data_source.startswith("Kaggle") and not args.data:
        raise ValueError(f"run {record.id} was trained on an uploaded {record.data_source}, "
                         "which the lab does not keep; pass the same file with --data")
    return config


def _read_spec(path: Path):
    from mnist_core.model.spec import ModelSpec, SpecError
    from mnist_core.untrusted import load_json

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot be read ({e})") from None
    data = load_json(text, str(path))   # bounded: deep nesting is a message, not a traceback
    try:
        return ModelSpec.from_dict(data)
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None


def _export(job, path: Path, args) -> None:
    from mnist_core.model.files import save_atomic
    from mnist_core.model.build import parameter_count

    if path.suffix != ".keras":
        raise ValueError("--export needs a file name ending in .keras")
    if job.result.model is None:
        raise ValueError(f"run {job.record.id} was stopped before its first epoch ended: it "
                         "has no model to export")
    save_atomic(job.result.model, path)
    card = {"run_id": job.record.id, "preset": job.config.preset, "config": job.config.to_dict(),
            "test_accuracy": job.record.test_accuracy, "test_loss": job.record.test_loss,
            "training_seconds": round(job.record.seconds, 1),
            "parameters": parameter_count(job.result.model),
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": "python -m mnist_core " + " ".join(sys.argv[1:])}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def cmd_finetune(args) -> int:
    from mnist_core.jobs import finetune
    from mnist_core.jobs.registry import JobRegistry
    from mnist_core.lab.store import RunStore

    given = {name: getattr(args, name) for name in ("epochs", "learning_rate", "seed",
                                                     "train_layers", "drawing_share")
             if getattr(args, name, None) is not None}
    config = finetune.FineTuneConfig(source=args.source, replay=args.replay, **given)
    config.validate()
    store = RunStore()
    finetune.check_ready(store, config.source)   # before loading MNIST: say it at once
    dataset = args.dataset()
    job = finetune.start(JobRegistry(), store, config, dataset)
    snap = follow(job)
    if snap.status == "failed":
        raise ValueError(f"fine-tuning failed: {snap.error}")
    record, result = job.record, job.result
    out = {"run_id": record.id, "status": record.status, "title": record.title(),
           "from": config.source, "drawings": result.drawings, "held_out": result.held_out,
           "replay": result.replay, "skipped": result.skipped,
           "before": result.before.to_dict(), "after": result.after.to_dict(),
           "test_accuracy": record.test_accuracy, "seconds": round(record.seconds or 0, 1),
           "model_file": str(store.model_path(record.id)) if record.has_model else None}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"run {record.id}: {record.status}, {record.title()}"
          + (f" ({result.skipped} unreadable drawings skipped)" if result.skipped else ""))
    rows = result.comparison()
    width = max(len(r["measured on"]) for r in rows)
    print(f"{'':{width}}  {'before':>8}  {'after':>8}  change")
    for r in rows:
        print(f"{r['measured on']:{width}}  {r['before']:>8}  {r['after']:>8}  {r['change']}")
    print(f"model {out['model_file']}")
    return 0
