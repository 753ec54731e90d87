"""The local pool: worker processes on this machine, one file each at a time.

Workers are fresh interpreters (not forks: OpenCV/OpenMP threads and fork do not mix),
one per core by default, talking over two pipes, with one thread each
(OpenMP/BLAS/OpenCV limited to 1 thread), recycled after ``tasks_per_worker`` files.
On Linux each dies with the scan (``PR_SET_PDEATHSIG``, set before anything heavy is
imported).  The parent watches each worker's resident memory (``max_memory_mb``) and
run time (``timeout_s``).  A worker that dies (segfault in a decoder, out-of-memory
kill) or is killed for exceeding a limit is replaced, and the one file it was
analysing (each worker holds one file at a time, so the culprit is known, never
guessed) gets a failed result with the signal or the limit.

The model's fitted pipeline stays in the parent: a worker receives the model without it and
sends the rows it needs scored up its results pipe (two or three small round trips a file),
so a worker never imports scikit-learn (~1 s of start-up each, and again at every recycling).

A pool has the interface :mod:`detector.scan.run` drives (the Dask pool has it too):
``idle``, ``submit(key, task)``, ``wait(timeout)``, ``describe()``, ``close()``.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait

from ..faces import limit_threads
from ..scoring import RemotePipeline, messages, score_reply
from ..trust import ModelError
from ..workers import child_env, default_workers  # noqa: F401 (default_workers re-exported: detector.scan.run)
from .worker import scan_file, set_model

DEFAULT_MAX_MEMORY_MB = 2048
DEFAULT_TASKS_PER_WORKER = 50

#: First statements of a local worker: die with the parent (Linux PR_SET_PDEATHSIG) *before*
#: the seconds of heavy imports, then check the parent is still the one that started us
#: (if it died before prctl, we were re-parented): no window where a kill -9 of the scan
#: leaves an orphan worker.
_WORKER_BOOT = """import os, signal, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
from multiprocessing.connection import Connection
tasks = Connection(int(sys.argv[2]), writable=False)
try:  # the pickled model (without its pipeline) comes first; read it before the heavy imports so the parent never waits
    first = tasks.recv_bytes()
except (EOFError, OSError):
    sys.exit(0)
from detector.scan.local_pool import worker_main
worker_main(tasks, int(sys.argv[3]), first)
os._exit(0)  # every result is sent: skip the interpreter's teardown (~0.4 s with the model's libraries loaded)
"""


class _ParentScorer:
    """A local worker's link to the pool's parent, which holds the model's fitted pipeline: the
    rows to score go up the results pipe as ``("score", rows)`` and the scores come down the
    tasks pipe (the parent answers before it sends the next task)."""

    def __init__(self, tasks: Connection, results: Connection):
        self.tasks, self.results = tasks, results

    def request(self, rows):
        """The parent's ``decision_function`` of ``rows``; ModelError when it failed."""
        self.results.send(("score", rows))
        kind, value = self.tasks.recv()
        if kind == "error":
            raise ModelError(value)
        return value


def worker_main(tasks: Connection, fd_out: int, model_blob: bytes = b"") -> None:
    """A local worker: receive task dicts on ``tasks``, send result dicts on ``fd_out``, until None or EOF.

    ``model_blob``: the pickled ``((model_dir, model_sha), model, support, n_features_in)`` the
    parent loaded and verified, its pipeline left out (empty: no model).  The worker's model
    scores through the parent (:class:`_ParentScorer`), so a worker never imports scikit-learn
    (~1 s of its start-up, paid again at every recycling); ``support`` tells it which columns,
    hence which feature families, the pipeline reads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    results = Connection(fd_out, readable=False)
    limit_threads()
    if model_blob:
        key, model, support, n_features_in = pickle.loads(model_blob)  # from our own parent, over a private pipe
        set_model(key, replace(model, pipeline=RemotePipeline(_ParentScorer(tasks, results), n_features_in, support)))
    for task in messages(tasks):
        try:
            results.send(scan_file(**task))
        except OSError:
            return


def _model_blob(model, model_key: tuple | None) -> bytes:
    """What :func:`worker_main` receives of ``model``: the model without its pipeline, the mask of
    the columns its pipeline reads (None when its steps do not say) and its input width."""
    if model is None:
        return b""
    from ..model import columns_into  # the parent has loaded the model: nothing new is imported

    used = columns_into(model.pipeline, list(model.columns))
    kept = None if used is None else set(used)
    support = None if kept is None else [c in kept for c in model.columns]
    blob = (model_key, replace(model, pipeline=None), support, getattr(model.pipeline, "n_features_in_", None))
    return pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _exit_code(proc: subprocess.Popen) -> int | None:
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out-of-memory kill?)" if -exitcode == signal.SIGKILL else ""
        return f"worker process died: killed by {name}{hint} while analysing this file"
    return f"worker process died: exit code {exitcode} while analysing this file"


class _Slot:
    __slots__ = ("proc", "tasks", "results", "key", "task", "started", "n_done")

    def __init__(self):
        self.proc = self.tasks = self.results = self.key = self.task = None
        self.started = 0.0
        self.n_done = 0


class LocalPool:
    """``workers`` worker processes, one file each at a time.

    ``submit(key, task)`` hands a task to an idle worker; ``wait(timeout)`` returns the
    finished ``(key, result)`` pairs, replacing workers that died or exceeded
    ``timeout_s`` / ``max_memory_mb`` (their file gets a failed result with the reason).
    """

    def __init__(self, workers: int, tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER,
                 timeout_s: float | None = None, max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
                 model=None, model_key: tuple | None = None):
        self.model = model  # its pipeline scores the workers' rows (_serve_score)
        self.model_blob = _model_blob(model, model_key)
        self.env = child_env()  # one thread per worker, set before the worker loads NumPy/OpenMP
        self.capacity = max(1, int(workers))
        self.tasks_per_worker = max(1, int(tasks_per_worker))
        self.timeout_s = timeout_s or None
        self.max_memory_mb = max_memory_mb or None
        self.slots = [_Slot() for _ in range(self.capacity)]
        self.replaced = 0
        for s in self.slots:
            self._spawn(s)

    def _spawn(self, s: _Slot) -> None:
        """A fresh worker: a new interpreter talking over two pipes."""
        task_r, task_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            p = subprocess.Popen([sys.executable, "-c", _WORKER_BOOT, str(os.getpid()), str(task_r), str(res_w)],
                                 pass_fds=(task_r, res_w), env=self.env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
        finally:
            os.close(task_r)
            os.close(res_w)
        s.proc, s.n_done = p, 0
        s.tasks, s.results = Connection(task_w, readable=False), Connection(res_r, writable=False)
        try:  # the fitted model (or nothing), once per worker: no skops import there
            s.tasks.send_bytes(self.model_blob)
        except OSError:  # died at start: wait() reports it on its first file
            pass

    def _serve_score(self, s: _Slot, rows) -> None:
        """Answer a worker's ``("score", rows)`` with this process's pipeline (:class:`_ParentScorer`)."""
        reply = score_reply(self.model.pipeline, rows, "the scan's process")  # an error fails the worker's file
        try:
            s.tasks.send(reply)
        except OSError:  # the worker died: the next wait() reports it
            pass

    def _retire(self, s: _Slot, kill: bool = False) -> None:
        try:
            if kill:
                s.proc.kill()
            else:
                s.tasks.send(None)
        except Exception:
            pass
        try:
            s.proc.wait(timeout=5 if not kill else 10)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(timeout=10)
        s.tasks.close()
        s.results.close()
        s.proc = s.tasks = s.results = None

    @property
    def idle(self) -> int:
        return sum(1 for s in self.slots if s.key is None)

    def submit(self, key, task: dict) -> None:
        s = next(s for s in self.slots if s.key is None)
        if s.proc is None:
            self._spawn(s)
        s.key, s.task, s.started = key, task, time.monotonic()
        try:
            s.tasks.send(task)
        except OSError:  # the worker died before its first task: wait() reports it on this file
            pass

    def wait(self, timeout: float = 0.5) -> list[tuple[object, dict]]:
        busy = [s for s in self.slots if s.key is not None]
        if not busy:
            return []
        mp_wait([s.results for s in busy], timeout)  # a result, or EOF when a worker died
        done = []
        now = time.monotonic()
        for s in busy:
            res, reason = None, None
            if s.results.poll():
                try:
                    res = s.results.recv()
                except (EOFError, OSError):
                    reason = _death_reason(_exit_code(s.proc))
                if isinstance(res, tuple) and res and res[0] == "score":  # mid-file: rows to score, not a result
                    self._serve_score(s, res[1])
                    continue
            elif s.proc.poll() is not None:
                reason = _death_reason(_exit_code(s.proc))
            elif self.timeout_s and now - s.started > self.timeout_s:
                reason = f"timed out after {self.timeout_s:g} s (worker killed)"
            elif self.max_memory_mb and _rss_mb(s.proc.pid) > self.max_memory_mb:
                reason = f"out of memory: worker exceeded --max-memory {self.max_memory_mb:g} MB (worker killed)"
            else:
                continue
            if res is not None:
                done.append((s.key, res))
                s.n_done += 1
                if s.n_done >= self.tasks_per_worker:  # recycle: bounded memory over long runs
                    self._retire(s)
                    self._spawn(s)
            else:
                done.append((s.key, {"path": s.task["path"], "n_frames": s.task.get("n_frames"),
                                     "status": "failed", "error": reason, "worker": f"pid{s.proc.pid}",
                                     "host": socket.gethostname(), "t_wall": now - s.started}))
                self._retire(s, kill=True)
                self.replaced += 1
                self._spawn(s)
            s.key = s.task = None
        return done

    def describe(self) -> str:
        return f"local:{self.capacity}"

    def close(self) -> None:
        live = [s for s in self.slots if s.proc is not None]
        for s in live:  # ask every idle worker to stop first: they exit in parallel
            if s.key is None:
                try:
                    s.tasks.send(None)
                except OSError:
                    pass
        for s in live:
            self._retire(s, kill=s.key is not None)
