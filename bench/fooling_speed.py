"""Server time to fool the network on one drawing: what the Fool it page costs per answer.

    MNIST_DATA_DIR=../shared/mnist taskset -c 0,1 python bench/fooling_speed.py [--n 30]
        [--models bundled,tutorial]

Each answer is timed from the prepared 28x28 drawing to the finished `Fooling` (attack, pruning
and the final reading), on synthetic pen drawings (`mnist_core.drawing.synthetic`), one at a
time as a student asks, after a few warm-up ones (the attack's graph is traced once per model
and shown apart). Two targets: "any other digit" (the page's default) and the next digit
((d + 1) mod 10, usually harder). Nothing else trains. The issue's budget is 300 ms of server
time on 2 cores: run under `taskset -c 0,1`.

Unlike a forward pass, the attack's work depends on the weights (how many steps it takes), so
preset models are trained briefly here (`--train-images` MNIST images, `--epochs`), not left
untrained. Also reported: how often the page's answer is "fooled", and the pixels it changed.
"""
from __future__ import annotations

import time

import numpy as np

import harness


def load(name: str, train_images: int, epochs: int):
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.build import build_model
    from mnist_core.model.files import load_checked
    from mnist_core.training.presets import PRESETS

    if name in PRESETS:
        from mnist_core.data.dataset import float_images
        from mnist_core.data.mnist import load_mnist

        data = load_mnist(allow_download=False)
        model = build_model(PRESETS[name].config.spec)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(float_images(data.x_train[:train_images]), data.y_train[:train_images],
                  epochs=epochs, batch_size=128, verbose=0)
        accuracy = model.evaluate(float_images(data.x_test[:2000]), data.y_test[:2000],
                                  verbose=0)[1]
        return model, f"{name} ({train_images:,} images x {epochs}, {accuracy:.1%} on 2,000 test)"
    path, shown = model_file(RunStore(), name, allow_path=True)
    return load_checked(path), shown


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=30, help="drawings timed per target")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--models", default="bundled,tutorial")
    parser.add_argument("--train-images", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    harness.shrink(args, n=2, warmup=1, train_images=256, epochs=1)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.fooling import ANY_OTHER, Fooler
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.drawing.synthetic import drawn_digits

    canvases, labels = drawn_digits(args.n + args.warmup, seed=7)
    images = [to_mnist(c).image for c in canvases]
    machine = harness.cpu()
    with harness.Report(args) as report:
        report.say(f"{machine.summary()}, {machine.usable} usable CPUs; {args.n} drawings each, "
                   f"after {args.warmup} warm-up")
        table = report.table("fooling", ["model", "target", "first call (traces) ms", "p50 ms",
                                         "p95 ms", "max ms", "CPU ms p50", "fooled",
                                         "pixels p50"])
        for name in args.models.split(","):
            model, shown = load(name, args.train_images, args.epochs)
            fooler = Fooler(model)
            for target_name in ("any other", "next digit"):
                def target(i, aim=target_name):
                    return ANY_OTHER if aim == "any other" else (int(labels[i]) + 1) % 10

                t0 = time.perf_counter()
                for i in range(args.warmup):
                    fooler.fool(images[i], target(i))
                first = time.perf_counter() - t0
                times, cpu, fooled, pixels = [], [], 0, []
                for i in range(args.warmup, args.warmup + args.n):
                    t0, c0 = time.perf_counter(), time.process_time()
                    result = fooler.fool(images[i], target(i))
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                    if result.fooled:
                        fooled += 1
                        pixels.append(result.pixels_changed)
                ms, cpu_ms = harness.percentiles(times, 1000), harness.percentiles(cpu, 1000)
                median_pixels = f"{np.median(pixels):.0f}" if pixels else "-"
                table.row(shown, target_name, f"{1000 * first:.0f}", f"{ms.p50:.0f}",
                          f"{ms.p95:.0f}", f"{ms.max:.0f}", f"{cpu_ms.p50:.0f}",
                          f"{fooled}/{args.n}", median_pixels, model=name, target=target_name,
                          ms=ms, cpu_ms=cpu_ms, warmup_ms=1000 * first)


if __name__ == "__main__":
    main()
