"""deepfake-detector dashboard: ``streamlit run app.py``.

This script is the Home page; Streamlit finds the other pages in ``pages/``.  Pages only
lay out widgets: what they show comes from the modules of ``detector.dashboard`` (through the
cached wrappers and shared widgets in ``pages/__init__.py``); the measured figures quoted here
are read from the model folders' cards and stored evaluations.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from detector.dashboard import models, texts
from detector.model import DetectorModel
import pages as ui


def home() -> None:
    """What the tool does and does not do, the loaded model, links to the pages."""
    model, message, folder = ui.page_setup("Home")
    st.title("deepfake-detector")
    st.markdown("Fast, CPU-only, explainable detection of **face-swap videos** for forensic investigators.")
    what_it_does()
    loaded_model(model, message, folder)
    page_links()
    st.caption(texts.DISCLAIMER)


def what_it_does() -> None:
    """What the tool does and does not do, with the figures the offered models' cards measured."""
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("What it does")
        st.markdown(
            "- finds the faces in frames sampled over a video (or in a still image) and follows them as tracks;\n"
            "- measures **artifact features** on the original pixels: the face against its own surroundings "
            "(sharpness, noise, block spectrum, texture, compression grid, colour across the blending edge);\n"
            "- scores each face track with a support-vector machine (**higher = more likely fake**) and states "
            "the strength of evidence as a **likelihood ratio** calibrated on the training data, in the words "
            "of the ENFSI verbal scale; between LR 1/3 and 3 the verdict is *inconclusive*;\n"
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
            "do on upload) loses much of the compression trace, and fakes then pass as genuine far more often. "
            f"{models.reencoding_text(models.model_choices())} Either way a *genuine* verdict on such a file "
            "means little;\n"
            "- nothing leaves this machine: no upload to a service, no download at run time.")


def loaded_model(model: DetectorModel | None, message: str | None, folder: Path) -> None:
    """The loaded model's headline figures (stored evaluation, else card), or why there is none."""
    st.subheader("Loaded model")
    if model is None:
        st.warning(message or "No model loaded.")
        st.caption(f"Set the environment variable `{models.MODEL_DIR_ENV}` to use another model folder. "
                   "Without a model the Inspect page still shows faces and features, without a verdict.")
    else:
        ev, ev_error = ui.current_evaluation(folder)
        head = models.headline_metrics(model.card, ev.metrics if ev else None)
        c = st.columns(5)
        c[0].metric("Model", model.name)
        c[1].metric("Version", model.version)
        c[2].metric("ROC AUC", "—" if head["auc"] is None else f"{head['auc']:.3f}",
                    help=None if not head["auc_ci"] else f"95 % CI {head['auc_ci'][0]:.3f}–{head['auc_ci'][1]:.3f}")
        c[3].metric("EER", texts.fmt_pct(head["eer"]))
        c[4].metric("Threshold", f"{model.threshold:+.3f}")
        training = models.training_text(model.card)
        if training:
            st.markdown(f"**Training data:** {training}")
        if head["far"] is not None:
            st.caption(f"At the threshold, on the stored out-of-fold evaluation: FAR (fakes accepted) "
                       f"{texts.fmt_pct(head['far'])}, FRR (genuine rejected) {texts.fmt_pct(head['frr'])}.")
        if ev_error:
            st.error(ev_error)
        with st.expander("Model card"):
            st.dataframe(models.card_summary(model.card), hide_index=True, width="stretch")


def page_links() -> None:
    """A link to each page, with what it shows."""
    st.subheader("Pages")
    c = st.columns(3)
    with c[0]:
        st.page_link(ui.INSPECT_PAGE, label="Inspect a video", icon=":material/search:")
        st.caption("Upload a video or image, or run the synthetic demo; verdict, faces, plots, case report.")
    with c[1]:
        st.page_link(ui.EVALUATION_PAGE, label="Evaluation", icon=":material/monitoring:")
        st.caption("ROC and DET curves, AUC, EER; FAR / FRR / HTER at any threshold; Tippett and ECE plots of "
                   "the likelihood ratios under each condition; per method and compression.")
    with c[2]:
        st.page_link(ui.BATCH_PAGE, label="Batch results", icon=":material/table_view:")
        st.caption("Start a scan of a folder on this machine, or open a scan's results (SQLite or CSV): ranked "
                   "suspects, with filters; inspect any one of them.")


home()
