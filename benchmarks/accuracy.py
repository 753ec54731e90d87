"""Accuracy table: nested grouped 5-fold CV on extracted features, one run, one table.

    python benchmarks/accuracy.py --features features/ffpp [--families] [--seed S] [--drop FAMILY ...] [--columns RE]
                                  [--eval-features DIR] [--search compact] [--jobs 2] [--json out.json]

Prints video-level AUC / EER and the likelihood ratios' Cllr / Cllr-min (lir; each
outer fold's LRs calibrated inside its training part, see detector.calibration)
overall, per manipulation method (vs all real videos),
per compression, face swap (Deepfakes + FaceSwap) vs real and reenactment
(Face2Face + NeuralTextures) vs real at c23 and c40, and with ``--families`` the AUC
of each feature family alone.  Every choice (kernel, C, gamma, k, threshold) is made
inside the training folds (see detector.crossval.nested_cv), so the numbers are
honest estimates for unseen videos of the same kind.  With ``--eval-features`` the
out-of-fold models (trained on ``--features``) score those features of the same videos
instead, e.g. extracted with the scanner's 16 frames when ``--features`` has 32.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector import evaluation as ev  # noqa: E402
from detector.extraction import aggregated_columns, load_features  # noqa: E402
from detector.features import FAMILIES, family_of  # noqa: E402
from detector.crossval import deployed_scores, nested_cv, rescore, subset_aucs  # noqa: E402
from detector.metrics import as_binary, eer, far_frr  # noqa: E402
from detector.search import SEARCH_CHOICES  # noqa: E402


def table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per slice: n_real, n_fake, AUC, EER, FAR / FRR at the folds' own thresholds,
    and Cllr / Cllr-min of the out-of-fold log10 LRs (column ``llr``, when present)."""
    s = scores[scores["score"].notna()]
    real = s["label"] == "real"
    slices = {"all": np.ones(len(s), bool)}
    for m in sorted(s.loc[~real, "method"].unique()):
        slices[f"method={m}"] = (real | (s["method"] == m)).to_numpy()
    for c in sorted(s["compression"].unique()):
        slices[f"compression={c}"] = (s["compression"] == c).to_numpy()
    fs = s["method"].isin(["Deepfakes", "FaceSwap"])
    re = s["method"].isin(["Face2Face", "NeuralTextures"])
    for c in ("c23", "c40"):
        slices[f"face-swap {c}"] = ((real | fs) & (s["compression"] == c)).to_numpy()
        slices[f"reenactment {c}"] = ((real | re) & (s["compression"] == c)).to_numpy()
    rows = []
    for name, sel in slices.items():
        d = s[sel]
        if d["label"].nunique() < 2:
            continue
        y = as_binary(d["label"])
        e, _ = eer(y, d["score"])
        far, frr = far_frr(y, d["score"] - d["fold_threshold"], 0.0)
        lr = ev.llr_summary(y, d["llr"]) if "llr" in d.columns and d["llr"].notna().all() else {}
        rows.append({"slice": name, "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                     "auc": ev.summarize(y, d["score"], n_boot=0)["auc"], "eer": e,
                     "far@fold_thr": far, "frr@fold_thr": frr, "cllr": lr.get("cllr"), "cllr_min": lr.get("cllr_min")})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True)
    p.add_argument("--families", action="store_true", help="also each feature family alone")
    p.add_argument("--stats", default=None, help="comma list of aggregate stats to keep, e.g. mean,median")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="seed of the outer (and inner) grouped folds")
    p.add_argument("--drop", nargs="*", default=[], help="feature families to leave out, e.g. flick")
    p.add_argument("--columns", default=None,
                   help="only these aggregated columns: 'grid' (the block-grid strengths without the DCT "
                        "statistics, = '^block_(?!dct)') or a regular expression (benchmarks/common.py)")
    p.add_argument("--eval-features", default=None, metavar="DIR",
                   help="score these features of the same videos with the out-of-fold models (e.g. extracted "
                        "with --frames 16 when --features has 32): the table is then that of the deployed setting")
    p.add_argument("--search", choices=list(SEARCH_CHOICES), default="full",
                   help="the inner search space, as 'train --search' (auto: the shipped default model's)")
    p.add_argument("--jobs", type=int, default=1, help="parallel jobs of the grid searches (same result)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    n_jobs = max(1, a.jobs)
    command = "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    t0 = time.time()
    frames, videos = load_features(a.features)
    videos = videos[videos["n_faces"] > 0].reset_index(drop=True)
    cols = [c for c in aggregated_columns(videos) if family_of(c) not in set(a.drop)]
    if a.columns:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import select_columns  # the shared --columns sets (imported only when asked for)

        cols = select_columns(cols, a.columns)
    if a.stats:
        keep = set(a.stats.split(","))
        cols = [c for c in cols if c.split("__")[1] in keep]
    print(f"{len(videos)} videos, {videos['group'].nunique()} groups, {len(cols)} features ({a.features})")
    cv = nested_cv(videos, cols, seed=a.seed, quick=a.quick, log=lambda *x: None, search=a.search, n_jobs=n_jobs)
    train_table, train_videos = None, videos
    if a.eval_features:
        train_table = table(cv.scores)
        frames, videos = load_features(a.eval_features)
        cv = rescore(cv, videos, cols)
        print(f"trained on {a.features}, scored on {a.eval_features}; on the training features themselves: "
              f"AUC {train_table['auc'].iloc[0]:.3f}")
    t = table(cv.scores)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    n_inc = int((cv.scores["verdict"] == "inconclusive").sum())
    print(f"likelihood ratios (out of fold): Cllr {t['cllr'].iloc[0]:.3f}, Cllr-min {t['cllr_min'].iloc[0]:.3f} "
          f"(1 = no information); {n_inc} of {len(cv.scores)} videos inconclusive (LR between 1/3 and 3)")
    dep = deployed_scores(frames, videos, cv, cols)
    td = table(dep)
    n_multi = int((dep["score"] != dep["main_track_score"]).sum())
    print(f"\nas deployed (the video's score is the highest of its tracks seen in enough frames; "
          f"differs from the main track's in {n_multi} videos):")
    print(td[td["slice"].isin(["all", "face-swap c23", "reenactment c23"])].to_string(
        index=False, float_format=lambda v: f"{v:.3f}"))
    out = {"features": a.features, "eval_features": a.eval_features, "n_features": len(cols), "search": a.search,
           "command": command,
           "table": t.to_dict("records"),
           "table_training_features": None if train_table is None else train_table.to_dict("records"),
           "table_deployed_rule": td.to_dict("records"), "n_videos_deployed_rule_differs": n_multi,
           "subsets": subset_aucs(cv.scores), "folds": cv.params}
    if a.families:
        fam_rows = []
        for fam in FAMILIES:
            fc = [c for c in cols if family_of(c) == fam]
            if not fc:
                continue
            r = nested_cv(train_videos, fc, seed=a.seed, quick=True, log=lambda *x: None, n_jobs=n_jobs)
            r = (rescore(r, videos, fc) if a.eval_features else r).scores
            r = r[r["score"].notna()]
            fam_rows.append({"family": fam, "n_features": len(fc),
                             "auc": ev.summarize(r["label"], r["score"], n_boot=0)["auc"],
                             "auc_face_swap": subset_aucs(r).get("face_swap_vs_real", {}).get("auc")})
        ft = pd.DataFrame(fam_rows)
        print("\nfamilies alone (quick grid):")
        print(ft.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        out["families"] = ft.to_dict("records")
    print(f"\n{time.time() - t0:.0f} s; command: {command}")
    if a.json:
        Path(a.json).write_text(json.dumps(ev.to_jsonable(out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
