"""What the Inspect page and the case report show of one analysed video, besides charts:
the file's metadata, its face tracks, per-frame scores, the frames that drove the score
and the face gallery."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import Analysis, TrackResult
from .style import HIGHLIGHT_RGB
from .texts import human_size


def metadata_table(a: Analysis) -> pd.DataFrame:
    """Field / value table of the file's metadata (chain of custody)."""
    i = a.info
    rows = [("file name", i.name), ("size", f"{human_size(i.size_bytes)} ({i.size_bytes:,} bytes)"),
            ("SHA-256", i.sha256), ("kind", i.kind), ("container / codec", f"{i.container} / {i.codec}"),
            ("frame size", f"{i.width} × {i.height} px" + (f", shown turned {i.rotation}°" if i.rotation else ""))]
    if i.kind == "video":
        rows += [("pixel format", i.pix_fmt or "—"), ("frame rate", f"{i.fps:.3f} fps"),
                 ("frames", f"{i.frame_count:,}"), ("duration", f"{i.duration_s:.2f} s")]
    rows += [("frames sampled", str(a.n_sampled)), ("faces found", str(a.n_faces)),
             ("face tracks", str(len(a.tracks))), ("face detector", a.detector or "—"),
             ("analysed at (UTC)", a.analysed_at)]
    return pd.DataFrame(rows, columns=["field", "value"])


def tracks_table(a: Analysis) -> pd.DataFrame:
    """One row per face track: faces, frame range, score, log10 likelihood ratio and verdict."""
    rows = [{"track": t.track_id, "faces": t.n_faces, "frames": f"{t.first_frame}–{t.last_frame}",
             "score": None if t.score is None else round(t.score, 3),
             "log10 LR": None if t.llr is None else round(t.llr, 2), "verdict": t.verdict} for t in a.tracks]
    return pd.DataFrame(rows, columns=["track", "faces", "frames", "score", "log10 LR", "verdict"])


def scoring_track(a: Analysis) -> TrackResult | None:
    """The track whose score is the video's score (:attr:`Analysis.decisive_track`), else
    the longest track."""
    return a.decisive or a.main_track


def frame_scores(a: Analysis, track_id: int | None = None) -> pd.DataFrame:
    """frame, time_s, track_id, frame_score (empty when no model scored the frames)."""
    if not len(a.table) or "frame_score" not in a.table.columns:
        return pd.DataFrame(columns=["frame", "time_s", "track_id", "frame_score"])
    t = a.table[["frame", "time_s", "track_id", "frame_score"]]
    if track_id is not None:
        t = t[t["track_id"] == track_id]
    return t.sort_values(["track_id", "frame"]).reset_index(drop=True)


def driving_frames(a: Analysis, k: int = 3) -> list[int]:
    """Frames of the scoring track with the highest per-frame scores: those at or above the
    threshold when the video is judged fake, otherwise the ``k`` closest to it."""
    tr = scoring_track(a)
    fs = frame_scores(a, tr.track_id if tr else None)
    if tr is None or fs.empty or a.threshold is None:
        return []
    fs = fs.sort_values("frame_score", ascending=False)
    if a.verdict == "fake":
        over = fs[fs["frame_score"] >= a.threshold]
        fs = over if len(over) else fs
    return sorted(int(f) for f in fs["frame"].head(k))


def with_border(img: np.ndarray, colour: tuple[int, int, int] = HIGHLIGHT_RGB, width: int = 5) -> np.ndarray:
    """A copy of an RGB image with a coloured frame (marks a highlighted face crop)."""
    out = img.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def gallery(a: Analysis, track: TrackResult, highlight: list[int] | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Face crops of a track with captions 'frame N · t s · score', highlighted ones framed in red."""
    highlight = set(highlight or [])
    fs = frame_scores(a, track.track_id).set_index("frame")["frame_score"] if "frame_score" in a.table else {}
    images, captions = [], []
    for index, time_s, thumb in track.thumbnails:
        score = fs.get(index) if len(fs) else None
        cap = f"frame {index} · {time_s:.2f} s"
        if score is not None and not pd.isna(score):
            cap += f" · {float(score):+.2f}"
        if index in highlight:
            cap = "▲ " + cap
            thumb = with_border(thumb)
        images.append(thumb)
        captions.append(cap)
    return images, captions


def face_table(a: Analysis) -> pd.DataFrame:
    """Per-face rows for display (no landmark lists), rounded."""
    if not len(a.table):
        return pd.DataFrame()
    t = a.table.drop(columns=["landmarks"], errors="ignore").copy()
    t["box"] = t["box"].map(lambda b: "x{} y{} w{} h{}".format(*b))
    return t.round(4)
