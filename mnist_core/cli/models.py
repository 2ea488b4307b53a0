"""`evaluate`, `predict`, `runs` and `class-model`: the lab's models and runs from a
terminal."""
from __future__ import annotations

import json
import sys
import time

from mnist_core import settings
from mnist_core.data.dataset import DataError
from mnist_core.drawing.preprocess import ImageError


def load_model(ref):
    from mnist_core.lab.catalog import model_file
    from mnist_core.model.files import load_checked
    from mnist_core.lab.store import RunStore

    path, name = model_file(RunStore(), ref, allow_path=True)
    return load_checked(path), name


def cmd_evaluate(args) -> int:
    from mnist_core.model.evaluation import evaluate

    model, name = load_model(args.model)
    dataset = args.dataset()
    if dataset.x_test is None:
        raise DataError(f"{dataset.source} has no labelled test set to evaluate on")
    x, y = dataset.x_test, dataset.y_test
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    started = time.perf_counter()
    result = evaluate(model, x, y)
    out = {"model": name, "test_accuracy": result.accuracy, "test_loss": result.loss,
           "images": int(len(y)), "errors": int((result.predictions != y).sum()),
           "seconds": round(time.perf_counter() - started, 3), "data_source": dataset.source}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{name}: test accuracy {result.accuracy:.4f} ({out['errors']} errors in "
              f"{out['images']}), loss {result.loss:.4f}")
    return 0


def cmd_predict(args) -> int:
    from mnist_core.model.evaluation import predict_probabilities
    from mnist_core.drawing.preprocess import read_image_file, to_mnist

    model, _ = load_model(args.model)
    failures = 0
    for path in args.images:
        try:
            prepared = to_mnist(read_image_file(path))
        except ImageError as e:
            failures += 1
            print(f"error: {e}", file=sys.stderr)
            if args.json:
                print(json.dumps({"path": path, "digit": None, "probabilities": None,
                                  "error": str(e)}))
            continue
        if prepared.empty:
            digit, probs, conf = None, None, None
        else:
            probs = [round(float(p), 6) for p in predict_probabilities(model, prepared.batch())[0]]
            digit = int(max(range(10), key=probs.__getitem__))
            conf = probs[digit]
        if args.json:
            print(json.dumps({"path": path, "digit": digit, "confidence": conf,
                              "probabilities": probs, "empty_reason": prepared.reason}))
        elif digit is None:
            print(f"{path}: no digit ({prepared.reason})")
        else:
            print(f"{path}: {digit} ({100 * conf:.1f}%)")
    return 2 if failures else 0


def cmd_runs(args) -> int:
    from mnist_core.lab.store import RunStore

    runs, damaged = RunStore().read_runs()
    for skipped in damaged:   # said, and the rest listed: one bad record must not hide them
        print(f"run {skipped.run_id} skipped: its record is damaged ({skipped.reason})",
              file=sys.stderr)
    if args.json:
        for run in runs:
            print(json.dumps({"id": run.id, "preset": run.preset, "status": run.status,
                              "test_accuracy": run.test_accuracy, "seconds": run.seconds,
                              "created_at": run.created_at, "has_model": run.has_model,
                              "epochs_done": run.epochs_done,
                              "epochs_planned": run.epochs_planned, "error": run.error}))
        return 0
    if not runs:
        print(f"no runs yet in {settings.lab_home()}; start one with: python -m mnist_core train")
        return 0
    print(f"{'id':24} {'preset':14} {'status':12} {'epochs':>7} {'test acc':>8} {'seconds':>8}")
    for run in runs:
        acc = "" if run.test_accuracy is None else f"{run.test_accuracy:.4f}"
        secs = "" if run.seconds is None else f"{run.seconds:.0f}"
        epochs = f"{run.epochs_done}/{run.epochs_planned or '?'}"
        print(f"{run.id:24} {run.preset:14} {run.status:12} {epochs:>7} {acc:>8} {secs:>8}")
    return 0


def cmd_class_model(args) -> int:
    from mnist_core.lab.store import RunStore

    store = RunStore()
    if args.model:
        store.set_class_model(args.model)
        print(f"the class model is now {args.model}; open pages switch to it within seconds")
    else:
        print(store.class_model())
    return 0
