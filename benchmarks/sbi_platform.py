"""Self-blended fakes re-encoded at random platform profiles: the data of the judge's
``--self-blended`` option (``benchmarks/generalization.py``).

    python benchmarks/sbi_platform.py --features DIR --out DIR [--seed 0] [--workers 2]

For every genuine video of the features folder ``--features`` (an extract of
``../shared/data/manifest.csv``), one self-blended fake and its control
(:func:`detector.selfblend.make_self_blended`: the source's group, labels fake / real), then
each of the two re-encoded once (:func:`detector.degrade.make_degraded`) at one profile of
:data:`detector.degrade.PLATFORM_PROFILES` drawn at random per source (seeded by the source's
path, :func:`detector.selfblend.video_seed`): a fake and its control share their profile, so
they differ by the blend only, and the profile a fake went through tells nothing of its
label.  Features with the settings of ``--features`` (frames, sampling, default families).

Layout under ``--out`` (resumable: every step skips what exists)::

    videos/                 the self-blended fakes and controls (selfblend's layout)
    features_v<V>_f<N>/     their features as made (encoded once, at the source's quality)
    platform/<profile>/     the re-encoded fakes and controls
    platform/features_v<V>_f<N>/   their features
    reencoded/, as_made/    judge tables (features folders): the generated videos' rows with
                            ``source_path`` = their genuine source and ``condition``
                            (``self-blended:<profile>`` or ``self-blended``)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common  # noqa: F401  (pins thread pools, puts the repository on sys.path)
import numpy as np
import pandas as pd

from detector.datasets import read_manifest
from detector.decode import DEFAULT_FRAMES
from detector.degrade import PLATFORM_PROFILES, SPAN, make_degraded
from detector.extraction import extract, features_frames, features_sampling, load_features
from detector.features import FEATURES_VERSION
from detector.sampling import DEFAULT_SAMPLING
from detector.selfblend import combine_features, make_self_blended, video_seed

#: ``condition`` of the generated videos as made, before any re-encode.
AS_MADE = "self-blended"


def draw_profiles(sources: list[str], seed: int) -> dict[str, str]:
    """{genuine source: platform profile name}, drawn uniformly per source, stable whatever
    the order or subset of sources."""
    names = sorted(PLATFORM_PROFILES)
    return {s: names[np.random.default_rng(video_seed(s, seed)).integers(len(names))] for s in sources}


def reencode(gen: pd.DataFrame, out: Path, profiles: dict[str, str], workers: int) -> pd.DataFrame:
    """Re-encode each generated video at its source's profile into ``out``; returns the
    manifest of the copies (``source_path``: the genuine source, ``condition``)."""
    parts = []
    for name, prof in PLATFORM_PROFILES.items():
        sub = gen[gen["source_path"].map(profiles) == name]
        if len(sub):
            man = make_degraded(sub, out, {name: prof}, span=SPAN, workers=workers)
            parts.append(man.merge(sub[["abs_path", "source_path"]].rename(columns={"abs_path": "made_path",
                                                                                   "source_path": "genuine"}),
                                   left_on="source_path", right_on="made_path"))
    man = pd.concat(parts, ignore_index=True)
    man = man.assign(source_path=man["genuine"]).drop(columns=["genuine", "made_path", "abs_path"])
    man.to_csv(out / "manifest.csv", index=False)  # make_degraded wrote one profile's only
    return man


def judge_table(frames: pd.DataFrame, videos: pd.DataFrame, meta: pd.DataFrame, out_dir: Path,
                n_frames: int) -> Path:
    """A features folder of the extracted ``videos`` with ``source_path`` and ``condition``
    from ``meta`` (by ``abs_path``)."""
    v = videos.drop(columns=[c for c in ("source_path", "condition") if c in videos.columns])
    v = v.merge(meta[["abs_path", "source_path", "condition"]], on="abs_path", how="left")
    if v["source_path"].isna().any():
        raise ValueError(f"{int(v['source_path'].isna().sum())} generated videos without a source")
    return combine_features([(frames, v)], out_dir, n_frames, note={"sbi_platform": True})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True, help="extracted features of the data set's videos")
    p.add_argument("--out", required=True, help="folder of the generated videos and their features")
    p.add_argument("--seed", type=int, default=0, help="seed of the blends and of the profiles")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    out = Path(a.out)
    n_frames = int(features_frames(a.features) or DEFAULT_FRAMES)
    sampling = features_sampling(a.features)
    _, videos = load_features(a.features)
    reals = videos[videos["label"] == "real"]
    print(f"{len(reals)} genuine videos -> self-blended fakes and controls in {out / 'videos'}", flush=True)
    gen = make_self_blended(reals, out / "videos", seed=a.seed, workers=a.workers, progress=True)
    profiles = draw_profiles(list(reals["abs_path"].astype(str)), a.seed)
    print(f"{len(gen)} generated videos; profiles drawn: {pd.Series(profiles).value_counts().to_dict()}", flush=True)
    feat = f"features_v{FEATURES_VERSION}_f{n_frames}" + ("" if sampling == DEFAULT_SAMPLING else f"_{sampling}")
    reencode(gen, out / "platform", profiles, a.workers)
    m = read_manifest(out / "platform" / "manifest.csv")
    man = m.assign(condition=AS_MADE + ":" + m["condition"])
    f, v = extract(m, out / "platform" / feat, n_frames=n_frames, workers=a.workers, sampling=sampling,
                   manifest_path=str(out / "platform" / "manifest.csv"))
    print(f"re-encoded: {len(v)} videos -> {judge_table(f, v, man, out / 'reencoded', n_frames)}", flush=True)
    g = read_manifest(out / "videos" / "manifest.csv").assign(condition=AS_MADE)
    f, v = extract(g, out / feat, n_frames=n_frames, workers=a.workers, sampling=sampling,
                   manifest_path=str(out / "videos" / "manifest.csv"))
    print(f"as made: {len(v)} videos -> {judge_table(f, v, g, out / 'as_made', n_frames)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
