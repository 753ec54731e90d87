"""The ``seam`` family: finite on real input, larger for a blended face, stable under
global blur and re-encoding, opt-in (the default columns do not change)."""

import cv2
import numpy as np
import pytest

from detector import features as F
from detector.analysis import analyze
from detector.decode import iter_frames
from detector.encode import write_video
from detector.seam import SEAM_COLUMNS, seam_features
from detector.synthesis import BlendParams, self_blend

COLS = list(SEAM_COLUMNS)


def _seam(img, reg) -> dict[str, float]:
    x0, y0, x1, y1 = reg.crop
    return seam_features(np.ascontiguousarray(img[y0:y1, x0:x1]), reg.radius)


def _blend(img, face, down=0.5, shift=(10.0, -4.0, -10.0)):
    """A self-blend with fixed parameters: the face resampled at ``down`` of its size and
    colour-shifted by ``shift`` (BGR grey levels), pasted through a feathered ellipse."""
    p = BlendParams(down=down, blur=0.0, sharpen=0.0, shift=shift, warp=1.0, dx=0.0, mask_scale=0.95,
                    feather=0.05, alpha=1.0)
    return self_blend(img, face, p, np.random.default_rng(0))


def _reencoded(img, crf, tmp_path):
    path = write_video([img] * 3, tmp_path / f"crf{crf}.mp4", crf=crf)
    return next(iter(iter_frames(path, 1))).image


@pytest.fixture(scope="module")
def demo_tables(demo_pair):
    """Per-face seam columns of the demo pair at the same 8 sampled frames."""
    return [analyze(p, model=None, n_frames=8, families=("seam",)).table.set_index("frame")[COLS]
            for p in demo_pair]


def test_finite_on_the_demo_pair(demo_tables):
    for t in demo_tables:
        assert len(t) == 8
        assert np.isfinite(t.to_numpy()).all()


def test_the_blended_face_has_the_larger_sharpness_drop_on_the_demo_pair(demo_tables):
    """The demo fake pastes a resampled (softer) copy of the face: at every sampled frame
    its face is softer than its surroundings by more than the genuine clip's, beyond what
    the control contour shows, and its seam band is more coherent (one orientation)."""
    real, fake = demo_tables
    assert (fake["seam_sharp"] < real["seam_sharp"]).all()
    assert fake["seam_sharp"].mean() < real["seam_sharp"].mean() - 0.3
    assert fake["seam_coherence"].mean() > real["seam_coherence"].mean()


def test_a_colour_shifted_paste_leaves_a_colour_step(scene):
    img, face, reg = scene
    base = _seam(img, reg)
    shifted = _seam(_blend(img, face, down=1.0), reg)  # colour only, no resampling
    soft = _seam(_blend(img, face, shift=(0.0, 0.0, 0.0)), reg)  # resampling only
    assert shifted["seam_chroma_step"] > base["seam_chroma_step"] + 0.3
    assert abs(shifted["seam_sharp"] - base["seam_sharp"]) < 0.1
    assert soft["seam_sharp"] < base["seam_sharp"] - 0.4
    assert abs(soft["seam_chroma_step"] - base["seam_chroma_step"]) < 0.1


def test_global_blur_and_reencoding_change_the_seam_little_next_to_a_blend(scene, tmp_path):
    img, face, reg = scene
    base = _seam(img, reg)
    delta = lambda other: np.array([other[c] - base[c] for c in COLS])  # noqa: E731
    blend = delta(_seam(_blend(img, face), reg))
    for name, other in {"blur": cv2.GaussianBlur(img, (0, 0), 1.0),
                        "crf23": _reencoded(img, 23, tmp_path), "crf28": _reencoded(img, 28, tmp_path)}.items():
        d = delta(_seam(other, reg))
        assert np.linalg.norm(d) < 0.3 * np.linalg.norm(blend), name
        for c in ("seam_sharp", "seam_chroma_step"):  # the two discontinuities a blend moves most
            k = COLS.index(c)
            assert abs(d[k]) < 0.3 * abs(blend[k]), (name, c)


def test_opt_in_the_default_columns_do_not_change(scene):
    img, _, reg = scene
    default = F.face_features(img, reg)
    assert not any(F.family_of(c) == "seam" for c in default)
    assert {F.family_of(c) for c in default} == set(F.FAMILIES)
    both = F.face_features(img, reg, families=("seam", "hf"))
    assert [c for c in both if c.startswith("seam_")] == COLS
    assert {c: v for c, v in both.items() if c.startswith("hf_")} == \
        {c: v for c, v in default.items() if c.startswith("hf_")}
    assert "seam" in F.KNOWN_FAMILIES and "seam" not in F.FAMILIES


def test_seam_columns_are_aggregated_like_the_others(demo_pair):
    a = analyze(demo_pair[1], model=None, n_frames=4, families=("seam",))
    assert F.feature_columns(a.table) == COLS
    assert {f"{c}__mean" for c in COLS} <= set(a.tracks[0].features)


def test_validation_and_small_crops():
    rad = np.hypot(*np.mgrid[-50:50, -50:50]) / 30.0
    img = np.full((100, 100, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        seam_features(img.astype(np.float32), rad)
    with pytest.raises(ValueError, match="radius map"):
        seam_features(img, rad[:-1])
    with pytest.raises(ValueError, match="scale"):
        seam_features(img, rad, scale=0)
    tiny = seam_features(img[:5, :5], rad[:5, :5])
    assert list(tiny) == COLS and all(np.isnan(v) for v in tiny.values())
    # a face ellipse larger than the crop: the control rings are empty
    assert all(np.isnan(v) for v in seam_features(img, rad / 4).values())
    flat = seam_features(img, rad)
    assert all(np.isfinite(v) for v in flat.values())
    assert abs(flat["seam_luma_step"]) < 1e-6 and abs(flat["seam_sharp"]) < 1e-6
