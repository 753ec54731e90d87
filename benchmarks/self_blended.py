"""Self-blended training data (issue 6, item 3): how well do self-blended fakes of the
real videos teach the detector to find real FF++ fakes?

    python benchmarks/self_blended.py --part prepare   # resumable, stops after --budget s; repeat until "ready"
    python benchmarks/self_blended.py --part sbi       # (a) trained on real + self-blended only
    python benchmarks/self_blended.py --part cross     # (b) leave one manipulation method out, +/- self-blended
    python benchmarks/self_blended.py --part pairs     # (c) does the synthesis reproduce the grid-loss cue? (paired)

Data (outside the repository, under $DEEPFAKE_SBI_ROOT, default /work/sbi):

- ``feats_v<V>_f16/ffpp``: features of every video of ../shared/data/manifest.csv (16 frames);
- ``videos/``: a self-blended fake of every real video (96 frames from the middle, blended,
  H.264 at CRF 19-27 for c23/unknown sources, 34-40 for c40 ones, x264 preset medium, in the
  source's pixel format: yuv444p for FF++) and its control (the
  same frames re-encoded at the same CRF, labelled real), see detector/selfblend.py;
- ``features_v<V>_f16``: their features (16 frames; the layout of ``deepfake-detector train
  --self-blended ... --self-blended-dir $DEEPFAKE_SBI_ROOT``, which reuses them).

Protocol: the outer folds are grouped 5-fold folds of the dataset videos (by ``group``,
stratified by label, seed 0).  In fold k the generated videos of the training groups
only are used; every choice (kernel, C, gamma, k, statistics) is made by a grouped inner
grid search on the training part (detector.search.grid_search = the pipeline and
grid of detector.search).  AUCs are of the pooled out-of-fold scores.

(a) ``sbi``: each fold's model is trained on the training-fold REAL videos + their
    self-blended fakes (+ controls) only, and tested on the test fold's real videos and
    real FF++ fakes.  Also shown: the ablation without controls, and the supervised
    reference (trained on the training fold's real FF++ fakes, same folds).
(b) ``cross``: for each method M, train on real + the other methods' fakes (the one
    ``unknown``-method fake is left out as it could be M), with and without the
    self-blended fakes (+ controls) of the training reals; test on M's fakes vs the
    test-fold reals.  The "seen" column is the supervised reference (all methods in
    training) on the same slice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402,F401  (pins thread pools to one thread before numpy/cv2 load)

import os  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from detector import evaluation as ev  # noqa: E402
from detector.datasets import read_manifest  # noqa: E402
from detector.decode import DEFAULT_FRAMES  # noqa: E402
from detector.extraction import aggregated_columns, collect, extract, load_features  # noqa: E402
from detector.features import FEATURES_VERSION  # noqa: E402
from detector.crossval import auc, subset_aucs  # noqa: E402
from detector.search import SEARCHES, decision, grid_search  # noqa: E402
from detector.selfblend import CONTROL_METHOD, METHOD, make_self_blended, round_dirs  # noqa: E402

ROOT = Path(os.environ.get("DEEPFAKE_SBI_ROOT", "/work/sbi"))
MANIFEST = common.SHARED / "manifest.csv"
N_FRAMES = DEFAULT_FRAMES
WORKERS = 2
FACE_SWAP = ["Deepfakes", "FaceSwap"]
REENACT = ["Face2Face", "NeuralTextures"]
METHODS = FACE_SWAP + REENACT


#: The inner search space of detector.search (``--search``; compact: the shipped default model's).
SEARCH = "full"


def ffpp_dir() -> Path:
    return ROOT / f"feats_v{FEATURES_VERSION}_f{N_FRAMES}" / "ffpp"


#: Self-blending rounds (``--rounds``): self-blended fakes (and controls) per real video.
ROUNDS = 1


def sbi_feats_dir(k: int = 0) -> Path:
    # the layout of 'deepfake-detector train --self-blended ... --self-blended-dir ROOT', so the CLI reuses it
    return round_dirs(ROOT, k, N_FRAMES)[1]


def sbi_videos_dir(k: int = 0) -> Path:
    return round_dirs(ROOT, k, N_FRAMES)[0]


def dataset_manifest() -> pd.DataFrame:
    m = read_manifest(MANIFEST)
    return m


def run_in_chunks(fn, rows: pd.DataFrame, deadline: float, chunk: int = 8) -> bool:
    """Call ``fn`` on successive chunks of ``rows`` (each call resumable) until done or
    past ``deadline``; returns True when every chunk ran."""
    for i in range(0, len(rows), chunk):
        if time.time() > deadline:
            return False
        fn(rows.iloc[i:i + chunk])
    return True


def _extract_quiet(m: pd.DataFrame, out: Path, manifest_path: str):
    return extract(m, out, n_frames=N_FRAMES, workers=WORKERS, progress=False, manifest_path=manifest_path)


def prepare(budget: float) -> bool:
    """Dataset features, self-blended videos, their features; True when all are ready."""
    deadline = time.time() + budget
    m = dataset_manifest()
    t = time.time()
    if not run_in_chunks(lambda c: _extract_quiet(c, ffpp_dir(), str(MANIFEST)), m, deadline):
        print(f"dataset features: not finished ({time.time() - t:.0f} s); run --part prepare again")
        return False
    collect(m, ffpp_dir())
    print(f"dataset features ready: {ffpp_dir()} ({time.time() - t:.0f} s)")
    reals = m[m["label"] == "real"]
    for k in range(ROUNDS):
        t = time.time()
        vdir, gdir = sbi_videos_dir(k), sbi_feats_dir(k)
        if not run_in_chunks(lambda c: make_self_blended(c, vdir, seed=k, workers=WORKERS), reals, deadline):
            print(f"self-blended videos: not finished ({time.time() - t:.0f} s); run --part prepare again")
            return False
        gen = make_self_blended(reals, vdir, seed=k, workers=WORKERS)
        print(f"self-blended videos ready: {len(gen)} videos in {vdir} ({time.time() - t:.0f} s)")
        t = time.time()
        gpath = str(vdir / "manifest.csv")
        if not run_in_chunks(lambda c: _extract_quiet(c, gdir, gpath), gen, deadline):
            print(f"self-blended features: not finished ({time.time() - t:.0f} s); run --part prepare again")
            return False
        collect(gen, gdir)
        print(f"self-blended features ready: {gdir} ({time.time() - t:.0f} s)")
    return True


def load(columns: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(dataset videos, generated videos, feature columns), videos with faces only;
    ``columns``: :func:`common.select_columns`'s ``--columns`` value (default: all)."""
    _, f = load_features(ffpp_dir())
    s = pd.concat([load_features(sbi_feats_dir(k))[1] for k in range(ROUNDS)], ignore_index=True)
    f = f[f["n_faces"] > 0].reset_index(drop=True)
    s = s[s["n_faces"] > 0].reset_index(drop=True)
    cols = common.select_columns([c for c in aggregated_columns(f) if c in s.columns], columns)
    return f, s, cols


def folds(f: pd.DataFrame, seed: int = 0):
    return ev.grouped_folds(f["group"].astype(str).to_numpy(), f["label"], n_splits=5, seed=seed)


def oof(f: pd.DataFrame, s: pd.DataFrame, cols: list[str], train_rows, test_rows=None, seed: int = 0,
        quick: bool = False, log=print, name: str = "") -> tuple[pd.DataFrame, list[dict]]:
    """Out-of-fold scores of the dataset videos.

    ``train_rows(k, f_train, s_train) -> DataFrame`` builds fold k's training table from
    the training-fold dataset videos and the generated videos of the training groups;
    ``test_rows(f_test) -> mask`` selects which test-fold dataset videos to score
    (default all).  Also scores the held-out generated videos (column ``sbi_score``).
    """
    scores = f.copy()
    scores["score"], scores["fold"] = np.nan, -1
    held = []
    params = []
    for k, (tr, te) in enumerate(folds(f, seed)):
        tr_groups = set(f.iloc[tr]["group"].astype(str))
        s_tr = s[s["group"].astype(str).isin(tr_groups)]
        s_te = s[~s["group"].astype(str).isin(tr_groups)]
        train = train_rows(k, f.iloc[tr], s_tr).reset_index(drop=True)
        t0 = time.time()
        gs = grid_search(train, cols, seed=seed + 1 + k, quick=quick, search=SEARCH)
        te_f = f.iloc[te]
        sel = te_f.index if test_rows is None else te_f.index[test_rows(te_f)]
        scores.loc[sel, "score"] = decision(gs.best_estimator_, f.loc[sel], cols)
        scores.loc[sel, "fold"] = k
        if len(s_te):
            held.append(s_te.assign(score=decision(gs.best_estimator_, s_te, cols), fold=k))
        params.append({"fold": k, "n_train": len(train), "n_train_fake": int((train["label"] == "fake").sum()),
                       "inner_auc": float(gs.best_score_), "seconds": round(time.time() - t0, 1),
                       **{p: (list(v) if isinstance(v, tuple) else v) for p, v in gs.best_params_.items()}})
        log(f"  {name} fold {k}: {len(train)} training videos, inner AUC {gs.best_score_:.3f}, "
            f"{time.time() - t0:.0f} s")
    scores.attrs["held_out_generated"] = pd.concat(held, ignore_index=True) if held else pd.DataFrame()
    return scores, params


def slice_table(scores: pd.DataFrame) -> list[dict]:
    """AUC of the dataset's test videos: overall, face swap / reenactment vs real (all,
    c23, c40), per method vs all reals, and real vs held-out self-blended fakes."""
    d = scores[scores["score"].notna()]
    real = d["label"] == "real"
    rows = [{"slice": "all fakes vs real", "n_real": int(real.sum()), "n_fake": int((~real).sum()),
             "auc": auc(d["label"], d["score"])}]
    for name, v in subset_aucs(d).items():
        rows.append({"slice": name, "n_real": v["n_real"], "n_fake": v["n_fake"], "auc": v["auc"]})
    for m in METHODS:
        sel = real | (d["method"] == m)
        if (d.loc[sel, "label"] == "fake").any():
            rows.append({"slice": f"{m} vs real", "n_real": int(real.sum()), "n_fake": int((d["method"] == m).sum()),
                         "auc": auc(d.loc[sel, "label"], d.loc[sel, "score"])})
    held = scores.attrs.get("held_out_generated")
    if held is not None and len(held):
        hf = held[held["method"] == METHOD]
        both = pd.concat([d[real][["label", "score"]], hf[["label", "score"]]])
        rows.append({"slice": "held-out self-blended vs real", "n_real": int(real.sum()), "n_fake": len(hf),
                     "auc": auc(both["label"], both["score"])})
        hc = held[held["method"] == CONTROL_METHOD]
        if len(hc):
            both = pd.concat([hc[["label", "score"]].assign(label="real"), hf[["label", "score"]]])
            rows.append({"slice": "held-out self-blended vs controls", "n_real": len(hc), "n_fake": len(hf),
                         "auc": auc(both["label"], both["score"])})
    return rows


def fmt(rows: list[dict], cols: list[str]) -> str:
    t = pd.DataFrame(rows)[cols]
    return t.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")


def feature_shifts(f: pd.DataFrame, s: pd.DataFrame, cols: list[str]) -> dict:
    """Diagnostic (no model): how each kind of fake moves the features.

    For every ``__mean`` column, the standardised mean shift (Cohen's d) of the
    self-blended fakes against their controls, of each FF++ method's c23 fakes against
    the c23 real videos, and of the controls against the real videos; then the
    correlation between these shift vectors (1 = the self-blended fakes move the
    features exactly like that method) and the largest shifts."""
    mcols = [c for c in cols if c.endswith("__mean")]

    def d(a, b):
        a, b = a[mcols].astype(float), b[mcols].astype(float)
        return (b.mean() - a.mean()) / np.sqrt((a.var() + b.var()) / 2 + 1e-12)

    real23 = f[(f["label"] == "real") & (f["compression"] == "c23")]
    shifts = pd.DataFrame({"self-blended vs controls": d(s[s["method"] == CONTROL_METHOD], s[s["method"] == METHOD])})
    for m in METHODS:
        fk = f[(f["method"] == m) & (f["compression"] == "c23")]
        if len(fk) >= 3:
            shifts[f"{m} c23 vs real c23"] = d(real23, fk)
    shifts["controls vs real"] = d(f[f["label"] == "real"], s[s["method"] == CONTROL_METHOD])
    corr = shifts.corr().iloc[0].drop(shifts.columns[0])
    shifts.index = [c.replace("__mean", "") for c in shifts.index]
    top = shifts.loc[shifts.abs().max(axis=1).sort_values(ascending=False).index[:15]]
    print("\nfeature-shift similarity: correlation of the self-blended fakes' shift (vs controls) with ...")
    print(corr.round(2).to_string())
    print("largest standardised shifts (Cohen's d of the __mean columns):")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(top.round(2).to_string())
    return {"correlation_with_self_blended_shift": corr.to_dict(), "largest_shifts": top.round(3).to_dict("index")}


def part_sbi(seed: int, quick: bool, keys: list[str] | None = None, columns: str | None = None) -> dict:
    f, s, cols = load(columns)
    print(f"{len(f)} dataset videos ({(f.label == 'real').sum()} real), {len(s)} generated "
          f"({(s.method == METHOD).sum()} self-blended, {(s.method == CONTROL_METHOD).sum()} controls), "
          f"{len(cols)} features, {'quick' if quick else 'full'} grid")
    variants = {
        "real + self-blended + controls (SBI-only)":
            lambda k, ft, st: pd.concat([ft[ft["label"] == "real"], st]),
        "real + self-blended, no controls (ablation)":
            lambda k, ft, st: pd.concat([ft[ft["label"] == "real"], st[st["method"] == METHOD]]),
        "real + FF++ fakes (supervised reference)":
            lambda k, ft, st: ft,
    }
    short = dict(zip(VARIANT_KEYS, variants))
    if keys:
        variants = {short[k]: variants[short[k]] for k in keys}
    out = {}
    for name, fn in variants.items():
        t0 = time.time()
        sc, params = oof(f, s, cols, fn, seed=seed, quick=quick, name=name.split(" (")[0])
        rows = slice_table(sc)
        out[name] = {"table": rows, "folds": params, "seconds": round(time.time() - t0, 1)}
        print(f"\n{name}  ({time.time() - t0:.0f} s)")
        print(fmt(rows, ["slice", "n_real", "n_fake", "auc"]))
    return {"variants": out, "n_features": len(cols), "grid": "quick" if quick else "full",
            "feature_shifts": feature_shifts(f, s, cols)}


VARIANT_KEYS = ["sbi", "nocontrol", "supervised"]


def part_cross(seed: int, quick: bool, methods: list[str] | None = None, columns: str | None = None) -> dict:
    f, s, cols = load(columns)
    print(f"cross-method: {len(f)} dataset videos, {len(s)} generated, {len(cols)} features, "
          f"{'quick' if quick else 'full'} grid")
    results = {}
    t_all = time.time()
    # reference: all methods seen in training (the supervised model), same folds
    ref, _ = oof(f, s, cols, lambda k, ft, st: ft, seed=seed, quick=quick, name="seen", log=lambda *a: None)
    methods = methods or METHODS
    for m in methods:
        for variant, with_sbi in (("unseen", False), ("unseen + self-blended", True)):
            def rows(k, ft, st, m=m, with_sbi=with_sbi):
                keep = ft[(ft["label"] == "real") | ((ft["method"] != m) & (ft["method"].isin(METHODS)))]
                return pd.concat([keep, st]) if with_sbi else keep

            t0 = time.time()
            sc, params = oof(f, s, cols, rows, test_rows=lambda te, m=m: ((te["label"] == "real") |
                                                                            (te["method"] == m)).to_numpy(),
                             seed=seed, quick=quick, name=f"{m} {variant}", log=lambda *a: None)
            results.setdefault(m, {})[variant] = {"scores": sc, "folds": params, "seconds": round(time.time() - t0, 1)}
            print(f"  {m:15s} {variant:22s} {time.time() - t0:.0f} s", flush=True)
    table = []
    for m in methods:
        d_ref = ref[ref["score"].notna() & ((ref["label"] == "real") | (ref["method"] == m))]
        row = {"method": m, "n_real": int((d_ref["label"] == "real").sum()),
               "n_fake": int((d_ref["label"] == "fake").sum()), "seen": auc(d_ref["label"], d_ref["score"])}
        for variant in ("unseen", "unseen + self-blended"):
            sc = results[m][variant]["scores"]
            d = sc[sc["score"].notna()]
            row[variant] = auc(d["label"], d["score"])
            for comp in ("c23",):
                dc = d[d["compression"] == comp]
                row[f"{variant} ({comp})"] = auc(dc["label"], dc["score"])
        dc = d_ref[d_ref["compression"] == "c23"]
        row["seen (c23)"] = auc(dc["label"], dc["score"])
        table.append(row)
    # face swap pooled: Deepfakes and FaceSwap each held out, scores pooled with the reals once
    print(f"\ncross-method AUC (test fold reals vs the held-out method's fakes; {time.time() - t_all:.0f} s)")
    print(fmt(table, ["method", "n_real", "n_fake", "seen", "unseen", "unseen + self-blended",
                      "seen (c23)", "unseen (c23)", "unseen + self-blended (c23)"]))
    return {"table": table, "grid": "quick" if quick else "full", "n_features": len(cols),
            "folds": {m: {v: r["folds"] for v, r in d.items()} for m, d in results.items()}}


PAIRED_COLUMNS = ["block_inner__mean", "block_inner_outer__mean", "block_4x4_inner_outer__mean",
                  "block_outer__mean", "block_dctzero_inner_outer__mean"]


def part_pairs() -> dict:
    """Does the synthesis reproduce the main cue?  Per group and compression, the
    difference of a feature between the self-blended fakes and their controls (same
    frames, same encode; means over the group's videos), against the difference between
    each real FF++ fake and the mean of the genuine videos of its group and compression.
    Median difference and share of negative differences (the grid a face loses makes the
    block columns negative).  Descriptive, no model."""
    f, s, _ = load()
    key = lambda d: d["group"].astype(str) + "|" + d["compression"].astype(str)  # noqa: E731
    f, s = f.assign(src=key(f)), s.assign(src=key(s))
    rows = []
    for col in PAIRED_COLUMNS:
        fake = s[s["method"] == METHOD].groupby("src")[col].mean()
        ctrl = s[s["method"] == CONTROL_METHOD].groupby("src")[col].mean()
        d = (fake - ctrl).dropna()
        row = {"column": col, "self-blended - control": f"{d.median():+.3f} ({(d < 0).mean():.0%} < 0, n={len(d)})"}
        real = f[f["label"] == "real"].groupby("src")[col].mean()
        for m in METHODS:
            x = f[f["method"] == m]
            dd = pd.Series(x[col].to_numpy() - real.reindex(x["src"]).to_numpy()).dropna()
            row[f"{m} - real"] = f"{dd.median():+.3f} ({(dd < 0).mean():.0%} < 0, n={len(dd)})"
        rows.append(row)
    print("paired differences (per group and compression): median (share < 0, pairs)")
    print(fmt(rows, list(rows[0])))
    return {"table": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["prepare", "sbi", "cross", "pairs"], required=True)
    p.add_argument("--budget", type=float, default=480, help="seconds of preparation per run (resumable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="the small grid of detector.search.param_grid")
    p.add_argument("--variants", default=None, help=f"part sbi: comma list of {VARIANT_KEYS} (default all)")
    p.add_argument("--methods", default=None, help=f"part cross: comma list of {METHODS} (default all)")
    p.add_argument("--search", choices=list(SEARCHES), default="full",
                   help="parts sbi and cross: the inner search space, as 'train --search'")
    p.add_argument("--tag", default="", help="suffix of the results file name (e.g. for another data root)")
    p.add_argument("--columns", default=None,
                   help=f"parts sbi and cross: only these feature columns: {sorted(common.COLUMN_SETS)} "
                        "or a regular expression")
    p.add_argument("--rounds", type=int, default=1,
                   help="self-blended fakes (and controls) per real video, round k with seed k "
                        "(as train --self-blended-rounds); prepare makes them, sbi/cross/pairs use them all")
    a = p.parse_args(argv)
    global ROUNDS
    ROUNDS = max(1, a.rounds)
    t0 = time.time()
    cmd = "python benchmarks/self_blended.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if a.part == "prepare":
        ok = prepare(a.budget)
        print("ready" if ok else "not ready yet", f"({time.time() - t0:.0f} s)")
        return 0
    if not _ready():
        print("data not ready: run --part prepare (repeatedly) first", file=sys.stderr)
        return 1
    machine = common.machine({"features_version": FEATURES_VERSION, "n_frames": N_FRAMES, "root": str(ROOT)})
    global SEARCH
    SEARCH = a.search
    keys = a.variants.split(",") if a.variants else None
    methods = a.methods.split(",") if a.methods else None
    res = part_sbi(a.seed, a.quick, keys, a.columns) if a.part == "sbi" else part_pairs() if a.part == "pairs" \
        else part_cross(a.seed, a.quick, methods, a.columns)
    gen = pd.concat([pd.read_csv(sbi_videos_dir(k) / "manifest.csv") for k in range(ROUNDS)], ignore_index=True)
    res.update({"command": cmd, "machine": machine, "search": a.search, "seconds": round(time.time() - t0, 1),
                "generated": {"n_fake": int((gen["method"] == METHOD).sum()),
                              "n_control": int((gen["method"] == CONTROL_METHOD).sum()),
                              "crf": gen[gen["method"] == METHOD].groupby("compression")["crf"].describe()
                              .round(1).to_dict("index")},
                "protocol": __doc__.split("Protocol:", 1)[1].strip()})
    name = f"self_blended_{a.part}_{'quick' if a.quick else 'full'}"
    if a.part == "sbi" and keys:
        name += "_" + "-".join(keys)
    if a.part in ("sbi", "cross") and a.columns:
        name += "_" + (a.columns if a.columns in common.COLUMN_SETS else "columns")
    if a.part == "cross" and methods:
        name += "_" + "-".join(methods)
    if a.part in ("sbi", "cross") and a.seed:
        name += f"_seed{a.seed}"
    if ROUNDS > 1:
        name += f"_r{ROUNDS}"
    if a.part in ("sbi", "cross") and a.search != "full":
        name += f"_{a.search}"
    if a.tag:
        name += "_" + a.tag
    common.write_json(name, json.loads(json.dumps(ev.to_jsonable(res), default=str)))
    return 0


def _ready() -> bool:
    try:
        load_features(ffpp_dir())
        for k in range(ROUNDS):
            load_features(sbi_feats_dir(k))
    except (FileNotFoundError, ValueError):
        return False
    m = dataset_manifest()
    _, f = load_features(ffpp_dir())
    return len(f) >= len(m) - _n_failed(ffpp_dir())


def _n_failed(d: Path) -> int:
    fp = d / "failures.csv"
    return len(pd.read_csv(fp)) if fp.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
