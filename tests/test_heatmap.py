"""The heat map over the face (detector.heatmap) and its genuine reference (detector.reference)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from detector.heatmap import (HEAT_MAX, REGIONS, colour_bar, column_z, face_heatmap, paint, region_contributions,
                              region_masks, region_of, region_values)
from detector.reference import (REFERENCE_FILE, Reference, genuine_reference, load_genuine_reference,
                                reference_for, robust_spread, write_genuine_reference)
from test_app import N_FRAMES, app_model  # noqa: F401 (a fixture)


def test_every_column_maps_to_the_region_it_measures():
    assert region_of("hf_inner_outer") == "inner" and region_of("block_cr_inner__mean") == "inner"
    assert region_of("color_a_inner_band__dmean") == "inner"  # the first region named is the one measured
    assert region_of("block_band_outer__mean") == region_of("grad_band_vs_sides") == "band"
    assert region_of("block_cr_4x4_outer__std") == region_of("block_dctzero_outer") == "outer"
    assert region_of("iqm_sharpness") == "inner" and region_of("color_step_cr") == "band"
    assert region_of("seam_chroma_step__mean") == "band"
    # radial profile bins (0-0.4, 0.4-0.7, 0.7-0.9 | 0.9-1.0, 1.0-1.1, 1.1-1.3)
    assert [region_of(f"flick_profile{k}") for k in range(6)] == ["inner"] * 3 + ["band"] * 3
    assert region_of("lmk_eyes_head") == "eyes" and region_of("lmk_mouth_head") == "mouth"
    assert region_of("lmk_pose_rot") == "inner" and region_of("lmk_contour_jitter") == "band"
    assert region_of("lmk_head_speed") is None


def test_region_values_show_the_region_that_is_pushed_and_skip_missing_values():
    cols = ["block_inner__mean", "block_cr_inner__mean", "block_band__mean", "block_outer__mean",
            "flick_band_outer__mean", "lmk_mouth_head__mean"]
    reference = {c: (1.0, 0.5) for c in cols}
    typical = {c: 1.0 + 0.5 * z for c, z in zip(cols, (0.5, -1.0, 0.8, 0.3, 1.0, 0.2))}
    base = region_values(column_z(typical, cols, reference))
    assert all(base[r].value < 1.5 for r in ("inner", "band", "outer", "mouth"))
    pushed = region_values(column_z({**typical, "block_outer__mean": 1.0 + 0.5 * 6.0}, cols, reference))
    assert pushed["outer"].value == pytest.approx(6.0) and pushed["outer"].top_column == "block_outer__mean"
    assert max(pushed, key=lambda r: np.nan_to_num(pushed[r].value)) == "outer"
    assert pushed["inner"].value == pytest.approx(base["inner"].value)
    # a missing value (a still image has no flicker) is left out, not read as 0 or as typical
    gap = region_values(column_z({**typical, "flick_band_outer__mean": float("nan")}, cols, reference))
    assert gap["band"].n_columns == 1 and gap["band"].value == pytest.approx(0.8)
    # a region no column measures has no value
    assert np.isnan(gap["eyes"].value) and gap["eyes"].n_columns == 0
    # a column without a reference (or a zero spread) gives no z
    z = column_z(typical, cols, {**reference, "block_inner__mean": (0.0, 0.0)})
    assert np.isnan(z["block_inner__mean"]) and np.isnan(column_z({}, ["x_inner"], {})["x_inner"])
    assert region_contributions({"block_inner__mean": 0.5, "block_cr_inner__mean": -0.2,
                                 "block_outer__mean": 0.1}) == pytest.approx({"inner": 0.3, "outer": 0.1})


def test_masks_follow_the_face_and_paint_only_measured_regions(scene):
    img, face, _ = scene
    h, w = img.shape[:2]
    masks = region_masks((256, 256), (0, 0, w, h), face)  # the whole frame shown at 256 x 256
    assert set(masks) == set(REGIONS) and all(m.shape == (256, 256) and m.dtype == bool for m in masks.values())
    assert not (masks["inner"] & masks["band"]).any() and not (masks["band"] & masks["outer"]).any()
    for x, y in face.landmarks[:2]:  # each eye landmark is inside the eye mask and the inner face
        j, i = int(x * 256 / w), int(y * 256 / h)
        assert masks["eyes"][i, j] and masks["inner"][i, j]
    rgb = np.ascontiguousarray(img[:, :, ::-1])
    import cv2

    small = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)
    out = paint(small, masks, {"inner": 0.5, "band": float("nan"), "outer": HEAT_MAX * 2})
    assert out.shape == small.shape and out.dtype == np.uint8
    core = masks["inner"] & ~masks["eyes"] & ~masks["mouth"]
    grey = np.repeat(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)  # the picture under the tint
    changed = np.abs(out.astype(int) - grey.astype(int)).sum(axis=2) > 0
    assert changed[core].mean() > 0.9 and changed[masks["outer"]].mean() > 0.9
    band_inside = cv2.erode(masks["band"].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert changed[band_inside].mean() < 0.05  # no value: left grey (but for the neighbours' outlines)
    unpainted = out[band_inside]
    assert (unpainted[:, 0] == unpainted[:, 1]).all() and (unpainted[:, 1] == unpainted[:, 2]).all()
    # the saturated region is tinted strongly towards dark red (little green left), the mild one lightly
    assert out[masks["outer"]][:, 1].mean() < 0.6 * grey[masks["outer"]][:, 1].mean()
    assert out[core][:, 1].mean() > 0.8 * grey[core][:, 1].mean()
    with pytest.raises(ValueError):
        paint(small[:, :, 0], masks, {})
    bar = colour_bar(100, 10)
    assert bar.shape == (10, 100, 3) and bar[0, 0].sum() > bar[0, -1].sum()  # pale to dark


def test_robust_spread_and_the_genuine_reference():
    assert robust_spread(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(1.4826)
    assert robust_spread(np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])) > 0  # MAD 0: the IQR
    assert np.isnan(robust_spread(np.array([2.0, np.nan]))) and np.isnan(robust_spread(np.full(5, 3.0)))
    videos = pd.DataFrame({"label": ["real"] * 4 + ["fake"] * 2 + ["real"],
                           "a__mean": [1.0, 2.0, 3.0, 4.0, 50.0, 60.0, np.nan],
                           "flat__mean": [1.0] * 6 + [np.nan]})
    ref = genuine_reference(videos, ["a__mean", "flat__mean", "missing__mean"])
    assert ref["n_videos"] == 4  # the fakes and the video without values are left out
    assert ref["columns"]["a__mean"]["median"] == pytest.approx(2.5) and set(ref["columns"]) == {"a__mean"}


@pytest.fixture(scope="module")
def scored(tmp_path_factory, app_model, demo_pair):
    """(model copied to a folder of its own, analysis of the demo fake with face crops)."""
    import shutil

    from detector.dashboard import uploads
    from detector.model import load_model

    folder = tmp_path_factory.mktemp("hm") / "model"
    shutil.copytree(app_model, folder)
    model = load_model(folder)
    a = uploads.run_analysis(uploads.Source.from_path(demo_pair[1]), model, N_FRAMES)
    return model, a


def test_reference_falls_back_clearly(scored):
    model, a = scored
    folder = model.path
    (ref, note) = reference_for(model)
    assert ref.source == "scaler" and f"no {REFERENCE_FILE}" in note and "genuine and fake" in note
    videos = pd.DataFrame([{**a.decisive.features, "label": lab} for lab in ("real", "real", "real", "fake")])
    videos.iloc[:3, :-1] = videos.iloc[:3, :-1].to_numpy(float) * np.array([[0.9], [1.0], [1.2]])
    path = write_genuine_reference(folder, videos, model.used_columns, model.sha256, "test")
    ref, note = reference_for(model)
    assert ref.source == "genuine" and ref.n_videos == 3 and "3 genuine training videos" in note
    assert load_genuine_reference(folder).stats.keys() <= set(model.used_columns)
    doc = json.loads(path.read_text())
    for broken, why in ((dict(doc, model_sha256="0" * 64), "another model file"),
                        (dict(doc, features_version="0"), "features version"),
                        (dict(doc, columns={"x": {"median": 1.0, "spread": -1.0}}), "positive spread")):
        path.write_text(json.dumps(broken))
        ref, note = reference_for(model)
        assert ref.source == "scaler" and why in note, note
    path.write_text("{not json")
    assert "refused" in reference_for(model)[1]
    path.unlink()
    assert reference_for(None)[0] is None
    assert reference_for(replace(model, pipeline=object()))[0] is None  # no folder reference, no scaler


def test_face_heatmap_of_an_analysis(scored):
    model, a = scored
    track = a.decisive
    reference = Reference({c: (float(track.features[c]), 1.0) for c in model.used_columns
                           if np.isfinite(track.features.get(c, np.nan))}, "genuine", "test reference")
    hm = face_heatmap(a, track, model.used_columns, reference)
    assert hm.image.shape == (256, 256, 3) and hm.image.dtype == np.uint8
    assert hm.frame in {i for i, _, _ in track.thumbnails} and hm.note == "test reference"
    assert all(hm.regions[r].value == pytest.approx(0.0) for r in ("inner", "band", "outer"))
    outer_col = next(c for c in model.used_columns if region_of(c) == "outer")
    pushed = replace(track, features={**track.features, outer_col: track.features[outer_col] + 30.0})
    hot = face_heatmap(a, pushed, model.used_columns, reference, frame=hm.frame)
    assert hot.regions["outer"].value > 1.0 and hot.regions["outer"].top_column == outer_col
    assert hot.regions["inner"].value == pytest.approx(0.0)
    assert np.abs(hot.image.astype(int) - hm.image.astype(int)).sum() > 0
    assert face_heatmap(a, replace(track, thumbnails=[]), model.used_columns, reference) is None


def test_the_heat_map_of_a_turned_video_is_drawn_upright(app_model, demo_pair, tmp_path):  # noqa: F811
    """A clip stored sideways with a display rotation: its face crops are shown upright, and
    the regions painted over them are turned with them (drawn where the region's pixels are)."""
    from detector.analysis import analyze
    from detector.decode import iter_frames
    from detector.encode import write_video
    from detector.faces import Face, thumbnail_window
    from detector.model import load_model

    model = load_model(app_model)
    frames = [np.rot90(f.image, -1) for f in iter_frames(demo_pair[1], 40, sampling="spread")]
    a = analyze(write_video(frames, tmp_path / "side.mp4", crf=18, rotation=90), model, N_FRAMES, thumbnails=True)
    assert a.info.rotation == 90
    track = a.decisive
    reference = Reference({c: (float(track.features[c]), 1.0) for c in model.used_columns
                           if np.isfinite(track.features.get(c, np.nan))}, "genuine", "test reference")
    cold = face_heatmap(a, track, model.used_columns, reference)
    outer_col = next(c for c in model.used_columns if region_of(c) == "outer")
    pushed = replace(track, features={**track.features, outer_col: track.features[outer_col] + 30.0})
    hot = face_heatmap(a, pushed, model.used_columns, reference, frame=cold.frame)
    changed = np.abs(hot.image.astype(int) - cold.image.astype(int)).sum(axis=2) > 0
    row = a.table[(a.table["track_id"] == track.track_id) & (a.table["frame"] == cold.frame)].iloc[0]
    face = Face(tuple(int(v) for v in row["box"]), np.asarray(row["landmarks"], float), float(row["confidence"]))
    stored = region_masks((256, 256), thumbnail_window(face.box, (a.info.height, a.info.width)), face)["outer"]
    upright = np.rot90(stored, 1)
    assert changed[upright].mean() > 0.9 > changed[stored & ~upright].mean()
