"""Search the widened handwriting space for where a model fails, and show it.

    MNIST_DATA_DIR=../shared/mnist python bench/style_search.py [--model assets/model.keras]
        [--n 1500] [--confirm 150] [--keep 2] [--styles 1-flag,0-slashed]
        [--min-error 0.02] [--write assets/hard_regions.json] [--sheet docs/handwriting/search.png]

For every style (`mnist_core.drawing.style_search.search`): draws `--n` drawings uniformly over
the style's knobs and its writers' (search seeds, below the evaluation range), scores every box
of one or two knobs restricted to a third of their range, confirms the worst on `--confirm`
fresh drawings inside each (refining by a third knob) and keeps the `--keep` worst. Prints them
worst first; `--write` saves them (what bench/style_mix.py --regions trains on and evaluates);
`--sheet` draws the worst regions found, 16 drawings each, misread ones framed in red with the
answer (one row per region, in the printed order); `--sheet-of` draws that sheet for saved
regions instead of searching.
"""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import harness

SHEET_ROWS = 12


def main() -> None:
    from mnist_core import settings
    from mnist_core.drawing.styles import style_list

    parser = harness.parser(__doc__)
    parser.add_argument("--model", default=str(settings.BUNDLED_MODEL), help="a .keras file")
    parser.add_argument("--n", type=int, default=1500, help="uniform drawings per style")
    parser.add_argument("--confirm", type=int, default=150, help="drawings per candidate")
    parser.add_argument("--keep", type=int, default=2, help="regions kept per style")
    parser.add_argument("--styles", default=None, help="comma-separated; default: all")
    parser.add_argument("--min-error", type=float, default=0.0,
                        help="keep only regions misread at least this often (0.02: 2%%)")
    parser.add_argument("--write", type=Path, help="save the regions (JSON)")
    parser.add_argument("--append", action="store_true",
                        help="keep the regions already in --write and add these (a search on "
                             "the model trained on them finds what is still hard)")
    parser.add_argument("--sheet", type=Path, help="save the contact sheet (PNG)")
    parser.add_argument("--sheet-of", type=Path, metavar="REGIONS",
                        help="no search: draw --sheet for these saved regions (worst first)")
    args = parser.parse_args()
    harness.shrink(args, n=40, confirm=12, keep=1)
    if args.sheet_of and not args.sheet:
        parser.error("--sheet-of needs --sheet (where to write the picture)")
    try:
        styles = style_list(args.styles)
    except ValueError as e:
        parser.error(str(e))

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.style_search import answers, region_digits, search
    from mnist_core.model.files import load_checked

    model = load_checked(Path(args.model))
    started = time.perf_counter()
    with harness.Report(args) as report:
        if args.sheet_of:
            from mnist_core.drawing.style_search import HardRegion

            saved = json.loads(args.sheet_of.read_text())["regions"]
            regions = sorted((HardRegion.from_dict(d) for d in saved), key=lambda r: -r.error)
            write_sheet(model, regions[:SHEET_ROWS], args.sheet, answers,
                        region_digits)
            report.say(f"wrote {args.sheet}")
            return
        found = []
        for style in styles:
            found += search(model, style, args.n, args.confirm, keep=args.keep)
        found = sorted((r for r in found if r.error >= args.min_error), key=lambda r: -r.error)
        report.say(f"model {args.model}: {len(styles)} styles, {args.n} uniform drawings each, "
                   f"{args.confirm} to confirm a region ({time.perf_counter() - started:.0f} s)")
        table = report.table("regions", ["style", "error", "region (knob ranges)"])
        for r in found:
            table.row(r.style, f"{100 * r.error:.1f}%", r.description, **r.to_dict())
        if args.write:
            write_regions(args, found)
            report.say(f"wrote {args.write}")
        if args.sheet:
            write_sheet(model, found[:SHEET_ROWS], args.sheet, answers, region_digits)
            report.say(f"wrote {args.sheet}")


def write_regions(args, found) -> None:
    """The regions as JSON, with the commands that found them (earlier searches' first, with
    --append; a region already there is not added twice)."""
    command = "python bench/style_search.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    saved = {"commands": [], "regions": []}
    if args.append and args.write.exists():
        saved = json.loads(args.write.read_text())
    known = [r["region"] for r in saved["regions"]]
    fresh = [r.to_dict() for r in found]
    saved["regions"] += [r for r in fresh if r["region"] not in known]
    model = Path(args.model).resolve()
    if model.is_relative_to(harness.ROOT):     # a path of this machine is no use to a reader
        model = model.relative_to(harness.ROOT)
    saved["commands"].append({"model": str(model), "command": command})
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(json.dumps(saved, indent=1) + "\n")


def write_sheet(model, regions, path: Path, answers, region_digits) -> None:
    """16 drawings from inside each region (seeds of the sheet's own), as the network saw them."""
    import cv2
    import numpy as np

    from mnist_core.views.contact_sheet import contact_sheet

    images, labels, index = region_digits(regions, 16, seed=9_500)
    given, x = answers(model, images)
    rows = [x[index == i, ..., 0] for i in range(len(regions))]
    said = [[None if g < 0 else int(g) for g in given[index == i]] for i in range(len(regions))]
    truths = [int(labels[index == i][0]) for i in range(len(regions))]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), contact_sheet(rows, said, truths) if rows else np.zeros((1, 1, 3)))


if __name__ == "__main__":
    main()
