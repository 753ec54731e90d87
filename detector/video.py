"""Video input: file checks, metadata for chain of custody, still images.

:func:`probe` reads a video's or an image's metadata (PyAV for videos, Pillow for image
headers) and its SHA-256 without decoding pixels, refusing missing, special, empty,
undecodable and oversized files with a one-line :class:`VideoError`.  Frame sampling and
decoding are in :mod:`detector.decode`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

#: Frames and images larger than this many pixels are refused before their pixels are
#: decoded (decompression bombs; peak memory stays under ~1 GB: a 4096x4096 H.264 clip
#: measured 0.72 GB in ``inspect``, an 8K clip 1.1 GB).
MAX_PIXELS = 4096 * 4096

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own chatter stays off stderr
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))  # OpenCV's own image guard

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

#: File name suffixes (lower case) read as videos and as still images: the one list used by
#: dataset folders, the batch scanner and the dashboard's upload check.
# .3gp/.3g2: older phones and messengers; .mts/.m2ts: camcorders (AVCHD); .gif: animated GIFs, as
# face swaps are passed around ("Transport stream" .ts is left out: it is also TypeScript source)
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv",
                    ".3gp", ".3g2", ".mts", ".m2ts", ".ogv", ".gif")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS

class VideoError(Exception):
    """A file that cannot be read as a video or an image (message is one line, user-facing)."""


@dataclass(frozen=True)
class VideoInfo:
    """Metadata of a video or image file.

    ``fps`` is frames per second, ``duration_s`` seconds, ``size_bytes`` the file size;
    ``sha256`` is the hex digest of the file's bytes (chain of custody); ``pix_fmt`` the
    decoder's pixel format (e.g. ``yuv420p``, ``yuv444p``: the chroma subsampling the
    video was encoded with; empty for images or when only OpenCV could read the file);
    ``rotation`` how a player turns the stored picture to show it (degrees counter-clockwise:
    0, 90, 180 or 270; a phone's portrait video is stored sideways), read from the decoded
    frames: :func:`probe` decodes none and leaves it 0, :func:`detector.analysis.analyze`
    fills it in.
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
    rotation: int = 0

    def to_dict(self) -> dict:
        return asdict(self)



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


def check_file(path: str | os.PathLike) -> Path:
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


def main_video_stream(container):
    """The video stream of an open PyAV ``container`` that a file is analysed on: of its video
    streams that are not attached pictures (cover art), the one with the most pixels, the first
    of equals (a small preview or blank track stored before the camera's stream is passed
    over); the first video stream when every one is a picture; None without video."""
    streams = list(container.streams.video)
    moving = [s for s in streams if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not moving:
        return streams[0] if streams else None

    def pixels(s) -> int:
        cc = s.codec_context
        return 0 if cc is None else int(cc.width or 0) * int(cc.height or 0)

    return max(moving, key=pixels)  # max keeps the first of equals


def _probe_pyav(p: Path) -> dict:
    """Metadata from PyAV; VideoError when it cannot read the file."""
    try:
        with av.open(str(p)) as c:
            s = main_video_stream(c)
            if s is None:
                raise VideoError(f"not a readable video (no video stream): {p.name}")
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
    """Read the metadata of a video or image without decoding its frames (a video's: of the
    stream it is analysed on, :func:`main_video_stream`).

    A file named as an image (:data:`IMAGE_EXTENSIONS`) is read as an image; when its bytes
    are not an image but a video (a renamed clip), it is read as the video it is.

    Raises
    ------
    VideoError
        If the file is missing, empty, not a regular file, larger than :data:`MAX_PIXELS`
        per frame, or neither a decodable video nor an image.
    """
    p = check_file(path)
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
    """Checked metadata of a video; VideoError when unreadable or too large."""
    meta = _probe_pyav(p)
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


def read_image(p: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
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


