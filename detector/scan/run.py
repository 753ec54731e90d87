"""Running a scan: the files of the inputs analysed into the results database, resumably.

Results
    Only this (parent) process writes the database, one committed transaction per
    finished file (WAL, ``synchronous=FULL``): see :mod:`detector.scan.db`.  Files that
    cannot be analysed (missing, a symlink loop, a FIFO, empty) are recorded as failed
    with the reason, by this process, without a worker.

Resume and hashing
    A file is skipped when its row for the same setting (model version + frames) is
    final (done or duplicate; failed too unless ``retry_failed``) and its content is
    the same.  "Same content" is decided in two steps, correct and cheap:

    1. stat fingerprint: same size and modification time (ns) as recorded -> same content
       (no read at all, so resuming a large collection is instant);
       ``verify_hash`` disables this shortcut;
    2. otherwise the parent hashes the file (SHA-256, ~1.5 GB/s, a few ms for a 720p
       clip, negligible next to decoding) and compares with the recorded digest; equal ->
       skip (fingerprint refreshed), different -> the file is analysed again.

    A failed row whose path still cannot be analysed (still missing, still a FIFO...) is
    final as it is.

    Every file to analyse is hashed by the parent before it is dispatched: that is what
    finds duplicates (same SHA-256 at two paths, read the same way: both videos or both
    images, as :func:`detector.video.is_image_path` decides from the name) *before*
    analysing them.  A duplicate is recorded with ``status='duplicate'``,
    ``duplicate_of`` and the verdict copied (or ``failed`` with the reason when its
    original failed), never analysed twice.  The worker hashes again the bytes it
    actually decodes (chain of custody); the row holds the worker's digest.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from ..analysis import model_sampling
from ..decode import DEFAULT_FRAMES
from ..features import FEATURES_VERSION
from ..sampling import DEFAULT_SAMPLING
from ..video import is_image_path, sha256_file
from .dask_pool import DaskPool
from .db import ResultsDB, utc_now
from .discover import discover, stat_or_error, unscannable
from .local_pool import DEFAULT_MAX_MEMORY_MB, DEFAULT_TASKS_PER_WORKER, LocalPool, default_workers

#: Digest of zero bytes: every empty file has it, so empty files are never "duplicates" of each other.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Fields a duplicate copies from the analysed file with the same content.
_COPIED = ("kind", "width", "height", "fps", "duration_s", "n_sampled", "verdict", "score", "threshold", "n_faces",
           "n_tracks", "llr", "codec", "caution")


def model_setting(model) -> tuple[str | None, str | None, str]:
    """(model folder, model file SHA-256, model_version string) of a DetectorModel or None."""
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


def _kind(path: str) -> str:
    """How :func:`detector.video.probe` will read ``path``: ``image`` or ``video`` (by its name)."""
    return "image" if is_image_path(path) else "video"


def _dup_row(path: str, st: os.stat_result, sha: str, orig: dict) -> dict:
    """The row of ``path``, whose content ``sha`` is that of the analysed row ``orig``."""
    row = {"path": path, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha,
           "duplicate_of": orig["path"], "host": socket.gethostname(), "worker": "client"}
    if orig["status"] == "done":
        row.update({k: orig.get(k) for k in _COPIED}, status="duplicate")
    else:
        row.update(status="failed", error=f"same content as {orig['path']}, which failed: {orig.get('error')}")
    return row


class _Run:
    """One scan while it runs: the database, the counts, the progress bar, the pool and the files in flight."""

    def __init__(self, db: ResultsDB, summary: ScanSummary, n_frames: int, retry_failed: bool):
        self.db, self.summary, self.retry_failed = db, summary, retry_failed
        self.base = {"n_frames": n_frames, "model_version": summary.model_version}
        self.known: dict[str, dict] = {}  # path -> its row of this setting (status, fingerprint, digest)
        self.bar = self.pool = self.run_id = None
        self.inflight: dict[str, tuple] = {}  # path -> (stat, parent sha256, kind)
        self.inflight_sha: dict[tuple, str] = {}  # (sha256, kind) -> path being analysed
        self.waiting: dict[tuple, list] = {}  # (sha256, kind) -> [(path, stat)] same content, waiting for it

    def record(self, row: dict) -> None:
        """Commit the row of one file and count it."""
        row = {**self.base, "host": socket.gethostname(), "worker": "client", "finished_at": utc_now(),
               "run_id": self.run_id, **row}
        self.db.upsert(row)
        s, st = self.summary, row["status"]
        if st == "done":
            s.done += 1
            s.verdicts[row.get("verdict")] = s.verdicts.get(row.get("verdict"), 0) + 1
        elif st == "duplicate":
            s.duplicate += 1
        else:
            s.failed += 1
        self.known[row["path"]] = {"status": st, "size_bytes": row.get("size_bytes"),
                                   "mtime_ns": row.get("mtime_ns"), "sha256": row.get("sha256")}
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=s.failed, dup=s.duplicate, refresh=False)

    def skip(self) -> None:
        self.summary.skipped += 1
        if self.bar is not None:
            self.bar.update(1)

    def plan(self, paths: list[str], verify_hash: bool) -> list[tuple]:
        """The (path, stat or error) pairs to look at; the stat fingerprint decides most skips
        without reading anything."""
        self.known = self.db.index(self.base["model_version"], self.base["n_frames"])
        todo = []
        for p in paths:
            st = stat_or_error(p)
            r = self.known.get(p)
            if r is not None and _final(r["status"], self.retry_failed):
                if r["status"] == "failed" and unscannable(p, st) is not None:  # still not analysable
                    self.summary.skipped += 1
                    continue
                if (not isinstance(st, Exception) and not verify_hash and r["size_bytes"] == st.st_size
                        and r["mtime_ns"] == st.st_mtime_ns):
                    self.summary.skipped += 1
                    continue
            todo.append((p, st))
        return todo

    def execute(self, todo: list[tuple], task: dict) -> None:
        """Dispatch ``todo`` to the pool as workers are free, and record what they finish."""
        i = 0
        while i < len(todo) or self.inflight:
            while i < len(todo) and self.pool.idle > 0:
                self.dispatch(*todo[i], task)
                i += 1
            self.collect()

    def dispatch(self, p: str, st, task: dict) -> None:
        """Record ``p`` if it cannot be analysed, skip it if unchanged, park it if a duplicate,
        else submit it (``task``: the arguments of :func:`~detector.scan.worker.scan_file` but the path)."""
        why = unscannable(p, st)
        if why is not None:
            stamp = {} if isinstance(st, Exception) else {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
            return self.record({"path": p, "status": "failed", "error": why, **stamp})
        fp = {"path": p, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        if st.st_size == 0:
            return self.record({**fp, "status": "failed", "error": "empty file (0 bytes)", "sha256": EMPTY_SHA256})
        try:
            sha = sha256_file(p)
        except OSError as e:
            return self.record({**fp, "status": "failed", "error": f"cannot read: {e.strerror or e}"})
        r = self.known.get(p)
        if r is not None and r["sha256"] == sha and _final(r["status"], self.retry_failed):
            self.db.touch(p, self.base["model_version"], self.base["n_frames"], st.st_size, st.st_mtime_ns)
            return self.skip()  # same bytes, new stat
        kind = _kind(p)
        orig = self.db.find_analysed(sha, self.base["model_version"], self.base["n_frames"], exclude_path=p,
                                     kind=kind)
        if orig is not None:
            return self.record(_dup_row(p, st, sha, orig))
        if (sha, kind) in self.inflight_sha:
            self.waiting.setdefault((sha, kind), []).append((p, st))
            return None
        self.pool.submit(p, {"path": p, **task})
        self.inflight[p] = (st, sha, kind)
        self.inflight_sha[(sha, kind)] = p
        return None

    def collect(self) -> None:
        """Record the files the pool finished (one committed row each) and their waiting duplicates."""
        for p, res in self.pool.wait(timeout=0.5):
            st, sha, kind = self.inflight.pop(p)
            self.inflight_sha.pop((sha, kind), None)
            row = {**res, "path": p, "mtime_ns": st.st_mtime_ns}
            row.setdefault("size_bytes", st.st_size)
            if not row.get("sha256"):
                row["sha256"] = sha
            self.record(row)
            for p2, st2 in self.waiting.pop((sha, kind), []):
                self.record(_dup_row(p2, st2, sha, row))

    def close(self, t_start: float) -> None:
        """Stop the workers, close the bar, note the run's counts and close the database."""
        try:
            if self.pool is not None:
                self.pool.close()
            if self.bar is not None:
                self.bar.close()
            self.summary.seconds = time.perf_counter() - t_start
            if self.pool is not None and self.run_id is not None:
                self.db.finish_run(self.run_id, {k: v for k, v in self.summary.__dict__.items() if k != "db"})
        finally:
            self.db.close()


def scan(inputs, out: str | os.PathLike, model=None, n_frames: int = DEFAULT_FRAMES, workers: int | None = None,
         scheduler: str | None = None, retry_failed: bool = False, verify_hash: bool = False,
         timeout_s: float | None = None, max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
         tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER, progress: bool = True,
         command: str | None = None, log=None, flag_threshold: float | None = None,
         sampling: str | None = None) -> ScanSummary:
    """Scan ``inputs`` into the SQLite database ``out`` (see the module docstring).

    ``model`` is a :class:`detector.model.DetectorModel` loaded from a folder, or None
    (verdicts ``unscored``).  ``workers`` local processes (default one per core), or
    the Dask cluster at ``scheduler``; ``timeout_s``, ``max_memory_mb`` and
    ``tasks_per_worker`` limit local workers (:class:`~detector.scan.local_pool.LocalPool`).
    ``command`` is noted in the run's row; the progress bar goes to ``log`` (stderr).
    ``flag_threshold`` (``--flag-rate``): the verdict fake/real is decided at this
    threshold instead of the model's (:func:`detector.scan.worker.scan_file`); it is part
    of the setting, so files scanned at another threshold are analysed again.  ``sampling``: the
    frames sampled (None: the model's; another one than the model's is refused,
    :func:`detector.analysis.model_sampling`); one other than the default is part of the
    setting too.
    Returns counts; every file's outcome is in the database.
    """
    t_start = time.perf_counter()
    if n_frames < 1:
        raise ValueError("--frames must be >= 1")
    model_dir, model_sha, version = model_setting(model)
    sampling = model_sampling(model, sampling)
    if sampling != DEFAULT_SAMPLING:
        version += f"+sampling-{sampling}"
    if flag_threshold is not None:
        if model is None:
            raise ValueError("a flag threshold needs a model")
        version += f"+flag-threshold{float(flag_threshold)!r}"
    found = discover(inputs)
    summary = ScanSummary(total=len(found.paths) + len(found.missing), ignored=found.ignored, loops=found.loops,
                          model_version=version, db=str(out))
    run = _Run(ResultsDB(out), summary, n_frames, retry_failed)
    try:
        todo = run.plan(found.missing + found.paths, verify_hash)
        if progress:
            run.bar = tqdm(total=summary.total, initial=summary.skipped, unit="file", file=log or sys.stderr,
                           dynamic_ncols=True, smoothing=0.1, desc="scan")
        if not todo:
            return summary
        run.pool = DaskPool(scheduler, model=model) if scheduler else LocalPool(
            workers or default_workers(), tasks_per_worker=tasks_per_worker, timeout_s=timeout_s,
            max_memory_mb=max_memory_mb, model=model, model_key=(model_dir, model_sha))
        run.run_id = run.db.start_run(command or "scan", version, n_frames, run.pool.describe(),
                                      counts={"total": summary.total, "skipped": summary.skipped})
        run.execute(todo, {"n_frames": n_frames, "model_dir": model_dir, "model_sha": model_sha,
                           "flag_threshold": flag_threshold, "sampling": sampling})
        summary.workers_replaced = getattr(run.pool, "replaced", 0)
        return summary
    finally:
        run.close(t_start)
