"""The results database of a batch scan: one SQLite file, WAL mode, one row per file.

Only the scanning process (the parent, or the Dask client) writes it; workers
return plain dicts.  Every finished file is one transaction committed at once
(``synchronous=FULL``), so a crash or ``kill -9`` of the scan loses nothing
that was reported finished, and a half-written row never exists.

Table ``results`` (one row per path and analysis *setting*, i.e. model version +
frames sampled; ``UNIQUE(path, model_version, n_frames)`` makes a duplicated row
impossible, a re-analysis replaces the row and increments ``attempts``):

============== ===============================================================
path           absolute path as scanned (symlinks not resolved)
size_bytes     file size; ``mtime_ns`` its modification time (the stat
               fingerprint that lets a resume skip without re-hashing)
sha256         hex digest of the bytes the worker analysed
kind ...       video/image, width, height, fps, duration_s
verdict        fake | real | inconclusive (LR between 1/3 and 3) | no-face |
               unscored (no model) | NULL (failed)
score          SVM decision score (higher = more likely fake); ``threshold``
llr            log10 likelihood ratio of the score (manipulated vs genuine), NULL
               without a calibrated model
codec          the video's decoder (``h264``, ``hevc``, ``av1``...); ``caution``
               a flag when the model's card says its figures do not hold for that
               codec (:func:`detector.card.codec_flag`: "LRs misled on AV1",
               "codec not measured: HEVC (H.265)"), else NULL
n_faces        faces found in the sampled frames; ``n_tracks``, ``n_sampled``
t_*            seconds: probe (incl. hashing), decode, faces, features, total;
               ``t_wall`` the worker's wall time for the file
status         done | failed | duplicate
error          the one-line reason when failed
duplicate_of   path of the analysed file with the same SHA-256 (status
               duplicate, verdict copied; or failed when that file failed)
model_version  ``name@version+features<V>+<model sha256[:12]>`` or
               ``none+features<V>`` (no model: verdicts are ``unscored``)
worker, host   which worker process (pid or Dask address) and machine
finished_at    UTC time the row was committed; ``run_id`` the scan run
============== ===============================================================

Table ``runs``: one row per scan invocation (command, setting, workers, counts; while it
runs, ``counts`` holds the files found, ``{"total": N, "skipped": K}``, and ``finished_at``
is empty).

A column added to ``results`` after a database was made (``llr``, ``codec``, ``caution``) is added to it
(``ALTER TABLE ... ADD COLUMN``, empty for the rows already there) when it is opened for
writing; opened read-only, an older database simply lacks it.

File names that are not valid UTF-8 (``os.fsdecode`` gives them surrogate escapes,
which SQLite's text cannot hold) are stored in ``path`` and ``duplicate_of`` as a
BLOB of the name's bytes (``os.fsencode``); every other name is text, as always.  The
two never compare equal, and the row methods (:meth:`ResultsDB.index`, ``get``...)
give back the exact ``str`` (``os.fsdecode``), so a resume recognises every file.
Tables (:meth:`ResultsDB.frame`) and other text (an error quoting the name, the
command line) show such a name with ``\\xNN`` escapes (:func:`display_path`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

SCHEMA_VERSION = 1

#: Columns of ``results`` in order (id is implicit).
COLUMNS = (
    "path", "size_bytes", "mtime_ns", "sha256", "kind", "width", "height", "fps", "duration_s",
    "n_frames", "n_sampled", "verdict", "score", "threshold", "n_faces", "n_tracks",
    "t_probe", "t_decode", "t_faces", "t_features", "t_total", "t_wall",
    "status", "error", "duplicate_of", "model_version", "worker", "host", "finished_at", "run_id", "llr",
    "codec", "caution",
)
#: Columns of ``results`` added after the first schema, with their SQL types: added to an
#: older database when it is opened for writing (:func:`add_missing_columns`).
ADDED_COLUMNS = {"llr": "REAL", "codec": "TEXT", "caution": "TEXT"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL,
    size_bytes    INTEGER,
    mtime_ns      INTEGER,
    sha256        TEXT,
    kind          TEXT,
    width         INTEGER,
    height        INTEGER,
    fps           REAL,
    duration_s    REAL,
    n_frames      INTEGER NOT NULL,
    n_sampled     INTEGER,
    verdict       TEXT,
    score         REAL,
    threshold     REAL,
    n_faces       INTEGER,
    n_tracks      INTEGER,
    t_probe       REAL,
    t_decode      REAL,
    t_faces       REAL,
    t_features    REAL,
    t_total       REAL,
    t_wall        REAL,
    status        TEXT NOT NULL CHECK (status IN ('done', 'failed', 'duplicate')),
    error         TEXT,
    duplicate_of  TEXT,
    model_version TEXT NOT NULL,
    worker        TEXT,
    host          TEXT,
    finished_at   TEXT NOT NULL,
    run_id        INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 1,
    llr           REAL,
    codec         TEXT,
    caution       TEXT,
    UNIQUE (path, model_version, n_frames)
);
CREATE INDEX IF NOT EXISTS results_sha ON results (sha256, model_version, n_frames, status);
CREATE TABLE IF NOT EXISTS runs (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    command       TEXT,
    model_version TEXT,
    n_frames      INTEGER,
    workers       TEXT,
    host          TEXT,
    pid           INTEGER,
    counts        TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


#: Columns holding a file path (stored exactly, see the module docstring).
PATH_COLUMNS = ("path", "duplicate_of")


def display_path(path: str | bytes) -> str:
    """``path`` as text that can be printed, written to CSV/JSON or shown anywhere: the
    bytes of a name that is not valid UTF-8 as ``\\xNN`` escapes (``bad\\xff.mp4``)."""
    if isinstance(path, bytes):
        return path.decode("utf-8", "backslashreplace")
    if _is_text(path):
        return path
    raw = os.fsencode(path) if _fs_escaped(path) else path.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def display_paths(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its path columns (``path``, ``duplicate_of``; exact ``str``, or bytes
    as read straight from the database) as :func:`display_path` shows them."""
    out = df.copy()
    for c in PATH_COLUMNS:
        if c in out.columns:
            out[c] = out[c].map(lambda v: display_path(v) if isinstance(v, (str, bytes)) else v)
    return out


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _fs_escaped(s: str) -> bool:
    """Whether every surrogate in ``s`` is an ``os.fsdecode`` escape of one byte (U+DC80..U+DCFF)."""
    return all("\udc80" <= c <= "\udcff" for c in s if "\ud800" <= c <= "\udfff")


def _path_to_db(path: str | None) -> str | bytes | None:
    if path is None or _is_text(path):
        return path
    # a name read from disk: its exact bytes; any other string (not a possible name): shown as text
    return os.fsencode(path) if _fs_escaped(path) else display_path(path)


def _path_from_db(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _text_to_db(value):
    return display_path(value) if isinstance(value, str) else value


def _row(r: sqlite3.Row | None) -> dict | None:
    return None if r is None else {k: _path_from_db(r[k]) if k in PATH_COLUMNS else r[k] for k in r.keys()}


def add_missing_columns(conn: sqlite3.Connection) -> list[str]:
    """Add the :data:`ADDED_COLUMNS` an older ``results`` table lacks; returns their names."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(results)")}
    missing = [c for c in ADDED_COLUMNS if c not in have]
    for c in missing:  # names and types from the constant above, never from input
        conn.execute(f"ALTER TABLE results ADD COLUMN {c} {ADDED_COLUMNS[c]}")
    return missing


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ScanLockedError(Exception):
    """Another scan is writing the same results database."""


class ResultsDB:
    """The results database (see the module docstring).

    ``readonly=True`` opens an existing file for reading only (report, tests)."""

    def __init__(self, path: str | os.PathLike, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._lock_fd = None
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no results database at {self.path}")
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            self.conn.row_factory = sqlite3.Row
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a network file system without shared memory
            raise OSError(f"cannot put {self.path} in WAL mode (got {mode!r}); use a local disk for --out")
        self.conn.execute("PRAGMA synchronous=FULL")  # a committed row survives power loss too
        self.conn.executescript(_SCHEMA)
        add_missing_columns(self.conn)
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        v = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        if int(v) != SCHEMA_VERSION:
            raise ValueError(f"{self.path} has results schema {v}, this code writes {SCHEMA_VERSION}")

    def _lock(self) -> None:
        """One writer per database: an advisory lock on ``<db>.lock`` (released by the
        kernel when the process dies, so a killed scan never leaves a stale lock)."""
        import fcntl  # POSIX only: reading a database (report, dashboard) works without it

        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ScanLockedError(f"another scan is writing {self.path} (lock {self.path}.lock is held)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
        self._lock_fd = fd

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ---------------------------------------------------------------
    def index(self, model_version: str, n_frames: int) -> dict[str, dict]:
        """Existing rows of one setting by path: status, fingerprint and digest."""
        cur = self.conn.execute(
            "SELECT path, status, size_bytes, mtime_ns, sha256 FROM results WHERE model_version=? AND n_frames=?",
            (model_version, n_frames))
        return {_path_from_db(r["path"]): {**dict(r), "path": _path_from_db(r["path"])} for r in cur}

    def find_analysed(self, sha256: str, model_version: str, n_frames: int, exclude_path: str,
                      kind: str) -> dict | None:
        """A row of the same setting whose file, with this content read as ``kind``
        (``video`` or ``image``), was analysed (status done)."""
        r = self.conn.execute(
            "SELECT * FROM results WHERE sha256=? AND model_version=? AND n_frames=? AND status='done' AND path<>? "
            "AND kind=? ORDER BY id LIMIT 1",
            (sha256, model_version, n_frames, _path_to_db(exclude_path), kind)).fetchone()
        return _row(r)

    def get(self, path: str, model_version: str, n_frames: int) -> dict | None:
        r = self.conn.execute("SELECT * FROM results WHERE path=? AND model_version=? AND n_frames=?",
                              (_path_to_db(path), model_version, n_frames)).fetchone()
        return _row(r)

    def frame(self) -> pd.DataFrame:
        """All result rows as a pandas DataFrame, paths as :func:`display_path` shows them
        (pandas' text columns cannot hold the surrogate escapes of an exact name); the
        :data:`ADDED_COLUMNS` an older database lacks are there, empty."""
        df = display_paths(pd.read_sql_query("SELECT * FROM results ORDER BY id", self.conn))
        return df.assign(**{c: None for c in ADDED_COLUMNS if c not in df.columns})

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY id", self.conn)

    # -- writing (parent only) -------------------------------------------------
    def upsert(self, row: dict) -> None:
        """Insert or replace the row of (path, model_version, n_frames), committed at once."""
        values = {c: (_path_to_db if c in PATH_COLUMNS else _text_to_db)(row.get(c)) for c in COLUMNS}
        values["finished_at"] = values["finished_at"] or utc_now()
        cols = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        update = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS if c not in ("path", "model_version", "n_frames"))
        with self.conn:  # BEGIN ... COMMIT (rollback on error)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                f"INSERT INTO results ({cols}) VALUES ({marks}) "
                f"ON CONFLICT(path, model_version, n_frames) DO UPDATE SET {update}, attempts=attempts+1",
                [values[c] for c in COLUMNS])

    def touch(self, path: str, model_version: str, n_frames: int, size_bytes: int, mtime_ns: int) -> None:
        """Refresh the stat fingerprint of a row whose content was verified unchanged."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE results SET size_bytes=?, mtime_ns=? WHERE path=? AND model_version=? "
                              "AND n_frames=?", (size_bytes, mtime_ns, _path_to_db(path), model_version, n_frames))

    def start_run(self, command: str, model_version: str, n_frames: int, workers: str,
                  counts: dict | None = None) -> int:
        """A new row of ``runs``; ``counts`` (e.g. the files found) is readable while the run
        goes on, and replaced by the final counts at :meth:`finish_run`."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, command, model_version, n_frames, workers, host, pid, counts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), display_path(command), model_version, n_frames, workers, socket.gethostname(),
                 os.getpid(), None if counts is None else json.dumps(counts)))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, counts: dict) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE runs SET finished_at=?, counts=? WHERE id=?",
                              (utc_now(), json.dumps(counts), run_id))
