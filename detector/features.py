"""Artifact features: self-referenced measures of a face against its own surroundings.

One module: every family shares the region masks and helpers; ~760 lines.

Every measure is taken on the original pixels of a crop (never a rotated or rescaled
one: that would destroy the pixel-grid and noise traces) inside three masks from
:func:`detector.faces.face_regions`: ``inner`` (the swapped region), ``band`` (across
its blending boundary) and ``outer`` (the surroundings).  Absolute measures hardly
separate real from fake across videos; the face *relative to its own context* does,
so most columns are log-ratios or differences between regions.

Families (the column prefix before the first ``_``):

=========  ==================================================================
``hf``     high-frequency (Laplacian) energy, log-ratios between regions and a
           radial profile across the face boundary
``spec``   block power spectrum (16x16 px blocks, radial bands as fractions of
           Nyquist: the spectrum is resampled, never the image), log-ratios
``noise``  noise residual (image minus its 3x3 median), robust sigma ratios
``grad``   gradient magnitude; the band against both neighbours (blending edge);
           radial profile
``lbp``    uniform LBP texture histograms, chi-square distances between regions
``block``  compression traces on the frame's own grid: 8x8 / 4x4 / chroma block
           grid strength (averaged over a run of :data:`BLOCK_RUN` consecutive frames
           from the sampled one, with its face regions) and 8x8 DCT coefficient
           statistics, per region
``color``  Lab colour, chroma-vs-luma sharpness and the Y/Cr/Cb step across the
           boundary
``iqm``    classic absolute image-quality measures of the face (the IQM+SVM seed)
``flick``  temporal flicker: between a sampled frame and the next one, the residual
           left after dense optical-flow motion compensation, inside / across /
           outside the face and by elliptic radius (a generated face changes from
           frame to frame in ways its surroundings do not, most at the seam)
``lmk``    opt-in (:data:`OPT_IN_FAMILIES`): dense-landmark geometry and kinematics
           (468-point face mesh): central-face vs whole-face head pose, and the
           central face's motion against the head over the sampled frame and the
           ones right after it (:mod:`detector.kinematics`)
``seam``   opt-in: the blending boundary on the face crop downscaled 2x (above
           the codec's block grid): sharpness, texture, colour steps and edge
           coherence across the face boundary, each against a control contour in
           the surroundings (:mod:`detector.seam`)
``ltop``   opt-in: spatio-temporal texture (LBP on three orthogonal planes) of the
           eyes and the mouth against the cheeks over the block run's frames, on a
           face scaled to a fixed inter-ocular distance (:mod:`detector.texture_top`)
=========  ==================================================================

The default families (:data:`FAMILIES`) are measured whenever no family is named; an
opt-in family only when named (``face_features(..., families=[..., "lmk"])``, ``extract
--families``), so a default extraction's columns stay those of :data:`FEATURES_VERSION`.

Temporal change (mean absolute change between consecutive sampled frames of a track)
and spread are added at aggregation, see :func:`aggregate`.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pandas as pd

from .columns import family_of  # noqa: F401 (part of this module's API)
from .faces import Regions
from .kinematics import landmark_features
from .seam import seam_features
from .texture_top import chi2_distance, entropy, ltop_features

# Changed whenever a feature's values or columns change; a model refuses features of
# another version (what each version changed: docs/experiments.md).
FEATURES_VERSION = "8"
#: The block-grid strength columns (:func:`blockiness`) of a sampled face are the mean over
#: this many consecutive frames: the sampled one and the ones right after it, measured in
#: the sampled frame's face regions (a face moves a pixel or two in that time).  One frame's
#: grid strength depends on its picture type (I / P / B) and quantiser; a run of frames
#: averages over the encoder's frame pattern.  How the length was chosen:
#: docs/experiments.md, "Features version 5".
BLOCK_RUN = 5
EPS = 1e-6
BLOCK = 16  # spectrum block size in pixels
#: The default families: measured when no family is named.
FAMILIES = ("hf", "spec", "noise", "grad", "lbp", "block", "color", "iqm", "flick")
#: Families measured only when named (new, not in the shipped models' features version).
OPT_IN_FAMILIES = ("lmk", "seam", "ltop")
KNOWN_FAMILIES = FAMILIES + OPT_IN_FAMILIES
STATS = ("mean", "median", "std", "dmean")


def _lr(a: float, b: float) -> float:
    """log-ratio with a floor so that empty / flat regions stay finite."""
    return float(np.log((a + EPS) / (b + EPS)))


def _check(gray: np.ndarray, *masks: np.ndarray) -> None:
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {gray.shape}")
    for m in masks:
        if m.shape != gray.shape or m.dtype != bool:
            raise ValueError("masks must be boolean arrays of the image's shape")


def _mmean(x: np.ndarray, m: np.ndarray) -> float:
    return float(x[m].mean()) if m.any() else 0.0


def highfreq_energy(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray) -> dict[str, float]:
    """Laplacian energy log-ratios.

    gray : (h, w) float32 luma in [0, 255]; masks : (h, w) bool.
    A face swapped in from a blurrier generator output has less energy than its
    surroundings: ``hf_inner_outer`` < 0.
    """
    _check(gray, inner, band, outer)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    e = lap * lap
    ei, eb, eo = _mmean(e, inner), _mmean(e, band), _mmean(e, outer)
    return {"hf_inner_outer": _lr(ei, eo), "hf_band_outer": _lr(eb, eo), "hf_inner_band": _lr(ei, eb)}


def _block_cover(mask: np.ndarray, size: int) -> np.ndarray:
    """Share (0-1, float64) of each ``size`` x ``size`` block of ``mask`` (h, w) bool, both
    multiples of ``size``, that lies inside it: pixel counts from the integral image, so
    exactly the mean of each block's booleans."""
    s = cv2.integral(mask.view(np.uint8))
    counts = s[size::size, size::size] - s[:-size:size, size::size] - s[size::size, :-size:size] + s[:-size:size, :-size:size]
    return counts / (size * size)


def _block_spectra(gray: np.ndarray, mask: np.ndarray, offset: tuple[int, int]) -> np.ndarray | None:
    """Mean radial power profile (4 bands of Nyquist) of the 16x16 blocks inside ``mask``."""
    oy, ox = (-offset[0]) % BLOCK, (-offset[1]) % BLOCK  # align blocks to the frame grid
    g = gray[oy:, ox:]
    m = mask[oy:, ox:]
    nby, nbx = g.shape[0] // BLOCK, g.shape[1] // BLOCK
    if nby == 0 or nbx == 0:
        return None
    g = g[: nby * BLOCK, : nbx * BLOCK].reshape(nby, BLOCK, nbx, BLOCK).transpose(0, 2, 1, 3)
    blocks = g[_block_cover(m[: nby * BLOCK, : nbx * BLOCK], BLOCK) > 0.9]
    if len(blocks) == 0:
        return None
    blocks = blocks - blocks.mean(axis=(1, 2), keepdims=True)
    win = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)
    p = np.abs(np.fft.rfft2(blocks * win)) ** 2
    p = p.mean(axis=0)
    fy = np.fft.fftfreq(BLOCK)[:, None]
    fx = np.fft.rfftfreq(BLOCK)[None, :]
    r = np.sqrt(fy**2 + fx**2) / 0.5  # fraction of Nyquist
    bands = [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01)]
    prof = np.array([p[(r > lo) & (r <= hi)].sum() for lo, hi in bands])  # r > 0: DC excluded
    return prof / (prof.sum() + EPS)


def spectrum(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
             offset: tuple[int, int] = (0, 0)) -> dict[str, float]:
    """Spectral shape of the face against its surroundings.

    Power spectra of 16x16 pixel blocks (on the frame's block grid, ``offset`` is the
    crop's (y0, x0) in the frame) are averaged per region and summed in radial bands
    (fractions of Nyquist).  Columns are log-ratios of the share of power in each of
    the three upper bands, inner vs outer and band vs outer.
    """
    _check(gray, inner, band, outer)
    pi, pb, po = (_block_spectra(gray, m, offset) for m in (inner, band, outer))
    out = {}
    for k, name in ((1, "mid"), (2, "high"), (3, "top")):
        out[f"spec_{name}_inner_outer"] = _lr(pi[k], po[k]) if pi is not None and po is not None else 0.0
        out[f"spec_{name}_band_outer"] = _lr(pb[k], po[k]) if pb is not None and po is not None else 0.0
    return out


def _robust_sigma(x: np.ndarray, m: np.ndarray, clip: float = 20.0) -> float:
    """RMS of a residual inside ``m``, ignoring edges (|x| > ``clip`` grey levels).

    (A median-based sigma is 0 on compressed video, where most residuals are exactly 0.)
    """
    if not m.any():
        return 0.0
    v = x[m]
    v = v[np.abs(v) <= clip]
    return float(np.sqrt(np.mean(v * v))) if v.size else 0.0


def _median_residual(gray: np.ndarray) -> np.ndarray:
    """``gray - median3(gray)`` (h, w) float32 of a float32 grey image in [0, 255]."""
    return gray - cv2.medianBlur(np.clip(gray, 0, 255).astype(np.uint8), 3).astype(np.float32)


def noise_residual(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
                   res: np.ndarray | None = None) -> dict[str, float]:
    """Noise level of each region from the residual ``gray - median3(gray)``.

    Sensor noise survives around a swapped face but not inside it (generator output is
    smoother), so ``noise_inner_outer`` drops for fakes.  Also the mean absolute residual.
    res : optionally the residual already made (:func:`_median_residual`).
    """
    _check(gray, inner, band, outer)
    res = _median_residual(gray) if res is None else res
    si, sb, so = (_robust_sigma(res, m) for m in (inner, band, outer))
    ares = np.abs(res)
    ai, ao = _mmean(ares, inner), _mmean(ares, outer)
    return {"noise_inner_outer": _lr(si, so), "noise_band_outer": _lr(sb, so),
            "noise_inner_band": _lr(si, sb), "noise_abs_inner_outer": _lr(ai, ao)}


def _gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """(h, w) float32 magnitude of the 3x3 Sobel gradient of ``gray``."""
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))


def gradients(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
              mag: np.ndarray | None = None) -> dict[str, float]:
    """Gradient magnitude statistics; ``grad_band_vs_sides`` compares the blending band
    with the geometric mean of its two neighbours (a soft seam lowers it).  mag :
    optionally the gradient magnitude already made (:func:`_gradient_magnitude`)."""
    _check(gray, inner, band, outer)
    mag = _gradient_magnitude(gray) if mag is None else mag
    gi, gb, go = _mmean(mag, inner), _mmean(mag, band), _mmean(mag, outer)
    p90 = lambda m: float(np.percentile(mag[m], 90)) if m.any() else 0.0  # noqa: E731
    return {"grad_inner_outer": _lr(gi, go), "grad_band_vs_sides": _lr(gb, np.sqrt(gi * go)),
            "grad_p90_inner_outer": _lr(p90(inner), p90(outer))}


def _bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the box around the True pixels of ``mask`` (h, w), ``margin``
    pixels wider on each side (clipped to the image; all of it when ``mask`` is empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(None), slice(None)
    return (slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
            slice(max(cols[0] - margin, 0), cols[-1] + margin + 1))


def lbp_texture(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray) -> dict[str, float]:
    """Uniform LBP (P=8, R=1) histograms per region; chi-square distances and the
    share of 'flat' codes (a smooth synthetic face has more of them)."""
    _check(gray, inner, band, outer)
    # A code reads the 3x3 neighbourhood of its pixel: codes taken on the crop cut one pixel
    # below and right of the regions are those of the whole crop.  (Not cut above or left:
    # the library's interpolated neighbours round differently at other pixel coordinates.)
    box = _bounding_box(inner | band | outer, margin=1)
    box = (slice(0, box[0].stop), slice(0, box[1].stop))
    # imported here: scikit-image's texture module loads scipy.linalg (~0.1 s of every start-up), and
    # the shipped model reads no LBP column (only `inspect --report`, the dashboard and `extract` do)
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern(np.clip(gray[box], 0, 255).astype(np.uint8), 8, 1, method="uniform")
    hists = []
    for m in (inner[box], band[box], outer[box]):
        h = np.bincount(codes[m].astype(int), minlength=10).astype(float) if m.any() else np.ones(10)
        hists.append(h / h.sum())
    hi, hb, ho = hists
    return {"lbp_chi2_inner_outer": chi2_distance(hi, ho, EPS), "lbp_chi2_inner_band": chi2_distance(hi, hb, EPS),
            "lbp_entropy_inner_outer": entropy(hi, EPS) - entropy(ho, EPS),
            "lbp_flat_inner_outer": _lr(hi[8] + hi[0], ho[8] + ho[0])}


def _step_sums(diffs: tuple[np.ndarray, np.ndarray], mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-column sums of the absolute column steps inside ``mask`` and their counts, and the
    same per row for the row steps: everything :func:`grid_strength` needs, for any period."""
    dx, dy = diffs
    mx, my = mask[:, 1:] & mask[:, :-1], mask[1:, :] & mask[:-1, :]
    # per-column / per-row sums, then split boundary vs inside: no full-size boolean products
    return (dx * mx).sum(axis=0), mx.sum(axis=0), (dy * my).sum(axis=1), my.sum(axis=1)


def _grid_lines(n: int, o: int, period: int) -> np.ndarray:
    """(n,) bool: whether the step between pixel j and j + 1 of a row (or column) of ``n`` + 1
    pixels starting at frame position ``o`` crosses a boundary of the ``period`` grid."""
    return (np.arange(n) + o + 1) % period == 0


def _grid_ratio(sums: tuple[np.ndarray, ...], offset: tuple[int, int], period: int) -> float:
    return _lines_ratio(sums, _grid_lines(sums[0].shape[0], offset[1], period),
                        _grid_lines(sums[2].shape[0], offset[0], period))


def _lines_ratio(sums: tuple[np.ndarray, ...], bx: np.ndarray, by: np.ndarray) -> float:
    """:func:`_grid_ratio` of step sums (:func:`_step_sums`) with the grid's column and row
    boundaries (:func:`_grid_lines`) given."""
    sx, nx, sy, ny = sums
    return _ratio(sx[bx].sum(), sy[by].sum(), nx[bx].sum(), ny[by].sum(),
                  sx[~bx].sum(), sy[~by].sum(), nx[~bx].sum(), ny[~by].sum())


def _ratio(on_x, on_y, n_on_x, n_on_y, off_x, off_y, n_off_x, n_off_y) -> float:
    """Mean step on a grid's lines over the mean step off them, from the step sums and counts
    on and off the lines along x and along y (NumPy scalars: their types decide the arithmetic)."""
    num, nn = on_x + on_y, n_on_x + n_on_y
    den, nd = off_x + off_y, n_off_x + n_off_y
    return float((num / max(nn, 1) + EPS) / (den / max(nd, 1) + EPS))


#: Integers up to this add up exactly in float32, in any order.
_F32_EXACT = 2 ** 24


def _grid_masks(nx: int, ny: int, offset: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(nx, 4) and (ny, 4) bool: whether each column step and each row step of a crop at
    ``offset`` (y0, x0) in the frame crosses the 8x8 grid's lines, does not, crosses the 4x4
    grid's lines, does not (:func:`_grid_lines`)."""
    cols = []
    for n, o in ((nx, offset[1]), (ny, offset[0])):
        g8, g4 = _grid_lines(n, o, 8), _grid_lines(n, o, 4)
        cols.append(np.column_stack([g8, ~g8, g4, ~g4]))
    return cols[0], cols[1]


def _on_off_sums(planes: list[tuple[np.ndarray, ...]], masks: tuple[np.ndarray, np.ndarray],
                 integer: bool) -> tuple[np.ndarray, ...]:
    """The step sums and counts of each plane's :func:`_step_sums` on and off the grid lines
    (:func:`_grid_masks`): (k, 4) sums along x and y, (k, 4) counts along x and y, as the float32
    and int64 NumPy scalars :func:`_lines_ratio` adds up.  ``integer``: the steps are whole
    numbers (uint8 planes); then the sums are matrix products, which give the same float32
    numbers as long as no sum exceeds 2**24 (else they are added up as in :func:`_lines_ratio`)."""
    mx, my = masks
    if integer:
        sx = np.stack([p[0] for p in planes]).astype(np.float64) @ mx
        sy = np.stack([p[2] for p in planes]).astype(np.float64) @ my
        if max(sx.max(initial=0), sy.max(initial=0)) <= _F32_EXACT:
            return (sx.astype(np.float32), sy.astype(np.float32), np.stack([p[1] for p in planes]) @ mx.astype(np.int64),
                    np.stack([p[3] for p in planes]) @ my.astype(np.int64))
    return tuple(np.array([[p[k][m[:, j]].sum() for j in range(4)] for p in planes])
                 for k, m in ((0, mx), (2, my), (1, mx), (3, my)))


def _grid_ratios(planes: list[tuple[np.ndarray, ...]], masks: tuple[np.ndarray, np.ndarray],
                 integer: bool = False) -> list[tuple[float, float, float, float]]:
    """Per plane's step sums (:func:`_step_sums`): its 8x8 grid ratio, its 4x4 grid ratio and the
    4x4 ratio along x alone and along y alone (:func:`_ratio`); ``masks`` and ``integer`` as
    :func:`_on_off_sums`.  The ratios of all planes at once, as arrays: the same arithmetic as
    :func:`_ratio` on their scalars, which still gives a ratio with a zero count (there
    ``max(n, 1)`` divides by a Python int, in float32)."""
    sx, sy, cx, cy = _on_off_sums(planes, masks, integer)
    z = np.zeros(len(planes))  # the sums and counts of an axis left out: what summing no float64 gives
    parts = [(sx[:, j], sy[:, j], cx[:, j], cy[:, j], sx[:, j + 1], sy[:, j + 1], cx[:, j + 1], cy[:, j + 1])
             for j in (0, 2)]
    parts += [(sx[:, 2], z, cx[:, 2], z, sx[:, 3], z, cx[:, 3], z), (z, sy[:, 2], z, cy[:, 2], z, sy[:, 3], z, cy[:, 3])]
    cols = []
    for p in parts:
        num, nn, den, nd = p[0] + p[1], p[2] + p[3], p[4] + p[5], p[6] + p[7]
        r = (num / np.maximum(nn, 1) + EPS) / (den / np.maximum(nd, 1) + EPS)
        for k in np.flatnonzero((nn < 1) | (nd < 1)):
            r[k] = _ratio(*(a[k] for a in p))
        cols.append(r.tolist())
    return list(zip(*cols))


def grid_strength(img: np.ndarray, mask: np.ndarray, offset: tuple[int, int] = (0, 0), period: int = 8,
                  diffs: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Block-grid strength of ``img`` (h, w) inside ``mask``: the mean absolute step across
    block boundaries of the frame's ``period`` x ``period`` grid divided by the mean step
    inside blocks (1 = no grid).  ``offset`` is (y0, x0) of ``img`` in the frame;
    ``diffs`` optionally passes the precomputed absolute column and row steps of ``img``."""
    d = diffs if diffs is not None else (np.abs(np.diff(img, axis=1)), np.abs(np.diff(img, axis=0)))
    return _grid_ratio(_step_sums(d, mask), offset, period)


def blockiness(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
               offset: tuple[int, int] = (0, 0), chroma: np.ndarray | None = None) -> dict[str, float]:
    """Compression block-grid strength per region, on the frame's own grid.

    For each region the 8x8 grid strength of luma (:func:`grid_strength`, log); the
    inner face's 4x4 grid strength (H.264's 4x4 transform; log), also along x and
    along y alone (``block_4x4x_inner``: steps between columns, across the grid's
    vertical lines; ``block_4x4y_inner``: between rows); the inner/outer log-ratios of
    the 8x8 and the 4x4 grid.  When ``chroma`` (h, w, 2: Cr, Cb) is given, per chroma
    plane: the inner face's 8x8 grid strength, its inner/outer log-ratio, and the 4x4
    grid strength inside and outside the face (logs).  A face pasted in from a
    differently compressed source loses the grid the rest of the frame keeps
    (double-compression trace).  ``offset`` is the crop's (y0, x0) in the frame.
    """
    _check(gray, inner, band, outer)
    d = (np.abs(np.diff(gray, axis=1)), np.abs(np.diff(gray, axis=0)))
    luma = tuple(_step_sums(d, m) for m in (inner, band, outer))
    planes = () if chroma is None else (np.ascontiguousarray(chroma[:, :, k]) for k in (0, 1))
    dcs = ((np.abs(np.diff(c, axis=1)), np.abs(np.diff(c, axis=0))) for c in planes)
    return _block_columns(luma, [(_step_sums(dc, inner), _step_sums(dc, outer)) for dc in dcs], offset)


def _block_columns(luma: tuple[tuple[np.ndarray, ...], ...], chroma: list[tuple[tuple[np.ndarray, ...], ...]],
                   offset: tuple[int, int], masks: tuple[np.ndarray, np.ndarray] | None = None,
                   integer: bool = False) -> dict[str, float]:
    """The columns of :func:`blockiness` from the step sums (:func:`_step_sums`) of luma in the
    inner, band and outer regions and of each chroma plane (Cr, Cb; none: no chroma columns)
    in the inner and outer regions; ``masks`` (:func:`_grid_masks`, made here when None) and
    ``integer`` as :func:`_on_off_sums`."""
    if masks is None:
        masks = _grid_masks(luma[0][0].shape[0], luma[0][2].shape[0], offset)
    ratios = _grid_ratios([*luma, *(s for pair in chroma for s in pair)], masks, integer)
    (i8, i4, i4x, i4y), (b8, *_), (o8, o4, *_) = ratios[:3]
    out = {"block_inner": float(np.log(i8)), "block_band": float(np.log(b8)), "block_outer": float(np.log(o8))}
    out["block_inner_outer"] = _lr(i8, o8)
    out["block_band_outer"] = _lr(b8, o8)
    out["block_4x4_inner"] = float(np.log(i4))
    out["block_4x4_inner_outer"] = _lr(i4, o4)
    out["block_4x4x_inner"] = float(np.log(i4x))
    out["block_4x4y_inner"] = float(np.log(i4y))
    for k, name in enumerate(("cr", "cb")[:len(chroma)]):
        (c8, c4, *_), (co8, co4, *_) = ratios[3 + 2 * k: 5 + 2 * k]
        out[f"block_{name}_inner"] = float(np.log(c8))
        out[f"block_{name}_inner_outer"] = _lr(c8, co8)
        out[f"block_{name}_4x4_inner"] = float(np.log(c4))
        out[f"block_{name}_4x4_outer"] = float(np.log(co4))
    return out


def _grid_blocks(gray: np.ndarray, mask: np.ndarray, offset: tuple[int, int], size: int = 8,
                 cover: float = 0.95) -> np.ndarray:
    """The (n, size, size) blocks of the frame's grid lying (``cover`` share) inside ``mask``."""
    oy, ox = (-offset[0]) % size, (-offset[1]) % size
    g, m = gray[oy:, ox:], mask[oy:, ox:]
    ny, nx = g.shape[0] // size, g.shape[1] // size
    if ny == 0 or nx == 0:
        return np.zeros((0, size, size), np.float32)
    g = g[: ny * size, : nx * size].reshape(ny, size, nx, size).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(g[_block_cover(m[: ny * size, : nx * size], size) > cover], dtype=np.float32)


_ZIGZAG_HIGH = (np.add.outer(np.arange(8), np.arange(8)) >= 7).reshape(-1)[1:]


def _dct_stats(blocks: np.ndarray) -> tuple[float, float, float] | None:
    if len(blocks) == 0:
        return None
    # cv2.dct per block: a matrix-product DCT is faster but rounds differently near the
    # |c| < 1 cut, which would change the shipped model's inputs.
    d = np.empty_like(blocks)
    for b, out in zip(blocks, d):
        cv2.dct(b, out)
    d = d.reshape(len(blocks), -1)[:, 1:]  # AC coefficients
    hi = d[:, _ZIGZAG_HIGH]
    lo = d[:, ~_ZIGZAG_HIGH]
    return float((np.abs(d) < 1.0).mean()), float((hi**2).mean() / ((lo**2).mean() + EPS)), float(np.abs(hi).mean())


def dct_statistics(gray: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
                   offset: tuple[int, int] = (0, 0)) -> dict[str, float]:
    """8x8 DCT coefficient statistics of the frame-grid blocks inside each region.

    Share of AC coefficients that quantised to ~0 (|c| < 1), high-to-low AC energy
    ratio and mean |high AC|, as inner/outer log-ratios (and the zero share per region):
    a face that went through other quantisation than its surroundings differs here.
    """
    _check(gray, inner, band, outer)
    si, sb, so = (_dct_stats(_grid_blocks(gray, m, offset)) for m in (inner, band, outer))
    if si is None or so is None:
        return {k: 0.0 for k in ("block_dctzero_inner_outer", "block_dcthigh_inner_outer", "block_dcthighabs_inner_outer",
                                 "block_dctzero_inner", "block_dctzero_outer", "block_dctzero_band_outer")}
    return {"block_dctzero_inner_outer": _lr(si[0], so[0]), "block_dcthigh_inner_outer": _lr(si[1], so[1]),
            "block_dcthighabs_inner_outer": _lr(si[2], so[2]), "block_dctzero_inner": si[0],
            "block_dctzero_outer": so[0], "block_dctzero_band_outer": _lr(sb[0], so[0]) if sb else 0.0}


#: Elliptic-radius bins of the radial profiles (1.0 = the fitted face boundary).
PROFILE_EDGES = (0.0, 0.4, 0.7, 0.9, 1.0, 1.1, 1.3)


def _rings(radius: np.ndarray) -> list[np.ndarray]:
    """The (h, w) bool masks of the bins of :data:`PROFILE_EDGES` of the elliptic ``radius``."""
    return [(radius >= lo) & (radius < hi) for lo, hi in zip(PROFILE_EDGES[:-1], PROFILE_EDGES[1:])]


def radial_profiles(gray: np.ndarray, radius: np.ndarray, outer: np.ndarray, lap: np.ndarray | None = None,
                    mag: np.ndarray | None = None, rings: list[np.ndarray] | None = None) -> dict[str, float]:
    """Laplacian energy and gradient magnitude by elliptic radius, as log-ratios to the
    outer ring: where along the face-to-surroundings axis sharpness changes (a blended
    face is soft inside and at its seam).  radius : (h, w) normalised elliptic radius.
    Optionally already made: lap, the 1-pixel-aperture Laplacian of ``gray``; mag,
    :func:`_gradient_magnitude`; rings, :func:`_rings` of ``radius``."""
    _check(gray, outer)
    lap = (cv2.Laplacian(gray, cv2.CV_32F) if lap is None else lap) ** 2
    mag = _gradient_magnitude(gray) if mag is None else mag
    ref_l, ref_g = _mmean(lap, outer), _mmean(mag, outer)
    out = {}
    for k, m in enumerate(_rings(radius) if rings is None else rings):
        out[f"hf_profile{k}"] = _lr(_mmean(lap, m), ref_l)
        out[f"grad_profile{k}"] = _lr(_mmean(mag, m), ref_g)
    return out


def boundary_colour_step(ycc: np.ndarray, radius: np.ndarray) -> dict[str, float]:
    """Mean Y, Cr, Cb just inside (radius 0.75-0.95) minus just outside (1.05-1.25)
    the face boundary, in grey levels: a colour-corrected pasted face leaves a step."""
    mi, mo = (radius >= 0.75) & (radius < 0.95), (radius >= 1.05) & (radius < 1.25)
    return {f"color_step_{name}": _mmean(ycc[:, :, c], mi) - _mmean(ycc[:, :, c], mo)
            for c, name in ((0, "y"), (1, "cr"), (2, "cb"))}


def colour(bgr: np.ndarray, inner: np.ndarray, band: np.ndarray, outer: np.ndarray,
           ycc: np.ndarray | None = None) -> dict[str, float]:
    """Colour mismatch across the boundary and chroma-vs-luma sharpness.

    bgr : (h, w, 3) uint8; ycc : optionally ``bgr`` already converted to float32 YCrCb
    (saves a conversion).  Lab a*/b* mean differences between the inner ring next
    to the boundary and the band outside it; L contrast ratio; and the Laplacian
    energy of chroma relative to luma inside vs outside (a blended face is re-rendered
    in full colour, not in the source's subsampled chroma).
    """
    if bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError("expected a (h, w, 3) BGR image")
    _check(bgr[:, :, 0], inner, band, outer)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab).astype(np.float32)
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32) if ycc is None else ycc
    out = {}
    for c, name in ((1, "a"), (2, "b")):
        mean_inner = _mmean(lab[:, :, c], inner)
        out[f"color_{name}_inner_outer"] = mean_inner - _mmean(lab[:, :, c], outer)
        out[f"color_{name}_inner_band"] = mean_inner - _mmean(lab[:, :, c], band)
    L = lab[:, :, 0]
    sd = lambda m: float(L[m].std()) if m.any() else 0.0  # noqa: E731
    out["color_lstd_inner_outer"] = _lr(sd(inner), sd(outer))
    energy = [cv2.Laplacian(ycc[:, :, k], cv2.CV_32F) ** 2 for k in range(3)]
    ratio = lambda m: _lr(_mmean(energy[1], m) + _mmean(energy[2], m), _mmean(energy[0], m))  # noqa: E731
    out["color_chroma_luma_inner_outer"] = ratio(inner) - ratio(outer)
    return out


def quality(bgr: np.ndarray, inner: np.ndarray, gray: np.ndarray | None = None, lap: np.ndarray | None = None,
            res: np.ndarray | None = None) -> dict[str, float]:
    """Classic absolute image-quality measures of the face (Galbally-style IQM): kept to
    show their value next to the self-referenced families.  bgr : (h, w, 3) uint8; gray :
    optionally ``bgr`` already converted to float32 grey (saves a conversion), and lap, its
    1-pixel-aperture Laplacian, and res, :func:`_median_residual`."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) if gray is None else gray
    if not inner.any():
        return {k: 0.0 for k in ("iqm_sharpness", "iqm_noise", "iqm_luma", "iqm_contrast",
                                 "iqm_colorfulness", "iqm_blur_mse")}
    lap = cv2.Laplacian(gray, cv2.CV_32F) if lap is None else lap
    res = _median_residual(gray) if res is None else res
    blur = cv2.GaussianBlur(gray, (0, 0), 1.0)
    b, g, r = (bgr[:, :, k].astype(np.float32)[inner] for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return {
        "iqm_sharpness": float(np.log(lap[inner].var() + 1)),
        "iqm_noise": float(np.log(_robust_sigma(res, inner) + EPS)),
        "iqm_luma": float(gray[inner].mean() / 255),
        "iqm_contrast": float(gray[inner].std() / 255),
        "iqm_colorfulness": float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())) / 255,
        "iqm_blur_mse": float(np.log(((gray - blur)[inner] ** 2).mean() + EPS)),
    }


def _flow(g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
    """Dense optical flow (h, w, 2) from uint8 grey ``g0`` to ``g1``: OpenCV's DIS flow,
    preset FAST (~12 ms for a 500 x 500 crop; aligns a real face better than Farneback
    at 7x its cost).  A new DIS object per call: a reused one carries state from earlier
    calls, so the same pair gave other values depending on what was analysed before."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(g0, g1, None)


FLICK_COLUMNS = (("flick_inner_outer", "flick_band_outer", "flick_inner_band")
                 + tuple(f"flick_profile{k}" for k in range(len(PROFILE_EDGES) - 1))
                 + ("flick_chroma_inner_outer", "flick_chroma_band_outer"))


def temporal_flicker(bgr: np.ndarray, bgr_next: np.ndarray | None, inner: np.ndarray, band: np.ndarray,
                     outer: np.ndarray, radius: np.ndarray, ycc: np.ndarray | None = None,
                     rings: list[np.ndarray] | None = None) -> dict[str, float]:
    """Motion-compensated temporal residual of the face against its surroundings.

    bgr, bgr_next : (h, w, 3) uint8 crops of two consecutive frames at the same place;
    masks : (h, w) bool; radius : (h, w) normalised elliptic radius; ycc : optionally
    ``bgr`` already converted to float32 YCrCb (saves a conversion); rings : optionally
    :func:`_rings` of ``radius``.  Dense optical flow
    (:func:`_flow`, on the original pixels) warps the next crop onto this one; what
    motion does not explain is left in the residual |warped - this| (grey levels).  Columns: log-ratios of its mean inside / across the boundary /
    outside, its radial profile against the outer ring (``flick_profile0..5``, the bins
    of :data:`PROFILE_EDGES`) and the same for the chroma (Cr + Cb) residual.  A face
    generated frame by frame flickers more than its surroundings, most near the seam
    (``flick_profile2``, radius 0.7-0.9, and ``flick_band_outer`` are > 0 for fakes).
    All NaN when there is no next frame or it repeats this one (no change at all).
    """
    nan = dict.fromkeys(FLICK_COLUMNS, float("nan"))
    if bgr_next is None:
        return nan
    if bgr.shape != bgr_next.shape or bgr.ndim != 3:
        raise ValueError(f"expected two (h, w, 3) crops of one shape, got {bgr.shape} and {bgr_next.shape}")
    g0 = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    g1 = cv2.cvtColor(bgr_next, cv2.COLOR_BGR2GRAY)
    _check(g0, inner, band, outer)
    if cv2.absdiff(g0, g1).mean() < 0.05:  # a repeated frame: nothing to measure
        return nan
    h, w = g0.shape
    flow = _flow(g0, g1)
    mx = flow[..., 0] + np.arange(w, dtype=np.float32)  # the pixel grid moved by the flow
    my = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    y0 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32) if ycc is None else ycc
    y1 = cv2.remap(cv2.cvtColor(bgr_next, cv2.COLOR_BGR2YCrCb).astype(np.float32), mx, my, cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REFLECT)
    res = cv2.absdiff(y1, y0)
    d, dc = res[..., 0], res[..., 1] + res[..., 2]
    di, db, do = _mmean(d, inner), _mmean(d, band), _mmean(d, outer)
    out = {"flick_inner_outer": _lr(di, do), "flick_band_outer": _lr(db, do), "flick_inner_band": _lr(di, db)}
    for k, m in enumerate(_rings(radius) if rings is None else rings):
        out[f"flick_profile{k}"] = _lr(_mmean(d, m), do)
    out["flick_chroma_inner_outer"] = _lr(_mmean(dc, inner), _mmean(dc, outer))
    out["flick_chroma_band_outer"] = _lr(_mmean(dc, band), _mmean(dc, outer))
    return out


def _step_masks(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """The pixel pairs of the column steps and of the row steps inside ``mask`` (h, w) bool,
    as uint8 0 / 255 masks (h, w - 1) and (h - 1, w), and their per-column / per-row counts:
    the part of :func:`_step_sums` that depends on the mask alone."""
    mx, my = mask[:, 1:] & mask[:, :-1], mask[1:, :] & mask[:-1, :]
    return mx.view(np.uint8) * np.uint8(255), mx.sum(axis=0), my.view(np.uint8) * np.uint8(255), my.sum(axis=1)


def _step_sums_u8(plane: np.ndarray, step_masks: list[tuple[np.ndarray, ...]]) -> list[tuple[np.ndarray, ...]]:
    """:func:`_step_sums` of the uint8 image ``plane`` (h, w) for each region's
    :func:`_step_masks`, in integer arithmetic.

    The float path sums integer steps (0-255) in float32, which is exact below 2**24
    (crops under 65 000 pixels high and wide): these integer sums, as float32, are the
    same numbers, bit for bit, at a fraction of the memory traffic."""
    dx = cv2.absdiff(plane[:, 1:], plane[:, :-1])
    dy = cv2.absdiff(plane[1:, :], plane[:-1, :])
    out = []
    for mx, nx, my, ny in step_masks:
        sx = cv2.reduce(cv2.bitwise_and(dx, mx), 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
        sy = cv2.reduce(cv2.bitwise_and(dy, my), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
        out.append((sx.reshape(-1).astype(np.float32), nx, sy.reshape(-1).astype(np.float32), ny))
    return out


def _block_run(gray8: np.ndarray, ycc8: np.ndarray, shape: tuple[int, ...], regions: Regions,
               grid: tuple[int, int], following) -> dict[str, float]:
    """Block-grid strength (:func:`blockiness`, with chroma) of the sampled face crop averaged
    with the same crop of the first :data:`BLOCK_RUN` - 1 ``following`` frames (each of
    ``shape``).  gray8, ycc8 : the sampled crop as uint8 grey (h, w) and YCrCb (h, w, 3).
    The regions' step masks are made once for the run; the same values as :func:`blockiness`
    on the float32 planes."""
    x0, y0, x1, y1 = regions.crop
    _check(gray8, regions.inner, regions.band, regions.outer)
    luma_masks = [_step_masks(m) for m in (regions.inner, regions.band, regions.outer)]
    chroma_masks = [luma_masks[0], luma_masks[2]]  # inner, outer

    masks = _grid_masks(x1 - x0 - 1, y1 - y0 - 1, grid)

    def one(g8: np.ndarray, y8: np.ndarray) -> dict[str, float]:
        chroma = [tuple(_step_sums_u8(cv2.extractChannel(y8, k), chroma_masks)) for k in (1, 2)]
        return _block_columns(tuple(_step_sums_u8(g8, luma_masks)), chroma, grid, masks, integer=True)

    runs = [one(gray8, ycc8)]
    for other in list(following)[: BLOCK_RUN - 1]:
        if other.shape != shape:
            raise ValueError(f"a following frame has shape {other.shape}, the sampled one {shape}")
        crop = np.ascontiguousarray(other[y0:y1, x0:x1])
        runs.append(one(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.cvtColor(crop, cv2.COLOR_BGR2YCrCb)))
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def _shared_images(gray: np.ndarray, radius: np.ndarray, fams: set[str]) -> dict[str, object]:
    """What several of the families ``fams`` read, made once (None where none of them
    does): ``lap``, the 1-pixel-aperture Laplacian of ``gray`` (radial profiles, ``iqm``);
    ``mag``, :func:`_gradient_magnitude` (``grad``, radial profiles); ``res``,
    :func:`_median_residual` (``noise``, ``iqm``); ``rings``, :func:`_rings` of ``radius``
    (radial profiles, ``flick``)."""
    profiles = bool(fams & {"hf", "grad"})
    return {"lap": cv2.Laplacian(gray, cv2.CV_32F) if profiles or "iqm" in fams else None,
            "mag": _gradient_magnitude(gray) if profiles else None,
            "res": _median_residual(gray) if fams & {"noise", "iqm"} else None,
            "rings": _rings(radius) if profiles or "flick" in fams else None}


def face_features(frame: np.ndarray, regions: Regions, origin: tuple[int, int] = (0, 0),
                  families=None, next_frame: np.ndarray | None = None,
                  following: tuple[np.ndarray, ...] | list[np.ndarray] = ()) -> dict[str, float]:
    """The feature families for one face (the default :data:`FAMILIES` by default).

    frame : (H, W, 3) uint8 BGR frame on its original grid (or a crop of it whose
    top-left pixel is at ``origin`` = (y, x) of the original frame, so block grids
    stay aligned); regions : from :func:`detector.faces.face_regions` on ``frame``;
    families : iterable of names from :data:`KNOWN_FAMILIES` to compute, or None for the
    default :data:`FAMILIES` (a model that reads a few families needs a fraction of the
    time; the :data:`OPT_IN_FAMILIES` only when named); next_frame : the
    frame right after ``frame`` (same shape), for the ``flick`` family (NaN without it);
    following : the frames right after ``frame`` (same shape, in order; arrays, or
    :class:`detector.decode.LazyBGR` frames, of which only the face crop is converted): the
    ``block`` grid-strength columns are the mean over ``frame`` and the first
    :data:`BLOCK_RUN` - 1 of them (over ``frame`` alone without them); the ``lmk``
    kinematics read the first :data:`detector.kinematics.LMK_RUN` - 1 (NaN without them), the
    ``ltop`` volumes the first :data:`BLOCK_RUN` - 1 (temporal columns NaN without them).
    Returns {column: value}, only the columns of the requested families.
    """
    fams = set(FAMILIES if families is None else families)
    unknown = fams - set(KNOWN_FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; known: {KNOWN_FAMILIES}")
    x0, y0, x1, y1 = regions.crop
    bgr = np.ascontiguousarray(frame[y0:y1, x0:x1])
    gray8 = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    gray = gray8.astype(np.float32)
    i, b, o = regions.inner, regions.band, regions.outer
    grid = (origin[0] + y0, origin[1] + x0)
    ycc8 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb) if fams & {"block", "color", "flick"} else None
    ycc = ycc8.astype(np.float32) if fams & {"color", "flick"} else None  # the block run reads ycc8 alone
    sh = _shared_images(gray, regions.radius, fams)
    feats: dict[str, float] = {}
    if "hf" in fams:
        feats.update(highfreq_energy(gray, i, b, o))
    if "spec" in fams:
        feats.update(spectrum(gray, i, b, o, offset=grid))
    if "noise" in fams:
        feats.update(noise_residual(gray, i, b, o, res=sh["res"]))
    if "grad" in fams:
        feats.update(gradients(gray, i, b, o, mag=sh["mag"]))
    if "lbp" in fams:
        feats.update(lbp_texture(gray, i, b, o))
    if "block" in fams:
        feats.update(_block_run(gray8, ycc8, frame.shape, regions, grid, following))
        feats.update(dct_statistics(gray, i, b, o, offset=grid))
    if fams & {"hf", "grad"}:
        prof = radial_profiles(gray, regions.radius, o, lap=sh["lap"], mag=sh["mag"], rings=sh["rings"])
        feats.update({k: v for k, v in prof.items() if family_of(k) in fams})
    if "color" in fams:
        feats.update(colour(bgr, i, b, o, ycc=ycc))
        feats.update(boundary_colour_step(ycc, regions.radius))
    if "iqm" in fams:
        feats.update(quality(bgr, i, gray=gray, lap=sh["lap"], res=sh["res"]))
    if "seam" in fams:
        feats.update(seam_features(bgr, regions.radius))
    if "flick" in fams:
        nxt = None if next_frame is None else np.ascontiguousarray(next_frame[y0:y1, x0:x1])
        feats.update(temporal_flicker(bgr, nxt, i, b, o, regions.radius, ycc=ycc, rings=sh["rings"]))
    if "lmk" in fams:
        feats.update(landmark_features(frame, regions.ellipse, following))
    if "ltop" in fams:
        feats.update(ltop_features(frame, regions.landmarks, list(following)[: BLOCK_RUN - 1]))
    return feats


def feature_columns(df: pd.DataFrame) -> list[str]:
    """Per-frame feature columns of a table (those whose prefix is a known family)."""
    return [c for c in df.columns if family_of(c) in KNOWN_FAMILIES]


def aggregate(frame_table: pd.DataFrame, columns: list[str] | None = None) -> dict[str, float]:
    """Aggregate the per-frame rows of one track into one row.

    For each feature column: ``__mean``, ``__median``, ``__std`` over frames and
    ``__dmean``, the mean absolute change between consecutive sampled frames
    (temporal flicker; 0 with a single frame).  Rows must be sorted by frame.
    """
    cols = columns or feature_columns(frame_table)
    x = frame_table[cols].to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    out: dict[str, float] = {}
    if len(x) == 0:
        return {f"{c}__{s}": np.nan for c in cols for s in STATS}
    with warnings.catch_warnings():  # an all-NaN column (no flicker on a still image) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=0)
        med = np.nanmedian(x, axis=0)
        std = np.nanstd(x, axis=0)
        d = np.nanmean(np.abs(np.diff(x, axis=0)), axis=0) if len(x) > 1 else np.zeros(len(cols))
    for k, c in enumerate(cols):
        out[f"{c}__mean"], out[f"{c}__median"] = float(mean[k]), float(med[k])
        out[f"{c}__std"], out[f"{c}__dmean"] = float(std[k]), float(d[k])
    return out
