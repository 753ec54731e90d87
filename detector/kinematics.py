"""Landmark features (the ``lmk`` family): head-pose consistency and landmark kinematics.

A face swap replaces the central face (eyes, brows, nose, mouth) and keeps the head around
it: the jaw line, the cheeks' outline, the forehead.  Two things can betray the seam, and
neither lives in the pixels' compression history, so a re-encode does not erase them:

- **pose inconsistency** (Yang, Li & Lyu 2019, "Exposing deep fakes using inconsistent head
  poses"): the head pose fitted to the central landmarks alone differs from the pose fitted
  to the whole face, contour included (:func:`pose_inconsistency`);
- **kinematics**: over consecutive frames the pasted central face slides, turns and
  rescales against the head that carries it, and its mouth and eyes move in ways the head
  does not explain (:func:`run_kinematics`).

Lengths are in inter-ocular distances (:func:`detector.landmarks.inter_ocular`, of the
sampled frame), angles in degrees, motion per frame (consecutive frames of the video).
:func:`landmark_features` runs the mesh (:mod:`detector.landmarks`) on a sampled frame and
the frames right after it and returns the columns of :data:`LMK_COLUMNS`.
"""

from __future__ import annotations

from itertools import chain

import cv2
import numpy as np

from .landmarks import CENTRAL, CONTOUR, EYES, LIPS, N_POINTS, inter_ocular, mesh_crop, mesh_in_crop, reference_face

#: The kinematics use the sampled frame and up to this many frames in all (the sampled one
#: and those right after it).
LMK_RUN = 5
#: Floor of the motion log-ratios (inter-ocular distances per frame): about the mesh's own
#: frame-to-frame noise on a still face, so that a still head does not blow the ratio up.
MOTION_FLOOR = 0.005
_EPS = 1e-9

POSE_COLUMNS = ("lmk_pose_rot", "lmk_pose_shift", "lmk_pose_depth", "lmk_pose_jitter")
KIN_COLUMNS = ("lmk_inner_speed", "lmk_inner_accel", "lmk_inner_turn", "lmk_inner_zoom", "lmk_contour_jitter",
               "lmk_head_speed", "lmk_mouth_head", "lmk_eyes_head")
LMK_COLUMNS = POSE_COLUMNS + KIN_COLUMNS


def _points(p: np.ndarray, cols: int = 2) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != N_POINTS or p.shape[1] < cols:
        raise ValueError(f"expected a ({N_POINTS}, {cols}+) landmark array, got shape {p.shape}")
    return p


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama 1991) that maps 2-D points ``src`` onto ``dst``.

    src, dst : (n, 2) float, n >= 2.  Returns (scale, R (2, 2) rotation, t (2,)) with
    ``dst ~ scale * src @ R.T + t``.
    """
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two (n >= 2, 2) point sets of one shape, got {src.shape} and {dst.shape}")
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    r = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / max((a * a).sum() / len(src), _EPS))
    return scale, r, md - scale * ms @ r.T


def _apply(params: tuple[float, np.ndarray, np.ndarray], pts: np.ndarray) -> np.ndarray:
    s, r, t = params
    return s * pts @ r.T + t


def head_pose(points: np.ndarray, index, frame_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Head pose from the landmarks ``index`` of a mesh, fitted to the generic face.

    points : (468, 2+) frame pixels; index : the landmark indices to fit;
    frame_shape : (H, W, ...) of the frame.  Camera: a pinhole with the focal length
    max(H, W) pixels centred on the frame (the usual guess without calibration; the two
    poses compared share it).  Returns (R (3, 3), t (3,)) of the generic face
    (:func:`detector.landmarks.reference_face`, unit inter-ocular distance) in camera
    coordinates (``cv2.solvePnP``), t in inter-ocular distances.
    """
    idx = list(index)
    H, W = frame_shape[:2]
    f = float(max(H, W))
    cam = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]], float)
    obj = np.ascontiguousarray(reference_face()[idx], dtype=np.float64)
    img = np.ascontiguousarray(_points(points)[idx, :2])
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise ValueError("head pose could not be fitted")
    return cv2.Rodrigues(rvec)[0], tvec.reshape(3)


def _angle(r: np.ndarray) -> float:
    """Rotation angle (degrees) of a 3x3 rotation matrix."""
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))


def pose_inconsistency(points: np.ndarray, frame_shape: tuple[int, ...]) -> tuple[float, float, float, np.ndarray]:
    """Central-face pose against whole-face pose (Yang, Li & Lyu 2019).

    points : (468, 2+) mesh in frame pixels; frame_shape : (H, W, ...).  Both poses are
    fitted with :func:`head_pose` to the same generic face: the central one to
    :data:`detector.landmarks.CENTRAL` (eyes, brows, nose, mouth: what a swap replaces),
    the whole one to all 468 points (contour included).  Returns

    - the angle between the two rotations (degrees);
    - the offset between the two positions across the image plane (inter-ocular distances);
    - their depth difference relative to the whole face's depth (central minus whole, / whole);
    - the relative rotation ``R_central @ R_whole.T`` (3, 3), for frame-to-frame change.
    """
    rc, tc = head_pose(points, CENTRAL, frame_shape)
    rw, tw = head_pose(points, range(N_POINTS), frame_shape)
    rel = rc @ rw.T
    return _angle(rel), float(np.hypot(*(tc - tw)[:2])), float((tc[2] - tw[2]) / max(abs(tw[2]), _EPS)), rel


def _mean_norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v, axis=-1).mean())


def _motion(seq: list[np.ndarray], group: list[int]) -> float:
    """Mean displacement (pixels) of the points ``group`` between consecutive meshes."""
    return float(np.mean([_mean_norm(b[group] - a[group]) for a, b in zip(seq, seq[1:])]))


def run_kinematics(run: list[np.ndarray]) -> dict[str, float]:
    """Motion of the central face against the head over consecutive frames.

    run : meshes of consecutive frames, (468, 2+) frame pixels each, the sampled frame
    first.  Each later mesh is mapped onto the first by the similarity that best aligns
    the two contours (:data:`detector.landmarks.CONTOUR`): what is left is motion the
    head's own (rigid, in-plane) motion does not explain.  Lengths in inter-ocular
    distances of the first mesh, all per frame:

    ``lmk_inner_speed``
        mean displacement per frame of the central face's centroid (eyes, brows, nose,
        mouth) against the aligned contour: the pasted face sliding on the head;
    ``lmk_inner_accel``
        mean change of that displacement per frame (jitter; NaN with fewer than 3 frames);
    ``lmk_inner_turn``, ``lmk_inner_zoom``
        rotation (degrees) and log-scale change per frame of the central face against the
        contour (its own similarity fit);
    ``lmk_contour_jitter``
        mean per-frame motion of the contour points left after the alignment (jaw motion
        and landmark noise along the blending boundary);
    ``lmk_head_speed``
        mean image motion of the contour points per frame (the head and camera);
    ``lmk_mouth_head``, ``lmk_eyes_head``
        log-ratios of the aligned lips' (eyes' and brows') mean motion per frame to the
        head's, both floored at :data:`MOTION_FLOOR`: a mouth that moves when the head
        does not, or the reverse.

    All NaN with a single frame.
    """
    if len(run) < 2:
        return dict.fromkeys(KIN_COLUMNS, float("nan"))
    pts = [_points(p)[:, :2] for p in run]
    iod = max(inter_ocular(pts[0]), _EPS)
    c, inner = list(CONTOUR), list(CENTRAL)
    aligned = [pts[0]] + [_apply(similarity(p[c], pts[0][c]), p) for p in pts[1:]]
    rel = [similarity(pts[0][inner], a[inner]) for a in aligned]  # the central face against the contour
    centre = np.array([a[inner].mean(axis=0) for a in aligned]) / iod
    vel = np.diff(centre, axis=0)
    turn = np.degrees([np.arctan2(r[1][1, 0], r[1][0, 0]) for r in rel])
    zoom = np.log([max(r[0], _EPS) for r in rel])
    head, mouth, eyes = (_motion(seq, g) / iod for seq, g in ((pts, c), (aligned, list(LIPS)), (aligned, list(EYES))))
    lr = lambda v: float(np.log((v + MOTION_FLOOR) / (head + MOTION_FLOOR)))  # noqa: E731
    return {"lmk_inner_speed": _mean_norm(vel),
            "lmk_inner_accel": _mean_norm(np.diff(vel, axis=0)) if len(vel) > 1 else float("nan"),
            "lmk_inner_turn": float(np.abs(np.diff(turn)).mean()), "lmk_inner_zoom": float(np.abs(np.diff(zoom)).mean()),
            "lmk_contour_jitter": _motion(aligned, c) / iod, "lmk_head_speed": head,
            "lmk_mouth_head": lr(mouth), "lmk_eyes_head": lr(eyes)}


def pose_features(run: list[np.ndarray], frame_shape: tuple[int, ...]) -> dict[str, float]:
    """:func:`pose_inconsistency` over the meshes of consecutive frames (sampled frame
    first): the mean of the rotation angle, shift and depth difference, and
    ``lmk_pose_jitter``, the mean angle (degrees) by which the relative rotation changes
    from one frame to the next (NaN with a single frame)."""
    if not run:
        return dict.fromkeys(POSE_COLUMNS, float("nan"))
    per = [pose_inconsistency(p, frame_shape) for p in run]
    jit = [_angle(b[3] @ a[3].T) for a, b in zip(per, per[1:])]
    return {"lmk_pose_rot": float(np.mean([p[0] for p in per])), "lmk_pose_shift": float(np.mean([p[1] for p in per])),
            "lmk_pose_depth": float(np.mean([p[2] for p in per])),
            "lmk_pose_jitter": float(np.mean(jit)) if jit else float("nan")}


def landmark_features(frame, ellipse: tuple[float, float, float, float, float],
                      following=()) -> dict[str, float]:
    """The ``lmk`` columns of one face.

    frame : (H, W, 3) uint8 BGR frame; ellipse : the face's ellipse
    (:attr:`detector.faces.Regions.ellipse`), which places the mesh crop
    (:func:`detector.landmarks.mesh_crop`) in this frame and in ``following``: the frames
    right after it (same shape; arrays or :class:`detector.decode.LazyBGR`), of which the
    first :data:`LMK_RUN` - 1 are used, up to the first where the mesh finds no face.
    All NaN when the mesh finds no face in ``frame`` or its crop cannot be placed (a
    degenerate ellipse, or one outside the frame).
    """
    others = list(following)[: LMK_RUN - 1]
    for img in others:
        if img.shape != frame.shape:
            raise ValueError(f"a following frame has shape {img.shape}, the sampled one {frame.shape}")
    try:
        m = mesh_crop(ellipse)
        first = mesh_in_crop(frame, m)
    except ValueError:  # no crop to read (the followers share it): no mesh
        return dict.fromkeys(LMK_COLUMNS, float("nan"))
    run = []
    for mesh in chain([first], (mesh_in_crop(img, m) for img in others)):  # stops at the first miss
        if not mesh.ok:
            break
        run.append(mesh.points)
    if not run:
        return dict.fromkeys(LMK_COLUMNS, float("nan"))
    return {**pose_features(run, frame.shape), **run_kinematics(run)}
