"""What every bench script shares: paths, the CPU, a server, clocks, percentiles, output, options.

A script does `import harness` first (its own folder is on sys.path when run as
`python bench/X.py`); that puts the repository root on sys.path, so `mnist_core` and `ui`
import as they do in the app. Measurements stay in the scripts; this module only keeps them
comparable: one server start, one CPU clock, one definition of p95, one way to print and save.
The Chromium side (the Draw page's student, replayed WebSocket sessions) is harness_browser.py.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "bench"), str(ROOT)):     # ROOT ends up first: the app's modules win
    if _path not in sys.path:
        sys.path.insert(0, _path)
# TensorFlow's C++ start-up chatter (CPU features, no CUDA) would bury the results; servers and
# child processes started from here inherit the setting.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# --- the CPU: what decides precision and speed, so every figure says where it came from ------

#: The flags that change which kernels oneDNN and XLA pick (bfloat16 natively or not).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class CPU:
    model: str
    flags: tuple[str, ...]    # those of CPU_FLAGS the CPU has
    usable: int               # CPUs this process may run on (see usable_cpus)

    def summary(self) -> str:
        """"AMD EPYC ..., avx512_bf16" / "..., AVX2 only": the line the docs' tables cite."""
        has = set(self.flags)
        isa = ("avx512_bf16" if "avx512_bf16" in has else "AVX-512, no bf16" if "avx512f" in has
               else "AVX2 only" if "avx2" in has else "no AVX2")
        return f"{self.model}, {isa}" + (", AMX" if "amx_bf16" in has else "")


def usable_cpus() -> int:
    """The CPUs this process may run on: `taskset -c 0,1` makes a 16-core machine stand in for a
    2-core laptop, and TensorFlow sizes its thread pools to that set, not to `os.cpu_count()`."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cpu() -> CPU:
    """From /proc/cpuinfo (x86 Linux), else `lscpu` (which also names ARM cores)."""
    fields: dict[str, str] = {}
    for read in (lambda: Path("/proc/cpuinfo").read_text(),
                 lambda: subprocess.run(["lscpu"], capture_output=True, text=True,
                                        timeout=10).stdout):
        try:
            for line in read().splitlines():
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())
        except (OSError, subprocess.SubprocessError):
            pass
        if "model name" in fields:
            break
    flags = set(fields.get("flags", "").split())
    return CPU(fields.get("model name", "unknown CPU"),
               tuple(f for f in CPU_FLAGS if f in flags), usable_cpus())


# --- a Streamlit server of the app ------------------------------------------------------------

class Server:
    """`streamlit run streamlit_app.py` on a free loopback port with its own lab home, so that
    a bench never sees (or leaves) runs and drawings in the user's lab. Without `home` a
    temporary one is made, and removed on `stop()`; give `home` to fill it before the start.
    Its output goes to a log file, quoted if it fails to start. Use as a context manager."""

    def __init__(self, home: str | os.PathLike | None = None, prefix: str = "mnist-bench-"):
        self.owns_home = home is None
        self.home = str(home) if home is not None else tempfile.mkdtemp(prefix=prefix)
        self.proc: subprocess.Popen | None = None
        self.base = ""
        self.started = 0.0    # time.monotonic() at launch: cold starts are timed from here

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 60) -> "Server":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log = tempfile.NamedTemporaryFile(prefix="mnist-server-", suffix=".log")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none"],  # an edited file must not reload mid-measurement
            cwd=ROOT, env=dict(os.environ, MNIST_LAB_HOME=self.home), stdout=self.log,
            stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"
        while time.monotonic() - self.started < timeout and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start; its log ends:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        with open(self.log.name, errors="replace") as f:
            return "".join(f.readlines()[-30:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.owns_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- clocks and memory, from /proc: they see child processes that Python's own clocks miss ---

def cpu_seconds(pid: int | None = None) -> float:
    """CPU time used so far by process `pid`, or by the whole machine (all processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    if pid is None:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # minus idle, iowait
        return busy / tick
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by process `pid` and all its descendants (a training child
    process included): every live process of the tree, and the children they reaped."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue   # it just ended
    children: dict[int, list[int]] = {}
    for child, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(child)
    total, todo = 0, [pid]
    while todo:
        fields = stats.get(p := todo.pop())
        if fields is not None:
            # utime + stime, + cutime + cstime: children it has reaped (never counted twice: a
            # reaped process is no longer in /proc)
            total += sum(int(v) for v in fields[11:15])
            todo += children.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str = "Pss") -> float:
    """One line of the process's memory (MB): "Pss" (its own pages and its share of shared
    ones), "Pss_Anon" (heap, arrays: not files mapped), "Private_Dirty"... from
    /proc/PID/smaps_rollup; "VmRSS" from /proc/PID/status."""
    source = "status" if field.startswith("Vm") else "smaps_rollup"
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn, repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls of `fn` (perf_counter: wall time, this process)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


# --- percentiles: one definition, so that a p95 means the same in every table -----------------

@dataclass(frozen=True)
class Spread:
    n: int
    p50: float
    p95: float
    max: float

    def scaled(self, factor: float) -> "Spread":
        """The same in other units: `spread.scaled(1000)` for milliseconds."""
        return Spread(self.n, self.p50 * factor, self.p95 * factor, self.max * factor)


def percentiles(values, scale: float = 1.0) -> Spread:
    """p50, p95 and max, interpolated linearly between the sorted values (numpy's default,
    `statistics.quantiles(..., method="inclusive")`): with few samples a p95 then moves
    smoothly instead of jumping from one sample to the next. `scale` converts units."""
    ordered = sorted(float(v) * scale for v in values)
    if not ordered:
        return Spread(0, float("nan"), float("nan"), float("nan"))

    def at(q: float) -> float:
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return Spread(len(ordered), at(0.5), at(0.95), ordered[-1])


def train_row(name: str, config, result, images: int, **extra) -> dict:
    """A `train()` result as a JSON-able row (presets.py, presets_on_jax.py): `images` is the
    training set before the validation split; `extra` says where it ran."""
    from mnist_core.model.build import parameter_count

    per_epoch = result.seconds / config.epochs
    return {"preset": name, "test_accuracy": result.test_accuracy, "seconds": result.seconds,
            "seconds_per_epoch": per_epoch,
            "images_per_second": images * (1 - config.validation_fraction) / per_epoch,
            "epochs": config.epochs, "parameters": parameter_count(result.model),
            "epoch_seconds": [h["seconds"] for h in result.history]} | extra


# --- output: a table on stdout as it comes, and the same as JSON with where it came from ------

class Table:
    """A markdown table printed row by row (a long bench shows each row when it is done);
    each row is kept for the JSON with its cells as printed plus any raw values given."""

    def __init__(self, report: "Report", name: str, columns: list[str]) -> None:
        self.name, self.columns, self.rows = name, columns, []
        report.tables.append(self)
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns), flush=True)

    def row(self, *cells, **data) -> None:
        cells = [str(c) for c in cells]
        print("| " + " | ".join(cells) + " |", flush=True)
        self.rows.append(dict(zip(self.columns, cells)) | data)


class Report:
    """Everything a bench prints as its result: lines (`say`) and tables (`table`). With
    `--json PATH` the same goes to PATH on exit, with the command line, the CPU and whether
    the script finished, so that a figure in the docs can be traced to its run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.lines, self.tables, self.results = args, [], [], {}
        self.started, self.t0 = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.monotonic()

    def say(self, text: str = "", **data) -> None:
        print(text, flush=True)
        self.lines.append({"text": text} | data if data else text)

    def table(self, name: str, columns: list[str]) -> Table:
        return Table(self, name, columns)

    def add(self, key: str, value) -> None:
        """A result that is not printed as such (a whole record, a list of epochs)."""
        self.results[key] = value

    def write(self, completed: bool) -> None:
        path = getattr(self.args, "json", None)
        if not path:
            return
        command = ["python", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]
        machine = cpu()
        doc = {"command": shlex.join(command), "cpu": asdict(machine) | {"summary":
                                                                        machine.summary()},
               "host": platform.node(), "python": platform.python_version(),
               "started": self.started, "seconds": round(time.monotonic() - self.t0, 2),
               "completed": completed, "args": vars(self.args), "lines": self.lines,
               "tables": [{"name": t.name, "columns": t.columns, "rows": t.rows}
                          for t in self.tables], "results": self.results}
        Path(path).write_text(json.dumps(doc, indent=1, default=_plain, ensure_ascii=False) + "\n")

    def __enter__(self) -> "Report":
        return self

    def __exit__(self, kind, *_) -> None:
        self.write(completed=kind is None)


def _plain(value):
    """JSON for what json does not know: a Spread as its fields, a Path or a record as text."""
    return asdict(value) if is_dataclass(value) else str(value)


# --- options every script has ------------------------------------------------------------------

def common_options() -> argparse.ArgumentParser:
    """The argparse parent of every bench script: `--dry-run` (the CI smoke test runs each
    script so, tests/test_bench_scripts.py) and `--json PATH`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--dry-run", action="store_true",
                        help="every step on the smallest input (seconds): a check that the "
                             "script works, not a measurement; writes nothing but --json")
    parent.add_argument("--json", metavar="PATH",
                        help="also write the results, the command line and the CPU here")
    return parent


def parser(doc: str, browser: bool = False, **kwargs) -> argparse.ArgumentParser:
    """An ArgumentParser described by the first line of `doc`, with the common options (and
    `--chromium` for scripts that drive a browser)."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                parents=[common_options()], **kwargs)
    if browser:
        p.add_argument("--chromium", default="/usr/bin/chromium", help="the browser to drive")
    return p


def shrink(args: argparse.Namespace, **smallest) -> argparse.Namespace:
    """In a dry run, set each option to its smallest value (and say so); else leave them."""
    if args.dry_run:
        for name, value in smallest.items():
            setattr(args, name, value)
        print("dry run (a check that the script works; its figures mean nothing)"
              + "".join(f"{', ' if i else ': '}{k}={v}"
                        for i, (k, v) in enumerate(smallest.items())), flush=True)
    return args


def need_chromium(args: argparse.Namespace) -> None:
    """No browser, no browser bench: a dry run is skipped with the reason (exit 0, so the
    smoke test passes where Chromium is not installed); a real run stops with an error."""
    if Path(args.chromium).exists():
        return
    if args.dry_run:
        print(f"skipped: no Chromium at {args.chromium} (apt-get install chromium)", flush=True)
        sys.exit(0)
    sys.exit(f"no Chromium at {args.chromium}: apt-get install chromium, or give --chromium")
