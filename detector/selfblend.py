"""Self-blended training data at dataset scale, and training on it.

``make_self_blended(manifest, out_dir)`` writes, for every genuine video of a manifest,
a self-blended fake (:func:`detector.synthesis.self_blended_video`: a span from the
middle of the video, every face blended with a transformed copy of itself, encoded
once as H.264 at about the source's quality, in the source's chroma subsampling) and,
by default, a *control*: the same frames without blending, encoded at the same CRF.
The control is labelled real: with it, genuine and fake training videos share their
compression history (decoded, then encoded once more) and differ only by the blend, so
a model cannot learn "re-encoded = fake" (FF++'s own fakes are encoded once, like its
real videos).

Output layout (resumable: a video whose outputs and record exist is not made again,
unless the record is of another :data:`detector.synthesis.SELF_BLEND_VERSION`)::

    out_dir/fake/<key>.mp4      self-blended fakes   (label fake, method self-blended)
    out_dir/control/<key>.mp4   re-encoded controls  (label real, method re-encoded-real)
    out_dir/records/<key>.json  what was done: source, span, CRF, blend parameters
    out_dir/failures.csv        sources that could not be used (e.g. no face), with the reason
    out_dir/manifest.csv        the generated videos as a manifest

Every generated video keeps its source's ``group`` (so grouped CV never splits a fake
from its source) and ``compression``.

``train_self_blended(features_dir, out_dir, mode)`` is ``deepfake-detector train
--self-blended only|add``: self-blend the real videos of an extracted features folder,
extract the generated videos' features with the same frame count, write a combined
features folder and train on it with :func:`detector.training.train`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from .workers import spawn_pool

METHOD = "self-blended"
CONTROL_METHOD = "re-encoded-real"
DEFAULT_MAX_FRAMES = 96


def video_key(abs_path: str) -> str:
    """File stem of the generated videos of one source (unique per source path)."""
    return Path(abs_path).stem[:40] + "-" + hashlib.sha1(str(abs_path).encode()).hexdigest()[:10]


def video_seed(abs_path: str, seed: int) -> int:
    """Per-video seed: stable whatever the order or the subset of videos processed."""
    return int(hashlib.sha1(f"{seed}:{abs_path}".encode()).hexdigest()[:8], 16)


def _job(abs_path: str, fake: str, control: str | None, max_frames: int, seed: int,
         compression: str) -> tuple[str, dict | None, str | None]:
    from .faces import limit_threads
    from .synthesis import self_blended_video

    limit_threads()
    try:
        rec = self_blended_video(abs_path, fake, max_frames=max_frames, seed=seed, compression=compression,
                                 control_dst=control)
    except Exception as e:  # recorded, never fatal
        return abs_path, None, f"{type(e).__name__}: {e}"
    return abs_path, rec, None


def _rows(source: dict, rec: dict, out: Path) -> list[dict]:
    base = {c: source.get(c) for c in ("group", "compression", "dataset")}
    extra = {"source_path": source["abs_path"], "crf": rec["crf"], "span_start": rec["start"],
             "span_frames": rec["n_frames"], "blend_seed": rec["seed"]}
    rows = [{"path": str(Path(rec["dst"]).relative_to(out)), "label": "fake", **base, "method": METHOD,
             "abs_path": rec["dst"], **extra}]
    if rec.get("control"):
        rows.append({"path": str(Path(rec["control"]).relative_to(out)), "label": "real", **base,
                     "method": CONTROL_METHOD, "abs_path": rec["control"], **extra})
    return rows


#: Reason recorded in ``failures.csv`` when a worker process died (retried by a re-run).
WORKER_DIED = "worker died"


def make_self_blended(manifest_df: pd.DataFrame, out_dir: str | os.PathLike, max_frames: int = DEFAULT_MAX_FRAMES,
                      seed: int = 0, workers: int | None = 2, controls: bool = True,
                      progress: bool = False) -> pd.DataFrame:
    """Self-blended fakes (and controls) of the genuine videos of ``manifest_df``.

    ``manifest_df`` needs ``abs_path`` and ``label`` (only ``real`` rows are used) and
    ideally ``group``, ``compression``, ``dataset``.  Runs ``workers`` processes (spawn
    context) over videos; videos already made are skipped, and so are sources that
    failed before (listed in ``failures.csv``), unless their worker process died.

    Returns the manifest of the generated videos (``path`` relative to ``out_dir``,
    ``abs_path``, label, group, method, compression, dataset, and source_path, crf,
    span_start, span_frames, blend_seed), in the order of the sources; it is also
    written to ``out_dir/manifest.csv``.
    """
    from .synthesis import SELF_BLEND_VERSION

    out = Path(out_dir)
    for sub in ("fake", "records") + (("control",) if controls else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    df = manifest_df.copy()
    if "abs_path" not in df.columns:
        df["abs_path"] = df["path"]
    for col, default in (("group", None), ("compression", "unknown"), ("dataset", "unknown")):
        if col not in df.columns:
            df[col] = [Path(p).stem for p in df["abs_path"]] if default is None else default
    sources = [r for r in df.to_dict("records") if str(r.get("label")) == "real"]

    def paths(r):
        k = video_key(r["abs_path"])
        return (out / "fake" / f"{k}.mp4", (out / "control" / f"{k}.mp4") if controls else None,
                out / "records" / f"{k}.json")

    def done(r) -> bool:
        fake, ctl, rec = paths(r)
        if not (fake.exists() and rec.exists() and (ctl is None or ctl.exists())):
            return False
        made = json.loads(rec.read_text())
        if made.get("version") != SELF_BLEND_VERSION:  # made by an older synthesis: make it again
            return False
        return ctl is None or bool(made.get("control"))

    fail_path = out / "failures.csv"
    failures = pd.read_csv(fail_path).to_dict("records") if fail_path.exists() else []
    # A source whose synthesis failed (no face, unreadable...) is not tried again; one whose
    # worker process died (killed, out of memory, a broken pool) is: a re-run resumes it.
    failures = [f for f in failures if not str(f.get("reason", "")).startswith(WORKER_DIED)]
    failed_before = {f["abs_path"] for f in failures}
    todo = [r for r in sources if not done(r) and r["abs_path"] not in failed_before]
    if todo:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(sources), initial=len(sources) - len(todo), unit="video", file=sys.stderr)
        # spawned workers that die with this process; no max_tasks_per_child: on CPython
        # 3.11 the pool hung when a worker retired.
        with spawn_pool(workers or 2) as pool:
            futs = {}
            for r in todo:
                fake, ctl, _ = paths(r)
                futs[pool.submit(_job, r["abs_path"], str(fake), None if ctl is None else str(ctl), max_frames,
                                 video_seed(r["abs_path"], seed), str(r.get("compression")))] = r
            for fut in as_completed(futs):
                r = futs[fut]
                try:
                    path, rec, err = fut.result()
                except Exception as e:  # a worker died; a re-run resumes
                    path, rec, err = r["abs_path"], None, f"{WORKER_DIED}: {e}"
                if err is not None:
                    failures.append({"abs_path": path, "reason": err})
                    pd.DataFrame(failures).to_csv(fail_path, index=False)
                else:
                    rp = paths(r)[2]
                    tmp = rp.with_suffix(".tmp")
                    tmp.write_text(json.dumps(rec, indent=1))
                    os.replace(tmp, rp)  # the record comes last: it marks the video as done
                if bar:
                    bar.update(1)
        if bar:
            bar.close()
        if fail_path.exists():  # the retried sources that worked leave the list
            pd.DataFrame(failures, columns=["abs_path", "reason"]).to_csv(fail_path, index=False)
    rows = []
    for r in sources:
        if done(r):
            rows.extend(_rows(r, json.loads(paths(r)[2].read_text()), out))
    cols = ["path", "label", "group", "method", "compression", "dataset", "abs_path", "source_path", "crf",
            "span_start", "span_frames", "blend_seed"]
    result = pd.DataFrame(rows, columns=cols)
    result.drop(columns=["abs_path"]).to_csv(out / "manifest.csv", index=False)
    return result


# --------------------------------------------------------------------------
# Training with self-blended fakes
# --------------------------------------------------------------------------


def round_dirs(sbi_dir: str | os.PathLike, k: int, n_frames: int) -> tuple[Path, Path]:
    """(videos folder, features folder) of self-blending round ``k`` under ``sbi_dir``:
    ``videos`` and ``features_v<FEATURES_VERSION>_f<n_frames>`` for round 0, with
    ``_r<k>`` appended for the others."""
    from .features import FEATURES_VERSION

    sdir, suffix = Path(sbi_dir), "" if k == 0 else f"_r{k}"
    return sdir / f"videos{suffix}", sdir / f"features_v{FEATURES_VERSION}_f{n_frames}{suffix}"


def self_blended_features(features_dir: str | os.PathLike, sbi_dir: str | os.PathLike | None = None,
                          workers: int | None = 2, seed: int = 0, controls: bool = True,
                          max_frames: int = DEFAULT_MAX_FRAMES, progress: bool = True, log=print,
                          rounds: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Self-blend the real videos of an extracted features folder and extract the
    generated videos' features with the same frame count.

    ``rounds``: how many self-blended fakes (and controls) to make of each real video,
    each round with other random blend parameters (round k uses seed ``seed + k``).
    Round k's videos and features go to :func:`round_dirs` of ``sbi_dir`` (default
    ``features_dir/self_blended``; extraction refuses to mix feature versions).
    Returns (frames, videos, features folder of round 0) of all the generated videos.
    """
    from .extraction import extract, features_frames, load_features

    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, not {rounds}")
    fdir = Path(features_dir)
    n_frames = int(features_frames(fdir) or 16)
    _, videos = load_features(fdir)
    if "abs_path" not in videos.columns:
        raise ValueError(f"{fdir}/videos.parquet has no abs_path column: re-extract it with 'deepfake-detector extract'")
    reals = videos[videos["label"] == "real"]
    missing = [p for p in reals["abs_path"] if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"{len(missing)} real video(s) of {fdir} not found, e.g. {missing[0]}")
    if reals.empty:
        raise ValueError(f"no real video in {fdir}: nothing to self-blend")
    sdir = Path(sbi_dir) if sbi_dir else fdir / "self_blended"
    parts = []
    for k in range(rounds):
        vdir, gdir = round_dirs(sdir, k, n_frames)
        log(f"self-blending {len(reals)} real videos -> {vdir}" + (f" (round {k + 1} of {rounds})" if rounds > 1 else ""))
        gen = make_self_blended(reals, vdir, max_frames=max_frames, seed=seed + k, workers=workers,
                                controls=controls, progress=progress)
        if gen.empty:
            raise ValueError(f"no self-blended video could be made (see {vdir / 'failures.csv'})")
        log(f"extracting features of {len(gen)} generated videos ({n_frames} frames each) -> {gdir}")
        parts.append(extract(gen, gdir, n_frames=n_frames, workers=workers, progress=progress,
                             manifest_path=str(vdir / "manifest.csv")))
    nonempty = [f for f, _ in parts if len(f)]
    frames = pd.concat(nonempty, ignore_index=True) if nonempty else parts[0][0]
    gvideos = pd.concat([v for _, v in parts], ignore_index=True)
    return frames, gvideos, round_dirs(sdir, 0, n_frames)[1]


def combine_features(parts: list[tuple[pd.DataFrame, pd.DataFrame]], out_dir: str | os.PathLike,
                     n_frames: int, note: dict | None = None) -> Path:
    """Write a features folder (frames.parquet, videos.parquet, extract.json) holding
    the rows of several extracted folders, for :func:`detector.training.train`."""
    from .features import FEATURES_VERSION

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = pd.concat([f for f, _ in parts if len(f)], ignore_index=True)
    videos = pd.concat([v for _, v in parts if len(v)], ignore_index=True)
    for name, t in (("frames", frames), ("videos", videos)):
        for c in t.columns:  # parquet needs one type per column (extra manifest columns differ)
            if t[c].dtype == object and c not in ("box", "landmarks"):
                t[c] = t[c].map(lambda v: v if v is None or isinstance(v, (str, bytes, list)) else str(v))
        tmp = out / f"{name}.parquet.tmp"
        t.to_parquet(tmp, index=False)
        os.replace(tmp, out / f"{name}.parquet")
    (out / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": n_frames,
                                                  "manifest": None, **(note or {})}))
    return out


#: Columns offered by ``train --self-blended MODE`` unless ``--columns`` says otherwise.
#: Trained on self-blended fakes alone, the model learns whatever separates them from
#: their controls; only the block-grid strengths (``grid``) carry over evenly to real face
#: swaps (with every column the model learns the blend's smoothing and ranks FaceSwap fakes
#: as genuine), and their track means alone (``grid-mean``) leave the search the least to
#: over-fit.  That column set was chosen by looking at FF++ (docs/experiments.md,
#: "Self-blended training"), so for FF++ it is not a nested choice; for a platform's own
#: videos it is prior knowledge.  ``add`` (real fakes in training too) keeps every column
#: for the search.
DEFAULT_COLUMNS = {"only": "grid-mean", "add": "all"}
#: Self-blended fakes made of each real video by ``train --self-blended`` (rounds), each
#: round with other random blend parameters.  A second round makes the self-blended-only
#: model detect real face swaps better (docs/experiments.md, "More self-blended fakes per
#: genuine video"); every round costs one more synthesis and extraction of the real videos.
DEFAULT_ROUNDS = 2


def train_self_blended(features_dir: str, out_dir: str, mode: str = "only", sbi_dir: str | None = None,
                       workers: int | None = 2, seed: int = 0, quick: bool = False, name: str | None = None,
                       version: str = "1", command: str | None = None, log=print,
                       drop: tuple[str, ...] = (), columns: str | None = None, rounds: int | None = None):
    """``deepfake-detector train --self-blended only|add``.

    ``only``: train on the real videos of ``features_dir`` + their self-blended fakes
    (and controls), dropping the folder's own fakes: a detector from genuine videos alone.
    ``add``: keep the folder's own fakes as well.  ``drop``: feature families left out
    (as ``train --drop``).  ``columns``: the columns offered (as ``train --columns``);
    None means :data:`DEFAULT_COLUMNS` of the mode: ``grid-mean`` for ``only``, all for ``add``.
    ``rounds``: self-blended fakes per real video (:func:`self_blended_features`; None:
    :data:`DEFAULT_ROUNDS`).
    Returns the saved model.
    """
    from .extraction import features_frames, load_features
    from .features import FEATURES_VERSION
    from .training import train

    if mode not in ("only", "add"):
        raise ValueError(f"--self-blended must be 'only' or 'add', not {mode!r}")
    if columns is None:
        columns = DEFAULT_COLUMNS[mode]
    rounds = DEFAULT_ROUNDS if rounds is None else int(rounds)
    fdir = Path(features_dir)
    n_frames = int(features_frames(fdir) or 16)
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
                 drop=tuple(drop), columns=columns)


# --------------------------------------------------------------------------
# Helpers for the accuracy measurements (benchmarks/self_blended.py, robustness.py)
# --------------------------------------------------------------------------


def grid_search(videos: pd.DataFrame, columns: list[str], seed: int = 0, quick: bool = False, n_inner: int = 4,
                search: str = "full"):
    """The training machinery of :mod:`detector.training` (same pipeline and grid,
    inner CV grouped by ``group``, scored by ROC AUC) fitted on ``videos``: every
    choice is made on these (training) videos only.  ``search``: the search space
    (:data:`detector.training.SEARCHES`).  Returns the fitted GridSearchCV."""
    from sklearn.model_selection import GridSearchCV

    from . import evaluation as ev
    from .training import feature_matrix, make_pipeline, param_grid

    x = feature_matrix(videos, columns)
    y = ev.as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    n_inner = min(n_inner, len(np.unique(g)))
    inner = ev.grouped_folds(g, y, n_splits=n_inner, seed=seed)
    pipe, grid = make_pipeline(columns, search), param_grid(x.shape[1], quick, columns, search)
    gs = GridSearchCV(pipe, grid, scoring="roc_auc", cv=inner, n_jobs=1, refit=True,
                      error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(x, y)
    return gs


def decision(model, videos: pd.DataFrame, columns: list[str]) -> np.ndarray:
    from .training import feature_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.decision_function(feature_matrix(videos, columns))


def auc(labels, scores) -> float | None:
    """ROC AUC (fake positive) or None when a class is missing."""
    from . import evaluation as ev

    y = ev.as_binary(pd.Series(labels).to_numpy())
    s = np.asarray(scores, float)
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    if len(np.unique(y)) < 2:
        return None
    return ev.summarize(y, s, n_boot=0)["auc"]
