"""Scans started from the dashboard: one background ``deepfake-detector scan`` per folder.

A scan of a folder runs as its own process (``python -m detector scan FOLDER --out DB``,
in a new session: a Streamlit rerun, a browser reload or a closed tab does not stop it)
and writes its results database and log under the state folder
(:func:`detector.dashboard.roots.state_dir`)::

    <state>/scans/<folder name>-<hash of the folder>/
        scan.db      the scanner's results database (resumable: a new start resumes it)
        scan.log     the scanner's messages
        job.json     the folder, the command, the process id (the pid file)
        launch.lock  held while a start is decided, so two visitors never start two scans

One scan per database: :func:`start_scan` joins the running scan of the folder (its
recorded process is alive and is that scan) instead of starting a second one; a
recorded process that has ended (or whose id now belongs to another program) is stale
and a new scan starts.  Progress (:func:`scan_progress`) is read from the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..decode import DEFAULT_FRAMES
from ..scan.db import utc_now
from .batch import read_sqlite
from .roots import check_under_roots

SCANS_DIR, DB_NAME, LOG_NAME, JOB_FILE, LAUNCH_LOCK = "scans", "scan.db", "scan.log", "job.json", "launch.lock"
#: The folder holding this ``detector`` package: put first on the scan process's import path,
#: so the background scan runs the same code as the dashboard.
CODE_ROOT = Path(__file__).resolve().parents[2]
#: Seconds :func:`start_scan` waits at most for a started scan's program to be loaded (it takes milliseconds).
EXEC_WAIT_S = 10.0


class ScanStartError(RuntimeError):
    """A scan that cannot start (one-line message)."""


@dataclass(frozen=True)
class ScanJob:
    """A scan started from the dashboard, as recorded in its ``job.json``."""

    folder: str
    dir: str
    pid: int
    started_at: str
    command: list[str]

    @property
    def db(self) -> Path:
        return Path(self.dir) / DB_NAME

    @property
    def log(self) -> Path:
        return Path(self.dir) / LOG_NAME


@dataclass(frozen=True)
class ScanProgress:
    """How far a scan's database has got.

    ``done``: rows of the latest run's setting (files finished, failed or found
    duplicate, earlier runs included); ``total``: files the latest run found (None before
    it has counted them); ``finished``: the latest run has recorded its end.
    """

    done: int
    total: int | None
    finished: bool


def job_dir(state: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """The folder of the scan of ``folder`` (resolved) under the state folder ``state``."""
    folder = str(folder)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(folder).name)[:40] or "root"
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:12]
    return Path(state) / SCANS_DIR / f"{name}-{digest}"


def read_job(folder: str | os.PathLike) -> ScanJob | None:
    """The job recorded in a scan folder, or None (none, or unreadable)."""
    try:
        data = json.loads((Path(folder) / JOB_FILE).read_text())
        return ScanJob(**{k: data[k] for k in ("folder", "dir", "pid", "started_at", "command")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_jobs(state: str | os.PathLike) -> list[ScanJob]:
    """Every scan recorded under the state folder, the latest started first."""
    base = Path(state) / SCANS_DIR
    jobs = [j for d in (sorted(base.iterdir()) if base.is_dir() else []) if (j := read_job(d)) is not None]
    return sorted(jobs, key=lambda j: j.started_at, reverse=True)


def _proc_cmdline(pid: int) -> list[str] | None:
    """The command line of a live process (None when it has ended or is a zombie); Linux ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [os.fsdecode(a) for a in f.read().split(b"\0") if a]
    except (OSError, IndexError):
        return None


def is_running(job: ScanJob) -> bool:
    """Whether the job's process is alive and is that scan (a reused process id is not)."""
    if job.pid <= 0:
        return False
    try:
        ended, _ = os.waitpid(job.pid, os.WNOHANG)  # started by this process: reap it once it has ended
        if ended:
            return False
    except ChildProcessError:  # started by another process (e.g. before a restart of the dashboard)
        pass
    cmd = _proc_cmdline(job.pid)
    return cmd is not None and str(job.db) in cmd


def folder_to_offer(jobs: list[ScanJob], roots) -> str:
    """The folder a visitor is offered to scan: that of the latest started scan still
    running (starting it joins it), else the first of the operator's ``roots``."""
    running = [j.folder for j in jobs if is_running(j)]
    return running[0] if running else str(roots[0])


def scan_command(folder: str | os.PathLike, db: str | os.PathLike, model_dir: str | os.PathLike | None = None,
                 n_frames: int = DEFAULT_FRAMES, workers: int | None = None) -> list[str]:
    """The ``deepfake-detector scan`` command line of a background scan."""
    cmd = [sys.executable, "-m", "detector", "scan", str(folder), "--out", str(db), "--no-progress",
           "--frames", str(int(n_frames))]
    if model_dir is not None:
        cmd += ["--model", str(Path(model_dir).expanduser().resolve())]  # the scan runs in its own folder
    if workers is not None:
        cmd += ["--workers", str(int(workers))]
    return cmd


def _database_free(db: Path) -> bool:
    """Whether no process holds the scanner's write lock on ``db`` (``<db>.lock``)."""
    import fcntl  # POSIX only, like the scanner's lock: listing and reading scans works without it

    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the lock taken for the test


def _wait_for_program(proc: subprocess.Popen, db: Path) -> None:
    """Return once the started scan's command line is readable in ``/proc`` (or it has ended).

    ``Popen`` returns as soon as the kernel has begun to replace the forked process by the
    program, but Linux shows the program's arguments (``/proc/<pid>/cmdline``, what
    :func:`is_running` checks) only once it has finished loading it: in between the command
    line reads empty (milliseconds under load).  A pid published then would make a scan that
    has just started look ended: a restart the dashboard reports stopped at once, a second
    visitor starting a second scan.  Waits at most :data:`EXEC_WAIT_S`.
    """
    deadline = time.monotonic() + EXEC_WAIT_S
    while proc.poll() is None and str(db) not in (_proc_cmdline(proc.pid) or ()) and time.monotonic() < deadline:
        time.sleep(0.001)


def _launch(folder: Path, d: Path, command: list[str]) -> ScanJob:
    """Start the scan process (new session, output to the log) and write its ``job.json``
    once :func:`is_running` can recognise the process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(CODE_ROOT), os.environ.get("PYTHONPATH"))
                                                       if p)}
    with open(d / LOG_NAME, "ab") as log:
        log.write(f"--- {utc_now()} {' '.join(command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=d, env=env, start_new_session=True)
    job = ScanJob(str(folder), str(d), proc.pid, utc_now(), command)
    _wait_for_program(proc, job.db)
    tmp = d / f".{JOB_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(asdict(job), indent=1))
    os.replace(tmp, d / JOB_FILE)
    return job


def start_scan(folder: str | os.PathLike, roots, state: str | os.PathLike, model_dir: str | os.PathLike | None = None,
               n_frames: int = DEFAULT_FRAMES, workers: int | None = None) -> tuple[ScanJob, bool]:
    """Start a background scan of ``folder``, or join the one already running.

    Parameters
    ----------
    folder : str or PathLike
        A folder inside the operator's ``roots`` (:func:`~detector.dashboard.roots.check_under_roots`).
    roots : sequence of Path
        The operator's roots (:func:`~detector.dashboard.roots.configured_roots`).
    state : str or PathLike
        The state folder (:func:`~detector.dashboard.roots.state_dir`).
    model_dir, n_frames, workers
        Passed to ``deepfake-detector scan`` (``--model``, ``--frames``, ``--workers``).

    Returns
    -------
    (ScanJob, bool)
        The scan, and True when this call started it (False: it was already running).

    Raises
    ------
    RootError
        ``folder`` outside the roots, or no roots.
    ScanStartError
        ``folder`` is not a folder, or another program is writing the database.
    """
    resolved = check_under_roots(folder, roots)
    if not resolved.is_dir():
        raise ScanStartError(f"{resolved} is not a folder on this server")
    import fcntl  # POSIX only (see _database_free)

    d = job_dir(Path(state).expanduser().resolve(), resolved)  # absolute: the scan runs in it
    d.mkdir(parents=True, exist_ok=True)
    lock = os.open(d / LAUNCH_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second visitor waits here, then finds the scan running
        job = read_job(d)
        if job is not None and is_running(job):
            return job, False
        if not _database_free(d / DB_NAME):
            raise ScanStartError(f"another program is writing {d / DB_NAME} (a scan not started from here)")
        return _launch(resolved, d, scan_command(resolved, d / DB_NAME, model_dir, n_frames, workers)), True
    finally:
        os.close(lock)


def stop_scan(job: ScanJob, timeout_s: float = 10.0) -> bool:
    """Stop a running scan (SIGTERM to its process group, SIGKILL after ``timeout_s``) and
    wait until its database is free; True when it was running.  What it finished stays in
    the database; a new start resumes."""
    if not is_running(job):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(job.pid, sig)  # the scan and its workers: started in a session of their own
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not is_running(job) and _database_free(job.db):  # an exiting process still holds the lock
                return True
            time.sleep(0.1)
    return True


def scan_progress(db: str | os.PathLike) -> ScanProgress:
    """How far the scan writing ``db`` has got (zeros before the database and its tables exist)."""
    try:
        return _read_progress(db) if Path(db).is_file() else ScanProgress(0, None, False)
    except (sqlite3.Error, pd.errors.DatabaseError):  # created, its tables not yet
        return ScanProgress(0, None, False)


def _read_progress(db: str | os.PathLike) -> ScanProgress:
    runs = read_sqlite(db, "SELECT model_version, n_frames, counts, finished_at FROM runs ORDER BY id DESC LIMIT 1")
    if not len(runs):
        n = read_sqlite(db, "SELECT COUNT(*) AS n FROM results")["n"].iloc[0]
        return ScanProgress(int(n), None, False)
    last = runs.iloc[0]
    n = read_sqlite(db, "SELECT COUNT(*) AS n FROM results WHERE model_version=? AND n_frames=?",
                    (last["model_version"], int(last["n_frames"])))["n"].iloc[0]
    try:
        total = json.loads(last["counts"] or "{}").get("total")
    except (TypeError, ValueError):
        total = None
    return ScanProgress(int(n), None if total is None else int(total), bool(last["finished_at"]))


def log_tail(job: ScanJob, lines: int = 3) -> str:
    """The last ``lines`` lines of the scan's log ('' when it has none)."""
    try:
        with open(job.log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def progress_text(progress: ScanProgress, running: bool) -> str:
    """One line for the progress bar: files done of files found, and the scan's state."""
    if progress.total is None:
        return f"{progress.done:,} files done; looking for files…" if running else \
            f"{progress.done:,} files in the database"
    state = "running" if running else "finished" if progress.finished else "stopped (start it again to resume)"
    return f"{min(progress.done, progress.total):,} of {progress.total:,} files done: {state}"


def progress_fraction(progress: ScanProgress) -> float:
    """Files done over files found, in [0, 1] (0 before they are counted)."""
    return min(progress.done / progress.total, 1.0) if progress.total else 0.0
