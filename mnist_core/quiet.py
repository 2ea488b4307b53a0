"""Silence TensorFlow's start-up chatter in the command line, and skip its slow exit.

TensorFlow 2.21 writes oneDNN and CUDA notices straight to file descriptor 2 before its
logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them. We point descriptor 2 at
/dev/null while TensorFlow loads and probes for GPUs, then put it back.
"""
from __future__ import annotations

import gc
import os
import sys


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def skip_final_collection() -> None:
    """Call last in a process that imported TensorFlow. The hundreds of thousands of objects
    its import leaves make Python's final garbage collection at exit a noticeable tail of every
    CLI command and of every app training run (the app waits for the child to exit). Frozen,
    they are left to the OS; open files are still flushed and atexit handlers still run
    (docs/benchmarks.md, "Does `fast` beat the Keras example?")."""
    gc.freeze()
