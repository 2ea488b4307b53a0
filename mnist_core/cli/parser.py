"""The command line's arguments: one subcommand per thing the lab does from a terminal."""
from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    from mnist_core.training.presets import DEFAULT_PRESET, PRESETS

    p = argparse.ArgumentParser(prog="python -m mnist_core",
                                description="Train, evaluate and use CNNs on MNIST.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset (or a stored run's settings, or an "
                       "architecture file) and store the run")
    what = t.add_mutually_exclusive_group()
    what.add_argument("--preset", choices=list(PRESETS),
                      help=f"a preset's architecture and settings (default: {DEFAULT_PRESET})")
    what.add_argument("--from-run", metavar="RUN_ID",
                      help="rebuild and retrain a stored run from its record alone")
    t.add_argument("--spec", metavar="FILE.json",
                   help="an architecture as JSON ({\"name\": ..., \"layers\": [...]}), "
                        "trained with the preset's (or the run's) other settings")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    t.add_argument("--limit", type=int, help="train on the first N images only (quick runs)")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random rotation/zoom/shift of training images (default: the preset's)")
    t.add_argument("--val-fraction", dest="validation_fraction", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"])
    t.add_argument("--data", help="MNIST folder, mnist.npz or Kaggle train.csv")
    t.add_argument("--export", metavar="FILE.keras",
                   help="also write the model and a model card (FILE.json) here")
    t.add_argument("--json", action="store_true", help="print the result as one JSON object")

    e = sub.add_parser("evaluate", help="test accuracy and loss of a model")
    e.add_argument("--model", help="'bundled' (default), a run id, or a .keras file")
    e.add_argument("--data")
    e.add_argument("--limit", type=int, help="evaluate on the first N test images only")
    e.add_argument("--json", action="store_true")

    r = sub.add_parser("predict", help="classify image files")
    r.add_argument("images", nargs="+", metavar="IMAGE")
    r.add_argument("--model")
    r.add_argument("--json", action="store_true", help="one JSON object per line and image")

    f = sub.add_parser("finetune", help="teach a model the class's handwriting: fine-tune it "
                       "on the saved drawings and store the result as a run")
    f.add_argument("--from", dest="source", required=True, metavar="MODEL",
                   help="'bundled' or a run id")
    f.add_argument("--epochs", type=int)
    f.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    f.add_argument("--replay", type=int,
                   help="MNIST training images mixed in (default: 20 per drawing, >= 3,000)")
    f.add_argument("--layers", dest="train_layers", choices=("head", "top", "all"),
                   help="which layers learn (default: top, from the last convolution on)")
    f.add_argument("--share", dest="drawing_share", type=float,
                   help="the class drawings' share of each epoch's images (0.05-0.9)")
    f.add_argument("--seed", type=int)
    f.add_argument("--data", help="MNIST folder or mnist.npz (replay and test images)")
    f.add_argument("--json", action="store_true", help="print the result as one JSON object")

    s = sub.add_parser("runs", help="list stored training runs")
    s.add_argument("--json", action="store_true")

    c = sub.add_parser("class-model", help="show the class model (the one every browser uses "
                       "unless it picked its own), or make another the class model")
    c.add_argument("model", nargs="?", metavar="MODEL", help="'bundled' or a run id to use")

    k = sub.add_parser("teacher-link", help="print a one-time link that unlocks the teacher "
                       "controls in one browser (the server needs a teacher key)")
    k.add_argument("--url", help="the lab's address as students open it (default: this "
                   "computer's LAN address, port 8501)")
    k.add_argument("--https", action=argparse.BooleanOptionalAction, default=None,
                   help="an https:// link (default: when `https-cert` made a certificate in "
                        "the lab home)")

    h = sub.add_parser("https-cert", help="make a self-signed certificate and key to serve the "
                       "lab over https on the class network, and print the command to start it")
    h.add_argument("--dir", help="folder for cert.pem and key.pem (default: https/ in the lab "
                   "home)")
    h.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                   help="one more IP address to cover (repeatable); this computer's LAN "
                        "addresses and 127.0.0.1 always are")
    h.add_argument("--name", action="append", default=[], metavar="HOST",
                   help="one more host name to cover (repeatable); this computer's name, "
                        "name.local and localhost always are")
    h.add_argument("--days", type=int, default=825, help="validity (at most 825, the longest "
                   "Apple devices accept; default 825)")
    h.add_argument("--port", type=int, help="the port the printed command serves on (default: "
                   "Streamlit's, 8501)")
    h.add_argument("--force", action="store_true",
                   help="replace a certificate and key that already exist there")
    return p
