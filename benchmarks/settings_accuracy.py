"""Accuracy effect of the speed settings of ``throughput.py``, on grouped cross-validation.

    python benchmarks/settings_accuracy.py [--settings default w320] [--seeds 3] [--export]

For each decoding / detection setting, extracts the per-frame features of all videos
of ../shared/data/manifest.csv (16 sampled frames; cached outside the repository in
``$DEEPFAKE_BENCH_CACHE`` or ``~/.cache/deepfake-detector-bench``), then evaluates the
project's own protocol, :func:`detector.crossval.nested_cv` (group-aware folds, every
choice made inside the training part), on the per-video aggregate of the main track
with 16 frames and with 8 and 4 (every 2nd / 4th of the 16 sampled frames: a close
stand-in for sampling 8 or 4 frames, whose segment centres are a quarter segment away).
Reports out-of-fold AUC and EER (mean and spread over ``--seeds`` fold seeds), overall
and for face swap (Deepfakes + FaceSwap vs real).  Writes ``results/settings_accuracy.json``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import common  # noqa: F401  (pins threads first)
from common import CACHE, Clock, machine, manifest, variant, write_json

import numpy as np
import pandas as pd

from detector.datasets import STANDARD_COLUMNS
from detector.decode import DEFAULT_FRAMES

SETTINGS = {
    "default": ("project", None),  # as shipped: the project's decoder, detection at 640 px
    "windows": ("project", "windows"),  # whole-frame search every 4th sample, windows around the faces between
    "w320": ("project", 320),
    "w480": ("project", 480),
    "refine320": ("project", "refine320"),  # boxes at 320 px, then landmarks on each face's crop
    "gop": ("pyav_gop", None),  # other sampling: runs of reference frames from 2 GOP starts
    "gop_w320": ("pyav_gop", 320),
}
FACE_SWAP = ("Deepfakes", "FaceSwap")
#: The flicker family needs the frame after each sample, which the prototype decoders do
#: not give; it brought no gain (docs/experiments.md), so every setting is measured without it.
FAMILIES_NO_FLICKER = ("hf", "spec", "noise", "grad", "lbp", "block", "color", "iqm")


def extract(setting: str, m: pd.DataFrame, n_frames: int = DEFAULT_FRAMES) -> pd.DataFrame:
    """Per-frame feature table of every manifest video under ``setting`` (cached per video)."""
    from detector.analysis import analyze
    from detector.features import FEATURES_VERSION

    dec, width = SETTINGS[setting]
    folder = CACHE / "features" / f"v{FEATURES_VERSION}" / f"{setting}-f{n_frames}"
    folder.mkdir(parents=True, exist_ok=True)
    tables, cpu = [], 0.0
    for k, r in enumerate(m.itertuples()):
        f = folder / f"{r.sha256}.parquet"
        if not f.exists():
            with variant(dec, width), Clock() as c:
                try:
                    a = analyze(r.abs_path, model=None, n_frames=n_frames, families=FAMILIES_NO_FLICKER)
                    t = a.table.drop(columns=["box", "landmarks"], errors="ignore")
                except Exception as e:  # recorded as an empty table
                    print(f"  {r.path}: {e}", file=sys.stderr)
                    t = pd.DataFrame()
            cpu += c.cpu
            t.to_parquet(f, index=False)
            print(f"  [{setting}] {k + 1}/{len(m)} {r.path} {c.cpu:.2f} CPU s", flush=True)
        t = pd.read_parquet(f)
        if len(t):
            tables.append(t.assign(sha256=r.sha256))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def export(setting: str, frames: pd.DataFrame, m: pd.DataFrame, n_frames: int = DEFAULT_FRAMES) -> Path:
    """Write ``setting``'s features in the layout of ``deepfake-detector extract`` (so that
    ``benchmarks/accuracy.py --features DIR`` runs the shipped model's protocol on them)."""
    import json

    from detector.features import FEATURES_VERSION

    out = CACHE / "features" / f"v{FEATURES_VERSION}" / f"{setting}-f{n_frames}-export"
    out.mkdir(parents=True, exist_ok=True)
    meta = m[["sha256", *STANDARD_COLUMNS]]
    f = frames.merge(meta, on="sha256", how="inner")
    v = video_rows(frames, m).assign(n_faces=lambda d: d["path"].map(f.groupby("path").size()).fillna(0).astype(int),
                                     n_sampled=n_frames)
    f.to_parquet(out / "frames.parquet", index=False)
    v.to_parquet(out / "videos.parquet", index=False)
    (out / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": n_frames}))
    return out


def video_rows(frames: pd.DataFrame, m: pd.DataFrame, step: int = 1) -> pd.DataFrame:
    """Per-video aggregate of the main track, keeping every ``step``-th sampled frame."""
    from detector.features import aggregate

    rows = []
    for sha, g in frames.groupby("sha256", sort=False):
        kept = sorted(g["frame"].unique())[::step]
        g = g[g["frame"].isin(kept)]
        if not len(g):
            continue
        tid = g["track_id"].value_counts().idxmax()
        t = g[g["track_id"] == tid].sort_values("frame")
        rows.append({"sha256": sha, **aggregate(t)})
    feats = pd.DataFrame(rows)
    return m.merge(feats, on="sha256", how="inner")


def evaluate(videos: pd.DataFrame, seeds: int) -> dict:
    from detector.metrics import as_binary, eer
    from detector.crossval import nested_cv

    cols = [c for c in videos.columns if "__" in c and not c.startswith("flick_")]
    aucs, eers, fs_aucs = [], [], []
    for seed in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = nested_cv(videos, cols, seed=seed, quick=True, log=lambda *a: None)
        s = cv.scores
        y = as_binary(s["label"])
        aucs.append(float(_auc(y, s["score"].to_numpy())))
        eers.append(float(eer(y, s["score"].to_numpy())[0]))
        fs = s[(s["label"] == "real") | s["method"].isin(FACE_SWAP)]
        fs_aucs.append(float(_auc(as_binary(fs["label"]), fs["score"].to_numpy())))
    return {"n_videos": int(len(videos)), "auc_mean": float(np.mean(aucs)), "auc_sd": float(np.std(aucs)),
            "eer_mean": float(np.mean(eers)), "eer_sd": float(np.std(eers)),
            "face_swap_auc_mean": float(np.mean(fs_aucs)), "face_swap_auc_sd": float(np.std(fs_aucs)),
            "per_seed_auc": aucs}


def _auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, s)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--seeds", type=int, default=3, help="fold seeds of the nested CV (default 3)")
    ap.add_argument("--steps", nargs="+", type=int, default=[1, 2, 4], help=f"keep every k-th of the {DEFAULT_FRAMES} frames")
    ap.add_argument("--out", default="settings_accuracy", help="results/<OUT>.json (default settings_accuracy)")
    ap.add_argument("--limit", type=int, default=0, help="first N videos of the manifest only (smoke test)")
    ap.add_argument("--export", action="store_true",
                    help="also write each setting's features as a folder for accuracy.py "
                         "(<cache>/features/v<V>/<setting>-f16-export: frames.parquet, videos.parquet)")
    args = ap.parse_args(argv)
    m = manifest()
    if args.limit:
        m = m.sample(frac=1.0, random_state=0).head(args.limit)
    info = machine({"videos": len(m)})
    results = {}
    for setting in args.settings:
        frames = extract(setting, m)
        if args.export:
            print(f"  features for accuracy.py: {export(setting, frames, m)}", flush=True)
        for step in args.steps:
            key = f"{setting}/frames{DEFAULT_FRAMES // step}"
            res = evaluate(video_rows(frames, m, step), args.seeds)
            results[key] = res
            print(f"{key:24s} AUC {res['auc_mean']:.3f} ± {res['auc_sd']:.3f}  EER {res['eer_mean']:.3f}  "
                  f"face-swap AUC {res['face_swap_auc_mean']:.3f}  ({res['n_videos']} videos)", flush=True)
    write_json(args.out, {"command": "python benchmarks/settings_accuracy.py " + " ".join(argv or sys.argv[1:]),
                            "machine": info, "protocol": "detector.crossval.nested_cv(quick=True), 5 outer group "
                            "folds, out-of-fold scores; mean/sd over fold seeds", "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
