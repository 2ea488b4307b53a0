"""Does "Teach the model our handwriting" pay off for a class? Synthetic classes, measured.

    MNIST_DATA_DIR=../shared/mnist python bench/class_teaching.py
        [--model assets/model.keras] [--regions assets/still_hard.json] [--classes 4]
        [--saved 75] [--unseen 40]
        [--levers default,all-layers,...]

Each class (`mnist_core.drawing.handwriting_class.make_class`) is a few writers sharing one hard
style mix: three digits written inside hard regions of their styles (`--regions`, from
bench/style_search.py on the same model), the writers sharing the habits of the worst. The class
saves `--saved` drawings; the model is fine-tuned on them (`mnist_core.jobs.finetune`, as the
Class page's button does) under each lever setting, and measured on the class's unseen drawings
(`--unseen` per digit, same writers), on other writers (uniform over the widened space) and on
the MNIST test set. "Gap closed": (after - before) / (1 - before) on the unseen drawings.

Levers: which layers learn, the rate, the epochs, the share of class drawings per epoch,
augmentation of the class drawings, and keeping the best epoch by the held-out drawings.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import harness

LEVERS = {
    "default": {},
    "head only": {"train_layers": "head"},
    "all layers": {"train_layers": "all"},
    "rate 1e-4": {"learning_rate": 1e-4},
    "rate 1e-3": {"learning_rate": 1e-3},
    "1 epoch": {"epochs": 1},
    "6 epochs": {"epochs": 6},
    "share 0.3": {"drawing_share": 0.3},
    "share 0.5": {"drawing_share": 0.5},
    "no augmentation": {"augment": False},
    "keep last epoch": {"keep_best": False},
    "rate 1e-3 + 6 epochs": {"learning_rate": 1e-3, "epochs": 6},
    "rate 1e-3 + share 0.3": {"learning_rate": 1e-3, "drawing_share": 0.3},
    "rate 1e-3 + 6 epochs + share 0.3": {"learning_rate": 1e-3, "epochs": 6, "drawing_share": 0.3},
    "all layers + rate 1e-3": {"train_layers": "all", "learning_rate": 1e-3},
}
OTHERS_PER_STYLE = 40


def main() -> None:
    from mnist_core import settings

    parser = harness.parser(__doc__)
    parser.add_argument("--model", default=str(settings.BUNDLED_MODEL), help="a .keras file")
    parser.add_argument("--regions", type=Path, default=harness.ROOT / "assets/still_hard.json",
                        help="hard regions for this model (bench/style_search.py --write); "
                             "default: what the search still finds for the bundled model")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--writers", type=int, default=4, help="writers per class")
    parser.add_argument("--saved", type=int, default=75, help="drawings the class saves")
    parser.add_argument("--unseen", type=int, default=40, help="unseen drawings per digit")
    parser.add_argument("--levers", default=",".join(LEVERS),
                        help=f"comma-separated, of: {', '.join(LEVERS)}; or key=value,... for "
                             "one custom setting")
    args = parser.parse_args()
    args.limit, args.others = None, OTHERS_PER_STYLE
    harness.shrink(args, classes=1, saved=20, unseen=2, limit=2000, others=1)
    levers = parse_levers(args.levers, parser)
    if args.dry_run:
        levers = dict(list(levers.items())[:2])
    with harness.Report(args) as out:
        measure(args, levers, out)


def parse_levers(text: str, parser) -> dict[str, dict]:
    if "=" in text:   # one custom setting: train_layers=all,learning_rate=0.001
        custom = {}
        for part in text.split(","):
            key, value = part.split("=")
            custom[key] = {"True": True, "False": False}.get(value, value)
            for cast in (int, float):
                try:
                    custom[key] = cast(value)
                    break
                except ValueError:
                    pass
        return {text: custom}
    unknown = [n for n in text.split(",") if n not in LEVERS]
    if unknown:
        parser.error(f"unknown levers {unknown}; known: {', '.join(LEVERS)}")
    return {n: LEVERS[n] for n in text.split(",")}


def measure(args, levers: dict[str, dict], out: harness.Report) -> None:
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing.handwriting import EVAL_SEED_BASE, space_digits
    from mnist_core.drawing.handwriting_class import make_class
    from mnist_core.drawing.style_search import HardRegion, prepare
    from mnist_core.drawing.styles import STYLES
    from mnist_core.jobs.finetune import FineTuneConfig, fine_tune
    from mnist_core.model.evaluation import evaluate
    from mnist_core.model.files import load_checked

    data = load_mnist().limit(args.limit)
    regions = [HardRegion.from_dict(d) for d in json.loads(args.regions.read_text())["regions"]]
    others = [space_digits(s, args.others, EVAL_SEED_BASE + 700)[0] for s in STYLES]
    x_others = prepare(np.concatenate(others))[0]
    y_others = np.repeat([d for d, _ in STYLES.values()], args.others)
    replay = replace(data, x_test=None, y_test=None)   # the MNIST test set is measured here

    def accuracies(model, x_class, y_class) -> tuple[float, float, float]:
        return (evaluate(model, x_class, y_class).accuracy,
                evaluate(model, x_others, y_others).accuracy,
                evaluate(model, data.x_test, data.y_test).accuracy)

    rows: dict[str, list[dict]] = {name: [] for name in levers}
    for k in range(args.classes):
        group = make_class(k, regions, args.writers)
        saved, labels, _ = group.drawings(-(-args.saved // 10), 0)
        saved, labels = saved[:args.saved], labels[:args.saved]
        unseen, y_unseen, _ = group.drawings(args.unseen, 1)
        x_saved, x_unseen = prepare(saved)[0], prepare(unseen)[0]
        base = load_checked(Path(args.model))
        before = accuracies(base, x_unseen, y_unseen)
        out.say(f"{group.name}: {group.summary()}; before: unseen {100 * before[0]:.1f}%, "
                f"others {100 * before[1]:.2f}%, MNIST {100 * before[2]:.2f}%",
                group=group.name, styles=group.styles, before=before)
        for name, overrides in levers.items():
            model = load_checked(Path(args.model))
            started = time.monotonic()
            config = FineTuneConfig(**overrides)
            fine_tune(config, model, x_saved[..., 0], labels, replay)
            after = accuracies(model, x_unseen, y_unseen)
            closed = (after[0] - before[0]) / max(1 - before[0], 1e-9)
            row = {"class": group.name, "before": before, "after": after, "closed": closed,
                   "seconds": time.monotonic() - started}
            rows[name].append(row)
            out.say(f"  {name}: unseen {100 * after[0]:.1f}% (gap closed {100 * closed:.0f}%), "
                    f"others {100 * after[1]:.2f}%, MNIST {100 * after[2]:.2f}% "
                    f"({row['seconds']:.0f} s)", lever=name, **row)
    out.say()
    table = out.table("levers", ["lever", "class unseen, before → after", "gap closed (mean, "
                                 "worst class)", "other writers Δ", "MNIST test Δ", "seconds"])
    for name, results in rows.items():
        b = np.mean([r["before"] for r in results], axis=0)
        a = np.mean([r["after"] for r in results], axis=0)
        closed = [r["closed"] for r in results]
        table.row(name, f"{100 * b[0]:.1f}% → {100 * a[0]:.1f}%",
                  f"{100 * np.mean(closed):.0f}%, {100 * min(closed):.0f}%",
                  f"{100 * (a[1] - b[1]):+.2f}", f"{100 * (a[2] - b[2]):+.2f}",
                  f"{np.mean([r['seconds'] for r in results]):.0f}",
                  lever=name, closed_mean=float(np.mean(closed)), closed_min=float(min(closed)),
                  before=b.tolist(), after=a.tolist())


if __name__ == "__main__":
    main()
