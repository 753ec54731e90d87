"""Start-up of ``inspect`` (issue 24 item 3): its wall time, and where the time goes.

    python benchmarks/startup.py [--clip PATH] [--runs 5] [--against DIR ...]

``--runs`` fresh ``python -m detector inspect CLIP`` runs (no report, as
``throughput.py --inspect-runs``) in this checkout and in each ``--against`` checkout (another
version of the code, e.g. ``git archive main | tar -x -C /tmp/before``), alternated run by run
so that every version sees the same machine load; their median wall time.  Then, once per
checkout, the breakdown of one fresh process run serially: ``import detector.cli``,
``load_model()``, and ``inspect --json`` (its wall time and the analysis' stage timings:
decode, faces, features, score; in a checkout that loads the model in the background, the
model load overlaps the analysis inside it, and the time inspect then waited for the model).
The load average is printed before and after.  ``inspect`` uses those threads only when the
process may run on more than one core: under ``taskset -c 1`` it runs serially.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The benchmark clip of issue 24: 10 s of 1280x720 at 30 fps (the 720p clip closest to 10 s).
CLIP = REPO.parent / "shared" / "data" / "videos" / "ffpp" / "Deepfakes_c23" / "263_284.mp4"

#: Run in a fresh interpreter in a checkout: the serial breakdown, printed as JSON.
_BREAKDOWN = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
import detector.cli
t1 = time.perf_counter()
from detector.model import load_model
load_model()
t2 = time.perf_counter()
waited = []
try:  # a checkout that loads the model in the background: how long inspect waits for it
    from detector.preload import PendingModel
    result = PendingModel.result
    def timed(self):
        t = time.perf_counter()
        try:
            return result(self)
        finally:
            waited.append(time.perf_counter() - t)
    PendingModel.result = timed
except ImportError:
    pass
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = detector.cli.main(["inspect", "--json", sys.argv[1]])
t3 = time.perf_counter()
d = json.loads(out.getvalue())
print(json.dumps({"import_cli": t1 - t0, "load_model": t2 - t1, "inspect_json": t3 - t2, "rc": rc,
                  "stages": d["timings_s"], "score": d["score"], "model_wait": waited[0] if waited else None}))
"""


def inspect_wall(tree: Path, clip: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh ``python -m detector inspect CLIP`` in ``tree``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "detector", "inspect", clip], cwd=tree, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def breakdown(tree: Path, clip: str) -> dict:
    """:data:`_BREAKDOWN` run once in ``tree``."""
    r = subprocess.run([sys.executable, "-c", _BREAKDOWN, clip], cwd=tree, check=True, capture_output=True,
                       text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default=str(CLIP))
    ap.add_argument("--runs", type=int, default=5, help="fresh runs per checkout (default %(default)s)")
    ap.add_argument("--against", nargs="*", default=[], metavar="DIR", help="other checkouts, timed alternately")
    args = ap.parse_args(argv)
    trees = [REPO, *[Path(d).resolve() for d in args.against]]
    print(f"clip {args.clip}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    for t in trees:  # byte-compiled as installed (see common.compile_package: PYTHONDONTWRITEBYTECODE)
        compileall.compile_dir(str(t / "detector"), quiet=1)
    runs: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    for _ in range(args.runs):
        for t in trees:
            runs[t].append(inspect_wall(t, args.clip))
    for t in trees:
        b = breakdown(t, args.clip)
        st = b["stages"]
        walls, cpus = [w for w, _ in runs[t]], [c for _, c in runs[t]]
        print(f"{t}: inspect wall median {statistics.median(walls):.2f} s ({', '.join(f'{w:.2f}' for w in walls)}); "
              f"CPU median {statistics.median(cpus):.2f} s (the inspect process alone, not its scoring child)", flush=True)
        print(f"  serial breakdown: import detector.cli {b['import_cli']:.2f} s, load_model() {b['load_model']:.2f} s, "
              f"inspect --json {b['inspect_json']:.2f} s (decode {st['decode']:.2f}, faces {st['faces']:.2f}, "
              f"features {st['features']:.2f}, score {st['score']:.2f}"
              + ("" if b["model_wait"] is None else f"; waited {b['model_wait']:.2f} s for the model")
              + f"); score {b['score']}", flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
