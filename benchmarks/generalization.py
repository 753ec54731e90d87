"""The generalisation table: one training procedure under every condition, side by side.

    python benchmarks/generalization.py --features DIR --copies DIR [--augment] [--search compact]
        [--columns SPEC] [--drop FAMILY ...] [--seeds 0,1,2,3,4] [--families] [--jobs 2] [--out NAME]
        [--self-blended DIR ...] [--by-worst [--candidate NAME=SPEC ...]]
        [--probe-copies DIR [--probe-profiles A,B]] [--train-copies DIR [--train-profiles A,B]]

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

The log10 likelihood ratios come from each outer fold's score-to-LR calibration, fitted on
that fold's training part alone (:func:`detector.crossval.nested_cv`); their Cllr and
Cllr-min (lir) are columns of the table like the AUC.

``--augment``: the training parts also get the platform copies of their own videos (as
``train --augment``; a test video's copies are never trained on).  ``--by-worst`` (with
``--augment``, as ``train --by-worst``): every training part also chooses its column set by
the worst condition (:func:`detector.procedure.nested_cv_by_worst`; ``--candidate NAME=SPEC``
offers more column sets than :data:`detector.procedure.CANDIDATES`).  ``--self-blended DIR``: the
training parts (and their inner folds) also get the generated videos of those features folders
(``benchmarks/sbi_platform.py``: self-blended fakes and their controls, each naming its genuine
source in ``source_path``) whose source is a training video, with their own labels
(:data:`detector.crossval.OWN_LABEL`); they are never scored.  Every seed's scored rows go
to ``benchmarks/results/<out>_scores.csv.gz``. Columns: AUC, EER, TPR at FPR 5 %,
Cllr, Cllr-min, mean over the fold seeds (and the spread of the AUC); the **worst** of original,
every profile and the LOMO mean. ``--probe-copies DIR``: copies of the test-fold videos at further profiles of
:data:`detector.degrade.PROFILES` (``--probe-profiles``, default CRF 32, 3/4 size + CRF 26, AV1), scored as
conditions of their own after the platform profiles and not counted in the worst condition (which stays
the issue's: originals, the platform profiles, the LOMO mean); never trained on.
``--train-copies DIR``: copies of the training videos at further profiles (``--train-profiles``), added
to the training parts only (with ``--augment``); never scored. ``--families``: each feature family alone under each condition
(its track means; the opt-in families too when the features have them).
Writes ``benchmarks/results/<out>.json``; ``--into MODEL_DIR`` also puts the table into the
model's card and the first fold seed's out-of-fold scores and LRs per condition into
``MODEL_DIR/evaluation/condition_scores.csv``.
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
from detector.crossval import OWN_LABEL, nested_cv
from detector.procedure import CANDIDATES, Procedure, nested_cv_by_worst
from detector.card import card_markdown
from detector.degrade import PLATFORM_PROFILES, PROFILES, degraded_features
from detector.extraction import aggregated_columns, load_features
from detector.features import KNOWN_FAMILIES, family_of
from detector.metrics import as_binary, eer, tpr_at_fpr
from detector.model import CARD_FILE, CONDITION_SCORES_FILE, EVALUATION_DIR
from detector.search import SEARCH_CHOICES

METHODS = ("Deepfakes", "FaceSwap", "Face2Face", "NeuralTextures")
#: The false-positive rate at which the TPR column is read.
FPR = 0.05
#: Columns of the per-condition out-of-fold scores (``--into``: ``evaluation/condition_scores.csv``).
SCORE_COLUMNS = ("condition", "label", "score", "llr", "fold", "seed", "path", "method")


def metrics(labels: pd.Series, scores: pd.Series, llrs: pd.Series | None = None) -> dict:
    """AUC, EER and TPR at FPR 5 % of one scored set (fake = positive), and Cllr / Cllr-min
    of its finite log10 LRs ``llrs`` (lir; None without them or when a class has none)."""
    ok = scores.notna().to_numpy()
    y, s = as_binary(labels[ok]), scores[ok].to_numpy(float)
    lr = {"cllr": None, "cllr_min": None}
    if llrs is not None:
        has = ok & np.isfinite(pd.to_numeric(llrs, errors="coerce").to_numpy(float))
        if has.any():
            lr = {k: ev.llr_summary(as_binary(labels[has]), llrs[has].to_numpy(float))[k] for k in lr}
    if len(np.unique(y)) < 2:
        return {"auc": np.nan, "eer": np.nan, "tpr_at_fpr5": np.nan, **lr, "n": int(len(y))}
    return {"auc": ev.summarize(y, s, n_boot=0)["auc"], "eer": eer(y, s)[0],
            "tpr_at_fpr5": tpr_at_fpr(y, s, FPR), **lr, "n": int(len(y))}


def cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst, train_mask=None,
                   self_blended=None, probe=None):
    """The procedure's nested CV of one fold seed (``by_worst``: the column set chosen by the
    worst condition inside every training part, :func:`detector.procedure.nested_cv_by_worst`,
    among :data:`detector.procedure.CANDIDATES` (True) or the given candidates (a tuple of
    :class:`detector.procedure.Procedure`); ``self_blended``: generated training rows,
    :func:`self_blended_rows`; ``probe``: more copies of the test videos, only scored)."""
    train = pd.concat([t for t in (augment, self_blended) if t is not None], ignore_index=True) \
        if self_blended is not None else augment
    if by_worst:
        candidates = CANDIDATES if by_worst is True else tuple(by_worst)
        return nested_cv_by_worst(videos, columns, train, candidates, seed=seed, search=search, n_jobs=n_jobs,
                                  train_mask=train_mask, log=lambda *a: None, test_copies=probe)
    # training copies are the same table: their test-fold rows are already scored (role "augment")
    tested = [c for c in (None if augment is copies else copies, probe) if c is not None]
    return nested_cv(videos, columns, seed=seed, log=lambda *a: None, search=search, n_jobs=n_jobs,
                     augment=train, test_copies=pd.concat(tested, ignore_index=True) if tested else None,
                     train_mask=train_mask)


def self_blended_rows(dirs: list[str]) -> pd.DataFrame:
    """The generated videos with a face of the features folders ``dirs`` (each row naming its
    genuine source in ``source_path``), marked :data:`detector.crossval.OWN_LABEL`."""
    parts = []
    for d in dirs:
        _, v = load_features(d)
        if "source_path" not in v.columns:
            raise ValueError(f"{d} has no source_path column: make it with benchmarks/sbi_platform.py")
        parts.append(v[v["n_faces"] > 0])
    return pd.concat(parts, ignore_index=True).assign(**{OWN_LABEL: True})


def condition_scores(videos: pd.DataFrame, columns: list[str], seed: int, copies: pd.DataFrame | None,
                     augment: pd.DataFrame | None, search: str, n_jobs: int, by_worst: bool = False,
                     self_blended: pd.DataFrame | None = None, probe: pd.DataFrame | None = None) -> pd.DataFrame:
    """The out-of-fold scores of fold seed ``seed`` under every condition, one row per scored
    video or copy: :data:`SCORE_COLUMNS` (``llr``: from the calibration of the row's outer
    fold, fitted inside that fold's training part); ``probe``'s conditions after the platform
    profiles."""
    cv = cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst, self_blended=self_blended,
                        probe=probe)
    parts = [cv.scores.assign(condition="original")]
    held = cv.copy_scores
    for cond in [*PLATFORM_PROFILES, *([] if probe is None else probe["condition"].unique())]:
        if held is not None:
            parts.append(held[held["condition"] == cond])
    for m in METHODS:
        is_m = (videos["method"] == m).to_numpy()
        if not is_m.any():
            continue
        lo = cross_validate(videos, columns, seed, copies, augment, search, n_jobs, by_worst, train_mask=~is_m,
                            self_blended=self_blended).scores
        keep = (lo["label"] == "real") | is_m
        parts.append(lo[keep].assign(condition=f"lomo:{m}"))
    out = pd.concat([p.reindex(columns=[c for c in SCORE_COLUMNS if c != "seed"]) for p in parts], ignore_index=True)
    return out.assign(seed=seed)[list(SCORE_COLUMNS)]


def seed_metrics(scores: pd.DataFrame) -> dict[str, dict]:
    """{condition: metrics} of one fold seed's :func:`condition_scores`."""
    return {cond: metrics(d["label"], d["score"], d["llr"]) for cond, d in scores.groupby("condition", sort=False)}


def summarise(per_seed: list[dict[str, dict]], probed: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean over seeds per condition (+ AUC spread), the LOMO mean and the worst condition
    (of the original, the platform profiles and the LOMO mean: not of the ``probed`` ones)."""
    rows = []
    for cond in per_seed[0]:
        vals = pd.DataFrame([s[cond] for s in per_seed if cond in s])
        lr = {k: pd.to_numeric(vals[k], errors="coerce").mean() for k in ("cllr", "cllr_min")}
        rows.append({"condition": cond, "auc": vals["auc"].mean(), "auc_min": vals["auc"].min(),
                     "auc_max": vals["auc"].max(), "eer": vals["eer"].mean(),
                     "tpr_at_fpr5": vals["tpr_at_fpr5"].mean(), **lr, "n": int(vals["n"].iloc[0])})
    t = pd.DataFrame(rows)
    lomo = t[t["condition"].str.startswith("lomo:")]
    if len(lomo):
        t = pd.concat([t, pd.DataFrame([{"condition": "lomo", **lomo.drop(columns="condition").mean().to_dict()}])],
                      ignore_index=True)
    judged = t[~t["condition"].str.startswith("lomo:") & ~t["condition"].isin(probed)]
    worst = judged.loc[judged["auc"].idxmin()]
    return pd.concat([t, pd.DataFrame([{**worst.to_dict(), "condition": f"worst ({worst['condition']})"}])],
                     ignore_index=True)


def run(videos, columns, seeds, copies, augment, search, n_jobs, by_worst: bool = False,
        self_blended: pd.DataFrame | None = None, probe: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the table of :func:`summarise`, the :func:`condition_scores` of every seed)."""
    scores = [condition_scores(videos, columns, s, copies, augment, search, n_jobs, by_worst, self_blended, probe)
              for s in seeds]
    probed = () if probe is None else tuple(probe["condition"].unique())
    return summarise([seed_metrics(s) for s in scores], probed), pd.concat(scores, ignore_index=True)


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
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=SPEC",
                   help="with --by-worst: one more candidate column set (a column set or regular expression, "
                        "as --columns), after detector.procedure.CANDIDATES; repeatable")
    p.add_argument("--self-blended", nargs="+", default=None, metavar="DIR",
                   help="features folders of generated training videos (benchmarks/sbi_platform.py), trained on "
                        "where their genuine source is a training video, never scored")
    p.add_argument("--train-copies", default=None, metavar="DIR",
                   help="with --augment: a folder of more re-encoded copies (made and extracted if missing) at "
                        "--train-profiles, added to the training parts only; never scored")
    p.add_argument("--train-profiles", default="crf32,q540,av1", metavar="A,B",
                   help="profiles of detector.degrade.PROFILES for --train-copies")
    p.add_argument("--probe-copies", default=None, metavar="DIR",
                   help="a folder of more re-encoded copies (made and extracted if missing) at --probe-profiles: "
                        "the test videos' are scored as more conditions (not counted in the worst), never trained on")
    p.add_argument("--probe-profiles", default="crf32,q540,av1", metavar="A,B",
                   help="profiles of detector.degrade.PROFILES for --probe-copies")
    p.add_argument("--families", action="store_true", help="also every feature family alone (track means)")
    p.add_argument("--workers", type=int, default=1, help="processes making and extracting copies")
    p.add_argument("--jobs", type=int, default=1, help="parallel jobs of the grid searches (same result)")
    p.add_argument("--out", default="generalization")
    p.add_argument("--into", default=None, metavar="MODEL_DIR",
                   help="also put the table into MODEL_DIR's card (card.json, CARD.md) and the first seed's "
                        "scores per condition into MODEL_DIR/evaluation (the Evaluation page shows both)")
    a = p.parse_args(argv)
    t0 = time.time()
    _, videos = load_features(a.features)
    videos = videos[videos["n_faces"] > 0].reset_index(drop=True)
    copies = degraded_features(a.features, a.copies, conditions=PLATFORM_PROFILES, workers=a.workers, progress=False)
    augment = copies if a.augment else None

    def further(folder: str, names: str) -> pd.DataFrame:
        """The copies (made and extracted if missing) of the videos in ``folder`` at the profiles ``names``."""
        unknown = [k for k in names.split(",") if k and k not in PROFILES]
        if unknown:
            p.error(f"unknown profiles {unknown}; known: {', '.join(PROFILES)}")
        return degraded_features(a.features, folder, conditions={k: PROFILES[k] for k in names.split(",") if k},
                                 workers=a.workers, progress=False)

    if a.train_copies:
        if not a.augment:
            p.error("--train-copies needs --augment")
        augment = pd.concat([copies, further(a.train_copies, a.train_profiles)], ignore_index=True)
    probe = further(a.probe_copies, a.probe_profiles) if a.probe_copies else None
    cols = [c for c in aggregated_columns(videos) if family_of(c) not in set(a.drop)]
    cols = select_columns(cols, a.columns) if a.columns else cols
    seeds = [int(s) for s in a.seeds.split(",")]
    sbi = self_blended_rows(a.self_blended) if a.self_blended else None
    print(f"{len(videos)} videos, {len(copies)} platform copies, {len(cols)} columns, search {a.search}, "
          f"seeds {seeds}{', training copies ' + str(len(augment)) if augment is not None else ''}"
          + ("" if sbi is None else f", generated training videos {sbi.groupby('label').size().to_dict()}"),
          flush=True)
    if a.by_worst and not a.augment:
        p.error("--by-worst needs --augment")
    if a.candidate and not a.by_worst:
        p.error("--candidate needs --by-worst")
    extra = tuple(Procedure(*c.split("=", 1)) for c in a.candidate if "=" in c)
    if len(extra) != len(a.candidate):
        p.error("--candidate takes NAME=SPEC")
    by_worst = CANDIDATES + extra if a.by_worst and extra else a.by_worst
    table, scores = run(videos, cols, seeds, copies, augment, a.search, a.jobs, by_worst, sbi, probe)
    scores_path = RESULTS / f"{a.out}_scores.csv.gz"
    scores.to_csv(scores_path, index=False)
    print(f"wrote every seed's out-of-fold scores and log10 LRs to {scores_path}", flush=True)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    families = {}
    if a.families:
        for fam in KNOWN_FAMILIES:
            fc = [c for c in aggregated_columns(videos) if family_of(c) == fam and c.endswith("__mean")]
            if fc:
                t = run(videos, fc, seeds, copies, augment, a.search, a.jobs, self_blended=sbi)[0]
                families[fam] = t.set_index("condition")["auc"].to_dict()
                print(f"{fam:6s} " + "  ".join(f"{k} {v:.3f}" for k, v in families[fam].items()
                                               if not k.startswith("lomo:")), flush=True)
    result = {"command": "python benchmarks/generalization.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "seeds": seeds, "search": a.search, "by_worst": a.by_worst,
              "candidates": [[c.name, c.columns] for c in (by_worst if isinstance(by_worst, tuple) else CANDIDATES)]
              if a.by_worst else None,
              "probe_copies": a.probe_copies, "probe_profiles": a.probe_profiles if a.probe_copies else None,
              "train_copies": a.train_copies, "train_profiles": a.train_profiles if a.train_copies else None,
              "self_blended": a.self_blended, "n_self_blended": 0 if sbi is None else len(sbi),
              "n_columns": len(cols), "table": table.to_dict("records"),
              "families": families, "seconds": round(time.time() - t0, 1), "machine": machine()}
    write_json(a.out, result)
    if a.into:
        print(f"wrote {into_card(a.into, result)} and {into_evaluation(a.into, scores[scores['seed'] == seeds[0]])}")
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


def into_evaluation(model_dir: str, scores: pd.DataFrame) -> Path:
    """Write one fold seed's :func:`condition_scores` to ``model_dir``'s
    ``evaluation/condition_scores.csv`` (the Evaluation page's Tippett and ECE plots per condition)."""
    path = Path(model_dir) / EVALUATION_DIR / CONDITION_SCORES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(path, index=False)
    return path


if __name__ == "__main__":
    sys.exit(main())
