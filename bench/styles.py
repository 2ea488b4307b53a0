"""Accuracy per handwriting style: the continental 1, the crossed 7, the slashed 0, ...

    python bench/styles.py [--n 300] [--seed 10000] [--model FILE.keras] [--styles 1-flag,0-slashed]

Drawings from `mnist_core.drawing.synthetic.style_digits` (every style in `STYLES`, drawn by simulated
writers), on evaluation seeds (>= EVAL_SEED_BASE: training data never uses them), read through
the Draw page's preprocessing (`to_mnist`). Prints a markdown table, then the same model's
MNIST test accuracy and its accuracy on the plain synthetic drawings of bench/drawn_digits.py
(2,000, seed 0) for comparison.
"""
from __future__ import annotations

import datetime
import time
from pathlib import Path

import harness


def main() -> None:
    from mnist_core import settings
    from mnist_core.drawing.synthetic import EVAL_SEED_BASE, STYLES

    parser = harness.parser(__doc__)
    parser.add_argument("--model", default=str(settings.BUNDLED_MODEL), help="a .keras file")
    parser.add_argument("--n", type=int, default=300, help="drawings per style")
    parser.add_argument("--seed", type=int, default=EVAL_SEED_BASE)
    parser.add_argument("--styles", default=None, help="comma-separated; default: all")
    parser.add_argument("--no-mnist", action="store_true", help="skip the MNIST test set")
    args = parser.parse_args()
    args.test_images, args.drawn = None, 2000
    harness.shrink(args, n=2, test_images=200, drawn=20)
    if args.seed < EVAL_SEED_BASE:
        parser.error(f"evaluation seeds are >= {EVAL_SEED_BASE} (below are for training data)")
    styles = args.styles.split(",") if args.styles else list(STYLES)
    unknown = [s for s in styles if s not in STYLES]
    if unknown:
        parser.error(f"unknown styles {unknown}; known: {', '.join(STYLES)}")

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.synthetic import drawn_digit_accuracy, style_accuracy
    from mnist_core.model.files import load_checked

    model = load_checked(Path(args.model))
    started = time.perf_counter()
    results = style_accuracy(model, args.n, args.seed, styles)
    with harness.Report(args) as report:
        report.say(f"{datetime.date.today()}  model {args.model}  {args.n} drawings per style, "
                   f"seed {args.seed}  ({time.perf_counter() - started:.0f} s)")
        report.say()
        table = report.table("styles", ["style", "n", "accuracy", "most common wrong answer"])
        for name, r in results.items():
            if r["top_wrong_count"]:
                answer = "empty" if r["top_wrong"] is None else str(r["top_wrong"])
                wrong = f"{answer} ({r['top_wrong_count']} of {r['n']})"
            else:
                wrong = "-"
            table.row(name, r["n"], f"{100 * r['accuracy']:.1f}%", wrong, **r)
        total = sum(r["n"] for r in results.values())
        mean = sum(r["accuracy"] * r["n"] for r in results.values()) / max(total, 1)
        table.row("all styles", total, f"{100 * mean:.1f}%", "", accuracy=mean)
        report.say()
        if not args.no_mnist:
            from mnist_core.data.mnist import load_mnist
            from mnist_core.model.evaluation import evaluate

            data = load_mnist().limit(args.test_images)
            accuracy = evaluate(model, data.x_test, data.y_test).accuracy
            report.say(f"MNIST test set ({len(data.y_test):,} images): {100 * accuracy:.2f}%",
                       mnist_test=accuracy)
        drawn = drawn_digit_accuracy(model, args.drawn, 0)
        report.say(f"synthetic drawn digits (bench/drawn_digits.py, {args.drawn:,}, seed 0): "
                   f"{100 * drawn['ours']:.2f}% ({drawn['empty']} judged empty)",
                   drawn_digits=drawn["ours"])


if __name__ == "__main__":
    main()
