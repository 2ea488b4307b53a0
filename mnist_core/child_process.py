"""Starting a "spawn" child from a Streamlit server cleanly, and lowering all of its priority.

Two traps, both measured in the training child (mnist_core.child_training) on 2026-11-27:

- `multiprocessing` re-runs the parent's `__main__` in every spawned child, so that objects
  defined there can be unpickled. In a Streamlit server `__main__` is the page script the
  last rerun installed (Streamlit's fake module, whose `__file__` is streamlit_app.py). So each
  training child first ran the Home page in bare mode (Streamlit's import, and a thread
  loading and warming the bundled model beside the training) before any priority was lowered:
  its first batch came 0.5-0.9 s later.
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


def lower_priority(increment: int) -> None:
    """`os.nice(increment)` for every thread of this process, not only the calling one; threads
    started later inherit it from whichever thread starts them."""
    os.nice(increment)
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return                              # not Linux: there the nice value is per process
    target = os.getpriority(os.PRIO_PROCESS, 0)
    for tid in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < target:
                os.setpriority(os.PRIO_PROCESS, tid, target)
        except OSError:
            pass                            # ended meanwhile
