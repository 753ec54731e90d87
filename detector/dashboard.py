"""What the dashboard shows, computed without Streamlit.

The pages (``app.py``, ``pages/``) only lay out widgets; everything they display comes
from here: where the model lives, upload checks, running an analysis on an upload or
a path, tables, explanations and plotly figures for one video, the stored evaluation
of the model (scores, operating point at a threshold, curves, breakdowns) and the
batch scanner's results.  Nothing here caches: the pages wrap the heavy calls in
``st.cache_resource`` / ``st.cache_data``.

Score convention (see :mod:`detector.evaluation`): higher = more likely fake; a video
is rejected as fake when ``score >= threshold``.  FAR = share of fakes accepted as
genuine (= APCER), FRR = share of genuine videos rejected as fake (= BPCER).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .analysis import Analysis, TrackResult
from .features import family_of, feature_columns
from .model import (CARD_FILE, DEFAULT_MODEL_DIR, MODEL_FILE, DetectorModel, ModelError, frames_text, load_model,
                    search_text)
from .scan import display_paths, order_by_suspicion
from .video import sha256_file

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / ".streamlit" / "config.toml"
#: Environment variable that points the dashboard at another model folder.
MODEL_DIR_ENV = "DEEPFAKE_MODEL_DIR"
DEFAULT_MAX_UPLOAD_MB = 200  # Streamlit's own default, used when the config has none
UPLOAD_TYPES = ("mp4", "avi", "mov", "mkv", "webm", "jpg", "jpeg", "png")
RESULTS_TYPES = ("db", "sqlite", "sqlite3", "csv")
EVALUATION_DIR = "evaluation"

CONVENTION = (
    "Scores: higher = more likely fake. A video is **rejected as fake** when its score is at or "
    "above the threshold and **accepted as genuine** below it.\n\n"
    "- **FAR** (false acceptance rate) = share of fake videos accepted as genuine = "
    "ISO/IEC 30107-3 **APCER**, reported per manipulation method;\n"
    "- **FRR** (false rejection rate) = share of genuine videos rejected as fake = **BPCER**;\n"
    "- **HTER** = (FAR + FRR) / 2;  **EER** = the error rate where FAR = FRR."
)
DISCLAIMER = ("The verdict is a statistical indication for a trained examiner, not proof: "
              "it must be weighed with the provenance of the file and other evidence.")
#: Where the stored error rates stop holding (README, robustness: re-encoded copies of the
#: test videos let most fakes pass).  Quoted under the error rates of the case report.
RATES_CAVEAT = ("These rates hold for videos like the training data, compressed once after the "
                "manipulation. A video re-encoded or downscaled afterwards (as platforms do on upload) "
                "loses much of the compression trace the model reads: fakes then pass as genuine far more "
                "often, so a genuine verdict on such a file means little.")


def rates_caveat(card: dict | None) -> str:
    """Where the stored error rates stop holding, for this model.

    :data:`RATES_CAVEAT` for a model trained on the original files only; for one whose
    training parts held re-encoded copies too (``train --augment``), the AUCs its card
    measured on re-encoded copies of the held-out videos, against the original files."""
    metrics = (card or {}).get("metrics") or {}
    degraded = metrics.get("degraded_copies") or {}
    aucs = [(DEGRADED_LABELS.get(c, c), d.get("auc")) for c, d in degraded.items() if d.get("auc") is not None]
    if not (card or {}).get("augmentation") or not aucs:
        return RATES_CAVEAT
    original = (metrics.get("video") or {}).get("auc")
    measured = ", ".join(f"{a:.2f} ({name})" for name, a in aucs)
    return ("This model was trained on re-encoded copies of its training videos as well. On re-encoded "
            f"copies of the held-out videos it reached AUC {measured}"
            + (f", against {original:.2f} on the original files" if original is not None else "")
            + ": the rates above hold for files compressed once after the manipulation, and a re-encoded "
              "or downscaled file is still judged much less reliably.")


FAMILY_LABELS = {
    "hf": "High-frequency energy",
    "spec": "Block spectrum",
    "noise": "Noise residual",
    "grad": "Gradients / blending edge",
    "lbp": "LBP texture",
    "block": "Compression blockiness",
    "color": "Colour mismatch",
    "iqm": "Image quality (absolute)",
    "flick": "Temporal flicker",
}
FAKE_COLOUR, REAL_COLOUR, NEUTRAL_COLOUR = "#c0392b", "#2471a3", "#7f8c8d"
HIGHLIGHT_RGB = (231, 76, 60)


# --------------------------------------------------------------------------- model

def model_dir() -> Path:
    """The model folder the dashboard uses: ``$DEEPFAKE_MODEL_DIR`` or ``models/default``."""
    env = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_MODEL_DIR


def model_choices(root: str | os.PathLike | None = None) -> list[Path]:
    """The model folders the dashboard offers: :func:`model_dir` first (``$DEEPFAKE_MODEL_DIR``
    or the shipped default), then every other folder of ``root`` (default: the shipped
    ``models/``) that holds a model card, by name."""
    first = model_dir()
    base = Path(root) if root is not None else DEFAULT_MODEL_DIR.parent
    out = [first]
    if base.is_dir():
        for p in sorted(base.iterdir(), key=lambda p: (p.resolve() != DEFAULT_MODEL_DIR.resolve(), p.name)):
            if p.is_dir() and (p / CARD_FILE).exists() and p.resolve() != first.resolve():
                out.append(p)
    return out


def model_choice_label(folder: str | os.PathLike) -> str:
    """How a model folder is named in the model picker (short: the sidebar is narrow): its
    name, its version, and a ``+`` when it was trained with re-encoded copies."""
    folder = Path(folder)
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError):
        return folder.name
    return f"{folder.name} · v{card.get('version', '?')}" + (" · +re-encoded" if card.get("augmentation") else "")


def folder_stamp(folder: str | os.PathLike) -> str:
    """A string that changes whenever the model or its evaluation changes (a cache key)."""
    parts = []
    for name in (CARD_FILE, MODEL_FILE, f"{EVALUATION_DIR}/scores.csv", f"{EVALUATION_DIR}/metrics.json",
                 f"{EVALUATION_DIR}/frame_scores.csv"):
        p = Path(folder) / name
        st = p.stat() if p.exists() else None
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}" if st else f"{name}:-")
    return "|".join(parts)


def load_model_safe(folder: str | os.PathLike) -> tuple[DetectorModel | None, str | None]:
    """``(model, None)``, or ``(None, reason)`` when there is no usable model."""
    folder = Path(folder)
    if not (folder / CARD_FILE).exists():
        return None, f"No model found at `{folder}` (it needs {CARD_FILE} and {MODEL_FILE})."
    try:
        return load_model(folder), None
    except ModelError as e:
        return None, f"The model at `{folder}` could not be loaded: {e}"


def model_key(model: DetectorModel | None) -> str:
    """Identifies a model in analysis cache keys."""
    if model is None:
        return "no-model"
    return f"{model.name}:{model.version}:{model.card.get('model_sha256', '')}"


def find_summary(metrics: dict | None) -> dict:
    """The overall video-level summary inside a stored ``metrics.json`` or card metrics
    (the first nested object that has an ``auc``; ``{}`` when none)."""
    if not isinstance(metrics, dict):
        return {}
    queue = [metrics]
    for _ in range(4):
        nxt = []
        for d in queue:
            if "auc" in d:
                return d
            for key in ("video", "overall", "summary"):
                if isinstance(d.get(key), dict):
                    nxt.append(d[key])
            nxt += [v for k, v in d.items() if isinstance(v, dict) and k not in ("video", "overall", "summary", "frame")]
        queue = nxt
    return {}


def headline_metrics(card: dict | None, metrics: dict | None = None) -> dict:
    """AUC, its CI, EER, FAR/FRR/HTER at the threshold from the stored evaluation or the card."""
    s = find_summary(metrics) or find_summary((card or {}).get("metrics"))
    at = s.get("metrics") if isinstance(s.get("metrics"), dict) else {}
    pick = lambda k: s.get(k, at.get(k))  # noqa: E731
    return {"auc": s.get("auc"), "auc_ci": s.get("auc_ci"), "eer": s.get("eer"), "far": pick("far"),
            "frr": pick("frr"), "hter": pick("hter"), "n_real": s.get("n_real"), "n_fake": s.get("n_fake")}


def card_summary(card: dict | None) -> pd.DataFrame:
    """Two-column table (item, value) of a model card for display."""
    if not card:
        return pd.DataFrame(columns=["item", "value"])
    tr = card.get("training", {}) if isinstance(card.get("training"), dict) else {}
    rows = [("name", card.get("name")), ("version", card.get("version")),
            ("description", card.get("description")),
            ("training data", training_source(tr)),
            ("training videos", counts_text(tr.get("counts")) if tr.get("counts") else tr.get("n_videos")),
            ("leakage groups", tr.get("n_groups")),
            ("features version", card.get("features_version")),
            ("feature columns", len(card.get("columns", [])) or None),
            ("sampled frames", frames_text(card.get("frames"))),
            ("block grid averaged over", f"{card['block_run']} consecutive frames per sample"
             if card.get("block_run") else None),
            ("inner search", search_text(card)),
            ("parameters", flat_text(card["parameters"]) if card.get("parameters") else None),
            ("decision threshold", fmt_score(card.get("threshold"))),
            ("model SHA-256", card.get("model_sha256")), ("command", card.get("command")),
            ("created", card.get("created") or card.get("trained_at"))]
    return pd.DataFrame([(k, str(v)) for k, v in rows if v not in (None, "", [])], columns=["item", "value"])


def training_source(training: dict) -> str:
    """Where the training data came from (manifest, dataset or features folder)."""
    for key in ("manifest", "dataset", "data", "features_dir"):
        if training.get(key):
            return str(training[key])
    return ""


def counts_text(counts) -> str:
    """Training counts as one line: '43 genuine · 82 fake' from ``{label: n}`` or from
    records ``[{label, n, ...}]``; anything else flattened."""
    if isinstance(counts, list) and counts and all(isinstance(r, dict) and "label" in r and "n" in r for r in counts):
        totals: dict[str, int] = {}
        for r in counts:
            totals[str(r["label"])] = totals.get(str(r["label"]), 0) + int(r["n"])
        counts = totals
    if isinstance(counts, dict) and all(isinstance(v, (int, float)) for v in counts.values()):
        names = {"real": "genuine"}
        return " · ".join(f"{int(v):,} {names.get(str(k), str(k))}" for k, v in counts.items())
    return flat_text(counts)


def training_text(card: dict | None) -> str:
    """One line about the training data of a model card ('' when the card says nothing)."""
    tr = (card or {}).get("training")
    if not isinstance(tr, dict):
        return flat_text(tr) if tr else ""
    source = training_source(tr)
    parts = [f"`{source}`" if source else "", counts_text(tr["counts"]) + " videos" if tr.get("counts") else "",
             f"in {tr['n_groups']} leakage groups" if tr.get("n_groups") else ""]
    return " — ".join(p for p in parts[:2] if p) + (f" {parts[2]}" if parts[2] else "")


def flat_text(value, depth: int = 0) -> str:
    """A nested dict/list as one readable line (``real: 10, fake: 40``), never raw JSON."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {flat_text(v, depth + 1)}" for k, v in value.items())
        return f"({inner})" if depth else inner
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flat_text(v, depth + 1) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --------------------------------------------------------------------------- uploads

class UploadError(ValueError):
    """An upload refused before analysis (one-line, user-facing message)."""


def max_upload_mb(config_path: str | os.PathLike = CONFIG_PATH) -> int:
    """``server.maxUploadSize`` (MB) from ``.streamlit/config.toml``."""
    import tomllib

    try:
        with open(config_path, "rb") as f:
            return int(tomllib.load(f).get("server", {}).get("maxUploadSize", DEFAULT_MAX_UPLOAD_MB))
    except (OSError, ValueError, TypeError):
        return DEFAULT_MAX_UPLOAD_MB


MAX_UPLOAD_MB = max_upload_mb()


def human_size(n: int | float | None) -> str:
    """1536 -> '1.5 KB' (binary multiples, as Streamlit counts its upload limit)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def check_upload(name: str, size_bytes: int, limit_mb: int | None = None,
                 types: tuple[str, ...] = UPLOAD_TYPES) -> None:
    """Refuse an upload that is too large, empty or of an unsupported type.

    Raises
    ------
    UploadError
        With the message the page shows.
    """
    limit_mb = MAX_UPLOAD_MB if limit_mb is None else limit_mb
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in types:
        raise UploadError(f"'{Path(name).name}' is not a supported file type; "
                          f"use one of: {', '.join(types)}.")
    if size_bytes <= 0:
        raise UploadError(f"'{Path(name).name}' is empty (0 bytes).")
    if size_bytes > limit_mb * 1024 * 1024:
        raise UploadError(f"'{Path(name).name}' is {human_size(size_bytes)}, above the {limit_mb} MB upload limit "
                          f"(server.maxUploadSize in .streamlit/config.toml). Analyse large files with the "
                          f"command line: deepfake-detector inspect FILE.")


@dataclass(frozen=True)
class Source:
    """A file to analyse: uploaded bytes (``data``) or a file on this machine (``path``).

    ``name`` is what the user knows the file as; ``label`` says where it came from.
    """

    name: str
    data: bytes | None = None
    path: str | None = None
    label: str = "upload"

    @classmethod
    def from_path(cls, path: str | os.PathLike, label: str = "file") -> "Source":
        return cls(Path(path).name, None, str(path), label)


def source_sha256(src: Source) -> str:
    """SHA-256 of the source's bytes (the analysis cache key); '' for a missing path."""
    if src.data is not None:
        return hashlib.sha256(src.data).hexdigest()
    p = Path(src.path or "")
    return sha256_file(p) if p.is_file() else ""


def safe_filename(name: str, max_len: int = 100) -> str:
    """A file name safe to create in a temp folder, keeping the (lower-case) suffix."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "upload"
    suffix = re.sub(r"[^\w.]+", "", suffix)
    return stem[: max_len - len(suffix)] + suffix


@contextmanager
def materialize(src: Source) -> Iterator[Path]:
    """A path to the source's bytes: uploads go to a temp file with the original name
    and suffix, deleted on exit; path sources are used in place."""
    if src.data is None:
        yield Path(src.path or "")
        return
    with tempfile.TemporaryDirectory(prefix="deepfake-upload-") as d:
        p = Path(d) / safe_filename(src.name)
        p.write_bytes(src.data)
        yield p


def run_analysis(src: Source, model: DetectorModel | None, n_frames: int = 16,
                 progress: Callable[[int, int], None] | None = None) -> Analysis:
    """Analyse a source (temp copy for uploads) and keep face thumbnails for display.

    Raises
    ------
    detector.video.VideoError
        Unreadable input.  :class:`UploadError` for a missing path source.
    """
    from .analysis import analyze

    if src.data is None and not Path(src.path or "").is_file():
        raise UploadError(f"file not found on this machine: {src.path}")
    with materialize(src) as path:
        a = analyze(path, model=model, n_frames=n_frames, thumbnails=True, progress=progress)
    return relabel(a, src)


def relabel(a: Analysis, src: Source) -> Analysis:
    """The analysis under the source's name (an upload's temp path is meaningless)."""
    path = src.path if src.data is None else src.name
    if a.info.name == src.name and a.info.path == path:
        return a
    return replace(a, info=replace(a.info, name=src.name, path=path))


# --------------------------------------------------------------------------- one video

def clean_message(error: BaseException | str) -> str:
    """An error's one-line message without low-level noise such as ``[Errno 1094995529]``."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return re.sub(r"\[Errno -?\d+\]\s*", "", text)


def fmt_score(v) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{float(v):+.3f}"


def fmt_pct(v) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * float(v):.1f} %"


def verdict_headline(a: Analysis) -> tuple[str, str]:
    """(text, kind) for the verdict banner; kind is error / success / warning / info."""
    if a.verdict == "fake":
        return (f"Verdict: FAKE — signs of face manipulation (score {fmt_score(a.score)} "
                f"≥ threshold {fmt_score(a.threshold)})", "error")
    if a.verdict == "real":
        return (f"Verdict: REAL — no sign of face manipulation found (score {fmt_score(a.score)} "
                f"< threshold {fmt_score(a.threshold)})", "success")
    if a.verdict == "no-face":
        return ("Verdict: NO FACE — no face was found in the sampled frames, so there is nothing to judge. "
                "Try more frames, or a file where a face is visible.", "warning")
    return ("Verdict: UNSCORED — no model is loaded; faces and artifact features are shown, but no score.",
            "info")


def metadata_table(a: Analysis) -> pd.DataFrame:
    """Field / value table of the file's metadata (chain of custody)."""
    i = a.info
    rows = [("file name", i.name), ("size", f"{human_size(i.size_bytes)} ({i.size_bytes:,} bytes)"),
            ("SHA-256", i.sha256), ("kind", i.kind), ("container / codec", f"{i.container} / {i.codec}"),
            ("frame size", f"{i.width} × {i.height} px")]
    if i.kind == "video":
        rows += [("pixel format", i.pix_fmt or "—"), ("frame rate", f"{i.fps:.3f} fps"),
                 ("frames", f"{i.frame_count:,}"), ("duration", f"{i.duration_s:.2f} s")]
    rows += [("frames sampled", str(a.n_sampled)), ("faces found", str(a.n_faces)),
             ("face tracks", str(len(a.tracks))), ("face detector", a.detector or "—"),
             ("analysed at (UTC)", a.analysed_at)]
    return pd.DataFrame(rows, columns=["field", "value"])


def tracks_table(a: Analysis) -> pd.DataFrame:
    """One row per face track: faces, frame range, score and verdict."""
    rows = [{"track": t.track_id, "faces": t.n_faces, "first frame": t.first_frame, "last frame": t.last_frame,
             "score": None if t.score is None else round(t.score, 4), "verdict": t.verdict} for t in a.tracks]
    return pd.DataFrame(rows, columns=["track", "faces", "first frame", "last frame", "score", "verdict"])


def scoring_track(a: Analysis) -> TrackResult | None:
    """The track whose score is the video's score (else the longest track)."""
    if a.score is not None:
        for t in a.tracks:
            if t.score is not None and math.isclose(t.score, a.score):
                return t
    return a.main_track


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


def highlight_note(a: Analysis) -> str:
    """What the highlighted frames are, for captions (depends on the verdict)."""
    if a.verdict == "fake":
        return "the frames with the highest per-frame scores, the ones that drove the score towards fake"
    return ("the frames with the highest per-frame scores, the most fake-looking ones "
            "(the video as a whole was not judged fake)")


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


def column_contributions(model: DetectorModel, features: dict[str, float]) -> dict[str, float]:
    """Per-column score changes (:meth:`DetectorModel.contributions`) against the training
    mean of each column the pipeline's scaler sees; ``{}`` when the model cannot explain.

    The reference is passed explicitly so pipelines that drop columns before scaling
    (e.g. a statistic selector) still get one value per input column: a dropped
    column keeps its own value, so its contribution is 0.
    """
    ref = scaler_reference(model)
    reference = None
    if ref:
        reference = np.array([ref[c][0] if c in ref else float(features.get(c, np.nan)) for c in model.columns])
    try:
        contrib = model.contributions(features, reference=reference)
    except (ModelError, ValueError, IndexError, TypeError) as e:
        log.warning("no explanation for model %s: %s", model.name, e)
        return {}
    return {c: (float(v) if np.isfinite(v) else 0.0) for c, v in contrib.items()}


def family_contributions(model: DetectorModel, features: dict[str, float]) -> dict[str, float]:
    """Score change per feature family (sum of per-column contributions), largest push first.

    Positive = pushed the score towards fake.  Exact for a linear SVM, a local
    sensitivity (one column at a time) for an RBF kernel.
    """
    out: dict[str, float] = {}
    for col, v in column_contributions(model, features).items():
        fam = family_of(col)
        out[fam] = out.get(fam, 0.0) + v
    return dict(sorted(out.items(), key=lambda kv: -abs(kv[1])))


def top_feature_contributions(model: DetectorModel, features: dict[str, float], k: int = 10) -> pd.DataFrame:
    """The ``k`` columns that moved the score most: feature, family, value, score change."""
    rows = [{"feature": c, "family": FAMILY_LABELS.get(family_of(c), family_of(c)),
             "value": round(float(features.get(c, np.nan)), 4), "score change": round(v, 4)}
            for c, v in column_contributions(model, features).items()]
    df = pd.DataFrame(rows, columns=["feature", "family", "value", "score change"])
    return df.reindex(df["score change"].abs().sort_values(ascending=False).index).head(k).reset_index(drop=True)


def explanation_text(contrib: dict[str, float], share: float = 0.1) -> str:
    """One paragraph naming the families that pushed the score up (towards fake) and down."""
    if not contrib:
        return "No explanation available."
    biggest = max(abs(v) for v in contrib.values()) or 1.0
    keep = {f: v for f, v in contrib.items() if abs(v) >= share * biggest and abs(v) > 1e-9}
    up = [f"{FAMILY_LABELS.get(f, f)} ({v:+.3f})" for f, v in keep.items() if v > 0]
    down = [f"{FAMILY_LABELS.get(f, f)} ({v:+.3f})" for f, v in keep.items() if v < 0]
    parts = ["Towards **fake**: " + (", ".join(up) if up else "no family stands out") + ".",
             "Towards **genuine**: " + (", ".join(down) if down else "no family stands out") + "."]
    unused = [FAMILY_LABELS.get(f, f) for f, v in contrib.items() if abs(v) <= 1e-12]
    if unused:
        parts.append("No effect on this model's score: " + ", ".join(unused) + ".")
    return " ".join(parts)


def scaler_reference(model: DetectorModel | None) -> dict[str, tuple[float, float]]:
    """{model column: (centre, scale)} of the pipeline's scaler (empty when it has none).

    Column names are followed through steps that keep a subset of columns before the
    scaler (a fitted ``keep_`` index array or a ``get_support()`` mask).
    """
    if model is None:
        return {}
    members = getattr(model.pipeline, "estimators_", None)
    if members is not None:  # a fused model: each member pipeline scales its own columns
        out: dict[str, tuple[float, float]] = {}
        for m in members:
            out.update(_pipeline_scaler_reference(m, list(model.columns)))
        return out
    return _pipeline_scaler_reference(model.pipeline, list(model.columns))


def _pipeline_scaler_reference(pipeline, names: list[str]) -> dict[str, tuple[float, float]]:
    for _, step in getattr(pipeline, "steps", []):
        centre = getattr(step, "mean_", None)
        if centre is None:
            centre = getattr(step, "center_", None)
        scale = getattr(step, "scale_", None)
        if centre is not None and scale is not None:
            if len(centre) != len(names):
                return {}
            return {c: (float(m), float(s) if s else 1.0) for c, m, s in zip(names, centre, scale)}
        keep = getattr(step, "keep_", None)
        if keep is not None:
            names = [names[i] for i in np.asarray(keep, dtype=int)]
        elif hasattr(step, "get_support"):
            try:
                names = [n for n, k in zip(names, step.get_support()) if k]
            except Exception:  # not fitted the usual way: give up on standardising
                return {}
    return {}


def family_frame_table(a: Analysis, family: str, model: DetectorModel | None = None,
                       track_id: int | None = None) -> tuple[pd.DataFrame, bool]:
    """Per-frame values of one family's columns for a track, long format
    (frame, time_s, feature, value), standardised against the training data when the
    model has a scaler (``True`` as second item): minus the scaler's centre, divided by its
    scale (mean and sd for ``StandardScaler``, median and inter-quartile range for
    ``RobustScaler``)."""
    if not len(a.table):
        return pd.DataFrame(columns=["frame", "time_s", "feature", "value"]), False
    t = a.table if track_id is None else a.table[a.table["track_id"] == track_id]
    cols = [c for c in feature_columns(t) if family_of(c) == family]
    ref = scaler_reference(model)
    standardised = bool(ref) and all(f"{c}__mean" in ref for c in cols)
    long = t.sort_values("frame").melt(id_vars=["frame", "time_s"], value_vars=cols, var_name="feature")
    if standardised:
        centre = long["feature"].map(lambda c: ref[f"{c}__mean"][0])
        scale = long["feature"].map(lambda c: ref[f"{c}__mean"][1])
        long["value"] = (long["value"].astype(float) - centre) / scale
    return long, standardised


def face_table(a: Analysis) -> pd.DataFrame:
    """Per-face rows for display (no landmark lists), rounded."""
    if not len(a.table):
        return pd.DataFrame()
    t = a.table.drop(columns=["landmarks"], errors="ignore").copy()
    t["box"] = t["box"].map(lambda b: "x{} y{} w{} h{}".format(*b))
    return t.round(4)


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    kw.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    fig.update_layout(height=height, **kw)
    return fig


def score_axis(score: float, threshold: float) -> tuple[float, float]:
    """A symmetric range around the threshold that holds the score."""
    span = max(2.0, abs(score - threshold) * 1.3, 0.5)
    return threshold - span, threshold + span


def score_gauge(score: float, threshold: float) -> go.Figure:
    """The SVM decision score on a horizontal scale split at the threshold
    (blue side = genuine, red side = fake), with the threshold line."""
    lo, hi = score_axis(score, threshold)
    colour = FAKE_COLOUR if score >= threshold else REAL_COLOUR
    shown = min(max(score, lo), hi)
    fig = go.Figure()
    fig.add_shape(type="rect", x0=lo, x1=threshold, y0=0, y1=1, fillcolor="#d6eaf8", line_width=0, layer="below")
    fig.add_shape(type="rect", x0=threshold, x1=hi, y0=0, y1=1, fillcolor="#f5b7b1", line_width=0, layer="below")
    fig.add_trace(go.Bar(x=[shown - threshold], base=[threshold], y=[0.5], orientation="h", width=0.45,
                         marker_color=colour, hovertemplate=f"score {score:+.3f}<extra></extra>", showlegend=False))
    fig.add_shape(type="line", x0=threshold, x1=threshold, y0=-0.1, y1=1.1, line=dict(color="black", width=3))
    fig.add_annotation(x=threshold, y=1.12, yanchor="bottom", text=f"threshold {threshold:+.3f}", showarrow=False,
                       font=dict(size=13))
    fig.add_annotation(x=shown, y=0.5, xanchor="left" if score >= threshold else "right", xshift=6 if score >= threshold else -6,
                       text=f"<b>{score:+.3f}</b>", showarrow=False, font=dict(size=15, color="black"))
    fig.add_annotation(x=lo, y=-0.12, xanchor="left", yanchor="top", text="← genuine", showarrow=False,
                       font=dict(color=REAL_COLOUR, size=13))
    fig.add_annotation(x=hi, y=-0.12, xanchor="right", yanchor="top", text="fake →", showarrow=False,
                       font=dict(color=FAKE_COLOUR, size=13))
    fig.update_xaxes(range=[lo, hi], title="SVM decision score", zeroline=False, showgrid=False)
    fig.update_yaxes(range=[-0.5, 1.5], visible=False, fixedrange=True)
    return _layout(fig, 190, margin=dict(l=10, r=10, t=10, b=40))


def frame_score_figure(a: Analysis, highlight: list[int] | None = None) -> go.Figure:
    """Per-frame score of every track over time, with the threshold and highlighted frames."""
    fs = frame_scores(a)
    fig = go.Figure()
    for tid, g in fs.groupby("track_id"):
        fig.add_trace(go.Scatter(x=g["time_s"], y=g["frame_score"], mode="lines+markers", name=f"track {tid}",
                                 customdata=g["frame"], hovertemplate="frame %{customdata}<br>%{x:.2f} s<br>"
                                 "score %{y:+.3f}<extra></extra>"))
    hl = fs[fs["frame"].isin(highlight or [])]
    tr = scoring_track(a)
    if tr is not None:
        hl = hl[hl["track_id"] == tr.track_id]
    if len(hl):
        name = "drove the score" if a.verdict == "fake" else "highest scores"
        fig.add_trace(go.Scatter(x=hl["time_s"], y=hl["frame_score"], mode="markers", name=name,
                                 marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color=FAKE_COLOUR, width=3)),
                                 hoverinfo="skip"))
    if a.threshold is not None:
        fig.add_hline(y=a.threshold, line_dash="dash", line_color="black",
                      annotation_text=f"threshold {a.threshold:+.3f}", annotation_position="top left")
    values = [*fs["frame_score"].astype(float).tolist(), *([a.threshold] if a.threshold is not None else [])]
    if values:
        lo, hi = min(values), max(values)
        pad = 0.15 * ((hi - lo) or 1.0)
        fig.update_yaxes(range=[lo - pad, hi + pad])
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="score (higher = more fake)")
    return _layout(fig, 330, title="Per-frame score", legend=dict(orientation="h", y=-0.25))


def family_figure(a: Analysis, family: str, model: DetectorModel | None = None,
                  track_id: int | None = None) -> go.Figure:
    """Lines of one feature family's columns over time for a track."""
    long, standardised = family_frame_table(a, family, model, track_id)
    fig = go.Figure()
    for name, g in long.groupby("feature", sort=True):
        fig.add_trace(go.Scatter(x=g["time_s"], y=g["value"], mode="lines+markers", name=name,
                                 customdata=g["frame"],
                                 hovertemplate=name + "<br>frame %{customdata}<br>%{x:.2f} s<br>%{y:.3f}<extra></extra>"))
    if standardised:
        fig.add_hrect(y0=-2, y1=2, fillcolor="#eeeeee", opacity=0.5, line_width=0, layer="below")
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="scaled (vs training data)" if standardised else "value")
    title = f"{FAMILY_LABELS.get(family, family)} ({family}_*) per frame"
    return _layout(fig, 330, title=title, legend=dict(orientation="h", y=-0.25))


def contribution_figure(contrib: dict[str, float]) -> go.Figure:
    """Horizontal bars: how much each family moved the score (red = towards fake)."""
    items = sorted(((f, v) for f, v in contrib.items() if abs(v) > 1e-12), key=lambda kv: kv[1])
    labels = [FAMILY_LABELS.get(f, f) for f, _ in items]
    values = [v for _, v in items]
    fig = go.Figure(go.Bar(x=values, y=labels, orientation="h",
                           marker_color=[FAKE_COLOUR if v > 0 else REAL_COLOUR for v in values],
                           hovertemplate="%{y}: %{x:+.4f}<extra></extra>"))
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.update_xaxes(title="score change (positive = towards fake)")
    return _layout(fig, 130 + 30 * max(len(items), 1), title="What moved the score, by feature family",
                   margin=dict(l=10, r=10, t=40, b=50))


# --------------------------------------------------------------------------- evaluation

class EvaluationError(ValueError):
    """A stored evaluation that cannot be read (one-line message)."""


@dataclass
class EvaluationData:
    """The stored evaluation of a model: per-video out-of-fold scores and metrics."""

    folder: str
    scores: pd.DataFrame
    metrics: dict
    frame_scores: pd.DataFrame | None = None

    @cached_property
    def y(self) -> np.ndarray:
        """Labels, 1 = fake, 0 = real."""
        from .evaluation import as_binary

        return as_binary(self.scores["label"].to_numpy())

    @cached_property
    def s(self) -> np.ndarray:
        """Scores, higher = more likely fake."""
        return self.scores["score"].to_numpy(dtype=float)


#: How the degraded-copy conditions of ``train --augment`` are named on the Evaluation page.
DEGRADED_LABELS = {"crf28": "re-encoded, CRF 28", "crf35": "re-encoded, CRF 35", "half": "half size, CRF 23"}


def degraded_table(metrics: dict | None) -> pd.DataFrame | None:
    """The stored out-of-fold results on the held-out videos' re-encoded copies (a model
    trained with ``--augment``), one row per condition; None when there are none."""
    deg = (metrics or {}).get("degraded_copies")
    if not isinstance(deg, dict) or not deg:
        return None
    rows = []
    for cond, d in deg.items():
        fs = (d.get("subsets") or {}).get("face_swap_vs_real_c23") or d.get("face_swap_vs_real_c23") or {}
        rows.append({"Condition": DEGRADED_LABELS.get(cond, cond), "Videos": d.get("n"), "AUC": d.get("auc"),
                     "EER": d.get("eer"), "FAR at fold thresholds": d.get("far"),
                     "FRR at fold thresholds": d.get("frr"), "Face swap c23 AUC": fs.get("auc")})
    return pd.DataFrame(rows)


def load_evaluation(folder: str | os.PathLike) -> EvaluationData | None:
    """Read ``<model>/evaluation/`` (None when no ``scores.csv`` is stored).

    Rows without a finite score (videos that failed) are dropped.

    Raises
    ------
    EvaluationError
        When the files exist but cannot be used.
    """
    ev = Path(folder) / EVALUATION_DIR
    path = ev / "scores.csv"
    if not path.exists():
        return None
    try:
        scores = pd.read_csv(path)
    except Exception as e:
        raise EvaluationError(f"cannot read {path}: {e}") from None
    missing = [c for c in ("label", "score") if c not in scores.columns]
    if missing:
        raise EvaluationError(f"{path} lacks column(s) {missing}")
    scores["score"] = pd.to_numeric(scores["score"], errors="coerce")
    scores = scores[np.isfinite(scores["score"])].reset_index(drop=True)
    for col in ("method", "compression"):
        if col not in scores.columns:
            scores[col] = "unknown"
        scores[col] = scores[col].fillna("unknown").astype(str)
    metrics: dict = {}
    if (ev / "metrics.json").exists():
        try:
            metrics = json.loads((ev / "metrics.json").read_text())
        except ValueError as e:
            raise EvaluationError(f"cannot read {ev / 'metrics.json'}: {e}") from None
    frames = None
    if (ev / "frame_scores.csv").exists():
        try:
            frames = pd.read_csv(ev / "frame_scores.csv")
            frames["score"] = pd.to_numeric(frames["score"], errors="coerce")
            frames = frames[np.isfinite(frames["score"])]
        except Exception:
            frames = None
    data = EvaluationData(str(folder), scores, metrics, frames)
    try:
        y = data.y
    except ValueError as e:
        raise EvaluationError(f"{path}: {e}") from None
    if y.sum() == 0 or y.sum() == len(y):
        raise EvaluationError(f"{path} needs both real and fake videos (got {len(y) - y.sum()} real, {y.sum()} fake)")
    return data


def stored_threshold(ev: EvaluationData | None, card: dict | None) -> float | None:
    """The operating threshold: the stored evaluation's, else the model card's."""
    for v in ((ev.metrics.get("threshold") if ev else None), (card or {}).get("threshold")):
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v)
    return None


def overall_summary(ev: EvaluationData, n_boot: int = 1000) -> dict:
    """n, n_real, n_fake, AUC, its 95 % CI, EER and its threshold.

    AUC and EER are computed from ``scores.csv``; the CI is the stored one when
    ``metrics.json`` has it, otherwise a (grouped) bootstrap of the scores.
    """
    from sklearn.metrics import roc_auc_score

    from .evaluation import bootstrap_auc_ci, eer

    y, s = ev.y, ev.s
    e, e_thr = eer(y, s)
    stored = find_summary(ev.metrics)
    ci, ci_source = stored.get("auc_ci"), "stored"
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci)):
        groups = ev.scores["group"].astype(str).to_numpy() if "group" in ev.scores else None
        ci, ci_source = list(bootstrap_auc_ci(y, s, groups, n_boot=n_boot)), "bootstrap"
    return {"n": int(len(y)), "n_real": int((y == 0).sum()), "n_fake": int(y.sum()),
            "auc": float(roc_auc_score(y, s)), "auc_ci": [float(ci[0]), float(ci[1])], "auc_ci_source": ci_source,
            "eer": float(e), "eer_threshold": float(e_thr)}


def deployed_rule_summary(ev: EvaluationData) -> dict | None:
    """AUC / EER of the stored out-of-fold scores when each video is scored as the tool
    scores it (highest of its tracks seen in enough frames; ``metrics.json``'s
    ``video_deployed_rule``), with the count of videos whose score that changes; None
    when the evaluation predates it."""
    d = ev.metrics.get("video_deployed_rule")
    if not isinstance(d, dict):
        return None
    o = find_summary(d)
    if not isinstance(o.get("auc"), (int, float)):
        return None
    return {"auc": float(o["auc"]), "eer": o.get("eer"), "n_videos_differing": d.get("n_videos_differing")}


def operating_point(ev: EvaluationData, threshold: float) -> dict:
    """FAR, FRR, HTER, APCER, BPCER and confusion counts at ``threshold``, from the scores."""
    from .evaluation import metrics_at_threshold

    return metrics_at_threshold(ev.y, ev.s, threshold)


def threshold_range(ev: EvaluationData, threshold: float | None = None) -> tuple[float, float, float]:
    """(min, max, step) for a threshold slider covering all stored scores (and the threshold)."""
    lo, hi = float(np.min(ev.s)), float(np.max(ev.s))
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.02 * (hi - lo or 1.0)
    lo, hi = math.floor((lo - pad) * 100) / 100, math.ceil((hi + pad) * 100) / 100
    step = max(0.001, round((hi - lo) / 400, 3))
    return lo, hi, step


def roc_figure(ev: EvaluationData, threshold: float) -> go.Figure:
    """ROC (fake = positive): FRR on x, 1 - FAR on y, with the operating point."""
    from .evaluation import roc_points

    r = roc_points(ev.y, ev.s)
    op = operating_point(ev, threshold)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color=NEUTRAL_COLOUR),
                             name="chance", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=r["fpr"], y=r["tpr"], mode="lines", name="ROC", line=dict(color=REAL_COLOUR),
                             customdata=r["threshold"],
                             hovertemplate="FRR %{x:.3f}<br>1-FAR %{y:.3f}<br>threshold %{customdata:+.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[op["frr"]], y=[1 - op["far"]], mode="markers", name=f"threshold {threshold:+.3f}",
                             marker=dict(size=12, color=FAKE_COLOUR)))
    fig.update_xaxes(title="FRR = BPCER (genuine rejected)", range=[-0.01, 1.01])
    fig.update_yaxes(title="1 − FAR (fakes detected)", range=[-0.01, 1.01])
    return _layout(fig, 380, title="ROC curve", legend=dict(orientation="h", y=-0.22))


def det_figure(ev: EvaluationData, threshold: float) -> go.Figure:
    """DET curve on log axes: FAR (APCER) against FRR (BPCER), with the EER line and the
    operating point.  Zero rates cannot sit on a log axis: they are drawn at half of
    the smallest non-zero rate a class can have (1 / 2n)."""
    from .evaluation import det_curve_points

    d = det_curve_points(ev.y, ev.s)
    n_real, n_fake = int((ev.y == 0).sum()), int(ev.y.sum())
    fx, fy = 0.5 / n_real, 0.5 / n_fake
    op = operating_point(ev, threshold)
    fig = go.Figure()
    lo = min(fx, fy)
    fig.add_trace(go.Scatter(x=[lo, 1], y=[lo, 1], mode="lines", name="FAR = FRR (EER)",
                             line=dict(dash="dot", color=NEUTRAL_COLOUR), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=np.maximum(d["frr"], fx), y=np.maximum(d["far"], fy), mode="lines", name="DET",
                             line=dict(color=REAL_COLOUR), customdata=d["threshold"],
                             hovertemplate="FRR %{x:.4f}<br>FAR %{y:.4f}<br>threshold %{customdata:+.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[max(op["frr"], fx)], y=[max(op["far"], fy)], mode="markers",
                             name=f"threshold {threshold:+.3f}", marker=dict(size=12, color=FAKE_COLOUR)))
    ticks = [v for v in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if v >= lo * 0.9]
    text = [f"{100 * v:g} %" for v in ticks]
    axis = dict(type="log", range=[math.log10(lo) - 0.1, 0.02], tickvals=ticks, ticktext=text)
    fig.update_xaxes(title="FRR = BPCER (log scale)", **axis)
    fig.update_yaxes(title="FAR = APCER (log scale)", **axis)
    return _layout(fig, 380, title="DET curve", legend=dict(orientation="h", y=-0.22))


def error_rate_figure(ev: EvaluationData, threshold: float) -> go.Figure:
    """FAR and FRR against the threshold, with the chosen threshold."""
    from .evaluation import error_rates_curve

    c = error_rates_curve(ev.y, ev.s)
    c = c[np.isfinite(c["threshold"])]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=c["threshold"], y=c["far"], mode="lines", name="FAR (fakes accepted)",
                             line=dict(shape="hv", color=FAKE_COLOUR)))
    fig.add_trace(go.Scatter(x=c["threshold"], y=c["frr"], mode="lines", name="FRR (genuine rejected)",
                             line=dict(shape="hv", color=REAL_COLOUR)))
    fig.add_vline(x=threshold, line_dash="dash", line_color="black")
    fig.update_xaxes(title="threshold on the SVM score")
    fig.update_yaxes(title="error rate", range=[-0.02, 1.02], tickformat=".0%")
    return _layout(fig, 330, title="FAR and FRR against the threshold", legend=dict(orientation="h", y=-0.25))


def confusion_figure(op: dict) -> go.Figure:
    """2 × 2 confusion matrix at the operating point (rows = truth, columns = decision)."""
    c = op["confusion"]
    z = [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]
    n = [max(op["n_real"], 1), max(op["n_fake"], 1)]
    text = [[f"{z[i][j]}<br>({100 * z[i][j] / n[i]:.1f} % of row)" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(z=[[z[0][0] / n[0], z[0][1] / n[0]], [z[1][0] / n[1], z[1][1] / n[1]]],
                               x=["accepted as genuine", "rejected as fake"], y=["genuine", "fake"],
                               text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                               showscale=False, hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed", title="truth")
    fig.update_xaxes(title="decision", side="bottom")
    return _layout(fig, 260, title="Confusion matrix")


def breakdown_table(ev: EvaluationData, threshold: float, by: str) -> pd.DataFrame:
    """Error rates at ``threshold`` per value of ``by`` (``method``, ``compression``...).

    Per manipulation method (``by="method"``): a method's fakes are compared with all
    genuine videos, so its FAR is that method's APCER and its AUC is method vs genuine;
    a genuine-only method shows its FRR (BPCER).  Any other column is split plainly:
    genuine and fake videos at that level, FAR, FRR, HTER and AUC.
    """
    from sklearn.metrics import roc_auc_score

    from .evaluation import metrics_at_threshold

    y, s = ev.y, ev.s
    values = ev.scores[by].astype(str).to_numpy()
    rows = []
    for v in sorted(set(values)):
        here = values == v
        if by == "method":
            n_fake = int((y[here] == 1).sum())
            m = (here & (y == 1)) | (y == 0) if n_fake else here
            op = metrics_at_threshold(y[m], s[m], threshold)
            rows.append({"method": v, "kind": "manipulation" if n_fake else "genuine", "videos": int(here.sum()),
                         "FAR = APCER": op["far"] if n_fake else None,
                         "FRR = BPCER": None if n_fake else op["frr"],
                         "AUC vs genuine": float(roc_auc_score(y[m], s[m])) if n_fake and (y[m] == 0).any() else None})
        else:
            op = metrics_at_threshold(y[here], s[here], threshold)
            both = 0 < y[here].sum() < here.sum()
            rows.append({by: v, "genuine": op["n_real"], "fake": op["n_fake"], "FAR = APCER": op["far"],
                         "FRR = BPCER": op["frr"], "HTER": op["hter"],
                         "AUC": float(roc_auc_score(y[here], s[here])) if both else None})
    df = pd.DataFrame(rows)
    if by == "method" and len(df):
        df = df.sort_values(["kind", "method"], ascending=[True, True]).reset_index(drop=True)
    return df


def method_tables(ev: EvaluationData, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(manipulation methods: videos, APCER, AUC; genuine sources: videos, BPCER) at ``threshold``."""
    t = breakdown_table(ev, threshold, "method")
    if t.empty:
        return t, t
    attacks = t[t["kind"] == "manipulation"][["method", "videos", "FAR = APCER", "AUC vs genuine"]]
    genuine = t[t["kind"] == "genuine"][["method", "videos", "FRR = BPCER"]]
    return attacks.reset_index(drop=True), genuine.reset_index(drop=True)


def class_balance_text(ev: EvaluationData) -> str:
    """'60 genuine (20.0 %) · 240 fake (80.0 %) videos'."""
    y = ev.y
    n, n_fake = len(y), int(y.sum())
    return (f"{n - n_fake:,} genuine ({100 * (n - n_fake) / n:.1f} %) · {n_fake:,} fake "
            f"({100 * n_fake / n:.1f} %) videos")


def frame_level_summary(ev: EvaluationData) -> dict | None:
    """AUC and EER over the stored per-frame scores (None when there are none)."""
    from sklearn.metrics import roc_auc_score

    from .evaluation import as_binary, eer

    f = ev.frame_scores
    if f is None or f.empty or "label" not in f.columns:
        return None
    try:
        y, s = as_binary(f["label"].to_numpy()), f["score"].to_numpy(dtype=float)
        e, _ = eer(y, s)
        return {"n_frames": int(len(y)), "auc": float(roc_auc_score(y, s)), "eer": float(e)}
    except ValueError:
        return None


def class_balance(ev: EvaluationData) -> pd.DataFrame:
    """Videos per manipulation method and label in the evaluated (training) data."""
    t = ev.scores.groupby(["method", "label"]).size().reset_index(name="videos")
    return t.sort_values(["label", "videos"], ascending=[False, False]).reset_index(drop=True)


def class_balance_figure(balance: pd.DataFrame) -> go.Figure:
    """Bar chart of videos per method, coloured by label."""
    fig = go.Figure()
    for label, colour in (("real", REAL_COLOUR), ("fake", FAKE_COLOUR)):
        g = balance[balance["label"].astype(str).str.lower() == label]
        if len(g):
            fig.add_trace(go.Bar(x=g["method"], y=g["videos"], name=label, marker_color=colour))
    fig.update_yaxes(title="videos")
    fig.update_xaxes(tickangle=-30)
    return _layout(fig, 320, title="Class balance of the evaluated training data", barmode="stack")


def scores_with_decision(ev: EvaluationData, threshold: float) -> pd.DataFrame:
    """The stored per-video scores with the decision at ``threshold`` (for CSV export)."""
    out = ev.scores.copy()
    out["decision_at_threshold"] = np.where(out["score"] >= threshold, "fake", "real")
    out["threshold"] = threshold
    return out


# --------------------------------------------------------------------------- batch results

class ResultsError(ValueError):
    """Batch results that cannot be read (one-line message)."""


RESULT_COLUMNS = ("path", "verdict", "score", "threshold", "n_faces", "n_tracks", "duration_s", "size_bytes",
                  "sha256", "status", "error", "duplicate_of", "model_version", "finished_at")


def _read_sqlite(p: Path) -> pd.DataFrame:
    """Table ``results`` of a SQLite file, read-only (``immutable`` when read-only fails,
    e.g. a WAL database in a folder this process cannot write)."""
    last: Exception | None = None
    for uri in (f"file:{p}?mode=ro", f"file:{p}?immutable=1"):
        try:
            with sqlite3.connect(uri, uri=True, timeout=10) as con:
                return pd.read_sql_query("SELECT * FROM results", con)
        except Exception as e:  # noqa: PERF203 - two attempts at most
            last = e
    raise last  # type: ignore[misc]


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """The batch scanner's results: SQLite (table ``results``) or CSV, one row per video.

    Raises
    ------
    ResultsError
        Missing or unreadable file, or no ``path`` column.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ResultsError(f"no results file at {p}")
    try:
        df = pd.read_csv(p) if p.suffix.lower() == ".csv" else _read_sqlite(p)
    except Exception as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise ResultsError(f"cannot read batch results from {p.name}: {reason}") from None
    return normalise_results(df)


def load_results_bytes(name: str, data: bytes) -> pd.DataFrame:
    """:func:`load_results` for an uploaded results file."""
    check_upload(name, len(data), types=RESULTS_TYPES)
    with materialize(Source(name, data)) as p:
        return load_results(p)


def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Typed columns (score numeric, verdict text; a failed file's verdict is ``error``),
    missing expected columns added."""
    if "path" not in df.columns:
        raise ResultsError(f"not batch results: no 'path' column (columns: {', '.join(map(str, df.columns[:8]))})")
    df = display_paths(df)  # a name that is not valid UTF-8 is shown with \xNN escapes
    for c in RESULT_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    failed = (df["status"].astype(str) == "failed") | (df["error"].notna() & (df["error"].astype(str).str.strip() != ""))
    verdict = df["verdict"].astype("object").where(df["verdict"].notna() & (df["verdict"].astype(str) != ""), None)
    fallback = pd.Series(np.where(failed, "error", "unknown"), index=df.index)
    df["verdict"] = verdict.where(verdict.notna(), fallback).astype(str)
    return df


def rank_suspects(df: pd.DataFrame, verdicts: list[str] | None = None, min_score: float | None = None,
                  text: str = "") -> pd.DataFrame:
    """Filter (verdict in ``verdicts``, score >= ``min_score``, ``text`` in path, case-insensitive)
    and rank as ``deepfake-detector report`` does (:func:`detector.scan.results.order_by_suspicion`:
    by score - threshold, most suspicious first, unscored rows last); ``rank`` numbers the rows shown."""
    out = df
    if verdicts:
        out = out[out["verdict"].isin(verdicts)]
    if min_score is not None:
        out = out[out["score"] >= min_score]
    if text.strip():
        out = out[out["path"].astype(str).str.contains(text.strip(), case=False, regex=False)]
    out = order_by_suspicion(out)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def results_threshold(df: pd.DataFrame) -> float | None:
    """The threshold the scan used (the most common one in the rows), if recorded."""
    t = pd.to_numeric(df["threshold"], errors="coerce").dropna()
    return float(t.mode().iloc[0]) if len(t) else None


def results_summary(df: pd.DataFrame) -> dict[str, int]:
    """Counts of videos per verdict (plus ``total``)."""
    counts = df["verdict"].value_counts().to_dict()
    return {"total": int(len(df)), **{str(k): int(v) for k, v in counts.items()}}


def suspects_display(df: pd.DataFrame) -> pd.DataFrame:
    """The ranked table with readable columns for display."""
    cols = ["rank", "path", "verdict", "score", "n_faces", "n_tracks", "duration_s", "size_bytes", "status",
            "error", "duplicate_of", "model_version", "finished_at"]
    out = df[[c for c in cols if c in df.columns]].copy()
    out = out.loc[:, [c for c in out.columns if c in ("rank", "path", "verdict", "score") or out[c].notna().any()]]
    if "size_bytes" in out:
        out["size_bytes"] = out["size_bytes"].map(lambda v: human_size(v) if pd.notna(v) else "—")
    return out.rename(columns={"size_bytes": "size", "n_faces": "faces", "n_tracks": "tracks",
                               "duration_s": "duration (s)", "duplicate_of": "duplicate of",
                               "model_version": "model", "finished_at": "finished at"})


def score_histogram(df: pd.DataFrame, threshold: float | None = None) -> go.Figure:
    """Histogram of batch scores by verdict, with the threshold."""
    fig = go.Figure()
    for verdict, colour in (("real", REAL_COLOUR), ("fake", FAKE_COLOUR)):
        g = df[df["verdict"] == verdict]
        if len(g):
            fig.add_trace(go.Histogram(x=g["score"], name=verdict, marker_color=colour, opacity=0.75, nbinsx=40))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="black",
                      annotation_text=f"threshold {threshold:+.3f}")
    fig.update_xaxes(title="SVM score (higher = more fake)")
    fig.update_yaxes(title="videos")
    return _layout(fig, 280, barmode="overlay", title="Score distribution")

