"""The inner search space chosen inside the training folds: full or compact, by nested CV.

    python benchmarks/search_choice.py --features features/ffpp16 [--columns block-mean] [--drop flick]
                                       [--seeds 0,1,...,19] [--jobs 2] [--out search_choice]
                                       [--candidates full,compact | design]

``train --search compact`` was picked by comparing pipeline variants on the out-of-fold
results of all 125 videos (docs/experiments.md, "Model v12"): a choice made outside the training
folds.  This script measures the procedure that makes that choice honestly: in each outer
fold of :func:`detector.crossval.nested_cv`, a nested CV of the *training part alone*
(4 outer x 4 inner grouped folds, its own fold seed) scores both searches; the one with the
higher AUC there is used for that fold, and the fold's held-out videos get the scores of the
model the chosen search fits on its training part (the same model ``nested_cv`` with that
search fits, so both searches' full runs are reused).  Prints, per fold seed and on average,
overall and face swap c23 AUC, face swap c23 EER, for the full search, the compact search and
the choice; writes ``results/<out>.json``.  About 25 s per fold seed on 2 cores.

``--candidates design`` offers the eight searches of
:data:`detector.search.DESIGN_SEARCHES` (scaler x kernels x column selection, the design
space the compact search was picked from by looking; full and compact are two of them), so
the whole design choice is made inside the training folds.  About 100 s per fold seed.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import common  # noqa: F401  (pins the thread pools, puts the repository on sys.path)
from detector import evaluation as ev  # noqa: E402
from detector.extraction import aggregated_columns, load_features  # noqa: E402
from detector.features import family_of  # noqa: E402
from detector.crossval import choose_search, nested_cv, selection_seed  # noqa: E402
from detector.metrics import as_binary  # noqa: E402
from detector.search import DESIGN_SEARCHES, SEARCHES  # noqa: E402
from frames import summary  # noqa: E402

KEYS = ("auc", "auc_face_swap_c23", "eer_face_swap_c23", "far", "frr")


def choose_per_fold(videos: pd.DataFrame, cols: list[str], seed: int,
                    candidates: tuple[str, ...] = SEARCHES, n_jobs: int = 1) -> dict:
    """One fold seed: every candidate search's nested CV, and the per-fold choice among them
    (``n_jobs``: parallel fits of the grid searches, the same result)."""
    cvs = {s: nested_cv(videos, cols, seed=seed, log=lambda *x: None, search=s, n_jobs=n_jobs) for s in candidates}
    y = as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    chosen = cvs[candidates[0]].scores.copy()
    picks, inner_aucs = [], []
    for k, (tr, te) in enumerate(ev.grouped_folds(g, y, n_splits=5, seed=seed)):
        part = videos.iloc[tr].reset_index(drop=True)
        # a nested CV on the training part only (what train --search auto runs there)
        pick, inner = choose_search(part, cols, selection_seed(seed, k), candidates, n_jobs=n_jobs)
        held = cvs[pick].scores
        if not (held["fold"].iloc[te] == k).all():
            raise RuntimeError("outer folds differ between the searches")
        chosen.iloc[te] = held.iloc[te]
        picks.append(pick)
        inner_aucs.append({s: round(float(a), 4) for s, a in inner.items()})
    row = {"seed": seed, "picks": picks, "inner_auc": inner_aucs}
    for name, scores in [*((s, cv.scores) for s, cv in cvs.items()), ("chosen", chosen)]:
        sm = summary(scores)
        row.update({f"{name}_{k}": sm[k] for k in KEYS})
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True, help="an extract folder (e.g. features/ffpp16)")
    p.add_argument("--columns", default="block-mean", metavar="SPEC", help="as 'train --columns' (default block-mean)")
    p.add_argument("--drop", nargs="*", default=["flick"], help="feature families left out (default: flick)")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default="search_choice", help="results/<out>.json")
    p.add_argument("--candidates", default=",".join(SEARCHES),
                   help="comma-separated searches to choose among, or 'design' for the eight of "
                        "detector.search.DESIGN_SEARCHES (default: full,compact)")
    a = p.parse_args(argv)
    candidates = DESIGN_SEARCHES if a.candidates == "design" else tuple(a.candidates.split(","))
    if len(candidates) < 2:
        p.error("--candidates needs at least two searches")
    _, v = load_features(a.features)
    v = v[v["n_faces"] > 0].reset_index(drop=True)
    cols = common.select_columns([c for c in aggregated_columns(v) if family_of(c) not in set(a.drop)], a.columns)
    rows, t0 = [], time.time()
    for seed in (int(s) for s in a.seeds.split(",")):
        r = choose_per_fold(v, cols, seed, candidates, n_jobs=max(1, a.jobs))
        rows.append(r)
        print(f"seed {seed}: picks {' '.join(r['picks'])}; overall "
              + " ".join(f"{c} {r[c + '_auc']:.3f}" for c in (*candidates, "chosen"))
              + "; face swap c23 " + " / ".join(f"{r[c + '_auc_face_swap_c23']:.3f}" for c in (*candidates, "chosen"))
              + f" ({time.time() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    table = pd.DataFrame([{"search": name, **{k: df[f"{name}_{k}"].mean() for k in KEYS},
                           "times_chosen": sum(p.count(name) for p in df["picks"]) if name != "chosen" else None}
                          for name in (*candidates, "chosen")])
    n_folds = 5 * len(df)
    print(f"\nmeans over fold seeds {a.seeds} ({n_folds} outer folds; times_chosen per candidate):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    common.write_json(a.out, {"features": a.features, "columns": a.columns, "drop": a.drop, "seeds": a.seeds,
                              "candidates": list(candidates), "n_folds": n_folds, "runs": rows,
                              "table": table.to_dict("records"),
                              "command": "python benchmarks/search_choice.py " + " ".join(
                                  sys.argv[1:] if argv is None else argv)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
