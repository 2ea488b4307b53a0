"""`python -m mnist_core` — train, evaluate, predict and list runs from a terminal.

Every failure a user can cause prints one line starting with "error:" and exits with code 2;
tracebacks are for bugs only.
"""
from __future__ import annotations

import sys

from mnist_core.cli.classroom import cmd_https_cert, cmd_teacher_link
from mnist_core.cli.models import cmd_class_model, cmd_evaluate, cmd_predict, cmd_runs
from mnist_core.cli.parser import build_parser
from mnist_core.cli.training import cmd_finetune, cmd_train, plan_train
from mnist_core.data.dataset import DataError
from mnist_core.data.mnist import start_loading_mnist
from mnist_core.drawing.preprocess import ImageError
from mnist_core.lab.db import StoreError
from mnist_core.model.files import ModelError
from mnist_core.quiet import import_tensorflow_quietly

USER_ERRORS = (DataError, ModelError, ImageError, StoreError, ValueError, KeyError, OSError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
               "finetune": cmd_finetune, "runs": cmd_runs, "class-model": cmd_class_model,
               "teacher-link": cmd_teacher_link, "https-cert": cmd_https_cert}[args.command]
    try:
        if args.command == "train":
            args.plan = plan_train(args)   # a bad setting or --spec is said before any data
        if args.command in ("train", "finetune", "evaluate"):
            args.dataset = start_loading_mnist(args.data)   # read while TensorFlow loads
        if args.command not in ("runs", "class-model", "teacher-link", "https-cert"):
            import_tensorflow_quietly()
        return handler(args)
    except USER_ERRORS as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
