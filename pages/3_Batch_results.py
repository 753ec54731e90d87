"""Batch results: ranked suspects from the batch scanner's SQLite database or CSV."""

from __future__ import annotations

import hashlib
import os

import streamlit as st

from detector.dashboard import batch, figures, uploads
import pages as ui

TITLE = "Batch results"
PATH, UPLOAD = "A file on this machine", "Upload a results file"

model, model_message, folder = ui.page_setup(TITLE)
st.title(TITLE)
st.caption("Results written by the batch scanner (`deepfake-detector scan`): a SQLite database "
           "(table `results`) or a CSV export, one row per video.")

how = st.radio("Results", [PATH, UPLOAD], horizontal=True, key="results_source")
results = None
try:
    if how == PATH:
        path = st.text_input("Path of the results database or CSV", os.environ.get("DEEPFAKE_RESULTS", ""),
                             key="results_path", placeholder="runs/scan.db")
        if path.strip():
            results = ui.load_results_path(path.strip(), ui.file_stamp(path.strip()))
    else:
        up = st.file_uploader("Results database (.db, .sqlite) or CSV", type=list(batch.RESULTS_TYPES),
                              key="results_upload")
        if up is not None:
            data = up.getvalue()
            results = ui.load_results_upload(up.name, hashlib.sha256(data).hexdigest(), data)
except (batch.ResultsError, uploads.UploadError) as e:
    st.error(str(e))
if results is None:
    st.stop()

versions = sorted(results["model_version"].dropna().astype(str).unique())
if len(versions) > 1:
    version = st.selectbox("Model version of the scan", versions, index=len(versions) - 1, key="model_version",
                           help="The database holds scans made with several models or frame counts.")
    results = results[results["model_version"].astype(str) == version]
counts = batch.results_summary(results)
c = st.columns(6)
c[0].metric("Videos", f"{counts['total']:,}")
for col, verdict in zip(c[1:], ("fake", "inconclusive", "real", "no-face", "error")):
    col.metric(verdict, f"{counts.get(verdict, 0):,}")
if results["score"].notna().any():
    threshold = batch.results_threshold(results)
    threshold = model.threshold if threshold is None and model is not None else threshold
    st.plotly_chart(figures.score_histogram(results, threshold), key="histogram")

st.subheader("Ranked suspects")
verdicts = sorted(results["verdict"].unique())
f1, f2, f3 = st.columns([2, 1, 2])
chosen = f1.multiselect("Verdict", verdicts, default=[v for v in verdicts if v == "fake"] or verdicts,
                        key="verdicts")
scored = results["score"].dropna()
min_score = f2.number_input("Minimum score", value=float(scored.min()) if len(scored) else 0.0, step=0.1,
                            format="%.3f", key="min_score") if len(scored) else None
text = f3.text_input("Path contains", key="path_filter", placeholder="e.g. camera3/")
ranked = batch.rank_suspects(results, chosen, min_score, text)
st.caption(f"{len(ranked):,} of {len(results):,} videos match, most suspicious first.")
st.dataframe(batch.suspects_display(ranked), hide_index=True, width="stretch",
             column_config={"score": st.column_config.NumberColumn(format="%+.3f"),
                            "log10 LR": st.column_config.NumberColumn(format="%+.2f"),
                            "duration (s)": st.column_config.NumberColumn(format="%.1f")})
st.download_button("Export the filtered list (CSV)", ranked.to_csv(index=False), "suspects.csv", "text/csv",
                   key="csv_suspects")

st.subheader("Inspect one")
if len(ranked):
    pick = st.selectbox("Video", ranked["path"].head(500).tolist(), key="pick",
                        format_func=lambda p: f"#{int(ranked.loc[ranked['path'] == p, 'rank'].iloc[0])} · {p}")
    st.caption("Opens the Inspect page on this file (read from this machine) with the full explanation and "
               "case report.")
    if st.button("Inspect this video", type="primary", key="inspect"):
        st.session_state[ui.INSPECT_REQUEST] = pick
        st.switch_page(ui.INSPECT_PAGE)
else:
    st.caption("No video matches the filters.")
