"""Synthetic videos: a demo pair from a packaged image, and self-blended fakes.

Self-blending (after FWA, Face X-ray and Self-Blended Images): the face region of a
genuine frame is transformed (down-and-up-scaled, blurred or sharpened,
colour-shifted, slightly warped) and blended back through a deformed, feathered
mask; the frames are then re-encoded as H.264, as a real fake is, because the
compression history is one of the main cues.  Everything uses OpenCV, NumPy and PyAV.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import av
import cv2
import numpy as np
import skimage.data

from .decode import iter_frames
from .encode import VideoEncoder, write_video
from .faces import Face, detect_faces, face_ellipse
from .video import main_video_stream, probe


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

    down: float  # scale of the down-and-up resampling (0.15-0.8)
    blur: float  # Gaussian sigma in pixels at the face's scale (0 = none)
    sharpen: float  # unsharp amount (0 = none)
    shift: tuple[float, float, float]  # BGR offset in grey levels
    warp: float  # relative scale of the pasted face (about 1)
    dx: float  # offset as a fraction of the face width
    mask_scale: float  # mask size relative to the face ellipse
    feather: float  # feather sigma as a fraction of the face width
    alpha: float  # maximum blend opacity


def random_blend_params(rng: np.random.Generator, down: tuple[float, float] = (0.35, 0.8)) -> BlendParams:
    """One random draw of :class:`BlendParams`; ``down``: the range of the resampling scale."""
    return BlendParams(
        down=float(rng.uniform(*down)), blur=float(rng.choice([0.0, rng.uniform(0.5, 1.5)])),
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
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def make_demo_pair(out_dir: str | os.PathLike, n_frames: int = 50, fps: float = 25.0, seed: int = 0,
                   crf: int = 23, history_crf: int | None = 36) -> tuple[Path, Path]:
    """Write ``demo_real.mp4`` (camera motion over the astronaut photo) and
    ``demo_fake.mp4`` (the same frames, self-blended, then encoded).

    Like FaceForensics++, whose sources were already-compressed online videos: the
    camera frames are first encoded at ``history_crf`` (the "upload") and decoded; the
    genuine clip re-encodes them at ``crf``, the tampered twin blends a transformed face
    into them (erasing that compression history inside the face) and encodes at ``crf``.
    Both are **synthetic**: made here from a packaged image, not from any dataset.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = list(camera_frames(astronaut_bgr(), n_frames, seed=seed, centre=(0.45, 0.33)))
    if history_crf is not None:
        upload = write_video(frames, out / "_upload.mp4", fps=fps, crf=history_crf)
        frames = [f.image for f in iter_frames(upload, n_frames)]
        upload.unlink()
    real = write_video(frames, out / "demo_real.mp4", fps=fps, crf=crf)
    fake = write_video(self_blend_frames(frames, seed=seed + 1), out / "demo_fake.mp4", fps=fps, crf=crf)
    return real, fake


# --------------------------------------------------------------------------
# Self-blended fakes of genuine videos (training data from real videos only)
# --------------------------------------------------------------------------

#: x264 CRF ranges (inclusive) drawn for the re-encode of a self-blended video, by the
#: source's compression: FF++ c23 was encoded at quality 23, c40 at 40.  The draw is
#: centred on the source's level so the fake's compression history looks like the
#: dataset's own fakes (blended, then encoded once at about the source's quality).
CRF_RANGES = {"c40": (34, 40), "lq": (34, 40), "default": (19, 27)}


def crf_for(compression: str | None, rng: np.random.Generator) -> int:
    """A CRF drawn for a source of ``compression``: 19-27 (centre 23) for c23-like,
    raw or unknown sources, 34-40 (centre 37) for c40-like (low quality) sources."""
    lo, hi = CRF_RANGES.get(str(compression or "").lower(), CRF_RANGES["default"])
    return int(rng.integers(lo, hi + 1))


#: x264 preset of the self-blended fakes and their controls: FFmpeg's default, "medium",
#: is what FF++'s own c23/c40 files carry in their x264 SEI (ref=3 subme=7 trellis=1).
SELF_BLEND_PRESET = "medium"

#: Version of the self-blended synthesis, stored in each record: videos made by another
#: version are made again (1: x264 veryfast, 4:2:0; 2: medium; 3: the source's pixel format;
#: 4: the face resampled at 0.15-0.35 of its size, :data:`SELF_BLEND_DOWN`).
SELF_BLEND_VERSION = 4

#: Range of the down-and-up resampling scale of a self-blended video's face: a swapped face
#: is rendered at a fraction of its size in the frame (FF++'s generators: 64-256 px) and
#: warped in; at this scale the face loses the block grid about as much as a real swap's.
SELF_BLEND_DOWN = (0.15, 0.35)

#: Pixel formats a self-blended video may keep from its source (x264 encodes all three);
#: any other source format is written as yuv420p.
SELF_BLEND_PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p")


def self_blend_pix_fmt(source_pix_fmt: str | None) -> str:
    """The pixel format a self-blended fake (and its control) is encoded in: the source's
    own chroma subsampling when x264 can write it, else yuv420p.  FF++'s files are
    yuv444p (its frames were encoded from RGB images), most platform videos yuv420p; a
    real fake of either is re-encoded like the genuine videos around it."""
    fmt = str(source_pix_fmt or "").replace("yuvj", "yuv")  # full-range JPEG variants
    return fmt if fmt in SELF_BLEND_PIX_FMTS else "yuv420p"


def decode_span(path: str | os.PathLike, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Stream BGR frames ``start`` .. ``start + count - 1`` of a video with PyAV, one at a
    time (never the whole video in memory).

    Decodes sequentially from the beginning (seeking is not used: on some FF++ files the
    keyframes are not IDR frames and frames decoded after a seek are corrupt); before the
    span the decoder skips non-reference frames (no other frame is predicted from them)
    and frames are not converted, so reaching the middle of a video costs little.  Frame
    indices come from the timestamps, or from counting when there are none.
    """
    container = av.open(str(path))
    try:
        s = main_video_stream(container)
        fps = float(s.average_rate or s.guessed_rate or 25.0)
        tb = float(s.time_base) if s.time_base else 0.0
        t0 = s.start_time or 0
        cc = s.codec_context
        skipping = start > 1 and tb > 0
        if skipping:
            cc.skip_frame = "NONREF"
        n, pos = 0, -1
        for frame in container.decode(s):
            if frame.pts is not None and tb > 0:
                pos = int(round((frame.pts - t0) * tb * fps))
            elif skipping:  # no timestamps: cannot skip safely, start over counting every frame
                container.close()
                yield from _decode_counting(path, start, count)
                return
            else:
                pos += 1
            if skipping and pos >= start - 8:  # decode everything from shortly before the span
                cc.skip_frame = "DEFAULT"
                skipping = False
            if pos < start:
                continue
            yield frame.to_ndarray(format="bgr24")
            n += 1
            if count is not None and n >= count:
                break
    finally:
        container.close()


def _decode_counting(path, start: int, count: int | None) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(main_video_stream(container))):
            if k < start:
                continue
            if count is not None and k >= start + count:
                break
            yield frame.to_ndarray(format="bgr24")


def self_blend_region(frame: np.ndarray, face: Face, p: BlendParams, rng: np.random.Generator | None = None,
                      margin: float = 2.2) -> np.ndarray:
    """:func:`self_blend` applied to a crop around the face only (``margin`` x the face
    ellipse's larger semi-axis on each side, well beyond the feathered mask), pasted back
    into a copy of ``frame``.  Same transform and mask, a fraction of the cost on large
    frames (the whole-frame version resamples and blurs every pixel)."""
    cx, cy, a, b, _ = face_ellipse(face)
    r = margin * max(a, b) + 8
    H, W = frame.shape[:2]
    x0, y0 = max(0, int(cx - r)), max(0, int(cy - r))
    x1, y1 = min(W, int(np.ceil(cx + r))), min(H, int(np.ceil(cy + r)))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return frame
    shifted = Face((face.box[0] - x0, face.box[1] - y0, face.box[2], face.box[3]),
                   np.asarray(face.landmarks, float) - np.array([x0, y0], float), face.confidence)
    out = frame.copy()
    out[y0:y1, x0:x1] = self_blend(np.ascontiguousarray(frame[y0:y1, x0:x1]), shifted, p, rng)
    return out


def self_blended_video(src: str | os.PathLike, dst: str | os.PathLike, max_frames: int = 96, seed: int = 0,
                       crf: int | None = None, compression: str | None = None,
                       control_dst: str | os.PathLike | None = None, min_face_share: float = 0.25) -> dict:
    """Write a self-blended fake of the genuine video ``src`` to ``dst`` (H.264 .mp4).

    Up to ``max_frames`` consecutive frames from the middle of ``src`` are decoded one at
    a time; every detected face of every frame is self-blended (:func:`self_blend` on a crop
    around the face, :func:`self_blend_region`) with
    **one** parameter draw for the whole video (:func:`random_blend_params`) and one
    fixed mask deformation, so the fake is temporally coherent like a real one; the
    frames are then encoded once as H.264 at ``crf`` (default: drawn by
    :func:`crf_for` from the source's ``compression``), in the source's chroma
    subsampling (:func:`self_blend_pix_fmt`), since a real fake is blended first and
    compressed afterwards, like the genuine videos it hides among.

    ``control_dst``: also write the *same* frames without blending, encoded at the same
    CRF (a genuine clip with the fake's compression history), so that a model trained on
    the pair can only learn the blend, not "was re-encoded once more".

    Returns a JSON-ready dict: src, dst, control, start, n_frames, fps, width, height,
    crf, pix_fmt, seed, params (the :class:`BlendParams`), frames_with_face, faces_blended,
    version (:data:`SELF_BLEND_VERSION`).

    Raises ``ValueError`` (and writes nothing) when faces were found in fewer than
    ``min_face_share`` of the frames: such a clip would be a "fake" without a fake face.
    """
    info = probe(src, sha256=False)
    rng = np.random.default_rng(seed)
    p = random_blend_params(rng, down=SELF_BLEND_DOWN)
    crf = int(crf) if crf is not None else crf_for(compression, rng)
    mask_seed = int(rng.integers(0, 2**31 - 1))
    total = info.frame_count
    start = max(0, (total - max_frames) // 2) if total > 0 else 0
    fps = info.fps or 25.0
    dst = Path(dst)
    pix_fmt = self_blend_pix_fmt(info.pix_fmt)
    encoders = [_encoder(out, fps, crf, pix_fmt) for out in (dst, control_dst) if out is not None]
    ok = False
    try:
        n, with_face, n_faces = _blend_span(src, start, max_frames, p, mask_seed, *encoders)
        ok = n > 0 and with_face >= min_face_share * n
    finally:
        for enc in encoders:
            enc.close(ok)
    if n == 0:
        raise ValueError(f"no frame decoded from {src}")
    if not ok:
        raise ValueError(f"faces in only {with_face} of {n} frames of {Path(src).name}: no self-blended video")
    return {"src": str(src), "dst": str(dst), "control": None if control_dst is None else str(control_dst),
            "start": int(start), "n_frames": int(n), "fps": float(fps), "width": int(info.width),
            "height": int(info.height), "crf": crf, "pix_fmt": pix_fmt, "seed": int(seed), "params": asdict(p),
            "frames_with_face": int(with_face), "faces_blended": int(n_faces), "version": SELF_BLEND_VERSION}


def _encoder(path: str | os.PathLike, fps: float, crf: int, pix_fmt: str) -> VideoEncoder:
    """The encoder of a self-blended video or its control (its folder made)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return VideoEncoder(path, fps=fps, crf=crf, preset=SELF_BLEND_PRESET, pix_fmt=pix_fmt)


def _blend_span(src: str | os.PathLike, start: int, max_frames: int, p: BlendParams, mask_seed: int,
                enc: VideoEncoder, ctl: VideoEncoder | None = None) -> tuple[int, int, int]:
    """Self-blend the faces of frames ``start`` .. ``start + max_frames - 1`` of ``src`` into
    ``enc`` (and the untouched frames into ``ctl``); returns the counts of frames, frames
    with a face and faces blended."""
    n = with_face = n_faces = 0
    for f in decode_span(src, start, max_frames):
        out = f
        found = detect_faces(f)
        for i, face in enumerate(found):
            # the same mask deformation in every frame (and per face slot)
            out = self_blend_region(out, face, p, np.random.default_rng(mask_seed + i))
        enc.write(out)
        if ctl is not None:
            ctl.write(f)
        n += 1
        with_face += bool(found)
        n_faces += len(found)
    return n, with_face, n_faces
