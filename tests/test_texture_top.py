"""The ``ltop`` family: LBP-TOP histograms of synthetic volumes, the regions of a face, its
columns on a still and on a face whose mouth is re-rendered frame by frame, opt-in."""

import numpy as np
import pandas as pd
import pytest
from skimage import data
from skimage.feature import local_binary_pattern

from detector import features as F
from detector.texture_top import (LTOP_COLUMNS, MIN_EYE_DISTANCE, chi2_distance, lbp_top, ltop_features,
                                  region_boxes)


def _hist(codes: np.ndarray) -> np.ndarray:
    h = np.bincount(codes.astype(int).ravel(), minlength=10).astype(float)
    return h / h.sum()


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    """A 40 x 48 textured patch of scikit-image's camera man (uint8)."""
    return data.camera()[200:240, 220:268]


def test_a_still_volume_reads_its_image_on_every_plane(camera):
    """A volume of one image repeated: the XY codes are the image's own 2-D LBP codes, and
    the temporal codes do not depend on how many frames it lasts (every XT / YT plane
    holds rows that do not change over time)."""
    h3, h7 = lbp_top(np.stack([camera] * 3)), lbp_top(np.stack([camera] * 7))
    assert h3.shape == (3, 10) and np.allclose(h3.sum(axis=1), 1.0)
    own = local_binary_pattern(camera, 8, 1, method="uniform")[1:-1, 1:-1]
    assert np.allclose(h3[0], _hist(own))
    assert np.allclose(h3, h7)
    # a still texture is not a still picture on XT: its rows vary along x, so not every code is flat
    assert h3[1, 8] < 0.9 and h3[2, 8] < 0.9


def test_a_texture_that_changes_over_time_differs_on_the_temporal_planes_only():
    """Fresh noise every frame against one noise image held still: the same spatial
    statistics (XY codes alike), other dynamics (XT and YT codes far apart)."""
    rng = np.random.default_rng(0)
    still = np.stack([rng.integers(0, 256, (30, 30))] * 6).astype(np.uint8)
    moving = rng.integers(0, 256, (6, 30, 30)).astype(np.uint8)
    hs, hm = lbp_top(still), lbp_top(moving)
    assert chi2_distance(hs[0], hm[0]) < 0.01
    assert chi2_distance(hs[1], hm[1]) > 0.1 and chi2_distance(hs[2], hm[2]) > 0.1


def test_too_few_frames_leave_the_temporal_planes_nan(camera):
    h = lbp_top(np.stack([camera] * 2))
    assert np.isfinite(h[0]).all() and np.isnan(h[1:]).all()


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((3, 8, 8), np.float32),
                                 np.zeros((3, 2, 8), np.uint8), np.zeros((0, 8, 8), np.uint8)])
def test_lbp_top_refuses_what_is_not_an_integer_volume(bad):
    with pytest.raises(ValueError):
        lbp_top(bad)


def test_region_boxes_follow_the_landmarks_and_scale_with_the_face():
    lm = np.array([[100.0, 100.0], [164.0, 100.0], [132.0, 135.0], [108.0, 166.0], [156.0, 166.0]])
    boxes = region_boxes(lm)
    centre = lambda b: ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)  # noqa: E731
    assert [len(boxes[k]) for k in ("eyes", "mouth", "cheeks")] == [2, 1, 2]
    assert centre(boxes["mouth"][0]) == pytest.approx((132, 166), abs=1)
    assert centre(boxes["eyes"][0]) == pytest.approx((100, 100), abs=1)
    (lx, ly), (rx, ry) = centre(boxes["cheeks"][0]), centre(boxes["cheeks"][1])
    assert 100 < ly < 166 and 100 < ry < 166  # between the eyes and the mouth ...
    assert lx < 100 + 0.6 * 8 and rx > 164 - 0.6 * 8  # ... on the outer side
    big = region_boxes(lm * 2)
    for k in boxes:
        for b, b2 in zip(boxes[k], big[k]):
            assert b2[2] - b2[0] == pytest.approx(2 * (b[2] - b[0]), abs=2)
    with pytest.raises(ValueError):
        region_boxes(lm[:4])


@pytest.fixture(scope="module")
def still(scene):
    """The astronaut still, its five landmarks, and the mouth box."""
    img, face, _ = scene
    return img, np.asarray(face.landmarks, float), region_boxes(face.landmarks)["mouth"][0]


def test_a_still_face_gives_finite_columns_and_no_temporal_columns_without_frames(still):
    img, lm, _ = still
    f = ltop_features(img, lm, [img] * 4)
    assert tuple(f) == LTOP_COLUMNS and np.isfinite(list(f.values())).all()
    alone = ltop_features(img, lm)
    assert all(np.isfinite(alone[k]) == k.endswith("_xy") for k in LTOP_COLUMNS)
    assert {k: alone[k] for k in LTOP_COLUMNS if k.endswith("_xy")} == {k: f[k] for k in f if k.endswith("_xy")}


def test_a_mouth_re_rendered_every_frame_moves_the_mouth_columns_alone(still):
    """Fresh noise in the middle of the mouth box in every frame after the sampled one (a
    mouth re-rendered frame by frame): its temporal distance to the cheeks grows; the eyes
    and cheeks, untouched, give the same columns as on the still."""
    img, lm, (x0, y0, x1, y1) = still
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(4):
        f = img.copy()
        cx, cy, hw, hh = (x0 + x1) // 2, (y0 + y1) // 2, (x1 - x0) // 3, (y1 - y0) // 3
        f[cy - hh:cy + hh, cx - hw:cx + hw] = rng.integers(60, 200, (2 * hh, 2 * hw, 1))
        frames.append(f)
    base, moved = ltop_features(img, lm, [img] * 4), ltop_features(img, lm, frames)
    assert moved["ltop_mouth_xt"] > base["ltop_mouth_xt"] + 0.05
    assert moved["ltop_mouth_yt"] > base["ltop_mouth_yt"] + 0.05
    assert moved["ltop_mouth_xy"] != base["ltop_mouth_xy"]
    for k in LTOP_COLUMNS:
        if "mouth" not in k:
            assert moved[k] == pytest.approx(base[k]), k


def test_small_or_cut_faces_give_nan_and_bad_input_raises(still):
    img, lm, _ = still
    tiny = lm / lm[:, 0].max() * MIN_EYE_DISTANCE * 0.5
    assert np.isnan(list(ltop_features(img, tiny).values())).all()
    cut = lm - lm[:, 0].min() + 2  # the left eye two pixels from the frame's edge
    assert np.isnan(list(ltop_features(img, cut).values())).all()
    with pytest.raises(ValueError):
        ltop_features(img, None)
    with pytest.raises(ValueError):
        ltop_features(img, np.full((5, 2), np.nan))
    with pytest.raises(ValueError):
        ltop_features(img, lm, [img[:-2]])
    with pytest.raises(ValueError):
        ltop_features(img[:, :, 0], lm)


def test_ltop_is_opt_in_and_reads_the_block_run(scene):
    img, _, reg = scene
    assert "ltop" in F.OPT_IN_FAMILIES and "ltop" not in F.FAMILIES
    assert not any(k.startswith("ltop_") for k in F.face_features(img, reg, next_frame=img, following=[img] * 4))
    f = F.face_features(img, reg, families=["ltop"], following=[img] * 9)
    assert f == ltop_features(img, reg.landmarks, [img] * (F.BLOCK_RUN - 1))
    assert pd.Series(f).notna().all()
