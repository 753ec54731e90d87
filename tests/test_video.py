import hashlib

import numpy as np
import pytest

from detector.decode import iter_frames, read_frames, sample_indices
from detector.video import VideoError, probe


def test_sample_indices_spread_and_short_videos():
    assert sample_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert sample_indices(3, 16).tolist() == [0, 1, 2]
    assert sample_indices(0, 16).size == 0
    with pytest.raises(ValueError):
        sample_indices(10, 0)


def test_probe_metadata_and_sha256(demo_pair):
    info = probe(demo_pair[0])
    assert info.kind == "video" and info.codec == "h264"
    assert (info.width, info.height) == (640, 480)
    assert info.frame_count == 40 and info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(1.6, abs=0.05)
    assert info.sha256 == hashlib.sha256(demo_pair[0].read_bytes()).hexdigest()
    assert info.size_bytes == demo_pair[0].stat().st_size


def test_frames_are_sampled_in_order_with_times(demo_pair):
    frames = read_frames(demo_pair[0], 8)
    assert [f.index for f in frames] == sample_indices(40, 8).tolist()
    assert frames[1].time_s == pytest.approx(frames[1].index / 25.0)
    assert frames[0].image.shape == (480, 640, 3) and frames[0].image.dtype == np.uint8


def test_frames_are_the_right_ones(demo_pair):
    """A sampled frame equals the frame decoded by reading everything sequentially."""
    import cv2

    cap = cv2.VideoCapture(str(demo_pair[0]))
    all_frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        all_frames.append(f)
    for fr in read_frames(demo_pair[0], 5):
        assert np.array_equal(fr.image, all_frames[fr.index])


def test_image_is_one_frame(bad_files):
    info = probe(bad_files["image"])
    assert info.kind == "image" and info.frame_count == 1
    frames = read_frames(bad_files["image"], 16)
    assert len(frames) == 1 and frames[0].image.shape == (512, 512, 3)


@pytest.mark.parametrize("name,msg", [("missing", "not found"), ("empty", "empty"), ("text", "not a readable")])
def test_unreadable_inputs_raise_clear_errors(bad_files, name, msg):
    with pytest.raises(VideoError, match=msg):
        probe(bad_files[name])


def test_truncated_video_yields_what_it_can(bad_files):
    try:
        frames = list(iter_frames(bad_files["truncated"], 16))
    except VideoError:
        return  # also acceptable: clearly refused
    assert len(frames) < 16


def _all_frames(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


@pytest.mark.parametrize("n", [5, 16, 40])
def test_pairs_carry_the_next_frame_without_changing_the_samples(demo_pair, n):
    """pairs=True: same samples, each with the frame right after it (also when samples are
    adjacent, n=40 of 40 frames, where the successor is the next sample too); none after the last."""
    every = _all_frames(demo_pair[0])
    plain = list(iter_frames(demo_pair[0], n))
    paired = list(iter_frames(demo_pair[0], n, pairs=True))
    assert [f.index for f in paired] == [f.index for f in plain]
    for a, b in zip(plain, paired):
        assert np.array_equal(a.image, b.image) and a.next_image is None
        if b.index + 1 < len(every):
            assert np.array_equal(b.next_image, every[b.index + 1])
        else:
            assert b.next_image is None


@pytest.mark.parametrize("n,k", [(5, 4), (16, 3), (40, 2)])
def test_follow_carries_the_next_frames_from_both_decoders(demo_pair, n, k):
    """follow=k: each sample with the k frames after it (fewer at the end), the same from
    PyAV and OpenCV, also when samples fall inside each other's runs (n=40 of 40 frames)."""
    import detector.decode as V

    every = _all_frames(demo_pair[0])
    targets = V.sample_indices(len(every), n)
    for frames in (list(iter_frames(demo_pair[0], n, follow=k)), list(V._iter_opencv(demo_pair[0], targets, 25.0, k))):
        assert [f.index for f in frames] == targets.tolist()
        for f in frames:
            want = every[f.index + 1: f.index + 1 + k]
            assert len(f.following) == len(want) and all(np.array_equal(a, b) for a, b in zip(f.following, want))
            assert (f.next_image is None) == (not want)
    with pytest.raises(ValueError, match="follow"):
        next(iter_frames(demo_pair[0], n, follow=-1))


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "yuv420p"])
def test_following_frames_convert_only_what_is_read(tmp_path, astronaut, pix_fmt):
    """From a 4:4:4 video (FF++'s files are) or a 4:2:0 one (platforms') the following frames
    come as LazyBGR: a crop of one is converted alone and is exactly the crop of the
    whole-frame conversion (the block features see the same pixels; 4:2:0 crops at odd rows
    and columns too), np.asarray gives the whole frame; the samples stay arrays.  A 4:2:2
    video's followers are plain arrays."""
    import cv2

    from detector.encode import write_video
    from detector.decode import LazyBGR

    rng = np.random.default_rng(0)
    imgs = [np.clip(cv2.resize(astronaut, (320, 240)).astype(int) + rng.integers(-20, 21, (240, 320, 3)), 0, 255)
            .astype(np.uint8) for _ in range(12)]
    path = write_video(imgs, tmp_path / f"{pix_fmt}.mp4", crf=18, pix_fmt=pix_fmt)
    every = _all_frames(path)
    frames = list(iter_frames(path, 3, follow=2))
    assert frames and all(isinstance(f.image, np.ndarray) for f in frames)
    lazy = [g for f in frames for g in f.following]
    assert lazy and all(isinstance(g, LazyBGR) for g in lazy)
    for f in frames:
        for j, g in enumerate(f.following):
            want = every[f.index + 1 + j]
            assert g.shape == want.shape
            for y0, y1, x0, x1 in ((0, 240, 0, 320), (37, 151, 61, 250), (1, 2, 3, 4), (2, 9, 4, 13), (235, 240, 1, 320)):
                assert np.array_equal(g[y0:y1, x0:x1], want[y0:y1, x0:x1])
            assert np.array_equal(np.asarray(g), want) and np.array_equal(g[5:9, ::2], want[5:9, ::2])
    p422 = write_video(imgs, tmp_path / "c422.mp4", crf=18, pix_fmt="yuv422p")
    assert all(isinstance(g, np.ndarray) for f in iter_frames(p422, 3, follow=2) for g in f.following)


@pytest.mark.parametrize("colorspace", [2, 1, 5])  # unspecified, BT.709, BT.601
def test_444_frames_convert_to_ffmpegs_bgr24_pixels_for_every_colour(colorspace):
    """to_bgr converts a 4:4:4 frame by way of FFmpeg's planar GBR output: exactly the pixels
    of its packed bgr24 output, for every one of the 2^24 (Y, U, V) colours in each range;
    other formats are converted by bgr24 itself."""
    import av

    from detector.decode import to_bgr

    k = np.arange(1 << 24, dtype=np.uint32).reshape(4096, 4096)
    yuv = np.stack([(k >> 16).astype(np.uint8), (k >> 8 & 255).astype(np.uint8), (k & 255).astype(np.uint8)])
    for color_range in (0, 1, 2):  # unspecified, limited, full
        f = av.VideoFrame.from_ndarray(yuv, format="yuv444p")
        f.colorspace, f.color_range = colorspace, color_range
        assert np.array_equal(to_bgr(f), f.to_ndarray(format="bgr24"))
    f420 = av.VideoFrame.from_ndarray(yuv[0, :64, :96].copy(), format="gray").reformat(format="yuv420p")
    assert np.array_equal(to_bgr(f420), f420.to_ndarray(format="bgr24"))


def test_still_image_has_no_next_frame(bad_files):
    (f,) = list(iter_frames(bad_files["image"], 4, pairs=True))
    assert f.next_image is None


def test_analysis_measures_flicker_on_videos_not_on_images(demo_pair, bad_files):
    from detector.analysis import analyze

    v = analyze(demo_pair[1], model=None, n_frames=6, families=("flick",))
    assert list(v.table.filter(like="flick_").columns) and np.isfinite(v.table["flick_inner_outer"]).all()
    im = analyze(bad_files["image"], model=None, families=("flick",))
    assert im.table["flick_inner_outer"].isna().all()


def test_unsampled_nonreference_frames_are_skipped_and_samples_stay_exact(demo_pair):
    """PyAV skips the B-frames nothing refers to, unless sampled: fewer frames decoded,
    the sampled ones identical to a full sequential decode."""
    import detector.decode as V

    every = _all_frames(demo_pair[0])
    targets = V.sample_indices(len(every), 5)
    stats = {}
    frames = list(V._iter_pyav(demo_pair[0], targets, 25.0, False, stats))
    assert [f.index for f in frames] == targets.tolist()
    assert all(np.array_equal(f.image, every[f.index]) for f in frames)
    assert stats["decoded"] < targets.max() + 1  # some frames were never decoded


def test_long_gaps_are_crossed_by_seeking(tmp_path, astronaut, monkeypatch):
    """Across a gap longer than SEEK_GAP the decoder jumps to a keyframe; the samples
    are still the exact frames (same as OpenCV reading everything)."""
    import detector.decode as V
    from detector.encode import write_video
    from detector.synthesis import camera_frames

    path = write_video(camera_frames(astronaut, 60, size=(320, 240)), tmp_path / "k.mp4", keyint=10)
    every = _all_frames(path)
    monkeypatch.setattr(V, "SEEK_GAP", 8)
    targets = V.sample_indices(len(every), 3)  # [10, 30, 50]: gaps of 20 frames
    stats = {}
    frames = list(V._iter_pyav(path, targets, 25.0, True, stats))
    assert [f.index for f in frames] == targets.tolist()
    for f in frames:
        assert np.array_equal(f.image, every[f.index]) and np.array_equal(f.next_image, every[f.index + 1])
    monkeypatch.setattr(V, "SEEK_GAP", 10**6)
    through = {}
    assert [f.index for f in V._iter_pyav(path, targets, 25.0, True, through)] == targets.tolist()
    assert stats["decoded"] < through["decoded"]  # the gaps were jumped over, not decoded
    assert [f.index for f in V._iter_opencv(path, targets, 25.0, False)] == targets.tolist()


def test_opencv_takes_over_when_pyav_cannot(demo_pair, monkeypatch):
    import detector.decode as V

    def unusable(*a, **k):
        raise V._PyAVUnusable
        yield  # pragma: no cover

    monkeypatch.setattr(V, "_iter_pyav", unusable)
    every = _all_frames(demo_pair[0])
    frames = list(iter_frames(demo_pair[0], 4, pairs=True))
    assert [f.index for f in frames] == sample_indices(len(every), 4).tolist()
    assert all(np.array_equal(f.image, every[f.index]) for f in frames)
    assert all(np.array_equal(f.next_image, every[f.index + 1]) for f in frames)


@pytest.mark.parametrize("ext,codec", [("mkv", "libx264"), ("mov", "libx264"), ("avi", "mpeg4"), ("avi", "mjpeg"),
                                       ("webm", "libvpx-vp9")])
def test_containers_decode_to_the_same_frames_as_opencv(tmp_path, astronaut, ext, codec):
    """Every container the tool accepts: the PyAV decoder gives OpenCV's frames, same indices."""
    import av
    from fractions import Fraction

    import detector.decode as V
    from detector.synthesis import camera_frames

    path = tmp_path / f"clip.{ext}"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=Fraction(25))
        s.width, s.height, s.pix_fmt = 160, 120, "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for f in camera_frames(astronaut, 30, size=(160, 120)):
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path)
    assert info.frame_count == 30
    targets = sample_indices(30, 6)
    ours = list(V._iter_pyav(path, targets, info.fps, True))  # PyAV serves it (no fallback)
    assert [f.index for f in iter_frames(path, 6)] == targets.tolist()
    ref = list(V._iter_opencv(path, targets, info.fps, True))
    assert [f.index for f in ours] == [f.index for f in ref] == targets.tolist()
    for a, b in zip(ours, ref):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.next_image, b.next_image)


def test_the_reused_converter_follows_each_frames_colour_space_and_range():
    """to_bgr reuses one FFmpeg conversion context per thread: frames of the same size whose
    colour space or range changes from one to the next still convert as each alone would."""
    import av

    from detector.decode import to_bgr

    rng = np.random.default_rng(0)
    yuv = rng.integers(0, 256, (3, 48, 64), dtype=np.uint8)
    for fmt in ("yuv444p", "yuv420p"):
        for colorspace, color_range in ((1, 1), (5, 2), (1, 2), (5, 1), (2, 0), (1, 1)):
            f = av.VideoFrame.from_ndarray(yuv, format="yuv444p").reformat(format=fmt)
            f.colorspace, f.color_range = colorspace, color_range
            g = av.VideoFrame.from_ndarray(yuv, format="yuv444p").reformat(format=fmt)
            g.colorspace, g.color_range = colorspace, color_range
            assert np.array_equal(to_bgr(f), g.to_ndarray(format="bgr24")), (fmt, colorspace, color_range)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_portrait_phone_video_is_searched_upright_and_measured_as_stored(demo_pair, tmp_path, rotation):
    """A clip stored turned with a display rotation (as a phone's portrait video): its faces
    are searched for on the turned picture, so they are found as in the upright clip (one
    track, every sampled frame); they are given and measured on the stored frame's own grid
    (the upright box turned); the thumbnails are upright; the rotation is reported."""
    from detector.analysis import analyze
    from detector.encode import write_video

    every = _all_frames(demo_pair[1])
    up = write_video(every, tmp_path / "up.mp4", crf=18)
    side = write_video([np.rot90(f, -rotation // 90) for f in every], tmp_path / "side.mp4", crf=18,
                       rotation=rotation)
    a, b = (analyze(p, None, n_frames=6, families=("block",), thumbnails=True) for p in (up, side))
    assert a.info.rotation == 0 and b.info.rotation == rotation and b.info.to_dict()["rotation"] == rotation
    W, H = a.info.width, a.info.height
    assert (b.info.width, b.info.height) == ((W, H) if rotation == 180 else (H, W))
    assert a.n_faces == b.n_faces == 6 and len(a.tracks) == len(b.tracks) == 1
    for (x, y, w, h), box in zip(a.table["box"], b.table["box"]):  # up = np.rot90(side, rotation / 90)
        turned = {90: (H - y - h, x, h, w), 180: (W - x - w, H - y - h, w, h), 270: (y, W - x - w, h, w)}[rotation]
        assert np.allclose(box, turned, atol=6)
    for (_, _, ta), (_, _, tb) in zip(a.tracks[0].thumbnails, b.tracks[0].thumbnails):
        same, turned = (np.corrcoef(ta.ravel().astype(float), t.ravel().astype(float))[0, 1]
                        for t in (tb, np.rot90(tb)))
        assert same > 0.8 > turned



def _bgr_frame(img):
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")


def _with_blank_track_first(path, frames):
    """``path`` (Matroska) with two H.264 video streams, interleaved: a small blank track
    (a preview), then ``frames`` (BGR)."""
    import av

    from detector.encode import _add_video_stream

    blank = np.zeros((120, 160, 3), np.uint8)
    with av.open(str(path), mode="w") as c:
        streams = [_add_video_stream(c, shape, 25.0, 18, "libx264", pix_fmt="yuv420p")
                   for shape in (blank.shape, frames[0].shape)]
        for f in frames:
            for s, img in zip(streams, (blank, f)):
                c.mux(s.encode(_bgr_frame(img)))
        for s in streams:
            c.mux(s.encode())
    return path


def _with_large_cover(path, frames):
    """``path`` (MP4): ``frames`` (BGR, H.264) with a cover picture (MJPEG, attached picture)
    twice their size."""
    import av

    from detector.encode import _add_video_stream

    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w") as c:
        cover = c.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 2 * w, 2 * h, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        video = _add_video_stream(c, frames[0].shape, 25.0, 18, "libx264", pix_fmt="yuv420p")
        c.mux(cover.encode(_bgr_frame(np.full((2 * h, 2 * w, 3), 90, np.uint8)).reformat(format="yuvj420p")))
        c.mux(cover.encode())
        for f in frames:
            c.mux(video.encode(_bgr_frame(f)))
        c.mux(video.encode())
    with av.open(str(path)) as c:  # the file holds what the test needs
        assert sorted((s.codec_context.width, bool(s.disposition & av.stream.Disposition.attached_pic))
                      for s in c.streams.video) == [(w, False), (2 * w, True)]
    return path


@pytest.mark.parametrize("layout", ["blank track first", "large cover"])
def test_the_largest_moving_video_stream_is_the_one_analysed(demo_pair, tmp_path, layout):
    """A file with a small blank video track before the camera's (a preview), or with cover
    art larger than its video: probe, the sampled frames and the analysis all read the
    camera's stream (before, a blank first track gave 'no face'; the cover is a picture, not
    the video, however large)."""
    from detector.analysis import analyze

    every = _all_frames(demo_pair[0])
    make = _with_blank_track_first if layout == "blank track first" else _with_large_cover
    path = make(tmp_path / ("two.mkv" if layout == "blank track first" else "cover.mp4"), every)
    info = probe(path)
    assert (info.width, info.height) == (every[0].shape[1], every[0].shape[0]) and info.frame_count == len(every)
    frames = read_frames(path, 8)
    assert len(frames) == 8 and all(f.image.shape == every[0].shape for f in frames)
    a = analyze(path, None, 8)
    assert a.n_faces == 8 and a.verdict == "unscored"
