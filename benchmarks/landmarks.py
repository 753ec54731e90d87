"""The ``lmk`` family (dense-landmark pose and kinematics) against re-encoding (issue 22).

    nice -n 10 python benchmarks/landmarks.py --part prepare   # copies + features, resumable (~1 h on a busy machine)
    python benchmarks/landmarks.py --part measure              # nested CV, 5 fold seeds (~3 min)

Data: the videos of ../shared/data/manifest.csv.  Everything derived goes under
``$DEEPFAKE_LMK_ROOT`` (default /work/cache/lmk), never into the repository:

- ``videos/crf23/``: the first 120 frames of every video re-encoded with PyAV / libx264,
  preset veryfast, CRF 23, yuv420p, full size (:func:`detector.degrade.make_degraded`);
- ``feats_orig``, ``feats_crf23``: ``extract --families block,lmk --frames 16`` of the
  original files (16 frames over the whole video) and of the copies (16 frames over their
  120), one worker process.

Protocol (per fold seed 0-4): grouped 5-fold CV of the original videos (StratifiedGroupKFold
by ``group``); in each training part a grid search of C and gamma of an RBF SVC on the
standardised track-mean columns (median imputation), its inner CV grouped 4-fold; the
chosen model scores the held-out videos' original files and their CRF 23 copies.  Trained
on originals only, and on originals plus the CRF 23 copies of the training videos (a copy
is never in training when its source is held out).  AUC of the pooled out-of-fold scores,
all videos and face swap (Deepfakes + FaceSwap against genuine).  Column sets: ``lmk``,
``block`` (the shipped models' family, for comparison in the same harness), ``block+lmk``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (pins thread pools before numpy/cv2 load)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from detector import evaluation as ev  # noqa: E402
from detector.datasets import read_manifest  # noqa: E402
from detector.degrade import PROFILES, make_degraded  # noqa: E402
from detector.extraction import extract, load_features  # noqa: E402
from detector.crossval import auc  # noqa: E402
from detector.metrics import as_binary  # noqa: E402

ROOT = Path(os.environ.get("DEEPFAKE_LMK_ROOT", "/work/cache/lmk"))
CONDITION = {"crf23": PROFILES["crf23"]}
FAMILIES = ("block", "lmk")
N_FRAMES = 16
SEEDS = (0, 1, 2, 3, 4)
COLUMN_SETS = {"lmk": ("lmk",), "block": ("block",), "block+lmk": ("block", "lmk")}
FACE_SWAP = ("Deepfakes", "FaceSwap")
GRID = {"svc__C": [0.1, 1.0, 10.0, 100.0], "svc__gamma": [0.01, 0.03, 0.1, 0.3]}


def prepare(workers: int) -> None:
    m = read_manifest(common.SHARED / "manifest.csv")
    t = time.time()
    copies = make_degraded(m, ROOT / "videos", conditions=CONDITION, workers=workers)
    print(f"{len(copies)} CRF 23 copies ({time.time() - t:.0f} s)", flush=True)
    for name, man in (("orig", m), ("crf23", copies)):
        t = time.time()
        _, v = extract(man, ROOT / f"feats_{name}", n_frames=N_FRAMES, workers=workers, families=FAMILIES)
        print(f"features {name}: {len(v)} videos ({time.time() - t:.0f} s)", flush=True)


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(originals, copies indexed by their source's abs_path), videos with a face only."""
    _, orig = load_features(ROOT / "feats_orig")
    _, crf = load_features(ROOT / "feats_crf23")
    crf = crf.merge(pd.read_csv(ROOT / "videos" / "manifest.csv")[["path", "source_path"]], on="path", how="left")
    orig = orig[orig["n_faces"] > 0].reset_index(drop=True)
    crf = crf[crf["n_faces"] > 0].set_index("source_path")
    return orig, crf


def columns(videos: pd.DataFrame, families: tuple[str, ...]) -> list[str]:
    return [c for c in videos.columns if c.endswith("__mean") and c.split("_", 1)[0] in families]


def search(train: pd.DataFrame, cols: list[str], seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = train[cols].to_numpy(float), as_binary(train["label"])
    inner = ev.grouped_folds(train["group"].astype(str).to_numpy(), y, n_splits=4, seed=seed)
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("svc", SVC(kernel="rbf", class_weight="balanced"))])
    gs = GridSearchCV(pipe, GRID, scoring="roc_auc", cv=inner, n_jobs=1, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gs.fit(x, y)


def out_of_fold(orig: pd.DataFrame, crf: pd.DataFrame, cols: list[str], seed: int, augment: bool) -> pd.DataFrame:
    """Out-of-fold scores of every held-out original and its copy (``condition`` column)."""
    y = as_binary(orig["label"])
    rows = []
    meta = ["label", "group", "method"]
    for k, (tr, te) in enumerate(ev.grouped_folds(orig["group"].astype(str).to_numpy(), y, n_splits=5, seed=seed)):
        train = orig.iloc[tr]
        if augment:
            cp = crf.reindex(train["abs_path"]).dropna(subset=["n_faces"])
            cp = cp.assign(**{c: train.set_index("abs_path").loc[cp.index, c].to_numpy() for c in meta})
            train = pd.concat([train, cp.reset_index(drop=True)], ignore_index=True)
        gs = search(train, cols, seed + 1 + k)
        test = orig.iloc[te]
        rows.append(test[meta].assign(condition="orig", score=gs.decision_function(test[cols].to_numpy(float))))
        cp = crf.reindex(test["abs_path"]).dropna(subset=["n_faces"])
        cp = cp.assign(**{c: test.set_index("abs_path").loc[cp.index, c].to_numpy() for c in meta})
        rows.append(cp[meta].assign(condition="crf23", score=gs.decision_function(cp[cols].to_numpy(float))))
    return pd.concat(rows, ignore_index=True)


def measure(seeds=SEEDS) -> list[dict]:
    orig, crf = load()
    print(f"{len(orig)} original videos with a face, {len(crf)} copies with a face", flush=True)
    table = []
    for set_name, fams in COLUMN_SETS.items():
        cols = columns(orig, fams)
        for augment in (False, True):
            for seed in seeds:
                s = out_of_fold(orig, crf, cols, seed, augment)
                for cond, d in s.groupby("condition"):
                    fs = d["method"].isin(FACE_SWAP) | (d["label"] == "real")
                    table.append({"columns": set_name, "n_columns": len(cols),
                                  "training": "orig+crf23" if augment else "orig", "seed": seed, "test": cond,
                                  "n": len(d), "auc": auc(d["label"], d["score"]),
                                  "face_swap_auc": auc(d.loc[fs, "label"], d.loc[fs, "score"])})
            print(pd.DataFrame(table[-2 * len(seeds):]).groupby(["columns", "training", "test"])[["auc", "face_swap_auc"]]
                  .mean().round(3).to_string(), flush=True)
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["prepare", "measure"], required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    a = ap.parse_args(argv)
    if a.part == "prepare":
        prepare(a.workers)
        return 0
    table = measure(tuple(a.seeds))
    d = pd.DataFrame(table)
    summary = d.groupby(["columns", "training", "test"])[["auc", "face_swap_auc", "n"]].mean().round(3)
    print(summary.to_string())
    common.write_json("landmarks", {"command": " ".join(sys.argv), "root": str(ROOT), "seeds": list(a.seeds),
                                    "grid": GRID, "rows": table,
                                    "summary": summary.reset_index().to_dict("records")})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
