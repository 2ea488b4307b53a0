"""The keras-io "Simple MNIST convnet" (https://keras.io/examples/vision/mnist_convnet/) as
its page documents it, plus a test-set evaluation after every epoch, as one process.

    MNIST_DATA_DIR=../shared/mnist python bench/keras_example.py [--target 0.99]

Architecture, loss, optimizer, batch size 128, 15 epochs and `validation_split=0.1` are the
example's; the only changes: MNIST is read through our loader (no internet here) and a callback
evaluates the 10,000 test images after each epoch, printing one JSON line per epoch with the
seconds since this process started. It stops once the test accuracy reaches `--target`
(`bench/vs_keras.py` compares whole-process wall times to that point).
"""
from __future__ import annotations

import json
import time

STARTED = time.monotonic()   # whole process: imports and data loading count too

import harness  # noqa: E402


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    args.limit = None
    harness.shrink(args, epochs=1, limit=1000)
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import numpy as np
    from keras import layers

    from mnist_core.data.mnist import load_mnist

    data = load_mnist().limit(args.limit)
    # The example: scale to [0, 1] (ours already is), add the channel axis, one-hot labels.
    x_train, x_test = data.x_train.astype("float32"), data.x_test.astype("float32")
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_test = keras.utils.to_categorical(data.y_test, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    class TestEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss, accuracy = self.model.evaluate(x_test, y_test, verbose=0, batch_size=1000)
            row = {"epoch": epoch + 1, "test_accuracy": float(accuracy),
                   "seconds": round(time.monotonic() - STARTED, 2)}
            report.say(json.dumps(row), **row)   # one JSON line: bench/vs_keras.py reads it
            if accuracy >= args.target:
                self.model.stop_training = True

    np.random.seed(0)
    keras.utils.set_random_seed(0)
    with harness.Report(args) as report:
        model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1,
                  verbose=0, callbacks=[TestEachEpoch()])


if __name__ == "__main__":
    main()
