"""The bundled demo: a synthetic genuine clip and its tampered twin, made on first use.

Nothing is downloaded and no video is committed: :func:`demo_clips` writes the pair with
:func:`detector.synthesis.make_demo_pair` (camera motion over scikit-image's astronaut
photo, then a self-blended copy) into a cache folder, ``~/.cache/deepfake-detector/demo/v1``
by default or ``$DEEPFAKE_DEMO_DIR``, and reuses it afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .synthesis import make_demo_pair

#: Environment variable naming the folder that holds (or will hold) the demo clips.
DEMO_DIR_ENV = "DEEPFAKE_DEMO_DIR"
DEMO_VERSION = "v1"
DEMO_FRAMES = 50
FILES = {"real": "demo_real.mp4", "fake": "demo_fake.mp4"}
LABELS = {"real": "Demo: synthetic genuine clip", "fake": "Demo: synthetic tampered clip"}
NOTE = ("**Synthetic demo clip.** Both demo clips are made on this machine from scikit-image's "
        "*astronaut* photo (NASA, public domain) with a simulated hand-held camera. The *tampered* "
        "clip is the same footage with the face self-blended: a resampled, colour-shifted copy of the face "
        "pasted back through a feathered mask, the way face-swap tools blend a new face in. "
        "Neither clip shows a real recording or a real deepfake.")


def demo_dir() -> Path:
    """Where the demo clips live: ``$DEEPFAKE_DEMO_DIR`` or the user cache folder."""
    env = os.environ.get(DEMO_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", "") or Path.home() / ".cache")
    return base / "deepfake-detector" / "demo" / DEMO_VERSION


def demo_ready(folder: str | os.PathLike | None = None) -> bool:
    """True when both demo clips already exist (no generation needed)."""
    d = Path(folder) if folder else demo_dir()
    return all((d / f).is_file() and (d / f).stat().st_size > 0 for f in FILES.values())


def demo_clips(folder: str | os.PathLike | None = None, n_frames: int = DEMO_FRAMES) -> dict[str, Path]:
    """``{"real": path, "fake": path}``, generating the pair the first time (about 10-30 s).

    The clips are written to a temporary folder next to the target and moved in, so a
    half-written clip is never picked up by a concurrent session.
    """
    d = Path(folder) if folder else demo_dir()
    if not demo_ready(d):
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=d, prefix=".making-") as tmp:
            real, fake = make_demo_pair(tmp, n_frames=n_frames)
            for key, made in (("real", real), ("fake", fake)):
                os.replace(made, d / FILES[key])
    return {key: d / name for key, name in FILES.items()}


def install_demo_clips(real: str | os.PathLike, fake: str | os.PathLike,
                       folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """Copy an existing demo pair into the demo folder (tests reuse clips they already made)."""
    d = Path(folder) if folder else demo_dir()
    d.mkdir(parents=True, exist_ok=True)
    for key, src in (("real", real), ("fake", fake)):
        shutil.copyfile(src, d / FILES[key])
    return {key: d / name for key, name in FILES.items()}
