"""A contact sheet of the three "Where it looked" maps side by side, for choosing the default.

    MNIST_DATA_DIR=../shared/mnist python bench/where_it_looked.py [--model bundled]
        [--out docs/where-it-looked.png]

Twelve drawings: six MNIST test images and six synthetic pen drawings
(`mnist_core.drawing.synthetic`), in each group some the model misreads (or, among the
drawings, reads least surely), found by scanning fixed seeds, so the sheet is the same every
time. Each row: the drawing as the network saw it (with what it read), then covering patches,
smoothed gradient and gradient for the digit it read, drawn exactly as the Draw page draws
them (`charts.attribution_overlay`).
docs/where-it-looked.md says which the lab shows first, and why.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import harness

FACTOR = 4                 # 28 px -> 112 px per map: small file, still readable
GAP, LABEL = 8, 16         # px between maps; px of text under each
TITLES = ("as it saw it", "covering patches", "smoothed gradient", "gradient")


def pick_drawings(predictor, dry_run: bool) -> list[tuple[str, np.ndarray, int]]:
    """(where from, prepared 28x28 image, true digit): read right, then misread, per source."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.drawing.handwriting import style_digits
    from mnist_core.drawing.synthetic import drawn_digits

    right, wrong = (2, 1) if dry_run else (4, 2)
    test = load_mnist().limit(200 if dry_run else 10_000)
    x, y = test.x_test, test.y_test
    read = predictor.probabilities(x).argmax(axis=1)
    picks = [("MNIST", x[i].reshape(28, 28), int(y[i])) for i in np.flatnonzero(read == y)[:right]]
    picks += [("MNIST", x[i].reshape(28, 28), int(y[i]))
              for i in np.flatnonzero(read != y)[:wrong]]
    canvases, labels = drawn_digits(right, seed=21)
    picks += [("drawn", to_mnist(c).image, int(t)) for c, t in zip(canvases, labels)]
    odd, odd_labels, _ = style_digits(2 if dry_run else 60, seed=10_021)
    prepared = [to_mnist(c).image for c in odd]
    # The hardest: misread, or else the least sure of the true digit (this model misreads few).
    truth = predictor.probabilities(np.stack(prepared)[..., None])[np.arange(len(odd)),
                                                                   odd_labels]
    picks += [("drawn", prepared[i], int(odd_labels[i])) for i in np.argsort(truth)[:wrong]]
    return picks


def sheet(rows: list[list[np.ndarray]], captions: list[list[str]], columns: int) -> np.ndarray:
    """The rows of RGB tiles (each with its caption) in `columns` blocks side by side."""
    from PIL import Image, ImageDraw, ImageFont

    tile = rows[0][0].shape[0]
    per_block = len(rows[0])
    block_w = per_block * (tile + GAP)
    per_column = -(-len(rows) // columns)
    width = columns * block_w + (columns - 1) * 2 * GAP
    height = LABEL + per_column * (tile + LABEL + GAP)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=11)
    for b in range(columns):
        for k, title in enumerate(TITLES[:per_block]):
            draw.text((b * (block_w + 2 * GAP) + k * (tile + GAP), 2), title, fill=(0, 0, 0),
                      font=font)
    for n, (row, texts) in enumerate(zip(rows, captions)):
        x0 = (n // per_column) * (block_w + 2 * GAP)
        y0 = LABEL + (n % per_column) * (tile + LABEL + GAP)
        for k, (image, text) in enumerate(zip(row, texts)):
            canvas.paste(Image.fromarray(image), (x0 + k * (tile + GAP), y0))
            draw.text((x0 + k * (tile + GAP), y0 + tile + 1), text, fill=(60, 60, 60), font=font)
    return np.asarray(canvas)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--out", default=str(harness.ROOT / "docs" / "where-it-looked.png"))
    args = parser.parse_args()
    harness.shrink(args)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from PIL import Image

    from mnist_core.drawing.attribution import METHODS
    from mnist_core.drawing.inference import Predictor
    from mnist_core.drawing.preprocess import Prepared
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.files import load_checked
    from mnist_core.views import charts

    path, name = model_file(RunStore(), args.model, allow_path=True)
    predictor = Predictor(load_checked(path))
    rows, captions = [], []
    with harness.Report(args) as report:
        report.say(f"model {name}")
        table = report.table("drawings", ["from", "true", "read", "sure"])
        for source, image, truth in pick_drawings(predictor, args.dry_run):
            image = np.asarray(image, np.float32)
            maps = [predictor.explain(Prepared(image), method) for method in METHODS]
            read, sure = maps[0].digit, maps[0].probability
            table.row(source, truth, read, f"{100 * sure:.0f}%")
            rows.append([charts.attribution_overlay(image, np.zeros_like(image), False, FACTOR)]
                        + [charts.attribution_overlay(image, m.values, m.signed, FACTOR)
                           for m in maps])
            mark = "" if read == truth else f" (is {truth})"
            captions.append([f"{source}: {read}{mark}", "", "", ""])
        picture = sheet(rows, captions, columns=2)
        if not args.dry_run:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).quantize(256).save(args.out, optimize=True)
            report.say(f"saved {args.out}: {Path(args.out).stat().st_size // 1024} kB")
        else:
            report.say(f"sheet {picture.shape[1]}x{picture.shape[0]} px (not saved: dry run)")


if __name__ == "__main__":
    main()
