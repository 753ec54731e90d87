"""The generalisation table: one training procedure under every condition, side by side.

    python benchmarks/generalization.py --features DIR --copies DIR [--augment] [--search compact]
        [--columns SPEC] [--drop FAMILY ...] [--seeds 0,1,2,3,4] [--families] [--jobs 2] [--out NAME]

Nested grouped CV (split by ``group``, every choice inside the training folds,
:func:`detector.crossval.nested_cv`) of the 125 videos of ``../shared/data`` per fold seed,
scored under:

- ``original``: the test-fold videos as they are;
- each platform profile of :data:`detector.degrade.PLATFORM_PROFILES` (H.264 CRF 23, CRF 28,
  half size + CRF 23, VP9): re-encoded copies of the **test-fold videos only** (their first
  :data:`detector.degrade.SPAN` frames), scored by the fold's model (``--copies``: made and
  extracted if missing, resumable);
- ``lomo:<method>``: leave one method out: trained without that method's fakes, tested on
  them against the test fold's genuine videos (unseen generator); ``lomo`` is their mean.

``--augment``: the training parts also get the platform copies of their own videos (as
``train --augment``; a test video's copies are never trained on). Columns: AUC, EER, TPR at FPR 5 %,
mean over the fold seeds (and the spread of the AUC); the **worst** of original, every
profile and the LOMO mean. ``--families``: each feature family alone under each condition.
Writes ``benchmarks/results/<out>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common  # noqa: F401  (pins thread pools, puts the repository on sys.path)
import numpy as np
import pandas as pd
from common import RESULTS, machine, select_columns, write_json

from detector import evaluation as ev
from detector.crossval import nested_cv
from detector.procedure import nested_cv_by_worst
from detector.card import card_markdown
from detector.degrade import PLATFORM_PROFILES, degraded_features
from detector.extraction import aggregated_columns, load_features
from detector.features import FAMILIES, family_of
from detector.metrics import as_binary, eer, tpr_at_fpr
from detector.model import CARD_FILE
from detector.search import SEARCH_CHOICES

METHODS = ("Deepfakes", "FaceSwap", "Face2Face", "NeuralTextures")
#: The false-positive rate at which the TPR column is read.
FPR = 0.05


def metrics(d: pd.DataFrame) -> dict:
    """AUC, EER, TPR at FPR 5 %, and Cllr / Cllr-min of the log10 LRs (``llr``, from each
    outer fold's own calibration) of one scored set (fake = positive)."""
    ok = d["score"].notna().to_numpy()
    y, s = as_binary(d["label"][ok]), d["score"][ok].to_numpy(float)
    if len(np.unique(y)) < 2:
        return {"auc": np.nan, "eer": np.nan, "tpr_at_fpr5": np.nan, "cllr": np.nan, "cllr_min": np.nan,
                "n": int(len(y))}
    lr = ev.llr_summary(y, d["llr"][ok]) if "llr" in d.columns else {}
    return {"auc": ev.summarize(y, s, n_boot=0)["auc"], "eer": eer(y, s)[0],
            "tpr_at_fpr5": tpr_at_fpr(y, s, FPR), "cllr": lr.get("cllr", np.nan),
            "cllr_min": lr.get("cllr_min", np.nan), "n": int(len(y))}


def cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst, train_mask=None):
    """The procedure's nested CV of one fold seed (``by_worst``: the column set chosen by the
    worst condition inside every training part, :func:`detector.procedure.nested_cv_by_worst`)."""
    if by_worst:
        return nested_cv_by_worst(videos, columns, copies, seed=seed, search=search, n_jobs=n_jobs,
                                  train_mask=train_mask, log=lambda *a: None)
    # training copies are the same table: their test-fold rows are already scored (role "augment")
    return nested_cv(videos, columns, seed=seed, log=lambda *a: None, search=search, n_jobs=n_jobs,
                     augment=augment, test_copies=None if augment is copies else copies, train_mask=train_mask)


def one_seed(videos: pd.DataFrame, columns: list[str], seed: int, copies: pd.DataFrame | None,
             augment: pd.DataFrame | None, search: str, n_jobs: int, by_worst: bool = False,
             dump: list | None = None) -> dict[str, dict]:
    """{condition: metrics} for one fold seed (every scored row appended to ``dump``)."""
    cv = cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst)
    scored = {"original": cv.scores}
    held = cv.copy_scores
    for cond in PLATFORM_PROFILES:
        if held is not None:
            scored[cond] = held[held["condition"] == cond]
    for m in METHODS:
        is_m = (videos["method"] == m).to_numpy()
        if not is_m.any():
            continue
        lo = cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst, train_mask=~is_m).scores
        scored[f"lomo:{m}"] = lo.loc[(lo["label"] == "real") | is_m]
    if dump is not None:
        dump.extend(d[["label", "score", "llr", "fold"]].assign(condition=c, seed=seed) for c, d in scored.items())
    return {c: metrics(d) for c, d in scored.items()}


def summarise(per_seed: list[dict[str, dict]]) -> pd.DataFrame:
    """Mean over seeds per condition (+ AUC spread), the LOMO mean and the worst condition."""
    rows = []
    for cond in per_seed[0]:
        vals = pd.DataFrame([s[cond] for s in per_seed if cond in s])
        rows.append({"condition": cond, "auc": vals["auc"].mean(), "auc_min": vals["auc"].min(),
                     "auc_max": vals["auc"].max(), "eer": vals["eer"].mean(),
                     "tpr_at_fpr5": vals["tpr_at_fpr5"].mean(), "cllr": vals["cllr"].mean(),
                     "cllr_min": vals["cllr_min"].mean(), "n": int(vals["n"].iloc[0])})
    t = pd.DataFrame(rows)
    lomo = t[t["condition"].str.startswith("lomo:")]
    if len(lomo):
        t = pd.concat([t, pd.DataFrame([{"condition": "lomo", **lomo.drop(columns="condition").mean().to_dict()}])],
                      ignore_index=True)
    judged = t[~t["condition"].str.startswith("lomo:")]
    worst = judged.loc[judged["auc"].idxmin()]
    return pd.concat([t, pd.DataFrame([{**worst.to_dict(), "condition": f"worst ({worst['condition']})"}])],
                     ignore_index=True)


def run(videos, columns, seeds, copies, augment, search, n_jobs, by_worst=False, dump=None) -> pd.DataFrame:
    return summarise([one_seed(videos, columns, s, copies, augment, search, n_jobs, by_worst, dump) for s in seeds])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True, help="extracted features of the videos (deepfake-detector extract)")
    p.add_argument("--copies", required=True, help="folder of the platform copies and their features (made if missing)")
    p.add_argument("--augment", action="store_true", help="train on the training videos' copies too")
    p.add_argument("--search", choices=list(SEARCH_CHOICES), default="compact")
    p.add_argument("--columns", default=None, help="column set or regular expression (benchmarks/common.py)")
    p.add_argument("--drop", nargs="*", default=[], help="feature families to leave out")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--by-worst", action="store_true",
                   help="the column set chosen among detector.procedure.CANDIDATES by its worst condition inside "
                        "every training part (train --by-worst; needs --augment)")
    p.add_argument("--families", action="store_true", help="also every feature family alone (track means)")
    p.add_argument("--workers", type=int, default=1, help="processes making and extracting copies")
    p.add_argument("--jobs", type=int, default=1, help="parallel jobs of the grid searches (same result)")
    p.add_argument("--out", default="generalization")
    p.add_argument("--into", default=None, metavar="MODEL_DIR",
                   help="also put the table into MODEL_DIR's card (card.json, CARD.md; the Evaluation page shows it)")
    a = p.parse_args(argv)
    t0 = time.time()
    _, videos = load_features(a.features)
    videos = videos[videos["n_faces"] > 0].reset_index(drop=True)
    copies = degraded_features(a.features, a.copies, conditions=PLATFORM_PROFILES, workers=a.workers, progress=False)
    augment = copies if a.augment else None
    cols = [c for c in aggregated_columns(videos) if family_of(c) not in set(a.drop)]
    cols = select_columns(cols, a.columns) if a.columns else cols
    seeds = [int(s) for s in a.seeds.split(",")]
    print(f"{len(videos)} videos, {len(copies)} platform copies, {len(cols)} columns, search {a.search}, "
          f"seeds {seeds}{', training copies ' + str(len(augment)) if augment is not None else ''}", flush=True)
    if a.by_worst and not a.augment:
        p.error("--by-worst needs --augment")
    dump: list[pd.DataFrame] = []
    table = run(videos, cols, seeds, copies, augment, a.search, a.jobs, a.by_worst, dump)
    scores_path = RESULTS / f"{a.out}_scores.csv.gz"
    pd.concat(dump, ignore_index=True).to_csv(scores_path, index=False)
    print(f"wrote every out-of-fold score and log10 LR to {scores_path}", flush=True)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    families = {}
    if a.families:
        for fam in FAMILIES:
            fc = [c for c in aggregated_columns(videos) if family_of(c) == fam and c.endswith("__mean")]
            if fc:
                t = run(videos, fc, seeds, copies, augment, a.search, a.jobs)
                families[fam] = t.set_index("condition")["auc"].to_dict()
                print(f"{fam:6s} " + "  ".join(f"{k} {v:.3f}" for k, v in families[fam].items()
                                               if not k.startswith("lomo:")), flush=True)
    result = {"command": "python benchmarks/generalization.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "seeds": seeds, "search": a.search, "by_worst": a.by_worst, "n_columns": len(cols), "table": table.to_dict("records"),
              "families": families, "seconds": round(time.time() - t0, 1), "machine": machine()}
    write_json(a.out, result)
    if a.into:
        print(f"wrote {into_card(a.into, result)}")
    return 0


def into_card(model_dir: str, result: dict) -> Path:
    """Put the table (with its command and seeds) into ``model_dir``'s card as ``conditions``
    and rewrite its CARD.md; the model file and the card's checked fields stay as they are."""
    path = Path(model_dir) / CARD_FILE
    card = json.loads(path.read_text())
    card["conditions"] = {k: result[k] for k in ("command", "seeds", "search", "n_columns", "table")}
    path.write_text(json.dumps(card, indent=2))
    (Path(model_dir) / "CARD.md").write_text(card_markdown(card))
    return path


if __name__ == "__main__":
    sys.exit(main())
