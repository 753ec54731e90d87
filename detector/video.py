"""Video input: metadata for chain of custody and streaming frame sampling.

Frames are decoded sequentially with PyAV (FFmpeg), so memory stays bounded whatever
the length of the video; only the sampled frames are converted to arrays.  The decoder
skips the non-reference frames that are not sampled (no other frame is predicted from
them, so the sampled frames are bit-identical to a full decode; on the 125 FF++ clips
55 % of the frames up to the last sample were decoded and decoding took 0.68x the time
of OpenCV reading every frame).  When two sampled frames are far apart (a long video),
the decoder seeks to the keyframe before the next one instead of decoding the gap.
OpenCV (``VideoCapture.grab``) is the fallback for files PyAV cannot index.  Metadata
that OpenCV cannot give (container, codec name, exact duration) comes from PyAV.

Sampling strategy (``sample_indices``): ``n`` frames spread evenly over the video,
each at the centre of one of ``n`` equal segments, so the first and last seconds
(often fades or titles) are not over-represented.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own chatter stays off stderr

import cv2  # noqa: E402
import numpy as np  # noqa: E402

#: File name suffixes (lower case) read as videos and as still images: the one list used by
#: dataset folders, the batch scanner and the dashboard's upload check.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS

#: Above this gap (in frames) between two sampled frames the decoder seeks
#: rather than decoding every frame in between.
SEEK_GAP = 600
#: Frames larger than this many pixels are refused (guards against decompression bombs).
MAX_PIXELS = 8192 * 8192


class VideoError(Exception):
    """A file that cannot be read as a video or an image (message is one line, user-facing)."""


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video or image file.

    ``fps`` is frames per second, ``duration_s`` seconds, ``size_bytes`` the file size;
    ``sha256`` is the hex digest of the file's bytes (chain of custody); ``pix_fmt`` the
    decoder's pixel format (e.g. ``yuv420p``, ``yuv444p``: the chroma subsampling the
    video was encoded with; empty for images or when only OpenCV could read the file).
    """

    path: str
    name: str
    size_bytes: int
    sha256: str
    kind: str  # "video" or "image"
    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    pix_fmt: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image`` is a (H, W, 3) uint8 BGR array on the original pixel grid;
    ``following`` the frames right after it (index + 1, index + 2, ...) when asked for
    (``follow`` / ``pairs``), as many as were asked and exist; ``next_image`` the first of
    them (for the temporal-flicker features), else None.  A following frame is a BGR array
    or, from a 4:4:4 video, a :class:`LazyBGR` that converts only what is read (the same
    pixels)."""

    index: int
    time_s: float
    image: np.ndarray
    next_image: np.ndarray | None = None
    following: tuple = ()  # of np.ndarray or LazyBGR


class LazyBGR:
    """A decoded frame that is converted to BGR only where it is read.

    ``f[y0:y1, x0:x1]`` converts just that crop and ``np.asarray(f)`` the whole frame
    (kept); both give exactly the pixels of ``frame.to_ndarray(format="bgr24")``.  ``shape``
    is (H, W, 3).  For 4:4:4 video only, where FFmpeg's whole-frame conversion is slow
    (~7 ms a 720p frame, ~1 ms a face crop) and each pixel converts on its own; the block
    run reads only the face crops of its following frames.
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
        import av  # type: ignore

        f = self._frame
        sub = np.stack([np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[y0:y1, x0:x1] for p in f.planes])
        g = av.VideoFrame.from_ndarray(sub, format="yuv444p")
        g.colorspace, g.color_range = f.colorspace, f.color_range
        return g.to_ndarray(format="bgr24")

    def __getitem__(self, key):
        if self._full is None and isinstance(key, tuple) and len(key) == 2 \
                and all(isinstance(k, slice) and k.step in (None, 1) for k in key):
            (y0, y1, _), (x0, x1, _) = key[0].indices(self.shape[0]), key[1].indices(self.shape[1])
            if y1 > y0 and x1 > x0:
                return self.crop(y0, y1, x0, x1)
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if self._full is None:
            self._full = self._frame.to_ndarray(format="bgr24")
        return self._full if dtype is None else self._full.astype(dtype)


def _lazy_is_exact(frame, full: np.ndarray) -> bool:
    """Whether :class:`LazyBGR` crops of this 4:4:4 ``frame`` equal ``full``, its whole-frame
    conversion (checked once per video on an odd-placed crop; else followers are converted whole)."""
    if frame.format.name != "yuv444p" or frame.height < 8 or frame.width < 8:
        return False
    try:
        y0, x0 = frame.height // 4 | 1, frame.width // 3 | 1
        y1, x1 = min(frame.height, y0 + frame.height // 2), min(frame.width, x0 + frame.width // 2)
        return bool(np.array_equal(LazyBGR(frame).crop(y0, y1, x0, x1), full[y0:y1, x0:x1]))
    except Exception:  # an unexpected frame layout: convert whole frames as before
        return False


def _frame(index: int, fps: float, image: np.ndarray, following: list) -> Frame:
    return Frame(index, index / fps, image, following[0] if following else None, tuple(following))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks (bounded memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"file not found: {p}")
    if not p.is_file():
        raise VideoError(f"not a regular file: {p}")
    if p.stat().st_size == 0:
        raise VideoError(f"empty file (0 bytes): {p}")
    return p


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _probe_pyav(p: Path) -> dict | None:
    """Metadata from PyAV; None when PyAV is absent, raises VideoError when it cannot read the file."""
    try:
        import av  # type: ignore
    except ImportError:  # pragma: no cover - PyAV is in requirements
        return None
    try:
        with av.open(str(p)) as c:
            if not c.streams.video:
                raise VideoError(f"no video stream in {p.name}")
            s = c.streams.video[0]
            fps = float(s.average_rate) if s.average_rate else 0.0
            duration = 0.0
            if s.duration is not None and s.time_base is not None:
                duration = float(s.duration * s.time_base)
            elif c.duration is not None:
                duration = c.duration / 1_000_000
            frames = int(s.frames or 0)
            if frames == 0 and duration and fps:
                frames = int(round(duration * fps))
            return {
                "container": c.format.name.split(",")[0],
                "codec": s.codec_context.name,
                "width": int(s.codec_context.width),
                "height": int(s.codec_context.height),
                "fps": fps,
                "frame_count": frames,
                "duration_s": duration,
                "pix_fmt": str(s.codec_context.pix_fmt or ""),
            }
    except Exception as e:
        reason = (getattr(e, "strerror", None) or str(e).split(":")[0]).strip() or type(e).__name__
        raise VideoError(f"not a readable video ({reason}): {p.name}") from None


def probe(path: str | os.PathLike, sha256: bool = True) -> VideoInfo:
    """Read the metadata of a video or image without decoding its frames.

    Raises
    ------
    VideoError
        If the file is missing, empty, or neither a decodable video nor an image.
    """
    p = _check_file(path)
    size = p.stat().st_size
    digest = sha256_file(p) if sha256 else ""
    if is_image_path(p):
        img = _read_image(p)
        h, w = img.shape[:2]
        return VideoInfo(str(p), p.name, size, digest, "image", p.suffix.lower().lstrip("."),
                         "image", w, h, 0.0, 1, 0.0)
    meta = _probe_pyav(p)
    if meta is None:
        cap = cv2.VideoCapture(str(p))
        try:
            if not cap.isOpened():
                raise VideoError(f"not a readable video (no decodable video stream): {p.name}")
            w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
            codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "unknown"
            meta = {"container": p.suffix.lower().lstrip("."), "codec": codec, "width": w, "height": h,
                    "fps": fps, "frame_count": n, "duration_s": n / fps if fps else 0.0}
        finally:
            cap.release()
    if meta["width"] <= 0 or meta["height"] <= 0:
        raise VideoError(f"not a readable video (no frame size): {p.name}")
    if meta["width"] * meta["height"] > MAX_PIXELS:
        raise VideoError(f"frame too large ({meta['width']}x{meta['height']}): {p.name}")
    return VideoInfo(str(p), p.name, size, digest, "video", meta["container"], meta["codec"],
                     meta["width"], meta["height"], meta["fps"], meta["frame_count"], meta["duration_s"],
                     meta.get("pix_fmt", ""))


def _read_image(p: Path) -> np.ndarray:
    data = np.fromfile(str(p), dtype=np.uint8)
    # Refuse decompression bombs before decoding the pixels.
    try:
        from PIL import Image  # pillow comes with scikit-image / streamlit

        with Image.open(str(p)) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise VideoError(f"image too large ({im.size[0]}x{im.size[1]}): {p.name}")
    except VideoError:
        raise
    except Exception:
        pass
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise VideoError(f"not a readable image: {p.name}")
    return img


def sample_indices(frame_count: int, n: int) -> np.ndarray:
    """Indices of ``n`` frames spread evenly over ``frame_count`` frames.

    Each index is the centre of one of ``n`` equal segments; fewer than ``n`` unique
    indices are returned when the video is shorter than ``n`` frames.

    >>> sample_indices(100, 4).tolist()
    [12, 37, 62, 87]
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if frame_count <= 0:
        return np.zeros(0, dtype=int)
    idx = np.floor((np.arange(n) + 0.5) * frame_count / n).astype(int)
    return np.unique(np.clip(idx, 0, frame_count - 1))


#: FFmpeg decoding threads of :func:`iter_frames` (0 = FFmpeg's choice: several, lower
#: latency for one video).  Batch workers set 1 through
#: :func:`detector.faces.limit_threads`: one process per core, and a single-threaded
#: decoder spends less CPU per frame (measured: 5.3 vs 5.4-7.5 CPU s for 4 clips).
DECODE_THREADS = 0


def sample_targets(frame_count: int, n: int) -> np.ndarray:
    """The frame indices :func:`iter_frames` decodes: :func:`sample_indices`, or the first
    ``n`` frames when the length is unknown (``frame_count`` 0)."""
    targets = sample_indices(frame_count, n)
    return targets if targets.size else np.arange(n)


def _decode_threads() -> int:
    """:data:`DECODE_THREADS`, or 1 when this process may use a single core (extra
    threads would only add overhead); 0 = FFmpeg's choice."""
    if DECODE_THREADS <= 0 and hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) == 1:
        return 1
    return DECODE_THREADS


def open_capture(path: str | os.PathLike) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of ``path`` with :func:`_decode_threads` decoding threads."""
    threads = _decode_threads()
    if threads > 0:
        return cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, int(threads)])
    return cv2.VideoCapture(str(path))


def iter_frames(path: str | os.PathLike, n_frames: int = 16, info: VideoInfo | None = None,
                pairs: bool = False, follow: int = 0) -> Iterator[Frame]:
    """Yield ``n_frames`` frames spread over the video, decoding sequentially.

    Only the sampled frames are converted to arrays; the video is never held in
    memory.  An image yields one frame.  A truncated video yields the sampled
    frames that could be decoded (possibly none).  With ``follow`` = k, each frame
    also carries the k frames right after it (``Frame.following``, fewer at the end of
    the video); ``pairs`` asks for at least one (``Frame.next_image``; None after the
    last frame).

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
    p = _check_file(path)
    if is_image_path(p):
        yield Frame(0, 0.0, _read_image(p))
        return
    info = info or probe(p, sha256=False)
    targets = sample_targets(info.frame_count, n_frames)
    fps = info.fps or 25.0
    nf = max(int(pairs), int(follow))
    try:
        yield from _iter_pyav(p, targets, fps, nf)
    except _PyAVUnusable:  # raised before any frame was yielded
        yield from _iter_opencv(p, targets, fps, nf)


class _PyAVUnusable(Exception):
    """PyAV cannot give frame indices for this file: decode it with OpenCV instead."""


#: Consecutive undecodable packets after which a damaged video is given up.
MAX_BAD_PACKETS = 50


def _iter_pyav(p: Path, targets: np.ndarray, fps: float, follow: int | bool,
               stats: dict | None = None) -> Iterator[Frame]:
    """Sampled frames (``targets``, sorted frame indices) decoded by PyAV, each with the
    ``follow`` frames after it (``True`` = 1).

    A frame's index is its presentation time times ``fps`` (what OpenCV counts for a
    constant-frame-rate video).  Each packet is decoded in full when its frame is
    wanted (a sample or one of its followers); otherwise the decoder skips it if no
    other frame refers to it (``skip_frame=NONREF``).  In a variable-frame-rate video a
    sample that falls between two frames is the next decoded frame, and a sample's
    followers stop at the first gap.  ``stats`` (optional) receives the count of
    ``decoded`` frames.

    Raises ``_PyAVUnusable`` before yielding anything when PyAV cannot serve the file.
    """
    try:
        import av  # type: ignore
    except ImportError:  # pragma: no cover - PyAV is in requirements
        raise _PyAVUnusable from None
    try:
        c = av.open(str(p))
    except Exception:
        raise _PyAVUnusable from None
    nf = int(follow)
    try:
        if not c.streams.video or targets.size == 0:
            raise _PyAVUnusable
        s = c.streams.video[0]
        cc = s.codec_context
        if s.time_base is None:
            raise _PyAVUnusable
        threads = _decode_threads()
        if threads == 1:
            cc.thread_count = 1
        else:
            cc.thread_type = "AUTO"
            cc.thread_count = threads  # 0: FFmpeg's choice
        tb = float(s.time_base)
        start = s.start_time
        want = set(targets.tolist())
        for j in range(1, nf + 1):
            want |= set((targets + j).tolist())

        def index(pts: int) -> int:
            return int(round((pts - start) * tb * fps))

        k = 0  # next sample to yield
        lazy = None  # whether following frames may stay unconverted (LazyBGR), decided on the first
        pending: list[tuple[int, np.ndarray, list]] = []  # samples still collecting followers (arrays, LazyBGR)
        decoded = bad = 0
        last, seeked_for = -1, -1  # index of the last frame decoded; sample a seek was made for

        def far() -> bool:
            return not pending and k < len(targets) and k != seeked_for and targets[k] - last > SEEK_GAP

        while k < len(targets) or pending:
            if far() and start is not None:
                # Far ahead: jump to the keyframe before the sample instead of decoding the gap.
                seeked_for = k
                try:
                    c.seek(int(start + round((targets[k] - 1) / fps / tb)), stream=s, backward=True)
                except av.error.FFmpegError:
                    pass
            restart = False
            for pkt in c.demux(s):
                if pkt.pts is not None and start is None:
                    start = pkt.pts
                cc.skip_frame = "DEFAULT" if pkt.pts is None or index(pkt.pts) in want else "NONREF"
                try:
                    frames = pkt.decode()
                    bad = 0
                except av.error.FFmpegError:
                    bad += 1
                    if bad > MAX_BAD_PACKETS:
                        return
                    continue
                for f in frames:
                    decoded += 1
                    if f.pts is None:
                        if decoded == 1:
                            raise _PyAVUnusable
                        continue
                    idx = last = index(f.pts)
                    img = follower = None
                    for i, _, fol in pending:
                        if len(fol) < nf and idx == i + len(fol) + 1:
                            if follower is None:
                                is_sample = k < len(targets) and idx >= targets[k]
                                if lazy is None:  # the first follower's whole conversion checks LazyBGR once
                                    img = f.to_ndarray(format="bgr24")
                                    lazy = _lazy_is_exact(f, img)
                                if lazy and not is_sample and f.format.name == "yuv444p":
                                    follower, img = LazyBGR(f, full=img), None
                                else:
                                    follower = img = f.to_ndarray(format="bgr24") if img is None else img
                            fol.append(follower)
                    # a sample is done when it has its followers or the next one can no longer come
                    while pending and (len(pending[0][2]) >= nf or idx > pending[0][0] + len(pending[0][2])):
                        i, im, fol = pending.pop(0)
                        yield _frame(i, fps, im, fol)
                    if k < len(targets) and idx >= targets[k]:
                        if img is None:
                            img = f.to_ndarray(format="bgr24")
                        while k < len(targets) and targets[k] <= idx:
                            k += 1
                        if nf:
                            pending.append((idx, img, []))
                        else:
                            yield _frame(idx, fps, img, [])
                    if k >= len(targets) and not pending:
                        return
                if far():
                    restart = True
                    break
            if not restart:
                break  # end of the stream
        for i, im, fol in pending:
            yield _frame(i, fps, im, fol)
    except av.error.FFmpegError:
        if decoded == 0:
            raise _PyAVUnusable from None
    finally:
        if stats is not None:
            stats["decoded"] = decoded
        c.close()


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


def read_frames(path: str | os.PathLike, n_frames: int = 16) -> list[Frame]:
    """List version of :func:`iter_frames`."""
    return list(iter_frames(path, n_frames))
