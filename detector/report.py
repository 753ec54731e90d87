"""The case report: one self-contained HTML file per analysed video.

:func:`case_report_html` renders an :class:`~detector.analysis.Analysis` (the same object
the dashboard shows) with the model card and the stored evaluation's error rates at the
model's threshold, the likelihood ratio and its verbal category, and the heat map over the
face (:mod:`detector.heatmap`).  Everything is inline: face crops and the heat map as base64
PNG, charts as small static SVG from matplotlib (:mod:`detector.charts`; no JavaScript, no
network), so the file opens offline, can be archived with the case and printed to PDF from
any browser.  :func:`write_case_report` writes it for a model folder (``inspect --report``).
"""

from __future__ import annotations

import base64
import html
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import pandas as pd

from . import __version__
from .analysis import Analysis
from .calibration import lr_text
from .charts import bar_chart, line_chart, score_bar
from .dashboard import evaluation_store
from .dashboard.explain import (colour_bar, explanation_text, face_heatmap_of, family_contributions, family_frame_table,
                                heatmap_caption, region_table, top_feature_contributions)
from .dashboard.models import card_summary
from .dashboard.texts import (DISCLAIMER, FAMILY_LABELS, codec_caution, evidence_note, fmt_pct, fmt_score,
                              highlight_note, rates_caveat, verdict_headline)
from .dashboard.uploads import safe_filename
from .dashboard.video_view import driving_frames, frame_scores, gallery, metadata_table, scoring_track, tracks_table
from .features import KNOWN_FAMILIES, family_of, feature_columns
from .heatmap import HEAT_MAX
from .metrics import CONVENTION
from .model import DetectorModel

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
.caution{background:#fef9e7;border-left:4px solid #b7950b;padding:.6em 1em;font-weight:600}
.gallery{display:flex;flex-wrap:wrap;gap:8px}.gallery figure{margin:0;text-align:center;font-size:.75em}
.gallery img{width:112px;height:112px;display:block}.muted{color:#666;font-size:.88em}
svg{max-width:100%;height:auto}svg text{font-family:Helvetica,Arial,sans-serif}
.heatmap{display:flex;gap:1.2em;align-items:flex-start}.heatmap img.face{width:256px;height:256px}
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


# --------------------------------------------------------------------------- sections

def _verdict_section(a: Analysis, card: dict | None = None) -> str:
    text, kind = verdict_headline(a)
    cls = {"error": "fake", "success": "real"}.get(kind, "other")
    parts = [f"<div class='verdict {cls}'>{esc(text)}</div>"]
    caution, note = codec_caution(a, card), evidence_note(a, card, caution=False)
    if caution:
        parts.append(f"<p class='caution'>{esc(caution)}</p>")
    if note:
        parts.append(f"<p class='evidence'>{esc(note)}</p>")
    if a.score is not None and a.threshold is not None:
        parts.append(score_bar(a.score, a.threshold))
        parts.append(table_html(_evidence_rows(a), ["measure", "value"]))
    parts.append(f"<p class='note'>{esc(DISCLAIMER)}</p>")
    return "".join(parts)


def _evidence_rows(a: Analysis) -> list[tuple[str, str]]:
    """The score, the threshold and the likelihood ratio with its words, as table rows."""
    rows = [("SVM score (higher = more likely fake)", fmt_score(a.score)), ("threshold", fmt_score(a.threshold)),
            ("verdict at the threshold alone", a.threshold_verdict or "—")]
    if a.llr is None:
        return rows + [("likelihood ratio", "— (this model has no calibration)")]
    return rows + [("log10 likelihood ratio (llr)", f"{a.llr:+.2f}"), ("likelihood ratio", lr_text(a.llr)),
                   ("verbal category (ENFSI 2015)", a.llr_category or "—")]


def _heatmap_html(a: Analysis, model: DetectorModel) -> str:
    """The heat map over the face (:func:`detector.dashboard.explain.face_heatmap_of`) with its
    scale, caption and region table; why there is none when there is none."""
    hm, note = face_heatmap_of(a, model)
    if hm is None:
        return f"<p class='muted'>{esc(note)}</p>"
    table = region_table(hm, model, scoring_track(a).features)
    return ("<div class='heatmap'><figure style='margin:0'>"
            f"<img class='face' src='{png_data_uri(hm.image)}' alt='heat map over the face, frame {hm.frame}'>"
            f"<img src='{png_data_uri(colour_bar(256))}' alt='colour scale' style='width:256px;height:14px;display:block'>"
            f"<figcaption class='muted'>0 … {HEAT_MAX:g}+</figcaption></figure>"
            f"<p class='muted'>{esc(heatmap_caption(hm))}</p></div>"
            + table_html(table.itertuples(index=False), list(table.columns))
            + "<p class='muted'>'score change': the change of the score when the region's columns are set back "
              "to their typical training values one at a time, summed (positive = towards fake).</p>")


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
        out.append(line_chart(series, "Per-frame score (each frame scored alone)", "time (s)", "score",
                              hline=a.threshold, hline_label=f"threshold {a.threshold:+.3f}", marks=marks))
    tr = scoring_track(a)
    present = sorted({family_of(c) for c in feature_columns(a.table)}, key=KNOWN_FAMILIES.index)
    for fam in present:
        long, standardised = family_frame_table(a, fam, model, tr.track_id if tr else None)
        series = {name: (g["time_s"].tolist(), g["value"].tolist()) for name, g in long.groupby("feature")}
        y_label = "scaled vs training data" if standardised else "value"
        out.append(line_chart(series, f"{FAMILY_LABELS.get(fam, fam)} ({fam}_*) per frame", "time (s)", y_label))
    return "".join(out)


def _explanation_section(a: Analysis, model: DetectorModel | None) -> str:
    tr = scoring_track(a)
    if model is None or tr is None or tr.score is None:
        return "<p>No explanation without a model and a scored face track.</p>"
    fam = family_contributions(model, tr.features)
    labelled = {FAMILY_LABELS.get(k, k): v for k, v in fam.items() if abs(v) > 1e-12}
    text = explanation_text(fam).replace("**", "")
    top = top_feature_contributions(model, tr.features, k=8)
    return (f"<p>{esc(text)}</p><h3>Where on the face</h3>" + _heatmap_html(a, model)
            + "<h3>By feature family</h3>"
            + bar_chart(labelled, "Score change by feature family (positive = towards fake)")
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


def stored_rates(model: DetectorModel | None) -> dict | None:
    """The error rates of the model folder's stored evaluation at the model's threshold, as
    the dashboard passes them to :func:`case_report_html`; None without a model or a
    readable stored evaluation."""
    if model is None or not model.path:
        return None
    try:
        ev = evaluation_store.load_evaluation(model.path)
    except evaluation_store.EvaluationError:
        return None
    return None if ev is None else evaluation_store.rates_at(ev, model.threshold)


def check_report_path(path: str | os.PathLike) -> Path:
    """``path`` when a report can be written there (checked before a long analysis), else
    ValueError saying why: its folder is missing or not writable, or it is a folder."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ValueError(f"cannot write the case report to {p}: it is a folder")
    if not folder.is_dir():
        raise ValueError(f"cannot write the case report to {p}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"cannot write the case report to {p}: permission denied")
    return p


def write_case_report(path: str | os.PathLike, analysis: Analysis, model: DetectorModel | None) -> Path:
    """Write the case report of ``analysis`` (analysed with thumbnails) to ``path``, with the
    model's card and its stored evaluation's rates, as the dashboard offers it.  ValueError
    when the file cannot be written."""
    p = check_report_path(path)
    html_text = case_report_html(analysis, model.card if model else None, stored_rates(model), model=model)
    try:
        p.write_text(html_text, encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot write the case report to {p}: {e.strerror or e}") from None
    return p
