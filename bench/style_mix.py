"""Teach the bundled model the world's handwriting styles, and measure the options.

    MNIST_DATA_DIR=../shared/mnist python bench/style_mix.py [--epochs 4] [--per-style 1500]
        [--regions assets/hard_regions.json] [--per-region 300] [--start FILE.keras]
        [--width-aug] [--export assets/model.keras]

Starts from `--start` (default: the bundled model) and fine-tunes it on all of MNIST's training
images (less the 10% validation split) plus pen renderings of every named style
(`mnist_core.drawing.styles.STYLES`: a continental 1 with its flag, a crossed 7, a slashed 0,
an open 4...), `--per-style` each drawn uniformly over the widened style and writer space, and
`--per-region` more from inside each hard region the failure search found (`--regions`, from
bench/style_search.py). All from TRAINING seeds (`train_seed` refuses evaluation seeds; the
seeds: docs/handwriting.md), put through the Draw page's own preprocessing, with the `best`
preset's augmentation (on the style drawings with a rotation of `--style-rotation` degrees
only: they carry their writers' own tilt), label smoothing and mixed precision where the CPU
has native bf16. The epoch kept is the one best on MNIST validation and style
validation drawings alike.
`--width-aug` also thickens or thins a third of the style images.

Then it reports, for the starting model and the result: MNIST test accuracy, accuracy per
style on the uniform evaluation set (300 drawings per style, seed 10,000), on the worst-region
set (100 drawings inside each region, seeds 10,500 up) and on the older synthetic set
(`drawn_digits`, 2,000, seed 0). With `--export`, the result and its model card are written
(the card records the data mix, this command and the search's).
"""
from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import harness

EVAL_PER_STYLE = 300
EVAL_PER_REGION = 100
VALIDATION_SEED = 9_999   # a training-range seed that no training set uses
REGION_SEED = 5_000       # training drawings from the hard regions: seeds 5,000 up
REGION_VALIDATION_SEED = 7_000
DRAWN_SEED = 1            # plain drawn digits for training (bench/drawn_digits.py measures seed 0)


def prepared(images: np.ndarray) -> np.ndarray:
    from mnist_core.drawing.style_search import prepare

    return prepare(images)[0]


def uniform_set(per_style: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`per_style` drawings of every style, uniform over the widened space, a writer each."""
    from mnist_core.drawing.handwriting import space_digits
    from mnist_core.drawing.styles import STYLES

    xs, ys, names = [], [], []
    for style, (digit, _) in STYLES.items():
        images, _, _ = space_digits(style, per_style, seed)
        xs.append(prepared(images))
        ys += [digit] * len(images)
        names += [style] * len(images)
    return np.concatenate(xs), np.array(ys, np.int64), np.array(names)


def hard_set(regions, per_region: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from mnist_core.drawing.style_search import region_digits

    images, labels, index = region_digits(regions, per_region, seed)
    return prepared(images), labels, index


def load_regions(path: Path | None) -> list:
    from mnist_core.drawing.style_search import HardRegion

    if path is None:
        return []
    return [HardRegion.from_dict(d) for d in json.loads(path.read_text())["regions"]]


def width_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dilate a sixth and erode a sixth of the images by one pixel: thick and thin pens."""
    import cv2

    out = x.copy()
    kernel = np.ones((2, 2), np.uint8)
    for i in np.flatnonzero(rng.random(len(x)) < 1 / 3):
        op = cv2.dilate if rng.random() < 0.5 else cv2.erode
        out[i, ..., 0] = op(x[i, ..., 0], kernel)
    return out


def report(name: str, model, data, evaluation, hard, regions, out: harness.Report,
           drawn: int = 2000) -> dict:
    """MNIST test, the older drawn digits, every style on the uniform evaluation set, and the
    worst-region evaluation set (overall and per region)."""
    from mnist_core.drawing.synthetic import drawn_digit_accuracy
    from mnist_core.model.evaluation import evaluate, predict_probabilities

    x_style, y_style, s_style = evaluation
    predicted = predict_probabilities(model, x_style).argmax(axis=1)
    per_style = {}
    for style in dict.fromkeys(s_style):
        mask = s_style == style
        wrong = predicted[mask][predicted[mask] != y_style[mask]]
        common = int(np.bincount(wrong, minlength=10).argmax()) if len(wrong) else None
        per_style[style] = (float(np.mean(predicted[mask] == y_style[mask])), common)
    mnist = evaluate(model, data.x_test, data.y_test)
    result = {"name": name, "mnist_test": mnist.accuracy, "mnist_loss": mnist.loss,
              "drawn_digits": drawn_digit_accuracy(model, drawn, 0)["ours"],
              "styles": per_style, "uniform": float(np.mean(predicted == y_style))}
    if regions:
        x_hard, y_hard, index = hard
        right = predict_probabilities(model, x_hard).argmax(axis=1) == y_hard
        result["hard"] = float(right.mean())
        result["regions"] = [float(right[index == i].mean()) for i in range(len(regions))]
    worst = min(per_style.items(), key=lambda kv: kv[1][0])
    out.say(f"{name}: MNIST test {100 * result['mnist_test']:.2f}%, synthetic drawn digits "
            f"{100 * result['drawn_digits']:.2f}%, uniform styles {100 * result['uniform']:.2f}%"
            f" (worst {worst[0]} {100 * worst[1][0]:.1f}%)"
            + (f", worst regions {100 * result['hard']:.2f}%" if regions else ""), **result)
    return result


def training_styles(args, regions, out: harness.Report):
    """The style drawings training sees: uniform over the widened space, plus more from the
    hard regions (all from training seeds; the validation ones from a seed of their own)."""
    from mnist_core.drawing.handwriting import train_seed

    started = time.monotonic()
    xs, ys, _ = uniform_set(args.per_style, train_seed(0))
    if regions:
        xh, yh, _ = hard_set(regions, args.per_region, train_seed(REGION_SEED))
        xs, ys = np.concatenate([xs, xh]), np.concatenate([ys, yh])
    if args.plain_drawn:   # the plain templates of bench/drawn_digits.py (it measures seed 0)
        from mnist_core.drawing.synthetic import drawn_digits

        images, labels = drawn_digits(args.plain_drawn, seed=train_seed(DRAWN_SEED))
        xs, ys = np.concatenate([xs, prepared(images)]), np.concatenate([ys, labels])
    xv, yv, _ = uniform_set(args.validation_per_style, train_seed(VALIDATION_SEED))
    if regions:
        xh, yh, _ = hard_set(regions, args.validation_per_style,
                             train_seed(REGION_VALIDATION_SEED))
        xv, yv = np.concatenate([xv, xh]), np.concatenate([yv, yh])
    out.say(f"rendered {len(xs)} training and {len(xv)} validation style drawings in "
            f"{time.monotonic() - started:.0f} s")
    return xs, ys, xv, yv


def mixed_pipeline(x, y, n_mnist: int, jitter, style_jitter):
    """Batches of 128 from MNIST (the first `n_mnist` images) and the style drawings, shuffled
    together, one-hot labels; `jitter` (the preset's random rotation, zoom and shift) on the
    MNIST images, `style_jitter` on the style drawings."""
    import tensorflow as tf

    from mnist_core.training.loop import without_autotune

    styled = np.arange(len(x)) >= n_mnist
    ds = tf.data.Dataset.from_tensor_slices((x, y, styled))
    ds = ds.shuffle(len(x), seed=0, reshuffle_each_iteration=True).batch(128)
    ds = ds.map(lambda a, b, s: (tf.where(s[:, None, None, None], style_jitter(a), jitter(a)),
                                 tf.one_hot(b, 10)), num_parallel_calls=tf.data.AUTOTUNE)
    return without_autotune(ds.prefetch(tf.data.AUTOTUNE))


def fine_tune(args, data, regions, out: harness.Report):
    import keras

    from mnist_core.data.dataset import split_validation
    from mnist_core.model.build import build_model, resolve_precision
    from mnist_core.model.files import load_checked
    from mnist_core.training.augment import augmenter
    from mnist_core.training.loop import as_float32
    from mnist_core.training.presets import get_preset

    preset = get_preset("best").config
    x_tr, y_tr, x_val, y_val = split_validation(data.x_train, data.y_train, 0.1, 0)
    started = time.monotonic()
    xs, ys, xs_val, ys_val = training_styles(args, regions, out)
    rng = np.random.default_rng(0)
    if args.width_aug:
        xs = width_augment(xs, rng)
    x = np.concatenate([x_tr, xs])
    y = np.concatenate([y_tr, ys])

    precision = resolve_precision("auto")
    model = build_model(preset.spec, precision)
    model.set_weights(load_checked(Path(args.start)).get_weights())
    keras.utils.set_random_seed(0)
    steps = int(np.ceil(len(x) / 128)) * args.epochs
    rate = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(rate), metrics=["accuracy"],
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing))
    # The style drawings carry their writers' own tilt: rotated further by the preset's 10
    # degrees, a continental 1's 20-degree flag would lie as flat as a 7's bar.
    style_aug = dataclasses.replace(preset.augmentation, rotation_degrees=args.style_rotation)
    train_ds = mixed_pipeline(x, y, len(x) - len(xs), augmenter(preset.augmentation, 0),
                              augmenter(style_aug, 1))
    best_weights, best_score, history = None, -1.0, []
    for epoch in range(args.epochs):
        t = time.monotonic()
        h = model.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0).history
        # Kept: the epoch best on MNIST and the styles alike (the mean of the two accuracies),
        # so that neither is bought with the other.
        mnist = float(np.mean(model.predict(x_val, 1000, verbose=0).argmax(1) == y_val))
        styles = float(np.mean(model.predict(xs_val, 1000, verbose=0).argmax(1) == ys_val))
        score = (mnist + styles) / 2
        history.append({"epoch": epoch + 1, "mnist_validation": mnist,
                        "style_validation": styles, "loss": float(h["loss"][-1])})
        out.say(f"epoch {epoch + 1}/{args.epochs}: validation MNIST {100 * mnist:.2f}%, styles "
                f"{100 * styles:.2f}% in {time.monotonic() - t:.0f} s", **history[-1])
        if score > best_score:
            best_score, best_weights = score, model.get_weights()
    model.set_weights(best_weights)
    seconds = time.monotonic() - started
    return as_float32(model, preset.spec, precision), history, seconds, len(xs), precision


def main() -> None:
    from mnist_core import settings

    parser = harness.parser(__doc__)
    parser.add_argument("--start", default=str(settings.BUNDLED_MODEL),
                        help="the model to fine-tune (default: the bundled one)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--per-style", type=int, default=1500,
                        help="uniform training drawings per style (a writer each)")
    parser.add_argument("--regions", type=Path,
                        help="hard regions (bench/style_search.py --write): trained on more, "
                             "and evaluated as the worst-region set")
    parser.add_argument("--per-region", type=int, default=300,
                        help="training drawings from inside each hard region")
    parser.add_argument("--plain-drawn", type=int, default=0, metavar="N",
                        help="also N drawings of the plain templates of bench/drawn_digits.py "
                             "(seed 1; it measures seed 0)")
    parser.add_argument("--width-aug", action="store_true")
    parser.add_argument("--style-rotation", type=float, default=3.0, metavar="DEG",
                        help="the style drawings' random rotation (the preset's zoom and shift "
                             "apply as to MNIST; its 10 degrees would flatten a 1's flag)")
    parser.add_argument("--export", type=Path)
    args = parser.parse_args()
    args.limit, args.eval_per_style, args.eval_per_region = None, EVAL_PER_STYLE, EVAL_PER_REGION
    args.validation_per_style, args.drawn = 20, 2000
    export = args.export
    # 1,000 MNIST images, a few drawings per style; an --export goes to a temporary folder.
    harness.shrink(args, epochs=1, per_style=2, per_region=2, limit=1000, eval_per_style=3,
                   plain_drawn=min(args.plain_drawn, 10),
                   eval_per_region=3, validation_per_style=1, drawn=20)
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
    from mnist_core.drawing.handwriting import EVAL_SEED_BASE
    from mnist_core.model.files import load_checked, save_atomic

    data = load_mnist().limit(args.limit)
    regions = load_regions(args.regions)
    evaluation = uniform_set(args.eval_per_style, EVAL_SEED_BASE)
    hard = hard_set(regions, args.eval_per_region, EVAL_SEED_BASE + 500) if regions else None
    before = report("start (before)", load_checked(Path(args.start)), data, evaluation, hard,
                    regions, out, args.drawn)
    model, history, seconds, n_styles, precision = fine_tune(args, data, regions, out)
    after = report("fine-tuned with styles", model, data, evaluation, hard, regions, out,
                   args.drawn)
    out.say()
    table = out.table("styles", ["style", "before", "after", "most common wrong answer after"])
    for style, (acc, _) in before["styles"].items():
        acc2, wrong = after["styles"][style]
        table.row(style, f"{100 * acc:.1f}%", f"{100 * acc2:.1f}%",
                  "" if wrong is None else wrong)
    rows = [("uniform", f"all styles, uniform ({len(evaluation[1]):,})"),
            ("mnist_test", f"MNIST test ({len(data.x_test):,})"),
            ("drawn_digits", f"synthetic drawn digits ({args.drawn:,})")]
    if regions:
        rows.insert(1, ("hard", f"worst-region set ({len(hard[1]):,})"))
    for key, label in rows:
        table.row(label, f"{100 * before[key]:.2f}%", f"{100 * after[key]:.2f}%", "")
    if regions:
        per_region = out.table("regions", ["region", "before", "after"])
        for i, r in enumerate(regions):
            per_region.row(f"{r.style}: {r.description}", f"{100 * before['regions'][i]:.0f}%",
                           f"{100 * after['regions'][i]:.0f}%")
    out.say(f"training: {seconds:.0f} s ({precision})", seconds=seconds)
    if args.export:
        save_atomic(model, args.export)
        card = json.loads(settings.BUNDLED_MODEL_CARD.read_text())
        if "fine_tuned" in card and Path(args.start).resolve() == settings.BUNDLED_MODEL.resolve():
            # The whole chain stays on the card: MNIST training (`command`), then each step.
            card.setdefault("earlier_steps", []).append(card.pop("fine_tuned"))
        search = ([c["command"] for c in json.loads(args.regions.read_text())["commands"]]
                  if regions else None)
        card.update({
            "test_accuracy": round(after["mnist_test"], 4),
            "test_loss": round(after["mnist_loss"], 4),
            "style_accuracy": {s: round(a, 4) for s, (a, _) in after["styles"].items()},
            "uniform_style_accuracy": round(after["uniform"], 4),
            "worst_region_accuracy": round(after["hard"], 4) if regions else None,
            "drawn_digits_accuracy": round(after["drawn_digits"], 4),
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "fine_tuned": {
                "from": f"{Path(args.start).name}: the `best` preset trained on MNIST "
                        "(`command`), then the `earlier_steps`",
                "data": f"MNIST training images (54,000 after the 10% validation split) + "
                        f"{n_styles:,} pen drawings: {len(before['styles'])} named styles "
                        f"(mnist_core.drawing.styles.STYLES): {args.per_style} per style "
                        "uniform over the widened style and writer space (training seed 0)"
                        + (f" and {args.per_region} from inside each of {len(regions)} hard "
                           f"regions ({args.regions.name}, training seeds from {REGION_SEED})"
                           if regions else "")
                        + (f" and {args.plain_drawn:,} plain drawn digits (drawn_digits, seed "
                           f"{DRAWN_SEED})" if args.plain_drawn else "")
                        + "; MNIST-style preprocessing, `best` augmentation (on the style "
                          f"drawings with rotation {args.style_rotation:g} degrees)"
                        + (", stroke-width augmentation" if args.width_aug else ""),
                "regions_search": search,
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
