"""Training and the stored evaluation, on a small synthetic feature table (no videos)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import evaluation as ev
from detector.extraction import extract, load_features
from detector.metrics import as_binary
from detector.model import load_model
from detector.crossval import nested_cv
from detector.training import train


def _features_dir(tmp_path, n_groups=12, seed=0):
    """videos.parquet as 'extract' writes it: each group = 1 real + 2 fakes, one informative feature."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        base = rng.normal()
        for label, method, shift in (("real", "original", 0.0), ("fake", "Deepfakes", -1.5), ("fake", "Face2Face", -1.0)):
            for comp in ("c23", "c40"):
                rows.append({"path": f"v/{g}_{method}_{comp}.mp4", "label": label, "group": f"g{g}", "method": method,
                             "compression": comp, "dataset": "synthetic", "n_faces": 16,
                             "hf_inner_outer__mean": base * 0.3 + shift + rng.normal(0, 0.4),
                             "noise_inner_outer__mean": rng.normal(),  # pure noise
                             "block_inner__mean": rng.normal()})
    d = tmp_path / "feats"
    d.mkdir()
    pd.DataFrame(rows).to_parquet(d / "videos.parquet")
    return d


def test_nested_cv_keeps_groups_apart_and_finds_the_signal(tmp_path):
    _, videos = load_features(_features_dir(tmp_path))
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    cv = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *a: None)
    s = cv.scores
    assert s["score"].notna().all() and set(s["fold"]) == {0, 1, 2, 3}
    assert s.groupby("group")["fold"].nunique().max() == 1  # a group never straddles folds
    assert ev.summarize(s["label"], s["score"], n_boot=0)["auc"] > 0.85


def test_train_writes_a_loadable_model_card_and_evaluation(tmp_path):
    d = _features_dir(tmp_path)
    m = train(str(d), str(tmp_path / "model"), name="t", quick=True, command="deepfake-detector train ...",
              log=lambda *a: None)
    loaded = load_model(tmp_path / "model")
    assert loaded.columns == m.columns and loaded.threshold == pytest.approx(m.threshold)
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    for key in ("training", "parameters", "metrics", "command", "libraries", "features_version", "threshold"):
        assert key in card
    assert card["metrics"]["video"]["auc"] > 0.8
    from detector.features import BLOCK_RUN

    assert card["block_run"] == BLOCK_RUN
    assert f"averaged over {BLOCK_RUN} consecutive frames" in (tmp_path / "model" / "CARD.md").read_text()
    # no per-frame table here: scored as deployed, every video keeps its main track's score
    dep = card["metrics"]["video_deployed_rule"]
    assert dep["auc"] == pytest.approx(card["metrics"]["video"]["auc"]) and dep["n_videos_differing"] == 0
    evd = tmp_path / "model" / "evaluation"
    scores = pd.read_csv(evd / "scores.csv")
    assert {"path", "label", "method", "compression", "score", "verdict", "fold"} <= set(scores.columns)
    metrics = json.loads((evd / "metrics.json").read_text())
    assert "FAR" in metrics["convention"] and metrics["video"]["overall"]["auc"] > 0.8
    # likelihood ratios: out of fold from each fold's own calibration, the model's fitted on all videos
    assert scores["llr"].notna().all() and metrics["video"]["overall"]["cllr"] < 1
    assert metrics["video"]["overall"]["cllr_min"] <= metrics["video"]["overall"]["cllr"]
    assert card["calibration"]["n_fake"] + card["calibration"]["n_real"] == len(scores) == 72
    assert loaded.calibration is not None and card["metrics"]["video"]["cllr"] == metrics["video"]["overall"]["cllr"]
    assert "face_swap_vs_real_c23" not in metrics["subsets"] or metrics["subsets"]["face_swap_vs_real_c23"]["auc"] > 0.5
    assert (evd / "roc.csv").exists() and (evd / "det.csv").exists()
    # the heat map's genuine reference: the real videos' medians, for this model file
    from detector.reference import load_genuine_reference, reference_for

    ref = load_genuine_reference(tmp_path / "model", loaded.sha256)
    assert ref.n_videos == 24 and set(ref.stats) == set(loaded.columns)
    real = pd.read_parquet(d / "videos.parquet").query("label == 'real'")
    assert ref.stats["hf_inner_outer__mean"][0] == pytest.approx(real["hf_inner_outer__mean"].median())
    assert reference_for(loaded)[0].source == "genuine"


def test_extract_is_resumable_and_records_failures(tmp_path, demo_pair, bad_files):
    m = pd.DataFrame({"path": [str(demo_pair[0]), str(demo_pair[1]), str(bad_files["text"])],
                      "label": ["real", "fake", "fake"], "group": ["a", "a", "b"], "method": ["o", "s", "s"],
                      "compression": ["c23"] * 3, "dataset": ["demo"] * 3})
    m["abs_path"] = m["path"]
    frames, videos = extract(m, tmp_path / "x", n_frames=4, workers=1, progress=False)
    assert len(videos) == 2 and (videos["n_faces"] == 4).all()
    assert "hf_inner_outer__mean" in videos.columns and len(frames) == 8
    failures = pd.read_csv(tmp_path / "x" / "failures.csv")
    assert len(failures) == 1 and "readable" in failures["reason"][0]
    shard_times = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "x" / "shards").iterdir()}
    extract(m, tmp_path / "x", n_frames=4, workers=1, progress=False)  # resumes: nothing redone
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "x" / "shards").iterdir()} == shard_times
    # a video remade under the same name (another size) is analysed again, the other kept
    m2 = m.copy()
    m2.loc[0, "abs_path"] = str(tmp_path / "remade.mp4")
    shutil.copy(demo_pair[0], m2.loc[0, "abs_path"])
    _, v1 = extract(m2, tmp_path / "x", n_frames=4, workers=1, progress=False)
    shutil.copy(demo_pair[1], m2.loc[0, "abs_path"])
    times = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "x" / "shards").iterdir()}
    _, v2 = extract(m2, tmp_path / "x", n_frames=4, workers=1, progress=False)
    changed = {p.name for p in (tmp_path / "x" / "shards").iterdir() if p.stat().st_mtime_ns != times[p.name]}
    assert len(changed) == 1 and v2["sha256"].iloc[0] != v1["sha256"].iloc[0]
    assert v2["size_bytes"].iloc[0] == Path(demo_pair[1]).stat().st_size
    with pytest.raises(ValueError, match="features made with"):
        extract(m, tmp_path / "x", n_frames=8, workers=1, progress=False)


def test_fused_model_saves_loads_and_explains(tmp_path):
    """--fusion: per-family SVMs averaged; the skops file loads (allow-listed type), the
    model reports the families it reads, and the explanation covers only those."""
    from detector.dashboard.explain import column_contributions
    from detector.estimators import FamilyFusion

    d = _features_dir(tmp_path)
    m = train(str(d), str(tmp_path / "fused"), name="f", quick=True, log=lambda *a: None, fusion=True)
    assert isinstance(m.pipeline, FamilyFusion)
    loaded = load_model(tmp_path / "fused")
    assert isinstance(loaded.pipeline, FamilyFusion) and "--fusion" in loaded.card["command"]
    fams = loaded.card["parameters"]["fusion_families"]
    assert fams[0] == "hf" and set(loaded.families) == set(fams)  # the informative family leads
    _, videos = load_features(d)
    row = videos.iloc[0][loaded.columns].to_dict()
    assert loaded.decision_function(row)[0] == pytest.approx(m.decision_function(row)[0])
    contrib = column_contributions(loaded, row)
    assert contrib and all(v == 0.0 for c, v in contrib.items() if c.split("_")[0] not in fams)
    assert loaded.card["metrics"]["video"]["auc"] > 0.8


def test_train_cli_can_leave_a_family_out(tmp_path):
    """`train --drop FAMILY`: a cheaper model that never reads that family (the scanner then
    does not compute it); the card's command says so."""
    from detector.cli import main

    d = _features_dir(tmp_path)
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "m"), "--quick", "--drop", "noise",
                 "--drop", "block"]) == 0
    m = load_model(tmp_path / "m")
    assert m.columns == ["hf_inner_outer__mean"] and m.families == ("hf",)
    assert "--drop noise --drop block" in m.card["command"] and m.card["families"] == ["hf"]


def test_train_cli_columns_keeps_a_column_set_and_says_so(tmp_path, capsys):
    """`train --columns grid` offers only the block-grid strengths (the `block` family
    without its DCT statistics); a regular expression works too; a spec that matches
    nothing is a one-line error."""
    from detector.cli import main
    from detector.search import select_columns

    d = _features_dir(tmp_path)
    v = pd.read_parquet(d / "videos.parquet")
    v["block_dct_inner__mean"] = np.random.default_rng(3).normal(size=len(v))
    v.to_parquet(d / "videos.parquet")
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "g"), "--quick", "--columns", "grid"]) == 0
    g = load_model(tmp_path / "g")
    assert g.columns == ["block_inner__mean"]
    assert g.card["column_set"]["spec"] == "grid" and "--columns 'grid'" in g.card["command"]
    assert "--columns grid" in (tmp_path / "g" / "CARD.md").read_text()
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "r"), "--quick",
                 "--columns", "^(hf|noise)_"]) == 0
    assert load_model(tmp_path / "r").columns == ["hf_inner_outer__mean", "noise_inner_outer__mean"]
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "x"), "--quick", "--columns", "^nothing"]) == 1
    assert "matches no feature column" in capsys.readouterr().err
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "x"), "--self-blended-rounds", "2"]) == 1
    assert "needs --self-blended" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="regular expression"):
        select_columns(["a"], "(")
    assert select_columns(["a", "b"], "all") == ["a", "b"]


def test_mean_column_sets_and_a_grid_without_repeated_points():
    """`block-mean` keeps the block family's track means (the shipped model's inputs),
    `grid-mean` those without the DCT statistics; the search grid drops the aggregation
    and family choices that would keep the same columns as an earlier one, and numbers
    of selected features no choice reaches, but is unchanged when every choice differs."""
    from sklearn.model_selection import ParameterGrid

    from detector.estimators import StatSelector
    from detector.search import FAMILY_CHOICES, STAT_CHOICES, param_grid, select_columns

    cols = [f"{c}__{s}" for c in ("block_inner", "block_dctzero_inner", "hf_ratio") for s in ("mean", "median", "std")]
    assert select_columns(cols, "block-mean") == ["block_inner__mean", "block_dctzero_inner__mean"]
    assert select_columns(cols, "grid-mean") == ["block_inner__mean"]

    full = param_grid(len(cols), columns=cols)
    assert full == param_grid(len(cols))  # every choice keeps other columns: the grid as before
    assert full[0]["stats__stats"] == STAT_CHOICES and full[0]["stats__families"] == FAMILY_CHOICES

    means = select_columns(cols, "block-mean")
    g = param_grid(len(means), columns=means)
    assert all(d["stats__stats"] == [("mean",)] and d["stats__families"] == [None] and d["select__k"] == ["all"]
               for d in g)
    points = list(ParameterGrid(g))
    kept = [tuple(StatSelector(means, p["stats__stats"], p["stats__families"]).fit(np.zeros((1, 2))).keep_)
            for p in points]
    assert len(points) == len(ParameterGrid(param_grid(len(means)))) // 6  # 3 stats x 2 families collapsed
    assert set(kept) == {(0, 1)}
    many = [f"block_c{i}__mean" for i in range(30)]
    assert param_grid(30, columns=many)[0]["select__k"] == [10, 25, "all"]


def test_subset_aucs_report_the_eer_too():
    from detector.crossval import subset_aucs

    sc = pd.DataFrame({"label": ["real", "real", "fake", "fake", "fake"], "score": [0.1, 0.6, 0.5, 0.9, 0.8],
                       "method": ["original", "original", "Deepfakes", "FaceSwap", "Face2Face"],
                       "compression": ["c23"] * 5})
    fs = subset_aucs(sc)["face_swap_vs_real_c23"]
    assert fs["auc"] == pytest.approx(0.75) and fs["n_fake"] == 2 and 0.0 < fs["eer"] <= 0.5


def test_deployed_scores_take_the_highest_qualifying_track(tmp_path):
    """The evaluation can score videos as analyze() does: the highest score of the tracks
    seen in >= 3 sampled frames; a track seen once does not count."""
    from detector.features import aggregate
    from detector.crossval import deployed_scores
    from detector.search import feature_matrix

    _, videos = load_features(_features_dir(tmp_path))
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    cv = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *a: None)
    path = videos.loc[videos["label"] == "real", "path"].iloc[0]
    rng = np.random.default_rng(1)

    def track(tid, n, hf):
        return pd.DataFrame({"path": path, "frame": np.arange(n) * 10, "track_id": tid,
                             "hf_inner_outer": hf + rng.normal(0, 0.05, n), "noise_inner_outer": rng.normal(0, 1, n),
                             "block_inner": rng.normal(0, 1, n)})

    frames = pd.concat([track(0, 16, 0.0), track(1, 3, -3.0), track(2, 1, -30.0)], ignore_index=True)
    dep = deployed_scores(frames, videos, cv, cols)
    row = dep[dep["path"] == path].iloc[0]
    model = cv.fold_models[int(row["fold"])]
    per_track = {t: float(model.decision_function(feature_matrix(pd.DataFrame([aggregate(g.sort_values("frame"))]),
                                                                 cols))[0]) for t, g in frames.groupby("track_id")}
    assert row["score"] == pytest.approx(max(per_track[0], per_track[1]))
    assert per_track[1] > per_track[0]  # the second person looks fake, and decides the video's score
    assert per_track[2] > row["score"]  # a one-frame track is not counted
    others = dep["path"] != path
    assert (dep.loc[others, "score"] == dep.loc[others, "main_track_score"]).all()  # no frames given: unchanged


def test_rescore_scores_other_features_with_the_same_fold_models(tmp_path):
    """`rescore`: each video scored by its own outer fold's model on another feature table
    of the same videos; identical features give identical scores; a missing video is an error."""
    from detector.crossval import rescore

    _, videos = load_features(_features_dir(tmp_path))
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    cv = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *a: None)
    same = rescore(cv, videos.sample(frac=1.0, random_state=0), cols)  # row order does not matter
    assert np.allclose(same.scores["score"], cv.scores["score"])
    assert (same.scores["verdict"] == cv.scores["verdict"]).all()
    other = videos.copy()
    other["hf_inner_outer__mean"] = -other["hf_inner_outer__mean"]  # the signal flipped
    flipped = rescore(cv, other, cols)
    assert ev.summarize(flipped.scores["label"], flipped.scores["score"], n_boot=0)["auc"] < 0.2
    with pytest.raises(ValueError, match="not in the evaluation features"):
        rescore(cv, videos.iloc[1:], cols)


def test_train_cli_eval_features_reports_the_deployed_frames(tmp_path, capsys):
    """`train --features MANY --eval-features FEW`: trained on one extraction (e.g. 32
    frames per video), evaluated on the other (the scanner's 16): scores.csv holds the
    second, the training-frames scores are kept beside them, and the card says both."""
    from detector.cli import main
    from detector.features import FEATURES_VERSION

    d = _features_dir(tmp_path)
    (d / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": 32,
                                                "manifest": "m.csv"}))
    e = tmp_path / "few"
    e.mkdir()
    v = pd.read_parquet(d / "videos.parquet")
    rng = np.random.default_rng(5)
    v["hf_inner_outer__mean"] += rng.normal(0, 0.3, len(v))  # fewer frames: noisier aggregates
    v.loc[0, "n_faces"] = 0  # no face found in its 16 frames
    v.to_parquet(e / "videos.parquet")
    (e / "extract.json").write_text(json.dumps({"features_version": FEATURES_VERSION, "n_frames": 16,
                                                "manifest": "m.csv"}))
    out = tmp_path / "m"
    assert main(["train", "--features", str(d), "--eval-features", str(e), "--out", str(out), "--quick"]) == 0
    m = load_model(out)
    assert m.card["frames"] == {"training": 32, "evaluation": 16, "evaluation_features": str(e)}
    assert m.card["training"]["manifest"] == "m.csv" and "manifest: `m.csv`" in (out / "CARD.md").read_text()
    assert f"--frames 32 && deepfake-detector extract --manifest m.csv --out {e} --frames 16" in m.card["command"]
    assert f"--eval-features {e}" in m.card["command"]
    assert "trained on 32 sampled frames per video, evaluated at 16" in (out / "CARD.md").read_text()
    s = pd.read_csv(out / "evaluation" / "scores.csv")
    t = pd.read_csv(out / "evaluation" / "scores_training_frames.csv")
    assert list(s["path"]) == list(t["path"]) and (s["fold"] == t["fold"]).all()
    assert s.loc[0, "verdict"] == "no-face" and np.isnan(s.loc[0, "score"]) and np.isfinite(t.loc[0, "score"])
    assert not np.allclose(s["score"].iloc[1:], t["score"].iloc[1:])  # really scored on the other features
    assert 0.5 < m.card["metrics"]["video"]["auc"] < m.card["metrics"]["video_training_frames"]["auc"] + 0.05
    assert main(["train", "--features", str(d), "--eval-features", str(e), "--out", str(tmp_path / "x"),
                 "--self-blended", "only"]) == 1
    assert "not supported with --self-blended" in capsys.readouterr().err


def test_design_searches_are_the_eight_combinations_and_name_full_and_compact():
    """The design space of benchmarks/search_choice.py --candidates design: scaler x kernels x
    column selection, each combination once; ``full`` and ``compact`` are two of them."""
    from sklearn.preprocessing import RobustScaler, StandardScaler

    from detector.search import DESIGN_SEARCHES, make_pipeline, param_grid, search_space

    cols = [f"block_c{i}__mean" for i in range(30)]
    seen = set()
    for s in DESIGN_SEARCHES:
        scaler, kernels, select_k = search_space(s)
        grid = param_grid(30, columns=cols, search=s)
        assert [g["svm__kernel"] for g in grid] == [[k] for k in kernels]
        assert all((g["select__k"] != ["all"]) == select_k for g in grid)
        assert isinstance(make_pipeline(cols, s).named_steps["scale"],
                          RobustScaler if scaler == "robust" else StandardScaler)
        seen.add((scaler, kernels, select_k))
    assert len(seen) == 8
    for name, spec in [("full", "standard-rbf+linear-k"), ("compact", "robust-rbf-all")]:
        assert search_space(name) == search_space(spec)
        assert repr(param_grid(30, columns=cols, search=name)) == repr(param_grid(30, columns=cols, search=spec))
    with pytest.raises(ValueError, match="not one of"):
        search_space("robust-linear-all")


def test_train_cli_compact_search_scales_robustly_keeps_every_column_and_says_so(tmp_path, capsys):
    """`train --search compact` (the shipped default model's recipe): median / IQR scaling,
    every offered column, an RBF SVM; the card, its markdown and its command say so; the
    saved model loads and explains its score; an unknown search is refused."""
    from sklearn.model_selection import ParameterGrid
    from sklearn.preprocessing import RobustScaler

    from detector.cli import main
    from detector.dashboard.explain import column_contributions, scaler_reference
    from detector.search import make_pipeline, param_grid

    grid = param_grid(30, columns=[f"block_c{i}__mean" for i in range(30)], search="compact")
    assert len(grid) == 1 and grid[0]["svm__kernel"] == ["rbf"] and grid[0]["select__k"] == ["all"]
    assert {p["svm__C"] for p in ParameterGrid(grid)} == {0.1, 0.3, 1.0, 3.0}
    assert isinstance(make_pipeline(search="compact").named_steps["scale"], RobustScaler)
    with pytest.raises(ValueError, match="not one of"):
        param_grid(3, search="tiny")

    d = _features_dir(tmp_path)
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "c"), "--search", "compact"]) == 0
    m = load_model(tmp_path / "c")
    assert isinstance(m.pipeline.named_steps["scale"], RobustScaler)
    assert m.pipeline.named_steps["svm"].kernel == "rbf" and m.card["search"] == "compact"
    assert m.card["parameters"]["select__k"] == "all"
    assert "--search compact" in m.card["command"] and "inner search: `compact`" in (tmp_path / "c" / "CARD.md").read_text()
    assert m.card["metrics"]["video"]["auc"] > 0.8
    from detector.dashboard.models import card_summary

    assert card_summary(m.card).set_index("item").loc["inner search", "value"].startswith("`compact` (median / IQR")
    v = pd.read_parquet(d / "videos.parquet")
    row = v.iloc[1][m.columns].to_dict()
    centre = scaler_reference(m)
    assert centre["hf_inner_outer__mean"][0] == pytest.approx(np.median(v["hf_inner_outer__mean"]), abs=0.5)
    contrib = column_contributions(m, row)
    assert set(contrib) == set(m.columns) and abs(contrib["hf_inner_outer__mean"]) > 0
    # without an explicit reference the model falls back on the scaler's centre (the median)
    assert m.contributions(row) == pytest.approx(contrib)
    full = train(str(d), str(tmp_path / "f"), quick=True, log=lambda *a: None)
    assert "--search" not in full.card["command"] and full.card["search"] == "full"
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "x"), "--search", "compact",
                 "--self-blended", "only"]) == 1
    assert "not supported with --self-blended" in capsys.readouterr().err


def test_search_auto_chooses_inside_every_training_part_and_on_all_videos(tmp_path, capsys, monkeypatch):
    """`--search auto` (the shipped default model's recipe): each outer fold's search is the
    one `choose_search` picks on that training part alone, and its held-out scores are that
    search's; `train` picks on all videos; its card, CARD.md and command say which."""
    import detector.crossval as crossval
    from detector.cli import main
    from detector.crossval import choose_search, selection_seed
    from detector.search import DESIGN_SEARCHES

    d = _features_dir(tmp_path, n_groups=8)
    _, v = load_features(d)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    cv = nested_cv(v, cols, n_outer=3, n_inner=3, seed=3, quick=True, log=lambda *a: None, search="auto")
    y, g = as_binary(v["label"]), v["group"].astype(str).to_numpy()
    tr, te = next(iter(ev.grouped_folds(g, y, n_splits=3, seed=3)))
    pick, aucs = choose_search(v.iloc[tr].reset_index(drop=True), cols, selection_seed(3, 0), n_inner=3, quick=True)
    assert cv.params[0]["search"] == pick and cv.params[0]["search_aucs"] == aucs
    assert set(aucs) == set(DESIGN_SEARCHES) and aucs[pick] == max(aucs.values())
    fixed = nested_cv(v, cols, n_outer=3, n_inner=3, seed=3, quick=True, log=lambda *a: None, search=pick).scores
    assert np.allclose(cv.scores["score"].iloc[te], fixed["score"].iloc[te])
    assert all(p["search"] in DESIGN_SEARCHES for p in cv.params)
    with pytest.raises(ValueError, match="not supported"):
        nested_cv(v, cols, quick=True, log=lambda *a: None, search="auto", fusion=True)

    # train: the choice on all videos (stubbed here: the real one is checked above) goes into the model
    calls = []

    def stub(videos, columns, seed=0, candidates=DESIGN_SEARCHES, n_outer=4, n_inner=4, quick=False, n_jobs=1):
        calls.append((len(videos), seed))
        return "robust-rbf-k", {s: 0.5 + 0.01 * (s == "robust-rbf-k") for s in candidates}

    monkeypatch.setattr(crossval, "choose_search", stub)
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "a"), "--quick", "--search", "auto"]) == 0
    m = load_model(tmp_path / "a")
    assert calls[-1] == (len(v), selection_seed(0)) and len(calls) == 6  # five training parts, then all videos
    assert m.card["search"] == "auto" and m.card["parameters"]["search"] == "robust-rbf-k"
    assert type(m.pipeline.named_steps["scale"]).__name__ == "RobustScaler"
    assert "--search auto" in m.card["command"]
    assert "picked `robust-rbf-k`, nested AUC 0.510" in (tmp_path / "a" / "CARD.md").read_text()
    metrics = json.loads((tmp_path / "a" / "evaluation" / "metrics.json").read_text())
    assert [f["search"] for f in metrics["folds"]] == ["robust-rbf-k"] * 5
    assert main(["train", "--features", str(d), "--out", str(tmp_path / "x"), "--search", "auto", "--fusion"]) == 1
    assert "not supported" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_stat_selector_names_its_columns_and_the_model_follows_them_through_every_step():
    """StatSelector is a scikit-learn selector (``get_support``, ``get_feature_names_out``,
    missing values pass); a model follows its columns through the stats selection, the
    imputer dropping a never-measured column and the k best, and its scaler's centres
    land on the right columns."""
    from detector.estimators import StatSelector
    from detector.model import DetectorModel
    from detector.search import make_pipeline

    cols = ["block_a__mean", "block_a__median", "hf_b__mean", "hf_b__median", "noise_c__mean"]
    sel = StatSelector(cols, stats=("mean",)).fit(np.zeros((2, 5)))
    assert list(sel.get_feature_names_out(cols)) == ["block_a__mean", "hf_b__mean", "noise_c__mean"]
    assert sel.get_support().tolist() == [True, False, True, False, True]
    assert np.isnan(sel.transform(np.full((1, 5), np.nan))).all() and sel.transform(np.zeros((1, 5))).shape == (1, 3)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)) + np.arange(5) * 10
    x[:, 2] = np.nan  # hf_b__mean never measured: the imputer drops it
    y = (x[:, 4] > np.median(x[:, 4])).astype(int)
    m = DetectorModel(make_pipeline(cols).set_params(stats__stats=("mean",)).fit(x, y), cols)
    assert m.used_columns == ["block_a__mean", "noise_c__mean"] and m.families == ("block", "noise")
    ref = m.scaler_reference()
    assert set(ref) == {"block_a__mean", "noise_c__mean"}
    assert ref["noise_c__mean"][0] == pytest.approx(x[:, 4].mean()) and ref["block_a__mean"][0] == pytest.approx(
        x[:, 0].mean())
    k1 = DetectorModel(make_pipeline(cols).set_params(select__k=1).fit(x, y), cols)
    assert k1.used_columns == ["noise_c__mean"]  # the one best column reaches the SVM
    assert len(k1.scaler_reference()) == 4  # the scaler sees every measured column
    contrib = k1.contributions(dict(zip(cols, x[0])))
    assert [c for c, v in contrib.items() if v != 0.0] == ["noise_c__mean"]


def _with_paths(videos: pd.DataFrame) -> pd.DataFrame:
    return videos.assign(abs_path=videos["path"].map(lambda p: f"/data/{p}"))


def test_rows_outside_the_train_mask_are_scored_but_never_trained_on(tmp_path):
    """Leave one method out: perturbing the excluded rows' features moves no other score."""
    _, videos = load_features(_features_dir(tmp_path))
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    out = (videos["method"] == "Face2Face").to_numpy()
    a = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *x: None, train_mask=~out).scores
    moved = videos.copy()
    moved.loc[out, cols] = moved.loc[out, cols] * 7 + 3
    b = nested_cv(moved, cols, n_outer=4, n_inner=3, quick=True, log=lambda *x: None, train_mask=~out).scores
    assert a["score"].notna().all() and b["score"].notna().all()
    np.testing.assert_allclose(a.loc[~out, "score"], b.loc[~out, "score"])
    assert not np.allclose(a.loc[out, "score"], b.loc[out, "score"])  # they are scored, by the same models
    with pytest.raises(ValueError, match="train_mask"):
        nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *x: None, train_mask=~out[:5])


def test_test_copies_are_scored_by_their_source_fold_and_never_trained_on(tmp_path):
    _, videos = load_features(_features_dir(tmp_path))
    videos = _with_paths(videos)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    copies = videos.assign(source_path=videos["abs_path"], condition="crf23", abs_path=videos["abs_path"] + ".crf23")
    a = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *x: None, test_copies=copies)
    moved = copies.copy()
    moved[cols] = moved[cols] * -5  # copies that would teach the opposite if they were trained on
    b = nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *x: None, test_copies=moved)
    np.testing.assert_allclose(a.scores["score"], b.scores["score"])  # originals' scores untouched
    held = a.copy_scores
    assert len(held) == len(videos) and set(held["role"]) == {"test"}
    fold_of = dict(zip(videos["abs_path"], a.scores["fold"]))
    assert (held["fold"].to_numpy() == held["source_path"].map(fold_of).to_numpy()).all()
    # an exact copy gets exactly its source's score
    src_score = dict(zip(videos["abs_path"], a.scores["score"]))
    np.testing.assert_allclose(held["score"], held["source_path"].map(src_score))
