"""The training procedure: grouped, nested cross-validation and the final fit.

Tables in, results out; nothing is written here (:mod:`detector.training` writes model
folders).

1. :func:`nested_cv`: outer grouped 5-fold CV for honest out-of-fold scores.  Each
   outer fold runs the whole search (:mod:`detector.search`) on its training part only,
   by an inner cross-validation **grouped by ``group``** (a fake never sits apart from
   its source video), scored by ROC AUC; it picks its threshold at the EER point of its
   own inner out-of-fold scores and fits its score-to-LR calibration on them
   (:func:`detector.calibration.fit_calibration`), then scores its held-out videos: their
   log10 LRs (``llr``) come from a calibration that never saw them.
2. :func:`fit_final`: the same search on all videos; the threshold is the EER point of
   its grouped out-of-fold scores, and the calibration is fitted on those scores.
3. ``search="auto"``: the search space itself is chosen among
   :data:`detector.search.DESIGN_SEARCHES` by a nested grouped CV of the training data
   (:func:`choose_search`), inside each outer training part as well.
4. The out-of-fold models scoring other tables: :func:`rescore` (other features of the
   same videos), :func:`deployed_scores` (every track, as the scanner scores a video),
   :func:`frame_level_scores` (single frames); :func:`subset_aucs` summarises scores.

``n_jobs`` everywhere: parallel fits of the grid searches (the results do not depend on it).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from . import evaluation as ev
from .analysis import scored_tracks, single_frame_rows, track_results
from .calibration import Calibration, fit_calibration, verdicts
from .datasets import LABEL_COLUMNS, STANDARD_COLUMNS
from .decode import DEFAULT_FRAMES
from .estimators import FamilyFusion
from .features import FAMILIES, family_of
from .metrics import as_binary, eer
from .search import AUTO, DESIGN_SEARCHES, check_auto, check_search, feature_matrix, fit_grid, make_pipeline, param_grid

#: The fused model averages at most this many families: those with the best inner
#: out-of-fold AUC, the best always, the others only if they reach FUSION_MIN_AUC.
FUSION_SIZE = 2
FUSION_MIN_AUC = 0.70


def auc(labels, scores) -> float | None:
    """ROC AUC (fake positive) of the finite ``scores``; None when a class is missing."""
    y = as_binary(pd.Series(labels).to_numpy())
    s = np.asarray(scores, float)
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    if len(np.unique(y)) < 2:
        return None
    return ev.summarize(y, s, n_boot=0)["auc"]


def _auc(y, s) -> float:
    a = auc(y, s)
    return 0.5 if a is None else float(a)


def _search_fusion(x, y, groups, columns: list[str], n_inner: int, seed: int, quick: bool,
                   families=FAMILIES, search: str = "full", n_jobs: int = 1) -> tuple[FamilyFusion, dict, np.ndarray]:
    """Per-family SVMs, the best :data:`FUSION_SIZE` of them averaged (a second one only
    when it reaches :data:`FUSION_MIN_AUC` on its own), all chosen on the training part.

    For each family: a grouped grid search, then the grouped out-of-fold scores of its
    best pipeline (the same inner folds); the families with the best of those AUCs are
    fused (the mean of their out-of-fold scores *is* the fused model's out-of-fold
    score, members being fitted independently).  A fixed size, not a greedy search:
    with ~100 training videos the inner AUCs differ by noise beyond the first few
    families, and adding on small gains picked noise families (measured: 0.72 AUC vs
    0.78 for block alone).  Returns the fitted :class:`FamilyFusion`, its parameters
    and its inner out-of-fold scores.
    """
    found = {}
    for fam in families:
        n_fam = sum(family_of(c) == fam for c in columns)  # its aggregated columns
        if n_fam == 0:
            continue
        grid = [{**g, "stats__families": [(fam,)],
                 "select__k": [k for k in g["select__k"] if k == "all" or k < n_fam] or ["all"]}
                for g in param_grid(x.shape[1], quick, columns, search)]
        gs = fit_grid(x, y, groups, columns, n_inner, seed, search=search, n_jobs=n_jobs, grid=grid, refit=False)
        pipe = make_pipeline(columns, search).set_params(**gs.best_params_)
        oof = _oof_scores(pipe, x, y, groups, n_inner, seed)
        found[fam] = (pipe, gs.best_params_, oof, _auc(y, oof))
    ranked = sorted(found, key=lambda f: -found[f][3])
    kept = ranked[:1] + [f for f in ranked[1:FUSION_SIZE] if found[f][3] >= FUSION_MIN_AUC]
    fused = np.mean([found[f][2] for f in kept], axis=0)
    fusion = FamilyFusion([found[f][0] for f in kept]).fit(x, y)
    params = {"fusion_families": kept, "family_inner_auc": {f: round(found[f][3], 4) for f in ranked},
              "members": {f: {k: v for k, v in found[f][1].items() if k != "stats__families"} for f in kept},
              "inner_auc": _auc(y, fused)}
    return fusion, params, fused


def _oof_scores(estimator, x, y, groups, n_splits: int, seed: int) -> np.ndarray:
    """Grouped out-of-fold decision scores of a fixed estimator."""
    s = np.full(len(y), np.nan)
    for tr, te in ev.grouped_folds(groups, y, n_splits=n_splits, seed=seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s[te] = clone(estimator).fit(x[tr], y[tr]).decision_function(x[te])
    return s


@dataclass
class CVResult:
    scores: pd.DataFrame  # meta + fold, score, fold_threshold, llr, verdict
    params: list[dict]  # chosen parameters per outer fold
    fold_models: list  # fitted estimators per outer fold
    #: with ``augment`` or ``test_copies``: the test folds' degraded copies scored by their
    #: fold's model (meta + source_path, condition, fold, score, fold_threshold, llr, role); None without
    copy_scores: pd.DataFrame | None = None
    #: score-to-LR calibration per outer fold, fitted on that fold's inner out-of-fold scores
    calibrations: list[Calibration] = field(default_factory=list)

    def fold_llrs(self, scores, folds) -> np.ndarray:
        """log10 LRs of ``scores`` by the calibration of each one's outer fold ``folds``
        (NaN for a missing score or a fold < 0)."""
        s, k = np.asarray(scores, dtype=float), np.asarray(folds)
        out = np.full(len(s), np.nan)
        for f, cal in enumerate(self.calibrations):
            sel = (k == f) & np.isfinite(s)
            if sel.any():
                out[sel] = cal.llr(s[sel])
        return out


def _choose(x, y, groups, columns: list[str], n_inner: int, seed: int, quick: bool, fusion: bool,
            search: str = "full", n_jobs: int = 1):
    """The model chosen on a training part: (fitted estimator, parameters, its grouped
    inner out-of-fold scores).  ``fusion``: one SVM per family, the helpful ones averaged
    (:func:`_search_fusion`); else one SVM whose families are part of the grid.
    ``search``: the search space (:data:`detector.search.SEARCHES`)."""
    if fusion:
        return _search_fusion(x, y, groups, columns, n_inner, seed, quick, search=search, n_jobs=n_jobs)
    gs = fit_grid(x, y, groups, columns, n_inner, seed, quick, search, n_jobs)
    est, params = gs.best_estimator_, {**gs.best_params_, "inner_auc": float(gs.best_score_)}
    return est, params, _oof_scores(est, x, y, groups, n_inner, seed)


def _with_copies(x, y, g, rows: np.ndarray, videos: pd.DataFrame, augment: pd.DataFrame | None, columns: list[str]):
    """The training part ``rows`` of (x, y, groups) plus the rows of ``augment`` whose
    ``source_path`` is one of those videos' ``abs_path`` (they carry their source's
    label and group, so the inner grouped folds keep a copy with its source)."""
    if augment is None or augment.empty:
        return x[rows], y[rows], g[rows]
    src = set(videos["abs_path"].iloc[rows].astype(str))
    a = augment[augment["source_path"].astype(str).isin(src)]
    if a.empty:
        return x[rows], y[rows], g[rows]
    return (np.vstack([x[rows], feature_matrix(a, columns)]), np.concatenate([y[rows], as_binary(a["label"])]),
            np.concatenate([g[rows], a["group"].astype(str).to_numpy()]))


#: Boolean column of an ``augment`` row derived from its source but not a copy of it (a
#: self-blended fake or its control, :mod:`detector.selfblend`): it keeps its own
#: :data:`OWN_COLUMNS` and is training data only, never scored.
OWN_LABEL = "own_label"
#: What a row marked :data:`OWN_LABEL` keeps of its own; it takes the rest from its source.
OWN_COLUMNS = ("label", "method")


def own_label(rows: pd.DataFrame) -> np.ndarray:
    """Boolean per row of ``rows``: marked :data:`OWN_LABEL` (missing or NaN: False)."""
    if OWN_LABEL not in rows.columns:
        return np.zeros(len(rows), bool)
    return rows[OWN_LABEL].eq(True).to_numpy()


def copies_of(videos: pd.DataFrame, augment: pd.DataFrame | None) -> pd.DataFrame | None:
    """``augment`` restricted to copies with a face whose source is a row of ``videos``,
    labelled and grouped as that source (a copy never disagrees with its source: it
    takes its :data:`detector.datasets.LABEL_COLUMNS`; a row marked :data:`OWN_LABEL`
    keeps its own :data:`OWN_COLUMNS`)."""
    if augment is None:
        return None
    if "source_path" not in augment.columns:
        raise ValueError("augmentation rows need a 'source_path' column (detector.degrade.make_degraded)")
    if "abs_path" not in videos.columns:
        raise ValueError("augmentation needs the videos' 'abs_path' (as 'extract' writes it) to find their copies")
    src = videos.drop_duplicates("abs_path").set_index(videos.drop_duplicates("abs_path")["abs_path"].astype(str))
    a = augment[augment["source_path"].astype(str).isin(src.index) & (augment.get("n_faces", 1) > 0)].copy()
    own = own_label(a)
    for c in LABEL_COLUMNS:
        if c in src.columns:
            of_source = src.loc[a["source_path"].astype(str), c].to_numpy()
            a[c] = np.where(own, a[c].to_numpy(), of_source) if c in OWN_COLUMNS and own.any() else of_source
    return a.reset_index(drop=True)


def choose_search(videos: pd.DataFrame, columns: list[str], seed: int = 0,
                  candidates: tuple[str, ...] = DESIGN_SEARCHES, n_outer: int = 4, n_inner: int = 4,
                  quick: bool = False, n_jobs: int = 1) -> tuple[str, dict[str, float]]:
    """The search (of ``candidates``) whose :func:`nested_cv` on ``videos`` has the highest
    out-of-fold AUC (``n_outer`` grouped folds, fold seed ``seed``; ties go to the first),
    and every candidate's AUC.  What ``--search auto`` runs on each training part."""
    if len(candidates) < 1:
        raise ValueError("choose_search needs at least one candidate search")
    aucs = {}
    for s in candidates:
        sc = nested_cv(videos, columns, n_outer=n_outer, n_inner=n_inner, seed=seed, quick=quick,
                       log=lambda *a: None, search=s, n_jobs=n_jobs).scores
        aucs[s] = float(ev.summarize(as_binary(sc["label"]), sc["score"], n_boot=0)["auc"])
    return max(candidates, key=lambda s: aucs[s]), aucs


def selection_seed(seed: int, fold: int | None = None) -> int:
    """Fold seed of :func:`choose_search` for outer fold ``fold`` of fold seed ``seed``
    (None: the choice on all videos for the shipped model)."""
    return 10_000 + seed if fold is None else 1000 + 10 * seed + fold


def _held_copies(augment: pd.DataFrame | None, videos: pd.DataFrame, test: np.ndarray, est, columns: list[str],
                 fold: int, threshold: float, calibration: Calibration) -> pd.DataFrame | None:
    """The copies of the test videos ``test``, scored by their fold's model ``est`` (and
    their LRs by its ``calibration``); rows marked :data:`OWN_LABEL` are never scored."""
    if augment is None or not len(augment):
        return None
    of_test = augment["source_path"].astype(str).isin(set(videos["abs_path"].iloc[test].astype(str)))
    held = augment[of_test.to_numpy() & ~own_label(augment)]
    if not len(held):
        return None
    score = est.decision_function(feature_matrix(held, columns))
    return (held[[c for c in (*STANDARD_COLUMNS, "source_path", "condition") if c in held.columns]]
            .assign(fold=fold, score=score, fold_threshold=threshold, llr=calibration.llr(score)))


def _fold_search(search: str, train: pd.DataFrame, columns: list[str], seed: int, k: int, n_inner: int,
                 quick: bool, n_jobs: int) -> tuple[str, dict]:
    """Outer fold ``k``'s search space and what to record of its choice: ``search`` itself,
    or with ``"auto"`` the one :func:`choose_search` picks on the fold's training videos."""
    if search != AUTO:
        return search, {}
    fold_search, aucs = choose_search(train.reset_index(drop=True), columns, selection_seed(seed, k),
                                      n_inner=n_inner, quick=quick, n_jobs=n_jobs)
    return fold_search, {"search": fold_search, "search_aucs": aucs}


def nested_cv(videos: pd.DataFrame, columns: list[str], n_outer: int = 5, n_inner: int = 4, seed: int = 0,
              quick: bool = False, log=print, fusion: bool = False, augment: pd.DataFrame | None = None,
              search: str = "full", n_jobs: int = 1, test_copies: pd.DataFrame | None = None,
              train_mask: np.ndarray | None = None) -> CVResult:
    """Honest out-of-fold scores: every choice (families, hyper-parameters, kernel,
    threshold) is made inside the training part of each outer fold.

    ``test_copies``: re-encoded copies (``source_path``, ``condition``) that are never
    trained on: each is scored by the model of the fold where its source is a test video
    (``CVResult.copy_scores``, ``role`` "test"; the platform conditions of the
    generalisation table).  ``train_mask``: boolean per row of ``videos``; rows where it is
    False are never trained on (nor their copies) but still scored in their test fold
    (leave one method out).

    ``augment``: extra training rows (degraded copies, :mod:`detector.degrade`; or, marked
    :data:`OWN_LABEL`, videos generated from a genuine one, :mod:`detector.selfblend`) with a
    ``source_path`` naming their source video's ``abs_path``.  A copy joins the training
    part of the folds where its source is a training video, never a test fold: the
    out-of-fold scores are those of ``videos`` alone.  The threshold is the EER point of
    the inner out-of-fold scores of the training part, copies included.  The test fold's
    own copies are scored by that fold's model too (``CVResult.copy_scores``), the
    generated rows never.
    ``search``: the inner search space (:data:`detector.search.SEARCHES`,
    :data:`detector.search.DESIGN_SEARCHES`), or ``"auto"``: in each outer fold
    :func:`choose_search` picks one on the training part alone (fold seed
    :func:`selection_seed`), named in the fold's parameters (``search``, ``search_aucs``)."""
    check_search(search, auto=True)
    check_auto(search, fusion, augment)
    x = feature_matrix(videos, columns)
    y = as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    augment, test_copies = copies_of(videos, augment), copies_of(videos, test_copies)
    keep = check_mask(train_mask, len(videos))
    out = empty_scores(videos)
    parts = []
    for k, (tr, te) in enumerate(ev.grouped_folds(g, y, n_splits=n_outer, seed=seed)):
        tr = tr[keep[tr]]
        fold_search, picked = _fold_search(search, videos.iloc[tr], columns, seed, k, n_inner, quick, n_jobs)
        parts.append(outer_fold(videos, x, y, g, k, tr, te, columns, augment, test_copies,
                                n_inner, seed, quick, fusion, fold_search, n_jobs, out, extra=picked))
        shown = {key: v for key, v in parts[-1].params.items() if key != "calibration"}
        log(f"  fold {k}: inner AUC {shown['inner_auc']:.3f} with {shown}")
    return assemble(out, parts)


@dataclass
class OuterFold:
    """What one outer fold of :func:`nested_cv` leaves: its chosen parameters, fitted
    model, calibration and scored copies (its held-out videos' scores are written into
    the shared score table)."""
    params: dict
    model: object
    calibration: Calibration
    copies: list[pd.DataFrame]


def empty_scores(videos: pd.DataFrame) -> pd.DataFrame:
    """The out-of-fold score table of ``videos`` before any fold is scored."""
    out = videos[[c for c in STANDARD_COLUMNS if c in videos.columns]].copy()
    out["fold"], out["score"], out["fold_threshold"], out["llr"] = -1, np.nan, np.nan, np.nan
    return out


def outer_fold(videos: pd.DataFrame, x, y, g, k: int, tr: np.ndarray, te: np.ndarray, columns: list[str],
               augment: pd.DataFrame | None, test_copies: pd.DataFrame | None, n_inner: int, seed: int,
               quick: bool, fusion: bool, search: str, n_jobs: int, out: pd.DataFrame,
               extra: dict | None = None) -> OuterFold:
    """Outer fold ``k`` of :func:`nested_cv`: choose and fit on the training rows ``tr``
    (plus their copies in ``augment``), threshold and calibration from the inner
    out-of-fold scores, then score the test rows ``te`` into ``out`` and the test
    videos' copies (``augment``: role "augment", ``test_copies``: role "test")."""
    xt, yt, gt = _with_copies(x, y, g, tr, videos, augment, columns)
    est, p, inner_scores = _choose(xt, yt, gt, columns, n_inner, seed + 1 + k, quick, fusion, search, n_jobs)
    _, thr = eer(yt, inner_scores)
    cal = fit_calibration(inner_scores, yt)  # the training part's own out-of-fold scores only
    copies = []
    for role, c in (("augment", augment), ("test", test_copies)):
        held = _held_copies(c, videos, te, est, columns, k, thr, cal)
        if held is not None:
            copies.append(held.assign(role=role))
    score = est.decision_function(x[te])
    out.iloc[te, out.columns.get_loc("score")] = score
    out.iloc[te, out.columns.get_loc("fold")] = k
    out.iloc[te, out.columns.get_loc("fold_threshold")] = thr
    out.iloc[te, out.columns.get_loc("llr")] = cal.llr(score)
    params = {**p, **(extra or {}), "threshold": float(thr), "calibration": cal.to_dict()}
    return OuterFold(params, est, cal, copies)


def assemble(out: pd.DataFrame, parts: list[OuterFold]) -> CVResult:
    """The :class:`CVResult` of a scored table ``out`` and its outer folds, in fold order."""
    out["verdict"] = verdicts(out["score"], out["fold_threshold"], out["llr"])
    copy_parts = [c for p in parts for c in p.copies]
    copies = pd.concat(copy_parts, ignore_index=True) if copy_parts else None
    return CVResult(out, [p.params for p in parts], [p.model for p in parts], copies,
                    [p.calibration for p in parts])


def check_mask(train_mask: np.ndarray | None, n: int) -> np.ndarray:
    """``train_mask`` as a boolean array of ``n`` (all True when None); ValueError otherwise."""
    keep = np.ones(n, bool) if train_mask is None else np.asarray(train_mask, bool)
    if keep.shape != (n,):
        raise ValueError(f"train_mask needs one value per video ({n}), got shape {keep.shape}")
    return keep


def fit_final(videos: pd.DataFrame, columns: list[str], n_inner: int = 5, seed: int = 0,
              quick: bool = False, fusion: bool = False, augment: pd.DataFrame | None = None,
              search: str = "full", n_jobs: int = 1):
    """The shipped model: the same choice on all videos (and all copies of ``augment``,
    as :func:`nested_cv`), threshold at the EER of its grouped out-of-fold scores, and
    the score-to-LR calibration fitted on those scores.
    ``search="auto"``: the search :func:`choose_search` picks on all videos (fold seed
    :func:`selection_seed`), named in the parameters.
    Returns (estimator, parameters, threshold, those scores, calibration)."""
    check_search(search, auto=True)
    check_auto(search, fusion, augment)
    picked = {}
    if search == AUTO:
        search, aucs = choose_search(videos, columns, selection_seed(seed), quick=quick, n_jobs=n_jobs)
        picked = {"search": search, "search_aucs": aucs}
    x = feature_matrix(videos, columns)
    y = as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    x, y, g = _with_copies(x, y, g, np.arange(len(videos)), videos, copies_of(videos, augment), columns)
    est, params, oof = _choose(x, y, g, columns, n_inner, seed, quick, fusion, search, n_jobs)
    params = {**params, **picked}
    _, thr = eer(y, oof)
    return est, params, float(thr), oof, fit_calibration(oof, y)


def frame_level_scores(frames: pd.DataFrame, cv: CVResult, columns: list[str]) -> pd.DataFrame:
    """Out-of-fold per-frame scores: each frame scored by the model of its video's fold,
    as a one-frame track (see :func:`detector.analysis.single_frame_rows`)."""
    if frames.empty:
        return pd.DataFrame()
    fold_of = dict(zip(cv.scores["path"], cv.scores["fold"]))
    rows = []
    for path, f in frames.groupby("path"):
        k = fold_of.get(path, -1)
        if k < 0:
            continue
        x = feature_matrix(single_frame_rows(f), columns)
        s = cv.fold_models[k].decision_function(x)
        rows.append(f[[c for c in [*STANDARD_COLUMNS, "frame", "track_id"] if c in f.columns]].assign(score=s, fold=k))
    return pd.concat(rows, ignore_index=True)


def rescore(cv: CVResult, videos: pd.DataFrame, columns: list[str]) -> CVResult:
    """The same out-of-fold models scoring other features of the same videos.

    ``videos``: a per-video table of the cross-validated videos made another way, e.g.
    extracted with fewer sampled frames, as the scanner samples them (``train
    --eval-features``).  Each video is scored by the model of its own outer fold, at
    that fold's threshold; a video without a face there gets no score (verdict
    ``no-face``).  Raises ValueError when some cross-validated video is missing.
    """
    out = cv.scores.copy()
    by_path = videos.drop_duplicates("path").set_index("path")
    missing = [p for p in out["path"] if p not in by_path.index]
    if missing:
        raise ValueError(f"{len(missing)} of the {len(out)} training videos are not in the evaluation features "
                         f"(first: {missing[0]}); extract them with the same manifest")
    ev_rows = by_path.loc[out["path"]].reset_index()
    has = ev_rows.get("n_faces", pd.Series(1, index=ev_rows.index)).to_numpy() > 0
    score = np.full(len(out), np.nan)
    for k, model in enumerate(cv.fold_models):
        sel = has & (out["fold"].to_numpy() == k)
        if sel.any():
            score[sel] = model.decision_function(feature_matrix(ev_rows[sel], columns))
    out["score"] = score
    out["llr"] = cv.fold_llrs(score, out["fold"])
    out["verdict"] = verdicts(score, out["fold_threshold"], out["llr"])
    return CVResult(out, cv.params, cv.fold_models, calibrations=cv.calibrations)


def deployed_scores(frames: pd.DataFrame, videos: pd.DataFrame, cv: CVResult, columns: list[str]) -> pd.DataFrame:
    """Out-of-fold video scores by the rule :func:`detector.analysis.analyze` applies: the
    highest score among the tracks seen in enough sampled frames
    (:func:`detector.analysis.scored_tracks`), each track scored by its video's fold model.

    ``cv.scores`` uses the main track only (what the model is trained on); a video with
    several people can score differently here.  Returns ``cv.scores`` with ``score`` (and
    ``llr``, ``verdict``) replaced and the main-track score kept as ``main_track_score``.
    """
    out = cv.scores.copy()
    out["main_track_score"] = out["score"]
    where = {p: i for i, p in enumerate(out["path"])}
    n_sampled = dict(zip(videos["path"], videos.get("n_sampled", pd.Series(DEFAULT_FRAMES, index=videos.index))))
    if frames.empty or "path" not in frames.columns:  # no per-frame table: the main tracks' scores stand
        return out
    for path, f in frames.groupby("path"):
        i = where.get(path)
        if i is None or out["fold"].iat[i] < 0:
            continue
        trs = scored_tracks(track_results(f), int(n_sampled.get(path, DEFAULT_FRAMES)))
        x = feature_matrix(pd.DataFrame([t.features for t in trs]), columns)
        out.iloc[i, out.columns.get_loc("score")] = float(cv.fold_models[int(out["fold"].iat[i])].decision_function(x).max())
    out["llr"] = cv.fold_llrs(out["score"], out["fold"])
    out["verdict"] = verdicts(out["score"], out["fold_threshold"], out["llr"])
    return out


def subset_aucs(scores: pd.DataFrame) -> dict:
    """AUC and EER of the out-of-fold scores for the slices the issue asks about."""
    real = scores["label"] == "real"
    out = {}
    slices = {
        "face_swap_vs_real": scores["method"].isin(["Deepfakes", "FaceSwap"]),
        "reenactment_vs_real": scores["method"].isin(["Face2Face", "NeuralTextures"]),
    }
    for name, fake in slices.items():
        for comp in ("all", "c23", "c40"):
            sel = (real | fake) if comp == "all" else ((real | fake) & (scores["compression"] == comp))
            d = scores[sel & scores["score"].notna()]
            key = name if comp == "all" else f"{name}_{comp}"
            if d["label"].nunique() == 2:
                sm = ev.summarize(d["label"], d["score"], n_boot=0)
                out[key] = {"auc": sm["auc"], "eer": sm["eer"], "n_real": int((d["label"] == "real").sum()),
                            "n_fake": int((d["label"] == "fake").sum())}
    return out
