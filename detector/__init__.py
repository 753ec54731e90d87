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

from .analysis import Analysis, analyze as _analyze
from .decode import DEFAULT_FRAMES
from .model import DetectorModel, ModelError, load_model
from .video import VideoError, VideoInfo, probe

__version__ = "0.1.0"
__all__ = ["analyze", "load_model", "probe", "Analysis", "DetectorModel", "VideoInfo",
           "VideoError", "ModelError", "__version__"]

_DEFAULT = object()


def analyze(path, model=_DEFAULT, n_frames: int = DEFAULT_FRAMES, **kwargs) -> Analysis:
    """Analyse a video or image with ``model`` (default: the shipped model; ``None``
    measures faces and features only).  See :func:`detector.analysis.analyze`."""
    if model is _DEFAULT:
        model = load_model()
    elif isinstance(model, str) or hasattr(model, "__fspath__"):
        model = load_model(model)
    return _analyze(path, model=model, n_frames=n_frames, **kwargs)
