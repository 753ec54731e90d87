"""One file: :func:`scan_file`, the function every worker (local process or Dask) runs.

It analyses one file and returns a plain dict, the fields of its result row; it never
raises for bad input (the reason goes in ``error``).  What the file is (image or
video) is decided by :func:`detector.video.probe` (through
:func:`detector.analysis.analyze`), the routine ``inspect`` uses.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import replace

from ..analysis import analyze
from ..card import codec_flag
from ..decode import DEFAULT_FRAMES
from ..faces import limit_threads
from ..memory import keep_freed_memory
from ..model import ModelError, load_model
from ..video import VideoError, sha256_file
from ..trust import one_line

#: Test hook (for the test suite only): ``"crash=NAME;abort=NAME;hang=NAME;oom=NAME"``
#: makes :func:`scan_file` kill its own process (SIGKILL), abort (SIGABRT), sleep, or
#: allocate memory when the file's name contains NAME.
TEST_HOOK_ENV = "DEEPFAKE_DETECTOR_SCAN_TEST_HOOK"

#: The model of this worker process, loaded once: {(model_dir, model_sha): DetectorModel}.
_MODELS: dict = {}


def set_model(key: tuple, model) -> None:
    """Make ``model`` this process's model for ``key`` = (model folder, model SHA-256)."""
    _MODELS.clear()
    _MODELS[key] = model


def _get_model(model_dir: str | None, model_sha: str | None):
    """The model of this setting, loaded once per worker process."""
    if model_dir is None:
        return None
    key = (model_dir, model_sha)
    if key not in _MODELS:
        m = load_model(model_dir)
        if model_sha and m.card.get("model_sha256") != model_sha:
            raise ModelError(f"the model at {model_dir} on {socket.gethostname()} differs from the client's "
                             f"(SHA-256 {m.card.get('model_sha256', '?')[:12]} != {model_sha[:12]})")
        set_model(key, m)
    return _MODELS[key]


def _worker_name() -> str:
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker  # only in a Dask worker, where it is already imported

            return get_worker().address
        except Exception:
            pass
    return f"pid{os.getpid()}"


def _test_hook(path: str) -> None:
    spec = os.environ.get(TEST_HOOK_ENV)
    if not spec:
        return
    name = os.path.basename(path)
    for item in spec.split(";"):
        action, _, pattern = item.partition("=")
        if not pattern or pattern not in name:
            continue
        if action == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "abort":
            os.abort()
        elif action == "hang":
            time.sleep(3600)
        elif action == "oom":
            hold = [b"\x01" * (64 << 20) for _ in range(32)]  # 2 GB, touched
            time.sleep(3600)
            del hold


def scan_file(path: str, n_frames: int = DEFAULT_FRAMES, model_dir: str | None = None, model_sha: str | None = None,
              model=None, flag_threshold: float | None = None, sampling: str | None = None) -> dict:
    """Analyse one file; return the fields of its result row (never raises for bad input).

    Runs in a worker process (local pool or Dask).  ``model`` is the fitted
    :class:`~detector.model.DetectorModel` (sent by the client, which loaded and verified
    it); without it, the model folder ``model_dir`` is loaded once per process (and must
    have the file SHA-256 ``model_sha``).  ``status`` is ``done`` (verdict
    fake/real/inconclusive/no-face/unscored) or ``failed`` with the reason in ``error``.
    With ``flag_threshold`` (``scan --flag-rate``) the model's threshold is replaced by it
    and a scored file's verdict is the decision there (``fake`` when score >= it, else
    ``real``); its likelihood ratio is kept as the model states it.  ``sampling``: the frames
    sampled (None: the model's, :func:`detector.analysis.model_sampling`).
    """
    t0 = time.perf_counter()
    _test_hook(path)
    out: dict = {"path": path, "n_frames": n_frames, "worker": _worker_name(), "host": socket.gethostname()}
    try:
        limit_threads()
        keep_freed_memory()
        if model is None:
            model = _get_model(model_dir, model_sha)
        if model is not None and flag_threshold is not None:
            model = replace(model, threshold=float(flag_threshold))
        a = analyze(path, model=model, n_frames=n_frames, families="model",  # probe() first, as inspect
                    sampling=sampling)
    except MemoryError:
        out.update(status="failed", error="out of memory while analysing")
    except Exception as e:  # VideoError (bad input), ModelError, decoder errors: recorded, never fatal
        out.update(status="failed", error=one_line(e) if isinstance(e, VideoError) else
                   f"{type(e).__name__}: {one_line(e)}")
    else:
        i, t = a.info, a.timings
        out.update(
            status="done", size_bytes=i.size_bytes, sha256=i.sha256, kind=i.kind, width=i.width, height=i.height,
            fps=i.fps, duration_s=i.duration_s, n_sampled=a.n_sampled, score=a.score,
            verdict=a.threshold_verdict if flag_threshold is not None and a.threshold_verdict else a.verdict,
            threshold=a.threshold, llr=a.llr, n_faces=a.n_faces, n_tracks=len(a.tracks), codec=i.codec,
            caution=codec_flag(getattr(model, "card", None), i.codec, i.kind) if a.llr is not None else None,
            t_probe=t.get("probe"), t_decode=t.get("decode"), t_faces=t.get("faces"),
            t_features=t.get("features"), t_total=t.get("total"))
    if out["status"] == "failed":
        try:
            out["size_bytes"] = os.stat(path).st_size
            out["sha256"] = sha256_file(path)
        except OSError:
            pass
    out["t_wall"] = time.perf_counter() - t0
    return out
