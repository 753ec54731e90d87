"""Feature speed: this checkout's ``detector/features.py`` against the one of a git revision,
side by side in one process, on the same clips, with the same values.

    taskset -c 1 python benchmarks/features_speed.py [--clips 6] [--ref main] [--out features_speed]

The reference is ``detector/features.py`` as committed at ``--ref`` (``git show``), loaded as
a module next to this checkout's (its relative imports resolve to this checkout's other
modules), and swapped in for :func:`detector.analysis.face_features` for the "before" runs:
everything else (decoding, faces, scoring) is the same code.  For each 720p clip of
../shared/data (:func:`common.clips_720p`) and each family setting (``all``: as ``inspect``
runs it; ``model``: the families the shipped model reads, as the batch scanner runs it),
:func:`detector.analysis.analyze` runs with the reference and then with this checkout's
features, alternately, so that both see the same machine load.

Prints per clip the CPU seconds of the whole analysis (``time.process_time``) and of its
feature stage (``Analysis.timings["features"]``, wall time of one thread) before / after and
their ratios, and the largest absolute difference, over every feature column and face,
between the two per-face tables (NaN where both are NaN counts as equal; a NaN on one side
only is reported as ``inf``), and per setting every column whose values differ with its
largest |difference|.  Writes ``benchmarks/results/<out>.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess

import common  # noqa: F401  (pins threads first)
from common import REPO, Clock, clips_720p, machine, write_json

import numpy as np

import detector.analysis as analysis
from detector.features import feature_columns
from detector.model import load_model


def reference_features(rev: str):
    """``detector/features.py`` at git revision ``rev`` as a module (``detector._features_ref``)."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:detector/features.py"], check=True,
                         capture_output=True, text=True).stdout
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("detector._features_ref", loader=None))
    mod.__package__ = "detector"
    exec(compile(src, f"{rev}:detector/features.py", "exec"), mod.__dict__)  # noqa: S102
    return mod


def column_diffs(a, b) -> dict[str, float]:
    """Largest |a - b| per feature column of two per-face tables of the same faces (only the
    columns that differ; ``{"*": inf}`` when the tables do not hold the same faces and columns)."""
    cols = feature_columns(a)
    if list(a["frame"]) != list(b["frame"]) or cols != feature_columns(b):
        return {"*": float("inf")}
    x, y = a[cols].to_numpy(float), b[cols].to_numpy(float)
    both_nan = np.isnan(x) & np.isnan(y)
    d = np.nan_to_num(np.abs(np.where(both_nan, 0.0, x) - np.where(both_nan, 0.0, y)), nan=np.inf)
    worst = d.max(axis=0) if len(d) else np.zeros(len(cols))
    return {c: float(v) for c, v in zip(cols, worst) if v > 0}


def run(path, families, face_features):
    analysis.face_features = face_features
    with Clock() as c:
        a = analysis.analyze(path, families=families)
    return c.cpu, a.timings["features"], a.table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--ref", default="main", help="git revision of the reference detector/features.py")
    ap.add_argument("--out", default="features_speed")
    args = ap.parse_args(argv)
    settings = {"all": "all", "model": tuple(load_model().families)}
    ref_rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.ref], check=True,
                             capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    new = analysis.face_features
    old = reference_features(args.ref).face_features
    clips = clips_720p(args.clips)
    analysis.analyze(clips.abs_path[0], families="all")  # warm-up: imports, the face detector's model
    rows = []
    print(f"reference {args.ref} ({ref_rev}) vs this checkout (HEAD {head} + working tree), one thread")
    print(f"{'clip':42s} {'families':8s} {'cpu before':>10s} {'after':>7s} {'ratio':>6s} "
          f"{'feat before':>11s} {'after':>7s} {'ratio':>6s} {'max |diff|':>10s}")
    for clip in clips.itertuples():
        for name, fams in settings.items():
            cpu0, f0, t0 = run(clip.abs_path, fams, old)
            cpu1, f1, t1 = run(clip.abs_path, fams, new)
            diffs = column_diffs(t0, t1)
            r = {"clip": clip.path, "families": name, "faces": len(t1), "cpu_before_s": cpu0, "cpu_after_s": cpu1,
                 "cpu_ratio": cpu1 / cpu0, "features_before_s": f0, "features_after_s": f1,
                 "features_ratio": f1 / f0, "max_abs_diff": max(diffs.values(), default=0.0), "column_diffs": diffs}
            rows.append(r)
            print(f"{clip.path[12:54]:42s} {name:8s} {cpu0:10.2f} {cpu1:7.2f} {r['cpu_ratio']:6.2f} "
                  f"{f0:11.2f} {f1:7.2f} {r['features_ratio']:6.2f} {r['max_abs_diff']:10.2g}")
    summary = {}
    for name, fams in settings.items():
        sel = [r for r in rows if r["families"] == name]
        summary[name] = {k: float(np.median([r[k] for r in sel])) for k in
                         ("cpu_before_s", "cpu_after_s", "cpu_ratio", "features_before_s", "features_after_s",
                          "features_ratio")}
        summary[name]["families"] = fams
        summary[name]["max_abs_diff"] = max(r["max_abs_diff"] for r in sel)
        summary[name]["column_diffs"] = {c: max(r["column_diffs"].get(c, 0.0) for r in sel)
                                         for c in sorted({c for r in sel for c in r["column_diffs"]})}
        s = summary[name]
        print(f"median over {len(sel)} clips, {name}: CPU {s['cpu_before_s']:.2f} -> {s['cpu_after_s']:.2f} s "
              f"(x{s['cpu_ratio']:.2f}), features {s['features_before_s']:.2f} -> {s['features_after_s']:.2f} s "
              f"(x{s['features_ratio']:.2f}); max |diff| over all: {s['max_abs_diff']:.3g}")
        for c, v in s["column_diffs"].items():
            print(f"    {c}: max |diff| {v:.3g}")
    write_json(args.out, {"ref": args.ref, "ref_commit": ref_rev, "head": head, "clips": len(clips),
                          "summary": summary, "rows": rows, "machine": machine()})


if __name__ == "__main__":
    main()
