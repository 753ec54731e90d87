"""Degraded copies for training: the re-encodings a platform applies to uploads.

A face swap leaves its clearest trace in the compression history (the swapped face lost
the block grid the rest of the frame keeps).  A platform that re-encodes an upload lays a
fresh grid over everything and that trace fades (docs/experiments.md, "Re-encoding
destroys the main cue").  ``deepfake-detector train --augment DIR`` therefore adds
re-encoded copies of the training videos to the training data (never to the evaluation: a
copy goes to training only in the folds where its source does, see
:func:`detector.crossval.nested_cv`).

``make_degraded(videos, out_dir)`` writes, for every video of a table (a manifest read by
:func:`detector.datasets.read_manifest`, or the ``videos`` table of a features folder),
copies of its first :data:`SPAN` frames re-encoded as H.264 in 4:2:0 (PyAV / libx264,
preset veryfast, as platforms encode) under each condition of :data:`CONDITIONS`.  Each
copy keeps its source's label, group, method and compression, and names its source in
``source_path`` and its condition in ``condition``.

Layout (resumable: a copy is written under a temporary name and renamed when complete, so
a killed run never leaves a half-written file, and existing copies are not made again)::

    out_dir/<condition>/<key>.mp4   the copies
    out_dir/manifest.csv             the copies as a manifest (deepfake-detector extract reads it)
    out_dir/failures.csv             sources that could not be copied, with the reason
"""

from __future__ import annotations

import os
from concurrent.futures import as_completed
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .datasets import LABEL_COLUMNS, read_manifest
from .decode import DEFAULT_FRAMES
from .encode import VideoEncoder
from .extraction import extract, features_families, features_frames, features_sampling, load_features, video_key
from .faces import limit_threads
from .features import FEATURES_VERSION
from .sampling import DEFAULT_SAMPLING
from .synthesis import decode_span
from .profiles import PLATFORM_PROFILES, PROFILES, Profile  # noqa: F401  (defined in profiles; imported from here too)
from .video import probe
from .workers import spawn_pool

#: The conditions of ``train --augment`` (the platform profiles).
CONDITIONS = PLATFORM_PROFILES
#: frames copied from the start of each video
SPAN = 120


def degrade_frame(img: np.ndarray, scale: float) -> np.ndarray:
    """``img`` (H, W, 3) uint8 resized by ``scale`` (area interpolation) to even sizes of
    at least 2 px; the array itself when ``scale`` is 1."""
    if scale == 1.0:
        return img
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    h, w = img.shape[:2]
    size = (max(2, int(w * scale)) // 2 * 2, max(2, int(h * scale)) // 2 * 2)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def copy_path(out_dir: str | os.PathLike, condition: str, source: str) -> Path:
    """Where the ``condition`` copy of ``source`` goes."""
    return Path(out_dir) / condition / f"{video_key(source)}.mp4"


def _job(source: str, out_dir: str, conditions: dict[str, Profile], span: int) -> tuple[str, str | None]:
    """Write the missing copies of ``source``; returns (source, error or None)."""
    limit_threads()
    todo = {c: Profile(*v) for c, v in conditions.items() if not copy_path(out_dir, c, source).exists()}
    if not todo:
        return source, None
    try:
        fps = probe(source, sha256=False).fps or 25.0
        encoders, n, ok = {}, 0, False
        try:
            for c, prof in todo.items():
                p = copy_path(out_dir, c, source)
                p.parent.mkdir(parents=True, exist_ok=True)
                encoders[c] = VideoEncoder(p, fps=fps, crf=prof.crf, codec=prof.codec)
            for img in decode_span(source, 0, span):
                for c, prof in todo.items():
                    encoders[c].write(degrade_frame(img, prof.scale))
                n += 1
            ok = n > 0
        finally:  # a copy cut short by an error is discarded, never kept under its final name
            for e in encoders.values():
                e.close(ok)
        return source, None if n else "no frame decoded"
    except Exception as e:  # a bad source is recorded and skipped, never stops the others
        return source, f"{type(e).__name__}: {e}"


def make_degraded(videos: pd.DataFrame, out_dir: str | os.PathLike,
                  conditions: dict[str, Profile] | None = None, span: int = SPAN,
                  workers: int | None = 2, log=print) -> pd.DataFrame:
    """Write the degraded copies of every video of ``videos`` (needs ``abs_path`` and
    ``label``; ``group``, ``method``, ``compression`` are carried over) into ``out_dir``.

    Returns the copies as a manifest (``path`` relative to ``out_dir``, ``abs_path``, the
    source's metadata, ``source_path``, ``condition``), also written to
    ``out_dir/manifest.csv``.  Sources that fail are listed in ``out_dir/failures.csv``.
    """
    conditions = dict(CONDITIONS if conditions is None else conditions)
    if not conditions:
        raise ValueError("no degradation condition given")
    missing = {"abs_path", "label"} - set(videos.columns)
    if missing:
        raise ValueError(f"the videos table lacks {sorted(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = list(dict.fromkeys(videos["abs_path"].astype(str)))
    failures: dict[str, str] = {}
    todo = [s for s in sources if not all(copy_path(out, c, s).exists() for c in conditions)]
    if todo:
        log(f"degraded copies: {len(todo)} of {len(sources)} sources to copy ({', '.join(conditions)}) -> {out}")
        if workers and workers > 1 and len(todo) > 1:
            results = []
            with spawn_pool(workers) as pool:
                futs = {pool.submit(_job, s, str(out), conditions, span): s for s in todo}
                for f in as_completed(futs):
                    try:
                        results.append(f.result())
                    except Exception as e:  # a worker died: record it, a re-run resumes
                        results.append((futs[f], f"worker died: {e}"))
        else:
            results = [_job(s, str(out), conditions, span) for s in todo]
        failures = {s: err for s, err in results if err}
    if failures:
        pd.DataFrame({"abs_path": list(failures), "reason": list(failures.values())}).to_csv(
            out / "failures.csv", index=False)
        log(f"degraded copies: {len(failures)} sources failed (see {out / 'failures.csv'})")
    elif todo and (out / "failures.csv").exists():  # every source tried again has now been copied
        (out / "failures.csv").unlink()
    meta = videos.drop_duplicates("abs_path").set_index(videos.drop_duplicates("abs_path")["abs_path"].astype(str))
    rows = []
    for s in sources:
        for c in conditions:
            p = copy_path(out, c, s)
            if p.exists():
                r = {"path": str(p.relative_to(out)), "abs_path": str(p.resolve())}
                r.update({k: meta.at[s, k] for k in LABEL_COLUMNS if k in meta.columns})
                r.update({"source_path": s, "condition": c})
                rows.append(r)
    man = pd.DataFrame(rows, columns=["path", "abs_path", *[k for k in LABEL_COLUMNS if k in meta.columns],
                                      "source_path", "condition"])
    man.drop(columns=["abs_path"]).to_csv(out / "manifest.csv", index=False)
    return man


def degraded_features(features_dir: str | os.PathLike, augment_dir: str | os.PathLike,
                      conditions: dict[str, Profile] | None = None, span: int = SPAN,
                      workers: int | None = 2, progress: bool = True, log=print) -> pd.DataFrame:
    """The per-video features of the degraded copies of the videos of ``features_dir``
    (an extract folder), made if missing: copies in ``augment_dir`` (:func:`make_degraded`),
    features in ``augment_dir/features_v<FEATURES_VERSION>_f<n>`` with the folder's
    frame count, sampling and families (``_<sampling>`` when it is not the default,
    :mod:`detector.sampling`; ``_<family>-<family>...`` when they are not the default ones).
    Returns their ``videos`` table (with ``source_path``, ``condition``)."""
    _, videos = load_features(features_dir)
    n_frames = int(features_frames(features_dir) or DEFAULT_FRAMES)
    sampling = features_sampling(features_dir)
    families = features_families(features_dir)
    man = make_degraded(videos, augment_dir, conditions, span, workers, log)
    if man.empty:
        raise ValueError(f"no degraded copy could be made in {augment_dir}")
    fdir = Path(augment_dir) / (f"features_v{FEATURES_VERSION}_f{n_frames}"
                                + ("" if sampling == DEFAULT_SAMPLING else f"_{sampling}")
                                + ("" if families is None else "_" + "-".join(families)))
    m = read_manifest(Path(augment_dir) / "manifest.csv")
    _, v = extract(m, fdir, n_frames=n_frames, workers=workers, progress=progress,
                   manifest_path=str(Path(augment_dir) / "manifest.csv"), sampling=sampling, families=families)
    # the feature table keeps the standard manifest columns only: add each copy's source
    v = v.drop(columns=[c for c in ("source_path", "condition") if c in v.columns])
    return v.merge(m[["abs_path", "source_path", "condition"]], on="abs_path", how="left")
