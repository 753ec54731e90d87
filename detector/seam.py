"""Seam features: the blending boundary of a pasted face, measured above the codec's quantisation.

A face swap pastes a generated face into the frame through a feathered mask.  Across the
mask's edge the picture changes character: inside it is the generator's face (usually
softer, with its own colour), outside it the camera's pixels, and the feathered edge itself
is a closed contour that runs parallel to the face outline.  This module measures those
changes in classical form (the idea of Face X-ray and of self-blended images), on the face
crop **downscaled 2x** (2x2 area average): that removes most of the 8x8 / 4x4 block structure
a codec lays over the picture, so a platform's re-encode changes these columns little, while
the seam, tens of pixels wide on a face, survives.

Geometry, in the normalised elliptic radius ``r`` of :func:`detector.faces.face_regions`
(1.0 on the ellipse fitted to the face)::

    seam contour     inside ring 0.6-0.8    outside ring 1.0-1.2    band 0.6-0.9
    control contour  inside ring 1.3-1.45   outside ring 1.6-1.8    band 1.3-1.6

The seam rings bracket where a face swap's blending mask falls off: on 30 FaceForensics++
Deepfakes videos against their own originals, the difference is at its full level up to
r ~ 0.6 and at the background's level from r ~ 1.1 (docs/experiments.md, "The seam
family").  The control contour lies in the surroundings (hair, neck, background), where
no swap reaches.  Every column is the seam contour's measure **minus the control
contour's**, so that the scene (a background that is blurred, textured or coloured unlike
the face) and global changes (blur, exposure, compression) cancel as far as they affect
both contours alike; 0 means "the face boundary looks like any other contour of this
picture".

Columns (prefix ``seam_``; L*, a*, b* are CIE Lab of the downscaled crop, L* in 0-100):

==================  ==========================================================================
``sharp``           log Laplacian energy of L* inside / outside the ring pair (< 0: a face
                    softer than its surroundings, beyond what the scene shows)
``grad``            the same with Sobel gradient energy (a lower frequency band)
``spread``          log standard deviation of L* inside / outside (texture contrast)
``luma_step``       |mean L* inside - mean L* outside|, median over 8 sectors of the
                    contour, as log((step + 0.5) / (control step + 0.5))
``chroma_step``     the same with the a*b* distance of the mean colours (colour mismatch)
``coherence``       energy-weighted structure-tensor coherence in the band (1: one
                    orientation, 0: none); a pasted edge is a coherent ridge
``radial``          share of the gradient energy across the contour (along the radius) in
                    the band; a seam adds edge energy parallel to the face outline
==================  ==========================================================================

Faces whose rings fall mostly outside the frame (fewer than :data:`MIN_PIXELS` pixels in a
ring) give NaN columns; the track aggregate ignores them.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (inside ring, outside ring, band) of the seam and of the control contour, as
#: (low, high) elliptic radii; see the module docstring for why these.
SEAM_RINGS = ((0.6, 0.8), (1.0, 1.2), (0.6, 0.9))
CONTROL_RINGS = ((1.3, 1.45), (1.6, 1.8), (1.3, 1.6))
#: Linear downscale factor of the crop before measuring (2x2 area average).
SCALE = 2
#: Angular sectors of the colour steps (by the direction of the contour's normal).
SECTORS = 8
#: Fewest pixels a ring (after downscaling) needs; fewer gives NaN columns.
MIN_PIXELS = 16
#: Structure tensor smoothing (Gaussian sigma, downscaled pixels).
TENSOR_SIGMA = 1.5
#: Added to the colour steps (Lab units) before their log-ratio: steps below it count little.
STEP_FLOOR = 0.5
EPS = 1e-6

SEAM_COLUMNS = tuple(f"seam_{k}" for k in ("sharp", "grad", "spread", "luma_step", "chroma_step", "coherence",
                                           "radial"))


def _downscale(bgr: np.ndarray, radius: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``scale`` x ``scale`` area averages of the crop and of its radius map (the
    last rows / columns that do not fill a block are dropped)."""
    if scale == 1:
        return bgr, radius.astype(np.float32)
    h, w = (bgr.shape[0] // scale) * scale, (bgr.shape[1] // scale) * scale
    size = (w // scale, h // scale)
    return (cv2.resize(bgr[:h, :w], size, interpolation=cv2.INTER_AREA),
            cv2.resize(np.ascontiguousarray(radius[:h, :w], dtype=np.float32), size, interpolation=cv2.INTER_AREA))


def _lab(bgr: np.ndarray) -> np.ndarray:
    """CIE Lab of a uint8 BGR image as float32 (L* in 0-100, a* and b* about -100-100)."""
    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def _laplacian_energy(plane: np.ndarray) -> np.ndarray:
    """Squared 3x3 Laplacian of one image plane (per pixel)."""
    return cv2.Laplacian(np.ascontiguousarray(plane), cv2.CV_32F, ksize=3) ** 2


def _maps(bgr: np.ndarray, radius: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pixel quantities of a (downscaled) crop: Lab planes, Laplacian and gradient
    energies, the gradient energy across the contour, structure-tensor terms, sector."""
    lab = _lab(bgr)
    L = np.ascontiguousarray(lab[:, :, 0])
    gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3)
    ny, nx = np.gradient(radius)  # the contour's normal (radius grows along it)
    norm = np.sqrt(nx * nx + ny * ny) + EPS
    jxx, jyy, jxy = (cv2.GaussianBlur(v, (0, 0), TENSOR_SIGMA) for v in (gx * gx, gy * gy, gx * gy))
    sector = np.floor((np.arctan2(ny, nx) + np.pi) / (2 * np.pi) * SECTORS).astype(np.int64) % SECTORS
    return {"L": L, "a": lab[:, :, 1], "b": lab[:, :, 2], "L2": L * L, "lap": _laplacian_energy(L),
            "grad": gx * gx + gy * gy,
            "grad_r": ((gx * nx + gy * ny) / norm) ** 2,
            "tensor_dev": np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy), "tensor_trace": jxx + jyy,
            "sector": sector}


def _ring_sums(maps: dict[str, np.ndarray], radius: np.ndarray, ring: tuple[float, float]) -> dict[str, np.ndarray]:
    """Per-sector pixel counts and sums of every map inside ``ring`` (low <= r < high)."""
    m = (radius >= ring[0]) & (radius < ring[1])
    sec = maps["sector"][m]
    out = {"n": np.bincount(sec, minlength=SECTORS).astype(np.float64)}
    for k, v in maps.items():
        if k != "sector":
            out[k] = np.bincount(sec, weights=v[m], minlength=SECTORS)
    return out


def _mean(s: dict[str, np.ndarray], key: str) -> float:
    return float(s[key].sum() / max(s["n"].sum(), 1.0))


def _log_ratio(a: float, b: float) -> float:
    return float(np.log((a + EPS) / (b + EPS)))


def _sector_step(si: dict[str, np.ndarray], so: dict[str, np.ndarray], keys: tuple[str, ...]) -> float:
    """Median over sectors (with >= 4 pixels on both sides) of the distance between the
    inside and outside mean of ``keys`` (Lab units); NaN when no sector qualifies."""
    ok = (si["n"] >= 4) & (so["n"] >= 4)
    if not ok.any():
        return float("nan")
    d2 = sum((si[k][ok] / si["n"][ok] - so[k][ok] / so["n"][ok]) ** 2 for k in keys)
    return float(np.median(np.sqrt(d2)))


def _contour(maps: dict[str, np.ndarray], radius: np.ndarray,
             rings: tuple[tuple[float, float], ...]) -> dict[str, float] | None:
    """The measures of one contour (inside ring, outside ring, band); None when a ring
    has fewer than :data:`MIN_PIXELS` pixels."""
    si, so, sb = (_ring_sums(maps, radius, r) for r in rings)
    if min(si["n"].sum(), so["n"].sum(), sb["n"].sum()) < MIN_PIXELS:
        return None
    std = lambda s: np.sqrt(max(_mean(s, "L2") - _mean(s, "L") ** 2, 0.0))  # noqa: E731
    return {
        "sharp": _log_ratio(_mean(si, "lap"), _mean(so, "lap")),
        "grad": _log_ratio(_mean(si, "grad"), _mean(so, "grad")),
        "spread": _log_ratio(std(si), std(so)),
        "luma_step": _sector_step(si, so, ("L",)),
        "chroma_step": _sector_step(si, so, ("a", "b")),
        "coherence": float(sb["tensor_dev"].sum() / (sb["tensor_trace"].sum() + EPS)),
        "radial": float(sb["grad_r"].sum() / (sb["grad"].sum() + EPS)),
    }


def seam_features(bgr: np.ndarray, radius: np.ndarray, scale: int = SCALE) -> dict[str, float]:
    """The ``seam`` family of one face: its blending boundary against a control contour.

    Parameters
    ----------
    bgr : (h, w, 3) uint8
        The face crop (BGR) on the frame's pixel grid, as cut by
        :func:`detector.faces.face_regions` (``Regions.crop``).
    radius : (h, w) float
        Normalised elliptic radius of each crop pixel (``Regions.radius``; 1.0 on the
        fitted face ellipse).
    scale : int
        Linear downscale factor before measuring (default :data:`SCALE`; 1 measures the
        crop as it is).

    Returns
    -------
    dict
        The columns of :data:`SEAM_COLUMNS` (meaning and units: module docstring), each the
        seam contour's value minus the control contour's.  All NaN when the crop is too
        small or the rings leave the frame.

    Raises
    ------
    ValueError
        For a crop that is not (h, w, 3) uint8, a radius map of another shape, or a scale < 1.
    """
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"expected a (h, w, 3) uint8 BGR crop, got {bgr.shape} {bgr.dtype}")
    if radius.shape != bgr.shape[:2]:
        raise ValueError(f"radius map has shape {radius.shape}, the crop {bgr.shape[:2]}")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    nan = dict.fromkeys(SEAM_COLUMNS, float("nan"))
    if min(bgr.shape[:2]) < 4 * scale:
        return nan
    small, rad = _downscale(bgr, radius, int(scale))
    maps = _maps(small, rad)
    face, control = _contour(maps, rad, SEAM_RINGS), _contour(maps, rad, CONTROL_RINGS)
    if face is None or control is None:
        return nan
    out = {}
    for k, v in face.items():
        if k.endswith("_step"):
            out[f"seam_{k}"] = _log_ratio(v + STEP_FLOOR, control[k] + STEP_FLOOR)
        else:
            out[f"seam_{k}"] = v - control[k]
    return out
