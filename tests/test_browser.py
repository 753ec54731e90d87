"""A real browser against ``streamlit run app.py``: upload the demo clip, see a verdict and a plot;
with the shipped model, read the likelihood ratio and see the heat map over the face.

Uses Debian's Chromium through Playwright (never a downloaded browser); skips with its
reason when either is missing.  ``.ci/run`` installs Chromium so CI runs it.

Each browser session runs in a child process with a hard time limit (:func:`in_browser`): a
browser that never starts (Playwright's sync API can block for good in ``sync_playwright()``,
which once held a CI run until its limit) skips with that reason; a page that never shows
what the test waits for fails within the limit, with its screenshot and the server's log.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import pytest

import cv2
import numpy as np
import pandas as pd

from detector.dashboard import models, roots, scan_jobs
from detector import demo
from detector.encode import write_video
from test_app import ROOT, build_app_model

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install -r requirements-dev.txt)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")


@contextlib.contextmanager
def serve(tmp_path_factory, demo_pair, **env):
    """``streamlit run app.py`` on a free localhost port with the test model and ``env``; killed afterwards."""
    _require_browser()
    model = build_app_model(tmp_path_factory.getbasetemp() / "app-model", demo_pair)
    port = _free_port()
    env = {**os.environ, models.MODEL_DIR_ENV: str(model), demo.DEMO_DIR_ENV: str(demo_pair[0].parent),
           "OMP_NUM_THREADS": "1", **env}
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(f"streamlit log: {log}")  # shown by pytest when the test fails


#: Seconds for Playwright to start Chromium in the child; beyond that the machine's browser is
#: the problem, not the page, and the test skips.
BROWSER_START_S = 90


def _browser_child(results, check, args, shot_dir: str, height: int) -> None:
    """In a spawned child: start Chromium, say so, run ``check(page, *args)`` on a 1400-px wide
    page and put its outcome on ``results`` (a full-page screenshot in ``shot_dir`` on failure)."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": height})
                results.put(("started", None))
                try:
                    results.put(("ok", check(page, *args)))
                except BaseException:
                    failure = traceback.format_exc()
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(Path(shot_dir) / "browser-failure.png"), full_page=True)
                    results.put(("failed", failure))
            finally:
                browser.close()
    except BaseException as e:  # before "started" it is the machine's browser; after, it goes unread
        results.put(("error", f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"))


def in_browser(check, *args, shot_dir: Path, height: int = 1000, limit_s: float = 300):
    """``check(page, *args)`` in Chromium, in a child process that is killed after ``limit_s``.

    ``check`` is a module-level function (the child imports it); what it returns comes back
    (picklable).  Skips when Chromium does not start within :data:`BROWSER_START_S`; fails
    with the child's traceback when ``check`` raises, or when it has not ended in time."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_browser_child, args=(results, check, args, str(shot_dir), height), daemon=True)
    child.start()
    try:
        try:
            state, detail = results.get(timeout=BROWSER_START_S)
        except queue.Empty:
            pytest.skip(f"Chromium did not start under Playwright within {BROWSER_START_S} s on this machine")
        if state == "error":
            pytest.skip(f"Chromium could not be started under Playwright: {detail}")
        try:
            state, detail = results.get(timeout=limit_s)
        except queue.Empty:
            pytest.fail(f"the browser check had not ended after {limit_s} s (screenshot: none; the page hung)")
        if state != "ok":
            pytest.fail(f"in the browser (screenshot in {shot_dir}):\n{detail}")
        return detail
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()


@pytest.fixture
def server(tmp_path_factory, demo_pair):
    with serve(tmp_path_factory, demo_pair) as url:
        yield url


def upload_and_read_the_verdict(page, url: str, clip: str) -> None:
    """(In the browser child.)  Upload ``clip``: a verdict with a score and a rendered plotly plot."""
    page.goto(f"{url}/Inspect_a_video")
    page.get_by_text("Size limit:").wait_for(timeout=60_000)
    page.locator("input[type='file']").set_input_files(clip)
    verdict = page.get_by_text("Verdict:").first
    verdict.wait_for(timeout=120_000)
    assert re.search(r"Verdict: (FAKE|REAL) .*score [+-]\d", verdict.inner_text()), verdict.inner_text()
    # The page streams in while the script runs: wait for the rest, not just count it.
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    page.get_by_text("Download the case report").wait_for(timeout=60_000)
    page.get_by_text("Why this score").wait_for(timeout=60_000)
    assert page.locator(".stPlotlyChart").count() >= 1, "no plotly chart"
    assert page.get_by_text("Traceback").count() == 0, "a traceback on the page"


def test_upload_demo_clip_in_a_real_browser(server, demo_pair, tmp_path):
    """Upload the synthetic tampered clip; a verdict with a score and a rendered plotly plot appear.
    On failure a screenshot is left in the test's temp folder."""
    in_browser(upload_and_read_the_verdict, server, str(demo_pair[1]), shot_dir=tmp_path)


SHIPPED_MODEL = ROOT / "models" / "default"
LR_WORDS = r"LR (1/)?\d[\d.,]* \(log10 -?\d+\.\d\d\), [a-z ]+ support for (manipulation|a genuine video)"


def read_the_lr_and_the_heat_map(page, url: str, clip: str) -> None:
    """(In the browser child.)  Upload ``clip``: the verdict and the strength of evidence state the
    LR; the captioned heat map is a loaded image with a size."""
    page.goto(f"{url}/Inspect_a_video")
    page.get_by_text("Size limit:").wait_for(timeout=60_000)
    page.locator("input[type='file']").set_input_files(clip)
    verdict = page.get_by_text("Verdict:").first
    verdict.wait_for(timeout=120_000)
    assert re.search(r"Verdict: (FAKE|REAL|INCONCLUSIVE) .*\(" + LR_WORDS, verdict.inner_text()), verdict.inner_text()
    evidence = page.get_by_text("Strength of evidence:").first
    evidence.wait_for(timeout=30_000)
    assert re.search("Strength of evidence: " + LR_WORDS + r" \(ENFSI", evidence.inner_text()), evidence.inner_text()
    caption = page.get_by_text("Where the cues the model read sit", exact=True)
    caption.wait_for(timeout=120_000)
    heatmap = page.locator("[data-testid='stImage']").filter(has=caption).locator("img")
    heatmap.wait_for(timeout=30_000)
    box = heatmap.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, box
    assert heatmap.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0"), "heat map not loaded"
    page.get_by_text("Colour: how far each region's measurements sit").wait_for(timeout=30_000)
    assert page.get_by_text("Traceback").count() == 0, "a traceback on the page"


def test_shipped_model_states_the_lr_and_draws_the_heat_map_in_a_real_browser(tmp_path_factory, demo_pair,
                                                                                tmp_path):
    """With the shipped model: upload the tampered demo clip; the verdict banner and the
    strength-of-evidence line state the likelihood ratio (LR, log10 LR, its ENFSI words) and
    the heat map over the face is an image with a size, captioned.  Screenshot on failure."""
    if not (SHIPPED_MODEL / "card.json").exists():
        pytest.skip(f"no shipped model at {SHIPPED_MODEL}")
    with serve(tmp_path_factory, demo_pair, **{models.MODEL_DIR_ENV: str(SHIPPED_MODEL)}) as url:
        in_browser(read_the_lr_and_the_heat_map, url, str(demo_pair[1]), shot_dir=tmp_path)


@pytest.fixture
def scan_root(tmp_path, demo_pair) -> Path:
    """An operator root holding case/: the tampered demo clip and a clip without a face, made here."""
    case = tmp_path / "root" / "case"
    case.mkdir(parents=True)
    (case / "tampered.mp4").write_bytes(demo_pair[1].read_bytes())
    rng = np.random.default_rng(0)
    write_video((cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 3)
                 for _ in range(8)), case / "noface.mp4")
    return tmp_path / "root"


def scan_a_folder(page, url: str, folder: str) -> list[str]:
    """(In the browser child.)  Start a scan of ``folder`` on the Batch page and wait for its end;
    the paths in the exported (filtered) list."""
    page.goto(f"{url}/Batch_results")
    box = page.get_by_label("Folder to scan", exact=True)
    box.wait_for(timeout=60_000)
    box.fill(folder)
    box.press("Enter")
    page.get_by_role("button", name="Start the scan").click()
    page.get_by_text("2 of 2 files done: finished").wait_for(timeout=90_000)
    page.get_by_text("of 2 videos match").wait_for(timeout=30_000)
    # the grid is drawn on a canvas: its accessible table gives the row count, the export its rows
    grid = page.locator("[data-testid='stDataFrame'] table[role='grid']")
    grid.wait_for(state="attached", timeout=30_000)
    rows = int(grid.get_attribute("aria-rowcount"))
    assert rows >= 2, f"{rows} grid rows: the header and at least one video expected"
    with page.expect_download() as download:
        page.get_by_text("Export the filtered list (CSV)").click()
    shown = pd.read_csv(download.value.path())
    assert page.get_by_text("Traceback").count() == 0, "a traceback on the page"
    return shown["path"].tolist()


def test_start_a_scan_from_the_batch_page_in_a_real_browser(tmp_path_factory, demo_pair, scan_root, tmp_path):
    """Start a scan of a folder under the operator's root; the progress reaches the end and
    the two files appear in the results (the table, the counts).  Screenshot on failure."""
    state = tmp_path / "state"
    with serve(tmp_path_factory, demo_pair, **{roots.SCAN_ROOTS_ENV: str(scan_root),
                                               roots.STATE_DIR_ENV: str(state)}) as url:
        shown = in_browser(scan_a_folder, url, str(scan_root / "case"), shot_dir=tmp_path, height=1100)
    assert "tampered.mp4" in {Path(p).name for p in shown}
    (job,) = scan_jobs.list_jobs(state)
    assert job.folder == str((scan_root / "case").resolve()) and not scan_jobs.is_running(job)
