"""Fuzz: bad inputs and crafted model folders against ``inspect`` and ``scan``.

    python benchmarks/fuzz.py [--out DIR] [--jobs 2] [--timeout 120] [--kills 3] [--quick]

1. Generates the corpus (``fuzz_corpus.py``: 413 inputs of 11 kinds, 22 crafted model
   folders; ``--quick``: 38 and 7).
2. Runs ``python -m detector inspect FILE --json`` on every input, one process per file
   with a time limit; records the outcome (``scored`` exit 0, ``error`` a clean one-line
   ``error:``, ``traceback``, ``hang``, ``crash``), the peak RSS (``wait4``), and whether
   anything else reached stderr (``noisy``).
3. Runs ``inspect`` of a good clip with every crafted model folder (``--model``):
   ``refused`` (clean error), ``unverified`` (loaded, fingerprint not shipped),
   ``loaded``, ``traceback``; and whether the model's code ran (its marker file exists).
4. Scans the whole corpus (``scan --workers 2``), ``kill -9`` at ``--kills`` moments, resumes
   each time, and checks the database: one row per file, every failed row with a reason.

Prints a table of kinds x outcomes and the verdict against the limits (0 tracebacks,
0 hangs, 0 code executed, peak RSS <= 1 GB per file, one row per file), writes
``benchmarks/results/fuzz.json``; exit 1 when a limit is broken.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import common  # noqa: F401  (pins thread pools, puts the repository on sys.path)
from common import REPO, machine, write_json
from fuzz_corpus import MODEL_KINDS, PWNED, make_corpus, make_model_folders

from detector.scan import ResultsDB

#: Peak resident memory allowed per file (MB).
MAX_RSS_MB = 1024
#: Virtual memory cap of each child, so a runaway decode fails instead of swapping the machine.
AS_LIMIT = 12 << 30


@dataclass
class Outcome:
    """One run of the CLI on one input (or with one model folder)."""

    kind: str
    name: str
    outcome: str
    rc: int | None
    rss_mb: float
    seconds: float
    message: str
    noisy: bool
    shipped: bool = False  # a model was loaded and it is a shipped one
    code_ran: bool = False


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    os.setsid()


def run_cli(args: list, timeout: float) -> tuple[int | None, float, float, str, str]:
    """``python -m detector ARGS`` -> (exit code or None on timeout, peak RSS MB of that
    process, seconds, stdout, stderr).  A negative code is the signal that ended it."""
    t0 = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "detector", *args], stdout=out, stderr=err,
                                preexec_fn=_limit, env=env, cwd=str(REPO))
        rc, usage = None, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = rc if rc is not None else -9  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return (rc, usage.ru_maxrss / 1024, time.monotonic() - t0, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))


def classify(rc: int | None, stdout: str, stderr: str) -> tuple[str, str, bool]:
    """(outcome, message, noisy) of one CLI run."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if rc is None:
        return "hang", "", bool(lines)
    if "Traceback (most recent call last)" in stderr:
        return "traceback", lines[-1] if lines else "", True
    errors = [ln for ln in lines if ln.startswith("error: ")]
    other = [ln for ln in lines if not ln.startswith(("error: ", "note: "))]
    if rc == 0:
        try:
            json.loads(stdout)
            return "scored", "", bool(other)
        except ValueError:
            return "crash", "exit 0 without JSON", bool(other)
    if rc == 1 and len(errors) == 1:
        return "error", errors[0][len("error: "):], bool(other)
    return "crash", f"exit {rc}: {lines[-1] if lines else ''}", bool(other)


def inspect_one(kind: str, path: Path, timeout: float, model: Path | None = None) -> Outcome:
    args = ["inspect", os.fsencode(path), "--json", "--no-features"]
    if model is not None:
        args += ["--model", os.fsencode(model)]
    rc, rss, secs, out, err = run_cli(args, timeout)
    outcome, message, noisy = classify(rc, out, err)
    shipped = outcome == "scored" and bool(json.loads(out).get("model", {}).get("shipped"))
    return Outcome(kind, os.fsencode(path.name).decode("utf-8", "backslashreplace"), outcome, rc, round(rss, 1),
                   round(secs, 2), message[:200], noisy, shipped=shipped)


def model_outcome(kind: str, folder: Path, clip: Path, timeout: float) -> Outcome:
    o = inspect_one(kind, clip, timeout, model=folder)
    o.name = folder.name
    o.code_ran = (folder / PWNED).exists()
    if o.outcome == "error":
        o.outcome = "refused"
    elif o.outcome == "scored":
        o.outcome = "loaded" if o.shipped else "unverified"
    return o


# ----------------------------------------------------------------- scan with kills
def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def scan_with_kills(root: Path, db: Path, n_files: int, kills: int, timeout: float) -> dict:
    """Scan ``root`` into ``db``, SIGKILL the scan ``kills`` times at evenly spread row counts,
    resume; returns the database's counts after the last resume."""
    if db.exists():
        db.unlink()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "detector", "scan", str(root), "--out", str(db), "--workers", "2"]
    marks = [int(n_files * (k + 1) / (kills + 2)) for k in range(kills)]
    killed = []
    t0 = time.monotonic()
    for mark in [*marks, None]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=str(REPO),
                                start_new_session=True)
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            if mark is not None and _rows(db) >= mark:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed.append(_rows(db))
                break
            time.sleep(0.2)
        if proc.poll() is None:  # overall time limit
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"timed_out": True, "killed_at_rows": killed}
        err = proc.stderr.read().decode(errors="replace")
    with ResultsDB(db, readonly=True) as r:
        df = r.frame()
    failed = df[df["status"] == "failed"]
    return {"killed_at_rows": killed, "rows": len(df), "distinct_paths": int(df["path"].nunique()),
            "expected_files": n_files, "status": df["status"].value_counts().to_dict(),
            "failed_without_reason": int(failed["error"].fillna("").str.strip().eq("").sum()),
            "last_exit": proc.returncode, "last_stderr_tail": err.strip().splitlines()[-3:],
            "seconds": round(time.monotonic() - t0, 1)}


# ----------------------------------------------------------------- report
def table(outcomes: list[Outcome], columns: tuple[str, ...]) -> str:
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for o in outcomes:
        by_kind[o.kind][o.outcome] += 1
        by_kind[o.kind]["noisy"] += o.noisy
    width = max(len(k) for k in by_kind) + 2
    head = "kind".ljust(width) + "".join(c.rjust(11) for c in (*columns, "noisy", "max MB"))
    lines = [head, "-" * len(head)]
    for kind, counts in by_kind.items():
        rss = max(o.rss_mb for o in outcomes if o.kind == kind)
        lines.append(kind.ljust(width) + "".join(str(counts[c]).rjust(11) for c in (*columns, "noisy"))
                     + f"{rss:11.0f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "deepfake-fuzz"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per file")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a small subset of every kind")
    a = ap.parse_args()
    out = Path(a.out)
    corpus = make_corpus(out, quick=a.quick)
    models = make_model_folders(out, quick=a.quick)
    clip = next(p for k, p in corpus if k == "valid" and p.name == "real.mp4")
    print(f"corpus: {len(corpus)} inputs, {len(models)} model folders under {out}", flush=True)

    with ThreadPoolExecutor(a.jobs) as pool:
        inputs = list(pool.map(lambda kp: inspect_one(kp[0], kp[1], a.timeout), corpus))
        crafted = list(pool.map(lambda kf: model_outcome(kf[0], kf[1], clip, a.timeout), models))
    print(table(inputs, ("scored", "error", "traceback", "hang", "crash")), "\n")
    print(table(crafted, ("refused", "unverified", "loaded", "traceback", "crash")), "\n")
    scan = scan_with_kills(out / "inputs", out / "scan.db", len(corpus), a.kills, a.timeout * 20)
    print("scan:", json.dumps(scan))

    checks = {
        "tracebacks": sum(o.outcome == "traceback" for o in inputs + crafted),
        "hangs": sum(o.outcome == "hang" for o in inputs + crafted),
        "crashes": sum(o.outcome == "crash" for o in inputs + crafted),
        "code_executed": sum(o.code_ran for o in crafted),
        "model_not_as_expected": [o.name for o in crafted if o.outcome != _expected(o.kind)],
        "peak_rss_mb": max(o.rss_mb for o in inputs + crafted),
        "noisy_stderr": sum(o.noisy for o in inputs + crafted),
        "scan_one_row_per_file": scan.get("rows") == scan.get("expected_files") == scan.get("distinct_paths"),
        "scan_failed_without_reason": scan.get("failed_without_reason"),
    }
    ok = (checks["tracebacks"] == checks["hangs"] == checks["crashes"] == checks["code_executed"] == 0
          and not checks["model_not_as_expected"] and checks["peak_rss_mb"] <= MAX_RSS_MB
          and checks["scan_one_row_per_file"] and checks["scan_failed_without_reason"] == 0)
    print("checks:", json.dumps(checks), "->", "PASS" if ok else "FAIL")
    write_json("fuzz_quick" if a.quick else "fuzz", {
        "command": "python benchmarks/fuzz.py" + (" --quick" if a.quick else ""), "checks": checks, "pass": ok,
        "scan": scan, "inputs": [asdict(o) for o in inputs], "models": [asdict(o) for o in crafted],
        "machine": machine()})
    return 0 if ok else 1


def _expected(kind: str) -> str:
    return MODEL_KINDS[kind][1]


if __name__ == "__main__":
    sys.exit(main())
