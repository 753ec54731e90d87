"""Degraded (re-encoded) training copies: writing them, and training on them without leaking."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from detector import crossval, training
from detector.datasets import read_manifest
from detector.degrade import (CONDITIONS, PLATFORM_PROFILES, PROFILES, copy_path, degrade_frame, degraded_features,
                              make_degraded)
from detector.extraction import aggregated_columns, extract, extract_stamp, features_families, load_features
from detector.features import FEATURES_VERSION
from detector.video import probe
from test_training import _features_dir


def test_degrade_frame_halves_to_even_sizes_and_checks_the_scale():
    img = np.zeros((101, 203, 3), np.uint8)
    assert degrade_frame(img, 1.0) is img
    assert degrade_frame(img, 0.5).shape == (50, 100, 3)
    with pytest.raises(ValueError, match="scale"):
        degrade_frame(img, 1.5)


def test_make_degraded_writes_resumable_copies_and_records_bad_sources(tmp_path, demo_pair, bad_files):
    real, fake = demo_pair
    videos = pd.DataFrame({"abs_path": [str(real), str(fake), str(bad_files["text"])],
                           "label": ["real", "fake", "real"], "group": ["g0", "g0", "g1"],
                           "method": ["original", "self-blended", "original"], "compression": ["c23"] * 3})
    out = tmp_path / "aug"
    man = make_degraded(videos, out, span=10, workers=1, log=lambda *a: None)
    assert len(man) == 2 * len(CONDITIONS)  # the text file has none
    assert set(man["condition"]) == set(CONDITIONS)
    src = probe(real, sha256=False)
    half = probe(copy_path(out, "half", str(real)), sha256=False)
    full = probe(copy_path(out, "crf28", str(real)), sha256=False)
    assert (half.width, half.height) == (src.width // 2 // 2 * 2, src.height // 2 // 2 * 2)
    assert (full.width, full.height) == (src.width, src.height) and full.frame_count == 10
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures["abs_path"]) == [str(bad_files["text"])]
    # the written manifest reads back with each copy's source, its label and group
    m = read_manifest(out / "manifest.csv")
    assert {"source_path", "condition"} <= set(m.columns) and len(m) == len(man)
    by_src = m.set_index("source_path")
    assert set(by_src.loc[str(fake), "label"]) == {"fake"} and set(by_src.loc[str(real), "group"]) == {"g0"}
    assert all(os.path.exists(p) for p in m["abs_path"])
    # resumable: nothing is made again
    stamps = {p: copy_path(out, c, str(p)).stat().st_mtime_ns for p in (real, fake) for c in CONDITIONS}
    again = make_degraded(videos, out, span=10, workers=1, log=lambda *a: None)
    assert len(again) == len(man)
    assert stamps == {p: copy_path(out, c, str(p)).stat().st_mtime_ns for p in (real, fake) for c in CONDITIONS}


def _videos(tmp_path) -> pd.DataFrame:
    _, videos = load_features(_features_dir(tmp_path))
    return videos.assign(abs_path="/data/" + videos["path"])


def _copies(videos: pd.DataFrame, n: int = 2, seed: int = 1) -> pd.DataFrame:
    """Per video, ``n`` 'copies' with the same features plus a little noise and, on purpose,
    the wrong label: training must relabel them as their source."""
    rng = np.random.default_rng(seed)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    rows = []
    for _, v in videos.iterrows():
        for k in range(n):
            r = {c: v[c] + rng.normal(0, 0.05) for c in cols}
            r.update({"abs_path": f"/copies/{k}/{v['path']}", "source_path": v["abs_path"], "n_faces": 16,
                      "label": "real" if v["label"] == "fake" else "fake", "group": "wrong", "condition": f"c{k}"})
            rows.append(r)
    return pd.DataFrame(rows)


def test_nested_cv_trains_on_copies_of_training_videos_only(tmp_path, monkeypatch):
    videos = _videos(tmp_path)
    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean", "block_inner__mean"]
    copies = _copies(videos)
    seen = []
    real_choose = crossval._choose

    def spy(x, y, groups, *a, **kw):
        seen.append((len(x), set(groups), y.copy()))
        return real_choose(x, y, groups, *a, **kw)

    monkeypatch.setattr(crossval, "_choose", spy)
    cv = crossval.nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *a: None, augment=copies)
    s = cv.scores
    assert len(s) == len(videos) and s["score"].notna().all()  # scores of the originals only
    assert len(seen) == 4
    # every copy is scored once, by the model of the fold that held its source out
    cs = cv.copy_scores
    assert len(cs) == len(copies) and cs["score"].notna().all()
    fold_of = dict(zip(videos["abs_path"], s["fold"]))
    assert (cs["source_path"].map(fold_of) == cs["fold"]).all()
    assert (cs["label"] == cs["source_path"].map(dict(zip(videos["abs_path"], videos["label"])))).all()
    for k, (n, groups, y) in enumerate(seen):
        test_groups = set(s.loc[s["fold"] == k, "group"])
        train_groups = set(videos["group"]) - test_groups
        assert groups == train_groups  # no copy of a test video, no copy with its own (wrong) group
        n_train = int(videos["group"].isin(train_groups).sum())
        assert n == 3 * n_train  # each training video and its two copies
        assert y.mean() == pytest.approx(ev_fake_share(videos[videos["group"].isin(train_groups)]))
    # the final model trains on everything
    seen.clear()
    crossval.fit_final(videos, cols, n_inner=3, quick=True, augment=copies)
    assert seen[0][0] == 3 * len(videos)
    with pytest.raises(ValueError, match="source_path"):
        crossval.nested_cv(videos, cols, n_outer=4, n_inner=3, quick=True, log=lambda *a: None,
                           augment=copies.drop(columns=["source_path"]))
    with pytest.raises(ValueError, match="abs_path"):
        crossval.nested_cv(videos.drop(columns=["abs_path"]), cols, n_outer=4, n_inner=3, quick=True,
                           log=lambda *a: None, augment=copies)


def ev_fake_share(v: pd.DataFrame) -> float:
    return float((v["label"] == "fake").mean())


def test_train_augment_records_the_copies_in_the_card(tmp_path, monkeypatch):
    d = _features_dir(tmp_path)
    videos = pd.read_parquet(d / "videos.parquet")
    videos["abs_path"] = "/data/" + videos["path"]
    videos.to_parquet(d / "videos.parquet")
    _, videos = load_features(d)
    copies = _copies(videos)
    calls = []

    def fake_degraded(features_dir, augment_dir, **kw):
        calls.append((str(features_dir), str(augment_dir)))
        return copies

    import detector.degrade as degrade

    monkeypatch.setattr(degrade, "degraded_features", fake_degraded)
    training.train(str(d), str(tmp_path / "model"), name="t", quick=True, log=lambda *a: None,
                   augment=str(tmp_path / "aug"))
    assert calls == [(str(d), str(tmp_path / "aug"))]
    card = json.loads((tmp_path / "model" / "card.json").read_text())
    assert card["augmentation"]["n_copies"] == len(copies)
    assert set(card["augmentation"]["conditions"]) == set(CONDITIONS)
    assert f"--augment {tmp_path / 'aug'}" in card["command"]
    scores = pd.read_csv(tmp_path / "model" / "evaluation" / "scores.csv")
    assert len(scores) == len(videos)  # copies are not among the videos' scores
    held = pd.read_csv(tmp_path / "model" / "evaluation" / "scores_degraded_copies.csv")
    assert len(held) == len(copies) and set(held["condition"]) == {"c0", "c1"}
    deg = card["metrics"]["degraded_copies"]
    assert set(deg) == {"c0", "c1"} and all(d["n"] == len(videos) and d["auc"] > 0.8 for d in deg.values())


def test_degraded_features_of_an_extract_folder_name_their_sources(tmp_path, demo_pair):
    real, fake = demo_pair
    m = pd.DataFrame({"path": [real.name, fake.name], "abs_path": [str(real), str(fake)], "label": ["real", "fake"],
                      "group": ["g0", "g0"], "method": ["original", "self-blended"], "compression": ["c23", "c23"]})
    feats = tmp_path / "feats"
    extract(m, feats, n_frames=4, workers=1, progress=False)
    v = degraded_features(feats, tmp_path / "aug", conditions={"crf28": (28, 1.0)}, span=8, workers=1,
                          progress=False, log=lambda *a: None)
    assert len(v) == 2 and set(v["condition"]) == {"crf28"}
    assert dict(zip(v["source_path"], v["label"])) == {str(real): "real", str(fake): "fake"}
    assert (v["n_faces"] > 0).all() and v.filter(like="block_4x4_inner").notna().all().all()
    assert next((tmp_path / "aug").glob("features_v*_f4")).is_dir()


def test_degraded_features_measure_the_families_of_the_extract_folder(tmp_path, demo_pair):
    """A features folder of named families (an opt-in one among them): its copies are
    measured with the same families, in a folder of their own."""
    real, fake = demo_pair
    m = pd.DataFrame({"path": [real.name, fake.name], "abs_path": [str(real), str(fake)], "label": ["real", "fake"],
                      "group": ["g0", "g0"], "method": ["original", "self-blended"], "compression": ["c23", "c23"]})
    feats = tmp_path / "feats"
    extract(m, feats, n_frames=3, workers=1, progress=False, families=("ltop", "block"))
    assert features_families(feats) == ("block", "ltop") and features_families(tmp_path) is None
    v = degraded_features(feats, tmp_path / "aug", conditions={"crf28": (28, 1.0)}, span=8, workers=1,
                          progress=False, log=lambda *a: None)
    fams = {c.split("_")[0] for c in aggregated_columns(v)}
    assert fams == {"block", "ltop"} and v.filter(like="ltop_mouth_xt").notna().all().all()
    assert extract_stamp(tmp_path / "aug" / f"features_v{FEATURES_VERSION}_f3_block-ltop")["families"] == ["block", "ltop"]


def test_platform_profiles_include_another_codec_and_are_written_as_defined(tmp_path, demo_pair):
    real, _ = demo_pair
    videos = pd.DataFrame({"abs_path": [str(real)], "label": ["real"], "group": ["g0"], "method": ["original"],
                           "compression": ["c23"]})
    assert set(CONDITIONS) <= set(PROFILES) and set(PLATFORM_PROFILES) <= set(PROFILES)
    assert {p.codec for p in PLATFORM_PROFILES.values()} >= {"libx264", "libvpx-vp9"}
    man = make_degraded(videos, tmp_path / "p", conditions=PLATFORM_PROFILES, span=8, workers=1, log=lambda *a: None)
    assert set(man["condition"]) == set(PLATFORM_PROFILES)
    codecs = {c: probe(copy_path(tmp_path / "p", c, str(real)), sha256=False).codec for c in PLATFORM_PROFILES}
    assert codecs["vp9"] == "vp9" and codecs["crf23"] == "h264"


def test_the_further_profiles_write_av1_and_a_three_quarter_size_copy(tmp_path, demo_pair):
    """``crf32``, ``q540`` and ``av1`` (``generalization.py --probe-copies / --train-copies``): an
    SVT-AV1 copy that decodes to every frame, and a copy at 3/4 of the size (even sizes)."""
    real, _ = demo_pair
    videos = pd.DataFrame({"abs_path": [str(real)], "label": ["real"], "group": ["g0"], "method": ["original"],
                           "compression": ["c23"]})
    more = {k: PROFILES[k] for k in ("crf32", "q540", "av1")}
    assert not set(more) & set(PLATFORM_PROFILES) and PROFILES["av1"].codec == "libsvtav1"
    man = make_degraded(videos, tmp_path / "p", conditions=more, span=8, workers=1, log=lambda *a: None)
    assert set(man["condition"]) == set(more)
    src = probe(real, sha256=False)
    got = {c: probe(copy_path(tmp_path / "p", c, str(real)), sha256=False) for c in more}
    assert got["av1"].codec in ("av1", "libdav1d") and got["crf32"].codec == "h264"
    assert all(i.frame_count == 8 for i in got.values())
    assert (got["q540"].width, got["q540"].height) == (int(src.width * 0.75) // 2 * 2, int(src.height * 0.75) // 2 * 2)


def test_an_av1_copy_is_written_without_the_encoders_banner(tmp_path, capfd, monkeypatch):
    """SVT-AV1 prints its banner and settings on stderr at every start unless ``SVT_LOG`` says
    errors only: writing an AV1 copy sets it (a caller's own setting wins) and stays quiet."""
    from detector.encode import write_video

    monkeypatch.delenv("SVT_LOG", raising=False)
    frames = [np.full((64, 96, 3), v, np.uint8) for v in range(0, 200, 20)]
    path = write_video(frames, tmp_path / "q.mkv", codec="libsvtav1", crf=38)
    assert probe(path, sha256=False).frame_count == len(frames)
    assert "Svt[info]" not in capfd.readouterr().err and os.environ["SVT_LOG"] == "1"
