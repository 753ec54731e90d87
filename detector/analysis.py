"""One video end to end: frames -> faces -> features -> per-track aggregate -> score.

:func:`analyze` returns an :class:`Analysis`, the one object that ``inspect --json``
prints, the dashboard shows and the case report renders.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
import pandas as pd

from . import faces as _faces
from .calibration import threshold_verdict, verbal_scale, verdict_of
from .features import BLOCK_RUN, FEATURES_VERSION, aggregate, face_features, feature_columns
from .kinematics import LMK_RUN
from .model import DetectorModel
from .decode import DEFAULT_FRAMES, Frame, iter_frames
from .preload import PendingModel
from .sampling import DEFAULT_SAMPLING, check_sampling
from .video import VideoError, VideoInfo, probe

#: A track needs this share of the sampled frames with a face (or >= 3 faces) to get a verdict.
MIN_TRACK_SHARE = 0.25


@dataclass
class TrackResult:
    """Aggregate of one face track: ``score`` is None when no model is loaded, ``llr``
    (log10 likelihood ratio) when the model has no calibration."""

    track_id: int
    n_faces: int
    first_frame: int
    last_frame: int
    features: dict[str, float]
    score: float | None = None
    verdict: str = "unscored"
    thumbnails: list[tuple[int, float, np.ndarray]] = field(default_factory=list, repr=False)
    llr: float | None = None

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, "n_faces": self.n_faces, "first_frame": self.first_frame,
                "last_frame": self.last_frame, "score": self.score, "llr": self.llr, "verdict": self.verdict}


@dataclass
class Analysis:
    """Everything known about one video after analysis.

    ``table`` has one row per face per sampled frame: frame, time_s, track_id, box,
    confidence, frame_score and the feature columns.  ``verdict`` is ``fake``, ``real``,
    ``inconclusive`` (a likelihood ratio between 1/3 and 3), ``no-face`` or ``unscored``
    (no model loaded).  ``decisive_track`` is the id of the track whose score is the
    video's ``score`` (None when there is no score).  ``llr`` is the log10 likelihood
    ratio of that score (manipulated vs genuine; None without a calibrated model),
    ``llr_category`` its words on the ENFSI scale (:func:`detector.calibration.verbal_scale`)
    and ``threshold_verdict`` the verdict at the model's threshold alone (``fake`` /
    ``real``; None without a score).
    """

    info: VideoInfo
    n_sampled: int
    frame_indices: list[int]
    frame_times: list[float]
    table: pd.DataFrame
    tracks: list[TrackResult]
    verdict: str
    score: float | None
    threshold: float | None
    model: dict | None
    timings: dict[str, float]
    analysed_at: str
    features_version: str = FEATURES_VERSION
    detector: str = ""
    decisive_track: int | None = None
    llr: float | None = None
    threshold_verdict: str | None = None

    @property
    def llr_category(self) -> str | None:
        """The strength of evidence of :attr:`llr` in words (ENFSI verbal scale)."""
        return verbal_scale(self.llr)

    @property
    def n_faces(self) -> int:
        return len(self.table)

    @property
    def main_track(self) -> TrackResult | None:
        return max(self.tracks, key=lambda t: t.n_faces) if self.tracks else None

    @property
    def decisive(self) -> TrackResult | None:
        """The track that decided the score (:attr:`decisive_track`), None when unscored."""
        return next((t for t in self.tracks if t.track_id == self.decisive_track), None)

    def to_dict(self, features: bool = True) -> dict:
        """JSON-ready dict (the shape ``inspect --json`` prints)."""
        fcols = feature_columns(self.table)
        frames = []
        for i, (idx, t) in enumerate(zip(self.frame_indices, self.frame_times)):
            rows = self.table[self.table["frame"] == idx] if len(self.table) else self.table
            fl = []
            for _, r in rows.iterrows():
                d = {"track_id": int(r["track_id"]), "box": [int(v) for v in r["box"]],
                     "confidence": round(float(r["confidence"]), 3),
                     "landmarks": r["landmarks"],
                     "score": None if pd.isna(r.get("frame_score")) else round(float(r["frame_score"]), 4)}
                if features:
                    d["features"] = {c: _num(r[c]) for c in fcols}
                fl.append(d)
            frames.append({"index": int(idx), "time_s": round(float(t), 3), "faces": fl})
        return {
            "video": self.info.to_dict(),
            "verdict": self.verdict,
            "score": self.score,
            "llr": self.llr,
            "llr_category": self.llr_category,
            "threshold_verdict": self.threshold_verdict,
            "decisive_track": self.decisive_track,
            "threshold": self.threshold,
            "model": self.model,
            "detector": self.detector,
            "features_version": self.features_version,
            "n_frames_sampled": self.n_sampled,
            "n_faces": self.n_faces,
            "tracks": [t.to_dict() for t in self.tracks],
            "frames": frames,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "analysed_at": self.analysed_at,
        }


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, 6) if np.isfinite(f) else None


def single_frame_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Each per-frame row as if it were a one-frame track (for per-frame scores)."""
    cols = feature_columns(table)
    x = table[cols].to_numpy(dtype=float)
    data = {}
    for k, c in enumerate(cols):
        data[f"{c}__mean"] = x[:, k]
        data[f"{c}__median"] = x[:, k]
        data[f"{c}__std"] = np.zeros(len(x))
        data[f"{c}__dmean"] = np.zeros(len(x))
    return pd.DataFrame(data, index=table.index)


def analyze(path, model: DetectorModel | PendingModel | None = None, n_frames: int = DEFAULT_FRAMES,
            thumbnails: bool = False, info: VideoInfo | None = None, progress=None,
            families="all", sampling: str | None = None, decode_ahead: bool = False) -> Analysis:
    """Analyse one video or image.

    Parameters
    ----------
    path : video or image file
    model : fitted model, or None to only measure faces and features; a
        :class:`~detector.preload.PendingModel` is waited for once the frames are measured
        (its error first when the analysis fails too, as if it had been loaded before)
    n_frames : number of frames sampled evenly over the video
    thumbnails : keep small RGB face crops per track (for display)
    progress : optional callable(done: int, total: int)
    families : ``"all"`` (every default feature family, for inspection and training;
        the opt-in ``lmk`` family only when named),
        ``"model"`` (only those the model uses: the batch scanner's fast path; the
        score is the same) or an iterable of family names
    sampling : which frames (:data:`detector.sampling.SAMPLINGS`); None: the model's
        (:attr:`DetectorModel.sampling`), or the default without a model.  A model scores
        only features of the sampling it was trained on: another one is refused.
    decode_ahead : decode the next frames and find their faces in a thread while the
        features of the current one are measured (one video with a second core to run on:
        ``inspect``); the ``decode`` timing is then the time spent waiting for frames and
        their faces, and ``faces`` the thread's time (overlapped, so ``total`` exceeds the
        wall time).  Off for the batch scanner, which runs one single-threaded process per core.

    Raises
    ------
    detector.video.VideoError
        For unreadable input (missing, empty, corrupt, not a video).
    ValueError
        For a ``sampling`` other than the model's.
    """
    timings = {"probe": 0.0, "decode": 0.0, "faces": 0.0, "features": 0.0, "score": 0.0}
    with _model_error_first(model):
        sampling = model_sampling(model, sampling)
        t0 = time.perf_counter()
        info = info or probe(path)
        timings["probe"] = time.perf_counter() - t0
        measure = functools.partial(_measure_frames, path, info, n_frames, thumbnails=thumbnails, progress=progress,
                                    timings=timings, sampling=sampling, decode_ahead=decode_ahead)
        s = measure(_families(families, model))
    s, model = _loaded(model, families, s, measure)
    if not s.indices:
        raise VideoError(f"no frame could be decoded: {info.name}")
    if s.rotation != info.rotation:
        info = replace(info, rotation=s.rotation)
    _faces.assign_tracks(s.faces_per_frame)
    table = _face_table(s.rows)
    tracks = track_results(table)
    if thumbnails:
        _attach_thumbnails(tracks, s.crops, s.faces_per_frame)

    t = time.perf_counter()
    verdict, score, threshold, msum, decisive = ("no-face" if not tracks else "unscored"), None, None, None, None
    if model is not None:
        threshold, msum = float(model.threshold), {"name": model.name, "version": model.version,
                                                     "sha256": model.sha256, "shipped": model.shipped}
        decisive = _score_tracks(model, table, tracks, len(s.indices))
        if decisive is not None:
            score = decisive.score
            verdict = decisive.verdict
    timings["score"] = time.perf_counter() - t
    timings["total"] = sum(timings.values())
    return Analysis(info, len(s.indices), s.indices, s.times, table, tracks, verdict, score, threshold, msum,
                    timings, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    detector=_faces.detector_name(), decisive_track=None if decisive is None else decisive.track_id,
                    llr=None if decisive is None else decisive.llr,
                    threshold_verdict=None if decisive is None else threshold_verdict(score, threshold))


@contextlib.contextmanager
def _model_error_first(model: DetectorModel | PendingModel | None) -> Iterator[None]:
    """The error of a refused :class:`~detector.preload.PendingModel` instead of the block's
    own, as when the model was loaded before the block ran."""
    try:
        yield
    except Exception:
        if isinstance(model, PendingModel):
            model.result()
        raise


def _loaded(model: DetectorModel | PendingModel | None, families, s: _Sampled,
            measure) -> tuple[_Sampled, DetectorModel | None]:
    """The model (a :class:`~detector.preload.PendingModel` waited for), and the frames ``s``
    that ``measure(fams)`` (:func:`_measure_frames`) measured with its card's families:
    measured again with only the families it reads when its pipeline drops some."""
    if not isinstance(model, PendingModel):
        return s, model
    fams, model = _families(families, model), model.result()
    if _families(families, model) != fams:
        s = measure(_families(families, model))
    return s, model


@dataclass
class _Sampled:
    """What the frame loop of :func:`analyze` collects: one row per face (its features and
    its :class:`~detector.faces.Face`), the faces of each sampled frame, optional crops."""

    indices: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    faces_per_frame: list[list[_faces.Face]] = field(default_factory=list)
    crops: list[tuple[int, float, list[np.ndarray]]] = field(default_factory=list)
    rotation: int = 0  # the frames' display rotation


def _measure_frames(path, info: VideoInfo, n_frames: int, fams, thumbnails: bool, progress,
                    timings: dict[str, float], sampling: str = DEFAULT_SAMPLING,
                    decode_ahead: bool = False) -> _Sampled:
    """Decode the sampled frames, find the faces and measure their features (``timings``
    accumulates the time spent decoding, or waiting for frames, finding faces and measuring)."""
    runs = [BLOCK_RUN if fams is None or {"block", "ltop"} & set(fams) else 1,
            LMK_RUN if fams is not None and "lmk" in fams else 1]
    follow = max(runs) - 1  # frames right after each sampled one: the block run, ltop and the lmk kinematics read them
    it = iter_frames(path, n_frames, info=info, pairs=fams is None or "flick" in fams, follow=follow,
                     sampling=sampling)
    found = _with_faces(it, timings)
    if decode_ahead:
        found = _ahead(found)
    # the decoder (and the thread) stop when measuring does: the thread first (closed last in,
    # first out), so that the decoder is never closed while the thread is running it
    with contextlib.closing(it), contextlib.closing(found):
        return _measure_loop(found, info, n_frames, fams, thumbnails, progress, timings, ahead=decode_ahead)


def _with_faces(frames: Iterator[Frame], timings: dict[str, float]) -> Iterator[tuple[Frame, list[_faces.Face]]]:
    """Each frame of ``frames`` with its faces (:class:`detector.faces.SequenceDetector`,
    in order); ``timings["faces"]`` accumulates the time spent finding them."""
    find_faces = _faces.SequenceDetector()
    for frame in frames:
        t = time.perf_counter()
        found = find_faces(frame.image, frame.rotation)
        timings["faces"] += time.perf_counter() - t
        yield frame, found


def _measure_loop(it: Iterator[tuple[Frame, list[_faces.Face]]], info: VideoInfo, n_frames: int, fams,
                  thumbnails: bool, progress, timings: dict[str, float], ahead: bool = False) -> _Sampled:
    """The frame loop of :func:`_measure_frames`: the features of the faces of each frame of
    ``it`` (frames with their faces, :func:`_with_faces`; found in another thread when ``ahead``)."""
    out = _Sampled()
    total = 1 if info.kind == "image" else min(n_frames, max(info.frame_count, 1))
    while True:
        t, before = time.perf_counter(), timings["faces"]
        frame, found = next(it, (None, None))
        waited = time.perf_counter() - t
        # in this thread, next() also found the faces (timed as "faces"): the rest is decoding
        timings["decode"] += waited if ahead else waited - (timings["faces"] - before)
        if frame is None:
            return out
        out.indices.append(frame.index)
        out.times.append(frame.time_s)
        out.rotation = frame.rotation
        t = time.perf_counter()
        for f in found:
            f.frame_index = frame.index
            try:
                reg = _faces.face_regions(f, frame.image.shape)
                feats = face_features(frame.image, reg, families=fams, next_frame=frame.next_image,
                                      following=frame.following)
            except ValueError:
                continue
            out.rows.append({"frame": frame.index, "time_s": frame.time_s, "face": f,
                             "confidence": f.confidence, **feats})
        timings["features"] += time.perf_counter() - t
        out.faces_per_frame.append([r["face"] for r in out.rows if r["frame"] == frame.index])
        if thumbnails:  # keep small crops only, never the frames (bounded memory)
            out.crops.append((frame.index, frame.time_s,
                              [_faces.face_thumbnail(frame.image, f, 128, frame.rotation)
                               for f in out.faces_per_frame[-1]]))
        if progress:
            progress(len(out.indices), total)


#: Decoded frames :func:`_ahead` keeps ready (each with its followers: ~15 MB at 720p).
AHEAD_FRAMES = 2


def _ahead(frames: Iterator[Frame], depth: int = AHEAD_FRAMES) -> Iterator[Frame]:
    """The items of the generator ``frames``, produced in a thread up to ``depth`` ahead of
    the caller (PyAV decodes without the GIL); its exception is raised here, in order.  When
    the caller stops early, the thread stops after the frame it is decoding."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put((frame, None)):
                    break
            else:
                put((None, None))
        except Exception as e:  # raised in the caller's thread
            put((None, e))
        finally:
            frames.close()

    worker = threading.Thread(target=produce, name="decode-ahead", daemon=True)
    worker.start()
    try:
        while True:
            frame, error = ready.get()
            if error is not None:
                raise error
            if frame is None:
                return
            yield frame
    finally:
        stop.set()
        worker.join()


def _face_table(rows: list[dict]) -> pd.DataFrame:
    """The per-face table of :class:`Analysis` from the frame loop's rows (tracks assigned)."""
    table = pd.DataFrame(rows)
    if len(table):
        table["track_id"] = [r["face"].track_id for r in rows]
        table["box"] = [list(r["face"].box) for r in rows]
        table["landmarks"] = [np.round(r["face"].landmarks, 1).tolist() for r in rows]
        table = table.drop(columns=["face"])
        front = ["frame", "time_s", "track_id", "box", "landmarks", "confidence"]
        table = table[front + [c for c in table.columns if c not in front]]
    return table


def _score_tracks(model: DetectorModel, table: pd.DataFrame, tracks: list[TrackResult],
                  n_sampled: int) -> TrackResult | None:
    """Score every frame (alone) and every track; returns the track that decides the video's
    score: the highest-scoring of :func:`scored_tracks` (None without tracks)."""
    if len(table):
        table["frame_score"] = model.decision_function(single_frame_rows(table))
    scored = scored_tracks(tracks, n_sampled)
    for tr in tracks:
        tr.score = float(model.decision_function(tr.features)[0])
    _weigh_tracks(model, tracks)
    return max(scored, key=lambda tr: tr.score) if scored else None


def _weigh_tracks(model: DetectorModel, tracks: list[TrackResult]) -> None:
    """Each scored track's log10 LR (a calibrated model) and verdict
    (:func:`detector.calibration.verdict_of`)."""
    llrs = model.llr([tr.score for tr in tracks]) if model.calibration is not None and tracks else None
    for k, tr in enumerate(tracks):
        tr.llr = None if llrs is None else float(llrs[k])
        tr.verdict = verdict_of(tr.score, float(model.threshold), tr.llr)


def model_sampling(model: DetectorModel | None, sampling: str | None = None) -> str:
    """The sampling to analyse with: ``sampling``, or the model's when None (the default
    without a model).  ValueError when ``sampling`` is not the one the model was trained on
    (its scores and threshold hold for features of that sampling only)."""
    own = model.sampling if model is not None else None
    if sampling is None:
        return own or DEFAULT_SAMPLING
    check_sampling(sampling)
    if own is not None and sampling != own:
        raise ValueError(f"model {model.name} was trained on features of sampling {own!r}, "
                         f"not {sampling!r}: scan with --sampling {own} or use a model trained on {sampling!r}")
    return sampling


def _families(families, model: DetectorModel | None):
    if isinstance(families, str):
        if families == "all":
            return None
        if families == "model":
            return None if model is None else model.families
        return (families,)
    return None if families is None else tuple(families)


def _qualifies(tr: TrackResult, n_sampled: int) -> bool:
    return tr.n_faces >= 3 or tr.n_faces >= MIN_TRACK_SHARE * n_sampled


def scored_tracks(tracks: list[TrackResult], n_sampled: int) -> list[TrackResult]:
    """The tracks whose scores decide the video's: those seen in at least 3 (or a quarter)
    of the ``n_sampled`` frames, else the largest track.  The video's score is their maximum:
    one manipulated person is enough for a fake verdict."""
    return [tr for tr in tracks if _qualifies(tr, n_sampled)] or tracks[:1]


def track_results(table: pd.DataFrame) -> list[TrackResult]:
    """Per-track aggregates of a per-frame table (largest track first), unscored."""
    if not len(table):
        return []
    out = []
    for tid, g in table.groupby("track_id", sort=True):
        g = g.sort_values("frame")
        out.append(TrackResult(int(tid), len(g), int(g["frame"].iloc[0]), int(g["frame"].iloc[-1]), aggregate(g)))
    out.sort(key=lambda t: (-t.n_faces, t.track_id))
    return out


def _attach_thumbnails(tracks: list[TrackResult], crops, faces_per_frame) -> None:
    by_id = {t.track_id: t for t in tracks}
    for (index, time_s, thumbs), found in zip(crops, faces_per_frame):
        for f, thumb in zip(found, thumbs):
            if f.track_id in by_id:
                by_id[f.track_id].thumbnails.append((index, time_s, thumb))


def video_feature_row(analysis: Analysis) -> dict[str, float] | None:
    """The per-video training row: the aggregate of the main (longest) track."""
    tr = analysis.main_track
    return None if tr is None else dict(tr.features)
