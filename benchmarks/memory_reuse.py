"""Freed memory kept for reuse (:func:`detector.memory.keep_freed_memory`) against glibc's defaults.

    taskset -c 1 python benchmarks/memory_reuse.py [--clips 20] [--rounds 2] [--out memory_reuse]

Each round runs two fresh processes one after the other, in alternating order: one with
glibc's malloc as it starts, one that calls :func:`keep_freed_memory` first.  Each loads
the shipped model, analyses the first clip once to warm up, then every clip as the batch
scanner does (:func:`detector.analysis.analyze`, the model's families) and reports its CPU
seconds and minor page faults (``getrusage``) over those analyses, and its peak RSS.  The
clips are the 720p clips of ../shared/data (``--clips`` N of them, as ``throughput.py``).
Prints per round and the ratio of the medians (kept / default); writes
``benchmarks/results/<--out>.json``.  The scores of both must be identical.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import common  # noqa: F401  (pins threads first)
from common import REPO, clips_720p, machine, write_json

CHILD = r"""
import json, resource, sys, time
if sys.argv[1] == "kept":
    from detector.memory import keep_freed_memory
    assert keep_freed_memory()
from detector.analysis import analyze
from detector.model import load_model
paths = sys.argv[2:]
model = load_model()
analyze(paths[0], model=model, families="model")
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
scores = [analyze(p, model=model, families="model").score for p in paths]
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
print(json.dumps({"cpu_s": t1 - t0, "minor_faults": r1.ru_minflt - r0.ru_minflt,
                  "peak_rss_mb": r1.ru_maxrss / 1024, "scores": scores}))
"""


def run(mode: str, paths: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, *paths], cwd=REPO, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="memory_reuse")
    args = ap.parse_args(argv)
    paths = [str(p) for p in clips_720p(args.clips).abs_path]
    runs: dict[str, list[dict]] = {"default": [], "kept": []}
    for k in range(args.rounds):
        for mode in (("default", "kept") if k % 2 == 0 else ("kept", "default")):
            r = run(mode, paths)
            runs[mode].append(r)
            print(f"round {k + 1}, {mode:>7}: {r['cpu_s']:.2f} CPU s, {r['minor_faults']} minor page faults, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    same = all(r["scores"] == runs["default"][0]["scores"] for rs in runs.values() for r in rs)
    med = {m: statistics.median(r["cpu_s"] for r in rs) for m, rs in runs.items()}
    ratio = med["kept"] / med["default"]
    print(f"{len(paths)} clips: CPU kept / default {ratio:.3f} (medians {med['kept']:.2f} / {med['default']:.2f} s); "
          f"scores identical: {same}")
    write_json(args.out, {"command": "python benchmarks/memory_reuse.py " + " ".join(argv or sys.argv[1:]),
                          "machine": machine(), "clips": paths, "runs": runs, "cpu_ratio_kept_over_default": ratio,
                          "scores_identical": same})
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
