"""Cores busy and speed of one preset's training under levers that could use both cores.

    MNIST_DATA_DIR=../shared/mnist python bench/core_use.py LEVER [PRECISION] [PRESET]

LEVER: base, async (our per-batch callbacks marked `async_safe`, so Keras runs them on a thread
pool instead of syncing every batch), speN (`steps_per_execution=N`), batchN. Run with
`ONEDNN_MAX_CPU_ISA=AVX2` in the environment to limit oneDNN to AVX2. Prints one JSON line:
training seconds, cores busy ((user + sys) / wall of the `train()` call), test accuracy.
"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mnist_core.quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
from mnist_core.training.config import TrainConfig
from mnist_core.data.mnist import load_mnist
from mnist_core.training import loop as training
from mnist_core.training import callbacks
lever = sys.argv[1]; prec = sys.argv[2] if len(sys.argv) > 2 else "float32"
preset = sys.argv[3] if len(sys.argv) > 3 else "fast"
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
cfg = TrainConfig.from_preset(preset, precision=prec, **kw)
training.train(TrainConfig.from_preset(preset, epochs=1, limit=2000, precision=prec), data)  # warm-up
c0 = os.times(); r = training.train(cfg, data); c1 = os.times()
print(json.dumps({"lever": lever, "prec": prec, "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
                  "seconds": round(r.seconds, 1), "busy": round((c1.user+c1.system-c0.user-c0.system)/r.seconds, 2),
                  "acc": r.test_accuracy}), flush=True)
