"""`python -m mnist_core` — train, evaluate, predict and list runs from a terminal.

Every failure a user can cause prints one line starting with "error:" and exits with code 2;
tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from mnist_core import settings
from mnist_core.data.mnist import DataError, load_mnist_soon
from mnist_core.model.files import ModelError
from mnist_core.drawing.preprocess import ImageError
from mnist_core.quiet import import_tensorflow_quietly
from mnist_core.lab.store import StoreError

USER_ERRORS = (DataError, ModelError, ImageError, StoreError, ValueError, KeyError, OSError)


def _parser() -> argparse.ArgumentParser:
    from mnist_core.training.presets import PRESETS

    p = argparse.ArgumentParser(prog="python -m mnist_core",
                                description="Train, evaluate and use CNNs on MNIST.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset (or a stored run's settings, or an "
                       "architecture file) and store the run")
    what = t.add_mutually_exclusive_group()
    what.add_argument("--preset", choices=list(PRESETS),
                      help="a preset's architecture and settings (default: fast)")
    what.add_argument("--from-run", metavar="RUN_ID",
                      help="rebuild and retrain a stored run from its record alone")
    t.add_argument("--spec", metavar="FILE.json",
                   help="an architecture as JSON ({\"name\": ..., \"layers\": [...]}), "
                        "trained with the preset's (or the run's) other settings")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    t.add_argument("--limit", type=int, help="train on the first N images only (quick runs)")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random rotation/zoom/shift of training images (default: the preset's)")
    t.add_argument("--val-fraction", dest="validation_fraction", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"])
    t.add_argument("--data", help="MNIST folder, mnist.npz or Kaggle train.csv")
    t.add_argument("--export", metavar="FILE.keras",
                   help="also write the model and a model card (FILE.json) here")
    t.add_argument("--json", action="store_true", help="print the result as one JSON object")

    e = sub.add_parser("evaluate", help="test accuracy and loss of a model")
    e.add_argument("--model", help="'bundled' (default), a run id, or a .keras file")
    e.add_argument("--data")
    e.add_argument("--limit", type=int, help="evaluate on the first N test images only")
    e.add_argument("--json", action="store_true")

    r = sub.add_parser("predict", help="classify image files")
    r.add_argument("images", nargs="+", metavar="IMAGE")
    r.add_argument("--model")
    r.add_argument("--json", action="store_true", help="one JSON object per line and image")

    f = sub.add_parser("finetune", help="teach a model the class's handwriting: fine-tune it "
                       "on the saved drawings and store the result as a run")
    f.add_argument("--from", dest="source", required=True, metavar="MODEL",
                   help="'bundled' or a run id")
    f.add_argument("--epochs", type=int)
    f.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    f.add_argument("--replay", type=int,
                   help="MNIST training images mixed in (default: 20 per drawing, >= 3,000)")
    f.add_argument("--seed", type=int)
    f.add_argument("--data", help="MNIST folder or mnist.npz (replay and test images)")
    f.add_argument("--json", action="store_true", help="print the result as one JSON object")

    s = sub.add_parser("runs", help="list stored training runs")
    s.add_argument("--json", action="store_true")

    c = sub.add_parser("class-model", help="show the class model (the one every browser uses "
                       "unless it picked its own), or make another the class model")
    c.add_argument("model", nargs="?", metavar="MODEL", help="'bundled' or a run id to use")

    k = sub.add_parser("teacher-link", help="print a one-time link that unlocks the teacher "
                       "controls in one browser (the server needs a teacher key)")
    k.add_argument("--url", help="the lab's address as students open it (default: this "
                   "computer's LAN address, port 8501)")
    k.add_argument("--https", action=argparse.BooleanOptionalAction, default=None,
                   help="an https:// link (default: when `https-cert` made a certificate in "
                        "the lab home)")

    h = sub.add_parser("https-cert", help="make a self-signed certificate and key to serve the "
                       "lab over https on the class network, and print the command to start it")
    h.add_argument("--dir", help="folder for cert.pem and key.pem (default: https/ in the lab "
                   "home)")
    h.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                   help="one more IP address to cover (repeatable); this computer's LAN "
                        "addresses and 127.0.0.1 always are")
    h.add_argument("--name", action="append", default=[], metavar="HOST",
                   help="one more host name to cover (repeatable); this computer's name, "
                        "name.local and localhost always are")
    h.add_argument("--days", type=int, default=825, help="validity (at most 825, the longest "
                   "Apple devices accept; default 825)")
    h.add_argument("--port", type=int, help="the port the printed command serves on (default: "
                   "Streamlit's, 8501)")
    h.add_argument("--force", action="store_true",
                   help="replace a certificate and key that already exist there")
    return p


def _progress_line(snap) -> str:
    width = 24
    filled = int(width * snap.fraction_done)
    eta = "--" if snap.eta_seconds is None else f"{snap.eta_seconds:4.0f}s"
    loss = f"{snap.batch_loss[-1]:.4f}" if snap.batch_loss else "-"
    acc = f"{snap.batch_accuracy[-1]:.4f}" if snap.batch_accuracy else "-"
    return (f"\repoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs} "
            f"[{'#' * filled}{'.' * (width - filled)}] {100 * snap.fraction_done:5.1f}% "
            f"{snap.images_per_second:6.0f} img/s  ETA {eta}  loss {loss}  acc {acc} ")


def _follow(job):
    """Show a job's progress on stderr until it ends; the first Ctrl-C stops it cleanly at the
    next batch (the best weights are kept). Returns the final snapshot."""
    signal.signal(signal.SIGINT, lambda *_: (job.stop(), print("\nstopping...", file=sys.stderr)))
    interactive = sys.stderr.isatty()
    last_epoch = -1
    while not job.join(timeout=0.5):
        snap = job.snapshot()
        if interactive:
            print(_progress_line(snap), end="", file=sys.stderr, flush=True)
        elif snap.epoch != last_epoch and snap.history:
            last_epoch = snap.epoch
            h = snap.history[-1]
            print(f"epoch {h['epoch']}/{snap.epochs}: loss {h.get('loss', 0):.4f} "
                  f"acc {h.get('accuracy', 0):.4f} val_loss {h.get('val_loss', float('nan')):.4f}"
                  f" val_acc {h.get('val_accuracy', float('nan')):.4f}", file=sys.stderr)
    snap = job.snapshot()
    if interactive:
        print(_progress_line(snap), file=sys.stderr)
    return snap


def _plan_train(args):
    """(store, config) of a `train` command, checked before TensorFlow loads: bad settings, and
    a lab home that could not keep the run (read-only, full disk), are said at once, not after
    minutes of training."""
    from dataclasses import replace

    from mnist_core.lab.store import RunStore, model_file_bytes

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
    from mnist_core.jobs.registry import TrainingJob

    store, config = args.plan if hasattr(args, "plan") else _plan_train(args)
    job = TrainingJob(config, args.dataset(), store).start()
    snap = _follow(job)
    if snap.status == "failed":
        raise ValueError(f"training failed: {snap.error}")
    record = job.record
    if args.export:
        _export(job, Path(args.export), args)
    result = {"run_id": record.id, "status": record.status, "preset": config.preset,
              "test_accuracy": record.test_accuracy, "test_loss": record.test_loss,
              "seconds": round(record.seconds or 0, 1), "model_file": str(store.model_path(record.id))
              if record.has_model else None}
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
    from mnist_core.training.config import TrainConfig

    if not args.from_run:
        return TrainConfig.from_preset(args.preset or "fast")
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

    defaults = finetune.FineTuneConfig()
    config = finetune.FineTuneConfig(
        source=args.source, epochs=defaults.epochs if args.epochs is None else args.epochs,
        learning_rate=defaults.learning_rate if args.learning_rate is None
        else args.learning_rate, replay=args.replay,
        seed=defaults.seed if args.seed is None else args.seed)
    config.validate()
    store = RunStore()
    finetune.check_ready(store, config.source)   # before loading MNIST: say it at once
    dataset = args.dataset()
    job = finetune.start(JobRegistry(), store, config, dataset)
    snap = _follow(job)
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


def _load_model(ref):
    from mnist_core.lab.catalog import model_file
    from mnist_core.model.files import load_checked
    from mnist_core.lab.store import RunStore

    path, name = model_file(RunStore(), ref, allow_path=True)
    return load_checked(path), name


def cmd_evaluate(args) -> int:
    from mnist_core.model.evaluation import evaluate

    model, name = _load_model(args.model)
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

    model, _ = _load_model(args.model)
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


def cmd_teacher_link(args) -> int:
    from mnist_core.classroom.joining import lan_ip
    from mnist_core.lab.store import RunStore
    from mnist_core.classroom.teacher import LINK_SECONDS, create_link_token, teacher_link

    https = args.https
    if https is None:
        from mnist_core.classroom.https_cert import CERT_NAME, default_dir

        https = (default_dir() / CERT_NAME).is_file()
    url = args.url or f"{'https' if https else 'http'}://{lan_ip() or 'localhost'}:8501"
    print(teacher_link(url, create_link_token(RunStore())))
    print(f"(works once, within {LINK_SECONDS // 3600} hours, on a server of this lab home "
          f"({settings.lab_home()}) that has a teacher key)", file=sys.stderr)
    return 0


def cmd_https_cert(args) -> int:
    from mnist_core.classroom.https_cert import default_dir, make_certificate, streamlit_command, this_computer

    ips, names = this_computer()
    try:
        cert = make_certificate(Path(args.dir) if args.dir else default_dir(),
                                ips + args.ip, names + args.name, days=args.days,
                                force=args.force)
    except ImportError as e:
        raise ValueError(f"making a certificate needs the 'cryptography' package ({e}): "
                         "pip install -r requirements.txt") from None
    lan = [ip for ip in cert.ips if ip not in ("127.0.0.1", "::1")]
    port = args.port or 8501
    print(f"Made a self-signed certificate for {', '.join(cert.ips + cert.names)}, valid until "
          f"{cert.not_after:%Y-%m-%d}.")
    print(f"  certificate:  {cert.cert_file}")
    print(f"  private key:  {cert.key_file} (readable by you only; it never leaves this "
          "computer)")
    print(f"  SHA-256 fingerprint: {cert.fingerprint}")
    print("\nStart the lab over https (with MNIST_LAB_TEACHER_KEY=... in front, as usual):\n")
    print(f"  {streamlit_command(cert, port=args.port)}\n")
    joins = " or ".join(f"https://{ip}:{port}" for ip in lan) or f"https://localhost:{port}"
    print(f"Students open {joins} (the Home page shows it, with its QR code). The certificate "
          "is self-signed, so browsers warn that the connection is not private: on Chromebooks, "
          "Android and laptops they go on once; iPads and iPhones need cert.pem installed and "
          "fully trusted first (README, \"Over https\"). If this computer's address changes, "
          "make a new one with --force.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
               "finetune": cmd_finetune, "runs": cmd_runs, "class-model": cmd_class_model,
               "teacher-link": cmd_teacher_link, "https-cert": cmd_https_cert}[args.command]
    try:
        if args.command == "train":
            args.plan = _plan_train(args)   # a bad setting or --spec is said before any data
        if args.command in ("train", "finetune", "evaluate"):
            args.dataset = load_mnist_soon(args.data)   # read while TensorFlow loads
        if args.command not in ("runs", "class-model", "teacher-link", "https-cert"):
            import_tensorflow_quietly()
        return handler(args)
    except USER_ERRORS as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
