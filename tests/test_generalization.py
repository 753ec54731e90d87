"""The judge (``benchmarks/generalization.py``) on a small synthetic features table:
Cllr / Cllr-min per condition from the out-of-fold LRs, and what ``--into`` writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.metrics import cllr, cllr_min
from detector.model import CONDITION_SCORES_FILE, EVALUATION_DIR

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import generalization as gz  # noqa: E402

COLS = ["hf_inner_outer__mean", "noise_inner_outer__mean"]


def _tables(n_groups: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(videos, platform copies): each group 1 real + 2 fakes (two methods); ``hf`` carries
    the label in the videos and in their ``crf23`` copies, not in their ``crf28`` copies."""
    rng = np.random.default_rng(seed)
    videos, copies = [], []
    for g in range(n_groups):
        for label, method, shift in (("real", "original", 0.0), ("fake", "Deepfakes", 2.0), ("fake", "FaceSwap", 1.5)):
            row = {"path": f"v/{g}_{method}.mp4", "abs_path": f"/d/v/{g}_{method}.mp4", "label": label,
                   "group": f"g{g}", "method": method, "compression": "c23", "dataset": "synthetic", "n_faces": 16,
                   "hf_inner_outer__mean": shift + rng.normal(0, 0.6), "noise_inner_outer__mean": rng.normal()}
            videos.append(row)
            for cond, keeps in (("crf23", 1.0), ("crf28", 0.0)):
                copies.append({**row, "path": f"c/{cond}/{g}_{method}.mp4", "source_path": row["abs_path"],
                               "condition": cond, "noise_inner_outer__mean": rng.normal(),
                               "hf_inner_outer__mean": keeps * shift + rng.normal(0, 0.6)})
    return pd.DataFrame(videos), pd.DataFrame(copies)


@pytest.fixture(scope="module")
def judged():
    videos, copies = _tables()
    return gz.run(videos, COLS, [0], copies, None, "compact", 1)


def test_the_judge_reports_cllr_per_condition_from_the_out_of_fold_llrs(judged):
    table, scores = judged
    t = table.set_index("condition")
    assert {"original", "crf23", "crf28", "lomo:Deepfakes", "lomo:FaceSwap", "lomo"} <= set(t.index)
    assert list(scores.columns) == list(gz.SCORE_COLUMNS) and (scores["seed"] == 0).all()
    for cond in ("original", "crf23", "crf28", "lomo:FaceSwap"):
        d = scores[scores["condition"] == cond]
        assert d["llr"].notna().all() and d["fold"].between(0, 4).all()
        assert t.loc[cond, "cllr"] == pytest.approx(cllr(d["label"], d["llr"]))
        assert t.loc[cond, "cllr_min"] == pytest.approx(cllr_min(d["label"], d["llr"]))
        assert t.loc[cond, "cllr_min"] <= t.loc[cond, "cllr"] + 1e-9
    # the signal survives crf23, not crf28: informative LRs on one (Cllr below 1; ELUB bounds keep the
    # LRs of 29 training videos small, so not far below), none (Cllr-min near 1) on the other
    for cond in ("original", "crf23"):
        assert t.loc[cond, "cllr"] < 0.9 and t.loc[cond, "cllr_min"] < 0.5
    assert t.loc["crf28", "cllr_min"] > 0.8 and t.loc["crf28", "auc"] < 0.75
    # lomo: each left-out method's fakes against the genuine videos, its mean row averages both
    assert set(scores.loc[scores["condition"] == "lomo:FaceSwap", "method"]) == {"original", "FaceSwap"}
    assert t.loc["lomo", "cllr"] == pytest.approx((t.loc["lomo:Deepfakes", "cllr"] + t.loc["lomo:FaceSwap", "cllr"]) / 2)
    worst = next(c for c in t.index if c.startswith("worst ("))
    assert worst == "worst (crf28)" and t.loc[worst, "cllr"] == t.loc["crf28", "cllr"]


def test_the_judge_writes_cllr_into_the_card_and_the_scores_into_the_evaluation(judged, tmp_path):
    table, scores = judged
    (tmp_path / "card.json").write_text(json.dumps({"name": "m", "version": "1"}))
    result = {"command": "python benchmarks/generalization.py --test", "seeds": [0], "search": "compact",
              "n_columns": len(COLS), "table": table.to_dict("records")}
    gz.into_card(str(tmp_path), result)
    path = gz.into_evaluation(str(tmp_path), scores)
    card = json.loads((tmp_path / "card.json").read_text())
    row = next(r for r in card["conditions"]["table"] if r["condition"] == "crf23")
    assert row["cllr"] == pytest.approx(table.set_index("condition").loc["crf23", "cllr"])
    md = (tmp_path / "CARD.md").read_text()
    assert "| Cllr | Cllr-min |" in md and f"{row['cllr']:.3f} | {row['cllr_min']:.3f} |" in md
    assert path == tmp_path / EVALUATION_DIR / CONDITION_SCORES_FILE
    back = pd.read_csv(path)
    assert len(back) == len(scores) and np.allclose(back["llr"], scores["llr"])


def _self_blended(videos: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Per genuine video, a 'self-blended' fake and its control, as benchmarks/sbi_platform.py
    makes them: their own labels, the genuine video named in ``source_path``."""
    rng = np.random.default_rng(seed)
    rows = []
    for _, v in videos[videos["label"] == "real"].iterrows():
        for label, method, shift in (("fake", "self-blended", 1.0), ("real", "re-encoded-real", 0.0)):
            rows.append({**v.to_dict(), "path": f"sbi/{method}/{v['group']}.mp4", "label": label, "method": method,
                         "abs_path": f"/sbi/{method}/{v['group']}.mp4", "source_path": v["abs_path"],
                         "condition": "self-blended:crf23", "hf_inner_outer__mean": shift + rng.normal(0, 0.6)})
    return pd.DataFrame(rows).assign(own_label=True)


@pytest.mark.parametrize("by_worst", [False, True])
def test_self_blended_rows_of_a_test_group_never_enter_that_folds_training(monkeypatch, by_worst):
    from detector import crossval

    videos, copies = _tables(n_groups=10)
    cols = COLS
    if by_worst:  # the worst-case choice's candidates need a block column
        videos["block_inner__mean"], copies["block_inner__mean"] = videos["noise_inner_outer__mean"], 0.0
        cols = [*COLS, "block_inner__mean"]
    sbi = _self_blended(videos)
    if by_worst:
        sbi["block_inner__mean"] = 0.0
    seen = []
    real_choose = crossval._choose

    def spy(x, y, groups, *a, **kw):
        seen.append((np.asarray(groups).copy(), np.asarray(y).copy()))
        return real_choose(x, y, groups, *a, **kw)

    monkeypatch.setattr(crossval, "_choose", spy)
    cv = gz.cross_validate(videos, cols, 0, copies, copies, "compact", 1, by_worst, self_blended=sbi)
    s = cv.scores
    # the generated rows are never scored: the videos' own rows and their copies only
    assert len(s) == len(videos) and s["score"].notna().all()
    assert set(cv.copy_scores["condition"]) == {"crf23", "crf28"} and len(cv.copy_scores) == len(copies)
    assert not cv.copy_scores["method"].isin(["self-blended", "re-encoded-real"]).any()
    # in every fit (outer folds, and with by_worst the choice's nested folds), each group present
    # brings its 3 videos, their 6 copies and its 2 generated rows: the generated rows of a group
    # whose videos are held out never join (a group with 2 rows), nor lose their labels
    assert len(seen) >= 5
    for groups, y in seen:
        for grp in np.unique(groups):
            yg = y[groups == grp]
            assert len(yg) == 3 + 6 + 2 and yg.sum() == 2 + 4 + 1, grp
    fitted = [set(gr) for gr, _ in seen]
    for k in range(5):  # each outer fold trained on its training groups, with their generated rows
        assert set(videos["group"]) - set(s.loc[s["fold"] == k, "group"]) in fitted


def test_the_worst_case_choice_takes_the_candidates_it_is_given():
    """``--candidate``: a tuple of procedures instead of ``True`` is what every training part
    chooses among (here one candidate, so every fold names it and reads its columns only)."""
    from detector.procedure import Procedure

    videos, copies = _tables(n_groups=10)
    only = (Procedure("hf-only", r"^hf_"),)
    cv = gz.cross_validate(videos, COLS, 0, copies, copies, "compact", 1, only)
    assert [p["procedure"] for p in cv.params] == ["hf-only"] * 5
    assert all(set(p["procedure_aucs"]) == {"hf-only"} for p in cv.params)
    assert all(m.index == (COLS.index("hf_inner_outer__mean"),) for m in cv.fold_models)


@pytest.mark.parametrize("by_worst", [False, True])
def test_probe_copies_are_scored_as_more_conditions_and_never_trained_on(monkeypatch, by_worst):
    """``--probe-copies``: the test videos' copies at more profiles are scored by their fold's
    model as conditions of their own, never join a training part (nor the worst-case choice), and
    the worst condition stays that of the original, the platform profiles and the LOMO mean."""
    from detector import crossval

    videos, copies = _tables(n_groups=10)
    cols = COLS
    if by_worst:
        videos["block_inner__mean"], copies["block_inner__mean"] = videos["noise_inner_outer__mean"], 0.0
        cols = [*COLS, "block_inner__mean"]
    rng = np.random.default_rng(3)
    probe = copies[copies["condition"] == "crf28"].assign(condition="av1", path=lambda d: d["path"] + ".av1",
                                                          hf_inner_outer__mean=lambda d: rng.normal(0, 0.6, len(d)))
    seen = []
    real_choose = crossval._choose

    def spy(x, y, groups, *a, **kw):
        seen.append(np.asarray(groups).copy())
        return real_choose(x, y, groups, *a, **kw)

    monkeypatch.setattr(crossval, "_choose", spy)
    if by_worst:  # the worst-case choice (one fold seed, no leave-one-method-out: the slow path)
        cv = gz.cross_validate(videos, cols, 0, copies, copies, "compact", 1, True, probe=probe)
        assert seen and all(set(np.unique(g, return_counts=True)[1]) == {9} for g in seen)  # 3 videos, 6 copies
        held = cv.copy_scores[cv.copy_scores["condition"] == "av1"]
        assert len(held) == len(probe) and held["score"].notna().all()
        return
    table, scores = gz.run(videos, cols, [0], copies, None, "compact", 1, False, probe=probe)
    # each group brings its videos, never a probe copy; the leave-one-method-out fits lack one fake
    assert seen and all(set(np.unique(g, return_counts=True)[1]) <= {3, 2} for g in seen)
    av1 = scores[scores["condition"] == "av1"]
    assert len(av1) == len(probe) and av1["score"].notna().all() and av1["fold"].between(0, 4).all()
    t = table.set_index("condition")
    assert "av1" in t.index and t.loc["av1", "n"] == len(probe)
    worst = next(c for c in t.index if c.startswith("worst ("))
    judged = [c for c in ("original", "crf23", "crf28", "lomo")]
    assert t.loc[worst, "auc"] == pytest.approx(t.loc[judged, "auc"].min())
    assert worst != "worst (av1)"
