"""Explanations on the face: where the cues the model read sit, as a heat map over a face crop.

Every feature column measures one part of the face mask of :func:`detector.faces.face_regions`
(or of the landmarks); :func:`region_of` says which, from the column's name:

===========  ====================================================================================
region       columns
===========  ====================================================================================
``inner``    the face inside the blending boundary (elliptic radius < 0.85): every column whose
             first region word is ``inner`` (``hf_inner_outer``, ``block_cr_inner``,
             ``color_a_inner_band``...: the first region named is the one measured, a second one
             is its reference), the ``iqm`` family (measured on the inner mask), the radial
             profile bins that lie mostly inside it (``*_profile0..2``, radius 0-0.9), and the
             ``lmk`` head-pose and central-face motion columns (``lmk_pose_*``, ``lmk_inner_*``)
``band``     the blending boundary (radius 0.85-1.15): columns whose first region word is
             ``band`` (``hf_band_outer``, ``block_band``, ``flick_band_outer``,
             ``grad_band_vs_sides``...), the profile bins that overlap it most
             (``*_profile3..5``, radius 0.9-1.3), the colour step across it (``color_step_*``),
             the ``seam`` family (the boundary contour against a control contour) and
             ``lmk_contour_jitter`` (the face outline's own motion)
``outer``    the surroundings (radius 1.35-1.8): columns whose first region word is ``outer``
             (``block_outer``, ``block_cr_4x4_outer``, ``block_dctzero_outer``...)
``eyes``     ``lmk_eyes_head`` (eyes' and brows' motion against the head's); drawn as discs
             around the two eye landmarks
``mouth``    ``lmk_mouth_head`` (lips' motion against the head's); drawn around the mouth corners
===========  ====================================================================================

``lmk_head_speed`` (the head's and camera's own motion) belongs to no region.  The
aggregate statistics of a column (``__mean``, ``__median``, ``__std``, ``__dmean``) keep its region.

**What the colour means.**  For each column the model reads, the video's value (its scoring
track's aggregate, what the model read) is scaled against the reference of
:mod:`detector.reference`: ``z = (value - median of genuine videos) / their robust spread``.
A region's value is the root mean square of the ``z`` of its columns: about 1 for a region
that looks like those of typical genuine videos, 3 or more for one that genuine training
videos rarely show.  It says *where* the measurements depart from genuine footage, not in
which direction the model took them: the per-region score change
(:func:`region_contributions`) says that.  Columns whose value is missing (NaN: a still
image has no flicker) are left out; a region without any is not coloured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import cv2
import numpy as np

from .analysis import Analysis, TrackResult
from .faces import (BAND_IN, BAND_OUT, INNER, OUTER_IN, OUTER_OUT, Face, elliptic_radius, face_ellipse,
                    quarter_turns, thumbnail_window)
from .features import PROFILE_EDGES, family_of
from .kinematics import KIN_COLUMNS, POSE_COLUMNS
from .reference import Reference

REGIONS = ("inner", "band", "outer", "eyes", "mouth")
REGION_LABELS = {"inner": "inner face", "band": "blending boundary", "outer": "surroundings", "eyes": "eyes",
                 "mouth": "mouth"}
#: Elliptic-radius rings of the mask regions (:func:`detector.faces.face_regions`).
RINGS = {"inner": (0.0, INNER), "band": (BAND_IN, BAND_OUT), "outer": (OUTER_IN, OUTER_OUT)}
_LMK_REGIONS = {**dict.fromkeys(POSE_COLUMNS, "inner"), **dict.fromkeys(KIN_COLUMNS, "inner"),
                "lmk_contour_jitter": "band", "lmk_head_speed": None, "lmk_eyes_head": "eyes",
                "lmk_mouth_head": "mouth"}
#: Radius of the eye discs and half-width of the mouth's outline, in inter-ocular distances.
EYE_RADIUS, MOUTH_RADIUS = 0.28, 0.22
#: Region value at which the colour scale saturates (root mean square z).
HEAT_MAX = 4.0
#: Colour scale from 0 to :data:`HEAT_MAX` (RGB stops, pale yellow to dark red).
HEAT_STOPS = ((255, 255, 204), (254, 178, 76), (240, 59, 32), (128, 0, 38))
#: Opacity of a region's colour at 0 and at :data:`HEAT_MAX`.
ALPHA_RANGE = (0.25, 0.7)
#: Regions painted in this order (later ones cover earlier ones where they overlap).
PAINT_ORDER = ("outer", "band", "inner", "eyes", "mouth")


@dataclass
class RegionValue:
    """One region's heat: ``value`` (root mean square z, NaN when no column measured it),
    how many columns fed it, and the column furthest from the reference with its z."""

    region: str
    value: float
    n_columns: int
    top_column: str | None = None
    top_z: float = float("nan")


@dataclass
class FaceHeatMap:
    """A heat map drawn over one face crop of a track: ``image`` (size, size, 3) RGB uint8,
    the crop's ``frame`` and ``time_s``, the region values, the reference's note and the
    columns read that belong to no region."""

    image: np.ndarray = field(repr=False)
    frame: int
    time_s: float
    regions: dict[str, RegionValue]
    note: str
    unplaced: list[str]


def region_of(column: str) -> str | None:
    """The region of the face a feature column measures (see the module docstring), None
    for a column of no region."""
    base = column.split("__")[0]
    fam = family_of(base)
    if fam == "lmk":
        return _LMK_REGIONS.get(base)
    if fam == "seam" or base.startswith("color_step_"):
        return "band"
    if fam == "iqm":
        return "inner"
    m = re.fullmatch(r"[a-z]+_profile(\d+)", base)
    if m and int(m.group(1)) + 1 < len(PROFILE_EDGES):
        return _ring_of(PROFILE_EDGES[int(m.group(1))], PROFILE_EDGES[int(m.group(1)) + 1])
    return next((t for t in base.split("_")[1:] if t in RINGS), None)


def _ring_of(lo: float, hi: float) -> str | None:
    """The ring of :data:`RINGS` that overlaps the radius interval [lo, hi) most."""
    overlap = {r: min(hi, b) - max(lo, a) for r, (a, b) in RINGS.items()}
    best = max(overlap, key=overlap.get)
    return best if overlap[best] > 0 else None


def column_z(features: Mapping[str, float], columns: Sequence[str],
             reference: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """``(value - centre) / spread`` of each column against ``reference`` ({column:
    (centre, spread)}); NaN where the value is missing or not finite, or the column has no
    reference."""
    out = {}
    for c in columns:
        v = features.get(c)
        v = float("nan") if v is None else float(v)
        centre, spread = reference.get(c, (float("nan"), float("nan")))
        out[c] = (v - centre) / spread if np.isfinite(v) and np.isfinite(centre) and spread > 0 else float("nan")
    return out


def region_values(z: Mapping[str, float]) -> dict[str, RegionValue]:
    """Each region's root mean square of the finite ``z`` of its columns (``column_z``)."""
    out = {}
    for region in REGIONS:
        zs = {c: v for c, v in z.items() if region_of(c) == region and np.isfinite(v)}
        if not zs:
            out[region] = RegionValue(region, float("nan"), 0)
            continue
        top = max(zs, key=lambda c: abs(zs[c]))
        out[region] = RegionValue(region, float(np.sqrt(np.mean(np.square(list(zs.values()))))), len(zs), top,
                                  float(zs[top]))
    return out


def region_contributions(contributions: Mapping[str, float]) -> dict[str, float]:
    """Per-column score changes (:meth:`detector.model.DetectorModel.contributions`) summed
    per region (positive = towards fake); regions no column fed are left out."""
    out: dict[str, float] = {}
    for c, v in contributions.items():
        region = region_of(c)
        if region is not None and np.isfinite(v):
            out[region] = out.get(region, 0.0) + float(v)
    return out


def heat_colours(t: np.ndarray) -> np.ndarray:
    """RGB colours (n, 3) float of the heat scale at ``t`` in [0, 1] (clipped)."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    stops = np.asarray(HEAT_STOPS, dtype=float)
    at = np.linspace(0.0, 1.0, len(stops))
    return np.stack([np.interp(t, at, stops[:, k]) for k in range(3)], axis=-1)


def colour_bar(width: int = 256, height: int = 14) -> np.ndarray:
    """The colour scale, 0 (left) to :data:`HEAT_MAX` (right), as an (height, width, 3) RGB image."""
    row = heat_colours(np.linspace(0.0, 1.0, width)).astype(np.uint8)
    return np.repeat(row[None], height, axis=0)


def region_masks(shape: tuple[int, int], window: tuple[int, int, int, int], face: Face) -> dict[str, np.ndarray]:
    """Boolean (h, w) masks of every region over an image of ``shape`` that shows the frame
    pixels ``window`` (x0, y0, x1, y1) resampled (a face thumbnail, :func:`thumbnail_window`)."""
    h, w = shape
    x0, y0, x1, y1 = window
    xs = x0 + (np.arange(w, dtype=np.float32) + 0.5) * (x1 - x0) / w - 0.5  # pixel centres in frame coordinates
    ys = y0 + (np.arange(h, dtype=np.float32) + 0.5) * (y1 - y0) / h - 0.5
    radius = elliptic_radius(xs, ys, face_ellipse(face))
    masks = {name: (radius >= lo) & (radius < hi) for name, (lo, hi) in RINGS.items()}
    lm = np.asarray(face.landmarks, dtype=float)
    iod = max(float(np.linalg.norm(lm[1] - lm[0])), 1.0)
    px, py = xs[None, :].astype(float), ys[:, None].astype(float)
    masks["eyes"] = np.zeros((h, w), bool)
    for eye in lm[:2]:
        masks["eyes"] |= (px - eye[0]) ** 2 + (py - eye[1]) ** 2 < (EYE_RADIUS * iod) ** 2
    a, b = lm[3], lm[4]
    ab = b - a
    t = np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    masks["mouth"] = (px - a[0] - t * ab[0]) ** 2 + (py - a[1] - t * ab[1]) ** 2 < (MOUTH_RADIUS * iod) ** 2
    return masks


def paint(rgb: np.ndarray, masks: Mapping[str, np.ndarray], values: Mapping[str, float],
          vmax: float = HEAT_MAX) -> np.ndarray:
    """``rgb`` (h, w, 3) uint8 in grey (so the picture's own colours never read as heat) with
    each region of finite value tinted by the heat scale (more opaque as the value grows) and
    outlined; regions without a value stay grey."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) RGB image, got shape {rgb.shape}")
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    base = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    out = base.copy()
    painted = []
    for region in PAINT_ORDER:
        v, m = values.get(region, float("nan")), masks.get(region)
        if m is None or not np.isfinite(v) or not m.any():
            continue
        t = min(max(float(v) / vmax, 0.0), 1.0)
        alpha = ALPHA_RANGE[0] + (ALPHA_RANGE[1] - ALPHA_RANGE[0]) * t
        out[m] = (1 - alpha) * base[m] + alpha * heat_colours(t)
        painted.append(m)
    out = out.astype(np.uint8)
    for m in painted:
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (40, 40, 40), 1)
    return out


def _crop_of(a: Analysis, track: TrackResult, frame: int | None) -> tuple[int, float, np.ndarray] | None:
    """The track's thumbnail of ``frame``, else of its highest per-frame score, else its middle one."""
    thumbs = {index: (index, t, img) for index, t, img in track.thumbnails}
    if not thumbs:
        return None
    if frame not in thumbs and "frame_score" in a.table.columns:
        rows = a.table[(a.table["track_id"] == track.track_id) & a.table["frame"].isin(list(thumbs))]
        rows = rows[rows["frame_score"].notna()]
        frame = int(rows.loc[rows["frame_score"].idxmax(), "frame"]) if len(rows) else None
    if frame not in thumbs:
        frame = sorted(thumbs)[len(thumbs) // 2]
    return thumbs[frame]


def face_heatmap(a: Analysis, track: TrackResult, columns: Sequence[str], reference: Reference,
                 frame: int | None = None, size: int = 256) -> FaceHeatMap | None:
    """The heat map of a track's ``columns`` (the model's) against ``reference``, drawn over
    one of its face crops (``frame``; by default the one with the highest per-frame score),
    enlarged to ``size`` pixels.  None when the track kept no face crops (analysed without
    thumbnails)."""
    crop = _crop_of(a, track, frame)
    if crop is None:
        return None
    index, time_s, thumb = crop
    row = a.table[(a.table["track_id"] == track.track_id) & (a.table["frame"] == index)].iloc[0]
    face = Face(tuple(int(v) for v in row["box"]), np.asarray(row["landmarks"], dtype=float), float(row["confidence"]))
    window = thumbnail_window(face.box, (a.info.height, a.info.width))
    regions = region_values(column_z(track.features, columns, reference.stats))
    image = cv2.resize(thumb, (size, size), interpolation=cv2.INTER_CUBIC)
    masks = region_masks((size, size), window, face)  # on the stored frame's grid; the thumbnail is turned upright
    quarter = quarter_turns(a.info.rotation)
    masks = {r: np.ascontiguousarray(np.rot90(m, quarter)) for r, m in masks.items()} if quarter else masks
    image = paint(image, masks, {r: v.value for r, v in regions.items()})
    return FaceHeatMap(image, index, time_s, regions, reference.note,
                       [c for c in columns if region_of(c) is None])
