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

``self_blended_features(features_dir)`` self-blends the real videos of an extracted
features folder and extracts the generated videos' features with the same frame count;
``combine_features`` writes a features folder of several.  With them
:func:`detector.training.train_self_blended` is ``deepfake-detector train --self-blended
only|add``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import as_completed
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .datasets import STANDARD_COLUMNS
from .decode import DEFAULT_FRAMES
from .extraction import extract, features_frames, load_features, video_key
from .faces import limit_threads
from .features import FEATURES_VERSION
from .synthesis import SELF_BLEND_VERSION, self_blended_video
from .workers import spawn_pool

METHOD = "self-blended"
CONTROL_METHOD = "re-encoded-real"
DEFAULT_MAX_FRAMES = 96


def video_seed(abs_path: str, seed: int) -> int:
    """Per-video seed: stable whatever the order or the subset of videos processed."""
    return int(hashlib.sha1(f"{seed}:{abs_path}".encode()).hexdigest()[:8], 16)


def _job(abs_path: str, fake: str, control: str | None, max_frames: int, seed: int,
         compression: str) -> tuple[str, dict | None, str | None]:
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


def _paths(out: Path, controls: bool, abs_path: str) -> tuple[Path, Path | None, Path]:
    """(fake, control or None, record) of the source ``abs_path`` under ``out``."""
    k = video_key(abs_path)
    return (out / "fake" / f"{k}.mp4", (out / "control" / f"{k}.mp4") if controls else None,
            out / "records" / f"{k}.json")


def _done(out: Path, controls: bool, abs_path: str) -> bool:
    """Whether the outputs of ``abs_path`` exist, recorded by this synthesis version."""
    fake, ctl, rec = _paths(out, controls, abs_path)
    if not (fake.exists() and rec.exists() and (ctl is None or ctl.exists())):
        return False
    made = json.loads(rec.read_text())
    if made.get("version") != SELF_BLEND_VERSION:  # made by an older synthesis: make it again
        return False
    return ctl is None or bool(made.get("control"))


def _synthesize(todo: list[dict], out: Path, controls: bool, max_frames: int, seed: int, workers: int | None,
                failures: list[dict], bar) -> None:
    """Make the outputs of the ``todo`` sources in ``workers`` processes; each failure is
    appended to ``failures`` and ``out/failures.csv`` at once, each success recorded."""
    fail_path = out / "failures.csv"
    # spawned workers that die with this process; no max_tasks_per_child: on CPython
    # 3.11 the pool hung when a worker retired.
    with spawn_pool(workers or 2) as pool:
        futs = {}
        for r in todo:
            fake, ctl, _ = _paths(out, controls, r["abs_path"])
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
                rp = _paths(out, controls, r["abs_path"])[2]
                tmp = rp.with_suffix(".tmp")
                tmp.write_text(json.dumps(rec, indent=1))
                os.replace(tmp, rp)  # the record comes last: it marks the video as done
            if bar:
                bar.update(1)


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
    fail_path = out / "failures.csv"
    failures = pd.read_csv(fail_path).to_dict("records") if fail_path.exists() else []
    # A source whose synthesis failed (no face, unreadable...) is not tried again; one whose
    # worker process died (killed, out of memory, a broken pool) is: a re-run resumes it.
    failures = [f for f in failures if not str(f.get("reason", "")).startswith(WORKER_DIED)]
    failed_before = {f["abs_path"] for f in failures}
    todo = [r for r in sources if not _done(out, controls, r["abs_path"]) and r["abs_path"] not in failed_before]
    if todo:
        bar = tqdm(total=len(sources), initial=len(sources) - len(todo), unit="video", file=sys.stderr) \
            if progress else None
        _synthesize(todo, out, controls, max_frames, seed, workers, failures, bar)
        if bar:
            bar.close()
        if fail_path.exists():  # the retried sources that worked leave the list
            pd.DataFrame(failures, columns=["abs_path", "reason"]).to_csv(fail_path, index=False)
    rows = []
    for r in sources:
        if _done(out, controls, r["abs_path"]):
            rows.extend(_rows(r, json.loads(_paths(out, controls, r["abs_path"])[2].read_text()), out))
    cols = [*STANDARD_COLUMNS, "abs_path", "source_path", "crf", "span_start", "span_frames", "blend_seed"]
    result = pd.DataFrame(rows, columns=cols)
    result.drop(columns=["abs_path"]).to_csv(out / "manifest.csv", index=False)
    return result


# --------------------------------------------------------------------------
# Self-blended features, for training (detector.training.train_self_blended)
# --------------------------------------------------------------------------


def round_dirs(sbi_dir: str | os.PathLike, k: int, n_frames: int) -> tuple[Path, Path]:
    """(videos folder, features folder) of self-blending round ``k`` under ``sbi_dir``:
    ``videos`` and ``features_v<FEATURES_VERSION>_f<n_frames>`` for round 0, with
    ``_r<k>`` appended for the others."""
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
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, not {rounds}")
    fdir = Path(features_dir)
    n_frames = int(features_frames(fdir) or DEFAULT_FRAMES)
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
