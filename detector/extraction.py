"""Feature extraction at dataset scale: a manifest in, Parquet feature tables out.

``deepfake-detector extract --manifest CSV --out DIR`` analyses every video of the
manifest (no model) in parallel worker processes and writes

- ``DIR/shards/<key>.parquet``: the per-frame table of one video, written as soon as
  that video is done (so a killed run loses nothing finished and resumes by skipping
  existing shards);
- ``DIR/frames.parquet``: all per-frame rows (one per face per sampled frame);
- ``DIR/videos.parquet``: one row per video (manifest columns + the main track's
  aggregate features + n_faces, n_tracks, n_sampled);
- ``DIR/failures.csv``: videos that could not be analysed, with the reason;
- ``DIR/extract.json``: features version, frame count, sampling
  (:mod:`detector.sampling`) and the families measured when not the default ones (a
  mismatch refuses to mix).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import as_completed
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from .analysis import analyze
from .datasets import STANDARD_COLUMNS
from .decode import DEFAULT_FRAMES
from .sampling import DEFAULT_SAMPLING, check_front_fraction, sampling_setting
from .faces import limit_threads
from .memory import keep_freed_memory
from .features import FEATURES_VERSION, KNOWN_FAMILIES, aggregate, family_of
from .workers import spawn_pool


def video_key(abs_path: str | os.PathLike) -> str:
    """File stem of what is made from one video (its feature shard, its self-blended or
    degraded copies): unique per path."""
    return Path(abs_path).stem[:40] + "-" + hashlib.sha1(str(abs_path).encode()).hexdigest()[:10]


def _work(abs_path: str, n_frames: int, families: tuple[str, ...] | None = None, sampling: str = DEFAULT_SAMPLING
          ) -> tuple[str, pd.DataFrame | None, dict | None, str | None]:
    """Analyse one video in a worker: (abs_path, per-frame table, info, error)."""
    limit_threads()
    keep_freed_memory()
    try:
        a = analyze(abs_path, model=None, n_frames=n_frames, families="all" if families is None else families,
                    sampling=sampling)
    except Exception as e:  # recorded, never fatal
        return abs_path, None, None, f"{type(e).__name__}: {e}"
    t = a.table.copy()
    if len(t):
        t["box"] = t["box"].map(lambda b: json.dumps(b))
        t["landmarks"] = t["landmarks"].map(lambda b: json.dumps(b))
    info = {"n_sampled": a.n_sampled, "sha256": a.info.sha256, "size_bytes": a.info.size_bytes,
            "duration_s": a.info.duration_s,
            "width": a.info.width, "height": a.info.height, **{f"t_{k}": v for k, v in a.timings.items()}}
    return abs_path, t, info, None


def extract(manifest: pd.DataFrame, out_dir: str | os.PathLike, n_frames: int = DEFAULT_FRAMES,
            workers: int | None = None, progress: bool = True, manifest_path: str | None = None,
            families: tuple[str, ...] | None = None, sampling: str = DEFAULT_SAMPLING
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Extract features for every row of ``manifest`` (from :func:`detector.datasets.read_manifest`).

    ``families``: the feature families to measure (names of
    :data:`detector.features.KNOWN_FAMILIES`), None for the default ones; ``sampling`` the
    frames sampled (:data:`detector.sampling.SAMPLINGS`).
    Returns (frames, videos) tables and writes them under ``out_dir``.  Videos whose
    shard already exists are not analysed again, unless the file's size has changed
    since (a video remade under the same name).
    """
    out = Path(out_dir)
    shards = out / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    if families is not None:
        families = tuple(families)
        unknown = set(families) - set(KNOWN_FAMILIES)
        if unknown or not families:
            raise ValueError(f"unknown feature families {sorted(unknown)}; known: {KNOWN_FAMILIES}")
    stamp = {"features_version": FEATURES_VERSION, "n_frames": n_frames,
             "families": None if families is None else sorted(families), **sampling_setting(sampling)}
    sp = out / "extract.json"
    if sp.exists():
        old = json.loads(sp.read_text())
        if {k: old.get(k, DEFAULT_SAMPLING if k == "sampling" else None) for k in stamp} != stamp:
            raise ValueError(f"{out} holds features made with {old}, not {stamp}: use another --out")
    sp.write_text(json.dumps({**stamp, "manifest": manifest_path}))
    rows = manifest.to_dict("records")
    todo = [r for r in rows if _stale(shards / f"{video_key(r['abs_path'])}.parquet", r["abs_path"])]
    fail_path = out / "failures.csv"
    failures = pd.read_csv(fail_path).to_dict("records") if fail_path.exists() else []
    failed_before = {f["abs_path"] for f in failures}
    todo = [r for r in todo if r["abs_path"] not in failed_before]
    workers = workers or os.cpu_count() or 1
    bar = None
    if progress:
        bar = tqdm(total=len(rows), initial=len(rows) - len(todo), unit="video", file=sys.stderr)
    # spawned workers that die with this process; no max_tasks_per_child: on CPython 3.11
    # the pool hung here when a worker retired (seen after 2 x 20 tasks).
    with spawn_pool(workers) as pool:
        futs = {pool.submit(_work, r["abs_path"], n_frames, families, sampling): r["abs_path"] for r in todo}
        for fut in as_completed(futs):
            try:
                path, table, info, err = fut.result()
            except Exception as e:  # a worker died; the pool is broken, a re-run resumes
                path, table, info, err = futs[fut], None, None, f"worker died: {e}"
            if err is not None:
                failures.append({"abs_path": path, "reason": err})
                pd.DataFrame(failures).to_csv(fail_path, index=False)
            else:
                table = table.assign(abs_path=path)
                _write_shard(shards / f"{video_key(path)}.parquet", table, info)
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    return collect(manifest, out)


def _stale(shard: Path, video: str) -> bool:
    """True when ``shard`` is missing, or records another file size than ``video`` has now."""
    if not shard.exists():
        return True
    try:
        size = json.loads(pq.read_schema(shard).metadata[b"video_info"]).get("size_bytes")
        return size is not None and os.path.getsize(video) != size
    except (OSError, KeyError, ValueError, TypeError):
        return False  # unreadable file or old shard: keep what exists (extraction reports the file)


def _write_shard(path: Path, table: pd.DataFrame, info: dict) -> None:
    t = pa.Table.from_pandas(table, preserve_index=False)
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), b"video_info": json.dumps(info).encode()})
    tmp = path.with_suffix(".tmp")
    pq.write_table(t, tmp)
    os.replace(tmp, path)  # atomic: a killed run never leaves half a shard


def collect(manifest: pd.DataFrame, out_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assemble the per-frame and per-video tables from the shards of ``manifest``'s videos."""
    out = Path(out_dir)
    frames, videos = [], []
    meta_cols = [c for c in STANDARD_COLUMNS if c in manifest.columns]
    for r in manifest.to_dict("records"):
        sp = out / "shards" / f"{video_key(r['abs_path'])}.parquet"
        if not sp.exists():
            continue
        pt = pq.read_table(sp)
        info = json.loads(pt.schema.metadata[b"video_info"])
        t = pt.to_pandas()
        meta = {c: r[c] for c in meta_cols}
        row = {**meta, "abs_path": r["abs_path"], **info, "n_faces": len(t),
               "n_tracks": int(t["track_id"].nunique()) if len(t) else 0}
        if len(t):
            main = t["track_id"].value_counts().idxmax()
            g = t[t["track_id"] == main].sort_values("frame")
            row.update(aggregate(g))
            row["main_track_faces"] = len(g)
            frames.append(t.assign(**meta))
        videos.append(row)
    ft = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    vt = pd.DataFrame(videos)
    if len(ft):
        ft.to_parquet(out / "frames.parquet", index=False)
    vt.to_parquet(out / "videos.parquet", index=False)
    return ft, vt


def extract_stamp(out_dir: str | os.PathLike | None) -> dict:
    """What an :func:`extract` folder says about itself (``extract.json``: features
    version, frames per video, manifest); {} when it says nothing."""
    p = Path(out_dir) / "extract.json" if out_dir else None
    return json.loads(p.read_text()) if p is not None and p.exists() else {}


def features_frames(out_dir: str | os.PathLike) -> int | None:
    """Frames sampled per video in an :func:`extract` folder (None when it does not say)."""
    return extract_stamp(out_dir).get("n_frames")


def features_families(out_dir: str | os.PathLike | None) -> tuple[str, ...] | None:
    """The feature families measured in an :func:`extract` folder, sorted (None: the default
    ones, also when it does not say)."""
    fams = extract_stamp(out_dir).get("families")
    return None if fams is None else tuple(sorted(fams))


def features_sampling(out_dir: str | os.PathLike | None) -> str:
    """The sampling of an :func:`extract` folder (:data:`DEFAULT_SAMPLING` when it does not say);
    ValueError when its ``front`` fraction is not this code's
    (:func:`detector.sampling.check_front_fraction`)."""
    stamp = extract_stamp(out_dir)
    check_front_fraction(stamp, f"features folder {out_dir}")
    return stamp.get("sampling", DEFAULT_SAMPLING)


def load_features(out_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``frames.parquet`` and ``videos.parquet`` written by :func:`extract`."""
    out = Path(out_dir)
    vp = out / "videos.parquet"
    if not vp.exists():
        raise FileNotFoundError(f"no videos.parquet in {out}: run 'deepfake-detector extract' first")
    stamp = extract_stamp(out)
    if stamp.get("features_version", FEATURES_VERSION) != FEATURES_VERSION:
        raise ValueError(f"features in {out} are version {stamp.get('features_version')}, code is {FEATURES_VERSION}")
    fp = out / "frames.parquet"
    return (pd.read_parquet(fp) if fp.exists() else pd.DataFrame()), pd.read_parquet(vp)


def aggregated_columns(videos: pd.DataFrame) -> list[str]:
    """The model's input columns (aggregated features) present in a per-video table."""
    return [c for c in videos.columns if "__" in c and family_of(c) in KNOWN_FAMILIES]
