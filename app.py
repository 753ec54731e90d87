"""deepfake-detector dashboard: ``streamlit run app.py``.

This script is the Home page; Streamlit finds the other pages in ``pages/``.  Pages only
lay out widgets: what they show comes from ``detector.dashboard`` (through the cached
wrappers and shared widgets in ``pages/__init__.py``).
"""

from __future__ import annotations

import streamlit as st

from detector import dashboard as dash
import pages as ui


def home() -> None:
    """What the tool does and does not do, the loaded model, links to the pages."""
    model, message, folder = ui.page_setup("Home")
    st.title("deepfake-detector")
    st.markdown("Fast, CPU-only, explainable detection of **face-swap videos** for forensic investigators.")

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("What it does")
        st.markdown(
            "- finds the faces in frames sampled over a video (or in a still image) and follows them as tracks;\n"
            "- measures **artifact features** on the original pixels: the face against its own surroundings "
            "(sharpness, noise, block spectrum, texture, compression grid, colour across the blending edge);\n"
            "- scores each face track with a support-vector machine: **higher = more likely fake**, "
            "judged against a threshold chosen on the training data;\n"
            "- shows *why*: the frames and the feature families that drove the score, and a downloadable "
            "case report with the file's SHA-256.")
    with right:
        st.subheader("What it does not do")
        st.markdown(
            "- it does not prove anything: a verdict is a **statistical indication** for a trained examiner;\n"
            "- it looks for **face swaps and face re-enactment** blended into a frame, not for fully generated "
            "videos, edited audio, cuts or other manipulations;\n"
            "- its error rates hold for data like its training data; heavy compression, tiny faces or very "
            "short clips make it less reliable; a video **re-encoded** after the manipulation (as platforms "
            "do on upload) loses much of the compression trace: with the default model fakes then pass as "
            "genuine (measured out of fold: AUC about 0.91 -> 0.48 at CRF 28, chance level); the **reencoded** "
            "model (choose it in the sidebar), trained with re-encoded copies, keeps AUC 0.69 there, at 0.87 "
            "instead of about 0.91 on original files and with more genuine videos flagged. Either way a "
            "*genuine* verdict on such a file means little;\n"
            "- nothing leaves this machine: no upload to a service, no download at run time.")

    st.subheader("Loaded model")
    if model is None:
        st.warning(message or "No model loaded.")
        st.caption(f"Set the environment variable `{dash.MODEL_DIR_ENV}` to use another model folder. "
                   "Without a model the Inspect page still shows faces and features, without a verdict.")
    else:
        ev, ev_error = ui.current_evaluation(folder)
        head = dash.headline_metrics(model.card, ev.metrics if ev else None)
        c = st.columns(5)
        c[0].metric("Model", model.name)
        c[1].metric("Version", model.version)
        c[2].metric("ROC AUC", "—" if head["auc"] is None else f"{head['auc']:.3f}",
                    help=None if not head["auc_ci"] else f"95 % CI {head['auc_ci'][0]:.3f}–{head['auc_ci'][1]:.3f}")
        c[3].metric("EER", dash.fmt_pct(head["eer"]))
        c[4].metric("Threshold", f"{model.threshold:+.3f}")
        training = dash.training_text(model.card)
        if training:
            st.markdown(f"**Training data:** {training}")
        if head["far"] is not None:
            st.caption(f"At the threshold, on the stored out-of-fold evaluation: FAR (fakes accepted) "
                       f"{dash.fmt_pct(head['far'])}, FRR (genuine rejected) {dash.fmt_pct(head['frr'])}.")
        if ev_error:
            st.error(ev_error)
        with st.expander("Model card"):
            st.dataframe(dash.card_summary(model.card), hide_index=True, width="stretch")

    st.subheader("Pages")
    c = st.columns(3)
    with c[0]:
        st.page_link(ui.INSPECT_PAGE, label="Inspect a video", icon=":material/search:")
        st.caption("Upload a video or image, or run the synthetic demo; verdict, faces, plots, case report.")
    with c[1]:
        st.page_link(ui.EVALUATION_PAGE, label="Evaluation", icon=":material/monitoring:")
        st.caption("ROC and DET curves, AUC, EER; FAR / FRR / HTER at any threshold; per method and compression.")
    with c[2]:
        st.page_link(ui.BATCH_PAGE, label="Batch results", icon=":material/table_view:")
        st.caption("Ranked suspects from a batch scan (SQLite or CSV), with filters; inspect any one of them.")
    st.caption(dash.DISCLAIMER)


home()
