"""The dashboard's plotly figures: one video (score gauge, per-frame scores, feature
families, contributions), the stored evaluation (ROC, DET, error rates, confusion, class
balance, Tippett and ECE plots of the likelihood ratios) and a batch scan (score histogram).

The only module of :mod:`detector.dashboard` that imports plotly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis import Analysis
from ..card import condition_label
from ..metrics import det_curve_points, error_rates_curve, roc_points
from ..model import DetectorModel
from .evaluation_store import EvaluationData, ece_curves, operating_point, tippett_curves
from .explain import family_frame_table
from .style import FAKE_COLOUR, NEUTRAL_COLOUR, REAL_COLOUR, score_axis
from .texts import FAMILY_LABELS
from .video_view import frame_scores, scoring_track

#: Height in pixels of the plot area of a feature family's figure, and the gap from its
#: bottom to the legend below (room for the tick labels and the x-axis title).
FAMILY_PLOT_HEIGHT = 240
FAMILY_LEGEND_GAP = 60


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    kw.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    fig.update_layout(height=height, **kw)
    return fig


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
    # the legend goes below the x-axis title, in a bottom margin grown with its rows (about four names a row)
    rows = -(-long["feature"].nunique() // 4)
    bottom = FAMILY_LEGEND_GAP + 22 * rows
    return _layout(fig, 40 + FAMILY_PLOT_HEIGHT + bottom, title=title, margin=dict(l=10, r=10, t=40, b=bottom),
                   legend=dict(orientation="h", yanchor="top", y=-FAMILY_LEGEND_GAP / FAMILY_PLOT_HEIGHT))


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


def roc_figure(ev: EvaluationData, threshold: float) -> go.Figure:
    """ROC (fake = positive): FRR on x, 1 - FAR on y, with the operating point."""
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


def _titled(name: str, condition: str | None) -> str:
    return name if condition is None else f"{name}: {condition_label(condition)}"


def tippett_figure(ev: EvaluationData, condition: str | None = None) -> go.Figure | None:
    """Tippett plot of the stored log10 LRs (the model's own evaluation, or one
    ``condition`` of the per-condition scores): for fake and genuine videos, the share with
    a log10 LR at or above x (None without LRs of both classes)."""
    curves = tippett_curves(ev, condition)
    if curves is None:
        return None
    fig = go.Figure()
    for name, colour, label in (("fake", FAKE_COLOUR, "fake videos"), ("real", REAL_COLOUR, "genuine videos")):
        x, p = curves[name]
        fig.add_trace(go.Scatter(x=np.append(x, x[-1]), y=np.append(p, 0.0), mode="lines", line_shape="vh",
                                 name=f"{label} ({len(x)})", line=dict(color=colour),
                                 hovertemplate="log10 LR ≥ %{x:+.2f}: %{y:.1%}<extra></extra>"))
    fig.add_vline(x=0, line=dict(dash="dot", color=NEUTRAL_COLOUR))
    fig.update_xaxes(title="log10 likelihood ratio (fake vs genuine)")
    fig.update_yaxes(title="Share of videos with log10 LR ≥ x", range=[-0.01, 1.01])
    return _layout(fig, 380, title=_titled("Tippett plot", condition), legend=dict(orientation="h", y=-0.22))


def ece_figure(ev: EvaluationData, condition: str | None = None) -> go.Figure | None:
    """ECE plot (empirical cross-entropy, lir) of the stored log10 LRs, as
    :func:`tippett_figure` picks them: the LRs, the same after the best monotone
    recalibration (PAV) and a system that always says LR = 1, against the prior log10
    odds; None without LRs of both classes."""
    c = ece_curves(ev, condition)
    if c is None:
        return None
    fig = go.Figure()
    for col, name, style in (("ece", "these LRs", dict(color=FAKE_COLOUR)),
                             ("ece_pav", "after PAV recalibration (discrimination only)", dict(color=REAL_COLOUR, dash="dash")),
                             ("ece_reference", "LR always 1 (no evidence)", dict(color=NEUTRAL_COLOUR, dash="dot"))):
        y = c[col].replace([np.inf, -np.inf], np.nan)
        fig.add_trace(go.Scatter(x=c["prior_log10_odds"], y=y, mode="lines", name=name, line=style,
                                 hovertemplate="prior log10 odds %{x:+.2f}: %{y:.3f} bits<extra></extra>"))
    fig.add_vline(x=0, line=dict(dash="dot", color=NEUTRAL_COLOUR))
    fig.update_xaxes(title="prior log10 odds (fake vs genuine)")
    fig.update_yaxes(title="empirical cross-entropy (bits)", rangemode="tozero")
    return _layout(fig, 380, title=_titled("ECE plot", condition), legend=dict(orientation="h", y=-0.22))


def error_rate_figure(ev: EvaluationData, threshold: float) -> go.Figure:
    """FAR and FRR against the threshold, with the chosen threshold."""
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


def score_histogram(df: pd.DataFrame, threshold: float | None = None) -> go.Figure:
    """Histogram of batch scores by verdict, with the threshold."""
    fig = go.Figure()
    for verdict, colour in (("real", REAL_COLOUR), ("inconclusive", NEUTRAL_COLOUR), ("fake", FAKE_COLOUR)):
        g = df[df["verdict"] == verdict]
        if len(g):
            fig.add_trace(go.Histogram(x=g["score"], name=verdict, marker_color=colour, opacity=0.75, nbinsx=40))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="black",
                      annotation_text=f"threshold {threshold:+.3f}")
    fig.update_xaxes(title="SVM score (higher = more fake)")
    fig.update_yaxes(title="videos")
    return _layout(fig, 280, barmode="overlay", title="Score distribution")
