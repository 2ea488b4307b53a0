"""A job's progress on the terminal, and Ctrl-C as its Stop button."""
from __future__ import annotations

import signal
import sys


def _progress_line(snap) -> str:
    width = 24
    filled = int(width * snap.fraction_done)
    eta = "--" if snap.eta_seconds is None else f"{snap.eta_seconds:4.0f}s"
    loss = f"{snap.batch_loss[-1]:.4f}" if snap.batch_loss else "-"
    acc = f"{snap.batch_accuracy[-1]:.4f}" if snap.batch_accuracy else "-"
    return (f"\repoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs} "
            f"[{'#' * filled}{'.' * (width - filled)}] {100 * snap.fraction_done:5.1f}% "
            f"{snap.images_per_second:6.0f} img/s  ETA {eta}  loss {loss}  acc {acc} ")


def follow(job):
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
