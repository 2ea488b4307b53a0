"""Accuracy on synthetic pen-drawn digits: MNIST-style preprocessing vs the naive resize.

    python bench/drawn_digits.py --n 2000 [--model bundled|RUN_ID|FILE.keras]

The drawings come from `mnist_core.drawing.synthetic` (stroke paths per digit, random size, position,
tilt, stroke width, rendered like the canvas). Same drawings, same model, two preprocessings.
"""
from __future__ import annotations

import harness


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args()
    harness.shrink(args, n=20)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.synthetic import drawn_digit_accuracy
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.files import load_checked

    path, name = model_file(RunStore(), args.model, allow_path=True)
    result = drawn_digit_accuracy(load_checked(path), args.n, args.seed)
    with harness.Report(args) as report:
        report.add("result", result)
        report.say(f"model {name}: {args.n} synthetic drawn digits (seed {args.seed})")
        report.say(f"  MNIST-style preprocessing: {100 * result['ours']:.2f}%  "
                   f"({result['empty']} judged empty)")
        report.say(f"  naive 280->28 resize:      {100 * result['naive']:.2f}%")
        report.say("  per digit (ours): " + "  ".join(f"{d}:{100 * a:.1f}%"
                                                     for d, a in result["per_digit"].items()))


if __name__ == "__main__":
    main()
