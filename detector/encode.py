"""Writing videos with PyAV: synthetic clips, self-blended fakes, degraded copies.

:func:`write_video` encodes a sequence of frames at once; :class:`VideoEncoder` writes
frames as they come (several outputs from one decode) under a temporary name.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np


def _add_video_stream(container, shape: tuple[int, ...], fps: float, crf: int, codec: str,
                      preset: str = "veryfast", keyint: int | None = None, pix_fmt: str = "yuv420p",
                      rotation: int = 0):
    """A ``pix_fmt`` video stream of ``container`` for frames of ``shape`` (cropped to even
    sizes); for H.264, x264's ``crf``, ``preset`` and maximum keyframe distance ``keyint``;
    ``rotation`` a display rotation for players (degrees counter-clockwise; 0: none)."""
    h, w = shape[:2]
    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
    stream.width, stream.height = w - w % 2, h - h % 2
    stream.pix_fmt = pix_fmt
    if rotation:
        stream.set_display_rotation(rotation)
    if codec in ("libx264", "h264"):
        stream.options = {"crf": str(crf), "preset": preset, **({"g": str(int(keyint))} if keyint else {})}
    elif codec == "libvpx-vp9":  # constant quality, realtime speed (as platforms' live encoders)
        stream.options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                          "threads": "1", **({"g": str(int(keyint))} if keyint else {})}
    elif codec == "libx265":  # HEVC, as phones record (x265 constant quality; its log to errors only)
        stream.options = {"crf": str(crf), "preset": preset,
                          "x265-params": "log-level=error" + (f":keyint={int(keyint)}" if keyint else "")}
    elif codec == "libsvtav1":  # SVT-AV1 constant quality, a fast preset, one thread
        # SVT-AV1 prints its banner and settings to stderr at every encoder start unless told
        # otherwise (read once, when the process opens its first SVT-AV1 encoder: this one, as every
        # AV1 file of the project is written here; 1 = errors only); a caller's own setting wins
        os.environ.setdefault("SVT_LOG", "1")
        stream.options = {"crf": str(crf), "preset": "10",
                          "svtav1-params": "lp=1" + (f":keyint={int(keyint)}" if keyint else "")}
    return stream


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 25.0, crf: int = 23,
                codec: str = "libx264", keyint: int | None = None, pix_fmt: str = "yuv420p",
                rotation: int = 0) -> Path:
    """Encode BGR uint8 frames (all the same even size) to ``path`` with PyAV.

    ``crf`` is x264's constant rate factor (18 ~ visually lossless, 23 default, 35 poor);
    ``keyint`` the maximum distance between keyframes (x264's default: 250 frames);
    ``pix_fmt`` the encoded pixel format (``yuv444p``: full-resolution chroma, as FF++'s files);
    ``rotation`` the display rotation players apply (degrees counter-clockwise; a phone's
    portrait clip: frames stored sideways, 90 or 270).
    """
    path = Path(path)
    container = av.open(str(path), mode="w")
    try:
        stream = None
        for img in frames:
            if stream is None:
                stream = _add_video_stream(container, img.shape, fps, crf, codec, keyint=keyint, pix_fmt=pix_fmt,
                                           rotation=rotation)
            img = img[: stream.height, : stream.width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    finally:
        container.close()
    return path


class VideoEncoder:
    """Incremental H.264 writer (PyAV, ``pix_fmt`` (default yuv420p), x264 ``preset``
    (default veryfast, as :func:`write_video`), CRF), for writing several outputs while
    decoding once.
    The file is written under a temporary name and renamed on a clean :meth:`close`,
    so a killed run never leaves a half-written video under the final name."""

    def __init__(self, path: str | os.PathLike, fps: float = 25.0, crf: int = 23, codec: str = "libx264",
                 preset: str = "veryfast", pix_fmt: str = "yuv420p"):
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.stem + ".part" + self.path.suffix)
        self.fps, self.crf, self.codec, self.preset, self.pix_fmt = fps, crf, codec, preset, pix_fmt
        self._container = av.open(str(self._tmp), mode="w")
        self._stream = None
        self.n_frames = 0

    def write(self, img: np.ndarray) -> None:
        if self._stream is None:
            self._stream = _add_video_stream(self._container, img.shape, self.fps, self.crf, self.codec, self.preset,
                                             pix_fmt=self.pix_fmt)
        img = img[: self._stream.height, : self._stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.n_frames += 1

    def close(self, ok: bool = True) -> Path | None:
        try:
            if ok and self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
        if ok and self._stream is not None:
            os.replace(self._tmp, self.path)
            return self.path
        self._tmp.unlink(missing_ok=True)
        return None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(ok=exc_type is None)
