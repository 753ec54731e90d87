"""A model's stored evaluation (``<model>/evaluation/``): out-of-fold scores, the operating
point at any threshold, breakdowns per method and compression, re-encoded copies, and the
likelihood ratios' Tippett and ECE curves (of the model's own evaluation, or per condition).

Nothing is re-run: every number comes from ``scores.csv``, ``frame_scores.csv`` and
``metrics.json`` as the training stage wrote them, and ``condition_scores.csv`` as
``benchmarks/generalization.py --into`` wrote it.  Score convention:
:data:`detector.metrics.CONVENTION`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..card import condition_label, trained_conditions
from ..evaluation import target_threshold
from ..metrics import as_binary, bootstrap_auc_ci, ece_curve, eer, metrics_at_threshold, tpr_at_fpr
from ..model import CONDITION_SCORES_FILE, EVALUATION_DIR
from .models import find_summary
from .texts import DEGRADED_LABELS


#: The operating-point targets of the Evaluation page: their label -> the rate they bound
#: (``frr``: genuine videos flagged, as ``scan --flag-rate``; ``far``: fakes missed).
TARGETS = {"flag at most X % of genuine videos": "frr", "miss at most X % of fakes": "far"}
#: The false-positive rates (genuine videos flagged) of the TPR table.
TABLE_FPRS = (0.01, 0.05, 0.10)


class EvaluationError(ValueError):
    """A stored evaluation that cannot be read (one-line message)."""


@dataclass
class EvaluationData:
    """The stored evaluation of a model: per-video out-of-fold scores and metrics."""

    folder: str
    scores: pd.DataFrame
    metrics: dict
    frame_scores: pd.DataFrame | None = None
    #: out-of-fold scores and log10 LRs of the training procedure per condition (one fold
    #: seed; ``condition_scores.csv``), None when not stored; why it could not be read, if so
    condition_scores: pd.DataFrame | None = None
    condition_scores_error: str | None = None

    @cached_property
    def y(self) -> np.ndarray:
        """Labels, 1 = fake, 0 = real."""
        return as_binary(self.scores["label"].to_numpy())

    @cached_property
    def s(self) -> np.ndarray:
        """Scores, higher = more likely fake."""
        return self.scores["score"].to_numpy(dtype=float)


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
    data = EvaluationData(str(folder), _read_scores(path), _read_metrics(ev / "metrics.json"),
                          _read_frame_scores(ev / "frame_scores.csv"),
                          *_read_condition_scores(ev / CONDITION_SCORES_FILE))
    try:
        y = data.y
    except ValueError as e:
        raise EvaluationError(f"{path}: {e}") from None
    if y.sum() == 0 or y.sum() == len(y):
        raise EvaluationError(f"{path} needs both real and fake videos (got {len(y) - y.sum()} real, {y.sum()} fake)")
    return data


def _read_scores(path: Path) -> pd.DataFrame:
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
    return scores


def _read_metrics(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise EvaluationError(f"cannot read {path}: {e}") from None


def _read_frame_scores(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frames = pd.read_csv(path)
        frames["score"] = pd.to_numeric(frames["score"], errors="coerce")
        return frames[np.isfinite(frames["score"])]
    except Exception:  # optional detail: the page goes on without per-frame scores
        return None


def _read_condition_scores(path: Path) -> tuple[pd.DataFrame | None, str | None]:
    """(the per-condition scores with a label and a finite log10 LR, or None; the reason
    they cannot be used, or None): an optional file, so a bad one does not hide the rest."""
    if not path.exists():
        return None, None
    try:
        df = pd.read_csv(path)
        missing = [c for c in ("condition", "label", "llr") if c not in df.columns]
        if missing:
            return None, f"{path} lacks column(s) {missing}"
        df["llr"] = pd.to_numeric(df["llr"], errors="coerce")
        df = df[np.isfinite(df["llr"])].reset_index(drop=True)
        df["condition"] = df["condition"].astype(str)
        df["y"] = as_binary(df["label"].to_numpy())
    except Exception as e:  # optional detail: the page goes on without the per-condition plots
        return None, f"cannot read {path}: {e}"
    return df, None


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


def conditions_table(card: dict | None) -> tuple[pd.DataFrame, str] | None:
    """(one row per condition: original, each platform re-encode, each left-out method, their
    mean and the worst; the command that measured it) from the model card's ``conditions``
    (``benchmarks/generalization.py --into``; Cllr and Cllr-min columns when it has them);
    None when the card has none."""
    c = (card or {}).get("conditions")
    if not isinstance(c, dict) or not c.get("table"):
        return None
    table = [r for r in c["table"] if isinstance(r, dict)]
    lr = any(r.get("cllr") is not None for r in table)  # older cards: no LR columns
    trained = trained_conditions(card)
    rows = [{"Condition": condition_label(str(r.get("condition")), trained), "AUC": r.get("auc"),
             "AUC min": r.get("auc_min"), "AUC max": r.get("auc_max"), "EER": r.get("eer"),
             "TPR at FPR 5 %": r.get("tpr_at_fpr5"),
             **({"Cllr": r.get("cllr"), "Cllr-min": r.get("cllr_min")} if lr else {})} for r in table]
    return pd.DataFrame(rows), f"{c.get('command', '?')} (fold seeds {c.get('seeds', '?')})"


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
    return metrics_at_threshold(ev.y, ev.s, threshold)


def rates_at(ev: EvaluationData, threshold: float, summary: dict | None = None) -> dict:
    """What the case report states of a stored evaluation at ``threshold``: the operating
    point, ``summary`` (:func:`overall_summary`, computed when not given) and the threshold."""
    return {**operating_point(ev, threshold), **(overall_summary(ev) if summary is None else summary),
            "threshold": threshold}


def threshold_range(ev: EvaluationData, threshold: float | None = None) -> tuple[float, float, float]:
    """(min, max, step) for a threshold slider covering all stored scores (and the threshold)."""
    lo, hi = float(np.min(ev.s)), float(np.max(ev.s))
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.02 * (hi - lo or 1.0)
    lo, hi = math.floor((lo - pad) * 100) / 100, math.ceil((hi + pad) * 100) / 100
    step = max(0.001, round((hi - lo) / 400, 3))
    return lo, hi, step


def breakdown_table(ev: EvaluationData, threshold: float, by: str) -> pd.DataFrame:
    """Error rates at ``threshold`` per value of ``by`` (``method``, ``compression``...).

    Per manipulation method (``by="method"``): a method's fakes are compared with all
    genuine videos, so its FAR is that method's APCER and its AUC is method vs genuine;
    a genuine-only method shows its FRR (BPCER).  Any other column is split plainly:
    genuine and fake videos at that level, FAR, FRR, HTER and AUC.
    """
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


def frame_level_summary(ev: EvaluationData) -> dict | None:
    """AUC and EER over the stored per-frame scores (None when there are none)."""
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


def class_balance_text(ev: EvaluationData) -> str:
    """'60 genuine (20.0 %) · 240 fake (80.0 %) videos'."""
    y = ev.y
    n, n_fake = len(y), int(y.sum())
    return (f"{n - n_fake:,} genuine ({100 * (n - n_fake) / n:.1f} %) · {n_fake:,} fake "
            f"({100 * n_fake / n:.1f} %) videos")


def scores_with_decision(ev: EvaluationData, threshold: float) -> pd.DataFrame:
    """The stored per-video scores with the decision at ``threshold`` (for CSV export)."""
    out = ev.scores.copy()
    out["decision_at_threshold"] = np.where(out["score"] >= threshold, "fake", "real")
    out["threshold"] = threshold
    return out


def chosen_threshold(ev: EvaluationData, target: str, percent: float) -> float:
    """The threshold of a target of :data:`TARGETS` (its label or ``frr`` / ``far``) at
    ``percent`` % (:func:`detector.evaluation.target_threshold` of the stored scores, the
    function ``scan --flag-rate`` uses)."""
    rate = TARGETS.get(target, target)
    if rate not in ("frr", "far"):
        raise ValueError(f"unknown target {target!r}; expected one of {list(TARGETS)}")
    return target_threshold(ev.scores, **{rate: percent / 100})


def tpr_table(ev: EvaluationData, fprs: tuple[float, ...] = TABLE_FPRS) -> pd.DataFrame:
    """Share of fakes flagged (TPR) when at most each of ``fprs`` of the genuine videos are
    flagged (:func:`detector.metrics.tpr_at_fpr`), with the threshold that does it."""
    return pd.DataFrame([{"Genuine videos flagged (FPR) at most": f, "Fakes flagged (TPR)": tpr_at_fpr(ev.y, ev.s, f),
                          "Threshold": target_threshold(ev.scores, frr=f)} for f in fprs])


def condition_choices(ev: EvaluationData, exclude_original: bool = False) -> list[str]:
    """The conditions of the stored per-condition scores with LRs of both classes,
    ``original`` first, then in the file's order ([] without such scores).

    ``exclude_original``: leave ``original`` out (when the LRs of the model's own stored
    scores, of the original files, are shown already)."""
    d = ev.condition_scores
    if d is None:
        return []
    both = d.groupby("condition", sort=False)["y"].nunique()
    names = [str(c) for c in both.index[both.to_numpy() == 2] if not (exclude_original and c == "original")]
    return sorted(names, key=lambda c: c != "original")


def labelled_llrs(ev: EvaluationData, condition: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels 1 = fake, finite log10 LRs) of the model's own stored evaluation (``condition``
    None: ``scores.csv``'s ``llr``) or of one ``condition`` of the per-condition scores;
    None without LRs of both classes."""
    if condition is None:
        if "llr" not in ev.scores.columns:
            return None
        y, llr = ev.y, pd.to_numeric(ev.scores["llr"], errors="coerce").to_numpy(dtype=float)
    else:
        d = ev.condition_scores
        if d is None:
            return None
        d = d[d["condition"] == condition]
        y, llr = d["y"].to_numpy(dtype=int), d["llr"].to_numpy(dtype=float)
    ok = np.isfinite(llr)
    y, llr = y[ok], llr[ok]
    return (y, llr) if 0 < y.sum() < len(y) else None


def tippett_curves(ev: EvaluationData, condition: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Tippett curves of the log10 LRs of :func:`labelled_llrs`: per class (``fake``,
    ``real``), the sorted values and the share of that class's videos at or above each;
    None without LRs of both classes."""
    data = labelled_llrs(ev, condition)
    if data is None:
        return None
    y, llr = data
    out = {}
    for name, cls in (("fake", 1), ("real", 0)):
        x = np.sort(llr[y == cls])
        out[name] = (x, 1 - np.arange(len(x)) / len(x))
    return out


def ece_curves(ev: EvaluationData, condition: str | None = None) -> pd.DataFrame | None:
    """Empirical cross-entropy over prior odds (:func:`detector.metrics.ece_curve`, lir) of
    the log10 LRs of :func:`labelled_llrs`; None without LRs of both classes."""
    data = labelled_llrs(ev, condition)
    return None if data is None else ece_curve(*data)
