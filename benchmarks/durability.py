"""Durability: kill -9 a scan of 40 videos at random moments 10 times, resume each time.

    python benchmarks/durability.py [--videos 40] [--kills 10] [--frames 16] [--seed 0]

Runs ``python -m detector scan LIST.txt --out DB --workers 2`` as a subprocess (the list
holds 40 distinct 720p clips of ../shared/data), kills it with SIGKILL at a random moment
(uniform 0..``--max-extra`` s after that run committed its first row, so that every kill
lands mid-scan, with workers busy and commits going on), then starts it again (a resume),
10 times, then lets the last resume finish.
While each scan runs, a read-only connection polls the database and remembers every
row it saw committed, with its ``finished_at``.  Counted, over the whole run:

- lost: a row seen committed that is later missing or not ``done`` (target 0);
- duplicated: a path with more than one row, or a finished row analysed again
  (``finished_at`` or ``attempts`` changed) (target 0);
- orphans: worker processes still alive 3 s after their scan was killed (target 0).

Writes ``benchmarks/results/durability.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401
from common import REPO, machine, manifest, write_json
from detector.decode import DEFAULT_FRAMES  # noqa: E402


def read_rows(db: Path) -> dict:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as c:
            return {r[0]: (r[1], r[2], r[3]) for r in
                    c.execute("SELECT path, finished_at, status, attempts FROM results")}
    except sqlite3.Error:
        return {}


def children(pid: int) -> list[int]:
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except Exception:
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d.name))
                except (OSError, ValueError, IndexError):
                    pass
        return out


def alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-extra", type=float, default=8.0,
                    help="kill at a random moment 0..S seconds after the run's first committed row (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    m = manifest()
    h = m[m.width == 1280].sort_values("path").head(args.videos)
    info = machine({"videos": len(h), "kills": args.kills, "frames": args.frames, "workers": args.workers})
    print(f"{len(h)} videos, {args.kills} kills, load {info['loadavg_start'][0]:.2f}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="durability-"))
    lst, db = tmp / "videos.txt", tmp / "results.db"
    lst.write_text("".join(f"{p}\n" for p in h.abs_path))
    cmd = [sys.executable, "-m", "detector", "scan", str(lst), "--out", str(db), "--frames", str(args.frames),
           "--workers", str(args.workers), "--no-progress"] + (["--model", args.model] if args.model else [])
    seen: dict[str, tuple] = {}  # path -> (finished_at, status, attempts) first seen committed
    lost, changed, orphans, kills = set(), set(), 0, []
    t_all = time.perf_counter()

    def check(rows: dict) -> None:
        for p, first in seen.items():
            now = rows.get(p)
            if now is None or now[1] != "done" and first[1] == "done":
                lost.add(p)
            elif now[0] != first[0] or now[2] != first[2]:
                changed.add(p)
        for p, v in rows.items():
            seen.setdefault(p, v)

    for k in range(args.kills + 1):
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.perf_counter()
        extra = rng.uniform(0, args.max_extra) if k < args.kills else None
        start_rows, t_first = len(read_rows(db)), None
        workers = []
        while proc.poll() is None:
            time.sleep(0.05)
            rows_now = read_rows(db)
            check(rows_now)
            workers = children(proc.pid) or workers
            if t_first is None and len(rows_now) > start_rows:
                t_first = time.perf_counter()
            if extra is not None and t_first is not None and time.perf_counter() - t_first >= extra:
                break
        delay = extra
        before = len(read_rows(db))
        if proc.poll() is None and delay is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(3)
            left = [w for w in workers if alive(w)]
            orphans += len(left)
            for w in left:  # leave nothing behind even if the design failed
                os.kill(w, signal.SIGKILL)
            kills.append({"after_s": round(time.perf_counter() - t0 - 3, 2), "after_first_commit_s": round(extra, 2),
                          "rows_committed": before, "rows_this_run": before - start_rows, "orphans": len(left)})
            print(f"  kill {k + 1}: {kills[-1]['after_s']:.1f} s after start ({extra:.1f} s after its first commit), "
                  f"{before}/{len(h)} rows committed ({before - start_rows} in this run), orphan workers {len(left)}",
                  flush=True)
        else:
            proc.wait()
            if delay is not None:
                kills.append({"after_s": None, "rows_committed": before, "note": "scan finished before the kill"})
            print(f"  run {k + 1}: finished (exit {proc.returncode}), {before}/{len(h)} rows", flush=True)
        check(read_rows(db))
        if delay is not None and before >= len(h):
            break
    # the last run: finish whatever is left
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    rows = read_rows(db)
    check(rows)
    with sqlite3.connect(db) as c:
        dup_paths = c.execute("SELECT count(*) FROM (SELECT path FROM results GROUP BY path, model_version, n_frames "
                              "HAVING count(*) > 1)").fetchone()[0]
        status = dict(c.execute("SELECT status, count(*) FROM results GROUP BY status").fetchall())
        runs = c.execute("SELECT count(*) FROM runs").fetchone()[0]
        attempts = c.execute("SELECT count(*) FROM results WHERE attempts > 1").fetchone()[0]
    summary = {"videos": len(h), "kills": len([x for x in kills if x.get("after_s") is not None]),
               "rows_final": len(rows), "status_final": status, "runs_recorded": runs,
               "lost": len(lost), "duplicated": dup_paths + len(changed), "duplicate_rows": dup_paths,
               "finished_rows_reanalysed": len(changed), "rows_with_attempts_gt_1": attempts,
               "orphan_workers": orphans, "wall_s": time.perf_counter() - t_all, "final_exit": r.returncode,
               "targets": {"lost": 0, "duplicated": 0}}
    print(f"\nfinal: {len(rows)}/{len(h)} rows {status}; lost {summary['lost']}, duplicated {summary['duplicated']} "
          f"(duplicate rows {dup_paths}, finished rows analysed again {len(changed)}), orphan workers {orphans}; "
          f"{summary['wall_s']:.0f} s")
    write_json("durability", {
        "command": "python benchmarks/durability.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info, "summary": summary, "kills": kills, "lost_paths": sorted(lost),
        "reanalysed_paths": sorted(changed)})
    return 0 if summary["lost"] == 0 and summary["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
