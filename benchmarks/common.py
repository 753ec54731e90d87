"""Shared helpers of the benchmarks: clip selection, machine notes, JSON output, and
the decoder the project replaced (OpenCV) and a prototype with another sampling (GOP starts).

Importing this module pins every thread pool to one thread *before* NumPy, OpenCV or
the face detector are loaded (``OMP_NUM_THREADS`` is read by libgomp when it loads:
setting it later, as ``detector.faces.limit_threads`` does, has no effect on YuNet).
"""

from __future__ import annotations

import os

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Iterator  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"
RESULTS = HERE / "results"
#: Cache for derived data (feature tables, long test videos): outside the repository.
CACHE = Path(os.environ.get("DEEPFAKE_BENCH_CACHE", Path.home() / ".cache" / "deepfake-detector-bench"))

import numpy as np  # noqa: E402

from detector.decode import DEFAULT_FRAMES, Frame, iter_frames  # noqa: E402
from detector.video import VideoError, main_video_stream, probe  # noqa: E402
from detector.faces import limit_threads  # noqa: E402
from detector.search import COLUMN_SETS  # noqa: E402,F401  (the --columns sets, used by the scripts)
from detector.search import select_columns as _select_columns  # noqa: E402

limit_threads()  # as in a scan worker: OpenCV and its FFmpeg decoder on one thread


def manifest():
    import pandas as pd

    m = pd.read_csv(SHARED / "manifest.csv")
    m["abs_path"] = [str(SHARED / p) for p in m["path"]]
    return m


def clips_720p(n: int = 10):
    """``n`` 1280x720 clips of the manifest, evenly spread over the path-sorted list
    (mixes real/fake, c23/c40); deterministic."""
    m = manifest()
    h = m[m.width == 1280].sort_values("path").reset_index(drop=True)
    if n >= len(h):
        return h
    idx = np.unique(np.round(np.linspace(0, len(h) - 1, n)).astype(int))
    return h.iloc[idx].reset_index(drop=True)


def machine(extra: dict | None = None) -> dict:
    """Machine notes for the JSON (CPU model, cores, load averages, versions)."""
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2

    try:
        import av

        av_v = av.__version__
    except ImportError:  # pragma: no cover
        av_v = None
    info = {
        "cpu": cpu, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
        "loadavg_start": list(os.getloadavg()), "python": platform.python_version(),
        "opencv": cv2.__version__, "pyav": av_v, "platform": platform.platform(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "note": "the cores may be shared with other jobs: load averages above ~1 before a run mean contention; "
                "CPU times (process_time) are less affected than wall times",
    }
    info.update(extra or {})
    return info


def select_columns(columns: list[str], spec: str | None) -> list[str]:
    """The ``columns`` a ``--columns`` value keeps (:func:`detector.search.select_columns`:
    a name of :data:`COLUMN_SETS`, ``all``/None, or a regular expression); exits when none
    matches."""
    try:
        return _select_columns(columns, spec)
    except ValueError as e:
        raise SystemExit(str(e)) from None


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    data.setdefault("machine", {})["loadavg_end"] = list(os.getloadavg())
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(data, indent=2, default=_default))
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")  # --out /tmp/x: outside the repository
    return out


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


class Clock:
    """CPU (this process, all threads) and wall time of a block."""

    def __enter__(self):
        self.c0, self.w0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu = time.process_time() - self.c0
        self.wall = time.perf_counter() - self.w0


# ----------------------------------------------------------------------------- decoders
def iter_frames_gop(path, n_frames: int = DEFAULT_FRAMES, info=None, per_gop: int = 8) -> Iterator[Frame]:
    """Prototype: decode only the starts of GOPs (other sampling than the project's).

    The keyframes are listed from the packets (demux only); ``ceil(n_frames / per_gop)``
    of them, spread evenly over the video, are each decoded from the keyframe on, with
    non-reference frames skipped, until ``per_gop`` frames came out.  Decoding cost is
    about ``n_frames`` reference frames instead of every frame up to the last sample;
    the samples are consecutive runs, not spread (the accuracy effect needs its own
    measurement: the features see the keyframe's compression, not the P/B frames').
    """
    import av

    info = info or probe(path, sha256=False)
    if info.kind == "image":
        yield from iter_frames(path, n_frames, info=info)
        return
    fps = info.fps or 25.0
    keys = _keyframe_indices(path, fps)
    if len(keys) == 0:
        keys = np.array([0])
    n_gops = min(len(keys), int(np.ceil(n_frames / per_gop)))
    chosen = keys[np.unique(np.floor((np.arange(n_gops) + 0.5) * len(keys) / n_gops).astype(int))]
    quota = [per_gop] * len(chosen)
    extra = n_frames - per_gop * len(chosen)  # fewer keyframes than needed: longer runs
    if extra > 0:
        quota[-1] += extra
    try:
        c = av.open(str(path))
    except Exception as e:
        raise VideoError(f"not a readable video: {e}") from None
    emitted = 0
    try:
        s = main_video_stream(c)
        s.codec_context.skip_frame = "NONREF"
        tb, start = float(s.time_base), s.start_time or 0
        for kf, q in zip(chosen, quota):
            c.seek(int(round(kf / fps / tb)) + start, stream=s, backward=True, any_frame=False)
            got = 0
            for frame in c.decode(s):
                idx = int(round((frame.pts - start) * tb * fps)) if frame.pts is not None else kf + got
                if idx < kf:
                    continue
                yield Frame(idx, idx / fps, frame.to_ndarray(format="bgr24"))
                got += 1
                emitted += 1
                if got >= q or emitted >= n_frames:
                    break
            if emitted >= n_frames:
                break
    finally:
        c.close()


def _keyframe_indices(path, fps: float) -> np.ndarray:
    """Frame indices of the keyframes, from the packets (demux only, no decoding)."""
    import av

    with av.open(str(path)) as c:
        s = main_video_stream(c)
        tb = float(s.time_base)
        start = s.start_time or 0
        out = [int(round((p.pts - start) * tb * fps)) for p in c.demux(s) if p.is_keyframe and p.pts is not None]
    return np.array(sorted(out), dtype=int)


def decode_whole(path) -> int:
    """Decode every frame of ``path`` once with the project's decoder library (PyAV, as many
    FFmpeg threads as :data:`detector.decode.DECODE_THREADS`), converting none: what reading
    the whole video costs at least.  Returns the number of frames decoded."""
    import av

    from detector.decode import DECODE_THREADS

    with av.open(str(path)) as c:
        s = main_video_stream(c)
        s.codec_context.thread_count = DECODE_THREADS
        return sum(1 for _ in c.decode(s))


def iter_frames_opencv(path, n_frames: int = DEFAULT_FRAMES, info=None, pairs: bool = False, follow: int = 0) -> Iterator[Frame]:
    """The decoder the project used before PyAV: OpenCV ``grab`` through every frame (same
    samples, and the same ``follow`` frames after each)."""
    from detector import decode

    info = info or probe(path, sha256=False)
    if info.kind == "image":
        yield from iter_frames(path, n_frames, info=info)
        return
    yield from decode._iter_opencv(Path(path), decode.sample_targets(info.frame_count, n_frames), info.fps or 25.0,
                                  max(int(pairs), int(follow)))


def decoder(name: str):
    """A frame iterator by name: project (``detector.decode.iter_frames``), spread, runs and front
    (the same with that ``sampling``, :mod:`detector.sampling`), opencv (the one it
    replaced) and the prototype pyav_gop (another sampling)."""
    # ``pairs`` and ``follow`` are accepted so they can stand in for iter_frames inside
    # analyze(), but the GOP prototype gives no following frames: with a model that reads the
    # flicker family, its pipeline rows leave it NaN, and its block grid is one frame's
    # (cheaper than the real thing; throughput.py says so).
    table = {
        "project": iter_frames,
        **{sampling: lambda p, n=DEFAULT_FRAMES, info=None, pairs=False, follow=0, _s=sampling: iter_frames(
            p, n, info=info, pairs=pairs, follow=follow, sampling=_s) for sampling in ("spread", "runs", "front")},
        "opencv": iter_frames_opencv,
        "pyav_gop": lambda p, n=DEFAULT_FRAMES, info=None, pairs=False, follow=0: iter_frames_gop(p, n, info),
    }
    return table[name]


def detect_faces_refined(image, min_confidence: float = 0.6, coarse_width: int = 320, face_px: int = 128,
                         near=None):
    """Prototype two-stage detection (not in the project): YuNet on a ``coarse_width``
    copy of the frame finds the boxes; each face is then detected again, with its
    landmarks, on a crop of twice the box side scaled so that the face is at most
    ``face_px`` wide.  About 2x cheaper than one pass at 640 px (32 vs 72 ms a frame,
    same run); the landmarks move by ~6 % of the eye distance (median).  ``near`` is
    ignored (always the whole frame)."""
    import cv2

    from detector.faces import Face, _yunet  # the project's leak-free call of YuNet

    h, w = image.shape[:2]
    s = min(1.0, coarse_width / max(w, h))
    small = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else image
    _, boxes, _ = _yunet(np.ascontiguousarray(small), min_confidence)
    out = []
    for b in boxes:
        x, y, bw, bh = np.asarray(b, float) / s
        side, cx, cy = 2.0 * max(bw, bh), x + bw / 2, y + bh / 2
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        crop, r = image[y0:y1, x0:x1], min(1.0, face_px / max(bw, bh))
        if r < 1:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * r)), max(1, round(crop.shape[0] * r))),
                              interpolation=cv2.INTER_AREA)
        c2, b2, l2 = _yunet(np.ascontiguousarray(crop), min_confidence)
        if len(c2) == 0:
            continue
        k = int(np.argmax([bb[2] * bb[3] for bb in b2]))
        bx = np.asarray(b2[k], float) / r + [x0, y0, 0, 0]
        lm = np.asarray(l2[k], float).reshape(5, 2) / r + [x0, y0]
        out.append(Face(tuple(int(round(v)) for v in bx), lm, float(c2[k]) / 100.0))
    out = [f for f in out if f.box[2] >= 8 and f.box[3] >= 8]
    out.sort(key=lambda f: -f.box[2] * f.box[3])
    return out


class variant:
    """Context manager: run :func:`detector.analysis.analyze` with another decoder and
    face-detection width, or ``detect_width="refine320"`` for the two-stage prototype
    :func:`detect_faces_refined`, or ``detect_width="windows"`` for a whole-frame search
    in every 4th sampled frame only and windows around the previous faces in between
    (:class:`detector.faces.SequenceDetector`), or ``decode="eager"`` for the project's
    decoder converting every following frame whole, as before :class:`detector.decode.LazyBGR`
    (same pixels); monkeypatched for the benchmark only; nothing is changed on disk."""

    def __init__(self, decode: str = "project", detect_width: int | str | None = None):
        self.decode, self.detect_width = decode, detect_width

    def __enter__(self):
        from detector import analysis, decode, faces

        self._old = (analysis.iter_frames, faces.DETECT_WIDTH, faces.detect_faces, faces.FULL_DETECT_EVERY,
                     decode._lazy_is_exact)
        if self.decode == "eager":
            decode._lazy_is_exact = lambda frame, full: False
        elif self.decode != "project":  # analyze() passes its own sampling: the variant's decoder decides
            analysis.iter_frames = lambda *a, sampling=None, _it=decoder(self.decode), **k: _it(*a, **k)
        if self.detect_width == "windows":
            faces.FULL_DETECT_EVERY = 4
        elif self.detect_width == "refine320":
            faces.detect_faces = detect_faces_refined
        elif self.detect_width:
            faces.DETECT_WIDTH = self.detect_width
        return self

    def __exit__(self, *exc):
        from detector import analysis, decode, faces

        (analysis.iter_frames, faces.DETECT_WIDTH, faces.detect_faces, faces.FULL_DETECT_EVERY,
         decode._lazy_is_exact) = self._old


def load_model_or_none(path=None):
    from detector.model import ModelError, load_model

    try:
        return load_model(path)
    except ModelError as e:
        print(f"note: no model ({e}); timing without the SVM score", file=sys.stderr)
        return None


def compile_package(root: Path = REPO) -> None:
    """Byte-compile ``root``'s ``detector`` package (``__pycache__``, ignored by git), as ``pip install``
    of a wheel does: an interpreter started with ``PYTHONDONTWRITEBYTECODE=1`` (this sandbox's
    environment) would otherwise compile the package's source again at every start (~0.05-0.07 s of
    ``inspect``'s wall time, measured 2026-12-07), which an installed package never does."""
    import compileall

    compileall.compile_dir(str(Path(root) / "detector"), quiet=1)
