"""Why a video got its score: per-column and per-family contributions of the features,
feature values standardised against the training data, and the heat map over the face
(:mod:`detector.heatmap`) with its table and caption."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..analysis import Analysis
from ..features import family_of, feature_columns
from ..heatmap import HEAT_MAX, REGION_LABELS, FaceHeatMap, colour_bar, face_heatmap, region_contributions
from ..model import DetectorModel, ModelError
from ..reference import reference_for
from .texts import FAMILY_LABELS
from .video_view import scoring_track

log = logging.getLogger(__name__)


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
    """{model column: (centre, scale)} of the pipeline's scaler (empty when it has none;
    :meth:`detector.model.DetectorModel.scaler_reference`)."""
    return {} if model is None else model.scaler_reference()


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


def face_heatmap_of(a: Analysis, model: DetectorModel | None) -> tuple[FaceHeatMap | None, str]:
    """(heat map of the scoring track, the reference's note), or (None, why there is none):
    :func:`detector.heatmap.face_heatmap` of the columns the model reads, against the model
    folder's genuine reference (:func:`detector.reference.reference_for`)."""
    track = scoring_track(a)
    if track is None:
        return None, "No face track: no heat map."
    reference, note = reference_for(model)
    if reference is None:
        return None, note
    hm = face_heatmap(a, track, model.used_columns, reference)
    return (hm, note) if hm is not None else (None, "No face crops were kept for this analysis: no heat map.")


def region_table(hm: FaceHeatMap, model: DetectorModel, features: dict[str, float]) -> pd.DataFrame:
    """One row per region of the heat map: its value (root mean square z against the
    reference), the columns that fed it, the one furthest from the reference (with its z)
    and the score change of its columns (:func:`column_contributions` summed)."""
    change = region_contributions(column_contributions(model, features))
    num = lambda v, fmt: "—" if v is None or not np.isfinite(v) else fmt.format(v)  # noqa: E731
    rows = [{"region": REGION_LABELS[r], "unlike genuine (rms z)": num(v.value, "{:.2f}"), "columns": v.n_columns,
             "furthest column": v.top_column or "—", "its z": num(v.top_z, "{:+.2f}"),
             "score change": num(change.get(r), "{:+.3f}")} for r, v in hm.regions.items()]
    return pd.DataFrame(rows, columns=["region", "unlike genuine (rms z)", "columns", "furthest column", "its z",
                                       "score change"])


def heatmap_caption(hm: FaceHeatMap) -> str:
    """What the heat map shows, for its caption: the crop, the scale, the reference, the
    regions no column of the model measures."""
    unmeasured = [REGION_LABELS[r] for r, v in hm.regions.items() if not v.n_columns]
    return (f"Face crop of frame {hm.frame} ({hm.time_s:.2f} s). Colour: how far each region's measurements "
            f"sit from those of genuine videos (root mean square of the z-scores of the model's columns there; "
            f"~1 typical of genuine, {HEAT_MAX:g} or more: rare in genuine videos; pale yellow to dark red). "
            f"Values {hm.note}."
            + (f" Not measured by this model, left uncoloured: {', '.join(unmeasured)}." if unmeasured else "")
            + (f" Columns of no region: {', '.join(hm.unplaced)}." if hm.unplaced else ""))
