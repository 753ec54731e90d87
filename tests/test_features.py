"""Each feature family on inputs where the answer is known."""

import cv2
import numpy as np
import pandas as pd
import pytest

from detector import features as F


def _full_mask(img, reg, name):
    x0, y0, x1, y1 = reg.crop
    m = np.zeros(img.shape[:2], bool)
    m[y0:y1, x0:x1] = getattr(reg, name)
    return m


def _feats(img, reg):
    return F.face_features(img, reg)


def _moved(img, dx=2, dy=1, seed=6):
    """The next frame of a camera pan: the whole picture shifted by (dx, dy) px, with the
    sensor's fresh noise."""
    out = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), img.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    return np.clip(out + np.random.default_rng(seed).normal(0, 3, out.shape), 0, 255).astype(np.uint8)


def test_all_families_present_and_finite(scene):
    img, _, reg = scene
    f = F.face_features(img, reg, next_frame=_moved(img))
    assert {F.family_of(c) for c in f} == set(F.FAMILIES)
    assert all(np.isfinite(v) for v in f.values())


def test_flicker_inside_the_face_is_measured_and_motion_is_not(scene):
    """A pan moves face and surroundings alike (the flow explains it); a face that is
    re-rendered differently in the next frame leaves a residual inside, most at the seam."""
    img, _, reg = scene
    nxt = _moved(img)
    inner = _full_mask(img, reg, "inner")
    flicker = nxt.astype(np.float32)
    rng = np.random.default_rng(5)
    flicker[inner] = flicker[inner] * 1.06 + rng.normal(0, 4, flicker[inner].shape)  # brighter, new detail
    flicker = np.clip(flicker, 0, 255).astype(np.uint8)
    still = F.face_features(img, reg, families=("flick",), next_frame=nxt)
    fake = F.face_features(img, reg, families=("flick",), next_frame=flicker)
    assert abs(still["flick_inner_outer"]) < 0.5
    assert fake["flick_inner_outer"] > still["flick_inner_outer"] + 0.7
    assert fake["flick_profile1"] > still["flick_profile1"] + 0.5


def test_flicker_needs_a_changed_next_frame(scene):
    img, _, reg = scene
    none = F.face_features(img, reg, families=("flick",))
    same = F.face_features(img, reg, families=("flick",), next_frame=img.copy())
    assert set(none) == set(F.FLICK_COLUMNS) and all(np.isnan(v) for v in none.values())
    assert all(np.isnan(v) for v in same.values())
    with pytest.raises(ValueError):
        F.temporal_flicker(img[:50, :50], img[:40, :40], *(np.ones((50, 50), bool),) * 4)


def test_blurred_face_lowers_sharpness_and_spectrum_ratios(scene):
    img, _, reg = scene
    inner = _full_mask(img, reg, "inner")
    blurred = img.copy()
    blurred[inner] = cv2.GaussianBlur(img, (0, 0), 2.0)[inner]
    a, b = _feats(img, reg), _feats(blurred, reg)
    assert b["hf_inner_outer"] < a["hf_inner_outer"] - 0.5
    assert b["spec_high_inner_outer"] < a["spec_high_inner_outer"]
    assert b["noise_inner_outer"] < a["noise_inner_outer"]
    assert b["grad_inner_outer"] < a["grad_inner_outer"]
    assert b["iqm_sharpness"] < a["iqm_sharpness"]


def test_noise_outside_only_lowers_noise_ratio(scene):
    img, _, reg = scene
    outer = _full_mask(img, reg, "outer")
    noisy = img.astype(np.float32)
    noisy[outer] += np.random.default_rng(2).normal(0, 8, noisy[outer].shape)
    noisy = np.clip(noisy, 0, 255).astype(np.uint8)
    assert _feats(noisy, reg)["noise_inner_outer"] < _feats(img, reg)["noise_inner_outer"] - 0.2


def test_pasted_uncompressed_face_loses_the_block_grid(scene):
    img, _, reg = scene
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])
    jpg = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    inner = _full_mask(img, reg, "inner")
    pasted = jpg.copy()
    pasted[inner] = img[inner]
    whole, spliced = _feats(jpg, reg), _feats(pasted, reg)
    assert whole["block_inner"] > 0.2 and whole["block_outer"] > 0.2  # a grid everywhere
    assert abs(whole["block_inner_outer"]) < 0.3
    assert spliced["block_inner_outer"] < -0.3  # the face lost it
    assert spliced["block_4x4_inner"] < whole["block_4x4_inner"] - 0.1  # on H.264's 4x4 grid too


def test_block_grid_follows_the_frame_not_the_crop():
    """Blockiness is measured on the frame's 8x8 grid whatever the crop offset."""
    rng = np.random.default_rng(3)
    img = np.kron(rng.uniform(0, 255, (16, 16)), np.ones((8, 8))).astype(np.float32)
    img += rng.normal(0, 2, img.shape).astype(np.float32)
    m = np.ones(img.shape, bool)
    on_grid = F.blockiness(img[3:, 5:], m[3:, 5:], m[3:, 5:], m[3:, 5:], offset=(3, 5))
    off_grid = F.blockiness(img[3:, 5:], m[3:, 5:], m[3:, 5:], m[3:, 5:], offset=(0, 0))
    assert on_grid["block_inner"] > 1.0 > off_grid["block_inner"]


def test_grid_ratios_of_all_planes_at_once_are_those_of_each_plane_alone():
    """_grid_ratios (every plane's ratios as arrays, integer sums by matrix products) gives
    exactly (==) what _lines_ratio gives plane by plane (NumPy scalars), with empty regions
    (zero counts), float steps, and integer sums past 2**24 (added up as before)."""
    rng = np.random.default_rng(11)
    h, w = 61, 53
    for offset in ((0, 0), (3, 5), (7, 2)):
        masks = F._grid_masks(w - 1, h - 1, offset)
        g8, g4 = [(masks[0][:, j], masks[1][:, j]) for j in (0, 2)]
        none = np.zeros(1)
        for scale, integer in ((1, True), (1, False), (600, True)):
            planes = []
            for m in (rng.random((h, w)) < 0.6, np.zeros((h, w), bool), np.ones((h, w), bool)):
                img = rng.integers(0, 256, (h, w)).astype(np.float32) * scale
                img = img if integer else img + rng.random((h, w)).astype(np.float32)
                planes.append(F._step_sums((np.abs(np.diff(img, axis=1)), np.abs(np.diff(img, axis=0))), m))
            for (sx, cx, sy, cy), got in zip(planes, F._grid_ratios(planes, masks, integer=integer)):
                want = (F._lines_ratio((sx, cx, sy, cy), *g8), F._lines_ratio((sx, cx, sy, cy), *g4),
                        F._lines_ratio((sx, cx, none, none), g4[0], F._grid_lines(1, offset[0], 4)),
                        F._lines_ratio((none, none, sy, cy), F._grid_lines(1, offset[1], 4), g4[1]))
                assert got == want


def test_4x4_grid_along_x_and_y_and_in_chroma_are_measured_apart():
    """features version 6: a 4x4 grid of vertical lines only shows along x, not along y;
    a chroma grid only inside the face shows in the inner chroma 4x4 column, not outside."""
    rng = np.random.default_rng(5)
    cols = np.kron(rng.uniform(0, 255, (1, 32)), np.ones((128, 4))).astype(np.float32)  # steps every 4 columns
    gray = cols + rng.normal(0, 2, cols.shape).astype(np.float32)
    m = np.ones(gray.shape, bool)
    f = F.blockiness(gray, m, m, m)
    assert f["block_4x4x_inner"] > 1.0 > abs(f["block_4x4y_inner"])
    inner = np.zeros(gray.shape, bool)
    inner[:, :64] = True
    flat = rng.normal(128, 2, gray.shape).astype(np.float32)
    chroma = np.stack([np.where(inner, gray, flat), flat], axis=-1)
    f = F.blockiness(flat, inner, inner, ~inner, chroma=chroma)
    assert f["block_cr_4x4_inner"] > 1.0 > abs(f["block_cr_4x4_outer"])
    assert f["block_cr_inner"] > 0.5 and f["block_cr_inner_outer"] > 0.5
    assert abs(f["block_cb_4x4_inner"]) < 0.3 and abs(f["block_cb_inner"]) < 0.3


def test_colour_shift_inside_is_measured(scene):
    img, _, reg = scene
    inner = _full_mask(img, reg, "inner")
    shifted = img.astype(np.int16)
    shifted[inner, 2] += 25  # more red inside the face (BGR)
    shifted = np.clip(shifted, 0, 255).astype(np.uint8)
    assert _feats(shifted, reg)["color_a_inner_outer"] > _feats(img, reg)["color_a_inner_outer"] + 3


def test_lbp_same_texture_everywhere_is_near_zero():
    rng = np.random.default_rng(4)
    g = rng.uniform(0, 255, (200, 200)).astype(np.float32)
    yy, xx = np.mgrid[:200, :200]
    r = np.hypot(yy - 100, xx - 100)
    f = F.lbp_texture(g, r < 40, (r >= 40) & (r < 60), (r >= 70) & (r < 95))
    assert f["lbp_chi2_inner_outer"] < 0.01
    smooth = g.copy()
    smooth[r < 40] = cv2.GaussianBlur(g, (0, 0), 2)[r < 40]
    assert F.lbp_texture(smooth, r < 40, (r >= 40) & (r < 60), (r >= 70) & (r < 95))["lbp_chi2_inner_outer"] > 0.05


def test_validation_at_the_boundary():
    g = np.zeros((20, 20), np.float32)
    with pytest.raises(ValueError):
        F.highfreq_energy(g, np.ones((10, 10), bool), np.ones((20, 20), bool), np.ones((20, 20), bool))
    with pytest.raises(ValueError):
        F.noise_residual(np.zeros((20, 20, 3)), *(np.ones((20, 20), bool),) * 3)


def test_aggregate_stats_and_temporal_change():
    t = pd.DataFrame({"frame": [0, 1, 2], "hf_inner_outer": [1.0, 3.0, 2.0]})
    a = F.aggregate(t)
    assert a["hf_inner_outer__mean"] == pytest.approx(2.0)
    assert a["hf_inner_outer__median"] == pytest.approx(2.0)
    assert a["hf_inner_outer__std"] == pytest.approx(np.std([1, 3, 2]))
    assert a["hf_inner_outer__dmean"] == pytest.approx(1.5)  # |3-1| and |2-3|
    assert F.aggregate(t.iloc[:1])["hf_inner_outer__dmean"] == 0.0


@pytest.mark.parametrize("fams", [("block",), ("hf",), ("grad", "color"), ("lbp", "iqm")])
def test_family_subset_gives_exactly_those_columns(scene, fams):
    img, _, reg = scene
    full = F.face_features(img, reg)
    part = F.face_features(img, reg, families=fams)
    assert {F.family_of(c) for c in part} == set(fams)
    assert part == {c: v for c, v in full.items() if F.family_of(c) in fams}


def test_unknown_family_is_refused(scene):
    img, _, reg = scene
    with pytest.raises(ValueError, match="unknown feature families"):
        F.face_features(img, reg, families=("block", "nope"))


def test_flicker_does_not_depend_on_what_was_measured_before():
    """The same video gives the same flicker values whatever was analysed before it in the
    process (a reused DIS optical-flow object carried state: seen on FF++ clips only)."""
    import pandas as pd

    from conftest import require_shared
    from detector.analysis import analyze

    shared = require_shared()
    m = pd.read_csv(shared / "manifest.csv")
    wide = m[m["width"] == 1280]["path"]
    a_path, b_path = shared / wide.iloc[3], shared / m["path"].iloc[0]

    def flick(p):
        return analyze(p, model=None, n_frames=4, families=("flick",)).table.filter(like="flick_").to_numpy()

    first = flick(a_path)
    flick(b_path)
    assert np.allclose(flick(a_path), first, equal_nan=True, atol=1e-9)


def test_block_grid_is_averaged_over_the_following_frames(scene):
    """features version 5: the grid-strength columns are the mean over the sampled frame and
    up to BLOCK_RUN - 1 following ones (in the sampled frame's regions); the DCT columns and
    the other families stay those of the sampled frame."""
    img, _, reg = scene
    nxt = [_moved(img, dx=k, dy=0, seed=10 + k) for k in range(1, F.BLOCK_RUN + 2)]
    alone = F.face_features(img, reg, families=("block", "hf"))
    run = F.face_features(img, reg, families=("block", "hf"), following=nxt)
    singles = [alone] + [F.face_features(f, reg, families=("block",)) for f in nxt[: F.BLOCK_RUN - 1]]
    grid = [c for c in alone if c.startswith("block_") and not c.startswith("block_dct")]
    assert "block_4x4_inner" in grid and len(grid) >= 8
    for c in grid:
        assert run[c] == pytest.approx(np.mean([s[c] for s in singles]), abs=1e-9), c
    assert any(abs(run[c] - alone[c]) > 1e-4 for c in grid)  # the other frames counted
    assert {c: run[c] for c in run if c not in grid} == {c: alone[c] for c in alone if c not in grid}
    with pytest.raises(ValueError, match="shape"):
        F.face_features(img, reg, families=("block",), following=[img[:-8]])


def test_block_run_integer_sums_equal_blockiness_on_float_planes(scene):
    """The block run's integer step sums (:func:`F._step_sums_u8` with masks made once per run)
    give exactly (==) the values of :func:`F.blockiness` on the float32 planes."""
    img, _, reg = scene
    x0, y0, x1, y1 = reg.crop
    bgr = np.ascontiguousarray(img[y0:y1, x0:x1])
    g8, y8 = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    for offset in ((0, 0), (y0, x0), (3, 5)):
        want = F.blockiness(g8.astype(np.float32), reg.inner, reg.band, reg.outer, offset=offset,
                            chroma=y8.astype(np.float32)[:, :, 1:])
        assert F._block_run(g8, y8, img.shape, reg, offset, ()) == want
    masks = [F._step_masks(m) for m in (reg.inner, reg.outer)]
    steps = (np.abs(np.diff(g8.astype(np.float32), axis=1)), np.abs(np.diff(g8.astype(np.float32), axis=0)))
    for got, m in zip(F._step_sums_u8(g8, masks), (reg.inner, reg.outer)):
        for a, b in zip(got, F._step_sums(steps, m)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
