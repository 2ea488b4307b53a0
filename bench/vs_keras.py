"""Whole-process wall time to >= 99.0% MNIST test accuracy: our `fast` preset (the real CLI)
against the keras-io "Simple MNIST convnet" (bench/keras_example.py), in one run on one machine.

    MNIST_DATA_DIR=../shared/mnist python bench/vs_keras.py --rounds 2 --precision float32 auto

Each round runs, one after the other and nothing else alongside, as fresh processes:
`python -m mnist_core train --preset fast --precision P --json` (for each P) and the Keras
example (its own float32 defaults, stopped at the first epoch whose test accuracy reaches the
target). Wall time is the child process from start to exit (imports, data loading, training,
evaluation, saving: everything a user waits for); CPU use is its (user + sys) / wall from
`os.wait4`, i.e. how many of the cores it kept busy. Prints a markdown table and the ratio
fast / Keras example of the medians (goal <= 0.25).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import harness
from harness import ROOT


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, cores busy, stdout) of one child process."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, (usage.ru_utime + usage.ru_stime) / wall, out


def run_fast(precision: str, preset: str, env: dict, smallest: list[str] = ()) -> dict:
    with tempfile.TemporaryDirectory() as home:
        wall, busy, out = timed([sys.executable, "-m", "mnist_core", "train", "--preset", preset,
                                 "--precision", precision, "--json", *smallest],
                                env | {"MNIST_LAB_HOME": home})
    result = json.loads(out.strip().splitlines()[-1])
    return {"what": f"{preset} ({precision})", "wall": wall, "busy": busy,
            "accuracy": result["test_accuracy"], "training": result["seconds"]}


def run_keras(target: float, env: dict, smallest: list[str] = ()) -> dict:
    wall, busy, out = timed([sys.executable, str(ROOT / "bench" / "keras_example.py"),
                             "--target", str(target), *smallest], env)
    epochs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {"what": "keras-io example (float32)", "wall": wall, "busy": busy,
            "accuracy": epochs[-1]["test_accuracy"], "epochs": len(epochs)}


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precision", nargs="+", default=["float32", "auto"])
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--target", type=float, default=0.99)
    args = parser.parse_args()
    harness.shrink(args, rounds=1, precision=args.precision[:1])
    # Each side on its own smallest input: one epoch of 1,000 images.
    cli_small = ["--epochs", "1", "--limit", "1000"] if args.dry_run else []
    keras_small = ["--dry-run"] if args.dry_run else []
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    rows: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        for row in [run_fast(p, args.preset, env, cli_small) for p in args.precision] + \
                   [run_keras(args.target, env, keras_small)]:
            rows.setdefault(row["what"], []).append(row)
            print(f"round {r + 1}: {row['what']}: {row['wall']:.1f} s, "
                  f"{row['busy']:.2f} cores busy, test {100 * row['accuracy']:.2f}%"
                  + (f" after {row['epochs']} epochs" if "epochs" in row else
                     f" (training {row['training']:.1f} s)"), file=sys.stderr, flush=True)
    keras_wall = statistics.median(r["wall"] for r in rows["keras-io example (float32)"])
    with harness.Report(args) as report:
        report.add("runs", rows)
        report.say()
        report.say(f"{time.strftime('%Y-%m-%d')}, `python bench/vs_keras.py --rounds {args.rounds} "
                   f"--precision {' '.join(args.precision)}`, target {100 * args.target:.1f}%")
        report.say()
        table = report.table("runs", ["run", "process wall s (median)", "cores busy",
                                      "test accuracy", "ratio to Keras"])
        for what, runs in rows.items():
            wall = statistics.median(r["wall"] for r in runs)
            accs = ", ".join(f"{100 * r['accuracy']:.2f}%" for r in runs)
            extra = "" if "epochs" not in runs[0] else \
                f" ({', '.join(str(r['epochs']) for r in runs)} epochs)"
            table.row(what, f"{wall:.1f}", f"{statistics.median(r['busy'] for r in runs):.2f}",
                      f"{accs}{extra}", f"{wall / keras_wall:.3f}", wall=wall,
                      ratio=wall / keras_wall)


if __name__ == "__main__":
    main()
