"""Server time to explain one drawing: what the Draw page's "Where it looked" costs per drawing.

    MNIST_DATA_DIR=../shared/mnist taskset -c 0,1 python bench/explain_speed.py [--n 30]
        [--models bundled,tutorial]

Each explanation is timed from the prepared 28x28 drawing to the finished map, on synthetic pen
drawings (`mnist_core.drawing.synthetic`), one at a time as a student's drawing comes, after a
few warm-up drawings (tracing happens once per model and is shown apart). Nothing trains. The
issue's budget is 300 ms of server time per drawing on 2 cores: run under `taskset -c 0,1`.
"CPU ms" is the process's CPU time (all its threads) per drawing: on a shared, busy machine
wall times wait for the CPU, CPU time much less so.

Models: "bundled" (assets/model.keras) and preset names, built untrained from the preset's
architecture (the time depends on the architecture, not on the weights).

Adding a measurement: one function `measure_NAME(predictor, prepared, labels) -> callable` that
returns what to time for drawing i, and one entry in MEASUREMENTS. Opening a neuron
(mnist_core/drawing/neuron.py) and fooling (mnist_core/drawing/fooling.py) fit so.
"""
from __future__ import annotations

import time
from typing import Callable

import harness


def measure_occlusion(predictor, prepared, labels) -> Callable[[int], object]:
    return lambda i: predictor.explain(prepared[i], "occlusion")


def measure_smoothgrad(predictor, prepared, labels) -> Callable[[int], object]:
    return lambda i: predictor.explain(prepared[i], "smoothgrad")


def measure_gradient(predictor, prepared, labels) -> Callable[[int], object]:
    return lambda i: predictor.explain(prepared[i], "gradient")


def measure_why_not(predictor, prepared, labels) -> Callable[[int], object]:
    """Covering patches for another digit than the one drawn ("why not a 7?")."""
    return lambda i: predictor.explain(prepared[i], "occlusion", (int(labels[i]) + 1) % 10)


def open_neuron(predictor, view, i: int) -> object:
    """What a tap on the Inside page costs the server (ui/neuron.py): the explainer, one
    neuron's arithmetic, the map to tap (PNG), the receptive field (PNG) and the number grids.
    Drawing i opens a cell of layer i (round robin over every conv and dense layer)."""
    from mnist_core.drawing.neuron import NeuronExplainer
    from mnist_core.views import charts, neuron_figures

    explainer = NeuronExplainer(predictor.model)
    layers = explainer.openable(view)
    layer = layers[i % len(layers)]
    if layer.layer_type != "Conv2D":
        n = explainer.dense(view, layer.name, i % layer.values.shape[0])
        return charts.picture(layer.values.reshape(1, -1, 1), 1), n
    h, w, c = layer.values.shape
    n = explainer.conv(view, layer.name, (3 * i) % h, (5 * i) % w, i % c)
    grids = [neuron_figures.kernel_row_html("", n.kernel[:, :, j], n.patch[:, :, j], n.padded)
             for j in range(len(n.channels))]
    return (charts.picture(layer.values[:, :, i % c:i % c + 1], 1),
            neuron_figures.field_picture(view.layers[0].values[:, :, 0], n.field_rows,
                                         n.field_cols), grids)


def measure_neuron_tap(predictor, prepared, labels) -> Callable[[int], object]:
    """A tap: the drawing's layers are computed already (the page keeps them)."""
    views = {}

    def tap(i):
        if i not in views:   # not timed in later rounds: the page computed it once
            views[i] = predictor.inside(prepared[i])
        return open_neuron(predictor, views[i], i)

    for i in range(len(prepared)):
        views[i] = predictor.inside(prepared[i])
    return tap


def measure_neuron_page(predictor, prepared, labels) -> Callable[[int], object]:
    """A new drawing on the Inside page with a neuron open: every layer's output, then the tap."""
    return lambda i: open_neuron(predictor, predictor.inside(prepared[i]), i)


#: name -> (what it is, its function). Add "neuron" and "fooling" here.
MEASUREMENTS: dict[str, tuple[str, Callable]] = {
    "occlusion": ("where it looked: covering patches (default)", measure_occlusion),
    "occlusion, another digit": ("where it looked: covering, why not another digit",
                                 measure_why_not),
    "smoothgrad": ("where it looked: smoothed gradient", measure_smoothgrad),
    "gradient": ("where it looked: gradient", measure_gradient),
    "neuron, a tap": ("open a neuron: its sum, field and pictures", measure_neuron_tap),
    "neuron, new drawing": ("open a neuron with the forward pass of every layer",
                            measure_neuron_page),
}


def load(name: str):
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.build import build_model
    from mnist_core.model.files import load_checked
    from mnist_core.training.presets import PRESETS

    if name in PRESETS:
        return build_model(PRESETS[name].config.spec), f"{name} (untrained)"
    path, shown = model_file(RunStore(), name, allow_path=True)
    return load_checked(path), shown


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=30, help="drawings timed per measurement")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--models", default="bundled,tutorial")
    args = parser.parse_args()
    harness.shrink(args, n=2, warmup=1)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.drawing.inference import Predictor
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.drawing.synthetic import drawn_digits

    canvases, labels = drawn_digits(args.n + args.warmup, seed=7)
    prepared = [to_mnist(c) for c in canvases]
    machine = harness.cpu()
    with harness.Report(args) as report:
        report.say(f"{machine.summary()}, {machine.usable} usable CPUs; {args.n} drawings each, "
                   f"after {args.warmup} warm-up")
        table = report.table("explain", ["model", "measurement", "first call (traces) ms",
                                         "p50 ms", "p95 ms", "max ms", "CPU ms p50"])
        for name in args.models.split(","):
            model, shown = load(name)
            predictor = Predictor(model)
            for key, (_, make) in MEASUREMENTS.items():
                fn = make(predictor, prepared, labels)
                t0 = time.perf_counter()
                for i in range(args.warmup):
                    fn(i)
                first = time.perf_counter() - t0
                times, cpu = [], []
                for i in range(args.warmup, args.warmup + args.n):
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn(i)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                ms, cpu_ms = harness.percentiles(times, 1000), harness.percentiles(cpu, 1000)
                table.row(shown, key, f"{1000 * first:.0f}", f"{ms.p50:.0f}", f"{ms.p95:.0f}",
                          f"{ms.max:.0f}", f"{cpu_ms.p50:.0f}", model=name, measurement=key,
                          ms=ms, cpu_ms=cpu_ms, warmup_ms=1000 * first)


if __name__ == "__main__":
    main()
