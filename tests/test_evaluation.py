import json
import math

import numpy as np
import pandas as pd
import pytest

from detector.evaluation import evaluate_table, grouped_folds, summarize, to_jsonable
from detector.metrics import (
    as_binary,
    bootstrap_auc_ci,
    det_curve_points,
    eer,
    error_rates_curve,
    far_frr,
    metrics_at_threshold,
    roc_points,
    tpr_at_fpr,
)

# Hand-computed example.  Reject as fake when score >= t.
REAL = [0.1, 0.2, 0.3, 0.6]
FAKE = [0.4, 0.5, 0.7, 0.8]
Y = np.array([0] * 4 + [1] * 4)
S = np.array(REAL + FAKE)
#   t     FAR (fakes < t)   FRR (reals >= t)
#   0.3   0/4 = 0           {0.3, 0.6}   2/4 = 0.50
#   0.4   0/4 = 0           {0.6}        1/4 = 0.25
#   0.5   {0.4} 1/4 = 0.25  {0.6}        1/4 = 0.25   <- FAR == FRR
#   0.6   {0.4,0.5} 0.50    {0.6}        1/4 = 0.25
#   0.7   0.50              0
# => EER = 0.25 at threshold 0.5


def test_as_binary_accepts_strings_and_numbers():
    assert as_binary(["real", "FAKE", "fake"]).tolist() == [0, 1, 1]
    assert as_binary([0, 1, 1.0, True]).tolist() == [0, 1, 1, 1]
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        as_binary([0, 2])
    with pytest.raises(ValueError, match="unknown label"):
        as_binary(["real", "maybe"])


def test_far_frr_by_hand():
    assert far_frr(Y, S, 0.5) == (0.25, 0.25)
    assert far_frr(Y, S, 0.65) == (0.5, 0.0)
    # 0.45: fakes < 0.45 -> {0.4} = 1/4; reals >= 0.45 -> {0.6} = 1/4
    assert far_frr(Y, S, 0.45) == (0.25, 0.25)
    # score == threshold counts as rejected (fake)
    assert far_frr([1, 0], [0.5, 0.5], 0.5) == (0.0, 1.0)
    far, frr = far_frr([0, 0], [0.1, 0.9], 0.5)
    assert math.isnan(far) and frr == 0.5


def test_eer_by_hand():
    value, thr = eer(Y, S)
    assert value == pytest.approx(0.25)
    assert thr == pytest.approx(0.5)
    assert eer(["real", "real", "fake", "fake"], [0.1, 0.2, 0.8, 0.9]) == (0.0, 0.8)


def test_eer_without_exact_crossing_uses_closest_point():
    # reals [0.1, 0.5], fakes [0.4]:
    #   t=0.1: FAR 0, FRR 1     |d|=1
    #   t=0.4: FAR 0, FRR 0.5   |d|=0.5  <- lowest of the tied minima
    #   t=0.5: FAR 1, FRR 0.5   |d|=0.5
    value, thr = eer([0, 0, 1], [0.1, 0.5, 0.4])
    assert (value, thr) == (0.25, 0.4)


def test_error_rates_curve_and_det_points_monotone():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = rng.normal(size=200) + y
    curve = error_rates_curve(y, s)
    assert list(curve.columns) == ["threshold", "far", "frr"]
    assert curve["threshold"].iloc[0] == -np.inf and curve["threshold"].iloc[-1] == np.inf
    assert (curve[["far", "frr"]].iloc[0].tolist(), curve[["far", "frr"]].iloc[-1].tolist()) == (
        [0.0, 1.0],
        [1.0, 0.0],
    )
    assert np.all(np.diff(curve["far"]) >= 0) and np.all(np.diff(curve["frr"]) <= 0)

    det = det_curve_points(y, s)
    assert list(det.columns) == ["far", "frr", "threshold"]
    assert np.all(np.diff(det["threshold"]) > 0)
    assert np.all(np.diff(det["far"]) >= 0) and np.all(np.diff(det["frr"]) <= 0)
    # DET points agree with our own FAR/FRR definition
    for _, row in det.iloc[:: max(1, len(det) // 7)].iterrows():
        assert far_frr(y, s, row["threshold"]) == pytest.approx((row["far"], row["frr"]))


def test_roc_points_mapping():
    roc = roc_points(Y, S)
    assert list(roc.columns) == ["fpr", "tpr", "threshold"]
    assert roc["threshold"].iloc[0] == np.inf
    for _, row in roc.iloc[1:].iterrows():
        far, frr = far_frr(Y, S, row["threshold"])
        assert row["fpr"] == pytest.approx(frr) and row["tpr"] == pytest.approx(1 - far)


def test_curves_need_both_classes():
    with pytest.raises(ValueError, match="both real and fake"):
        eer([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        eer([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        far_frr([0, 1], [0.1, 0.2, 0.3], 0.5)


def test_metrics_at_threshold_by_hand():
    m = metrics_at_threshold(Y, S, 0.45)
    # rejected (>= 0.45): fakes 0.5,0.7,0.8 (tp=3), real 0.6 (fp=1)
    assert m["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert m["far"] == m["apcer"] == 0.25
    assert m["frr"] == m["bpcer"] == 0.25
    assert m["hter"] == 0.25
    assert m["precision"] == 0.75 and m["recall"] == 0.75
    assert m["f1"] == pytest.approx(0.75) and m["accuracy"] == 0.75
    assert (m["n_real"], m["n_fake"]) == (4, 4)
    # HTER with unequal rates: t=0.65 -> FAR 0.5, FRR 0 -> HTER 0.25
    assert metrics_at_threshold(Y, S, 0.65)["hter"] == 0.25


def test_bootstrap_ci_contains_auc_and_is_ordered():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    s = rng.normal(size=200) + 1.0 * y
    groups = np.repeat(np.arange(50), 4)
    auc = summarize(y, s, n_boot=0)["auc"]
    for g in (None, groups):
        low, high = bootstrap_auc_ci(y, s, groups=g, n_boot=300, seed=3)
        assert 0 <= low < auc < high <= 1
    assert bootstrap_auc_ci(y, s, n_boot=50, seed=1) == bootstrap_auc_ci(y, s, n_boot=50, seed=1)


def test_summarize_and_single_class():
    rep = summarize(Y, S, n_boot=100)
    assert rep["auc"] == pytest.approx(14 / 16)  # 14 of 16 (fake, real) pairs ordered
    assert rep["eer"] == 0.25 and rep["threshold"] == 0.5 and rep["threshold_source"] == "eer"
    assert rep["auc_ci"][0] <= rep["auc_ci"][1]
    assert rep["metrics"]["hter"] == 0.25
    json.dumps(rep, allow_nan=False)

    one = summarize([1, 1, 1], [0.2, 0.6, 0.9], threshold=0.5)
    assert one["auc"] is None and one["eer"] is None and "one class" in one["note"]
    assert one["metrics"]["far"] == pytest.approx(1 / 3) and one["metrics"]["frr"] is None
    json.dumps(one, allow_nan=False)
    assert summarize([0, 0], [0.1, 0.2])["metrics"] is None


def _table():
    return pd.DataFrame(
        {
            "score": [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8, np.nan],
            "label": ["real"] * 4 + ["fake"] * 5,
            "method": ["original"] * 4 + ["A", "A", "B", "B", "B"],
            "compression": ["c23", "c40"] * 4 + ["c23"],
            "group": ["g1", "g2", "g3", "g4", "g1", "g2", "g3", "g4", "g5"],
        }
    )


def test_evaluate_table_per_method_apcer():
    out = evaluate_table(_table(), threshold=0.45, n_boot=50)
    json.dumps(out, allow_nan=False)
    assert out["n_missing_score"] == 1 and out["threshold"] == 0.45
    assert out["overall"]["n"] == 8
    # Method A fakes {0.4, 0.5}: 0.4 < 0.45 accepted -> APCER 1/2; B {0.7, 0.8} -> 0
    assert out["apcer_by_method"] == {"A": 0.5, "B": 0.0}
    assert out["max_apcer"] == 0.5
    a = out["by"]["method"]["A"]
    assert (a["n_real"], a["n_fake"]) == (4, 2)  # A's fakes against all reals
    assert a["metrics"]["bpcer"] == 0.25  # real 0.6 rejected
    # AUC of A vs reals: pairs (fake > real) = 0.4:3 + 0.5:3 = 6 of 8
    assert a["auc"] == pytest.approx(6 / 8)
    # real-only method: reals alone, BPCER only
    orig = out["by"]["method"]["original"]
    assert orig["n_fake"] == 0 and orig["metrics"]["bpcer"] == 0.25 and orig["auc"] is None
    # per compression: both classes at that level
    c23 = out["by"]["compression"]["c23"]
    # c23 rows: real 0.1, 0.3; fake 0.4, 0.7
    assert (c23["n_real"], c23["n_fake"]) == (2, 2)
    assert c23["metrics"]["far"] == 0.5 and c23["metrics"]["frr"] == 0.0


def test_evaluate_table_default_threshold_and_validation():
    out = evaluate_table(_table(), threshold=None, n_boot=0)
    assert out["threshold"] == 0.5 and out["overall"]["threshold_source"] == "eer"
    assert out["by"]["method"]["A"]["threshold"] == 0.5  # same threshold everywhere
    with pytest.raises(ValueError, match="lacks column"):
        evaluate_table(_table().drop(columns="compression"), 0.5)


def test_grouped_folds_keep_groups_apart():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 200).astype(str)
    y = rng.integers(0, 2, 200)
    folds = grouped_folds(groups, y, n_splits=5, seed=1)
    assert len(folds) == 5
    tested = np.concatenate([te for _, te in folds])
    assert sorted(tested.tolist()) == list(range(200))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match="only 3 distinct group"):
        grouped_folds(["a", "b", "c", "a"], [0, 1, 0, 1], n_splits=5)


def test_to_jsonable():
    obj = {
        "a": np.float32(0.5),
        "b": np.int64(3),
        "c": np.nan,
        "d": [np.inf, np.bool_(True)],
        1: np.array([1, 2]),
    }
    out = to_jsonable(obj)
    assert out == {"a": 0.5, "b": 3, "c": None, "d": [None, True], "1": [1, 2]}
    assert type(out["b"]) is int
    json.dumps(out, allow_nan=False)


def test_tpr_at_fpr_reads_the_roc_steps():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.3, 0.9, 0.25, 0.5, 0.6, 0.95]
    assert tpr_at_fpr(y, s, 0.0) == 0.25  # only the top fake is above every genuine
    assert tpr_at_fpr(y, s, 0.25) == 0.75  # one genuine (0.9) flagged allows 0.5 and 0.6 too
    assert tpr_at_fpr(y, s, 1.0) == 1.0
    with pytest.raises(ValueError):
        tpr_at_fpr(y, s, 1.5)
