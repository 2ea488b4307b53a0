"""Accuracy per handwriting style: the continental 1, the crossed 7, the slashed 0, ...

    python bench/styles.py [--n 300] [--seed 10000] [--model FILE.keras] [--styles 1-flag,0-slashed]
        [--regions assets/hard_regions.json] [--sheet docs/handwriting/still-misread.png]

Drawings of every style in `STYLES` uniform over the widened style and writer space
(`mnist_core.drawing.handwriting.space_digits`, a new writer each; docs/handwriting.md), on
evaluation seeds (>= EVAL_SEED_BASE: training data never uses them), read through the Draw
page's preprocessing (`to_mnist`). Prints a markdown table; then, with `--regions`, the
worst-region set (100 drawings inside each region, seeds 10,500 up, as bench/style_mix.py);
then the same model's MNIST test accuracy and its accuracy on the plain synthetic drawings of
bench/drawn_digits.py (2,000, seed 0) for comparison.
"""
from __future__ import annotations

import datetime
import time
from pathlib import Path

import harness


def main() -> None:
    from mnist_core import settings
    from mnist_core.drawing.handwriting import EVAL_SEED_BASE
    from mnist_core.drawing.styles import style_list

    parser = harness.parser(__doc__)
    parser.add_argument("--model", default=str(settings.BUNDLED_MODEL), help="a .keras file")
    parser.add_argument("--n", type=int, default=300, help="drawings per style")
    parser.add_argument("--seed", type=int, default=EVAL_SEED_BASE)
    parser.add_argument("--styles", default=None, help="comma-separated; default: all")
    parser.add_argument("--regions", type=Path, help="hard regions: also the worst-region set")
    parser.add_argument("--sheet", type=Path,
                        help="a contact sheet (PNG) of the drawings still misread: a row per "
                             "style with errors, then the drawn digits misread")
    parser.add_argument("--no-mnist", action="store_true", help="skip the MNIST test set")
    args = parser.parse_args()
    args.test_images, args.drawn, args.per_region = None, 2000, 100
    harness.shrink(args, n=2, test_images=200, drawn=20, per_region=2)
    if args.seed < EVAL_SEED_BASE:
        parser.error(f"evaluation seeds are >= {EVAL_SEED_BASE} (below are for training data)")
    try:
        styles = style_list(args.styles)
    except ValueError as e:
        parser.error(str(e))

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.style_search import style_accuracy
    from mnist_core.drawing.synthetic import drawn_digit_accuracy
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
        if args.regions:
            import json

            import numpy as np

            from mnist_core.drawing.style_search import HardRegion, answers, region_digits

            regions = [HardRegion.from_dict(d)
                       for d in json.loads(args.regions.read_text())["regions"]]
            images, labels, _ = region_digits(regions, args.per_region, EVAL_SEED_BASE + 500)
            hard = float(np.mean(answers(model, images)[0] == labels))
            report.say(f"worst-region set ({len(labels):,} drawings in {len(regions)} regions of "
                       f"{args.regions}): {100 * hard:.2f}%", worst_regions=hard)
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
        if args.sheet:
            write_misread_sheet(model, results, args)
            report.say(f"wrote {args.sheet}")


def write_misread_sheet(model, results: dict, args) -> None:
    """A contact sheet of what is still misread: one row per style with errors (the same
    drawings as the table), then the plain drawn digits misread; each red-framed with the
    answer."""
    import cv2
    import numpy as np

    from mnist_core.drawing.handwriting import space_digits
    from mnist_core.drawing.style_search import answers
    from mnist_core.drawing.synthetic import drawn_digits
    from mnist_core.views.contact_sheet import contact_sheet

    rows, said, truths = [], [], []

    def add(given, x, truth, wrong):
        rows.append(x[wrong, ..., 0])
        said.append([int(g) for g in given[wrong]])
        truths.append(truth)

    for name, r in results.items():
        if r["accuracy"] < 1:
            given, x = answers(model, space_digits(name, args.n, args.seed)[0])
            add(given, x, r["digit"], np.flatnonzero(given != r["digit"]))
    images, labels = drawn_digits(args.drawn, 0)
    given, x = answers(model, images)
    for digit in np.unique(labels[given != labels]):
        add(given, x, int(digit), np.flatnonzero((given != labels) & (labels == digit)))
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.sheet), contact_sheet(rows, said, truths, columns=12))


if __name__ == "__main__":
    main()
