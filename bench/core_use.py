"""Cores busy and speed of one preset's training under levers that could use both cores.

    MNIST_DATA_DIR=../shared/mnist python bench/core_use.py LEVER [PRECISION] [PRESET]

LEVER: base, async (our per-batch callbacks marked `async_safe`, so Keras runs them on a thread
pool instead of syncing every batch), speN (`steps_per_execution=N`), batchN. Run with
`ONEDNN_MAX_CPU_ISA=AVX2` in the environment to limit oneDNN to AVX2. Prints one JSON line:
training seconds, cores busy ((user + sys) / wall of the `train()` call), test accuracy.
"""
from __future__ import annotations

import json
import os

import harness


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("lever", nargs="?", default="base",
                        help="base (the default), async, speN (steps_per_execution=N) or batchN")
    parser.add_argument("precision", nargs="?", default="float32")
    parser.add_argument("preset", nargs="?", default="fast")
    args = parser.parse_args()
    args.epochs, args.limit = None, None     # the preset's own, all of MNIST
    harness.shrink(args, epochs=1, limit=1000)
    lever, prec, preset = args.lever, args.precision, args.preset

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from mnist_core.data.mnist import load_mnist
    from mnist_core.training import callbacks
    from mnist_core.training import loop as training
    from mnist_core.training.presets import preset_config

    kw = {}
    if lever == "async":
        for c in (callbacks.LiveMetrics, callbacks.StopOnRequest):
            c.async_safe = True
    if lever.startswith("spe"):
        n = int(lever[3:])
        orig = keras.Model.compile

        def comp(self, *a, **k):
            k["steps_per_execution"] = n
            return orig(self, *a, **k)
        keras.Model.compile = comp
    if lever.startswith("batch"):
        kw["batch_size"] = int(lever[5:])
    data = load_mnist()
    cfg = preset_config(preset, precision=prec, epochs=args.epochs, limit=args.limit, **kw)
    training.train(preset_config(preset, epochs=1, limit=2000, precision=prec), data)  # warm-up
    c0 = os.times()
    r = training.train(cfg, data)
    c1 = os.times()
    with harness.Report(args) as report:
        report.add("result", row := {
            "lever": lever, "prec": prec, "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
            "seconds": round(r.seconds, 1),
            "busy": round((c1.user + c1.system - c0.user - c0.system) / r.seconds, 2),
            "acc": r.test_accuracy})
        report.say(json.dumps(row))


if __name__ == "__main__":
    main()
