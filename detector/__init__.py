"""deepfake-detector: fast, CPU-only, explainable detection of face-swap videos.

The tiny top-level API::

    import detector
    result = detector.analyze("clip.mp4")          # shipped default model
    print(result.verdict, result.score, result.threshold)

Stages, one module each, data flowing one way: ``video`` (file checks, metadata) ->
``decode`` (frame sampling) -> ``faces`` (detection, landmarks, tracks, regions) ->
``features`` (artifact measures) -> ``analysis`` (one video end to end) -> ``model`` (SVM
score, verdict); ``datasets``, ``training``, ``metrics``, ``evaluation``, ``scan`` and
``report`` build on them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Analysis
    from .model import DetectorModel, ModelError, load_model
    from .video import VideoError, VideoInfo, probe

__version__ = "0.1.0"
__all__ = ["analyze", "load_model", "probe", "Analysis", "DetectorModel", "VideoInfo",
           "VideoError", "ModelError", "__version__"]

#: Where the top-level names live: imported on first use (PEP 562), so that a process importing
#: one light module (``detector.trust`` in ``inspect``'s scoring process) loads no pandas,
#: OpenCV or PyAV.
_LAZY = {"Analysis": "analysis", "DetectorModel": "model", "ModelError": "model", "load_model": "model",
         "VideoError": "video", "VideoInfo": "video", "probe": "video"}

_DEFAULT = object()


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def analyze(path, model=_DEFAULT, n_frames: int | None = None, **kwargs) -> "Analysis":
    """Analyse a video or image with ``model`` (default: the shipped model; ``None``
    measures faces and features only; ``n_frames``: :data:`detector.decode.DEFAULT_FRAMES`
    by default).  See :func:`detector.analysis.analyze`."""
    # imported on first use, as the names above: `import detector` stays light
    from .analysis import analyze as _analyze
    from .decode import DEFAULT_FRAMES
    from .model import load_model

    if model is _DEFAULT:
        model = load_model()
    elif isinstance(model, str) or hasattr(model, "__fspath__"):
        model = load_model(model)
    return _analyze(path, model=model, n_frames=DEFAULT_FRAMES if n_frames is None else n_frames, **kwargs)
