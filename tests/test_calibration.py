"""Likelihood ratios: lir's calibrator and ELUB bounds, fitted inside the folds, stored with
the model, checked against its card, shown by inspect / scan / report."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from detector import crossval
from detector import evaluation as ev
from detector.calibration import (LLR_INCONCLUSIVE, Calibration, evidence_text, fit_calibration, verbal_scale,
                                  verdict_of, verdicts)
from detector.metrics import as_binary, cllr, cllr_min, ece_curve
from detector.model import TRUSTED_TYPES, DetectorModel, ModelError, load_model, save_model


def _scores(n_fake=50, n_real=45, seed=0):
    rng = np.random.default_rng(seed)
    s = np.r_[rng.normal(0.8, 0.7, n_fake), rng.normal(-0.8, 0.7, n_real)]
    return s, np.r_[np.ones(n_fake, int), np.zeros(n_real, int)]


def test_calibration_is_lirs_logistic_calibrator_with_elub_bounds():
    from lir.algorithms.bayeserror import elub
    from lir.algorithms.logistic_regression import LogitCalibrator

    s, y = _scores()
    cal = fit_calibration(s, y)
    raw = LogitCalibrator().fit(s, y).transform(s)
    lo, hi = elub(raw.copy(), y)
    assert (cal.llr_lower, cal.llr_upper) == pytest.approx((lo, hi))
    assert cal.llr(s) == pytest.approx(np.clip(raw, lo, hi), abs=1e-9)
    assert (cal.n_fake, cal.n_real, cal.n_scores) == (50, 45, 95) and cal.slope > 0
    with pytest.raises(ValueError, match="fake .* and real"):
        fit_calibration(s[:50], y[:50])


def test_ece_is_cllr_at_even_prior_odds_and_vanishes_for_separating_lrs():
    s, y = _scores()
    llr = fit_calibration(s, y).llr(s)
    c = ece_curve(y, llr)
    assert c["prior_log10_odds"].min() == -3 and c["prior_log10_odds"].max() == 3
    even = c[c["prior_log10_odds"] == 0].iloc[0]
    # at prior odds 1 the cross-entropy is C_llr (Brümmer's definition), PAV's is C_llr-min
    assert even["ece"] == pytest.approx(cllr(y, llr)) and even["ece_pav"] == pytest.approx(cllr_min(y, llr))
    assert even["ece_reference"] == pytest.approx(1.0)  # an LR of 1 leaves one bit at even odds
    assert (c["ece_pav"] <= c["ece"] + 1e-9).all() and (c["ece"] < c["ece_reference"]).any()
    # the reference is the prior's own entropy: H(p) = -p log2 p - (1-p) log2 (1-p)
    p = 1 / (1 + 10.0 ** -c["prior_log10_odds"])
    assert np.allclose(c["ece_reference"], -p * np.log2(p) - (1 - p) * np.log2(1 - p))
    separated = ece_curve(y, np.where(y == 1, 6.0, -6.0))
    assert separated["ece"].max() < 1e-3 and separated["ece_pav"].max() < 1e-9
    backwards = ece_curve(y, np.where(y == 1, -2.0, 2.0))  # LRs that point the wrong way
    assert (backwards["ece"] > backwards["ece_reference"]).all()
    with pytest.raises(ValueError, match="both real and fake"):
        ece_curve(np.ones(5, int), np.zeros(5))


def test_lrs_are_bounded_by_elub():
    s, y = _scores()
    cal = fit_calibration(s, y)
    # ELUB never lets ~50 scores per class state more than about their count
    assert -math.log10(50 + 1) <= cal.llr_lower < 0 < cal.llr_upper <= math.log10(45 + 1)
    far = cal.llr(np.array([-1e3, -10.0, 0.0, 10.0, 1e3, np.nan]))
    assert far[[0, 1]] == pytest.approx([cal.llr_lower] * 2) and far[[3, 4]] == pytest.approx([cal.llr_upper] * 2)
    assert cal.llr_lower < far[2] < cal.llr_upper and np.isnan(far[5])
    dense = cal.llr(np.linspace(-50, 50, 2001))
    assert dense.min() >= cal.llr_lower and dense.max() <= cal.llr_upper


def test_small_lrs_give_an_inconclusive_verdict():
    eps = 1e-9
    assert verdict_of(5.0, 0.0, LLR_INCONCLUSIVE - eps) == "inconclusive"
    assert verdict_of(-5.0, 0.0, -LLR_INCONCLUSIVE + eps) == "inconclusive"
    assert verdict_of(0.1, 0.0, LLR_INCONCLUSIVE + eps) == "fake"
    assert verdict_of(0.1, 0.0, -LLR_INCONCLUSIVE - eps) == "real"  # the LR decides, not the threshold
    assert verdict_of(0.1, 0.0, None) == "fake" and verdict_of(-0.1, 0.0) == "real"  # uncalibrated: threshold
    assert list(verdicts([0.2, -0.2, np.nan, 1.0], 0.0, [0.1, -1.0, np.nan, np.nan])) == \
        ["inconclusive", "real", "no-face", "fake"]
    assert LLR_INCONCLUSIVE == pytest.approx(math.log10(3))


def test_verbal_scale_follows_the_enfsi_bands():
    assert verbal_scale(0.5) == "weak or limited support for manipulation"
    assert verbal_scale(1.08) == "moderate support for manipulation"
    assert verbal_scale(2.0) == "moderately strong support for manipulation"
    assert verbal_scale(3.5) == "strong support for manipulation"
    assert verbal_scale(5.9) == "very strong support for manipulation"
    assert verbal_scale(6.0) == "extremely strong support for manipulation"
    assert verbal_scale(-1.5) == "moderate support for a genuine video"
    assert verbal_scale(0.0) == "no support for either proposition" and verbal_scale(None) is None
    assert evidence_text(math.log10(12)) == "LR 12 (log10 1.08), moderate support for manipulation"
    assert evidence_text(-math.log10(12)).startswith("LR 1/12 (log10 -1.08), moderate support for a genuine")
    # just under 3 (the shipped model's upper bound) reads as under 3, not as the edge of "inconclusive"
    assert evidence_text(0.47).startswith("LR 2.95 (log10 0.47), weak")
    assert evidence_text(-0.97).startswith("LR 1/9.33 (log10 -0.97)")


def _videos(n_groups=14, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        for label, shift in (("real", 0.0), ("fake", 1.2), ("fake", 0.9)):
            rows.append({"path": f"v/{g}_{label}_{shift}.mp4", "label": label, "group": f"g{g}",
                         "method": "Deepfakes" if label == "fake" else "original", "compression": "c23",
                         "hf_inner_outer__mean": shift + rng.normal(0, 0.6), "noise_inner_outer__mean": rng.normal()})
    return pd.DataFrame(rows)


def test_an_outer_folds_lrs_do_not_depend_on_its_own_labels(monkeypatch):
    """The calibrator of each outer fold is fitted inside its training part: permuting the
    labels of the test fold (the folds held fixed) changes none of that fold's LRs."""
    videos, cols = _videos(), ["hf_inner_outer__mean", "noise_inner_outer__mean"]
    y = as_binary(videos["label"])
    outer = ev.grouped_folds(videos["group"].to_numpy(), y, n_splits=3, seed=0)
    original = ev.grouped_folds

    def fixed_outer(groups, labels, n_splits=5, seed=0):  # the outer split as for the true labels
        return outer if len(groups) == len(videos) else original(groups, labels, n_splits, seed)

    monkeypatch.setattr(crossval.ev, "grouped_folds", fixed_outer)
    cv = crossval.nested_cv(videos, cols, n_outer=3, n_inner=3, quick=True, log=lambda *a: None)
    test = outer[0][1]
    flipped = videos.copy()
    flipped.loc[test, "label"] = np.where(videos.loc[test, "label"] == "fake", "real", "fake")
    cv2 = crossval.nested_cv(flipped, cols, n_outer=3, n_inner=3, quick=True, log=lambda *a: None)
    assert (cv.scores["fold"].to_numpy()[test] == 0).all()
    assert cv2.scores["llr"].to_numpy()[test] == pytest.approx(cv.scores["llr"].to_numpy()[test], abs=1e-12)
    assert cv2.calibrations[0] == cv.calibrations[0]
    # ... while the folds that trained on those videos calibrate differently
    assert cv2.calibrations[1] != cv.calibrations[1]
    # every fold's calibration saw exactly its training part, and gave that fold's LRs
    for k, (tr, te) in enumerate(outer):
        cal = cv.calibrations[k]
        assert cal.n_scores == len(tr) and cv.params[k]["calibration"] == cal.to_dict()
        assert cv.scores["llr"].to_numpy()[te] == pytest.approx(cal.llr(cv.scores["score"].to_numpy()[te]))
    s = cv.scores
    assert list(s["verdict"]) == list(verdicts(s["score"], s["fold_threshold"], s["llr"]))
    assert cllr(s["label"], s["llr"]) < 1 and cllr_min(s["label"], s["llr"]) <= cllr(s["label"], s["llr"])


def _calibrated_model(folder, calibration=None):
    rng = np.random.default_rng(0)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean"]
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(x, y)
    cal = calibration or fit_calibration(pipe.decision_function(x), y)
    m = DetectorModel(pipe, cols, 0.0, "tiny", "1", calibration=cal)
    save_model(m, folder, card={"command": "test"})
    return m, x


def test_the_calibration_is_stored_as_plain_numbers_and_checked_against_the_card(tmp_path):
    import skops.io as sio

    m, x = _calibrated_model(tmp_path / "m")
    assert set(sio.get_untrusted_types(file=tmp_path / "m" / "model.skops")) <= TRUSTED_TYPES  # nothing new
    loaded = load_model(tmp_path / "m")
    assert loaded.calibration == m.calibration
    s = loaded.decision_function(pd.DataFrame(x, columns=m.columns))
    assert loaded.llr(s) == pytest.approx(m.calibration.llr(s))
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["calibration"] == m.calibration.to_dict()
    md = (tmp_path / "m" / "CARD.md").read_text()
    assert "## Likelihood ratio" in md and "ELUB" in md and f"fitted on {m.calibration.n_scores} " in md

    card["calibration"]["llr_upper"] = 6.0  # the card claims more than the model file holds
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="disagrees with model.skops.*calibration"):
        load_model(tmp_path / "m")
    card.pop("calibration")  # ... or hides the calibration the model file has
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="disagrees"):
        load_model(tmp_path / "m")
    card["calibration"] = {**m.calibration.to_dict(), "slope": "steep"}
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="calibration.slope"):
        load_model(tmp_path / "m")


def test_a_model_without_calibration_states_no_lr(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    pipe = Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(x, (x[:, 0] > 0).astype(int))
    save_model(DetectorModel(pipe, ["hf_inner_outer__mean", "noise_inner_outer__mean"], 0.0, "old", "1"),
               tmp_path / "old", card={"command": "test"})
    m = load_model(tmp_path / "old")
    assert m.calibration is None and "calibration" not in m.card
    with pytest.raises(ModelError, match="no likelihood-ratio calibration"):
        m.llr([0.0])


@pytest.mark.parametrize("intercept, verdict", [(0.2, "inconclusive"), (1.5, "fake"), (-1.5, "real")])
def test_analysis_states_the_lr_and_its_verdict(demo_pair, tmp_path, intercept, verdict):
    """A constant LR (slope 0) makes the verdict follow the LR alone, whatever the score."""
    from detector.analysis import analyze

    cal = Calibration(intercept, 0.0, -1.7, 1.7, 40, 40)
    _calibrated_model(tmp_path / "m", cal)
    a = analyze(demo_pair[1], model=load_model(tmp_path / "m"), n_frames=4)
    assert a.llr == pytest.approx(intercept) and a.verdict == verdict
    assert a.threshold_verdict == ("fake" if a.score >= a.threshold else "real")
    assert a.llr_category == verbal_scale(intercept)
    d = a.to_dict(features=False)
    assert d["llr"] == pytest.approx(intercept) and d["llr_category"] == a.llr_category
    assert all(t["llr"] == pytest.approx(intercept) and t["verdict"] == verdict for t in d["tracks"])


def test_inspect_prints_the_lr(demo_pair, tmp_path, capsys):
    from detector.cli import main

    _calibrated_model(tmp_path / "m", Calibration(0.2, 0.0, -1.7, 1.7, 40, 40))
    assert main(["inspect", str(demo_pair[1]), "--json", "--no-features", "--frames", "4",
                 "--model", str(tmp_path / "m")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["llr"] == pytest.approx(0.2) and out["llr_category"] == "weak or limited support for manipulation"
    assert out["verdict"] == "inconclusive" and out["threshold_verdict"] in ("fake", "real")
    assert main(["inspect", str(demo_pair[1]), "--frames", "4", "--model", str(tmp_path / "m")]) == 0
    text = capsys.readouterr().out
    assert "verdict:   INCONCLUSIVE" in text
    assert "evidence:  LR 1.58 (log10 0.20), weak or limited support for manipulation" in text


def test_scan_rows_have_the_lr_and_an_old_database_still_opens(demo_pair, tmp_path, capsys):
    from detector.cli import main
    from detector.scan import ResultsDB, report_text
    from detector.scan.db import COLUMNS

    _calibrated_model(tmp_path / "m", Calibration(1.2, 0.0, -1.7, 1.7, 40, 40))
    media = tmp_path / "media"
    media.mkdir()
    (media / "fake.mp4").write_bytes(demo_pair[1].read_bytes())
    db = tmp_path / "scan.db"
    assert main(["scan", str(media), "--out", str(db), "--model", str(tmp_path / "m"), "--frames", "2",
                 "--workers", "1"]) == 0
    with ResultsDB(db, readonly=True) as r:
        row = r.frame().iloc[0]
    assert row["llr"] == pytest.approx(1.2) and row["verdict"] == "fake"
    capsys.readouterr()
    assert main(["report", str(db)]) == 0
    assert "log10LR" in (out := capsys.readouterr().out) and "+1.20" in out

    old = tmp_path / "old.db"  # a database made before the llr column existed
    cols = [c for c in COLUMNS if c != "llr"]
    with sqlite3.connect(old) as con:
        con.execute(f"CREATE TABLE results (id INTEGER PRIMARY KEY, {', '.join(cols)}, attempts INTEGER NOT NULL "
                    "DEFAULT 1, UNIQUE (path, model_version, n_frames))")
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT, finished_at TEXT, command TEXT, "
                    "model_version TEXT, n_frames INTEGER, workers TEXT, host TEXT, pid INTEGER, counts TEXT)")
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        con.execute("INSERT INTO results (path, n_frames, verdict, score, threshold, status, model_version, "
                    "finished_at) VALUES ('/x/a.mp4', 2, 'fake', 0.5, 0.0, 'done', 'm@1', 't')")
    with ResultsDB(old, readonly=True) as r:  # read as it is: the column is there, empty
        assert r.frame()["llr"].isna().all()
    assert "top 1 suspects" in report_text(old)
    with ResultsDB(old) as r:  # opened for writing: the column is added
        assert "llr" in {c[1] for c in r.conn.execute("PRAGMA table_info(results)")}
        r.upsert({"path": "/x/b.mp4", "n_frames": 2, "verdict": "real", "score": -0.5, "llr": -1.0,
                  "status": "done", "model_version": "m@1"})
        df = r.frame().set_index("path")
    assert np.isnan(df.loc["/x/a.mp4", "llr"]) and df.loc["/x/b.mp4", "llr"] == -1.0


def test_case_report_states_the_lr(demo_pair, tmp_path):
    from detector.analysis import analyze
    from detector.report import case_report_html

    m, _ = _calibrated_model(tmp_path / "m", Calibration(1.08, 0.0, -1.7, 1.7, 40, 40))
    m = load_model(tmp_path / "m")
    a = analyze(demo_pair[1], model=m, n_frames=4, thumbnails=True)
    html = case_report_html(a, m.card, None, m)
    assert "LR 12 (log10 1.08), moderate support for manipulation" in html
    assert "ENFSI" in html and "between 1/50.1 and 50.1" in html
