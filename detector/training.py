"""Model folders: extracted features in, a trained, evaluated and documented model out.

``deepfake-detector train --features DIR --out models/NAME`` (:func:`train`):

1. the feature columns offered to the search (``--drop``, ``--columns``:
   :func:`detector.search.select_columns`);
2. with ``--augment DIR``, re-encoded copies of the training videos
   (:func:`detector.degrade.degraded_features`, made if missing), for the training parts only;
3. the training procedure of :mod:`detector.crossval`: a nested grouped CV for honest
   out-of-fold scores (and likelihood ratios, calibrated inside the folds), then the
   same choices on all videos for the shipped model, with its calibration;
4. ``<out>/evaluation/``: out-of-fold scores, ROC/DET points and metrics
   (:func:`write_evaluation`); then the model file and its card (:mod:`detector.card`,
   :func:`detector.model.save_model`), and ``<out>/genuine_reference.json``, where the
   model's columns sit on the genuine videos (:mod:`detector.reference`, for the heat map).

``train --self-blended only|add`` (:func:`train_self_blended`) self-blends the real
videos first (:mod:`detector.selfblend`) and trains on the combined features.
``deepfake-detector evaluate`` (:func:`evaluate_manifest`) scores a labelled manifest
with a fixed model (held-out evaluation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import degrade
from . import evaluation as ev
from .analysis import single_frame_rows
from .calibration import verdicts
from .card import model_card, recipe, training_data
from .crossval import (CVResult, copies_of, deployed_scores, fit_final, frame_level_scores, nested_cv, rescore,
                       selection_seed, subset_aucs)
from .datasets import STANDARD_COLUMNS, read_manifest
from .decode import DEFAULT_FRAMES
from .extraction import (aggregated_columns, extract, extract_stamp, features_frames, features_sampling,
                         load_features)
from .features import FEATURES_VERSION, family_of
from .metrics import CONVENTION, as_binary, det_curve_points, metrics_at_threshold, roc_points
from .model import DetectorModel, load_model, save_model
from .procedure import choose_procedure, nested_cv_by_worst
from .reference import write_genuine_reference
from .search import COLUMN_SETS, check_auto, check_search, describe_search, select_columns
from .selfblend import DEFAULT_COLUMNS, DEFAULT_ROUNDS, METHOD, combine_features, self_blended_features


def offered_columns(videos: pd.DataFrame, drop: tuple[str, ...] = (), spec: str | None = None) -> list[str]:
    """The aggregated feature columns of ``videos`` offered to the search: those of the
    families not in ``drop``, then kept by the column spec ``spec``
    (:func:`detector.search.select_columns`).  Raises ``ValueError`` when none is left."""
    columns = [c for c in aggregated_columns(videos) if family_of(c) not in set(drop)]
    if not columns:
        raise ValueError(f"no feature columns left after dropping {list(drop)}")
    return select_columns(columns, spec)


def _augmentation(features_dir: str, augment: str | None, usable: pd.DataFrame, columns: list[str],
                  workers: int | None, log) -> tuple[pd.DataFrame | None, dict | None]:
    """The re-encoded copies of the ``usable`` videos (made in ``augment`` if missing) and
    the card's note on them; (None, None) without ``augment``."""
    if not augment:
        return None, None
    copies = copies_of(usable, degrade.degraded_features(features_dir, augment, workers=workers, log=log))
    missing = [c for c in columns if c not in copies.columns]
    if missing:
        raise ValueError(f"the degraded copies in {augment} lack the columns {missing[:5]}")
    note = {"dir": str(augment), "conditions": {k: v._asdict() for k, v in degrade.CONDITIONS.items()},
            "span_frames": degrade.SPAN, "n_copies": int(len(copies)),
            "note": "re-encoded copies of the training videos, in the training parts only"}
    log(f"augmentation: {len(copies)} degraded copies of {copies['source_path'].nunique()} videos ({augment})")
    return copies, note


def _frames_note(features_dir: str, eval_features: str | None) -> dict:
    """The card's ``frames``: frames sampled per video in training and in evaluation."""
    n_train = features_frames(features_dir)
    return {"training": n_train, "evaluation": (features_frames(eval_features) if eval_features else None) or n_train,
            "evaluation_features": str(eval_features) if eval_features else None}


def train(features_dir: str, out_dir: str, name: str | None = None, version: str = "1", seed: int = 0,
          quick: bool = False, command: str | None = None, log=print, fusion: bool = False,
          drop: tuple[str, ...] = (), columns: str | None = None,
          eval_features: str | None = None, augment: str | None = None, workers: int | None = 2,
          search: str = "full", n_jobs: int = 1, by_worst: bool = False) -> DetectorModel:
    """Fit, cross-validate, evaluate and save a model folder (see the module docstring).

    ``drop``: feature families left out; ``columns``: a column spec for
    :func:`detector.search.select_columns` (``grid``, a regular expression, or None/``all``);
    ``eval_features``: features of the same videos extracted another way (typically
    with the scanner's 16 frames when ``features_dir`` has more): the out-of-fold models
    are trained on ``features_dir`` and the evaluation scores these
    (:func:`detector.crossval.rescore`), so the reported numbers are those of the
    deployed setting; ``augment``: a folder for degraded copies of the training videos
    (:func:`detector.degrade.degraded_features`, made there if missing with ``workers``
    processes), added to the training parts only; ``search``: the inner search space
    (:data:`detector.search.SEARCHES`), or ``auto`` (chosen among
    :data:`detector.search.DESIGN_SEARCHES` by a nested CV inside every training part,
    and on all videos for the model; about 8x the training time); ``n_jobs``: parallel
    fits of the grid searches (the same result); ``by_worst`` (needs ``augment``): the
    column set is chosen among :data:`detector.procedure.CANDIDATES` (applied to the
    offered columns) by its worst condition (originals and each re-encode), inside every
    outer training part for the evaluation (:func:`detector.procedure.nested_cv_by_worst`)
    and on all videos for the model (:func:`detector.procedure.choose_procedure`)."""
    check_search(search, auto=True)
    check_auto(search, fusion, augment)
    if eval_features and features_sampling(eval_features) != features_sampling(features_dir):
        raise ValueError(f"{eval_features} samples frames {features_sampling(eval_features)!r}, {features_dir} "
                         f"{features_sampling(features_dir)!r}: evaluate on features of the training sampling")
    t0 = time.time()
    frames, videos = load_features(features_dir)
    spec = None if columns in (None, "all") else columns
    offered = offered_columns(videos, drop, spec)
    usable = videos[videos.get("n_faces", 0) > 0].reset_index(drop=True)
    skipped = videos[~videos.index.isin(videos.index[videos.get("n_faces", 0) > 0])]
    log(f"{len(usable)} videos with faces ({len(skipped)} without), {len(offered)} features")
    copies, aug_note = _augmentation(features_dir, augment, usable, offered, workers, log)
    if by_worst and copies is None:
        raise ValueError("by_worst (--by-worst) needs augment (--augment DIR): the worst condition is a re-encode")
    log("nested grouped CV" + (", the column set chosen by the worst condition in every fold:" if by_worst else ":"))
    model_columns, picked = offered, {}
    if by_worst:
        cv = nested_cv_by_worst(usable, offered, copies, seed=seed, search=search, n_jobs=n_jobs, log=log)
        best, found = choose_procedure(usable, offered, copies, seed=selection_seed(seed), search=search,
                                       n_jobs=n_jobs)
        model_columns, picked = best.columns_of(offered), {"procedure": best.name, "procedure_aucs": found}
    else:
        cv = nested_cv(usable, offered, seed=seed, quick=quick, log=log, fusion=fusion, augment=copies,
                       search=search, n_jobs=n_jobs)
    pipe, params, thr, _, calibration = fit_final(usable, model_columns, seed=seed, quick=quick, fusion=fusion,
                                                  augment=copies, search=search, n_jobs=n_jobs)
    params = {**params, **picked}
    log(f"final model: {params}, threshold {thr:+.4f}, LR calibration {calibration}")
    train_cv, scored_videos = None, usable
    if eval_features:  # evaluate the same out-of-fold models on the deployed setting's features
        frames, scored_videos = load_features(eval_features)
        train_cv, cv = cv, rescore(cv, scored_videos, offered)
    frames_note = _frames_note(features_dir, eval_features)
    out = Path(out_dir)
    metrics = write_evaluation(out / "evaluation", cv, skipped, frames, scored_videos, offered, thr, frames_note,
                               train_cv)
    card = model_card(
        model_text="Late fusion of per-family SVMs" if fusion else describe_search(params.get("search", search)),
        training=training_data(features_dir, extract_stamp(features_dir).get("manifest"), videos, usable),
        parameters=params, search=search, columns=model_columns,
        column_set={"spec": spec or "all", "pattern": COLUMN_SETS.get(spec, spec), "n_offered": len(offered)},
        augmentation=aug_note, metrics=metrics, frames=frames_note,
        command=command or recipe(features_dir, out_dir, seed, quick, name, version, fusion, drop, spec,
                                  eval_features, augment, search, by_worst=by_worst,
                                  stamps={d: extract_stamp(d) for d in (features_dir, eval_features) if d}),
        seconds=time.time() - t0, sampling=features_sampling(features_dir))
    model = DetectorModel(pipe, model_columns, thr, name or out.name, version, card, calibration=calibration)
    save_model(model, out, card=card)
    # the heat map's reference: the genuine videos as deployed (the evaluation's features when given)
    write_genuine_reference(out, scored_videos, model_columns, model.sha256, eval_features or features_dir)
    return model


def _degraded_metrics(copy_scores: pd.DataFrame) -> dict:
    """AUC, EER, FAR / FRR at the folds' thresholds and slices, per re-encoding condition,
    of the held-out videos' copies."""
    out = {}
    for cond, d in copy_scores.groupby("condition"):
        y = as_binary(d["label"])
        summ = ev.summarize(y, d["score"], n_boot=0) if len(set(y)) == 2 else {}
        at = metrics_at_threshold(y, d["score"] - d["fold_threshold"], 0.0)
        lr = ev.llr_summary(y, d["llr"]) if "llr" in d.columns and d["llr"].notna().all() else {}
        out[str(cond)] = {"auc": summ.get("auc"), "eer": summ.get("eer"), "cllr": lr.get("cllr"),
                          "cllr_min": lr.get("cllr_min"), "n": int(len(d)),
                          "far": at.get("far"), "frr": at.get("frr"), "subsets": subset_aucs(d)}
    return out


def write_evaluation(evd: Path, cv: CVResult, skipped: pd.DataFrame, frames: pd.DataFrame, videos: pd.DataFrame,
                     columns: list[str], threshold: float, frames_note: dict,
                     train_cv: CVResult | None = None) -> dict:
    """Write a model folder's ``evaluation/`` (``evd``): the out-of-fold video scores of
    ``cv`` (``skipped`` videos, without a face, listed unscored), frame scores, scores by
    the deployed rule (``frames`` and ``videos``: the tables scored), ROC and DET points,
    the held-out copies' scores, ``train_cv``'s scores when the evaluation used other
    features, and ``metrics.json``.  Returns the metrics written there."""
    evd.mkdir(parents=True, exist_ok=True)
    scores = cv.scores
    if len(skipped):  # no face: no score, kept so nothing silently disappears
        miss = skipped[[c for c in STANDARD_COLUMNS if c in skipped.columns]].assign(
            fold=-1, score=np.nan, fold_threshold=np.nan, verdict="no-face")
        scores = pd.concat([scores, miss], ignore_index=True)
    scores.to_csv(evd / "scores.csv", index=False)
    fscores = frame_level_scores(frames, cv, columns)
    if len(fscores):
        fscores.to_csv(evd / "frame_scores.csv", index=False)
    scored = scores[scores["score"].notna()]
    # The same out-of-fold models, videos scored the way analyze() scores them (highest qualifying track).
    deployed = deployed_scores(frames, videos, cv, columns)
    deployed.to_csv(evd / "scores_deployed_rule.csv", index=False)
    dep_eval = ev.with_cllr(ev.evaluate_table(deployed, threshold=threshold), deployed)
    dep_eval["n_videos_differing"] = int((deployed["score"] != deployed["main_track_score"]).sum())
    y = as_binary(scored["label"])
    roc_points(y, scored["score"]).to_csv(evd / "roc.csv", index=False)
    det_curve_points(y, scored["score"]).to_csv(evd / "det.csv", index=False)
    metrics = {
        "convention": CONVENTION,
        "threshold": threshold,
        "video": ev.with_cllr(ev.evaluate_table(scores, threshold=threshold), scores),
        "video_at_fold_thresholds": metrics_at_threshold(y, scored["score"] - scored["fold_threshold"], 0.0),
        "video_deployed_rule": dep_eval,
        "frame": ev.evaluate_table(fscores, threshold=threshold, by=("method", "compression")) if len(fscores) else None,
        "subsets": subset_aucs(scores),
        "folds": cv.params,
        "protocol": "nested grouped 5-fold CV (outer) x grouped 4-fold grid search (inner), split by 'group'",
        "llr_protocol": "log10 LRs (column llr): each outer fold's scores calibrated by lir's logistic calibrator "
                        "with ELUB bounds, fitted on the inner out-of-fold scores of that fold's training part; "
                        "cllr / cllr_min by lir.metrics",
        "frames": frames_note,
    }
    if cv.copy_scores is not None:  # the held-out videos' re-encoded copies, by condition
        cv.copy_scores.to_csv(evd / "scores_degraded_copies.csv", index=False)
        metrics["degraded_copies"] = _degraded_metrics(cv.copy_scores)
    if train_cv is not None:
        train_cv.scores.to_csv(evd / "scores_training_frames.csv", index=False)
        metrics["video_training_frames"] = ev.with_cllr(ev.evaluate_table(train_cv.scores, threshold=threshold),
                                                        train_cv.scores)
        metrics["subsets_training_frames"] = subset_aucs(train_cv.scores)
    (evd / "metrics.json").write_text(json.dumps(ev.to_jsonable(metrics), indent=2))
    return metrics


def train_self_blended(features_dir: str, out_dir: str, mode: str = "only", sbi_dir: str | None = None,
                       workers: int | None = 2, seed: int = 0, quick: bool = False, name: str | None = None,
                       version: str = "1", command: str | None = None, log=print,
                       drop: tuple[str, ...] = (), columns: str | None = None, rounds: int | None = None,
                       n_jobs: int = 1) -> DetectorModel:
    """``deepfake-detector train --self-blended only|add``.

    ``only``: train on the real videos of ``features_dir`` + their self-blended fakes
    (and controls), dropping the folder's own fakes: a detector from genuine videos alone.
    ``add``: keep the folder's own fakes as well.  ``drop``: feature families left out
    (as ``train --drop``).  ``columns``: the columns offered (as ``train --columns``);
    None means :data:`detector.selfblend.DEFAULT_COLUMNS` of the mode: ``grid-mean`` for
    ``only``, all for ``add``.  ``rounds``: self-blended fakes per real video
    (:func:`detector.selfblend.self_blended_features`; None:
    :data:`detector.selfblend.DEFAULT_ROUNDS`).  ``n_jobs``: as :func:`train`.
    Returns the saved model.
    """
    if mode not in ("only", "add"):
        raise ValueError(f"--self-blended must be 'only' or 'add', not {mode!r}")
    if columns is None:
        columns = DEFAULT_COLUMNS[mode]
    rounds = DEFAULT_ROUNDS if rounds is None else int(rounds)
    fdir = Path(features_dir)
    n_frames = int(features_frames(fdir) or DEFAULT_FRAMES)
    sframes, svideos, _ = self_blended_features(fdir, sbi_dir, workers=workers, seed=seed, log=log, rounds=rounds)
    frames, videos = load_features(fdir)
    if mode == "only":
        videos = videos[videos["label"] == "real"]
        if len(frames) and "label" in frames.columns:
            frames = frames[frames["label"] == "real"]
    sdir = Path(sbi_dir) if sbi_dir else fdir / "self_blended"
    cdir = sdir / f"combined_{mode}_v{FEATURES_VERSION}_f{n_frames}"
    combine_features([(frames, videos), (sframes, svideos)], cdir, n_frames,
                     note={"combined_from": [str(fdir), str(sdir)], "self_blended": mode})
    n_sbi = int((svideos["method"] == METHOD).sum())
    log(f"training on {len(videos)} videos of {fdir} ({mode}) + {len(svideos)} generated "
        f"({n_sbi} self-blended fakes, {len(svideos) - n_sbi} re-encoded controls) -> {cdir}")
    cmd = command or (f"deepfake-detector train --features {features_dir} --out {out_dir} --self-blended {mode}"
                      + (f" --self-blended-dir {sbi_dir}" if sbi_dir else "") + f" --self-blended-rounds {rounds}"
                      + f" --seed {seed}"
                      + (" --quick" if quick else "") + "".join(f" --drop {f}" for f in drop)
                      + (f" --columns '{columns}'" if columns != "all" else ""))
    return train(str(cdir), out_dir, name=name, version=version, seed=seed, quick=quick, command=cmd, log=log,
                 drop=tuple(drop), columns=columns, n_jobs=n_jobs)


def evaluate_manifest(manifest_csv: str, model_dir: str | None, out_dir: str, features_dir: str | None = None,
                      n_frames: int = DEFAULT_FRAMES, workers: int | None = None) -> dict:
    """Score every video of a labelled manifest with a fixed model (held-out evaluation):
    features extracted (or reused) in ``features_dir`` (default ``out_dir/features``);
    ``scores.csv``, ``frame_scores.csv``, ROC / DET points and ``metrics.json`` written to
    ``out_dir``.  Returns the metrics."""
    model = load_model(model_dir)
    m = read_manifest(manifest_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fdir = Path(features_dir) if features_dir else out / "features"
    frames, videos = extract(m, fdir, n_frames=n_frames, workers=workers)
    has = videos.get("n_faces", pd.Series(0, index=videos.index)) > 0
    videos["score"], videos["llr"] = np.nan, np.nan
    if has.any():
        videos.loc[has, "score"] = model.decision_function(videos[has])
        if model.calibration is not None:
            videos.loc[has, "llr"] = model.llr(videos.loc[has, "score"])
    videos["verdict"] = verdicts(videos["score"], model.threshold, videos["llr"])
    cols = [c for c in STANDARD_COLUMNS + ["score", "llr", "verdict"] if c in videos.columns]
    videos[cols].to_csv(out / "scores.csv", index=False)
    result = {"model": model.summary(), "threshold": model.threshold,
              "video": ev.with_cllr(ev.evaluate_table(videos[cols], threshold=model.threshold), videos[cols])}
    if len(frames):
        fs = frames.assign(score=model.decision_function(single_frame_rows(frames)))
        fs[[c for c in STANDARD_COLUMNS + ["frame", "track_id", "score"] if c in fs.columns]].to_csv(
            out / "frame_scores.csv", index=False)
        result["frame"] = ev.evaluate_table(fs, threshold=model.threshold)
    s = videos[videos["score"].notna()]
    if s["label"].nunique() == 2:
        y = as_binary(s["label"])
        roc_points(y, s["score"]).to_csv(out / "roc.csv", index=False)
        det_curve_points(y, s["score"]).to_csv(out / "det.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(ev.to_jsonable(result), indent=2))
    return result
