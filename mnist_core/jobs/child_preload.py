"""Imported once, by the process that forks the app's training children (see
`child_process.training_context`), so that each child starts with TensorFlow already loaded.

Importing TensorFlow takes seconds of a core on a laptop; it does not start TensorFlow's
runtime (no thread pools, no devices), so forking afterwards is safe. Nothing here may run a
TensorFlow operation: a process that has is unsafe to fork.
"""
from mnist_core.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402,F401  (Keras 3 loads its backend lazily: load it here once)

# The modules every training child runs, imported here once so that the children share them.
from mnist_core.model import build, evaluation  # noqa: E402,F401
from mnist_core.training import augment, callbacks, loop  # noqa: E402,F401
