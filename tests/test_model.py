import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from detector.features import FAMILIES, family_of, feature_columns
from detector.model import DetectorModel, ModelError, load_model, save_model


def _tiny_model(tmp_path):
    rng = np.random.default_rng(0)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean"]
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    pipe = Pipeline([("scale", StandardScaler()), ("svm", SVC(kernel="rbf"))]).fit(X, y)
    m = DetectorModel(pipe, cols, threshold=0.1, name="tiny", version="1")
    save_model(m, tmp_path / "tiny", card={"command": "test"})
    return m, X, cols


def test_round_trip_gives_the_same_scores(tmp_path):
    m, X, cols = _tiny_model(tmp_path)
    loaded = load_model(tmp_path / "tiny")
    df = pd.DataFrame(X, columns=cols)
    assert np.allclose(loaded.decision_function(df), m.decision_function(df))
    assert loaded.threshold == 0.1 and loaded.name == "tiny"
    assert (tmp_path / "tiny" / "CARD.md").read_text().startswith("# Model card: tiny")


def test_tampered_model_file_is_refused(tmp_path):
    _tiny_model(tmp_path)
    f = tmp_path / "tiny" / "model.skops"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(tmp_path / "tiny")


def test_features_version_mismatch_is_refused(tmp_path):
    _tiny_model(tmp_path)
    card = tmp_path / "tiny" / "card.json"
    c = json.loads(card.read_text())
    c["features_version"] = "0-old"
    card.write_text(json.dumps(c))
    with pytest.raises(ModelError, match="features version"):
        load_model(tmp_path / "tiny")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no model"):
        load_model(tmp_path / "nothing")


def test_contributions_explain_the_score(tmp_path):
    m, X, cols = _tiny_model(tmp_path)
    row = dict(zip(cols, [3.0, 0.0]))
    c = m.contributions(row)
    assert set(c) == set(cols)
    assert abs(c[cols[0]]) > abs(c[cols[1]])  # the informative feature moves the score most


def test_model_families_fast_path_gives_the_same_score(demo_pair):
    """The batch scanner computes only the families the shipped model reads: same score."""
    from detector.analysis import analyze

    m = load_model()
    assert set(m.families) <= set(FAMILIES) and m.families
    full = analyze(demo_pair[1], model=m, n_frames=6)
    fast = analyze(demo_pair[1], model=m, n_frames=6, families="model")
    assert {family_of(c) for c in feature_columns(fast.table)} == set(m.families)
    assert fast.score == pytest.approx(full.score, abs=1e-9)
    assert list(fast.table["frame_score"]) == pytest.approx(list(full.table["frame_score"]), abs=1e-9)


#: Decision values of the shipped model (v18) on :func:`_pinned_inputs`: re-saving a model
#: (a type moved between modules, a new skops) must not change a single score; a retrained
#: model updates them in the same commit.
PINNED_SCORES = {
    "default": [0.8496155957755855, 0.030630196402477994, 0.7713806306795785,
                0.915850540697123, 1.0150608556473717, 1.5924320876881355],
}


def _pinned_inputs(model) -> np.ndarray:
    """Six fixed rows around the training data: the scaler's centre (mean, or median for a
    robust scaler) plus standard normal draws (seed 0) times its scale, one per model column."""
    scaler = model.pipeline.named_steps["scale"]
    z = np.random.default_rng(0).standard_normal((6, len(model.columns)))
    return getattr(scaler, "mean_", getattr(scaler, "center_", None)) + scaler.scale_ * z


@pytest.mark.parametrize("name", sorted(PINNED_SCORES))
def test_shipped_models_give_their_pinned_scores(name):
    from detector.model import DEFAULT_MODEL_DIR

    m = load_model(DEFAULT_MODEL_DIR.parent / name)
    x = _pinned_inputs(m)
    assert m.decision_function(pd.DataFrame(x, columns=m.columns)) == pytest.approx(PINNED_SCORES[name], rel=1e-12)
