"""The choice of procedure by the worst condition (detector.procedure), on synthetic tables:
a cue that a re-encode erases against one that survives it."""

import json

import numpy as np
import pandas as pd
import pytest

from detector import procedure
from detector.procedure import ColumnsPicked, Procedure, choose_procedure, condition_aucs, nested_cv_by_worst, worst_auc

#: the erased cue alone, the surviving cue alone
PAIR = (Procedure("grid", "^block_"), Procedure("surviving", "^hf_"))
COLS = ["block_grid__mean", "hf_edge__mean"]


def _videos_and_copies(n_groups: int = 14, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each group: 1 real + 2 fakes.  ``block_grid`` separates the originals strongly and is
    noise in their re-encoded copies; ``hf_edge`` separates both moderately."""
    rng = np.random.default_rng(seed)
    rows, copies = [], []
    for g in range(n_groups):
        for i, label in enumerate(("real", "fake", "fake")):
            fake = label == "fake"
            path = f"/data/{g}_{i}.mp4"
            hf = 1.2 * fake + rng.normal(0, 0.8)
            rows.append({"path": path, "abs_path": path, "label": label, "group": f"g{g}",
                         "method": "Deepfakes" if fake else "original", "compression": "c23", "n_faces": 16,
                         "block_grid__mean": 3.0 * fake + rng.normal(0, 0.5), "hf_edge__mean": hf})
            for cond in ("crf23", "crf28"):
                copies.append({**rows[-1], "path": f"{cond}/{g}_{i}.mp4", "abs_path": f"/copies/{cond}/{g}_{i}.mp4",
                               "source_path": path, "condition": cond, "block_grid__mean": rng.normal(0, 0.5),
                               "hf_edge__mean": hf + rng.normal(0, 0.2)})
    return pd.DataFrame(rows), pd.DataFrame(copies)


def test_worst_auc_is_the_lowest_condition_and_ignores_missing_ones():
    assert worst_auc({"original": 0.9, "crf23": 0.6, "crf28": np.nan}) == 0.6
    assert np.isnan(worst_auc({"original": np.nan}))


def test_the_choice_prefers_the_cue_that_survives_re_encoding():
    videos, copies = _videos_and_copies()
    best, found = choose_procedure(videos, COLS, copies, PAIR, seed=0)
    assert found["grid"]["original"] > found["surviving"]["original"]  # better on originals...
    assert found["grid"]["worst"] < 0.7 < found["surviving"]["worst"]  # ...erased by the re-encodes
    assert best.name == "surviving"
    assert set(found["grid"]) == {"original", "crf23", "crf28", "worst"}
    # one candidate: it is chosen whatever its worst case
    assert choose_procedure(videos, COLS, copies, PAIR[:1], seed=0)[0].name == "grid"
    with pytest.raises(ValueError, match="at least one"):
        choose_procedure(videos, COLS, copies, (), seed=0)


def test_nested_cv_by_worst_chooses_in_every_fold_and_its_models_read_the_offered_columns():
    videos, copies = _videos_and_copies()
    cv = nested_cv_by_worst(videos, COLS, copies, PAIR, n_outer=3, n_inner=3, log=lambda *a: None)
    assert cv.scores["score"].notna().all() and len(cv.params) == 3
    assert [p["procedure"] for p in cv.params] == ["surviving"] * 3
    assert all(isinstance(m, ColumnsPicked) and m.index == (1,) for m in cv.fold_models)
    # a fold model scores rows of every offered column as its chosen column alone
    x = videos[COLS].to_numpy()
    np.testing.assert_allclose(cv.fold_models[0].decision_function(x),
                               cv.fold_models[0].model.decision_function(x[:, [1]]))
    aucs = condition_aucs(cv)
    assert set(aucs) == {"original", "crf23", "crf28"} and min(aucs.values()) > 0.7
    assert set(cv.copy_scores["role"]) == {"augment"} and cv.copy_scores["llr"].notna().all()


def test_train_by_worst_ships_the_chosen_columns_and_says_why(tmp_path, monkeypatch, capsys):
    from detector import training
    from detector.cli import main

    videos, copies = _videos_and_copies()
    feats = tmp_path / "feats"
    feats.mkdir()
    videos.to_parquet(feats / "videos.parquet")
    monkeypatch.setattr(training, "choose_procedure",
                        lambda *a, **kw: choose_procedure(*a, **{**kw, "candidates": PAIR}))
    monkeypatch.setattr(training, "nested_cv_by_worst",
                        lambda *a, **kw: nested_cv_by_worst(*a, **{**kw, "candidates": PAIR, "n_outer": 3}))
    monkeypatch.setattr(training.degrade, "degraded_features", lambda *a, **kw: copies)
    assert main(["train", "--features", str(feats), "--out", str(tmp_path / "m0"), "--by-worst"]) != 0
    assert "--by-worst needs --augment" in capsys.readouterr().err
    assert main(["train", "--features", str(feats), "--out", str(tmp_path / "m"), "--search", "compact",
                 "--augment", str(tmp_path / "aug"), "--by-worst", "--quick"]) == 0
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["columns"] == ["hf_edge__mean"] and card["parameters"]["procedure"] == "surviving"
    assert "--by-worst" in card["command"]
    folds = json.loads((tmp_path / "m" / "evaluation" / "metrics.json").read_text())["folds"]
    assert [f["procedure"] for f in folds] == ["surviving"] * 3


def test_the_home_page_sentence_comes_from_the_cards_condition_table(tmp_path):
    from detector.dashboard.models import reencoding_text

    table = [{"condition": "original", "auc": 0.871}, {"condition": "crf23", "auc": 0.723},
             {"condition": "crf28", "auc": 0.681}, {"condition": "vp9", "auc": 0.736},
             {"condition": "lomo:FaceSwap", "auc": 0.5}, {"condition": "lomo", "auc": 0.822},
             {"condition": "worst (crf28)", "auc": 0.681}]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "card.json").write_text(json.dumps({"version": "15", "augmentation": {"n_copies": 4},
                                                          "conditions": {"seeds": [0, 1], "table": table}}))
    text = reencoding_text([tmp_path / "m"])
    assert "**m** (v15, trained with re-encoded copies too): AUC 0.87 on the original files" in text
    assert "0.68-0.74 after platform re-encodes" in text and "0.82 on unseen methods" in text
    assert "fold seeds 0, 1" in text
    (tmp_path / "old").mkdir()  # a card without the table: its own metrics, and says what is missing
    (tmp_path / "old" / "card.json").write_text(json.dumps({"version": "1", "metrics": {"video": {"auc": 0.9}}}))
    assert "re-encoded copies not measured in its card" in reencoding_text([tmp_path / "old"])


def test_re_encodes_outside_the_training_ones_are_marked_in_the_card_the_table_and_the_sentence(tmp_path):
    """A card whose table has re-encodes its training parts never held (``--probe-copies``) names
    them so in CARD.md and on the Evaluation page, and the Home page gives them a range of their own."""
    from detector.card import card_markdown, condition_label
    from detector.dashboard.evaluation_store import conditions_table
    from detector.dashboard.models import reencoding_text

    table = [{"condition": "original", "auc": 0.84}, {"condition": "crf28", "auc": 0.667},
             {"condition": "vp9", "auc": 0.726}, {"condition": "crf32", "auc": 0.628}, {"condition": "av1", "auc": 0.64},
             {"condition": "lomo", "auc": 0.769}, {"condition": "worst (crf28)", "auc": 0.667}]
    card = {"name": "m", "version": "17", "augmentation": {"conditions": {"crf28": {}, "vp9": {}}},
            "conditions": {"seeds": [0], "command": "python benchmarks/generalization.py --probe-copies P",
                           "table": table}}
    marked = {"crf32": "re-encoded, CRF 32 (not a training re-encode)", "av1": "re-encoded, AV1 (not a training re-encode)"}
    md = card_markdown(card)
    for label in marked.values():
        assert f"| {label} |" in md
    assert "| re-encoded, CRF 28 |" in md and "| worst (re-encoded, CRF 28) |" in md
    shown = conditions_table(card)[0].set_index("Condition")
    assert set(marked.values()) <= set(shown.index) and shown.loc[marked["av1"], "AUC"] == 0.64
    assert condition_label("crf32") == "re-encoded, CRF 32"  # without a card: no claim either way
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "card.json").write_text(json.dumps(card))
    text = reencoding_text([tmp_path / "m"])
    assert "0.67-0.73 after platform re-encodes, 0.63-0.64 after re-encodes it was not trained on" in text
