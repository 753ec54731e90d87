"""Robustness to re-encoding (issue 6, item 5): how does AUC move when the test videos
are re-encoded at lower quality, and does training on degraded copies help?

    python benchmarks/self_blended.py --part prepare   # the dataset features (shared with that script)
    python benchmarks/robustness.py --part prepare     # resumable, stops after --budget s; repeat until "ready"
    python benchmarks/robustness.py --part measure     # [--columns block-mean] [--drop flick] [--search compact]

Degraded copies (outside the repository, $DEEPFAKE_SBI_ROOT/robust, default /work/sbi/robust):
the first ``SPAN`` = 120 frames of every video of ../shared/data/manifest.csv, decoded and
re-encoded with PyAV/libx264 (preset veryfast, yuv420p) at

- ``crf28``: CRF 28, full resolution;
- ``crf35``: CRF 35, full resolution;
- ``half``: half width and height (cv2.INTER_AREA), CRF 23.

``orig`` is the ORIGINAL file restricted to the same 120 frames and sampled the same way
(16 frames evenly over frames 0-119, as the 120-frame copies are), so each degraded
condition is compared with its own undegraded reference; ``full`` is the usual
16 frames over the whole original video.

Protocol: grouped 5-fold CV of the dataset videos (by ``group``, seed 0, the folds of
benchmarks/self_blended.py).  Baseline: each fold's model is trained on the training
videos' ORIGINAL features (full videos; grid search nested in the training part, the
pipeline and grid of detector.search) and scores the test fold in every condition.
Augmented: the same, with the degraded copies (crf28, crf35, half) of the TRAINING
videos added to training (same labels and groups).  Threshold: the EER point of the
training part's own inner out-of-fold scores (as detector.crossval does), to show how
FAR / FRR at a fixed threshold move under degradation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402,F401  (pins thread pools before numpy/cv2 load)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import self_blended as sb  # noqa: E402
from detector import evaluation as ev  # noqa: E402
from detector.degrade import CONDITIONS as DEGRADED, SPAN, copy_path  # noqa: E402  (what 'train --augment' makes)
from detector.extraction import _write_shard, collect, load_features, video_key  # noqa: E402
from detector.features import FEATURES_VERSION  # noqa: E402
from detector.crossval import auc  # noqa: E402
from detector.metrics import as_binary, eer, far_frr  # noqa: E402
from detector.search import SEARCHES, decision, feature_matrix, grid_search  # noqa: E402

CONDITIONS = {k: {"crf": p.crf, "scale": p.scale} for k, p in DEGRADED.items()}
ALL = ["full", "orig"] + list(CONDITIONS)
WORKERS = 2


def robust_root() -> Path:
    return sb.ROOT / "robust"


def video_path(cond: str, src: str) -> Path:
    return copy_path(robust_root() / "videos", cond, src)


def feats_dir(cond: str) -> Path:
    return robust_root() / f"feats_v{FEATURES_VERSION}_f{sb.N_FRAMES}_span{SPAN}" / cond


# ----------------------------------------------------------------------------- workers
def _degrade(src: str) -> tuple[str, str | None]:
    """Write the three degraded copies of the first SPAN frames of ``src`` (as 'train --augment')."""
    from detector.degrade import _job

    return _job(src, str(robust_root() / "videos"), DEGRADED, SPAN)


def _span_work(abs_path: str, n_frames: int, span: int):
    """detector.extraction._work, sampling ``n_frames`` over the first ``span`` frames."""
    from detector.analysis import analyze
    from detector.faces import limit_threads
    from detector.video import probe

    limit_threads()
    try:
        info = probe(abs_path, sha256=False)
        info = dataclasses.replace(info, frame_count=min(span, info.frame_count) if info.frame_count else span)
        a = analyze(abs_path, model=None, n_frames=n_frames, info=info)
    except Exception as e:
        return abs_path, None, None, f"{type(e).__name__}: {e}"
    t = a.table.copy()
    if len(t):
        t["box"] = t["box"].map(json.dumps)
        t["landmarks"] = t["landmarks"].map(json.dumps)
    return abs_path, t, {"n_sampled": a.n_sampled, "span": span, "width": a.info.width, "height": a.info.height}, None


def _pool(fn, args_list, on_result, deadline: float) -> bool:
    """Run ``fn(*args)`` in 2 spawn workers (a few tasks in flight); stop submitting
    after ``deadline``.  Returns True when every task ran."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    todo = list(args_list)
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=ctx) as pool:
        running = set()
        while todo or running:
            while todo and len(running) < WORKERS + 1 and time.time() <= deadline:
                running.add(pool.submit(fn, *todo.pop(0)))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                on_result(fut.result())
    return not todo


def _span_manifest(m: pd.DataFrame, cond: str) -> pd.DataFrame:
    out = m.copy()
    out["source_path"] = m["abs_path"]
    if cond != "orig":
        out["abs_path"] = [str(video_path(cond, p)) for p in m["abs_path"]]
    return out


def prepare(budget: float) -> bool:
    deadline = time.time() + budget
    try:
        load_features(sb.ffpp_dir())
    except FileNotFoundError:
        print("dataset features missing: run benchmarks/self_blended.py --part prepare first")
        return False
    m = sb.dataset_manifest()
    fail_path = robust_root() / "failures.csv"
    failures = pd.read_csv(fail_path).to_dict("records") if fail_path.exists() else []
    bad = {f["abs_path"] for f in failures}

    def record(src, err):
        if err:
            failures.append({"abs_path": src, "reason": err})
            fail_path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(failures).to_csv(fail_path, index=False)

    t = time.time()
    todo = [(p,) for p in m["abs_path"] if p not in bad and not all(video_path(c, p).exists() for c in CONDITIONS)]
    if todo and not _pool(_degrade, todo, lambda r: record(*r), deadline):
        print(f"degraded copies: not finished ({time.time() - t:.0f} s); run --part prepare again")
        return False
    print(f"degraded copies ready ({time.time() - t:.0f} s)")
    for cond in ["orig"] + list(CONDITIONS):
        t = time.time()
        d = feats_dir(cond)
        (d / "shards").mkdir(parents=True, exist_ok=True)
        (d / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": sb.N_FRAMES,
                                                    "span": SPAN, "condition": cond, "manifest": str(sb.MANIFEST)}))
        sm = _span_manifest(m, cond)
        sm = sm[~sm["source_path"].isin(bad)]
        todo = [(p, sb.N_FRAMES, SPAN) for p in sm["abs_path"] if not (d / "shards" / f"{video_key(p)}.parquet").exists()]

        def on(res, d=d):
            path, table, info, err = res
            if err:
                record(path, err)
            else:
                _write_shard(d / "shards" / f"{video_key(path)}.parquet", table.assign(abs_path=path), info)

        if todo and not _pool(_span_work, todo, on, deadline):
            print(f"features {cond}: not finished ({time.time() - t:.0f} s); run --part prepare again")
            return False
        collect(sm, d)
        print(f"features {cond} ready ({time.time() - t:.0f} s)")
    return True


# ----------------------------------------------------------------------------- measure
def load_conditions(drop: tuple[str, ...] = (), columns: str | None = None
                    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[str]]:
    _, f = load_features(sb.ffpp_dir())
    f = f[f["n_faces"] > 0].reset_index(drop=True)
    conds = {}
    for cond in ["orig"] + list(CONDITIONS):
        _, v = load_features(feats_dir(cond))
        m = _span_manifest(sb.dataset_manifest(), cond)[["abs_path", "source_path"]]
        v = v.merge(m, on="abs_path", how="left")
        conds[cond] = v.set_index("source_path")
    from detector.extraction import aggregated_columns

    from detector.features import family_of

    cols = [c for c in aggregated_columns(f)
            if family_of(c) not in drop and all(c in v.columns for v in conds.values())]
    return f, conds, common.select_columns(cols, columns)


def _threshold(gs, train: pd.DataFrame, cols: list[str], seed: int) -> float:
    """EER threshold of the chosen model's grouped inner out-of-fold scores (training part only)."""
    from sklearn.base import clone

    x = feature_matrix(train, cols)
    y = as_binary(train["label"])
    g = train["group"].astype(str).to_numpy()
    s = np.full(len(y), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tr, te in ev.grouped_folds(g, y, n_splits=4, seed=seed):
            s[te] = clone(gs.best_estimator_).fit(x[tr], y[tr]).decision_function(x[te])
    return eer(y, s)[1]


def measure(seed: int, quick: bool, drop: tuple[str, ...] = (), columns: str | None = None,
            search: str = "full") -> dict:
    f, conds, cols = load_conditions(drop, columns)
    print(f"{len(f)} videos with faces, {len(cols)} features (families left out: {', '.join(drop) or 'none'}), "
          f"conditions {ALL}, {'quick' if quick else 'full'} grid, {search} search")
    rows_by_model = {"baseline": [], "augmented": []}
    scores = {(mdl, c): [] for mdl in rows_by_model for c in ALL}
    t_all = time.time()
    for k, (tr, te) in enumerate(sb.folds(f, seed)):
        ftr, fte = f.iloc[tr], f.iloc[te]
        aug = [ftr]
        for c in CONDITIONS:
            d = conds[c].reindex(ftr["abs_path"])
            d = d[d["n_faces"].fillna(0) > 0]
            aug.append(d.reset_index(drop=True).assign(**{col: ftr.set_index("abs_path").loc[d.index, col].to_numpy()
                                                        for col in ("label", "group", "method", "compression")}))
        train_sets = {"baseline": ftr.reset_index(drop=True), "augmented": pd.concat(aug, ignore_index=True)}
        for mdl, train in train_sets.items():
            t0 = time.time()
            gs = grid_search(train, cols, seed=seed + 1 + k, quick=quick, search=search)
            thr = _threshold(gs, train, cols, seed + 1 + k)
            for c in ALL:
                if c == "full":
                    test = fte
                else:
                    test = conds[c].reindex(fte["abs_path"])
                    test = test.assign(**{col: fte[col].to_numpy() for col in ("label", "group", "method", "compression")})
                    test = test[test["n_faces"].fillna(0) > 0]
                s = decision(gs.best_estimator_, test, cols)
                scores[(mdl, c)].append(test[["label", "group", "method", "compression"]]
                                        .assign(score=s, thr=thr, fold=k).reset_index(drop=True))
            print(f"  fold {k} {mdl}: {len(train)} training rows, inner AUC {gs.best_score_:.3f}, "
                  f"{time.time() - t0:.0f} s", flush=True)
    table = []
    for (mdl, c), parts in scores.items():
        d = pd.concat(parts, ignore_index=True)
        real = d["label"] == "real"
        fs = d["method"].isin(sb.FACE_SWAP)
        re = d["method"].isin(sb.REENACT)
        y = as_binary(d["label"])
        far, frr = far_frr(y, d["score"] - d["thr"], 0.0)
        table.append({"model": mdl, "condition": c, "n": len(d), "auc": auc(d["label"], d["score"]),
                      "face_swap": auc(d.loc[real | fs, "label"], d.loc[real | fs, "score"]),
                      "face_swap_c23": auc(d.loc[(real | fs) & (d.compression == "c23"), "label"],
                                           d.loc[(real | fs) & (d.compression == "c23"), "score"]),
                      "reenactment": auc(d.loc[real | re, "label"], d.loc[real | re, "score"]),
                      "far@thr": far, "frr@thr": frr,
                      "median_real_score": float(d.loc[real, "score"].median()),
                      "median_fake_score": float(d.loc[~real, "score"].median())})
    print(f"\nAUC by test condition ({time.time() - t_all:.0f} s); far/frr at each fold's own EER threshold")
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    return {"table": table, "grid": "quick" if quick else "full", "search": search, "n_features": len(cols),
            "drop": list(drop), "span": SPAN,
            "conditions": {**CONDITIONS, "orig": "original file, first 120 frames, same sampling",
                           "full": "original file, 16 frames over the whole video"}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["prepare", "measure"], required=True)
    p.add_argument("--budget", type=float, default=480, help="seconds of preparation per run (resumable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--drop", nargs="*", default=["flick"],
                   help="feature families left out (default: flick, as the shipped model)")
    p.add_argument("--columns", default="block-mean", metavar="SPEC",
                   help="the columns offered, as 'train --columns' (default: block-mean, as the shipped model; "
                        "'all' for every column)")
    p.add_argument("--search", choices=list(SEARCHES), default="full",
                   help="the inner search space of detector.search (compact: the shipped default model's)")
    p.add_argument("--out", default="robustness", help="results/<out>.json")
    a = p.parse_args(argv)
    t0 = time.time()
    if a.part == "prepare":
        ok = prepare(a.budget)
        print("ready" if ok else "not ready yet", f"({time.time() - t0:.0f} s)")
        return 0
    machine = common.machine({"features_version": FEATURES_VERSION, "n_frames": sb.N_FRAMES, "span": SPAN})
    res = measure(a.seed, a.quick, tuple(a.drop), a.columns, a.search)
    res.update({"columns": a.columns, "drop": list(a.drop),
                "command": "python benchmarks/robustness.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "machine": machine, "seconds": round(time.time() - t0, 1),
                "protocol": __doc__.split("Protocol:", 1)[1].strip()})
    common.write_json(a.out, json.loads(json.dumps(ev.to_jsonable(res), default=str)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
