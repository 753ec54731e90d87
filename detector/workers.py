"""Process pools whose workers do not outlive the process that started them.

``extract``, ``degrade`` and the self-blending run their videos in a
``ProcessPoolExecutor`` of *spawned* workers (a fork after OpenCV / OpenMP threads can
deadlock).  A spawned worker holds both ends of the pool's task queue, so when its parent
is killed (``kill``, an out-of-memory kill, a closed terminal) it never sees the end of the
queue: it would finish its video and then sleep forever, holding its memory.  Each worker
made by :func:`spawn_pool` asks the kernel to kill it when its parent dies (Linux
``PR_SET_PDEATHSIG``; elsewhere a thread that watches the parent id), and exits at once if
the parent is already gone.  Everything a worker writes is written under a temporary name
and renamed when complete, so a killed worker leaves nothing a re-run would take for done.
(The batch scanner, :mod:`detector.scan`, starts its own workers the same way, before
their imports.)
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_PR_SET_PDEATHSIG = 1


#: The thread pools a worker pins to one thread (read when OpenMP / BLAS load).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def child_env() -> dict[str, str]:
    """The environment of a fresh worker interpreter (``python -c``): this one's, with one
    thread per pool unless set otherwise (:data:`THREAD_ENV`) and this package importable
    even when it is not pip-installed."""
    env = dict(os.environ)
    for k in THREAD_ENV:
        env.setdefault(k, "1")
    pkg_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def die_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> None:
    """Make this process exit when ``parent_pid`` (its parent) dies.

    Meant as a pool ``initializer``.  On Linux the kernel sends SIGKILL on the parent's
    death; on other systems a daemon thread checks ``os.getppid()`` every ``poll_seconds``.
    Exits at once if the parent has already died (the process was re-parented)."""
    try:
        if ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError("prctl failed")
    except (OSError, AttributeError):  # not Linux: watch the parent id instead

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(poll_seconds)
            os._exit(1)

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes that die with this one.

    Use it from the thread that will outlive the pool (a ``with`` block in the calling
    function): Linux ties ``PR_SET_PDEATHSIG`` to the thread that started the worker."""
    return ProcessPoolExecutor(max_workers=max(1, int(workers)), mp_context=mp.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
