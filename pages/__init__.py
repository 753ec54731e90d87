"""Streamlit glue shared by the pages: page setup, navigation, cached loaders.

Streamlit runs ``app.py`` (Home) and every ``pages/N_Name.py`` as pages, but never this
``__init__.py``, so the pages import it (``import pages as ui``).  The logic lives in
the modules of :mod:`detector.dashboard`; this module only adds Streamlit caching around the heavy
calls and the few widgets every page repeats (the sidebar's navigation and model box).
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from detector import demo
from detector.analysis import Analysis
from detector.dashboard import batch, evaluation_store, models, texts, uploads
from detector.model import DetectorModel, ModelError
from detector.report import case_report_html
from detector.video import VideoError

HOME_PAGE = "app.py"
INSPECT_PAGE = "pages/1_Inspect_a_video.py"
EVALUATION_PAGE = "pages/2_Evaluation.py"
BATCH_PAGE = "pages/3_Batch_results.py"
#: Session-state key the Batch page sets to ask the Inspect page to analyse a path.
INSPECT_REQUEST = "inspect_request"
#: Session-state key of the model folder chosen in the sidebar (kept apart from the widget's
#: own key: Streamlit forgets a widget's state when another page does not draw it first).
MODEL_CHOICE = "model_folder"

log = logging.getLogger("deepfake-detector.dashboard")


# --------------------------------------------------------------------------- model and evaluation

@st.cache_resource(show_spinner="Loading the model…")
def _load_model(folder: str, stamp: str) -> tuple[DetectorModel | None, str | None]:
    return models.load_model_safe(folder)


def chosen_model_folder(choices: list[Path] | None = None) -> Path:
    """The model folder chosen in the sidebar (the first choice until one is chosen)."""
    choices = choices or models.model_choices()
    chosen = st.session_state.get(MODEL_CHOICE)
    return Path(chosen) if chosen in {str(p) for p in choices} else choices[0]


def current_model() -> tuple[DetectorModel | None, str | None, Path]:
    """(model or None, why there is none, model folder); loaded once per folder version."""
    folder = chosen_model_folder()
    model, message = _load_model(str(folder), models.folder_stamp(folder))
    return model, message, folder


@st.cache_data(show_spinner="Reading the stored evaluation…")
def _load_evaluation(folder: str, stamp: str) -> tuple[evaluation_store.EvaluationData | None, str | None]:
    try:
        return evaluation_store.load_evaluation(folder), None
    except evaluation_store.EvaluationError as e:
        return None, str(e)


def current_evaluation(folder: Path) -> tuple[evaluation_store.EvaluationData | None, str | None]:
    """(stored evaluation or None, error message or None) of a model folder."""
    return _load_evaluation(str(folder), models.folder_stamp(folder))


@st.cache_data(show_spinner="Summarising the evaluation…")
def evaluation_summary(folder: str, stamp: str, _ev: evaluation_store.EvaluationData) -> dict:
    """AUC (with CI), EER of the stored evaluation (the bootstrap runs once per model)."""
    return evaluation_store.overall_summary(_ev)


def model_error_rates(model: DetectorModel | None, folder: Path) -> dict | None:
    """FAR/FRR/HTER of the stored evaluation at the model's threshold, plus AUC and EER."""
    ev, _ = current_evaluation(folder)
    if model is None or ev is None:
        return None
    return evaluation_store.rates_at(ev, model.threshold, evaluation_summary(str(folder), models.folder_stamp(folder), ev))


NAVIGATION = ((HOME_PAGE, "Home", ":material/home:"), (INSPECT_PAGE, "Inspect a video", ":material/search:"),
              (EVALUATION_PAGE, "Evaluation", ":material/monitoring:"),
              (BATCH_PAGE, "Batch results", ":material/table_view:"))


def page_setup(title: str) -> tuple[DetectorModel | None, str | None, Path]:
    """Page config, the sidebar (navigation, loaded model); returns :func:`current_model`."""
    st.set_page_config(page_title=f"{title} · deepfake-detector", page_icon=":material/frame_person:", layout="wide")
    with st.sidebar:
        st.markdown("### :material/frame_person: deepfake-detector")
        for page, label, icon in NAVIGATION:
            st.page_link(page, label=label, icon=icon)
        st.divider()
        model_picker()
    model, message, folder = current_model()
    sidebar_model_box(model, message, folder)
    return model, message, folder


def model_picker() -> None:
    """A choice of model in the sidebar when there is more than one model folder."""
    choices = models.model_choices()
    if len(choices) < 2:
        return
    options = [str(p) for p in choices]
    current = str(chosen_model_folder(choices))

    def chosen() -> None:
        st.session_state[MODEL_CHOICE] = st.session_state["_model_picker"]

    st.selectbox("Model", options, index=options.index(current), format_func=models.model_choice_label,
                 key="_model_picker", on_change=chosen,
                 help="'default' is measured on files like its training data; a model marked '+re-encoded' was "
                      "trained with re-encoded copies too and keeps more of its accuracy on video a platform "
                      "re-encoded (Evaluation page, README).")


def sidebar_model_box(model: DetectorModel | None, message: str | None, folder: Path) -> None:
    """The loaded model (or why there is none) in the sidebar of every page."""
    with st.sidebar:
        st.markdown("**Model**")
        if model is None:
            st.caption("No model loaded: faces and features only.")
        else:
            st.caption(f"{model.name} · version {model.version} · threshold {model.threshold:+.3f}")
            st.caption(models.provenance_text(model))
        st.caption(f"Folder: `{folder}`")


# --------------------------------------------------------------------------- analyses

@st.cache_resource
def _analyses() -> uploads.AnalysisStore:
    """One analysis per (file content, model, frame count), shared by the sessions: a second look is instant."""
    return uploads.AnalysisStore(max_entries=16)


def analyse(src: uploads.Source, model: DetectorModel | None, n_frames: int) -> Analysis | None:
    """Analyse with a progress bar; on failure show the reason (never a traceback) and return None."""
    status = st.empty()
    bar = status.progress(0.0, text=f"Reading {src.name}…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"Analysing {src.name}: frame {done} of {total}")

    try:
        store, key = _analyses(), (uploads.source_sha256(src), models.model_key(model), n_frames)
        result = store.get(key)
        if result is None:
            result = uploads.run_analysis(src, model, n_frames, progress=progress)
            store.put(key, result)
    except (VideoError, uploads.UploadError, ModelError) as e:
        status.empty()
        st.error(f"Cannot analyse {src.name}: {texts.clean_message(e)}")
        return None
    except Exception as e:  # an unexpected failure still gets a message, not a traceback
        log.exception("analysis of %s failed", src.name)
        status.empty()
        st.error(f"The analysis of {src.name} failed unexpectedly ({type(e).__name__}: {e}).")
        return None
    status.empty()
    return uploads.relabel(result, src)


@st.cache_data(show_spinner=False, max_entries=16)
def case_report(sha256: str, model_key: str, n_frames: int, name: str, _analysis: Analysis,
                _card: dict | None, _rates: dict | None, _model: DetectorModel | None) -> str:
    """The case report HTML of an analysis (built once per analysis)."""
    return case_report_html(_analysis, _card, _rates, model=_model)


@st.cache_resource(show_spinner="Making the synthetic demo clips (first time only, about 30 s)…")
def _demo_clips(folder: str) -> dict[str, Path]:
    return demo.demo_clips(folder)


def demo_clips() -> dict[str, Path]:
    """The synthetic demo pair, generated once and cached on disk."""
    folder = demo.demo_dir()
    clips = _demo_clips(str(folder))
    if not all(p.is_file() for p in clips.values()):  # deleted since: make them again
        _demo_clips.clear()
        clips = _demo_clips(str(folder))
    return clips


# --------------------------------------------------------------------------- batch results

@st.cache_data(show_spinner="Reading the batch results…", max_entries=8)
def load_results_path(path: str, stamp: str):
    return batch.load_results(path)


@st.cache_data(show_spinner="Reading the batch results…", max_entries=8)
def load_results_upload(name: str, sha256: str, _data: bytes):
    return batch.load_results_bytes(name, _data)


def file_stamp(path: str) -> str:
    """Cache key part that changes when a file changes (a SQLite database: or its write-ahead
    log ``-wal``, where a running scan's rows are until a checkpoint)."""
    parts = []
    for p in (Path(path), Path(f"{path}-wal")):
        try:
            s = p.stat()
            parts.append(f"{s.st_size}:{s.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "/".join(parts)
