"""Frames per video, for training and for scanning: nested grouped CV over fold seeds.

    python benchmarks/frames.py --features features/ffpp16 features/ffpp32 features/ffpp64 \\
                                [--seeds 0,1,2,3,4] [--drop flick] [--columns SPEC] [--search compact]
                                [--jobs 2] [--out frames]

Each ``--features`` folder is an ``extract`` of the same manifest with another ``--frames``
(``deepfake-detector extract --manifest ../shared/data/manifest.csv --out features/ffppN
--frames N``).  For every folder and fold seed the nested CV of
:func:`detector.crossval.nested_cv` is run once on it (every choice inside the training
folds), and its out-of-fold models then score every folder with as many frames or fewer
(:func:`detector.crossval.rescore`): "train on 32, scan 16" is the 32-frame models scoring
the 16-frame features of their held-out videos.  Prints video AUC overall and face swap
(Deepfakes + FaceSwap) vs real at c23 per seed and their means; writes
``results/<out>.json``.  About 40 s per folder and seed on 2 cores with ``--jobs 2``.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import common  # noqa: F401  (pins the thread pools, puts the repository on sys.path)
from detector import evaluation as ev  # noqa: E402
from detector.extraction import aggregated_columns, features_frames, load_features  # noqa: E402
from detector.features import family_of  # noqa: E402
from detector.crossval import nested_cv, rescore, subset_aucs  # noqa: E402
from detector.metrics import as_binary, far_frr  # noqa: E402
from detector.search import SEARCH_CHOICES  # noqa: E402


def summary(scores: pd.DataFrame) -> dict:
    """Overall and face swap c23 AUC and EER, FAR / FRR at the folds' own thresholds."""
    s = scores[scores["score"].notna()]
    y = as_binary(s["label"])
    far, frr = far_frr(y, s["score"] - s["fold_threshold"], 0.0)
    sm, fs = ev.summarize(y, s["score"], n_boot=0), subset_aucs(s).get("face_swap_vs_real_c23", {})
    return {"auc": sm["auc"], "eer": sm["eer"], "auc_face_swap_c23": fs.get("auc"), "eer_face_swap_c23": fs.get("eer"),
            "far": far, "frr": frr, "n_unscored": int(scores["score"].isna().sum())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", nargs="+", required=True, help="extract folders of one manifest, other --frames")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--drop", nargs="*", default=["flick"], help="feature families left out (default: flick)")
    p.add_argument("--columns", default=None, metavar="SPEC",
                   help="the columns offered, as 'train --columns' (e.g. block-mean, the shipped model's); default all")
    p.add_argument("--search", choices=list(SEARCH_CHOICES), default="full",
                   help="the inner search space, as 'train --search' (auto: the shipped default model's)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="frames", help="results/<out>.json")
    a = p.parse_args(argv)
    n_jobs = max(1, a.jobs)
    seeds = [int(s) for s in a.seeds.split(",")]
    tables = {}
    for d in a.features:
        n = features_frames(d)
        if n is None:
            raise SystemExit(f"{d}: no extract.json saying how many frames were sampled")
        _, v = load_features(d)
        tables[n] = (d, v)
    order = sorted(tables)
    rows = []
    t0 = time.time()
    for n_train in order:
        d, v = tables[n_train]
        v = v[v["n_faces"] > 0].reset_index(drop=True)
        cols = common.select_columns([c for c in aggregated_columns(v) if family_of(c) not in set(a.drop)],
                                     a.columns)
        for seed in seeds:
            cv = nested_cv(v, cols, seed=seed, log=lambda *x: None, search=a.search, n_jobs=n_jobs)
            for n_eval in [m for m in order if m <= n_train]:
                scores = cv.scores if n_eval == n_train else rescore(cv, tables[n_eval][1], cols).scores
                rows.append({"train_frames": n_train, "scan_frames": n_eval, "seed": seed, **summary(scores)})
                r = rows[-1]
                print(f"train {n_train:3d} scan {n_eval:3d} seed {seed}: AUC {r['auc']:.3f}, "
                      f"face swap c23 {r['auc_face_swap_c23']:.3f} (EER {r['eer_face_swap_c23']:.3f})  ({time.time() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    agg = df.groupby(["train_frames", "scan_frames"]).agg(
        auc=("auc", lambda x: " / ".join(f"{v:.3f}" for v in x)), auc_mean=("auc", "mean"),
        face_swap_c23=("auc_face_swap_c23", lambda x: " / ".join(f"{v:.3f}" for v in x)),
        face_swap_c23_mean=("auc_face_swap_c23", "mean"), eer_mean=("eer", "mean"),
        face_swap_c23_eer_mean=("eer_face_swap_c23", "mean"), far_mean=("far", "mean"), frr_mean=("frr", "mean"))
    print(f"\nfold seeds {a.seeds}:")
    print(agg.reset_index().to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    common.write_json(a.out, {"features": {str(k): v[0] for k, v in tables.items()}, "seeds": seeds,
                              "drop": a.drop, "columns": a.columns, "search": a.search, "runs": rows,
                              "table": agg.reset_index().to_dict("records")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
