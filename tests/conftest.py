"""Shared fixtures: small synthetic inputs made here (no ../shared needed)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def demo_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A 2 s genuine clip (camera motion over skimage's astronaut) and its self-blended twin."""
    from detector.synthesis import make_demo_pair

    return make_demo_pair(tmp_path_factory.mktemp("demo"), n_frames=40)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from detector.synthesis import astronaut_bgr

    return astronaut_bgr()


@pytest.fixture(scope="session")
def scene(astronaut):
    """The astronaut with mild sensor noise (a genuine still), its face and regions."""
    from detector.faces import detect_faces, face_regions

    rng = np.random.default_rng(1)
    img = np.clip(astronaut + rng.normal(0, 3, astronaut.shape), 0, 255).astype(np.uint8)
    # found on the whole 512-px image (no down-scaling), as the feature tests were set up; the
    # scan's smaller detection copy is tested in test_faces.py
    face = detect_faces(img, width=640)[0]
    return img, face, face_regions(face, img.shape)


@pytest.fixture(scope="session")
def two_face_video(tmp_path_factory, astronaut) -> Path:
    """Two people (two astronaut crops) side by side, drifting in opposite directions."""
    from detector.encode import write_video

    face = cv2.resize(astronaut[0:300, 90:390], (240, 240))
    frames = []
    for k in range(20):
        canvas = np.full((360, 720, 3), 120, np.uint8)
        x1, x2 = 40 + 3 * k, 440 - 3 * k
        canvas[60:300, x1:x1 + 240] = face
        canvas[60:300, x2:x2 + 240] = face[:, ::-1]
        frames.append(canvas)
    return write_video(frames, tmp_path_factory.mktemp("two") / "two.mp4", crf=18)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, demo_pair) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    out = {"missing": d / "missing.mp4", "empty": d / "empty.mp4", "text": d / "text.mp4",
           "truncated": d / "truncated.mp4", "noface": d / "noface.mp4", "image": d / "face.png"}
    out["empty"].write_bytes(b"")
    out["text"].write_text("this is not a video\n" * 100)
    data = demo_pair[0].read_bytes()
    out["truncated"].write_bytes(data[: len(data) // 3])
    from detector.encode import write_video

    rng = np.random.default_rng(0)
    write_video((cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
                 for _ in range(10)), out["noface"])
    from detector.synthesis import astronaut_bgr

    cv2.imwrite(str(out["image"]), astronaut_bgr())
    return out


def require_shared():
    if not (SHARED / "manifest.csv").exists():
        pytest.skip(f"needs the labelled videos in {SHARED} (not shipped with the project)")
    return SHARED
