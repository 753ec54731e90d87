"""The ``seam`` family before and after a platform re-encode (issue 22, "Robustness").

    nice -n 10 python benchmarks/seam.py --part prepare    # resumable: copies, then features
    nice -n 10 python benchmarks/seam.py --part measure --seeds 0 1 2 3 4
    nice -n 10 python benchmarks/seam.py --part paired     # fakes against their own originals
    nice -n 10 python benchmarks/seam.py --part measure --lmk-root /work/cache/lmk --out seam_crf23_lmk

Data: the 125 videos of ../shared/data/manifest.csv.  Copies (outside the repository, under
$DEEPFAKE_SEAM_ROOT, default /work/cache/seam): the first 120 frames of every video
re-encoded by :func:`detector.degrade.make_degraded` with the profile
``detector.degrade.PROFILES["crf23"]`` (PyAV / libx264, preset veryfast, CRF 23, yuv420p), in
``copies/crf23/``.  Features
(``feats_v<FEATURES_VERSION>/<condition>/``, extraction shards): the ``seam`` family and every
default family but ``block`` (hf, spec, noise, grad, lbp, color, iqm, flick) in one pass,
16 frames per video, for

- ``orig``: the original files, 16 frames over the whole video (the usual training data);
- ``orig120``: the original files, 16 frames over their first 120 frames (the copies' span);
- ``crf23``: the copies, 16 frames over their 120 frames.

Protocol (``--part measure``): nested grouped cross-validation on the ``orig`` table:
outer :class:`~sklearn.model_selection.StratifiedGroupKFold` by ``group``, 5 folds, for each
fold seed; inside each training part a grouped 4-fold grid search of C and gamma of an RBF
SVC on standardised track-mean columns (``detector.search`` with the search
``standard-rbf-all``: StandardScaler, RBF SVC with balanced class weights, C in 0.1-3, gamma
"scale" or 0.03).  Each outer model scores its held-out videos in every condition.
Training sets: ``orig`` (the training part's original files) and ``orig+crf23`` (plus the
CRF 23 copies of the same training videos, never of a held-out one).  Column sets: ``seam``
alone, the other families without ``block`` (``others``), and both (``seam+others``); with
``--lmk-root``, also ``lmk``, ``seam+lmk``, ``block`` and ``seam+block`` from the folders of
``benchmarks/landmarks.py`` (original files and CRF 23 copies only).
AUCs are of the pooled out-of-fold scores of one fold seed, then averaged over the seeds;
"face swap": Deepfakes + FaceSwap against the genuine videos (all compressions).

Paired (``--part paired``): every c23 Deepfakes / FaceSwap video whose original (the
``original-youtube`` c23 video of its ``original_id``) has as many frames, so that frame k of
one is frame k of the other: 8 frames sampled alike from both, the face found on the
original, the same regions used on both.  Printed: the mean |fake - original| (sum over
B, G, R, grey levels) by elliptic radius, which shows where the swap's blending mask falls
off, and the paired change of every seam column (fake minus original, mean over frames,
then mean and t over videos), on the original files and on their CRF 23 copies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (pins thread pools before numpy/cv2 load)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from detector import evaluation as ev  # noqa: E402
from detector.analysis import analyze  # noqa: E402
from detector.crossval import auc  # noqa: E402
from detector.datasets import read_manifest  # noqa: E402
from detector.decode import iter_frames  # noqa: E402
from detector.degrade import PROFILES, copy_path, make_degraded  # noqa: E402
from detector.extraction import _write_shard, collect, video_key  # noqa: E402
from detector.faces import detect_faces, face_regions  # noqa: E402
from detector.features import FEATURES_VERSION, family_of  # noqa: E402
from detector.search import decision, grid_search  # noqa: E402
from detector.seam import seam_features  # noqa: E402
from detector.video import probe  # noqa: E402

ROOT = Path(os.environ.get("DEEPFAKE_SEAM_ROOT", "/work/cache/seam"))
SPAN = 120
N_FRAMES = 16
COPY = {"crf23": PROFILES["crf23"]}
FAMILIES = ("seam", "hf", "spec", "noise", "grad", "lbp", "color", "iqm", "flick")
CONDITIONS = ("orig", "orig120", "crf23")
SEARCH = "standard-rbf-all"
FACE_SWAP = ("Deepfakes", "FaceSwap")
META = ("label", "group", "method", "compression")


def feats_dir(cond: str) -> Path:
    return ROOT / f"feats_v{FEATURES_VERSION}" / cond


def condition_manifest(m: pd.DataFrame, cond: str) -> pd.DataFrame:
    """The manifest of one condition: ``abs_path`` the file analysed, ``source_path`` its original."""
    out = m.assign(source_path=m["abs_path"])
    if cond == "crf23":
        out["abs_path"] = [str(copy_path(ROOT / "copies", "crf23", p)) for p in m["abs_path"]]
    return out


def _work(path: str, span: int | None) -> tuple[pd.DataFrame | None, dict | None, str | None]:
    """Analyse one file (families :data:`FAMILIES`), sampling over its first ``span`` frames."""
    try:
        info = probe(path, sha256=False)
        if span:
            info = dataclasses.replace(info, frame_count=min(span, info.frame_count) if info.frame_count else span)
        a = analyze(path, model=None, n_frames=N_FRAMES, info=info, families=FAMILIES)
    except Exception as e:  # recorded, never fatal
        return None, None, f"{type(e).__name__}: {e}"
    t = a.table.copy()
    if len(t):
        t["box"] = t["box"].map(json.dumps)
        t["landmarks"] = t["landmarks"].map(json.dumps)
    return t, {"n_sampled": a.n_sampled, "span": span, "t_features": a.timings["features"],
               "n_faces": len(t)}, None


def prepare() -> None:
    m = read_manifest(common.SHARED / "manifest.csv")
    make_degraded(m, ROOT / "copies", conditions=COPY, span=SPAN, workers=1)
    for cond in CONDITIONS:
        d = feats_dir(cond)
        (d / "shards").mkdir(parents=True, exist_ok=True)
        (d / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": N_FRAMES,
                                                    "families": FAMILIES, "condition": cond,
                                                    "span": None if cond == "orig" else SPAN}))
        cm = condition_manifest(m, cond)
        t0, failures = time.time(), []
        for k, path in enumerate(cm["abs_path"]):
            shard = d / "shards" / f"{video_key(path)}.parquet"
            if shard.exists() or not Path(path).exists():
                continue
            table, info, err = _work(path, None if cond == "orig" else SPAN)
            if err:
                failures.append({"abs_path": path, "reason": err})
                continue
            _write_shard(shard, table.assign(abs_path=path), info)
            print(f"{cond} {k + 1}/{len(cm)} {time.time() - t0:.0f} s", flush=True)
        if failures:
            pd.DataFrame(failures).to_csv(d / "failures.csv", index=False)
        collect(cm, d)


def load() -> dict[str, pd.DataFrame]:
    """Per-video tables of every condition, indexed by the original file's path."""
    m = read_manifest(common.SHARED / "manifest.csv")
    out = {}
    for cond in CONDITIONS:
        v = pd.read_parquet(feats_dir(cond) / "videos.parquet")
        v = v.merge(condition_manifest(m, cond)[["abs_path", "source_path"]], on="abs_path", how="left")
        out[cond] = v[v["n_faces"] > 0].set_index("source_path")
    return out


def join_lmk(conds: dict[str, pd.DataFrame], root: Path) -> None:
    """Add the ``lmk`` and ``block`` track means of ``benchmarks/landmarks.py``'s folders under
    ``root`` (the same videos and CRF 23 profile, 16 frames sampled alike) to the ``orig`` and
    ``crf23`` tables, in place."""
    copies = pd.read_csv(root / "videos" / "manifest.csv")[["path", "source_path"]]
    for cond, folder in (("orig", "feats_orig"), ("crf23", "feats_crf23")):
        v = pd.read_parquet(root / folder / "videos.parquet")
        v = v.set_index("abs_path") if cond == "orig" else v.merge(copies, on="path").set_index("source_path")
        cols = [c for c in v.columns if c.endswith("__mean") and family_of(c) in ("lmk", "block")]
        conds[cond] = conds[cond].join(v[cols])


def column_sets(v: pd.DataFrame) -> dict[str, list[str]]:
    means = [c for c in v.columns if c.endswith("__mean")]
    fam = {f: [c for c in means if family_of(c) == f] for f in ("seam", "lmk", "block")}
    others = [c for c in means if family_of(c) in FAMILIES and family_of(c) != "seam"]
    sets = {"seam": fam["seam"], "others": others, "seam+others": fam["seam"] + others}
    if fam["lmk"]:
        sets.update({"lmk": fam["lmk"], "seam+lmk": fam["seam"] + fam["lmk"], "block": fam["block"],
                     "seam+block": fam["seam"] + fam["block"]})
    return sets


def _aucs(d: pd.DataFrame) -> dict[str, float | None]:
    real = d["label"] == "real"
    fs = real | d["method"].isin(FACE_SWAP)
    fs23 = fs & (d["compression"] == "c23")
    return {"auc": auc(d["label"], d["score"]), "face_swap": auc(d.loc[fs, "label"], d.loc[fs, "score"]),
            "face_swap_c23": auc(d.loc[fs23, "label"], d.loc[fs23, "score"]), "n": len(d)}


def _training_sets(train: pd.DataFrame, conds: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    copies = conds["crf23"].reindex(train.index).dropna(subset=["n_faces"])
    copies = copies.assign(**{c: train.loc[copies.index, c].to_numpy() for c in META})
    return {"orig": train, "orig+crf23": pd.concat([train, copies])}


def measure(seeds: list[int], search: str = SEARCH, lmk_root: Path | None = None) -> list[dict]:
    conds = load()
    if lmk_root is not None:
        join_lmk(conds, lmk_root)
    base = conds["orig"]
    sets = column_sets(base)
    tested = {k: [c for c, v in conds.items() if set(cols) <= set(v.columns)] for k, cols in sets.items()}
    print(f"{len(base)} videos with faces; columns: " + ", ".join(f"{k} {len(c)}" for k, c in sets.items()))
    rows = []
    for seed in seeds:
        t0 = time.time()
        scores: dict[tuple, list[pd.DataFrame]] = {}
        for k, (tr, te) in enumerate(ev.grouped_folds(base["group"].astype(str).to_numpy(), base["label"], 5, seed)):
            train, test_ids = base.iloc[tr], base.index[te]
            for tname, tset in _training_sets(train, conds).items():
                for sname, cols in sets.items():
                    gs = grid_search(tset.reset_index(drop=True), cols, seed=seed + 1 + k, search=search)
                    for cond in tested[sname]:
                        test = conds[cond].reindex(test_ids).dropna(subset=["n_faces"])
                        test = test.assign(**{c: base.loc[test.index, c].to_numpy() for c in META})
                        s = decision(gs.best_estimator_, test, cols)
                        scores.setdefault((tname, sname, cond), []).append(test[list(META)].assign(score=s))
        for (tname, sname, cond), parts in scores.items():
            rows.append({"seed": seed, "training": tname, "columns": sname, "condition": cond,
                         **_aucs(pd.concat(parts))})
        print(f"seed {seed}: {time.time() - t0:.0f} s", flush=True)
    return rows


def summary(rows: list[dict]) -> pd.DataFrame:
    d = pd.DataFrame(rows)
    g = d.groupby(["columns", "training", "condition"], sort=False)
    out = g[["auc", "face_swap", "face_swap_c23"]].mean()
    out["auc_per_seed"] = g["auc"].apply(lambda s: " / ".join(f"{v:.3f}" for v in s))
    out["n"] = g["n"].first()
    return out.reset_index()


#: Elliptic-radius bins of the paired difference profile.
PROFILE_BINS = np.round(np.arange(0.0, 1.85, 0.1), 2)


def _pairs(m: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(method, fake path, original path) of the frame-aligned c23 face swaps."""
    originals = {Path(p).stem: p for p, meth, comp in zip(m["abs_path"], m["method"], m["compression"])
                 if meth == "original-youtube" and comp == "c23"}
    out = []
    for r in m[m["method"].isin(FACE_SWAP) & (m["compression"] == "c23")].itertuples():
        src = originals.get(str(r.original_id))
        if src and probe(r.abs_path, sha256=False).frame_count == probe(src, sha256=False).frame_count:
            out.append((r.method, r.abs_path, src))
    return out


def _paired_video(fake: str, original: str) -> tuple[np.ndarray, dict[str, float]]:
    """Difference profile by radius and mean seam-column change over 8 aligned frames."""
    prof, n, changes = np.zeros(len(PROFILE_BINS) - 1), 0, []
    for ff, of in zip(iter_frames(fake, 8), iter_frames(original, 8)):
        faces = detect_faces(of.image)
        if not faces or ff.image.shape != of.image.shape:
            continue
        reg = face_regions(faces[0], of.image.shape)
        x0, y0, x1, y1 = reg.crop
        a, b = (np.ascontiguousarray(f.image[y0:y1, x0:x1]) for f in (ff, of))
        diff = np.abs(a.astype(np.float32) - b.astype(np.float32)).sum(axis=2)
        idx = np.digitize(reg.radius, PROFILE_BINS) - 1
        ok = (idx >= 0) & (idx < len(prof))
        prof += np.bincount(idx[ok], diff[ok], len(prof)) / np.maximum(np.bincount(idx[ok], None, len(prof)), 1)
        n += 1
        sf, so = seam_features(a, reg.radius), seam_features(b, reg.radius)
        changes.append({c: sf[c] - so[c] for c in sf})
    return prof / max(n, 1), pd.DataFrame(changes).mean().to_dict()


def paired() -> dict:
    m = read_manifest(common.SHARED / "manifest.csv")
    pairs = _pairs(m)
    profiles, changes = [], []
    for cond in ("orig", "crf23"):
        at = (lambda p: p) if cond == "orig" else (lambda p: str(copy_path(ROOT / "copies", "crf23", p)))
        for method, fake, original in pairs:
            prof, ch = _paired_video(at(fake), at(original))
            changes.append({"condition": cond, "method": method, **ch})
            if cond == "orig":
                profiles.append({"method": method, **{f"r{lo:.1f}": v for lo, v in zip(PROFILE_BINS, prof)}})
    prof = pd.DataFrame(profiles).groupby("method").mean()
    print("mean |fake - original| (grey levels, B+G+R) by elliptic radius (bin start):")
    print(prof.T.to_string(float_format=lambda v: f"{v:.1f}"))
    ch = pd.DataFrame(changes)
    cols = [c for c in ch.columns if c.startswith("seam_")]
    g = ch.groupby(["condition", "method"], sort=False)[cols]
    mean, t = g.mean(), g.mean() / (g.std() / np.sqrt(g.count()))
    effect = pd.concat([mean, t.add_suffix(" t")], axis=1)[[c + s for c in cols for s in ("", " t")]]
    effect.insert(0, "n", g.size())
    print("\nseam columns, fake minus its own original (mean over videos, t):")
    print(effect.T.to_string(float_format=lambda v: f"{v:+.3f}"))
    return {"profile": prof.reset_index().to_dict("records"), "changes": changes,
            "effect": effect.reset_index().to_dict("records")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["prepare", "measure", "paired"], required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--search", default=SEARCH, help="inner search of detector.search (default %(default)s; "
                   "standard-rbf+linear-all offers a linear kernel too)")
    p.add_argument("--lmk-root", type=Path, default=None,
                   help="also the lmk and block families from benchmarks/landmarks.py's folders (e.g. /work/cache/lmk)")
    p.add_argument("--out", default="seam_crf23")
    a = p.parse_args(argv)
    t0 = time.time()
    if a.part == "prepare":
        prepare()
        print(f"ready ({time.time() - t0:.0f} s)")
        return 0
    if a.part == "paired":
        res = paired()
    else:
        rows = measure(a.seeds, a.search, a.lmk_root)
        table = summary(rows)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        res = {"rows": rows, "summary": table.to_dict("records"), "search": a.search, "families": FAMILIES,
               "conditions": CONDITIONS, "protocol": __doc__.split("Protocol", 1)[1].strip()}
    common.write_json(a.out if a.part == "measure" else f"{a.out}_paired", {
        **res, "copy": COPY, "span": SPAN, "seconds": round(time.time() - t0, 1),
        "command": "python benchmarks/seam.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": common.machine({"features_version": FEATURES_VERSION})})
    return 0


if __name__ == "__main__":
    sys.exit(main())
