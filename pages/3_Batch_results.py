"""Batch results: start a scan of a server folder; ranked suspects from a scan database or CSV."""

from __future__ import annotations

import hashlib
import os

import streamlit as st

from detector.dashboard import batch, figures, roots, scan_jobs, uploads
import pages as ui

TITLE = "Batch results"
SCANS, PATH, UPLOAD = "A scan started here", "A file on this machine", "Upload a results file"
POLL_S = 2  # seconds between looks at a running scan's database

model, model_message, folder = ui.page_setup(TITLE)
allowed, state = roots.configured_roots(), roots.state_dir()
st.title(TITLE)
st.caption("Results written by the batch scanner (`deepfake-detector scan`): a SQLite database "
           "(table `results`) or a CSV export, one row per video.")


def show_results(results) -> None:
    """Counts, histogram, the ranked suspects with their filters, and the way to Inspect."""
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
    if st.session_state.get("verdicts_offered") != verdicts or "verdicts" not in st.session_state:
        # first drawn, or new verdicts arrived (a running scan): the default choice again
        st.session_state["verdicts_offered"] = verdicts
        st.session_state["verdicts"] = [v for v in verdicts if v == "fake"] or verdicts
    f1, f2, f3 = st.columns([2, 1, 2])
    chosen = f1.multiselect("Verdict", verdicts, key="verdicts")
    min_score = f2.number_input("Minimum score", value=None, step=0.1, format="%.3f", key="min_score",
                                placeholder="none") if results["score"].notna().any() else None
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
    if not len(ranked):
        st.caption("No video matches the filters.")
        return
    pick = st.selectbox("Video", ranked["path"].head(500).tolist(), key="pick",
                        format_func=lambda p: f"#{int(ranked.loc[ranked['path'] == p, 'rank'].iloc[0])} · {p}")
    st.caption("Opens the Inspect page on this file (read from this machine, inside the operator's folders) "
               "with the full explanation and case report.")
    if st.button("Inspect this video", type="primary", key="inspect"):
        try:
            roots.check_under_roots(pick, allowed)
        except roots.RootError as e:
            st.error(str(e))
            return
        st.session_state[ui.INSPECT_REQUEST] = pick
        st.switch_page(ui.INSPECT_PAGE)


def show_scan(job: scan_jobs.ScanJob, polling: bool) -> None:
    """A scan started here: its progress and its results so far; the whole page again once it ends."""
    running = scan_jobs.is_running(job)
    if polling and not running:
        st.rerun()  # the scan has ended: draw the page once more, without polling
    progress = scan_jobs.scan_progress(job.db)
    bar, stop = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(scan_jobs.progress_fraction(progress), text=scan_jobs.progress_text(progress, running))
    if running and stop.button("Stop the scan", key="stop_scan",
                               help="What it has finished stays in its database; starting it again resumes it."):
        scan_jobs.stop_scan(job)
        st.rerun()  # the whole page: the scan is no longer polled
    tail = scan_jobs.log_tail(job, 1)
    st.caption(f"Folder `{job.folder}` · started {job.started_at[:19].replace('T', ' ')} UTC · database "
               f"`{job.db}`" + (f" · last message: {tail}" if tail and not running else ""))
    if not job.db.is_file():
        return
    try:
        results = ui.load_results_path(str(job.db), ui.file_stamp(str(job.db)))
    except batch.ResultsError as e:  # e.g. created, its tables not yet
        st.caption(str(e))
        return
    show_results(results)


st.subheader("Scan a folder on this server")
if not allowed:
    st.info(roots.NO_ROOTS)
else:
    st.caption("Folders inside " + ", ".join(f"`{r}`" for r in allowed) + f" (set by the operator in "
               f"`{roots.SCAN_ROOTS_ENV}`). The scan runs in the background on this server with the model chosen in "
               "the sidebar: it goes on when this page is closed and a second visitor sees it. *Stop the scan*, next "
               "to its progress, stops it; what it has finished stays, and starting it again resumes it.")
    c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
    target = c1.text_input("Folder to scan", scan_jobs.folder_to_offer(scan_jobs.list_jobs(state), allowed),
                           key="scan_folder", help="A scan running now is offered: starting it joins it.")
    if c2.button("Start the scan", type="primary", key="start_scan"):
        try:
            job, started = scan_jobs.start_scan(target, allowed, state, model_dir=folder if model else None)
            st.session_state["scan_choice"], st.session_state["results_source"] = job.dir, SCANS
            st.toast(f"Scan of {job.folder} " + ("started." if started else "already running: showing it."))
        except (roots.RootError, scan_jobs.ScanStartError) as e:
            st.error(str(e))

jobs = scan_jobs.list_jobs(state)
how = st.radio("Results", ([SCANS] if jobs else []) + [PATH, UPLOAD], horizontal=True, key="results_source")
if how == SCANS:
    by_dir = {j.dir: j for j in sorted(jobs, key=lambda j: not scan_jobs.is_running(j))}  # running first
    pick_dir = st.selectbox("Scan", list(by_dir), key="scan_choice",
                            format_func=lambda d: f"{by_dir[d].folder} · {by_dir[d].started_at[:19]}")
    live = scan_jobs.is_running(by_dir[pick_dir])
    st.fragment(show_scan, run_every=POLL_S if live else None)(by_dir[pick_dir], live)
    st.stop()

results = None
try:
    if how == PATH:
        path = st.text_input("Path of the results database or CSV", os.environ.get("DEEPFAKE_RESULTS", ""),
                             key="results_path", placeholder="runs/scan.db")
        if path.strip():
            checked = str(roots.check_under_roots(path.strip(), allowed))
            results = ui.load_results_path(checked, ui.file_stamp(checked))
    else:
        up = st.file_uploader("Results database (.db, .sqlite) or CSV", type=list(batch.RESULTS_TYPES),
                              key="results_upload")
        if up is not None:
            data = up.getvalue()
            results = ui.load_results_upload(up.name, hashlib.sha256(data).hexdigest(), data)
except (batch.ResultsError, uploads.UploadError, roots.RootError) as e:
    st.error(str(e))
if results is not None:
    show_results(results)
