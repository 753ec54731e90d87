"""Self-blended training data: one video, a resumable batch, and ``train --self-blended``
end to end, all on synthetic clips made here (no ../shared needed)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from detector.faces import detect_faces, face_ellipse
from detector.encode import write_video
from detector.synthesis import astronaut_bgr, camera_frames, decode_span, self_blended_video


def _clip(path, seed=0, n=30, centre=(0.45, 0.33), flip=False):
    img = astronaut_bgr()
    if flip:
        img = np.ascontiguousarray(img[:, ::-1])
        centre = (1 - centre[0], centre[1])
    return write_video(camera_frames(img, n, size=(320, 240), seed=seed, centre=centre), path, crf=18)


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("sbi") / "real.mp4", n=30)


def test_self_blended_video_changes_the_face_and_keeps_the_background(real_clip, tmp_path):
    dst, ctl = tmp_path / "fake.mp4", tmp_path / "control.mp4"
    rec = self_blended_video(real_clip, dst, max_frames=20, seed=3, crf=20, control_dst=ctl)
    assert rec["n_frames"] == 20 and rec["start"] == 5 and rec["crf"] == 20
    assert rec["frames_with_face"] == 20 and set(rec["params"]) >= {"down", "shift", "alpha"}
    from detector.synthesis import SELF_BLEND_DOWN

    assert SELF_BLEND_DOWN[0] <= rec["params"]["down"] <= SELF_BLEND_DOWN[1]  # a small rendered face
    json.dumps(rec)  # JSON-ready
    import av

    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    # encoded like FF++'s own files: x264's medium preset (its options are in the stream)
    for f in (dst, ctl):
        assert b"subme=7" in f.read_bytes() and b"trellis=1" in f.read_bytes()
    fake = list(decode_span(dst))
    control = list(decode_span(ctl))
    source = list(decode_span(real_clip, 5, 20))
    assert len(fake) == len(control) == 20 and fake[0].shape == source[0].shape
    face_diff, back_diff = [], []
    for k in (0, 10, 19):
        face = detect_faces(source[k])[0]
        cx, cy, a, b, ang = face_ellipse(face)
        yy, xx = np.mgrid[: source[k].shape[0], : source[k].shape[1]]
        r = np.hypot((xx - cx) / a, (yy - cy) / b)
        # the control is the same frames re-encoded at the same CRF: close to the source
        # everywhere (only the re-encoding error, ~3 grey levels on this textured clip)
        assert np.abs(control[k].astype(float) - source[k]).mean() < 5.0
        # fake vs control (same compression history): only the face differs
        d = np.abs(fake[k].astype(float) - control[k]).mean(axis=2)
        face_diff.append(d[r < 0.7].mean())
        back_diff.append(d[r > 2.0].mean())
    # the background differs by the re-encoding noise only (~1-2 grey levels; at this frame
    # size libx264's macroblock tree is not byte-reproducible from run to run, README), the
    # face by far more
    assert min(face_diff) > 5.0, face_diff
    assert max(back_diff) < 3.0, back_diff
    assert min(face_diff) > 2.5 * max(back_diff), (face_diff, back_diff)


def test_self_blended_video_keeps_the_source_chroma_subsampling(real_clip, tmp_path):
    import av

    from detector.video import probe

    src444 = write_video(camera_frames(astronaut_bgr(), 12, size=(320, 240), seed=1), tmp_path / "s444.mp4",
                         crf=18, pix_fmt="yuv444p")
    assert probe(real_clip, sha256=False).pix_fmt == "yuv420p"
    assert probe(src444, sha256=False).pix_fmt == "yuv444p"
    for src, want in ((real_clip, "yuv420p"), (src444, "yuv444p")):
        dst, ctl = tmp_path / f"fake_{want}.mp4", tmp_path / f"control_{want}.mp4"
        rec = self_blended_video(src, dst, max_frames=8, seed=1, crf=20, control_dst=ctl)
        assert rec["pix_fmt"] == want
        for f in (dst, ctl):
            with av.open(str(f)) as c:
                assert c.streams.video[0].codec_context.pix_fmt == want


def test_self_blend_pix_fmt_falls_back_to_yuv420p():
    from detector.synthesis import self_blend_pix_fmt

    assert self_blend_pix_fmt("yuv444p") == "yuv444p"
    assert self_blend_pix_fmt("yuvj420p") == "yuv420p"
    assert self_blend_pix_fmt("yuv420p10le") == "yuv420p"
    assert self_blend_pix_fmt("") == "yuv420p"


def test_self_blended_video_refuses_a_clip_without_faces(tmp_path):
    rng = np.random.default_rng(0)
    src = write_video((cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 3)
                       for _ in range(8)), tmp_path / "noface.mp4")
    with pytest.raises(ValueError, match="faces in only"):
        self_blended_video(src, tmp_path / "x.mp4", max_frames=8)
    assert not (tmp_path / "x.mp4").exists()


def test_make_self_blended_is_resumable(real_clip, tmp_path):
    from detector.selfblend import CONTROL_METHOD, METHOD, make_self_blended
    from detector.synthesis import SELF_BLEND_VERSION

    src2 = _clip(tmp_path / "real2.mp4", seed=5, n=16)
    m = pd.DataFrame({"abs_path": [str(real_clip), str(src2), str(real_clip) + ".fake.mp4"],
                      "label": ["real", "real", "fake"], "group": ["g1", "g2", "g1"],
                      "compression": ["c23", "c40", "c23"], "dataset": "synthetic"})
    out = tmp_path / "gen"
    g1 = make_self_blended(m, out, max_frames=12, workers=2)
    assert len(g1) == 4  # 2 fakes + 2 controls; the fake row of the input is not a source
    assert sorted(g1["method"]) == sorted([METHOD, METHOD, CONTROL_METHOD, CONTROL_METHOD])
    fakes = g1[g1["method"] == METHOD].set_index("group")
    assert (fakes["label"] == "fake").all() and set(fakes.index) == {"g1", "g2"}
    assert fakes.loc["g1", "compression"] == "c23" and fakes.loc["g2", "compression"] == "c40"
    assert 19 <= fakes.loc["g1", "crf"] <= 27 and 34 <= fakes.loc["g2", "crf"] <= 40
    assert (g1[g1["method"] == CONTROL_METHOD]["label"] == "real").all()
    mtimes = {p: (out / p).stat().st_mtime_ns for p in g1["path"]}
    g2 = make_self_blended(m, out, max_frames=12, workers=2)  # nothing left to do
    assert {p: (out / p).stat().st_mtime_ns for p in g2["path"]} == mtimes
    pd.testing.assert_frame_equal(g1, g2)
    (out / g1["path"].iloc[0]).unlink()  # a lost output is made again, the rest is kept
    g3 = make_self_blended(m, out, max_frames=12, workers=1)
    assert len(g3) == 4 and (out / g1["path"].iloc[0]).exists()
    assert (out / g1["path"].iloc[2]).stat().st_mtime_ns == mtimes[g1["path"].iloc[2]]
    assert (out / "manifest.csv").exists()
    # a video made by an older synthesis (its record says so) is made again
    rec_path = sorted((out / "records").iterdir())[0]
    rec = json.loads(rec_path.read_text())
    assert rec["version"] == SELF_BLEND_VERSION
    rec_path.write_text(json.dumps({**rec, "version": SELF_BLEND_VERSION - 1}))
    before = {p: (out / p).stat().st_mtime_ns for p in g1["path"]}
    g4 = make_self_blended(m, out, max_frames=12, workers=1)
    remade = [p for p in g4["path"] if (out / p).stat().st_mtime_ns != before[p]]
    assert len(g4) == 4 and len(remade) == 2  # that source's fake and control
    assert json.loads(rec_path.read_text())["version"] == SELF_BLEND_VERSION


def test_train_self_blended_cli_end_to_end(tmp_path):
    """5 genuine synthetic clips -> extract -> train --self-blended only -> a loadable model
    whose training set holds the clips, their self-blended fakes and controls."""
    from detector.cli import main
    from detector.model import load_model

    vids = tmp_path / "videos"
    vids.mkdir()
    rows = []
    for k in range(5):
        p = _clip(vids / f"real{k}.mp4", seed=10 + k, n=24, flip=bool(k % 2),
                  centre=(0.45 + 0.02 * (k % 3), 0.33))
        rows.append({"path": p.name, "label": "real", "group": f"g{k}", "method": "synthetic-real",
                     "compression": "c23", "dataset": "synthetic"})
    pd.DataFrame(rows).to_csv(vids / "manifest.csv", index=False)
    feats, model = tmp_path / "feats", tmp_path / "model"
    assert main(["extract", "--manifest", str(vids / "manifest.csv"), "--out", str(feats), "--frames", "4",
                 "--workers", "2"]) == 0
    assert main(["train", "--features", str(feats), "--out", str(model), "--self-blended", "only", "--quick",
                 "--workers", "2", "--drop", "flick", "--self-blended-rounds", "2"]) == 0
    m = load_model(model)
    card = json.loads((model / "card.json").read_text())
    counts = pd.DataFrame(card["training"]["counts"])
    assert set(counts["method"]) == {"synthetic-real", "self-blended", "re-encoded-real"}
    # two rounds: 5 genuine + 2 x (5 self-blended fakes + 5 controls), each round its own blends
    assert counts["n"].sum() == 25 and card["training"]["n_groups"] == 5
    assert "--self-blended only" in card["command"] and "--drop flick" in card["command"]
    assert "--self-blended-rounds 2" in card["command"]
    r0 = pd.read_csv(feats / "self_blended" / "videos" / "manifest.csv")
    r1 = pd.read_csv(feats / "self_blended" / "videos_r1" / "manifest.csv")
    assert len(r0) == len(r1) == 10 and not set(r0["blend_seed"]) & set(r1["blend_seed"])
    assert "flick" not in m.families  # --drop reaches the training of a self-blended model
    # Trained on self-blended fakes alone, the model reads only the block-grid strengths
    # track means by default (the trace real face swaps share; README), and the card says so.
    assert card["column_set"]["spec"] == "grid-mean" and m.families == ("block",)
    assert "--columns 'grid-mean'" in card["command"]  # the command reproduces it whatever the default
    assert m.columns and all(c.startswith("block_") and not c.startswith("block_dct") and c.endswith("__mean")
                             for c in m.columns)
    assert (feats / "self_blended" / "videos" / "manifest.csv").exists()
    scores = pd.read_csv(model / "evaluation" / "scores.csv")
    assert scores["score"].notna().all() and m.threshold is not None


def test_make_self_blended_retries_a_source_whose_worker_died(real_clip, tmp_path):
    """failures.csv: a source that failed (e.g. no face) is skipped by a re-run; one whose
    worker process died (killed, broken pool) is made by the re-run."""
    from detector.selfblend import WORKER_DIED, make_self_blended

    noface = write_video((np.full((120, 160, 3), 90, np.uint8) for _ in range(8)), tmp_path / "noface.mp4")
    m = pd.DataFrame({"abs_path": [str(real_clip), str(noface)], "label": "real", "group": ["g1", "g2"],
                      "compression": "c23", "dataset": "synthetic"})
    out = tmp_path / "gen"
    out.mkdir()
    pd.DataFrame([{"abs_path": str(real_clip), "reason": f"{WORKER_DIED}: terminated abruptly"},
                  {"abs_path": str(noface), "reason": "ValueError: faces in only 0 of 8 frames"}]
                 ).to_csv(out / "failures.csv", index=False)
    g = make_self_blended(m, out, max_frames=12, workers=1)
    assert set(g["group"]) == {"g1"} and len(g) == 2  # the died one made (fake + control)
    left = pd.read_csv(out / "failures.csv") if (out / "failures.csv").exists() else pd.DataFrame()
    assert list(left.get("abs_path", [])) == [str(noface)]
