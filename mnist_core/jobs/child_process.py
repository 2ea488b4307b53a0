"""Starting the app's training children quickly and cleanly, and lowering all of their priority.

Three things the training child (mnist_core.jobs.child_training) needs
(docs/decisions/training-in-a-child-process.md; docs/benchmarks.md, "How soon does a run start
after Start?"):

- Importing TensorFlow is most of a fresh "spawn" child's time from Start to the first batch.
  On Linux the children are forked instead by a `multiprocessing` fork server that has
  imported TensorFlow once (mnist_core.jobs.child_preload).
- `multiprocessing` re-runs the parent's `__main__` in every child (spawned or forked by the
  server), so that objects defined there can be unpickled. In a Streamlit server `__main__` is
  the page script the last rerun installed (Streamlit's fake module, whose `__file__` is
  streamlit_app.py). So each training child would first run the Home page in bare mode
  (Streamlit's import, and a thread loading and warming the bundled model beside the
  training) before any priority was lowered, delaying its first batch.
- Linux keeps a nice value per thread: `os.nice` lowers the calling thread only, and a new
  thread inherits its creator's. TensorFlow's threads, started while the page ran, stayed at
  nice 0 while the child's main thread was at 10.
"""
from __future__ import annotations

import os
import sys
import types


def start_without_the_page(process) -> None:
    """`process.start()`, with `__main__` briefly a module with neither file nor spec, which
    `multiprocessing` leaves alone in the child. A Streamlit rerun that installs its own
    `__main__` meanwhile keeps it: only our stand-in is ever taken away again."""
    real = sys.modules.get("__main__")
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        process.start()
    finally:
        if sys.modules.get("__main__") is stand_in and real is not None:
            sys.modules["__main__"] = real


def niceness_for_training(increment: int) -> int:
    """The nice value a training child runs at: this process' own, `increment` lower (19 at
    most). Absolute, because a forked child starts with its fork server's value, not ours."""
    return min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + increment)


def lower_priority(niceness: int) -> None:
    """Every thread of this process at nice `niceness` or lower priority, not only the calling
    one; threads started later inherit it from whichever thread starts them."""
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:                         # not Linux: there the nice value is per process
        threads = [0]
    for tid in threads:
        _lower_thread(tid, niceness)


def _lower_thread(tid: int, niceness: int) -> None:
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except OSError:
        pass                                # ended meanwhile, or not allowed


def training_context():
    """The `multiprocessing` context for training children: on Linux a fork server that has
    imported TensorFlow once (mnist_core.jobs.child_preload), so a child does not import it again;
    "spawn" elsewhere (macOS forbids forking a process that has loaded some system frameworks,
    and Windows cannot fork). The fork server lives as long as this process and keeps the
    environment variables it started with: what a child needs comes through its arguments."""
    import multiprocessing

    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mnist_core.jobs.child_preload"])
    return context


def prepare_training_children(niceness: int) -> None:
    """Start the fork server now, so that TensorFlow is imported before anyone presses Start,
    at nice `niceness` (its import takes seconds of a core; its children inherit the value).
    Returns at once; where there is no fork server, does nothing."""
    import multiprocessing.forkserver
    import threading

    if training_context().get_start_method() != "forkserver":
        return

    def start() -> None:                    # a new process inherits its creator thread's nice
        _lower_thread(threading.get_native_id(), niceness)
        multiprocessing.forkserver.ensure_running()

    threading.Thread(target=start, name="fork-server-start", daemon=True).start()
