"""Batch scanning: many videos into a resumable SQLite database, locally or on a Dask cluster.

``deepfake-detector scan INPUT... --out results.db`` and ``deepfake-detector report results.db``.

Inputs
    Folders (walked recursively, following symlinks; a directory already visited, by
    device and inode, is not entered again, so symlink loops end the walk instead of
    hanging it), files (taken whatever their extension), and ``.txt`` / ``.csv`` lists
    of paths (one per line / a ``path`` column; relative paths are relative to the
    list's folder).  In folders, files with a video or image extension of
    :mod:`detector.video` are scanned; others are counted as ignored.

Work
    :func:`scan_file` analyses one file and returns a plain dict: never raises for bad
    input (the reason goes in ``error``).  It is the same function for the local
    process pool and for Dask.  Local workers are fresh interpreters (not forks), one per
    core by default, talking over two pipes, with one thread each (OpenMP/BLAS/OpenCV
    limited to 1 thread), recycled after ``tasks_per_worker`` files; on Linux each dies
    with the scan (``PR_SET_PDEATHSIG``, set before anything heavy is imported); the parent watches each worker's resident memory
    (``--max-memory``) and run time (``--timeout``).  A worker that dies (segfault in a
    decoder, out-of-memory kill) or is killed for exceeding a limit is replaced, and the
    one file it was analysing (each worker holds one file at a time, so the culprit is
    known, never guessed) is recorded as failed with the signal or the limit.

Results
    Only this (parent) process writes the database, one committed transaction per
    finished file (WAL, ``synchronous=FULL``): see :mod:`detector.scan_db`.

Resume and hashing
    A file is skipped when its row for the same setting (model version + frames) is
    final (done or duplicate; failed too unless ``--retry-failed``) and its content is
    the same.  "Same content" is decided in two steps, correct and cheap:

    1. stat fingerprint: same size and modification time (ns) as recorded → same content
       (no read at all, so resuming a large collection is instant);
       ``--verify-hash`` disables this shortcut;
    2. otherwise the parent hashes the file (SHA-256, ~1.5 GB/s, a few ms for a 720p
       clip, negligible next to decoding) and compares with the recorded digest; equal →
       skip (fingerprint refreshed), different → the file is analysed again.

    Every file to analyse is hashed by the parent before it is dispatched: that is what
    finds duplicates (same SHA-256 at two paths) *before* analysing them.  A duplicate is
    recorded with ``status='duplicate'``, ``duplicate_of`` and the verdict copied
    (or ``failed`` with the reason when its original failed), never analysed twice.  The
    worker hashes again the bytes it actually decodes (chain of custody); the row holds
    the worker's digest.

Cluster
    ``--scheduler tcp://HOST:8786`` submits :func:`scan_file` to an existing Dask
    cluster; this process still walks the inputs, hashes, and writes the database.  The
    workers need the ``detector`` package installed (``pip install -e .``) and the files
    at the same paths (shared storage); the fitted model is sent to them (``scatter``).  Worker death is handled
    by Dask: the nanny restarts the worker and the task is retried on another one; after
    ``distributed.scheduler.allowed-failures`` deaths it is recorded as failed.
"""

from __future__ import annotations

import argparse
import csv
import errno
import os
import signal
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .scan_db import ResultsDB, utc_now

#: Test hook (for the test suite only): ``"crash=NAME;abort=NAME;hang=NAME;oom=NAME"``
#: makes :func:`scan_file` kill its own process (SIGKILL), abort (SIGABRT), sleep, or
#: allocate memory when the file's name contains NAME.
TEST_HOOK_ENV = "DEEPFAKE_DETECTOR_SCAN_TEST_HOOK"
DEFAULT_MAX_MEMORY_MB = 2048
DEFAULT_TASKS_PER_WORKER = 50
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class ScanError(Exception):
    """A scan that cannot start (one-line, user-facing message)."""


# ----------------------------------------------------------------------------- inputs
@dataclass
class Discovery:
    """What the inputs expand to: ``paths`` to scan (absolute, in order, unique),
    ``missing`` paths that do not exist, ``ignored`` files with other extensions in
    folders, ``loops`` directories not entered again (symlink loops / repeats)."""

    paths: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ignored: int = 0
    loops: int = 0


def media_extensions() -> tuple[str, ...]:
    from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    return tuple(VIDEO_EXTENSIONS) + tuple(IMAGE_EXTENSIONS)


def discover(inputs, extensions: tuple[str, ...] | None = None) -> Discovery:
    """Expand folders, files and ``.txt``/``.csv`` lists into the files to scan."""
    exts = tuple(e.lower() for e in (extensions or media_extensions()))
    out = Discovery()
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def add(p: str) -> None:
        if p not in seen_files:
            seen_files.add(p)
            out.paths.append(p)

    def one(entry: str, base: str | None, allow_lists: bool) -> None:
        p = os.path.abspath(os.path.join(base, entry) if base else entry)
        if os.path.isdir(p):
            _walk(p, exts, seen_dirs, add, out)
        elif allow_lists and p.lower().endswith((".txt", ".csv")) and os.path.isfile(p):
            for e in _read_list(p):
                one(e, os.path.dirname(p), allow_lists=False)
        elif os.path.lexists(p):
            add(p)  # a named file is scanned whatever its extension (a broken symlink fails later)
        elif p not in out.missing:
            out.missing.append(p)

    for i in inputs:
        one(os.fspath(i), None, allow_lists=True)
    return out


def _read_list(path: str) -> list[str]:
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if "path" not in (reader.fieldnames or []):
                raise ValueError(f"list {path} has no 'path' column (columns: {reader.fieldnames})")
            return [r["path"].strip() for r in reader if (r.get("path") or "").strip()]
    with open(path, encoding="utf-8-sig") as f:
        return [s.strip() for s in f if s.strip() and not s.lstrip().startswith("#")]


def _walk(root: str, exts, seen_dirs: set, add, out: Discovery) -> None:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # reached again (a repeated input): walk no further
            out.loops += 1
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        keep = []
        for d in sorted(dirnames):
            try:
                s = os.stat(os.path.join(dirpath, d))
            except OSError:  # broken directory symlink
                continue
            if (s.st_dev, s.st_ino) in seen_dirs:  # a symlink back up the tree (loop) or to a walked folder
                out.loops += 1
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.lower().endswith(exts):
                add(os.path.join(dirpath, name))
            else:
                out.ignored += 1


# ----------------------------------------------------------------------------- one file
_MODELS: dict = {}


def _get_model(model_dir: str | None, model_sha: str | None):
    """The model of this setting, loaded once per worker process."""
    if model_dir is None:
        return None
    key = (model_dir, model_sha)
    if key not in _MODELS:
        from .model import ModelError, load_model

        m = load_model(model_dir)
        if model_sha and m.card.get("model_sha256") != model_sha:
            raise ModelError(f"the model at {model_dir} on {socket.gethostname()} differs from the client's "
                             f"(SHA-256 {m.card.get('model_sha256', '?')[:12]} != {model_sha[:12]})")
        _MODELS.clear()
        _MODELS[key] = m
    return _MODELS[key]


def _worker_name() -> str:
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker().address
        except Exception:
            pass
    return f"pid{os.getpid()}"


def _test_hook(path: str) -> None:
    spec = os.environ.get(TEST_HOOK_ENV)
    if not spec:
        return
    name = os.path.basename(path)
    for item in spec.split(";"):
        action, _, pattern = item.partition("=")
        if not pattern or pattern not in name:
            continue
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "abort":
            os.abort()
        elif action == "hang":
            time.sleep(3600)
        elif action == "oom":
            hold = [b"\x01" * (64 << 20) for _ in range(32)]  # 2 GB, touched
            time.sleep(3600)
            del hold


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return msg if msg else type(e).__name__


def scan_file(path: str, n_frames: int = 16, model_dir: str | None = None, model_sha: str | None = None,
              model=None) -> dict:
    """Analyse one file; return the fields of its result row (never raises for bad input).

    Runs in a worker process (local pool or Dask).  ``model`` is the fitted
    :class:`~detector.model.DetectorModel` (sent by the client, which loaded and verified
    it); without it, the model folder ``model_dir`` is loaded once per process (and must
    have the file SHA-256 ``model_sha``).  ``status`` is ``done`` (verdict
    fake/real/no-face/unscored) or ``failed`` with the reason in ``error``.
    """
    t0 = time.perf_counter()
    _test_hook(path)
    out: dict = {"path": path, "n_frames": n_frames, "worker": _worker_name(), "host": socket.gethostname()}
    try:
        from .analysis import analyze
        from .faces import limit_threads

        limit_threads()
        if model is None:
            model = _get_model(model_dir, model_sha)
        a = analyze(path, model=model, n_frames=n_frames, families="model")
    except MemoryError:
        out.update(status="failed", error="out of memory while analysing")
    except Exception as e:  # VideoError (bad input), ModelError, decoder errors: recorded, never fatal
        from .video import VideoError

        out.update(status="failed", error=_one_line(e) if isinstance(e, VideoError) else
                   f"{type(e).__name__}: {_one_line(e)}")
    else:
        i, t = a.info, a.timings
        out.update(
            status="done", size_bytes=i.size_bytes, sha256=i.sha256, kind=i.kind, width=i.width, height=i.height,
            fps=i.fps, duration_s=i.duration_s, n_sampled=a.n_sampled, verdict=a.verdict, score=a.score,
            threshold=a.threshold, n_faces=a.n_faces, n_tracks=len(a.tracks),
            t_probe=t.get("probe"), t_decode=t.get("decode"), t_faces=t.get("faces"),
            t_features=t.get("features"), t_total=t.get("total"))
    if out["status"] == "failed":
        try:
            from .video import sha256_file

            out["size_bytes"] = os.stat(path).st_size
            out["sha256"] = sha256_file(path)
        except OSError:
            pass
    out["t_wall"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------- local pool
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
try:  # the pickled model comes first; read it before the heavy imports so the parent never waits
    first = tasks.recv_bytes()
except (EOFError, OSError):
    sys.exit(0)
from detector.scan import _worker_main
_worker_main(tasks, int(sys.argv[3]), first)
"""


def _worker_main(tasks, fd_out: int, model_blob: bytes = b"") -> None:
    """A local worker: receive task dicts on ``tasks``, send result dicts on ``fd_out``, until None or EOF.

    ``model_blob``: the pickled ``((model_dir, model_sha), DetectorModel)`` the parent
    loaded and verified (empty: no model)."""
    import pickle
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    results = Connection(fd_out, readable=False)
    from .faces import limit_threads

    limit_threads()
    if model_blob:
        key, model = pickle.loads(model_blob)  # from our own parent, over a private pipe
        _MODELS.clear()
        _MODELS[key] = model
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        res = scan_file(**task)
        try:
            results.send(res)
        except OSError:
            return


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _exit_code(proc) -> int | None:
    import subprocess

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
        import pickle

        self.model_blob = b"" if model is None else pickle.dumps((model_key, model), protocol=pickle.HIGHEST_PROTOCOL)
        env = dict(os.environ)
        for k in _THREAD_ENV:  # one thread per worker, set before the worker loads NumPy/OpenMP
            env.setdefault(k, "1")
        pkg_root = str(Path(__file__).resolve().parent.parent)  # importable even when not pip-installed
        env["PYTHONPATH"] = os.pathsep.join([pkg_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self.env = env
        self.capacity = max(1, int(workers))
        self.tasks_per_worker = max(1, int(tasks_per_worker))
        self.timeout_s = timeout_s or None
        self.max_memory_mb = max_memory_mb or None
        self.slots = [_Slot() for _ in range(self.capacity)]
        self.replaced = 0
        for s in self.slots:
            self._spawn(s)

    def _spawn(self, s: _Slot) -> None:
        """A fresh worker: a new interpreter (not a fork: OpenCV/OpenMP threads and fork do not mix)
        talking over two pipes."""
        import subprocess
        from multiprocessing.connection import Connection

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

    def _retire(self, s: _Slot, kill: bool = False) -> None:
        import subprocess

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
        from multiprocessing.connection import wait as mp_wait

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
        for s in self.slots:
            if s.proc is not None:
                self._retire(s, kill=s.key is not None)


# ----------------------------------------------------------------------------- Dask
class DaskPool:
    """The same interface on an existing Dask cluster (``--scheduler tcp://HOST:PORT``)."""

    def __init__(self, address: str, connect_timeout: float = 30, workers_timeout: float = 60, model=None):
        from distributed import Client

        try:
            self.client = Client(address, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ScanError(f"cannot reach the Dask scheduler at {address}: {_one_line(e)}") from None
        try:
            self.client.wait_for_workers(1, timeout=workers_timeout)
        except (OSError, TimeoutError):
            self.client.close()
            raise ScanError(f"no Dask worker joined {address} within {workers_timeout:g} s "
                            f"(start some with: dask worker {address} --nworkers N --nthreads 1)") from None
        self.nthreads = sum(self.client.nthreads().values()) or 1
        # the fitted model travels with the tasks (once per worker): no model folder needed there
        self.model = None if model is None else self.client.scatter(model, broadcast=True, hash=False)
        self.capacity = 2 * self.nthreads  # one queued per thread keeps workers busy
        self.futures: dict = {}  # future -> key
        self.address = address

    @property
    def idle(self) -> int:
        return self.capacity - len(self.futures)

    def submit(self, key, task: dict) -> None:
        import uuid

        if self.model is not None:
            task = {**task, "model": self.model}
        fut = self.client.submit(scan_file, **task, pure=False, key=f"scan_file-{uuid.uuid4().hex}")
        self.futures[fut] = key

    def wait(self, timeout: float = 0.5) -> list[tuple[object, dict]]:
        from distributed import wait as dwait

        if not self.futures:
            return []
        try:
            dwait(list(self.futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except Exception:  # timeout
            pass
        done = []
        for fut in [f for f in self.futures if f.done()]:
            key = self.futures.pop(fut)
            try:
                res = fut.result()
            except Exception as e:  # KilledWorker (the task killed workers repeatedly), lost connection...
                name = type(e).__name__
                why = ("worker processes died repeatedly while analysing this file" if name == "KilledWorker"
                       else "Dask task failed")
                res = {"status": "failed", "error": f"{why} ({name}: {_one_line(e)[:300]})"}
            fut.release()
            done.append((key, res))
        return done

    def describe(self) -> str:
        return f"dask:{self.address}:{self.nthreads}"

    def close(self) -> None:
        try:
            if self.futures:
                self.client.cancel(list(self.futures))
        finally:
            self.client.close()


# ----------------------------------------------------------------------------- the scan
def model_setting(model) -> tuple[str | None, str | None, str]:
    """(model folder, model file SHA-256, model_version string) of a DetectorModel or None."""
    from .features import FEATURES_VERSION

    if model is None:
        return None, None, f"none+features{FEATURES_VERSION}"
    sha = model.card.get("model_sha256") or ""
    folder = os.path.abspath(model.path) if model.path else None
    return folder, sha or None, f"{model.name}@{model.version}+features{FEATURES_VERSION}+{sha[:12]}"


@dataclass
class ScanSummary:
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    duplicate: int = 0
    verdicts: dict = field(default_factory=dict)
    ignored: int = 0
    loops: int = 0
    workers_replaced: int = 0
    seconds: float = 0.0
    model_version: str = ""
    db: str = ""

    def line(self) -> str:
        v = ", ".join(f"{k} {n}" for k, n in sorted(self.verdicts.items()))
        s = (f"{self.total} files: {self.done} analysed ({v or 'none'}), {self.duplicate} duplicates, "
             f"{self.failed} failed, {self.skipped} already in {os.path.basename(self.db)}")
        extra = []
        if self.ignored:
            extra.append(f"{self.ignored} files with other extensions ignored")
        if self.loops:
            extra.append(f"{self.loops} repeated folders / symlink loops not re-entered")
        if self.workers_replaced:
            extra.append(f"{self.workers_replaced} workers replaced")
        return s + (f"; {'; '.join(extra)}" if extra else "") + f" [{self.seconds:.1f} s]"


def _final(status: str, retry_failed: bool) -> bool:
    return status in ("done", "duplicate") or (status == "failed" and not retry_failed)


def scan(inputs, out: str | os.PathLike, model=None, n_frames: int = 16, workers: int | None = None,
         scheduler: str | None = None, retry_failed: bool = False, verify_hash: bool = False,
         timeout_s: float | None = None, max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
         tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER, progress: bool = True,
         command: str | None = None, log=None) -> ScanSummary:
    """Scan ``inputs`` into the SQLite database ``out`` (see the module docstring).

    ``model`` is a :class:`detector.model.DetectorModel` loaded from a folder, or None
    (verdicts ``unscored``).  Returns counts; every file's outcome is in the database.
    """
    from .video import sha256_file

    log = log or sys.stderr
    t_start = time.perf_counter()
    if n_frames < 1:
        raise ValueError("--frames must be >= 1")
    model_dir, model_sha, version = model_setting(model)
    found = discover(inputs)
    summary = ScanSummary(total=len(found.paths) + len(found.missing), ignored=found.ignored, loops=found.loops,
                          model_version=version, db=str(out))
    db = ResultsDB(out)
    pool = bar = run_id = None
    try:
        known = db.index(version, n_frames)
        base = {"n_frames": n_frames, "model_version": version}

        def record(row: dict) -> None:
            row = {**base, "host": socket.gethostname(), "worker": "client", "finished_at": utc_now(),
                   "run_id": run_id, **row}
            db.upsert(row)
            st = row["status"]
            if st == "done":
                summary.done += 1
                summary.verdicts[row.get("verdict")] = summary.verdicts.get(row.get("verdict"), 0) + 1
            elif st == "duplicate":
                summary.duplicate += 1
            else:
                summary.failed += 1
            known[row["path"]] = {"status": st, "size_bytes": row.get("size_bytes"),
                                  "mtime_ns": row.get("mtime_ns"), "sha256": row.get("sha256")}
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=summary.failed, dup=summary.duplicate, refresh=False)

        def skip() -> None:
            summary.skipped += 1
            if bar is not None:
                bar.update(1)

        # 1. the stat fingerprint decides most skips without reading anything
        todo: list[tuple[str, os.stat_result | OSError]] = []
        for p in found.missing + found.paths:
            try:
                st: os.stat_result | OSError = os.stat(p)
            except OSError as e:
                st = e
            r = known.get(p)
            if r is not None and _final(r["status"], retry_failed):
                if isinstance(st, OSError) and r["status"] == "failed":
                    summary.skipped += 1
                    continue
                if (not isinstance(st, OSError) and not verify_hash and r["size_bytes"] == st.st_size
                        and r["mtime_ns"] == st.st_mtime_ns):
                    summary.skipped += 1
                    continue
            todo.append((p, st))

        if progress:
            from tqdm import tqdm

            bar = tqdm(total=summary.total, initial=summary.skipped, unit="file", file=log, dynamic_ncols=True,
                       smoothing=0.1, desc="scan")
        if not todo:
            return summary
        pool = DaskPool(scheduler, model=model) if scheduler else LocalPool(
            workers or _default_workers(), tasks_per_worker=tasks_per_worker, timeout_s=timeout_s,
            max_memory_mb=max_memory_mb, model=model, model_key=(model_dir, model_sha))
        run_id = db.start_run(command or "scan", version, n_frames, pool.describe())

        task_base = {"n_frames": n_frames, "model_dir": model_dir, "model_sha": model_sha}
        inflight: dict[str, tuple] = {}  # path -> (stat, parent sha256)
        inflight_sha: dict[str, str] = {}  # sha256 -> path being analysed
        waiting: dict[str, list] = {}  # sha256 -> [(path, stat)] same content, waiting for the original
        i = 0

        def dup_row(path: str, st, sha: str, orig: dict) -> dict:
            keep = ("kind", "width", "height", "fps", "duration_s", "n_sampled", "verdict", "score", "threshold",
                    "n_faces", "n_tracks")
            row = {"path": path, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha,
                   "duplicate_of": orig["path"], "host": socket.gethostname(), "worker": "client"}
            if orig["status"] == "done":
                row.update({k: orig.get(k) for k in keep}, status="duplicate")
            else:
                row.update(status="failed", error=f"same content as {orig['path']}, which failed: {orig.get('error')}")
            return row

        while i < len(todo) or inflight:
            # 2. dispatch: hash, skip unchanged content, park duplicates, submit the rest
            while i < len(todo) and pool.idle > 0:
                p, st = todo[i]
                i += 1
                if isinstance(st, OSError):
                    why = "file not found" if st.errno == errno.ENOENT else f"cannot read: {st.strerror}"
                    if os.path.islink(p):
                        why += " (broken symlink)"
                    record({"path": p, "status": "failed", "error": why})
                    continue
                if not os.path.isfile(p):
                    record({"path": p, "status": "failed", "error": "not a regular file",
                            "mtime_ns": st.st_mtime_ns})
                    continue
                fp = {"path": p, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
                if st.st_size == 0:  # all empty files share one digest: never "duplicates" of each other
                    record({**fp, "status": "failed", "error": "empty file (0 bytes)",
                            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
                    continue
                try:
                    sha = sha256_file(p)
                except OSError as e:
                    record({**fp, "status": "failed", "error": f"cannot read: {e.strerror or e}"})
                    continue
                r = known.get(p)
                if r is not None and r["sha256"] == sha and _final(r["status"], retry_failed):
                    db.touch(p, version, n_frames, st.st_size, st.st_mtime_ns)  # same bytes, new stat
                    skip()
                    continue
                orig = db.find_analysed(sha, version, n_frames, exclude_path=p)
                if orig is not None:
                    record(dup_row(p, st, sha, orig))
                    continue
                if sha in inflight_sha:
                    waiting.setdefault(sha, []).append((p, st))
                    continue
                pool.submit(p, {"path": p, **task_base})
                inflight[p] = (st, sha)
                inflight_sha[sha] = p
            # 3. collect: one committed row per finished file
            for p, res in pool.wait(timeout=0.5):
                st, sha = inflight.pop(p)
                inflight_sha.pop(sha, None)
                row = {**res, "path": p, "mtime_ns": st.st_mtime_ns}
                row.setdefault("size_bytes", st.st_size)
                if not row.get("sha256"):
                    row["sha256"] = sha
                record(row)
                for p2, st2 in waiting.pop(sha, []):
                    record(dup_row(p2, st2, sha, row))
        summary.workers_replaced = getattr(pool, "replaced", 0)
        return summary
    finally:
        if pool is not None:
            pool.close()
        if bar is not None:
            bar.close()
        summary.seconds = time.perf_counter() - t_start
        try:
            if pool is not None and run_id is not None:
                db.finish_run(run_id, {k: v for k, v in summary.__dict__.items() if k not in ("db",)})
        finally:
            db.close()


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- report
def ranked(db_path: str | os.PathLike, include_all: bool = False, setting: str | None = "latest"):
    """The results as a DataFrame, most suspicious first (see :func:`_ranked`)."""
    return _ranked(db_path, include_all, setting)[0]


def _ranked(db_path, include_all: bool = False, setting: str | None = "latest"):
    """(ranked table, all rows of the setting, note) -- the ranked table is the results as a DataFrame, most suspicious first.

    Rows with a score (done or duplicate) are ranked by ``margin = score - threshold``
    (higher = more likely fake) and get ``rank`` 1, 2, ...; with ``include_all`` the
    unscored, no-face and failed rows follow (rank empty).  When the database holds
    several settings (model version, frames), ``setting="latest"`` keeps the one of the
    latest run, None keeps all.
    """
    import pandas as pd

    with ResultsDB(db_path, readonly=True) as db:
        df = db.frame()
        runs = db.runs()
    note = ""
    if len(df) and setting is not None:
        settings = df[["model_version", "n_frames"]].drop_duplicates()
        if len(settings) > 1:
            if setting == "latest":
                last = runs.dropna(subset=["model_version"]).iloc[-1] if len(runs) else df.iloc[-1]
                mv, nf = last["model_version"], int(last["n_frames"])
            else:
                mv, nf = setting, int(df.loc[df.model_version == setting, "n_frames"].iloc[-1])
            note = f"{len(settings)} settings in the database; showing {mv} with {nf} frames"
            df = df[(df.model_version == mv) & (df.n_frames == nf)]
    df = df.assign(margin=df["score"] - df["threshold"])
    scored = df[df["score"].notna()].sort_values(["margin", "path"], ascending=[False, True], kind="stable")
    scored = scored.assign(rank=range(1, len(scored) + 1))
    out = scored
    if include_all:
        rest = df[df["score"].isna()].sort_values(["status", "verdict", "path"], kind="stable")
        out = pd.concat([scored, rest.assign(rank=pd.NA)], ignore_index=True)
    out = out.reset_index(drop=True)
    out["rank"] = out["rank"].astype("Int64")
    front = ["rank", "path", "verdict", "score", "threshold", "margin", "status", "duplicate_of", "n_faces",
             "n_tracks", "duration_s", "sha256", "error", "model_version", "n_frames"]
    out = out[front + [c for c in out.columns if c not in front]]
    return out, df, note


def report_text(db_path: str | os.PathLike, top: int = 20) -> str:
    """Summary counts, the ``top`` ranked suspects and the failure reasons, as text."""
    table, df, note = _ranked(db_path)
    lines = [f"{db_path}: {len(df)} files"]
    if note:
        lines.append(f"note: {note}")
    if len(df):
        st = df["status"].value_counts().to_dict()
        vd = df.loc[df.status != "failed", "verdict"].value_counts().to_dict()
        lines.append("status:   " + ", ".join(f"{k} {v}" for k, v in sorted(st.items())))
        lines.append("verdicts: " + (", ".join(f"{k} {v}" for k, v in sorted(vd.items())) or "none"))
        lines.append("model:    " + ", ".join(sorted(df["model_version"].unique())) +
                     f"; {int(df['n_frames'].iloc[0])} frames sampled per video")
    lines.append("")
    if len(table):
        k = min(top, len(table))
        lines.append(f"top {k} suspects (ranked by score - threshold, higher = more likely fake):")
        lines.append(f"{'rank':>4}  {'margin':>7}  {'score':>7}  {'verdict':<8} {'faces':>5} {'dur_s':>6}  path")
        for r in table.head(k).itertuples():
            dup = f"  (= {r.duplicate_of})" if isinstance(r.duplicate_of, str) and r.duplicate_of else ""
            dur = f"{r.duration_s:6.1f}" if r.duration_s == r.duration_s and r.duration_s is not None else "     -"
            faces = "" if r.n_faces is None or r.n_faces != r.n_faces else int(r.n_faces)
            lines.append(f"{int(r.rank):>4}  {r.margin:+7.3f}  {r.score:+7.3f}  {str(r.verdict):<8} {faces:>5} "
                         f"{dur}  {r.path}{dup}")
    elif len(df):
        lines.append("no scored files (no model was loaded: verdicts are 'unscored'; rescan with --model)")
    failed = df[df.status == "failed"] if len(df) else df
    if len(failed):
        lines.append("")
        lines.append(f"failed ({len(failed)}):")
        for r in failed.head(max(top, 10)).itertuples():
            lines.append(f"  {r.path}: {r.error}")
        if len(failed) > max(top, 10):
            lines.append(f"  ... {len(failed) - max(top, 10)} more (export with --csv/--parquet --all)")
    return "\n".join(lines)


def export(db_path: str | os.PathLike, csv_path: str | None = None, parquet_path: str | None = None,
           top: int | None = None, include_all: bool = False) -> int:
    """Write the ranked table (top K if given) to CSV or Parquet; returns the row count."""
    table = ranked(db_path, include_all=include_all)
    if top:
        table = table.head(top)
    if csv_path:
        table.to_csv(csv_path, index=False)
    if parquet_path:
        table.to_parquet(parquet_path, index=False)
    return len(table)


# ----------------------------------------------------------------------------- CLI
def cmd_scan(args) -> int:
    from .cli import _load_model_or_none

    model = _load_model_or_none(args.model, quiet=False)
    command = "deepfake-detector " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0] else "scan"
    from .scan_db import ScanLockedError

    try:
        s = scan(args.inputs, args.out, model=model, n_frames=args.frames, workers=args.workers,
                 scheduler=args.scheduler, retry_failed=args.retry_failed, verify_hash=args.verify_hash,
                 timeout_s=args.timeout, max_memory_mb=args.max_memory, tasks_per_worker=args.tasks_per_worker,
                 progress=not args.no_progress, command=command)
    except (ScanError, ScanLockedError, sqlite3.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"scanned {s.line()}", file=sys.stderr)
    if s.total == 0:
        print("error: no video or image files found in the inputs", file=sys.stderr)
        return 1
    if args.top:
        print(report_text(args.out, top=args.top))
    return 0


def cmd_report(args) -> int:
    if args.csv or args.parquet:
        n = export(args.db, args.csv, args.parquet, top=args.top if args.top_given else None,
                   include_all=args.all)
        print(f"wrote {n} rows to {args.csv or args.parquet}", file=sys.stderr)
        return 0
    print(report_text(args.db, top=args.top))
    return 0


class _TopAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.top_given = True


def register_cli(sub) -> None:
    from .analysis import DEFAULT_FRAMES
    from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    s = sub.add_parser(
        "scan", help="analyse many videos/images into a resumable SQLite results database",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Analyse every video and image of the inputs, in parallel, into an SQLite database\n"
            "(one row per file, committed as each finishes; re-running the command resumes).\n\n"
            "INPUT: a folder (walked recursively, following symlinks, loops cut), a file, or a .txt/.csv\n"
            "list of paths (CSV: a 'path' column; relative paths are relative to the list's folder).\n"
            f"In folders, videos ({' '.join(VIDEO_EXTENSIONS)})\n"
            f"and images ({' '.join(IMAGE_EXTENSIONS)}) are scanned; other files are ignored.\n\n"
            "Files already done with the same content (SHA-256) and the same model version and --frames\n"
            "are skipped; failed ones only with --retry-failed. Identical files are analysed once and\n"
            "recorded as duplicates."))
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, file, or .txt/.csv list of paths")
    s.add_argument("--out", required=True, metavar="DB", help="SQLite results database (created or resumed)")
    s.add_argument("--model", help="model folder (default: models/default; none there: verdicts 'unscored')")
    s.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames sampled per video (default %(default)s)")
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core); ignored with --scheduler")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster (this process still writes the database)")
    s.add_argument("--retry-failed", action="store_true", help="analyse again the files that failed before")
    s.add_argument("--verify-hash", action="store_true",
                   help="re-hash files before skipping them even when size and mtime are unchanged")
    s.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="kill a local worker that spends more than S seconds on one file (file marked failed)")
    s.add_argument("--max-memory", type=float, default=DEFAULT_MAX_MEMORY_MB, metavar="MB",
                   help="kill a local worker whose resident memory exceeds MB (file marked failed; "
                        "default %(default)s, 0 = no limit)")
    s.add_argument("--tasks-per-worker", type=int, default=DEFAULT_TASKS_PER_WORKER, metavar="N",
                   help="replace each local worker process after N files (default %(default)s)")
    s.add_argument("--top", type=int, default=0, metavar="K", help="print the K most suspicious files at the end")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_scan)

    r = sub.add_parser("report", help="ranked suspects of a scan database; export CSV/Parquet",
                       description="Print the scan's counts, the top suspects (ranked by score - threshold) and "
                                   "the failures, or export the ranked table.")
    r.add_argument("db", help="results database written by 'scan'")
    r.add_argument("--top", type=int, default=20, action=_TopAction, metavar="K",
                   help="how many suspects to print (default %(default)s); with --csv/--parquet: export only K")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--csv", metavar="FILE", help="export the ranked table as CSV")
    g.add_argument("--parquet", metavar="FILE", help="export the ranked table as Parquet")
    r.add_argument("--all", action="store_true", help="export every file (unscored, no-face, failed too)")
    r.set_defaults(func=cmd_report, top_given=False)
