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

import errno
import hashlib
import os
import stat
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

#: Frames and images larger than this many pixels are refused before their pixels are
#: decoded (decompression bombs; peak memory stays under ~1 GB: a 4096x4096 H.264 clip
#: measured 0.72 GB in ``inspect``, an 8K clip 1.1 GB).
MAX_PIXELS = 4096 * 4096

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own chatter stays off stderr
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))  # OpenCV's own image guard

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

#: File name suffixes (lower case) read as videos and as still images: the one list used by
#: dataset folders, the batch scanner and the dashboard's upload check.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS

#: Above this gap (in frames) between two sampled frames the decoder seeks
#: rather than decoding every frame in between.
SEEK_GAP = 600


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


_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"))


def _check_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path when it is a non-empty regular file (symlinks followed), else a
    VideoError naming what it is: missing, a broken link, a symlink loop, a FIFO..."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise VideoError(f"symlink loop: {p}") from None
        if e.errno == errno.ENOENT:
            raise VideoError(f"broken symlink: {p}" if p.is_symlink() else f"file not found: {p}") from None
        raise VideoError(f"cannot read {p}: {e.strerror or e}") from None
    for test, what in _FILE_KINDS:
        if test(st.st_mode):
            raise VideoError(f"not a regular file ({what}): {p}")
    if st.st_size == 0:
        raise VideoError(f"empty file (0 bytes): {p}")
    if not os.access(p, os.R_OK):
        raise VideoError(f"permission denied: {p}")
    return p


def check_pixels(width: int, height: int, name: str, max_pixels: int = MAX_PIXELS) -> None:
    """VideoError when a ``width`` x ``height`` frame or image exceeds ``max_pixels``."""
    if width * height > max_pixels:
        raise VideoError(f"frame too large ({width}x{height} = {width * height / 1e6:.0f} MP, limit "
                         f"{max_pixels / 1e6:.0f} MP): {name}; scale it down first")


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
                raise VideoError(f"not a readable video (no video stream): {p.name}")
            s = c.streams.video[0]
            if s.codec_context is None:
                raise VideoError(f"not a readable video (truncated, or no decoder for its video stream): {p.name}")
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
    except VideoError:
        raise
    except Exception as e:
        reason = (getattr(e, "strerror", None) or str(e).split(":")[0]).strip() or type(e).__name__
        raise VideoError(f"not a readable video ({reason}): {p.name}") from None


def probe(path: str | os.PathLike, sha256: bool = True) -> VideoInfo:
    """Read the metadata of a video or image without decoding its frames.

    A file named as an image (:data:`IMAGE_EXTENSIONS`) is read as an image; when its bytes
    are not an image but a video (a renamed clip), it is read as the video it is.

    Raises
    ------
    VideoError
        If the file is missing, empty, not a regular file, larger than :data:`MAX_PIXELS`
        per frame, or neither a decodable video nor an image.
    """
    p = _check_file(path)
    size = p.stat().st_size
    digest = sha256_file(p) if sha256 else ""
    if is_image_path(p):
        try:
            w, h = image_size(p)
        except VideoError as not_image:
            try:
                meta = _video_meta(p)
            except VideoError:
                raise not_image from None
        else:
            check_pixels(w, h, p.name)
            return VideoInfo(str(p), p.name, size, digest, "image", p.suffix.lower().lstrip("."),
                             "image", w, h, 0.0, 1, 0.0)
    else:
        meta = _video_meta(p)
    return VideoInfo(str(p), p.name, size, digest, "video", meta["container"], meta["codec"],
                     meta["width"], meta["height"], meta["fps"], meta["frame_count"], meta["duration_s"],
                     meta.get("pix_fmt", ""))


def _video_meta(p: Path) -> dict:
    """Checked metadata of a video (PyAV, else OpenCV); VideoError when unreadable or too large."""
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
    check_pixels(meta["width"], meta["height"], p.name)
    return meta


def image_size(p: Path) -> tuple[int, int]:
    """(width, height) of an image from its header (Pillow), pixels not decoded; VideoError
    when Pillow does not recognise the bytes as an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: the budget below decides
            with Image.open(p) as im:
                return im.size
    except Image.DecompressionBombError as e:
        claimed = str(e).split(" exceeds")[0].replace("Image size (", "header claims ").rstrip(")")
        raise VideoError(f"image too large ({claimed}, limit {MAX_PIXELS / 1e6:.0f} MP; a decompression bomb?): "
                         f"{p.name}") from None
    except UnidentifiedImageError:
        raise VideoError(f"not a readable image (not an image format, or damaged): {p.name}") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise VideoError(f"not a readable image (damaged header: {str(e)[:80]}): {p.name}") from None


def _read_image(p: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The (H, W, 3) BGR pixels of an image; its size is checked against ``max_pixels``
    from the header before anything is decoded."""
    w, h = image_size(p)
    check_pixels(w, h, p.name, max_pixels)
    try:
        img = cv2.imdecode(np.fromfile(str(p), dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise VideoError(f"not a readable image ({str(e).strip().splitlines()[-1][:80]}): {p.name}") from None
    if img is None:
        raise VideoError(f"not a readable image (damaged or truncated pixel data): {p.name}")
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


#: FFmpeg decoding threads.  One: the same file decodes to the same pixels wherever it is
#: read (a damaged stream is concealed differently by frame-threaded decoding, so ``inspect``
#: and a scan worker could disagree on it), and one process per core is how batches scale.
DECODE_THREADS = 1


def sample_targets(frame_count: int, n: int) -> np.ndarray:
    """The frame indices :func:`iter_frames` decodes: :func:`sample_indices`, or the first
    ``n`` frames when the length is unknown (``frame_count`` 0)."""
    targets = sample_indices(frame_count, n)
    return targets if targets.size else np.arange(n)


def open_capture(path: str | os.PathLike) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of ``path`` decoding on :data:`DECODE_THREADS` threads."""
    return cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])


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
    info = info or probe(p, sha256=False)
    if info.kind == "image":
        yield Frame(0, 0.0, _read_image(p))
        return
    targets = sample_targets(info.frame_count, n_frames)
    fps = info.fps or 25.0
    nf = max(int(pairs), int(follow))
    n_yielded = 0
    for frame in _decode(p, targets, fps, nf):
        n_yielded += 1
        yield frame
    if n_yielded == 0 and targets.size and targets[-1] >= n_frames:
        # None of the spread samples exists: the stated length is wrong (an absurd header,
        # a huge timestamp gap).  Read the first frames instead.
        yield from _decode(p, np.arange(n_frames), fps, nf)


def _decode(p: Path, targets: np.ndarray, fps: float, nf: int) -> Iterator[Frame]:
    """The ``targets`` frames by PyAV, or by OpenCV when PyAV cannot index the file."""
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
        cc.thread_count = DECODE_THREADS
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
