"""Regional spatio-temporal texture (the ``ltop`` family): LBP-TOP of the eyes and mouth against the cheeks.

Reenactment and face-swap methods (Face2Face, NeuralTextures, and the decoders of Deepfakes /
FaceSwap) re-render the mouth and the eyes, the parts that move with an expression, frame by
frame.  Their texture, and above all the way it changes over time, then differs from that of
the cheeks, which move with the head alone.  This module measures that with local binary
patterns on three orthogonal planes (LBP-TOP; Zhao & Pietikainen 2007, "Dynamic texture
recognition using local binary patterns with an application to facial expressions"): a
region's grey-level volume over a run of consecutive frames is read as uniform LBP codes
(scikit-image's :func:`skimage.feature.local_binary_pattern`, P = 8, R = 1) on its

- **XY** planes (the frames: spatial texture),
- **XT** planes (one image row over time: horizontal texture dynamics),
- **YT** planes (one image column over time: vertical texture dynamics),

and each plane's code histogram of the eyes and of the mouth is compared with the cheeks'.

Geometry, from the face's five landmarks (:class:`detector.faces.Face`: eyes, nose tip, mouth
corners), in inter-ocular distances ``e``; every region is an axis-aligned box of the sampled
frame, resampled (area average) so that ``e`` spans :data:`E_PIXELS` pixels: textures compare
across resolutions, and for a typical FaceForensics++ face that is about a 2x downscale, above
the codec's 8x8 quantisation.

======  =====================================================================  ================
region  centre                                                                 canonical size
======  =====================================================================  ================
eyes    each eye landmark (both boxes pooled)                                  20 x 14 px each
mouth   the middle of the mouth corners (corner to corner)                     28 x 16 px
cheeks  each eye, :data:`CHEEK_ALONG` of the way to the mouth corner on its    14 x 14 px each
        side, moved :data:`CHEEK_OUT` ``e`` outwards along the eye line
        (both pooled): the control, which an expression hardly re-renders
======  =====================================================================  ================

(For a frontal face with the mouth about one inter-ocular distance below the eyes the boxes
do not overlap.)

The boxes stay where they are in the sampled frame over the run (as the ``block`` family's
regions do: a face moves a pixel or two in a fifth of a second), so head motion shows in the
temporal planes of every region alike and cancels in the comparisons.

Columns (prefix ``ltop_``; chi-square distances ``0.5 * sum((a - b)**2 / (a + b))`` between
normalised 10-bin uniform-LBP histograms, 0 = the same texture, at most 1; entropies in nats):

===============  ================================================================================
``mouth_xy``     mouth vs cheeks, spatial texture of the frames
``mouth_xt``     mouth vs cheeks, horizontal texture dynamics (XT planes)
``mouth_yt``     mouth vs cheeks, vertical texture dynamics (YT planes)
``eyes_xy``      eyes vs cheeks, XY (as ``mouth_xy``)
``eyes_xt``      eyes vs cheeks, XT
``eyes_yt``      eyes vs cheeks, YT
``mouth_tent``   entropy of the mouth's temporal (XT + YT) codes minus the cheeks' (> 0: the mouth's
                 texture changes in more varied ways than the cheeks'; a re-rendered mouth that
                 flickers raises it, one that is smoothed over time lowers it)
``eyes_tent``    the same for the eyes
``cheeks_xy``    left vs right cheek, XY: how much two untouched areas of this face differ (the
                 baseline against which the distances above are read)
``cheeks_t``     left vs right cheek, temporal (XT + YT) codes
===============  ================================================================================

The temporal columns need at least three frames (NaN with fewer: a still image); all columns
are NaN when the face is too small (inter-ocular distance under :data:`MIN_EYE_DISTANCE`
pixels) or a region's box leaves the frame.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

#: Canonical inter-ocular distance: regions are resampled so that it spans this many pixels.
E_PIXELS = 32
#: LBP neighbours and radius (pixels of the canonical scale, frames along t).
POINTS, RADIUS = 8, 1
#: Canonical region sizes (width, height) in pixels, without the LBP border.
EYE_PX, MOUTH_PX, CHEEK_PX = (20, 14), (28, 16), (14, 14)
#: Where a cheek is: this fraction of the way from an eye to the mouth corner on its side ...
CHEEK_ALONG = 0.5
#: ... then this many inter-ocular distances outwards along the eye line.
CHEEK_OUT = 0.18
#: Faces with a smaller inter-ocular distance (frame pixels) give NaN columns.
MIN_EYE_DISTANCE = 8.0
#: Frames the temporal planes need (a code on an XT / YT plane reads the frames before and after).
MIN_FRAMES = 2 * RADIUS + 1
PLANES = ("xy", "xt", "yt")
EPS = 1e-10

LTOP_COLUMNS = tuple(f"ltop_{r}_{p}" for r in ("mouth", "eyes") for p in PLANES) + (
    "ltop_mouth_tent", "ltop_eyes_tent", "ltop_cheeks_xy", "ltop_cheeks_t")

Box = tuple[int, int, int, int]


def lbp_top(volume: np.ndarray, points: int = POINTS, radius: int = RADIUS) -> np.ndarray:
    """Uniform-LBP code histograms of a grey-level volume on its three orthogonal planes.

    Parameters
    ----------
    volume : (T, H, W) integer array
        Grey levels of T consecutive frames of one region (e.g. uint8), H and W > 2 * radius.
    points, radius : int
        LBP neighbours and radius (pixels in x and y, frames in t).

    Returns
    -------
    (3, points + 2) float64 array
        Normalised histograms (each row sums to 1) of the codes on the XY, XT and YT planes
        (scikit-image's ``uniform`` codes: 0 ... points for the uniform patterns, points + 1
        for all others), read at the voxels ``radius`` or more from the volume's sides in x
        and y; on the XT and YT planes also ``radius`` or more frames from its first and last
        frame.  The XT and YT rows are NaN when T < 2 * radius + 1.

    Raises
    ------
    ValueError
        For a volume that is not 3-D, not integer, or too small in x or y.
    """
    v = np.asarray(volume)
    if v.ndim != 3 or not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"expected a (T, H, W) integer volume, got shape {v.shape} {v.dtype}")
    if int(radius) != radius or radius < 1 or int(points) != points or points < 1:
        raise ValueError(f"points and radius must be positive integers, got {points}, {radius}")
    n_t, n_y, n_x = v.shape
    r = int(radius)
    if n_t < 1 or n_y <= 2 * r or n_x <= 2 * r:
        raise ValueError(f"volume {v.shape} too small for LBP radius {r}")
    # imported here: scikit-image's texture module loads scipy.linalg (~0.1 s of every start-up),
    # and only an extraction that names this opt-in family reads it
    from skimage.feature import local_binary_pattern

    def codes(planes: np.ndarray) -> np.ndarray:
        # the planes stacked into one image: a code's neighbours cross into the next plane only
        # in the first and last `r` rows of each plane, which are never read
        n, rows, cols = planes.shape
        c = local_binary_pattern(np.ascontiguousarray(planes).reshape(n * rows, cols), points, r, method="uniform")
        return c.reshape(n, rows, cols)

    inner = (slice(r, n_y - r), slice(r, n_x - r))
    hists = np.full((3, points + 2), np.nan)
    planes = [codes(v)[:, inner[0], inner[1]]]  # (t, y, x)
    if n_t >= 2 * r + 1:
        planes.append(codes(v.transpose(1, 0, 2))[inner[0], r:n_t - r, inner[1]])  # (y, t, x)
        planes.append(codes(v.transpose(2, 0, 1))[inner[1], r:n_t - r, inner[0]])  # (x, t, y)
    for k, c in enumerate(planes):
        h = np.bincount(c.astype(np.int64).ravel(), minlength=points + 2).astype(np.float64)
        hists[k] = h / h.sum()
    return hists


def chi2_distance(h1: np.ndarray, h2: np.ndarray, eps: float = EPS) -> float:
    """Chi-square distance ``0.5 * sum((h1 - h2)**2 / (h1 + h2 + eps))`` of two normalised
    histograms (same shape; 0 for equal ones, 1 for disjoint ones); NaN if either has NaN."""
    h1, h2 = np.asarray(h1, float), np.asarray(h2, float)
    if h1.shape != h2.shape:
        raise ValueError(f"histograms of shapes {h1.shape} and {h2.shape}")
    return float(0.5 * np.sum((h1 - h2) ** 2 / (h1 + h2 + eps)))


def entropy(h: np.ndarray, eps: float = EPS) -> float:
    """Shannon entropy (nats) ``-sum(h * log(h + eps))`` of a normalised histogram; NaN if it has NaN."""
    h = np.asarray(h, float)
    return float(-(h * np.log(h + eps)).sum())


def _check_landmarks(landmarks) -> np.ndarray:
    if landmarks is None:
        raise ValueError("the ltop family needs the face's five landmarks (Regions from face_regions)")
    lm = np.asarray(landmarks, float)
    if lm.shape != (5, 2) or not np.isfinite(lm).all():
        raise ValueError(f"expected five finite (x, y) landmarks, got shape {lm.shape}")
    return lm


def region_boxes(landmarks: np.ndarray, radius: int = RADIUS) -> dict[str, list[Box]]:
    """The boxes (x0, y0, x1, y1), frame pixels, end exclusive, of the regions of one face.

    landmarks : (5, 2) float, (x, y) frame pixels of the eyes, nose tip and mouth corners
    (:class:`detector.faces.Face` order: the two eyes first, the two corners last).
    Returns {"eyes": [2 boxes], "mouth": [1 box], "cheeks": [2 boxes]}: each box the frame
    area that :func:`region_volume` resamples to its canonical size plus a ``radius``-pixel
    border (the LBP codes of the border itself are not read).  Boxes may leave the frame.
    """
    lm = _check_landmarks(landmarks)
    eye_a, eye_b, corners = lm[0], lm[1], lm[3:5]
    e = max(float(np.linalg.norm(eye_b - eye_a)), EPS)
    u = (eye_b - eye_a) / e  # along the eye line, from eye a to eye b
    corner_a, corner_b = sorted(corners, key=lambda c: float(c @ u))  # the corner on each eye's side
    px = e / E_PIXELS  # frame pixels per canonical pixel

    def box(centre: np.ndarray, size: tuple[int, int]) -> Box:
        hw, hh = (size[0] / 2 + radius) * px, (size[1] / 2 + radius) * px
        return (int(round(centre[0] - hw)), int(round(centre[1] - hh)),
                int(round(centre[0] + hw)), int(round(centre[1] + hh)))

    cheeks = [eye + CHEEK_ALONG * (corner - eye) + side * CHEEK_OUT * e * u
              for eye, corner, side in ((eye_a, corner_a, -1.0), (eye_b, corner_b, 1.0))]
    return {"eyes": [box(eye_a, EYE_PX), box(eye_b, EYE_PX)],
            "mouth": [box(corners.mean(axis=0), MOUTH_PX)],
            "cheeks": [box(c, CHEEK_PX) for c in cheeks]}


def region_volume(greys: Sequence[np.ndarray], box: Box, size: tuple[int, int],
                  origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The (T, size[1], size[0]) uint8 volume of ``box`` (x0, y0, x1, y1, frame pixels) in
    each grey image of ``greys`` ((h, w) uint8, each with its top-left pixel at ``origin``
    = (x, y) of the frame), resampled by area averaging to ``size`` = (width, height)."""
    x0, y0, x1, y1 = box[0] - origin[0], box[1] - origin[1], box[2] - origin[0], box[3] - origin[1]
    out = []
    for g in greys:
        if x0 < 0 or y0 < 0 or x1 > g.shape[1] or y1 > g.shape[0] or x1 <= x0 or y1 <= y0:
            raise ValueError(f"box {box} is not inside the grey image at {origin} of shape {g.shape}")
        out.append(cv2.resize(g[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA))
    return np.stack(out)


def _padded(size: tuple[int, int], radius: int = RADIUS) -> tuple[int, int]:
    return size[0] + 2 * radius, size[1] + 2 * radius


def _region_histograms(greys: list[np.ndarray], origin: tuple[int, int],
                       boxes: dict[str, list[Box]]) -> dict[str, list[np.ndarray]]:
    """:func:`lbp_top` of every region box of :func:`region_boxes` over the grey crops ``greys``."""
    sizes = {"eyes": EYE_PX, "mouth": MOUTH_PX, "cheeks": CHEEK_PX}
    return {name: [lbp_top(region_volume(greys, b, _padded(sizes[name]), origin)) for b in bs]
            for name, bs in boxes.items()}


def ltop_features(frame: np.ndarray, landmarks: np.ndarray,
                  following: Sequence[np.ndarray] = ()) -> dict[str, float]:
    """The ``ltop`` family of one face: LBP-TOP of its eyes and mouth against its cheeks.

    Parameters
    ----------
    frame : (H, W, 3) uint8
        The sampled frame (BGR), or an object with its ``shape`` that gives BGR crops when
        sliced (:class:`detector.decode.LazyBGR`: only the face's crop is converted).
    landmarks : (5, 2) float
        The face's five points (x, y) in frame pixels (:class:`detector.faces.Face` order:
        eyes, nose tip, mouth corners; ``Regions.landmarks``).
    following : sequence of (H, W, 3) uint8
        The frames right after ``frame``, in order (as ``frame``); the volume is ``frame``
        and all of them (give :data:`detector.features.BLOCK_RUN` - 1).

    Returns
    -------
    dict
        The columns of :data:`LTOP_COLUMNS` (meaning and units: module docstring).  The
        temporal ones are NaN with fewer than :data:`MIN_FRAMES` frames in all; every one
        is NaN for a face under :data:`MIN_EYE_DISTANCE` pixels between the eyes or with a
        region outside the frame.

    Raises
    ------
    ValueError
        For a frame that is not (H, W, 3), a following frame of another shape, or landmarks
        that are not five finite points.
    """
    shape = tuple(frame.shape)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) BGR frame, got shape {shape}")
    lm = _check_landmarks(landmarks)
    frames = [frame, *following]
    for f in frames[1:]:
        if tuple(f.shape) != shape:
            raise ValueError(f"a following frame has shape {tuple(f.shape)}, the sampled one {shape}")
    nan = dict.fromkeys(LTOP_COLUMNS, float("nan"))
    if np.linalg.norm(lm[1] - lm[0]) < MIN_EYE_DISTANCE:
        return nan
    boxes = region_boxes(lm)
    every = np.array([b for bs in boxes.values() for b in bs])
    x0, y0 = every[:, :2].min(axis=0)
    x1, y1 = every[:, 2:].max(axis=0)
    if x0 < 0 or y0 < 0 or x1 > shape[1] or y1 > shape[0]:
        return nan
    greys = [cv2.cvtColor(np.ascontiguousarray(f[y0:y1, x0:x1]), cv2.COLOR_BGR2GRAY) for f in frames]
    h = _region_histograms(greys, (int(x0), int(y0)), boxes)
    cheeks = np.mean(h["cheeks"], axis=0)
    out = {}
    for name, hist in (("mouth", h["mouth"][0]), ("eyes", np.mean(h["eyes"], axis=0))):
        for k, plane in enumerate(PLANES):
            out[f"ltop_{name}_{plane}"] = chi2_distance(hist[k], cheeks[k])
        out[f"ltop_{name}_tent"] = entropy(hist[1:].mean(axis=0)) - entropy(cheeks[1:].mean(axis=0))
    left, right = h["cheeks"]
    out["ltop_cheeks_xy"] = chi2_distance(left[0], right[0])
    out["ltop_cheeks_t"] = chi2_distance(left[1:].mean(axis=0), right[1:].mean(axis=0))
    return {k: out[k] for k in LTOP_COLUMNS}
