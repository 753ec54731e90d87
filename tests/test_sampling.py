"""The ``runs`` sampling (detector.sampling): runs of consecutive frames after keyframes,
decoded alone, the same pixels as a full decode; the ``front`` sampling: samples spread over
the fronts of the keyframe intervals, decoded without the rest; their fallbacks; the option
and its records."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest

import detector.decode as V
from detector.analysis import analyze, model_sampling
from detector.card import card_markdown, recipe
from detector.cli import main
from detector.encode import write_video
from detector.extraction import extract, features_sampling
from detector.model import DetectorModel
from detector.sampling import DEFAULT_SAMPLING, FRONT_FRACTION, SAMPLINGS, check_sampling, plan_front, plan_runs, \
    sample_indices, sampling_setting
from detector.synthesis import camera_frames
from detector.video import probe

N, RUN = 6, 5  # samples, frames per run (a sample and its 4 followers, as the block features read)


def _all_frames(path) -> list[np.ndarray]:
    """Every frame of ``path`` by a plain sequential PyAV decode."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]


def _keyframes(path) -> list[int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps, tb, start = float(s.average_rate), float(s.time_base), s.start_time or 0
        return sorted(int(round((p.pts - start) * tb * fps)) for p in c.demux(s) if p.is_keyframe and p.pts is not None)


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory, astronaut):
    """120 frames, a keyframe every 10 (x264, B-frames)."""
    return write_video(camera_frames(astronaut, 120, size=(160, 120)), tmp_path_factory.mktemp("s") / "g10.mp4",
                       keyint=10)


@pytest.fixture(scope="module")
def one_key_clip(tmp_path_factory, astronaut):
    """120 frames and a single keyframe (x264's default distance is 250)."""
    return write_video(camera_frames(astronaut, 120, size=(160, 120)), tmp_path_factory.mktemp("s") / "g1.mp4")


def _runs(path, n=N, follow=RUN - 1, sampling="runs"):
    info = probe(path, sha256=False)
    stats = {}
    frames = list(V._iter_pyav(path, V.sample_targets(info.frame_count, n), info.fps, follow, stats,
                               runs_of=info.frame_count, sampling=sampling))
    return frames, stats


def _assert_exact_runs(frames, every, follow=RUN - 1):
    for f in frames:
        assert np.array_equal(f.image, every[f.index]) and f.time_s == pytest.approx(f.index / 25.0)
        assert len(f.following) == follow
        for j, g in enumerate(f.following):
            assert np.array_equal(np.asarray(g), every[f.index + 1 + j])


def test_plan_runs_chains_samples_after_their_keyframes():
    assert plan_runs(np.array([0, 0, 0, 0]), 5, 0).tolist() == [0, 5, 10, 15]
    assert plan_runs(np.array([0, 30, 60]), 5, 100).tolist() == [0, 30, 60]
    assert plan_runs(np.array([0, 0, 7, 7]), 5, 100).tolist() == [0, 5, 10, 15]  # keyframe 7 inside the runs
    assert plan_runs(np.array([90, 90, 90]), 5, 100).tolist() == [85, 90, 95]  # kept inside the video
    with pytest.raises(ValueError):
        plan_runs(np.array([0]), 0, 10)
    assert check_sampling("runs") == "runs" and DEFAULT_SAMPLING == "spread"
    assert check_sampling("front") == "front" and set(SAMPLINGS) == {"spread", "runs", "front"}
    with pytest.raises(ValueError, match="unknown sampling"):
        check_sampling("gop")


def test_runs_start_at_keyframes_and_decode_only_their_frames(gop_clip):
    every, keys = _all_frames(gop_clip), _keyframes(gop_clip)
    assert keys == list(range(0, 120, 10))
    frames, stats = _runs(gop_clip)
    idx = [f.index for f in frames]
    # each spread position (centres of 6 segments of 20 frames) gets the keyframe at or before it
    assert idx == [k - k % 10 for k in V.sample_indices(120, N).tolist()] == [10, 30, 50, 70, 90, 110]
    _assert_exact_runs(frames, every)
    assert stats == {"decoded": N * RUN, "sampling": "runs"}  # the runs and nothing else
    spread = {}
    list(V._iter_pyav(gop_clip, V.sample_indices(120, N), 25.0, RUN - 1, spread))
    assert spread["decoded"] > 2 * stats["decoded"]


def test_a_single_keyframe_gives_back_to_back_runs_from_the_start(one_key_clip):
    every = _all_frames(one_key_clip)
    assert _keyframes(one_key_clip) == [0]
    frames, stats = _runs(one_key_clip)
    assert [f.index for f in frames] == list(range(0, N * RUN, RUN))
    _assert_exact_runs(frames, every)
    assert stats["sampling"] == "runs" and stats["decoded"] < N * RUN + 8  # the first ~30 frames (B-frame delay)


def test_iter_frames_runs_public_path_and_every_intra_video(tmp_path, astronaut, gop_clip):
    every = _all_frames(gop_clip)
    frames = list(V.iter_frames(gop_clip, N, follow=RUN - 1, sampling="runs"))
    assert [f.index for f in frames] == [10, 30, 50, 70, 90, 110]
    _assert_exact_runs(frames, every)
    with pytest.raises(ValueError, match="unknown sampling"):
        next(V.iter_frames(gop_clip, N, sampling="gop"))
    # MJPEG: every frame is a keyframe, so each run starts at its spread position
    path = tmp_path / "intra.avi"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mjpeg", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = 160, 120, "yuvj420p"
        for f in camera_frames(astronaut, 60, size=(160, 120)):
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    got = [f.index for f in V.iter_frames(path, 4, follow=2, sampling="runs")]
    assert got == V.sample_indices(60, 4).tolist()


def test_short_videos_images_and_unseekable_files_fall_back_to_spread(demo_pair, bad_files, gop_clip, monkeypatch):
    # 40 frames <= 16 runs of 5: decoded whole anyway, so sampled spread
    assert [f.index for f in V.iter_frames(demo_pair[0], 16, follow=4, sampling="runs")] == \
        V.sample_indices(40, 16).tolist()
    assert len(list(V.iter_frames(bad_files["image"], 16, follow=4, sampling="runs"))) == 1

    class NoSeek:  # a container whose seeks fail
        def __init__(self, c):
            self._c = c

        def __getattr__(self, k):
            return getattr(self._c, k)

        def seek(self, *a, **k):
            raise av.error.FFmpegError(-1, "seek refused")

    every, info, stats = _all_frames(gop_clip), probe(gop_clip, sha256=False), {}
    real_open = V.av.open
    monkeypatch.setattr(V.av, "open", lambda *a, **k: NoSeek(real_open(*a, **k)))
    frames = list(V._iter_pyav(gop_clip, V.sample_targets(120, N), info.fps, RUN - 1, stats, runs_of=120))
    monkeypatch.undo()
    assert stats["sampling"] == "spread" and [f.index for f in frames] == V.sample_indices(120, N).tolist()
    _assert_exact_runs(frames, every)


def test_opencv_fallback_samples_spread(gop_clip, monkeypatch):
    def unusable(*a, **k):
        raise V._PyAVUnusable
        yield  # pragma: no cover

    monkeypatch.setattr(V, "_iter_pyav", unusable)
    assert [f.index for f in V.iter_frames(gop_clip, N, follow=4, sampling="runs")] == V.sample_indices(120, N).tolist()


@pytest.fixture(scope="module")
def gop40_clip(tmp_path_factory, astronaut):
    """120 frames, a keyframe every 40 (x264, B-frames)."""
    return write_video(camera_frames(astronaut, 120, size=(160, 120)), tmp_path_factory.mktemp("s") / "g40.mp4",
                       keyint=40)


def test_plan_front_spreads_over_the_fronts_of_the_intervals():
    assert FRONT_FRACTION == 0.25  # the shipped model's features were measured with it
    # keyframes 0, 40, 80 of 120 frames, half of each: fronts 0-19, 40-59, 80-99, 60 frames laid end to end
    got = plan_front(np.array([80, 0, 40]), 120, N, RUN, fraction=0.5)
    assert got.tolist() == [5, 15, 45, 55, 85, 95]
    assert all(any(k <= t < k + 20 for k in (0, 40, 80)) for t in got)
    # one keyframe: its first half; uneven intervals each give their own share
    assert plan_front(np.array([0]), 240, N, RUN, fraction=0.5).tolist() == (sample_indices(120, N)).tolist()
    assert plan_front(np.array([0, 200]), 300, 4, 1, fraction=0.5).tolist() == [18, 56, 93, 231]  # 0-99, 200-249
    assert plan_front(np.array([0, 200]), 300, 4, 1).tolist() == [9, 28, 46, 215]  # a quarter: 0-49, 200-224
    assert plan_front(np.array([0, 200]), 300, 4, 1, fraction=0.2).tolist() == [7, 22, 37, 212]  # 0-39, 200-219
    # fraction 1, or a video of at most n runs: the spread samples
    assert plan_front(np.array([0, 37, 90]), 300, 16, 5, fraction=1.0).tolist() == sample_indices(300, 16).tolist()
    assert plan_front(np.array([0]), 40, 16, 5).tolist() == sample_indices(40, 16).tolist()
    # fronts too short for n runs are widened alike until the runs fit back to back
    wide = plan_front(np.array([0]), 120, 16, 5)
    assert wide.size == 16 and np.diff(wide).min() >= 5 and wide[-1] < 80  # the first 80 frames
    # frames before the first keyframe, keyframes outside the video, no keyframe
    assert plan_front(np.array([10, 500]), 110, 4, 1, fraction=0.5).tolist() == [16, 28, 41, 53]  # front 10-59
    assert plan_front(np.array([], dtype=int), 100, 4, 5).size == 0
    assert plan_front(np.array([0]), 0, 4, 5).size == 0
    assert plan_front(np.array([0]), 3, 4, 1).tolist() == [0, 1, 2]  # fewer frames than samples
    for bad in ({"n": 0}, {"run": 0}, {"fraction": 0.0}, {"fraction": 1.5}):
        with pytest.raises(ValueError):
            plan_front(np.array([0]), 100, **{"n": 4, "run": 5, **bad})


def test_front_decodes_the_fronts_only_the_same_pixels(gop40_clip):
    every, keys = _all_frames(gop40_clip), _keyframes(gop40_clip)
    assert keys == [0, 40, 80]
    frames, stats = _runs(gop40_clip, sampling="front")
    assert [f.index for f in frames] == [2, 7, 42, 47, 82, 87]  # fronts 0-9, 40-49, 80-89
    _assert_exact_runs(frames, every)
    assert stats["sampling"] == "front"
    # each interval decoded from its keyframe to its last run (10 frames, minus skipped ones), then a seek
    assert stats["decoded"] <= 3 * 10 + 4
    spread = {}
    list(V._iter_pyav(gop40_clip, V.sample_indices(120, N), 25.0, RUN - 1, spread))
    assert spread["decoded"] > stats["decoded"] + 20
    assert [f.index for f in V.iter_frames(gop40_clip, N, follow=RUN - 1, sampling="front")] == \
        [2, 7, 42, 47, 82, 87]


def test_front_of_a_single_keyframe_video_is_its_first_quarter(one_key_clip, gop_clip):
    every = _all_frames(one_key_clip)
    frames, stats = _runs(one_key_clip, sampling="front")
    assert [f.index for f in frames] == sample_indices(30, N).tolist() == [2, 7, 12, 17, 22, 27]
    _assert_exact_runs(frames, every)
    assert stats["sampling"] == "front" and stats["decoded"] < 30 + 8  # the first quarter (B-frame delay)
    # keyframes every 10: fronts of 3 frames, each run starting at its keyframe
    frames, stats = _runs(gop_clip, sampling="front")
    assert [f.index for f in frames] == [10, 30, 50, 70, 90, 110]
    _assert_exact_runs(frames, _all_frames(gop_clip))


def test_front_falls_back_to_spread(demo_pair, gop40_clip, monkeypatch):
    # a short video: 40 frames <= 16 runs of 5, sampled spread whether planned or not
    assert [f.index for f in V.iter_frames(demo_pair[0], 16, follow=4, sampling="front")] == \
        sample_indices(40, 16).tolist()
    frames, stats = _runs(demo_pair[0], n=16, follow=4, sampling="front")
    assert [f.index for f in frames] == sample_indices(40, 16).tolist() and stats["sampling"] == "front"

    class Unflagged:  # a packet that reads as no keyframe
        is_keyframe = False

        def __init__(self, p):
            self._p = p

        def __getattr__(self, k):
            return getattr(self._p, k)

    class NoKeys:  # a container whose packets flag no keyframe
        def __init__(self, c):
            self._c = c

        def __getattr__(self, k):
            return getattr(self._c, k)

        def demux(self, *a, **k):
            return (Unflagged(p) for p in self._c.demux(*a, **k))

    every, stats = _all_frames(gop40_clip), {}
    real_open = V.av.open
    monkeypatch.setattr(V.av, "open", lambda *a, **k: NoKeys(real_open(*a, **k)))
    frames = list(V._iter_pyav(gop40_clip, V.sample_targets(120, N), 25.0, RUN - 1, stats, runs_of=120,
                               sampling="front"))
    monkeypatch.undo()
    assert stats["sampling"] == "spread" and [f.index for f in frames] == sample_indices(120, N).tolist()
    _assert_exact_runs(frames, every)


def _model(sampling=None) -> DetectorModel:
    return DetectorModel(pipeline=None, columns=[], card={} if sampling is None else {"sampling": sampling})


def test_a_model_refuses_the_other_sampling(gop_clip):
    assert _model().sampling == "spread" and _model("runs").sampling == "runs"
    assert model_sampling(None) == "spread" and model_sampling(None, "runs") == "runs"
    assert model_sampling(_model("runs")) == "runs" and model_sampling(_model(), "spread") == "spread"
    with pytest.raises(ValueError, match="trained on features of sampling 'spread', not 'runs'"):
        model_sampling(_model(), "runs")
    with pytest.raises(ValueError, match="trained on features of sampling 'front', not 'runs'"):
        model_sampling(_model("front"), "runs")
    with pytest.raises(ValueError, match="trained on features of sampling 'runs'"):
        analyze(gop_clip, model=_model("runs"), n_frames=4, sampling="spread")
    a = analyze(gop_clip, model=None, n_frames=4, sampling="runs", families=("block",))
    assert a.frame_indices == [10, 40, 70, 100]


def test_inspect_option_and_the_shipped_model(gop_clip, capsys):
    assert main(["inspect", str(gop_clip), "--json", "--frames", "4"]) == 0  # the shipped model's: front
    assert [f["index"] for f in json.loads(capsys.readouterr().out)["frames"]] == [11, 41, 71, 101] == \
        plan_front(np.arange(0, 120, 10), 120, 4, RUN).tolist()  # fronts of 3 frames after each keyframe
    assert main(["inspect", str(gop_clip), "--frames", "4", "--sampling", "spread"]) == 1
    assert "--sampling front" in capsys.readouterr().err


def test_extract_records_the_sampling_and_refuses_to_mix(gop_clip, tmp_path, capsys):
    man = tmp_path / "m.csv"
    man.write_text(f"path,label\n{gop_clip},real\n")
    out = tmp_path / "f"
    assert main(["extract", "--manifest", str(man), "--out", str(out), "--frames", "4", "--sampling", "runs",
                 "--workers", "1", "--families", "block"]) == 0
    stamp = json.loads((out / "extract.json").read_text())
    assert stamp["sampling"] == "runs" == features_sampling(out)
    assert main(["extract", "--manifest", str(man), "--out", str(out), "--frames", "4", "--workers", "1",
                 "--families", "block"]) == 1
    assert "use another --out" in capsys.readouterr().err
    # a folder made before samplings were recorded is the default sampling, and accepted as such
    old = tmp_path / "old"
    old.mkdir()
    (old / "extract.json").write_text(json.dumps({"features_version": stamp["features_version"], "n_frames": 4,
                                                  "families": ["block"]}))
    assert features_sampling(old) == "spread"
    from detector.datasets import read_manifest

    extract(read_manifest(man), old, n_frames=4, workers=1, progress=False, families=("block",))
    assert "runs" in recipe(str(out), "m", 0, False, stamps={str(out): stamp})
    assert "--sampling" not in recipe(str(old), "m", 0, False, stamps={str(old): {**stamp, "sampling": "spread"}})


def test_card_states_the_sampling():
    assert "frame sampling: `runs`" in card_markdown({"sampling": "runs"})
    assert "frame sampling: `spread`" in card_markdown({"sampling": "spread"})
    assert "frame sampling: `front`" in card_markdown({"sampling": "front"})
    assert "frame sampling" not in card_markdown({})  # a card from before samplings were recorded: as it was


def test_the_dashboards_card_table_names_the_shipped_models_sampling():
    from detector.dashboard.models import card_summary
    from detector.model import load_model

    row = card_summary(load_model().card).set_index("item").loc["frame sampling", "value"]
    assert row.startswith("`front` (samples spread over the fronts of the keyframe intervals)")
    assert "refused" in row


def test_front_records_its_fraction_and_another_fraction_is_refused(gop_clip, tmp_path, monkeypatch):
    """Features and models of ``front`` hold for the fraction they were made with: a folder or a
    card of another fraction (or a folder that does not say) is refused, not silently reused."""
    from detector.datasets import read_manifest
    from detector.model import ModelError, load_model

    assert sampling_setting("front") == {"sampling": "front", "front_fraction": FRONT_FRACTION}
    assert sampling_setting("spread") == {"sampling": "spread"}
    man = tmp_path / "m.csv"
    man.write_text(f"path,label\n{gop_clip},real\n")
    out = tmp_path / "f"
    extract(read_manifest(man), out, n_frames=4, workers=1, progress=False, families=("block",), sampling="front")
    stamp = json.loads((out / "extract.json").read_text())
    assert stamp["front_fraction"] == FRONT_FRACTION and features_sampling(out) == "front"
    for fraction in (None, FRONT_FRACTION * 2):
        other = {k: v for k, v in stamp.items() if k != "front_fraction"}
        if fraction is not None:
            other["front_fraction"] = fraction
        (out / "extract.json").write_text(json.dumps(other))
        with pytest.raises(ValueError, match="fraction"):
            features_sampling(out)  # what train and the judge read
        with pytest.raises(ValueError, match="use another --out"):
            extract(read_manifest(man), out, n_frames=4, workers=1, progress=False, families=("block",),
                    sampling="front")
    shipped = load_model()
    assert shipped.card["front_fraction"] == FRONT_FRACTION
    monkeypatch.setattr("detector.sampling.FRONT_FRACTION", FRONT_FRACTION / 2)  # this code samples another share
    with pytest.raises(ModelError, match="fraction"):
        load_model()
