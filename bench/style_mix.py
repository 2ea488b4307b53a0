"""Teach the bundled model the world's handwriting styles, and measure the options.

    MNIST_DATA_DIR=../shared/mnist python bench/style_mix.py [--epochs 4] [--per-style 40]
        [--train-seeds 20] [--boost 1-flag:3] [--width-aug] [--export assets/model.keras]

Starts from the bundled model (the `best` preset trained on MNIST) and fine-tunes it on all of
MNIST's training images plus pen renderings of every named style in `mnist_core.drawing.synthetic`
(a continental 1 with its flag, a crossed 7, a slashed 0, an open 4...), drawn by writers from
TRAINING seeds only (0..train-seeds-1, `train_seed` refuses evaluation seeds), put through the
Draw page's own MNIST-style preprocessing, with the `best` preset's augmentation, label
smoothing and mixed precision where the CPU has native bf16. The epoch with the best accuracy
on held-out data (MNIST's usual 10% validation split plus styles from a further training seed)
is kept. `--width-aug` also thickens or thins a third of the images (a stroke-width
augmentation), the other option the issue names.

Then it reports, for the starting model and the result: MNIST test accuracy, accuracy per
style on evaluation writers (seeds >= EVAL_SEED_BASE, never seen in training), and the older
synthetic set (`drawn_digits`, 2,000, seed 0). With `--export`, the result and its model card
are written (the card records the data mix and this command).
"""
from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import harness

EVAL_PER_STYLE = 300
VALIDATION_SEED = 9_999   # a training-range seed that no training set uses (boosts stay below)


def prepare(images: np.ndarray) -> np.ndarray:
    """Canvas RGBA drawings -> (N, 28, 28, 1) float32, exactly as the Draw page prepares them."""
    from mnist_core.drawing.preprocess import to_mnist

    out = []
    for image in images:
        prepared = to_mnist(image)
        out.append(np.zeros((28, 28), np.float32) if prepared.empty else prepared.image)
    return np.asarray(out, np.float32)[..., None]


def style_set(per_style: int, seeds: list[int], styles: list[str] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from mnist_core.drawing.synthetic import style_digits

    parts = [style_digits(per_style, seed, styles) for seed in seeds]
    return (prepare(np.concatenate([p[0] for p in parts])), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def width_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dilate a sixth and erode a sixth of the images by one pixel: thick and thin pens."""
    import cv2

    out = x.copy()
    kernel = np.ones((2, 2), np.uint8)
    for i in np.flatnonzero(rng.random(len(x)) < 1 / 3):
        op = cv2.dilate if rng.random() < 0.5 else cv2.erode
        out[i, ..., 0] = op(x[i, ..., 0], kernel)
    return out


def report(name: str, model, data, evaluation, out: harness.Report,
           drawn: int = 2000) -> dict:
    from mnist_core.model.evaluation import evaluate, predict_probabilities
    from mnist_core.drawing.synthetic import drawn_digit_accuracy

    x_style, y_style, s_style = evaluation
    predicted = predict_probabilities(model, x_style).argmax(axis=1)
    per_style = {}
    for style in dict.fromkeys(s_style):
        mask = s_style == style
        wrong = predicted[mask][predicted[mask] != y_style[mask]]
        common = int(np.bincount(wrong, minlength=10).argmax()) if len(wrong) else None
        per_style[style] = (float(np.mean(predicted[mask] == y_style[mask])), common)
    result = {"name": name, "mnist_test": evaluate(model, data.x_test, data.y_test).accuracy,
              "drawn_digits": drawn_digit_accuracy(model, drawn, 0)["ours"],
              "styles": per_style}
    worst = min(per_style.items(), key=lambda kv: kv[1][0])
    out.say(f"{name}: MNIST test {100 * result['mnist_test']:.2f}%, synthetic drawn digits "
            f"{100 * result['drawn_digits']:.2f}%, worst style {worst[0]} "
            f"{100 * worst[1][0]:.1f}%", **result)
    return result


def fine_tune(args, data, out: harness.Report):
    import keras

    from mnist_core import settings
    from mnist_core.data.dataset import split_validation
    from mnist_core.model.files import load_checked
    from mnist_core.model.build import build_model, resolve_precision
    from mnist_core.training.presets import get_preset
    from mnist_core.drawing.synthetic import train_seed
    from mnist_core.training.loop import augmenter, dataset_pipeline, as_float32

    preset = get_preset("best").config
    x_tr, y_tr, x_val, y_val = split_validation(data.x_train, data.y_train, 0.1, 0)
    started = time.monotonic()
    xs, ys, _ = style_set(args.per_style, [train_seed(s) for s in range(args.train_seeds)])
    for style, times in args.boost:   # more writers for the styles MNIST lacks most
        more = range(args.train_seeds, args.train_seeds * times)
        xb, yb, _ = style_set(args.per_style, [train_seed(s) for s in more], [style])
        xs, ys = np.concatenate([xs, xb]), np.concatenate([ys, yb])
    xs_val, ys_val, _ = style_set(args.validation_per_style,
                                  [train_seed(VALIDATION_SEED)])  # writers not in training
    out.say(f"rendered {len(xs)} training and {len(xs_val)} validation style drawings in "
            f"{time.monotonic() - started:.0f} s")
    rng = np.random.default_rng(0)
    if args.width_aug:
        xs = width_augment(xs, rng)
    x = np.concatenate([x_tr, xs])
    y = np.concatenate([y_tr, ys])
    x_v, y_v = np.concatenate([x_val, xs_val]), np.concatenate([y_val, ys_val])

    precision = resolve_precision("auto")
    model = build_model(preset.spec, precision)
    model.set_weights(load_checked(settings.BUNDLED_MODEL).get_weights())
    keras.utils.set_random_seed(0)
    steps = int(np.ceil(len(x) / 128)) * args.epochs
    rate = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(rate), metrics=["accuracy"],
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing))
    train_ds = dataset_pipeline(x, y, 128, shuffle_seed=0, jitter=augmenter(preset.augmentation, 0),
                         one_hot=True)
    val_ds = dataset_pipeline(x_v, y_v, 1000, shuffle_seed=None, one_hot=True)
    best_weights, best_acc, history = None, -1.0, []
    for epoch in range(args.epochs):
        t = time.monotonic()
        h = model.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, validation_data=val_ds,
                      verbose=0).history
        acc = float(h["val_accuracy"][-1])
        history.append({"epoch": epoch + 1, "val_accuracy": acc, "loss": float(h["loss"][-1])})
        out.say(f"epoch {epoch + 1}/{args.epochs}: val accuracy (MNIST + styles) "
                f"{100 * acc:.2f}% in {time.monotonic() - t:.0f} s", **history[-1])
        if acc > best_acc:
            best_acc, best_weights = acc, model.get_weights()
    model.set_weights(best_weights)
    seconds = time.monotonic() - started
    return as_float32(model, preset.spec, precision), history, seconds, len(xs), precision


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--per-style", type=int, default=40,
                        help="drawings per style and training seed (each seed: 40 writers)")
    parser.add_argument("--train-seeds", type=int, default=20)
    parser.add_argument("--width-aug", action="store_true")
    parser.add_argument("--boost", action="append", default=[], metavar="STYLE:K",
                        type=lambda v: (v.split(":")[0], int(v.split(":")[1])),
                        help="K times as many training writers for STYLE (e.g. 1-flag:3)")
    parser.add_argument("--export", type=Path)
    args = parser.parse_args()
    args.limit, args.eval_per_style, args.validation_per_style, args.drawn = None, \
        EVAL_PER_STYLE, 10, 2000
    export = args.export
    # 1,000 MNIST images, a few drawings per style; an --export goes to a temporary folder.
    harness.shrink(args, epochs=1, per_style=1, train_seeds=1, limit=1000, eval_per_style=3,
                   validation_per_style=1, drawn=20)
    with tempfile.TemporaryDirectory(prefix="style-mix-") as scratch, \
            harness.Report(args) as out:
        if args.dry_run and export:
            args.export = Path(scratch) / export.name
        mix(args, out)


def mix(args, out: harness.Report) -> None:
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core import settings
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing.synthetic import EVAL_SEED_BASE
    from mnist_core.model.files import load_checked, save_atomic

    data = load_mnist().limit(args.limit)
    evaluation = style_set(args.eval_per_style // 3, [EVAL_SEED_BASE + k for k in range(3)])
    before = report("bundled (before)", load_checked(settings.BUNDLED_MODEL), data, evaluation,
                    out, args.drawn)
    model, history, seconds, n_styles, precision = fine_tune(args, data, out)
    after = report("fine-tuned with styles", model, data, evaluation, out, args.drawn)
    out.say()
    table = out.table("styles", ["style", "before", "after", "most common wrong answer after"])
    for style, (acc, _) in before["styles"].items():
        acc2, wrong = after["styles"][style]
        table.row(style, f"{100 * acc:.1f}%", f"{100 * acc2:.1f}%",
                  "" if wrong is None else wrong)
    for key, label in (("mnist_test", f"MNIST test ({len(data.x_test):,})"),
                       ("drawn_digits", f"synthetic drawn digits ({args.drawn:,})")):
        table.row(label, f"{100 * before[key]:.2f}%", f"{100 * after[key]:.2f}%", "")
    out.say(f"training: {seconds:.0f} s ({precision})", seconds=seconds)
    if args.export:
        save_atomic(model, args.export)
        card = json.loads(settings.BUNDLED_MODEL_CARD.read_text())
        card.update({
            "test_accuracy": round(after["mnist_test"], 4),
            "style_accuracy": {s: round(a, 4) for s, (a, _) in after["styles"].items()},
            "drawn_digits_accuracy": round(after["drawn_digits"], 4),
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "fine_tuned": {
                "from": "the `best` preset trained on MNIST (card fields `config`, `command` "
                        "before this step)",
                "data": f"MNIST training images (54,000 after the 10% validation split) + "
                        f"{n_styles} pen renderings of {len(before['styles'])} named styles "
                        f"(mnist_core.drawing.styles.STYLES, training seeds 0..{args.train_seeds - 1}"
                        + "".join(f"; {st}: seeds 0..{args.train_seeds * k - 1}"
                                  for st, k in args.boost) + ")"
                        f", MNIST-style preprocessing, `best` augmentation"
                        + (", stroke-width augmentation" if args.width_aug else ""),
                "epochs": args.epochs, "learning_rate": args.lr, "precision": precision,
                "seconds": round(seconds, 1), "history": history,
                "command": "python bench/style_mix.py " + " ".join(
                    shlex.quote(a) for a in sys.argv[1:])},
        })
        card.pop("data_source", None)  # a path of the machine that trained it: not for a card
        args.export.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
        out.say(f"wrote {args.export} and {args.export.with_suffix('.json')}")


if __name__ == "__main__":
    main()
