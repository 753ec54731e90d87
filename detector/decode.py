"""Frame sampling and decoding: the frames of a video that the analysis measures.

One module: the PyAV decoder and its OpenCV fallback give the same samples as the same
:class:`Frame` records; ~530 lines.

Which frames are sampled is :mod:`detector.sampling`'s: ``"spread"`` (the default), ``n``
frames spread evenly over the video, each at the centre of one of ``n`` equal segments;
``"runs"``, runs of consecutive frames after keyframes, which the decoder finds by
seeking (:meth:`_PyAVSampler.plan_runs`) and then decodes alone, seeking over the rest; or
``"front"``, samples spread over the first part of each keyframe interval, whose keyframes
the decoder finds by reading the packets (:meth:`_PyAVSampler.plan_front`), decoding each
interval's front and seeking to the next keyframe.

Frames are decoded sequentially with PyAV (FFmpeg), so memory stays bounded whatever
the length of the video; only the sampled frames are converted to arrays.  The decoder
skips the non-reference frames that are not sampled (no other frame is predicted from
them, so the sampled frames are bit-identical to a full decode; on the 125 FF++ clips
55 % of the frames up to the last sample were decoded and decoding took 0.68x the time
of OpenCV reading every frame).  When two sampled frames are far apart (a long video),
the decoder seeks to the keyframe before the next one instead of decoding the gap.
OpenCV (``VideoCapture.grab``) is the fallback for files PyAV cannot index.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from .sampling import DEFAULT_SAMPLING, FRONT_FRACTION, check_sampling, plan_front, plan_runs, sample_indices
from .video import VideoError, VideoInfo, check_file, main_video_stream, probe, read_image

#: Frames sampled per video unless asked otherwise (the analysis, training features, scans).
DEFAULT_FRAMES = 16

#: Above this gap (in frames) between two sampled frames the decoder seeks
#: rather than decoding every frame in between.
SEEK_GAP = 600

#: FFmpeg decoding threads.  One: the same file decodes to the same pixels wherever it is
#: read (a damaged stream is concealed differently by frame-threaded decoding, so ``inspect``
#: and a scan worker could disagree on it), and one process per core is how batches scale.
DECODE_THREADS = 1

#: Consecutive undecodable packets after which a damaged video is given up.
MAX_BAD_PACKETS = 50


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image`` is a (H, W, 3) uint8 BGR array on the original pixel grid;
    ``following`` the frames right after it (index + 1, index + 2, ...) when asked for
    (``follow`` / ``pairs``), as many as were asked and exist; ``next_image`` the first of
    them (for the temporal-flicker features), else None.  A following frame is a BGR array
    or, from a 4:4:4 or 4:2:0 video, a :class:`LazyBGR` that converts only what is read (the
    same pixels).  ``rotation`` is how a player turns the picture to show it
    (:func:`display_rotation`; a phone's portrait video is stored sideways, with 90 or 270):
    ``image`` stays as stored, on the codec's grid."""

    index: int
    time_s: float
    image: np.ndarray
    next_image: np.ndarray | None = None
    following: tuple = ()  # of np.ndarray or LazyBGR
    rotation: int = 0  # display rotation, degrees counter-clockwise (0, 90, 180, 270): see display_rotation


class LazyBGR:
    """A decoded frame that is converted to BGR only where it is read.

    ``f[y0:y1, x0:x1]`` converts just that crop and ``np.asarray(f)`` the whole frame
    (kept); both give exactly the pixels of ``frame.to_ndarray(format="bgr24")``.  ``shape``
    is (H, W, 3).  For the :data:`LAZY_FORMATS`: 4:4:4 video, where FFmpeg's whole-frame
    conversion is slow (3.5-4.8 ms a 720p frame with FFmpeg 8, ~0.7 ms a face crop), and
    4:2:0 video, what platforms deliver (0.58 ms a 720p frame, 0.12 ms a 400 x 400 crop),
    whose crops are widened to even rows and columns (a chroma sample covers 2 x 2 pixels)
    and trimmed back.  The block run reads only the face crops of its following frames.
    """

    __slots__ = ("_frame", "_full", "shape")
    ndim = 3
    dtype = np.dtype(np.uint8)

    def __init__(self, frame, full: np.ndarray | None = None) -> None:
        self._frame = frame
        self._full = full  # the whole-frame conversion, once made
        self.shape = (frame.height, frame.width, 3)

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The (y1 - y0, x1 - x0, 3) BGR crop, converted alone."""
        f = self._frame
        sub = 2 if f.format.name == "yuv420p" else 1  # pixels per chroma sample, each way
        # on the chroma grid: widened to whole chroma samples, trimmed after the conversion
        ay0, ax0 = y0 - y0 % sub, x0 - x0 % sub
        ay1, ax1 = min(f.height, y1 + y1 % sub), min(f.width, x1 + x1 % sub)
        g = av.VideoFrame(ax1 - ax0, ay1 - ay0, f.format.name)
        for k, (src, dst) in enumerate(zip(f.planes, g.planes)):  # each plane's crop copied once
            s = 1 if k == 0 else sub
            _plane(dst)[:] = _plane(src)[ay0 // s:-(-ay1 // s), ax0 // s:-(-ax1 // s)]
        g.colorspace, g.color_range = f.colorspace, f.color_range
        out = to_bgr(g)
        return out if (ay0, ay1, ax0, ax1) == (y0, y1, x0, x1) else out[y0 - ay0:y1 - ay0, x0 - ax0:x1 - ax0]

    def __getitem__(self, key):
        if self._full is None and isinstance(key, tuple) and len(key) == 2 \
                and all(isinstance(k, slice) and k.step in (None, 1) for k in key):
            (y0, y1, _), (x0, x1, _) = key[0].indices(self.shape[0]), key[1].indices(self.shape[1])
            if y1 > y0 and x1 > x0:
                return self.crop(y0, y1, x0, x1)
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if self._full is None:
            self._full = to_bgr(self._frame)
        return self._full if dtype is None else self._full.astype(dtype)


def _plane(p) -> np.ndarray:
    """The (height, width) uint8 samples of an 8-bit PyAV plane ``p`` (a view, without the
    padding; writable when the frame is)."""
    return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]


def to_bgr(frame) -> np.ndarray:
    """``frame.to_ndarray(format="bgr24")``: the (H, W, 3) uint8 BGR pixels of a decoded PyAV
    frame.  A 4:4:4 frame goes by way of FFmpeg's planar GBR output and an OpenCV merge of its
    planes: the same pixels (every one of the 2^24 colours, in each colour space and range:
    tests/test_video.py) in ~0.6x the time of FFmpeg's packed BGR output."""
    if frame.format.name != "yuv444p":
        return _reformatter().reformat(frame, format="bgr24").to_ndarray()
    g, b, r = (_plane(p) for p in _reformatter().reformat(frame, format="gbrp").planes)
    return cv2.merge([b, g, r])


_local = threading.local()


def _reformatter() -> VideoReformatter:
    """This thread's FFmpeg converter, reused from frame to frame.  A frame's own
    ``reformat`` sets up a new conversion context for each frame (~1 ms a 720p 4:4:4 frame,
    ~0.3 ms a 480p 4:2:0 one, ~0.4 ms a face crop); this one keeps its context while the
    size and format stay.  The pixels are the same: swscale reads the colour space and range
    from each frame (tests/test_video.py).  One per thread: a context is not shared."""
    r = getattr(_local, "reformatter", None)
    if r is None:
        r = _local.reformatter = VideoReformatter()
    return r


#: Pixel formats whose following frames stay :class:`LazyBGR` (when :func:`_lazy_is_exact`).
LAZY_FORMATS = ("yuv444p", "yuv420p")


def _lazy_is_exact(frame, full: np.ndarray) -> bool:
    """Whether :class:`LazyBGR` crops of this ``frame`` (one of :data:`LAZY_FORMATS`) equal
    ``full``, its whole-frame conversion (checked once per video on an odd-placed crop; else
    followers are converted whole)."""
    if frame.format.name not in LAZY_FORMATS or frame.height < 8 or frame.width < 8:
        return False
    try:
        y0, x0 = frame.height // 4 | 1, frame.width // 3 | 1
        y1, x1 = min(frame.height, y0 + frame.height // 2), min(frame.width, x0 + frame.width // 2)
        return bool(np.array_equal(LazyBGR(frame).crop(y0, y1, x0, x1), full[y0:y1, x0:x1]))
    except Exception:  # an unexpected frame layout: convert whole frames as before
        return False


def _frame(index: int, fps: float, image: np.ndarray, following: list, rotation: int = 0) -> Frame:
    return Frame(index, index / fps, image, following[0] if following else None, tuple(following), rotation)


def display_rotation(frame) -> int:
    """The rotation a player applies to show a decoded PyAV ``frame`` (its display matrix:
    degrees counter-clockwise, as ``np.rot90`` turns an array), one of 0, 90, 180, 270; 0
    without a display matrix or for a rotation that is not a quarter turn (left as stored).
    The OpenCV fallback's frames carry 0."""
    try:
        deg = float(frame.rotation or 0)
    except Exception:  # no or unreadable side data
        return 0
    quarter = round(deg / 90)
    return int(quarter % 4) * 90 if abs(deg - 90 * quarter) < 1 else 0


def sample_targets(frame_count: int, n: int) -> np.ndarray:
    """The frame indices :func:`iter_frames` decodes: :func:`sample_indices`, or the first
    ``n`` frames when the length is unknown (``frame_count`` 0)."""
    targets = sample_indices(frame_count, n)
    return targets if targets.size else np.arange(n)


def open_capture(path: str | os.PathLike) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of ``path`` decoding on :data:`DECODE_THREADS` threads."""
    return cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])


def iter_frames(path: str | os.PathLike, n_frames: int = DEFAULT_FRAMES, info: VideoInfo | None = None,
                pairs: bool = False, follow: int = 0, sampling: str = DEFAULT_SAMPLING) -> Iterator[Frame]:
    """Yield ``n_frames`` frames sampled by ``sampling`` (:data:`detector.sampling.SAMPLINGS`),
    decoding sequentially.

    Only the sampled frames are converted to arrays; the video is never held in
    memory.  An image yields one frame.  A truncated video yields the sampled
    frames that could be decoded (possibly none).  With ``follow`` = k, each frame
    also carries the k frames right after it (``Frame.following``, fewer at the end of
    the video); ``pairs`` asks for at least one (``Frame.next_image``; None after the
    last frame).  With ``sampling="runs"`` the samples are runs of ``max(follow, pairs) + 1``
    consecutive frames after keyframes, with ``"front"`` spread over the fronts of the
    keyframe intervals (:mod:`detector.sampling`); when the file cannot be sought or its
    keyframes found (no index, no timestamps, a seek that lands off a keyframe) they are
    spread as with ``"spread"``.

    Decoding uses PyAV (FFmpeg) and skips the non-reference frames that are not
    sampled (no other frame is predicted from them, so every sampled frame decodes
    to exactly the same pixels as a full decode; about half the frames of an FF++
    H.264 clip are skipped, decoding ~1.5x faster).  OpenCV is the fallback when
    PyAV cannot read the file or its timestamps.

    Raises
    ------
    VideoError
        If the file cannot be opened at all.
    """
    if follow < 0:
        raise ValueError(f"follow must be >= 0, got {follow}")
    check_sampling(sampling)
    p = check_file(path)
    info = info or probe(p, sha256=False)
    if info.kind == "image":
        yield Frame(0, 0.0, read_image(p))
        return
    targets = sample_targets(info.frame_count, n_frames)
    fps = info.fps or 25.0
    nf = max(int(pairs), int(follow))
    # a video of at most n_frames runs is decoded whole anyway: spread samples cover it best
    planned = sampling != DEFAULT_SAMPLING and (info.frame_count <= 0 or info.frame_count > targets.size * (nf + 1))
    n_yielded = 0
    for frame in _decode(p, targets, fps, nf, info.frame_count if planned else None, sampling):
        n_yielded += 1
        yield frame
    if n_yielded == 0 and targets.size and targets[-1] >= n_frames:
        # None of the spread samples exists: the stated length is wrong (an absurd header,
        # a huge timestamp gap).  Read the first frames instead.
        yield from _decode(p, np.arange(n_frames), fps, nf)


def _decode(p: Path, targets: np.ndarray, fps: float, nf: int, runs_of: int | None = None,
            sampling: str = "runs") -> Iterator[Frame]:
    """The ``targets`` frames by PyAV (replanned by ``sampling`` when ``runs_of``, the frame
    count, is given: see :func:`_iter_pyav`), or by OpenCV when PyAV cannot index the file."""
    try:
        yield from _iter_pyav(p, targets, fps, nf, runs_of=runs_of, sampling=sampling)
    except _PyAVUnusable:  # raised before any frame was yielded
        yield from _iter_opencv(p, targets, fps, nf)


class _PyAVUnusable(Exception):
    """PyAV cannot give frame indices for this file: decode it with OpenCV instead."""


def _iter_pyav(p: Path, targets: np.ndarray, fps: float, follow: int | bool,
               stats: dict | None = None, runs_of: int | None = None, sampling: str = "runs") -> Iterator[Frame]:
    """Sampled frames (``targets``, sorted frame indices) decoded by PyAV, each with the
    ``follow`` frames after it (``True`` = 1): see :class:`_PyAVSampler`.  With ``runs_of``
    (the video's frame count, 0 if unknown) the targets are first replanned by ``sampling``:
    ``"runs"`` after their keyframes (:meth:`_PyAVSampler.plan_runs`), ``"front"`` over the
    fronts of the keyframe intervals (:meth:`_PyAVSampler.plan_front`).  ``stats``
    (optional) receives the count of ``decoded`` frames and the ``sampling`` served.

    Raises ``_PyAVUnusable`` before yielding anything when PyAV cannot serve the file.
    """
    try:
        c = av.open(str(p))
    except Exception:
        raise _PyAVUnusable from None
    sampler = None
    try:
        sampler = _PyAVSampler(c, targets, fps, int(follow))
        if runs_of is not None:
            if sampling == "front":
                sampler.plan_front(len(targets))
            else:
                sampler.plan_runs(runs_of)
        yield from sampler.frames()
    except av.error.FFmpegError:
        if sampler is None or sampler.decoded == 0:
            raise _PyAVUnusable from None
    finally:
        if stats is not None:
            stats["decoded"] = 0 if sampler is None else sampler.decoded
            stats["sampling"] = "spread" if sampler is None else sampler.served
        c.close()


class _PyAVSampler:
    """One pass of PyAV over an open video ``container``, giving the ``targets`` frames
    (sorted indices) each with its ``nf`` followers.

    A frame's index is its presentation time times ``fps`` (what OpenCV counts for a
    constant-frame-rate video).  Each packet is decoded in full when its frame is
    wanted (a sample or one of its followers); otherwise the decoder skips it if no
    other frame refers to it (``skip_frame=NONREF``).  In a variable-frame-rate video a
    sample that falls between two frames is the next decoded frame, and a sample's
    followers stop at the first gap.  Raises ``_PyAVUnusable`` when the container has
    no video stream or timestamps to index.
    """

    def __init__(self, container, targets: np.ndarray, fps: float, nf: int) -> None:
        stream = main_video_stream(container)
        if stream is None or targets.size == 0:
            raise _PyAVUnusable
        self.c, self.s = container, stream
        self.cc = self.s.codec_context
        if self.s.time_base is None:
            raise _PyAVUnusable
        self.cc.thread_count = DECODE_THREADS
        self.tb, self.start = float(self.s.time_base), self.s.start_time
        self.fps, self.nf = fps, nf
        self._set_targets(targets)
        self.seek_at: dict[int, int] = {}  # target -> timestamp of the keyframe to seek to (not "spread")
        self.served = "spread"  # the sampling of the targets (changed by a plan that succeeds)
        self.k = 0  # next sample to yield
        self.lazy = None  # whether following frames may stay unconverted (LazyBGR), decided on the first
        self.pending: list[tuple[int, np.ndarray, list]] = []  # samples still collecting followers
        self.decoded = self.bad = 0
        self.last, self.seeked_for = -1, -1  # index of the last frame decoded; sample a seek was made for
        self.rotation: int | None = None  # the display rotation, read from the first frame decoded

    def _set_targets(self, targets: np.ndarray) -> None:
        self.targets = targets
        self.want = set(targets.tolist())
        for j in range(1, self.nf + 1):
            self.want |= set((targets + j).tolist())

    def index(self, pts: int) -> int:
        return int(round((pts - self.start) * self.tb * self.fps))

    def pts_of(self, index: int) -> int:
        """The timestamp of frame ``index`` (the inverse of :meth:`index`)."""
        return int(self.start + round(index / self.fps / self.tb))

    def plan_runs(self, frame_count: int) -> None:
        """Replace the targets by runs of ``nf + 1`` frames after their keyframes
        (:func:`detector.sampling.plan_runs`): a seek to each target gives the keyframe at
        or before it.  Each run that does not continue the one before becomes a seek point
        (:attr:`seek_at`).  The targets stay as they are when the file has no start time, a
        seek fails or lands on a packet that is not a keyframe, or the stream ends before the
        last run (a stated length longer than the file: the spread path then reads the first
        frames)."""
        if self.start is None:
            return
        keys, key_pts, run = [], {}, self.nf + 1
        try:
            for t in self.targets.tolist():
                self.c.seek(self.pts_of(t), stream=self.s, backward=True)
                packets = self.c.demux(self.s)
                pkt = next((q for q in packets if q.pts is not None), None)
                if pkt is None or not pkt.is_keyframe:
                    return
                k = self.index(pkt.pts)
                keys.append(k)
                key_pts.setdefault(k, pkt.pts)
            starts = plan_runs(np.maximum.accumulate(np.array(keys, dtype=int)), run, frame_count)
            last = int(starts[-1]) + run - 1  # demux on (no decoding) to check the last run's frames exist
            if k < last and not any(q.pts is not None and self.index(q.pts) >= last for q in packets):
                return
        except (av.error.FFmpegError, OSError):
            return
        self._set_targets(starts)
        self.served = "runs"
        prev_end = None
        for s in starts.tolist():
            if s != prev_end:  # a new chain: seek to its keyframe (or the one before it)
                self.seek_at[s] = key_pts.get(s, self.pts_of(s))
            prev_end = s + run

    def plan_front(self, n: int, fraction: float = FRONT_FRACTION) -> None:
        """Replace the targets by ``n`` samples spread over the fronts of the keyframe
        intervals (:func:`detector.sampling.plan_front`).  The keyframes and the frame count
        come from reading every packet's timestamp and keyframe flag (no decoding; ~2-4 CPU ms
        an FF++ clip, 0.3 s a 1-hour 720p video).  The first sample of each interval that the
        decoder would otherwise reach through unwanted frames becomes a seek to the interval's
        keyframe (:attr:`seek_at`).
        The targets stay as they are (and the file is read again from its start) when it has
        no start time or no keyframe with a timestamp, or reading the packets fails; raises
        ``_PyAVUnusable`` when it cannot then be read again."""
        if self.start is None:
            return
        key_pts, last = {}, -1
        try:
            for pkt in self.c.demux(self.s):
                if pkt.pts is None:
                    continue
                i = self.index(pkt.pts)
                last = max(last, i)
                if pkt.is_keyframe:
                    key_pts.setdefault(i, pkt.pts)
        except (av.error.FFmpegError, OSError):
            key_pts = {}
        keys = np.array(sorted(key_pts), dtype=int)
        targets = plan_front(keys, last + 1, n, self.nf + 1, fraction)
        if targets.size == 0:
            try:
                self.c.seek(self.start, stream=self.s, backward=True)
            except (av.error.FFmpegError, OSError):
                raise _PyAVUnusable from None
            return
        self._set_targets(targets)
        self.served = "front"
        prev_end = -1  # first frame after the last planned run
        for t, k in zip(targets.tolist(), keys[np.searchsorted(keys, targets, side="right") - 1].tolist()):
            if prev_end < k:  # frames nothing needs lie before this keyframe (or it starts the video)
                self.seek_at[t] = key_pts[k]
            prev_end = t + self.nf + 1

    @property
    def done(self) -> bool:
        return self.k >= len(self.targets) and not self.pending

    def far(self) -> bool:
        """Whether to seek for the next sample (not yet sought): it is more than
        :data:`SEEK_GAP` frames ahead, or it starts a run after a keyframe not reached yet."""
        if self.pending or self.k >= len(self.targets) or self.k == self.seeked_for:
            return False
        t = int(self.targets[self.k])
        if self.seek_at:
            return t in self.seek_at and t > self.last
        return t - self.last > SEEK_GAP

    def frames(self) -> Iterator[Frame]:
        """The sampled frames, in order."""
        while not self.done:
            if self.far() and self.start is not None:
                self._seek()
            status = yield from self._demux()
            if status == "stop":
                return
            if status == "end":
                break
        for i, im, fol in self.pending:
            yield _frame(i, self.fps, im, fol, self.rotation or 0)

    def _seek(self) -> None:
        """Jump to the keyframe before the next sample instead of decoding the gap."""
        self.seeked_for = self.k
        t = int(self.targets[self.k])
        try:
            self.c.seek(self.seek_at.get(t, self.pts_of(t - 1)), stream=self.s, backward=True)
        except av.error.FFmpegError:
            pass

    def _demux(self) -> Iterator[Frame]:
        """Decode from the current position; returns ``"far"`` when the next sample is far
        ahead (seek), ``"end"`` at the end of the stream, ``"stop"`` when every sample was
        given or the stream is too damaged to go on."""
        for pkt in self.c.demux(self.s):
            if pkt.pts is not None and self.start is None:
                self.start = pkt.pts
            self.cc.skip_frame = "DEFAULT" if pkt.pts is None or self.index(pkt.pts) in self.want else "NONREF"
            try:
                frames = pkt.decode()
                self.bad = 0
            except av.error.FFmpegError:
                self.bad += 1
                if self.bad > MAX_BAD_PACKETS:
                    return "stop"
                continue
            for f in frames:
                self.decoded += 1
                if f.pts is None:
                    if self.decoded == 1:
                        raise _PyAVUnusable
                    continue
                yield from self._take(f)
                if self.done:
                    return "stop"
            if self.far():
                return "far"
        return "end"

    def _take(self, f) -> Iterator[Frame]:
        """File decoded frame ``f`` as a follower and/or a sample; yield the samples it completes."""
        idx = self.last = self.index(f.pts)
        if self.rotation is None:
            self.rotation = display_rotation(f)
        img = self._add_follower(f, idx)
        pending = self.pending
        # a sample is done when it has its followers or the next one can no longer come
        while pending and (len(pending[0][2]) >= self.nf or idx > pending[0][0] + len(pending[0][2])):
            i, im, fol = pending.pop(0)
            yield _frame(i, self.fps, im, fol, self.rotation)
        if self.k < len(self.targets) and idx >= self.targets[self.k]:
            if img is None:
                img = to_bgr(f)
            while self.k < len(self.targets) and self.targets[self.k] <= idx:
                self.k += 1
            if self.nf:
                pending.append((idx, img, []))
            else:
                yield _frame(idx, self.fps, img, [], self.rotation)

    def _add_follower(self, f, idx: int) -> np.ndarray | None:
        """Append frame ``f`` (index ``idx``) to the samples it follows; returns its BGR array
        when one was made (None when it is kept as a :class:`LazyBGR` or follows nothing)."""
        img = follower = None
        for i, _, fol in self.pending:
            if len(fol) < self.nf and idx == i + len(fol) + 1:
                if follower is None:
                    is_sample = self.k < len(self.targets) and idx >= self.targets[self.k]
                    if self.lazy is None:  # the first follower's whole conversion checks LazyBGR once
                        img = to_bgr(f)
                        self.lazy = _lazy_is_exact(f, img)
                    if self.lazy and not is_sample and f.format.name in LAZY_FORMATS:
                        follower, img = LazyBGR(f, full=img), None
                    else:
                        follower = img = to_bgr(f) if img is None else img
                fol.append(follower)
        return img


def _iter_opencv(p: Path, targets: np.ndarray, fps: float, follow: int | bool) -> Iterator[Frame]:
    """Sampled frames decoded by OpenCV (``grab`` through the gaps, seek across long ones),
    each with the ``follow`` frames after it (``True`` = 1)."""
    if targets.size == 0:
        return
    nf = int(follow)
    cap = open_capture(p)
    if not cap.isOpened():
        raise VideoError(f"not a readable video: {p.name}")
    try:
        pos = 0  # index of the next frame the decoder will return
        kept: dict[int, np.ndarray] = {}  # frames read past a sample (its followers)

        def read(i: int, seek: bool) -> np.ndarray | None:
            """Frame ``i`` from ``kept`` or the decoder (which must not be past it)."""
            nonlocal pos
            if i in kept:
                return kept[i]
            if i < pos:
                return None
            if seek and i - pos > SEEK_GAP:
                cap.set(cv2.CAP_PROP_POS_FRAMES, float(i))
                pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            while pos < i:
                if not cap.grab():
                    return None
                pos += 1
            ok, img = cap.read()
            if not ok or img is None:
                return None
            pos += 1
            kept[i] = img
            return img

        for t in targets:
            t = int(t)
            img = read(t, seek=True)
            if img is None:
                break
            fol: list[np.ndarray] = []
            for j in range(1, nf + 1):
                nxt = read(t + j, seek=False)
                if nxt is None:
                    break
                fol.append(nxt)
            kept = {i: im for i, im in kept.items() if i > t}
            yield _frame(t, fps, img, fol)
    finally:
        cap.release()


def read_frames(path: str | os.PathLike, n_frames: int = DEFAULT_FRAMES) -> list[Frame]:
    """List version of :func:`iter_frames`."""
    return list(iter_frames(path, n_frames))
