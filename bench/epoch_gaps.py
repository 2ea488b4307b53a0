"""Why some epochs were 60% slower: the stall at the start of an epoch, with tf.data's
autotuner on and off.

    MNIST_DATA_DIR=../shared/mnist python bench/epoch_gaps.py [--preset fast] [--epochs 6] [--rounds 3]

Each round trains the preset twice in fresh processes, one with the training pipeline as
shipped (autotuner off, `mnist_core.training.loop.without_autotune`) and one with the autotuner left
on; the order alternates. Per run it prints every epoch's seconds and the gap between
`on_epoch_begin` and the first batch (where the old epoch's iterator is torn down), then the
medians. A gap above 0.1 s is a stall: with the autotuner on, 1.2-2.1 s in about half the epochs
on a 2-core machine.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys

import harness
from harness import ROOT

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from mnist_core.training import callbacks
from mnist_core.training import loop as training
from mnist_core.data.mnist import load_mnist
from mnist_core.training.presets import preset_config
if {autotune!r}:
    training.without_autotune = lambda ds: ds      # the pipeline as it was
gaps, begun = [], {{}}
original_begin, original_batch = callbacks.LiveMetrics.on_epoch_begin, \
    callbacks.LiveMetrics.on_train_batch_begin
def on_epoch_begin(self, epoch, logs=None):
    begun["t"] = time.perf_counter()
    return original_begin(self, epoch, logs)
def on_train_batch_begin(self, batch, logs=None):
    if batch == 0:
        gaps.append(time.perf_counter() - begun["t"])
    return original_batch(self, batch, logs)
callbacks.LiveMetrics.on_epoch_begin = on_epoch_begin
callbacks.LiveMetrics.on_train_batch_begin = on_train_batch_begin
config = preset_config({preset!r}, epochs={epochs}, precision={precision!r}, limit={limit!r})
result = training.train(config, load_mnist())
print(json.dumps({{"epochs": [h["seconds"] for h in result.history], "gaps": gaps}}))
"""


def run(preset: str, epochs: int, precision: str, autotune: bool,
        limit: int | None = None) -> dict:
    code = CHILD.format(root=str(ROOT), autotune=autotune, preset=preset, epochs=epochs,
                        precision=precision, limit=limit)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    args = parser.parse_args()
    args.limit = None      # all of MNIST
    harness.shrink(args, rounds=1, epochs=2, limit=1000)
    arms = {"autotuner off (shipped)": False, "autotuner on": True}
    results: dict[str, list[dict]] = {arm: [] for arm in arms}
    with harness.Report(args) as report:
        report.say(f"{args.preset}, {args.epochs} epochs, {args.precision}")
        table = report.table("runs", ["round", "pipeline", "epoch seconds",
                                      "gap before the first batch (s)"])
        for r in range(args.rounds):
            order = list(arms) if r % 2 == 0 else list(reversed(arms))
            for arm in order:
                res = run(args.preset, args.epochs, args.precision, arms[arm], args.limit)
                results[arm].append(res)
                table.row(r + 1, arm, ", ".join(f"{s:.2f}" for s in res["epochs"]),
                          ", ".join(f"{g:.2f}" for g in res["gaps"]), **res)
        report.say()
        summary = report.table("summary", ["pipeline", "median epoch 2+ (s)",
                                           "mean epoch 2+ (s)", "stalls > 0.1 s (epochs 2+)"])
        for arm, runs in results.items():
            later = [s for res in runs for s in res["epochs"][1:]]
            stalls = sum(g > 0.1 for res in runs for g in res["gaps"][1:])
            summary.row(arm, f"{statistics.median(later):.2f}", f"{statistics.mean(later):.2f}",
                        f"{stalls} of {len(later)}", stalls=stalls)


if __name__ == "__main__":
    main()
