"""The genuine reference: where each feature column sits on genuine videos.

Training writes ``<model>/genuine_reference.json`` (:func:`write_genuine_reference`): for
every column the model reads, the median and a robust spread of the **genuine** (label
``real``) training videos' values.  The face heat map (:mod:`detector.heatmap`) measures a
video against it: ``(value - median) / spread`` is how far the video sits from typical
genuine footage, in units of the genuine videos' own spread.

:func:`reference_for` reads a model's reference and checks it (format, features version,
the model it was written with, finite numbers, positive spreads).  A model folder without
one (trained before it existed), or with one that fails a check, falls back to the
pipeline's scaler (centre and scale of *all* training videos, genuine and fake), and the
returned :class:`Reference` says so in its ``note``; without a scaler there is no
reference (None, with the reason).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .features import FEATURES_VERSION
from .model import DetectorModel

#: File name of the genuine reference inside a model folder.
REFERENCE_FILE = "genuine_reference.json"
REFERENCE_FORMAT = 1
#: Scale of the median absolute deviation that makes it the standard deviation of a normal distribution.
MAD_TO_SD = 1.4826
#: Scale of the inter-quartile range that makes it the standard deviation of a normal distribution.
IQR_TO_SD = 1.349
MAX_REFERENCE_BYTES = 4 << 20


class GenuineReferenceError(ValueError):
    """A genuine reference file that cannot be used (one-line message)."""


@dataclass
class Reference:
    """Per-column ``(centre, spread)`` a video is measured against.

    ``source`` is ``genuine`` (median and robust spread of the genuine training videos) or
    ``scaler`` (the model scaler's centre and scale over all training videos);
    ``note`` says that in words for the reader, and why when it is the fallback.
    """

    stats: dict[str, tuple[float, float]]
    source: str
    note: str
    n_videos: int | None = None


def robust_spread(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite ``values``; the inter-quartile
    range / 1.349 where that is 0 (more than half the values equal), the standard
    deviation where that is 0 too; NaN with fewer than 2 finite values or no spread."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan")
    med = np.median(x)
    q1, q3 = np.percentile(x, [25, 75])
    for s in (MAD_TO_SD * np.median(np.abs(x - med)), (q3 - q1) / IQR_TO_SD, np.std(x, ddof=1)):
        if s > 0:
            return float(s)
    return float("nan")


def genuine_reference(videos: pd.DataFrame, columns: list[str]) -> dict:
    """The reference of ``columns`` over the genuine rows (label ``real``) of a per-video
    feature table: ``{"n_videos": n, "columns": {column: {"median", "spread", "n"}}}``;
    videos without any value (no face) and columns without a usable spread are left out."""
    real = videos[videos["label"].astype(str) == "real"]
    present = [c for c in columns if c in real.columns]
    real = real[real[present].notna().any(axis=1)] if present else real.iloc[:0]
    out = {}
    for c in columns:
        x = real[c].to_numpy(dtype=float) if c in real.columns else np.array([])
        spread = robust_spread(x)
        if math.isfinite(spread):
            out[c] = {"median": float(np.nanmedian(x)), "spread": spread, "n": int(np.isfinite(x).sum())}
    return {"n_videos": int(len(real)), "columns": out}


def write_genuine_reference(folder: str | os.PathLike, videos: pd.DataFrame, columns: list[str],
                            model_sha256: str, source: str) -> Path:
    """Write ``<folder>/genuine_reference.json`` for the model of fingerprint ``model_sha256``
    from the genuine videos of ``videos`` (``source``: where that table came from)."""
    ref = genuine_reference(videos, columns)
    doc = {"format": REFERENCE_FORMAT, "features_version": FEATURES_VERSION, "model_sha256": model_sha256,
           "statistic": f"median and {MAD_TO_SD} x median absolute deviation (else IQR / {IQR_TO_SD}, else the "
                        "standard deviation) of the genuine (label 'real') training videos, per column",
           "features": str(source), **ref}
    path = Path(folder) / REFERENCE_FILE
    path.write_text(json.dumps(doc, indent=1))
    return path


def load_genuine_reference(folder: str | os.PathLike, model_sha256: str | None = None) -> Reference:
    """The checked genuine reference of a model folder.

    Raises
    ------
    FileNotFoundError
        The folder has no :data:`REFERENCE_FILE`.
    GenuineReferenceError
        Unreadable, too large, another format or features version, written for another
        model file than ``model_sha256`` (when given), or a column without a finite median
        and a positive spread.
    """
    path = Path(folder) / REFERENCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {REFERENCE_FILE} in {folder}")
    if path.stat().st_size > MAX_REFERENCE_BYTES:
        raise GenuineReferenceError(f"{path} is too large")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GenuineReferenceError(f"unreadable {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != REFERENCE_FORMAT:
        raise GenuineReferenceError(f"{path} is not a format-{REFERENCE_FORMAT} genuine reference")
    if doc.get("features_version") != FEATURES_VERSION:
        raise GenuineReferenceError(f"{path} is of features version {doc.get('features_version')!r}, not {FEATURES_VERSION!r}")
    if model_sha256 and doc.get("model_sha256") != model_sha256:
        raise GenuineReferenceError(f"{path} was written for another model file (its model_sha256 differs)")
    cols = doc.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise GenuineReferenceError(f"{path} lists no columns")
    stats = {}
    for c, v in cols.items():
        m, s = (v.get("median"), v.get("spread")) if isinstance(v, dict) else (None, None)
        if not (_finite(m) and _finite(s) and s > 0):
            raise GenuineReferenceError(f"{path}: column {c!r} has no finite median and positive spread")
        stats[str(c)] = (float(m), float(s))
    n = doc.get("n_videos")
    n = int(n) if isinstance(n, int) else None
    return Reference(stats, "genuine", f"scaled against the {n or 'unknown number of'} genuine training videos "
                     "(median and robust spread of each column)", n)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def reference_for(model: DetectorModel | None) -> tuple[Reference | None, str]:
    """(the reference to measure a video against, a note for the reader).

    The genuine reference of the model's folder when it has a valid one; else the scaler's
    centre and scale over all training videos, the note saying why; else None and why.
    """
    if model is None:
        return None, "No model is loaded: the heat map shows the columns a model reads."
    why = ""
    if model.path:
        try:
            ref = load_genuine_reference(model.path, model.sha256 or None)
            return ref, ref.note
        except FileNotFoundError:
            why = f"this model folder has no {REFERENCE_FILE}"
        except GenuineReferenceError as e:
            why = f"its {REFERENCE_FILE} was refused: {e}"
    else:
        why = "the model was not loaded from a folder"
    scaler = model.scaler_reference()
    if not scaler:
        return None, f"No reference to scale against: {why}, and the model's pipeline has no scaler."
    note = (f"scaled against all training videos, genuine and fake (the model scaler's centre and scale), "
            f"not against genuine videos alone: {why}")
    return Reference(scaler, "scaler", note), note
