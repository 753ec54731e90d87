"""Inspect one video: upload or demo clip -> verdict, score, faces, plots, explanation, case report."""

from __future__ import annotations

import json

import streamlit as st

from detector import demo
from detector.decode import DEFAULT_FRAMES
from detector.dashboard import explain, figures, models, roots, texts, uploads, video_view
from detector.features import FAMILIES
from detector.report import report_filename
import pages as ui

TITLE = "Inspect a video"
UPLOAD = "Upload a file"
BATCH_PREFIX = "From batch results: "

model, model_message, folder = ui.page_setup(TITLE)
n_frames = st.sidebar.slider("Frames sampled over the video", 4, 64, DEFAULT_FRAMES, step=4, key="n_frames",
                             help="More frames: a steadier score, a slower analysis.")

st.title(TITLE)
if model is None:
    st.info(f"{model_message} Faces and artifact features are shown, without a score or verdict.")

# A request from the Batch results page pre-selects that file.
if ui.INSPECT_REQUEST in st.session_state:
    st.session_state["batch_path"] = st.session_state.pop(ui.INSPECT_REQUEST)
    st.session_state["source"] = BATCH_PREFIX + st.session_state["batch_path"]
options = [UPLOAD, demo.LABELS["real"], demo.LABELS["fake"]]
if st.session_state.get("batch_path"):
    options.append(BATCH_PREFIX + st.session_state["batch_path"])
choice = st.radio("Video to inspect", options, horizontal=True, key="source")

src: uploads.Source | None = None
if choice == UPLOAD:
    uploaded = st.file_uploader(
        uploads.UPLOAD_LABEL, type=list(uploads.UPLOAD_TYPES),
        max_upload_size=uploads.MAX_UPLOAD_MB, key="upload")
    st.caption(f"Size limit: **{uploads.MAX_UPLOAD_MB} MB** per file. The file is analysed on this machine, "
               "in a temporary copy deleted afterwards.")
    if uploaded is not None:
        try:
            uploads.check_upload(uploaded.name, uploaded.size)
            src = uploads.Source(uploaded.name, uploaded.getvalue())
        except uploads.UploadError as e:
            st.error(str(e))
elif choice.startswith(BATCH_PREFIX):
    st.caption("A file listed in the batch results, read from this machine.")
    try:
        roots.check_under_roots(st.session_state["batch_path"], roots.configured_roots())
        src = uploads.Source.from_path(st.session_state["batch_path"], label="batch results")
    except roots.RootError as e:
        st.error(str(e))
else:
    st.info(demo.NOTE)
    key = "fake" if choice == demo.LABELS["fake"] else "real"
    src = uploads.Source.from_path(ui.demo_clips()[key], label=choice)

if src is None:
    st.stop()
analysis = ui.analyse(src, model, n_frames)
if analysis is None:
    st.stop()

# ----------------------------------------------------------------- verdict
text, kind = texts.verdict_headline(analysis)
getattr(st, kind)(text)
card = model.card if model else None
if texts.codec_caution(analysis, card):
    st.warning(texts.codec_caution(analysis, card), icon=":material/warning:")
if texts.evidence_note(analysis, card, caution=False):
    st.caption(texts.evidence_note(analysis, card, caution=False))
if src.label.startswith("Demo"):
    st.caption(":material/warning: " + src.label + " — synthetic footage made from scikit-image's astronaut photo.")
rates = ui.model_error_rates(model, folder)
report = ui.case_report(analysis.info.sha256, models.model_key(model), n_frames, analysis.info.name, analysis,
                            model.card if model else None, rates, model)

if analysis.score is not None:
    gauge_col, numbers_col = st.columns([3, 2], gap="large")
    with gauge_col:
        st.plotly_chart(figures.score_gauge(analysis.score, analysis.threshold), key="gauge")
    with numbers_col:
        c = st.columns(2)
        c[0].metric("Score", texts.fmt_score(analysis.score))
        c[1].metric("Threshold", texts.fmt_score(analysis.threshold))
        if rates:
            c = st.columns(2)
            c[0].metric("FAR at threshold", texts.fmt_pct(rates["far"]),
                        help="Share of fake videos accepted as genuine in the stored evaluation (APCER).")
            c[1].metric("FRR at threshold", texts.fmt_pct(rates["frr"]),
                        help="Share of genuine videos rejected as fake in the stored evaluation (BPCER).")
        else:
            st.caption("No stored evaluation: error rates at this threshold are unknown.")
    if texts.verdict_rule_note(card, analysis):
        st.caption(texts.verdict_rule_note(card, analysis))
st.caption(texts.DISCLAIMER + (" " + texts.rates_caveat(model.card if model else None) if rates else ""))
st.download_button("Download the case report (HTML)", report, file_name=report_filename(analysis),
                   mime="text/html", type="primary", icon=":material/description:", key="report")

# ----------------------------------------------------------------- file
meta_col, tracks_col = st.columns(2, gap="large")
with meta_col:
    st.subheader("File")
    st.dataframe(video_view.metadata_table(analysis), hide_index=True, height="content", width="stretch",
                 column_config={"field": st.column_config.TextColumn(width="small")})
    st.caption("SHA-256 of the file (chain of custody):")
    st.code(analysis.info.sha256, language=None, wrap_lines=True)
with tracks_col:
    st.subheader("Face tracks")
    if analysis.tracks:
        st.dataframe(video_view.tracks_table(analysis), hide_index=True, height="content", width="stretch")
        st.caption("The video's score is the highest score of the tracks seen in enough of the sampled frames.")
    else:
        st.caption("No face found in the sampled frames.")
    t = analysis.timings
    st.caption(f"Analysed in {t.get('total', 0):.2f} s (decoding {t.get('decode', 0):.2f} s, faces "
               f"{t.get('faces', 0):.2f} s, features {t.get('features', 0):.2f} s).")

if not analysis.tracks:
    st.stop()

# ----------------------------------------------------------------- faces
st.subheader("Faces")
highlight = video_view.driving_frames(analysis)
tabs = st.tabs([f"Track {tr.track_id} ({tr.n_faces} faces{'' if tr.score is None else f', {tr.score:+.2f}'})"
                for tr in analysis.tracks])
for tab, tr in zip(tabs, analysis.tracks):
    with tab:
        images, captions = video_view.gallery(analysis, tr, highlight)
        st.image(images, caption=captions, width=120)
if highlight:
    st.caption(f"▲ and a red frame: {texts.highlight_note(analysis)}.")

# ----------------------------------------------------------------- plots
st.subheader("Per-frame plots")
scoring = video_view.scoring_track(analysis)
if analysis.score is not None:
    st.plotly_chart(figures.frame_score_figure(analysis, highlight), key="frame_scores")
    st.caption("Each frame scored alone (without the temporal features of the whole track): where in the video "
               f"the evidence sits. Circled: {texts.highlight_note(analysis)}.")
contrib = explain.family_contributions(model, scoring.features) if model is not None and scoring.score is not None else {}
families = [f for f in (list(contrib) or FAMILIES) if f in FAMILIES]
family = st.selectbox("Feature family", families, format_func=lambda f: f"{texts.FAMILY_LABELS.get(f, f)} ({f})",
                      key="family")
st.plotly_chart(figures.family_figure(analysis, family, model, scoring.track_id), key="family_plot")

# ----------------------------------------------------------------- explanation
st.subheader("Why this score")
if contrib:
    st.markdown(explain.explanation_text(contrib))
    heat_col, bars_col = st.columns([2, 3], gap="large")
    with heat_col:
        heatmap, heatmap_note = explain.face_heatmap_of(analysis, model)
        if heatmap is None:
            st.caption(heatmap_note)
        else:
            st.image(heatmap.image, caption="Where the cues the model read sit", width=256)
            st.image(explain.colour_bar(256), caption=f"0 … {explain.HEAT_MAX:g}+", width=256)
            st.caption(explain.heatmap_caption(heatmap))
    with bars_col:
        st.plotly_chart(figures.contribution_figure(contrib), key="contributions")
    if heatmap is not None:
        st.dataframe(explain.region_table(heatmap, model, scoring.features), hide_index=True, width="stretch")
    with st.expander("Features that moved the score most"):
        st.dataframe(explain.top_feature_contributions(model, scoring.features), hide_index=True, width="stretch")
        st.caption("Score change when that feature alone is set back to its typical training value "
                   "(the model scaler's centre: mean or median): exact for a linear SVM, a local "
                   "sensitivity for a non-linear one.")
else:
    st.caption("An explanation needs a model and a scored face track.")

with st.expander("All per-face measurements"):
    st.dataframe(video_view.face_table(analysis), width="stretch")
    st.download_button("Download the analysis as JSON", json.dumps(analysis.to_dict()),
                       file_name=f"{uploads.safe_filename(analysis.info.name)}.analysis.json",
                       mime="application/json", key="json")
