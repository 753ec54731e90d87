"""Synthetic videos: a demo pair from a packaged image, and self-blended fakes.

Self-blending (after FWA, Face X-ray and Self-Blended Images): the face region of a
genuine frame is transformed (down-and-up-scaled, blurred or sharpened,
colour-shifted, slightly warped) and blended back through a deformed, feathered
mask; the frames are then re-encoded as H.264, as a real fake is, because the
compression history is one of the main cues.  Everything uses OpenCV, NumPy and PyAV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from .faces import Face, detect_faces, face_ellipse


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float = 25.0, crf: int = 23,
                codec: str = "libx264") -> Path:
    """Encode BGR uint8 frames (all the same even size) to ``path`` with PyAV.

    ``crf`` is x264's constant rate factor (18 ~ visually lossless, 23 default, 35 poor).
    """
    import av
    from fractions import Fraction

    path = Path(path)
    container = av.open(str(path), mode="w")
    try:
        stream = None
        for img in frames:
            if stream is None:
                h, w = img.shape[:2]
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                if codec in ("libx264", "h264"):
                    stream.options = {"crf": str(crf), "preset": "veryfast"}
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


def camera_frames(image: np.ndarray, n_frames: int = 50, size: tuple[int, int] = (640, 480),
                  seed: int = 0, noise: float = 2.0, centre: tuple[float, float] = (0.5, 0.5)) -> Iterator[np.ndarray]:
    """Frames of a slow hand-held camera over ``image`` (BGR): smooth pan and zoom around
    ``centre`` (fractions of the width and height) plus sensor noise of ``noise`` grey levels."""
    rng = np.random.default_rng(seed)
    w, h = size
    H, W = image.shape[:2]
    base = max(w / W, h / H) * 1.25
    t = np.linspace(0, 2 * np.pi, n_frames)
    ph = rng.uniform(0, 2 * np.pi, 3)
    for k in range(n_frames):
        s = base * (1 + 0.04 * np.sin(t[k] + ph[0]))
        cx = centre[0] * W + 0.05 * W * np.sin(t[k] + ph[1])
        cy = centre[1] * H + 0.04 * H * np.sin(0.7 * t[k] + ph[2])
        m = np.array([[s, 0, w / 2 - s * cx], [0, s, h / 2 - s * cy]], dtype=np.float64)
        f = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if noise > 0:
            f = np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)
        yield f


@dataclass
class BlendParams:
    """Random choices of one self-blend (kept fixed over a video for temporal coherence)."""

    down: float  # scale of the down-and-up resampling (0.3-0.9)
    blur: float  # Gaussian sigma in pixels at the face's scale (0 = none)
    sharpen: float  # unsharp amount (0 = none)
    shift: tuple[float, float, float]  # BGR offset in grey levels
    warp: float  # relative scale of the pasted face (about 1)
    dx: float  # offset as a fraction of the face width
    mask_scale: float  # mask size relative to the face ellipse
    feather: float  # feather sigma as a fraction of the face width
    alpha: float  # maximum blend opacity


def random_blend_params(rng: np.random.Generator) -> BlendParams:
    return BlendParams(
        down=float(rng.uniform(0.35, 0.8)), blur=float(rng.choice([0.0, rng.uniform(0.5, 1.5)])),
        sharpen=float(rng.choice([0.0, rng.uniform(0.2, 0.8)])),
        shift=tuple(float(v) for v in rng.uniform(-12, 12, 3)), warp=float(rng.uniform(0.97, 1.03)),
        dx=float(rng.uniform(-0.02, 0.02)), mask_scale=float(rng.uniform(0.9, 1.05)),
        feather=float(rng.uniform(0.03, 0.08)), alpha=float(rng.uniform(0.85, 1.0)))


def self_blend(frame: np.ndarray, face: Face, p: BlendParams, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blend a transformed copy of ``face`` back into ``frame`` (BGR uint8 in, out)."""
    rng = rng or np.random.default_rng(0)
    H, W = frame.shape[:2]
    cx, cy, a, b, ang = face_ellipse(face)
    src = frame.astype(np.float32)
    small = cv2.resize(src, (max(8, int(W * p.down)), max(8, int(H * p.down))), interpolation=cv2.INTER_AREA)
    src = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    if p.blur > 0:
        src = cv2.GaussianBlur(src, (0, 0), p.blur)
    if p.sharpen > 0:
        src = cv2.addWeighted(src, 1 + p.sharpen, cv2.GaussianBlur(src, (0, 0), 2.0), -p.sharpen, 0)
    src = src + np.array(p.shift, np.float32)
    m = cv2.getRotationMatrix2D((cx, cy), 0.0, p.warp)
    m[0, 2] += p.dx * 2 * a
    src = cv2.warpAffine(src, m, (W, H), borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((H, W), np.float32)
    # a deformed ellipse: random radial jitter on the polygon that draws it
    th = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    jit = 1 + 0.06 * np.convolve(rng.normal(0, 1, 36), np.ones(5) / 5, mode="same")
    ca, sa = np.cos(ang), np.sin(ang)
    u, v = a * p.mask_scale * jit * np.cos(th), b * p.mask_scale * jit * np.sin(th)
    pts = np.column_stack([cx + u * ca - v * sa, cy + u * sa + v * ca]).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, p.feather * 2 * a)) * p.alpha
    out = src * mask[:, :, None] + frame.astype(np.float32) * (1 - mask[:, :, None])
    return np.clip(out, 0, 255).astype(np.uint8)


def self_blend_frames(frames: Iterable[np.ndarray], seed: int = 0) -> Iterator[np.ndarray]:
    """Self-blend every detected face of every frame (one parameter draw per video)."""
    rng = np.random.default_rng(seed)
    p = random_blend_params(rng)
    for f in frames:
        out = f
        for face in detect_faces(f):
            out = self_blend(out, face, p, rng)
        yield out


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut photo (a real face, public domain) as BGR."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def make_demo_pair(out_dir: str | os.PathLike, n_frames: int = 50, fps: float = 25.0, seed: int = 0,
                   crf: int = 20) -> tuple[Path, Path]:
    """Write ``demo_real.mp4`` (camera motion over the astronaut photo) and
    ``demo_fake.mp4`` (the same frames, self-blended, then encoded once).

    Both are **synthetic**: made here from a packaged image, not from any dataset.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = list(camera_frames(astronaut_bgr(), n_frames, seed=seed, centre=(0.45, 0.33)))
    real = write_video(frames, out / "demo_real.mp4", fps=fps, crf=crf)
    fake = write_video(self_blend_frames(frames, seed=seed + 1), out / "demo_fake.mp4", fps=fps, crf=crf)
    return real, fake
