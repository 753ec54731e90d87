"""The case report: one self-contained HTML file per analysed video.

:func:`case_report_html` renders an :class:`~detector.analysis.Analysis` (the same object
the dashboard shows) with the model card and the stored evaluation's error rates at the
model's threshold.  Everything is inline: face crops as base64 PNG, charts as small SVG
drawn here (no JavaScript, no network), so the file opens offline, can be archived
with the case and printed to PDF from any browser.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone
from typing import Iterable, Sequence

import cv2
import numpy as np
import pandas as pd

from . import __version__
from .analysis import Analysis
from .dashboard.explain import explanation_text, family_contributions, family_frame_table, top_feature_contributions
from .dashboard.models import card_summary
from .dashboard.style import FAKE_COLOUR, REAL_COLOUR, score_axis
from .dashboard.texts import (DISCLAIMER, FAMILY_LABELS, evidence_note, fmt_pct, fmt_score, highlight_note,
                              rates_caveat, verdict_headline)
from .dashboard.uploads import safe_filename
from .dashboard.video_view import driving_frames, frame_scores, gallery, metadata_table, scoring_track, tracks_table
from .features import KNOWN_FAMILIES, family_of, feature_columns
from .metrics import CONVENTION
from .model import DetectorModel

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:980px;color:#222;
line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.8em}h3{font-size:1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.mono,span.mono{font-family:Consolas,monospace;
word-break:break-all}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.15em;font-weight:600;margin:.8em 0}
.fake{background:#fdecea;border:1px solid #c0392b;color:#922b21}.real{background:#eaf4fb;border:1px solid #2471a3;
color:#1b4f72}.other{background:#fef9e7;border:1px solid #b7950b;color:#7d6608}
.note{background:#f8f9f9;border-left:4px solid #7f8c8d;padding:.6em 1em;font-size:.92em}
.gallery{display:flex;flex-wrap:wrap;gap:8px}.gallery figure{margin:0;text-align:center;font-size:.75em}
.gallery img{width:112px;height:112px;display:block}.muted{color:#666;font-size:.88em}
svg text{font-family:Helvetica,Arial,sans-serif}
@media print{h2{page-break-after:avoid}.gallery figure{page-break-inside:avoid}}
"""


# --------------------------------------------------------------------------- small pieces

def esc(value) -> str:
    """HTML-escaped text of any value ('—' for None)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def png_data_uri(rgb: np.ndarray) -> str:
    """An RGB uint8 image as a base64 PNG data URI."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - PNG encoding of a uint8 image does not fail
        return ""
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def table_html(rows: Iterable[Sequence], header: Sequence[str] | None = None, mono_cols: set[int] = frozenset()) -> str:
    """A plain HTML table of escaped cells."""
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(f"<td class='mono'>{esc(v)}</td>" if i in mono_cols else f"<td>{esc(v)}</td>"
                        for i, v in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


def convention_html() -> str:
    """:data:`detector.metrics.CONVENTION` as HTML: its first line, then its list items."""
    first, *items = CONVENTION.splitlines()
    return (f"<p class='muted'>{esc(first)}</p><ul class='muted'>"
            + "".join(f"<li>{esc(i.removeprefix('- '))}</li>" for i in items) + "</ul>")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    ticks, v = [], start
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    return ticks


# --------------------------------------------------------------------------- SVG charts

def svg_line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
                   x_label: str = "", y_label: str = "", hline: float | None = None, hline_label: str = "",
                   marks: Sequence[tuple[float, float]] = (), width: int = 900, height: int = 260) -> str:
    """A static line chart: ``series`` maps a name to (x values, y values).

    ``hline`` draws a dashed horizontal line (e.g. the threshold); ``marks`` circles points.
    """
    xs = [float(x) for xv, _ in series.values() for x in xv]
    ys = [float(y) for _, yv in series.values() for y in yv if y is not None and math.isfinite(float(y))]
    if hline is not None:
        ys.append(float(hline))
    if not xs or not ys:
        return "<p class='muted'>(no data to plot)</p>"
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = 0.08 * ((y1 - y0) or 1.0)
    y0, y1 = y0 - pad, y1 + pad
    legend_rows = math.ceil(len(series) / 4)
    L, R, T, B = 64, 16, 28, 44 + 18 * legend_rows
    pw, ph = width - L - R, height - T - B
    sx = lambda x: L + (float(x) - x0) / (x1 - x0) * pw  # noqa: E731
    sy = lambda y: T + (1 - (float(y) - y0) / (y1 - y0)) * ph  # noqa: E731
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' role='img'><title>{esc(title)}</title>",
           f"<text x='{L}' y='16' font-size='13' font-weight='bold'>{esc(title)}</text>",
           f"<rect x='{L}' y='{T}' width='{pw}' height='{ph}' fill='#fbfbfb' stroke='#bbb'/>"]
    for t in nice_ticks(y0, y1):
        out.append(f"<line x1='{L}' x2='{L + pw}' y1='{sy(t):.1f}' y2='{sy(t):.1f}' stroke='#e5e5e5'/>"
                   f"<text x='{L - 6}' y='{sy(t) + 4:.1f}' font-size='11' text-anchor='end'>{t:g}</text>")
    for t in nice_ticks(x0, x1, 8):
        out.append(f"<text x='{sx(t):.1f}' y='{T + ph + 15}' font-size='11' text-anchor='middle'>{t:g}</text>")
    out.append(f"<text x='{L + pw / 2}' y='{T + ph + 32}' font-size='12' text-anchor='middle'>{esc(x_label)}</text>")
    out.append(f"<text x='14' y='{T + ph / 2}' font-size='12' text-anchor='middle' "
               f"transform='rotate(-90 14 {T + ph / 2})'>{esc(y_label)}</text>")
    if hline is not None:
        out.append(f"<line x1='{L}' x2='{L + pw}' y1='{sy(hline):.1f}' y2='{sy(hline):.1f}' stroke='#000' "
                   f"stroke-dasharray='6 4' stroke-width='1.5'/><text x='{L + 4}' y='{sy(hline) - 4:.1f}' "
                   f"font-size='11'>{esc(hline_label)}</text>")
    for k, (name, (xv, yv)) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        pts = [(sx(x), sy(y)) for x, y in zip(xv, yv) if y is not None and math.isfinite(float(y))]
        if len(pts) > 1:
            out.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='"
                       + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + "'/>")
        out += [f"<circle cx='{px:.1f}' cy='{py:.1f}' r='2.8' fill='{colour}'/>" for px, py in pts]
        lx, ly = L + (k % 4) * (pw / 4), T + ph + 48 + 18 * (k // 4)
        out.append(f"<rect x='{lx:.1f}' y='{ly - 9}' width='14' height='4' fill='{colour}'/>"
                   f"<text x='{lx + 18:.1f}' y='{ly - 4}' font-size='11'>{esc(name)}</text>")
    for mx, my in marks:
        out.append(f"<circle cx='{sx(mx):.1f}' cy='{sy(my):.1f}' r='8' fill='none' stroke='#c0392b' stroke-width='2.5'/>")
    out.append("</svg>")
    return "".join(out)


def svg_score_bar(score: float, threshold: float, width: int = 900, height: int = 80) -> str:
    """The SVM score on a horizontal scale split at the threshold (blue = genuine side, red = fake)."""
    lo, hi = score_axis(score, threshold)
    L, R = 20, 20
    pw = width - L - R
    sx = lambda v: L + (v - lo) / (hi - lo) * pw  # noqa: E731
    t, s = sx(threshold), sx(min(max(score, lo), hi))
    colour = FAKE_COLOUR if score >= threshold else REAL_COLOUR
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
             f"role='img'><title>score {score:+.3f}, threshold {threshold:+.3f}</title>",
             f"<rect x='{L}' y='22' width='{t - L:.1f}' height='22' fill='#d6eaf8'/>",
             f"<rect x='{t:.1f}' y='22' width='{L + pw - t:.1f}' height='22' fill='#f5b7b1'/>",
             f"<line x1='{t:.1f}' x2='{t:.1f}' y1='14' y2='52' stroke='#000' stroke-width='3'/>",
             f"<text x='{t:.1f}' y='11' font-size='12' text-anchor='middle'>threshold {threshold:+.3f}</text>",
             f"<path d='M{s:.1f},48 l-8,14 h16 z' fill='{colour}'/>",
             f"<rect x='{s - 3:.1f}' y='19' width='6' height='28' fill='{colour}'/>",
             f"<text x='{s:.1f}' y='76' font-size='12' font-weight='bold' text-anchor='middle'>score {score:+.3f}</text>",
             f"<text x='{L}' y='62' font-size='11' fill='{REAL_COLOUR}'>← genuine</text>",
             f"<text x='{L + pw}' y='62' font-size='11' fill='{FAKE_COLOUR}' text-anchor='end'>fake →</text>",
             "</svg>"]
    return "".join(parts)


def svg_bar_chart(values: dict[str, float], title: str = "", width: int = 900) -> str:
    """Horizontal bars around zero (red = positive, blue = negative)."""
    if not values:
        return "<p class='muted'>(nothing to plot)</p>"
    items = sorted(values.items(), key=lambda kv: -kv[1])
    row, L, R, T = 24, 220, 70, 26
    height = T + row * len(items) + 10
    m = max(abs(v) for _, v in items) or 1.0
    pw = width - L - R
    zero = L + pw / 2
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           f"role='img'><title>{esc(title)}</title><text x='0' y='16' font-size='13' font-weight='bold'>{esc(title)}</text>",
           f"<line x1='{zero}' x2='{zero}' y1='{T - 4}' y2='{height - 6}' stroke='#000'/>"]
    for k, (label, v) in enumerate(items):
        y = T + k * row
        w = abs(v) / m * (pw / 2 - 4)
        x = zero if v >= 0 else zero - w
        colour = FAKE_COLOUR if v > 0 else REAL_COLOUR
        out.append(f"<text x='{L - 8}' y='{y + 15}' font-size='12' text-anchor='end'>{esc(label)}</text>"
                   f"<rect x='{x:.1f}' y='{y + 3}' width='{max(w, 0.5):.1f}' height='{row - 8}' fill='{colour}'/>"
                   f"<text x='{(x + w + 4) if v >= 0 else (x - 4):.1f}' y='{y + 15}' font-size='11' "
                   f"text-anchor='{'start' if v >= 0 else 'end'}'>{v:+.3f}</text>")
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- sections

def _verdict_section(a: Analysis, card: dict | None = None) -> str:
    text, kind = verdict_headline(a)
    cls = {"error": "fake", "success": "real"}.get(kind, "other")
    parts = [f"<div class='verdict {cls}'>{esc(text)}</div>"]
    note = evidence_note(a, card)
    if note:
        parts.append(f"<p class='evidence'>{esc(note)}</p>")
    if a.score is not None and a.threshold is not None:
        parts.append(svg_score_bar(a.score, a.threshold))
    parts.append(f"<p class='note'>{esc(DISCLAIMER)}</p>")
    return "".join(parts)


def _error_rates_section(a: Analysis, evaluation: dict | None, card: dict | None = None) -> str:
    if a.threshold is None:
        return "<p>No model was loaded: no score, no error rates.</p>"
    if not evaluation:
        return ("<p>No stored evaluation is available for this model: the error rates at this threshold "
                "are unknown.</p>")
    rows = [("threshold", fmt_score(evaluation.get("threshold", a.threshold))),
            ("FAR = APCER (fakes accepted as genuine)", fmt_pct(evaluation.get("far"))),
            ("FRR = BPCER (genuine rejected as fake)", fmt_pct(evaluation.get("frr"))),
            ("HTER = (FAR + FRR) / 2", fmt_pct(evaluation.get("hter")))]
    if evaluation.get("auc") is not None:
        ci = evaluation.get("auc_ci") or [None, None]
        ci_txt = f" (95 % CI {ci[0]:.3f}–{ci[1]:.3f})" if None not in ci else ""
        rows.append(("ROC AUC", f"{evaluation['auc']:.3f}{ci_txt}"))
    if evaluation.get("eer") is not None:
        rows.append(("EER", fmt_pct(evaluation.get("eer"))))
    if evaluation.get("n_real") is not None:
        rows.append(("evaluated videos", f"{evaluation.get('n_real')} genuine, {evaluation.get('n_fake')} fake"))
    return (table_html(rows, ["measure", "value"])
            + "<p class='muted'>Rates measured on the model's stored out-of-fold evaluation, not on this video.</p>"
            + convention_html() + f"<p class='note'>{esc(rates_caveat(card))}</p>")


def _model_section(a: Analysis, card: dict | None) -> str:
    if not card and not a.model:
        return "<p>No model was loaded: faces and artifact features only.</p>"
    table = card_summary(card) if card else pd.DataFrame(
        [("name", a.model.get("name")), ("version", a.model.get("version"))], columns=["item", "value"])
    return table_html(table.itertuples(index=False), ["item", "value"])


def _gallery_section(a: Analysis) -> str:
    if not a.tracks:
        return "<p>No face was found in the sampled frames.</p>"
    highlight = driving_frames(a)
    out = []
    for tr in a.tracks:
        verdict = "" if tr.score is None else f", score {tr.score:+.3f} → {tr.verdict}"
        out.append(f"<h3>Track {tr.track_id}: {tr.n_faces} faces, frames {tr.first_frame}–{tr.last_frame}{esc(verdict)}</h3>")
        images, captions = gallery(a, tr, highlight)
        out.append("<div class='gallery'>" + "".join(
            f"<figure><img src='{png_data_uri(img)}' alt='{esc(cap)}'><figcaption>{esc(cap)}</figcaption></figure>"
            for img, cap in zip(images, captions)) + "</div>")
    if highlight:
        out.append(f"<p class='muted'>▲ and a red frame: {esc(highlight_note(a))}.</p>")
    return "".join(out)


def _plots_section(a: Analysis, model: DetectorModel | None) -> str:
    if not len(a.table):
        return "<p>No per-frame data (no face found).</p>"
    out = []
    highlight = driving_frames(a)
    fs = frame_scores(a)
    if len(fs):
        series = {f"track {tid}": (g["time_s"].tolist(), g["frame_score"].tolist()) for tid, g in fs.groupby("track_id")}
        tr = scoring_track(a)
        marks = [(r.time_s, r.frame_score) for r in fs.itertuples()
                 if r.frame in highlight and tr is not None and r.track_id == tr.track_id]
        out.append(svg_line_chart(series, "Per-frame score (each frame scored alone)", "time (s)", "score",
                                  hline=a.threshold, hline_label=f"threshold {a.threshold:+.3f}", marks=marks))
    tr = scoring_track(a)
    present = sorted({family_of(c) for c in feature_columns(a.table)}, key=KNOWN_FAMILIES.index)
    for fam in present:
        long, standardised = family_frame_table(a, fam, model, tr.track_id if tr else None)
        series = {name: (g["time_s"].tolist(), g["value"].tolist()) for name, g in long.groupby("feature")}
        y_label = "scaled vs training data" if standardised else "value"
        out.append(svg_line_chart(series, f"{FAMILY_LABELS.get(fam, fam)} ({fam}_*) per frame", "time (s)",
                                  y_label, height=240 + 18 * math.ceil(len(series) / 4)))
    return "".join(out)


def _explanation_section(a: Analysis, model: DetectorModel | None) -> str:
    tr = scoring_track(a)
    if model is None or tr is None or tr.score is None:
        return "<p>No explanation without a model and a scored face track.</p>"
    fam = family_contributions(model, tr.features)
    labelled = {FAMILY_LABELS.get(k, k): v for k, v in fam.items() if abs(v) > 1e-12}
    text = explanation_text(fam).replace("**", "")
    top = top_feature_contributions(model, tr.features, k=8)
    return (f"<p>{esc(text)}</p>" + svg_bar_chart(labelled, "Score change by feature family (positive = towards fake)")
            + "<h3>Features that moved the score most</h3>"
            + table_html(top.itertuples(index=False), list(top.columns))
            + "<p class='muted'>Each value is the change of the score when that feature alone is set back to "
              "its typical training value (the model scaler's centre: mean or median): exact for a linear "
              "SVM, a local sensitivity for a non-linear one.</p>")


# --------------------------------------------------------------------------- report

def case_report_html(analysis: Analysis, model_card: dict | None, evaluation: dict | None,
                     model: DetectorModel | None = None) -> str:
    """A self-contained HTML case report of one analysis.

    Parameters
    ----------
    analysis : the analysis to report (from :func:`detector.analysis.analyze`, with thumbnails)
    model_card : the model's ``card.json`` content, or None when no model was used
    evaluation : error rates of the stored evaluation at the model's threshold, e.g. from
        :func:`detector.dashboard.evaluation_store.operating_point` (``far``, ``frr``, ``hter``, ``n_real``,
        ``n_fake``, optionally ``threshold``, ``auc``, ``auc_ci``, ``eer``); None when the
        model has no stored evaluation
    model : the model itself, to explain the score and standardise the feature plots (optional)

    Returns
    -------
    str
        A complete HTML document with every image and chart inline.
    """
    a = analysis
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta = metadata_table(a)
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in a.timings.items())
    sections = [
        ("Verdict", _verdict_section(a, model_card)),
        ("File", table_html(meta.itertuples(index=False), ["field", "value"])),
        ("Model", _model_section(a, model_card)),
        ("Error rates at this threshold", _error_rates_section(a, evaluation, model_card)),
        ("Face tracks", table_html(tracks_table(a).itertuples(index=False), list(tracks_table(a).columns))
         if a.tracks else "<p>No face track.</p>"),
        ("Face crops", _gallery_section(a)),
        ("Per-frame plots", _plots_section(a, model)),
        ("Why this score", _explanation_section(a, model)),
        ("Analysis record", table_html([
            ("analysed at (UTC)", a.analysed_at), ("report generated at (UTC)", now),
            ("software", f"deepfake-detector {__version__}"), ("features version", a.features_version),
            ("face detector", a.detector), ("frames sampled", a.n_sampled), ("processing time", timings)],
            ["item", "value"])),
    ]
    body = "".join(f"<h2>{esc(title)}</h2>{content}" for title, content in sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Case report: {esc(a.info.name)}</title><style>{CSS}</style></head><body>"
            f"<h1>Case report: deepfake analysis</h1>"
            f"<p class='muted'>File <span class='mono'>{esc(a.info.name)}</span> · SHA-256 "
            f"<span class='mono'>{esc(a.info.sha256)}</span> · analysed {esc(a.analysed_at)}</p>"
            f"{body}<hr><p class='note'>{esc(DISCLAIMER)} Produced by deepfake-detector {esc(__version__)} "
            f"(CPU-only face artifact features and an SVM).</p></body></html>")


def report_filename(analysis: Analysis) -> str:
    """``case-report_<name>_<sha256 prefix>.html``."""
    return f"case-report_{safe_filename(analysis.info.name)}_{analysis.info.sha256[:12]}.html"
