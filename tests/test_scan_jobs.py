"""The operator's roots and the scans the dashboard starts in the background (lock, pid, progress)."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.dashboard import roots, scan_jobs
from detector.encode import write_video
from detector.scan import TEST_HOOK_ENV, ResultsDB


def wait_until(cond, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached within {timeout} s")


# ----------------------------------------------------------------------------- roots

@pytest.fixture
def tree(tmp_path) -> dict[str, Path]:
    """root/case/clip.mp4, root/escape -> outside (a symlink out), root/inner -> root/case, outside/secret.mp4."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "case").mkdir(parents=True)
    outside.mkdir()
    (root / "case" / "clip.mp4").write_bytes(b"x")
    (outside / "secret.mp4").write_bytes(b"x")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "inner").symlink_to(root / "case", target_is_directory=True)
    (tmp_path / "root2").mkdir()
    return {"root": root, "outside": outside, "tmp": tmp_path}


def test_paths_inside_a_root_are_accepted_resolved(tree):
    r = roots.configured_roots(str(tree["root"]))
    assert roots.check_under_roots(tree["root"], r) == tree["root"].resolve()
    assert roots.check_under_roots(tree["root"] / "case" / "clip.mp4", r) == (tree["root"] / "case" / "clip.mp4").resolve()
    assert roots.check_under_roots(tree["root"] / "case" / ".." / "case", r) == (tree["root"] / "case").resolve()
    # a symlink that stays inside is followed to where it points
    assert roots.check_under_roots(tree["root"] / "inner" / "clip.mp4", r) == (tree["root"] / "case" / "clip.mp4").resolve()
    assert roots.check_under_roots(tree["root"] / "case" / "not-yet.mp4", r).name == "not-yet.mp4"


@pytest.mark.parametrize("rel", ["outside/secret.mp4", "root/../outside/secret.mp4", "root/case/../../outside",
                                 "root/escape/secret.mp4", "root/escape", "root2", "."])
def test_paths_outside_every_root_are_refused(tree, rel):
    r = roots.configured_roots(str(tree["root"]))
    with pytest.raises(roots.RootError, match="outside the folders this dashboard may read"):
        roots.check_under_roots(tree["tmp"] / rel, r)


def test_system_files_and_nul_are_refused(tree):
    r = roots.configured_roots(str(tree["root"]))
    with pytest.raises(roots.RootError, match="outside"):
        roots.check_under_roots("/etc/passwd", r)
    with pytest.raises(roots.RootError, match="NUL"):
        roots.check_under_roots(f"{tree['root']}/a\x00b", r)


def test_without_roots_nothing_is_accepted_and_the_message_says_how(tree):
    assert roots.configured_roots("") == ()
    with pytest.raises(roots.RootError, match=roots.SCAN_ROOTS_ENV):
        roots.check_under_roots(tree["root"] / "case", ())


def test_roots_come_from_the_environment(tree, monkeypatch):
    value = os.pathsep.join([str(tree["root"]), "", "relative/dir", str(tree["root"] / "escape"),
                             str(tree["root"])])
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, value)
    # empty and relative entries dropped, a symlinked root resolved, repeats removed
    assert roots.configured_roots() == (tree["root"].resolve(), tree["outside"].resolve())
    monkeypatch.delenv(roots.SCAN_ROOTS_ENV)
    assert roots.configured_roots() == ()


def test_state_dir_is_configurable_and_not_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv(roots.STATE_DIR_ENV, str(tmp_path / "st"))
    assert roots.state_dir() == tmp_path / "st"
    monkeypatch.delenv(roots.STATE_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert roots.state_dir() == tmp_path / "xdg" / "deepfake-detector"


# ----------------------------------------------------------------------------- background scans

@pytest.fixture
def scan_root(tmp_path_factory) -> Path:
    """A root holding case/: a short clip without a face and a file that is not a video."""
    root = tmp_path_factory.mktemp("scanroot")
    case = root / "case"
    case.mkdir()
    rng = np.random.default_rng(0)
    write_video((cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 3)
                 for _ in range(8)), case / "clip_noface.mp4")
    (case / "notes.mp4").write_text("not a video\n")
    return root


@pytest.fixture
def state(tmp_path):
    """A state folder; every scan started in it is stopped afterwards."""
    folder = tmp_path / "state"
    yield folder
    for job in scan_jobs.list_jobs(folder):
        scan_jobs.stop_scan(job, timeout_s=5)


def start(root: Path, state: Path, **kw):
    return scan_jobs.start_scan(root / "case", roots.configured_roots(str(root)), state, workers=1, **kw)


def test_a_background_scan_fills_its_database_and_reports_progress(scan_root, state):
    job, started = start(scan_root, state)
    assert started and job.db.parent.parent == (state / "scans").resolve()
    assert json.loads((Path(job.dir) / scan_jobs.JOB_FILE).read_text())["pid"] == job.pid
    wait_until(lambda: not scan_jobs.is_running(job), 90, "the scan's end")
    p = scan_jobs.scan_progress(job.db)
    assert (p.done, p.total, p.finished) == (2, 2, True)
    assert scan_jobs.progress_text(p, False) == "2 of 2 files done: finished"
    assert "scanned 2 files" in scan_jobs.log_tail(job)
    rows = ResultsDB(job.db, readonly=True).frame()
    assert set(rows["status"]) == {"done", "failed"} and len(rows) == 2


def test_second_start_joins_the_running_scan_and_a_restart_resumes(scan_root, state, monkeypatch):
    monkeypatch.setenv(TEST_HOOK_ENV, "hang=clip_noface")  # the worker sleeps on the clip: the scan keeps running
    job, started = start(scan_root, state)
    assert started
    wait_until(lambda: scan_jobs.scan_progress(job.db).total == 2, 60, "the run's file count")
    p = scan_jobs.scan_progress(job.db)
    assert not p.finished and scan_jobs.is_running(job)
    assert scan_jobs.progress_text(p, True).endswith("files done: running")
    again, started = start(scan_root, state)
    assert not started and again.pid == job.pid
    assert len(scan_jobs.list_jobs(state)) == 1
    r = roots.configured_roots(str(scan_root))
    assert scan_jobs.folder_to_offer(scan_jobs.list_jobs(state), r) == job.folder  # the running one

    assert scan_jobs.stop_scan(job)
    assert not scan_jobs.is_running(job)
    assert not scan_jobs.stop_scan(job)  # already stopped
    assert scan_jobs.folder_to_offer(scan_jobs.list_jobs(state), r) == str(r[0])  # none running: the first root
    monkeypatch.delenv(TEST_HOOK_ENV)
    resumed, started = start(scan_root, state)
    assert started and resumed.pid != job.pid and resumed.db == job.db
    wait_until(lambda: not scan_jobs.is_running(resumed), 90, "the resumed scan's end")
    assert scan_jobs.scan_progress(resumed.db).done == 2


def test_a_scan_is_running_from_the_moment_its_start_returns(scan_root, state, monkeypatch):
    """While the kernel is still loading a started program, its /proc/<pid>/cmdline reads
    empty (Popen has returned by then); here every process's first reads are empty, as they
    are under load.  The scan must not look ended then: a restart would be reported stopped
    at once, and a second visitor would start a second scan."""
    monkeypatch.setenv(TEST_HOOK_ENV, "hang=clip_noface")
    reads = collections.Counter()
    real = scan_jobs._proc_cmdline

    def loading(pid):
        reads[pid] += 1
        return [] if reads[pid] <= 3 else real(pid)

    monkeypatch.setattr(scan_jobs, "_proc_cmdline", loading)
    job, started = start(scan_root, state)
    assert started and scan_jobs.is_running(job)
    again, started = start(scan_root, state)
    assert not started and again.pid == job.pid


def test_two_visitors_at_once_start_one_scan(scan_root, state, monkeypatch):
    monkeypatch.setenv(TEST_HOOK_ENV, "hang=clip_noface")
    out = []
    threads = [threading.Thread(target=lambda: out.append(start(scan_root, state))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for _, s in out) == [False, False, False, True]
    assert len({j.pid for j, _ in out}) == 1


def test_a_stale_pid_does_not_block(scan_root, state):
    d = scan_jobs.job_dir(state.resolve(), (scan_root / "case").resolve())
    d.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid in (dead.pid, os.getpid()):  # ended; alive but not that scan (a reused id)
        (d / scan_jobs.JOB_FILE).write_text(json.dumps(
            {"folder": str(scan_root / "case"), "dir": str(d), "pid": pid, "started_at": "2020-01-01T00:00:00",
             "command": []}))
        stale = scan_jobs.read_job(d)
        assert stale is not None and not scan_jobs.is_running(stale)
    job, started = start(scan_root, state)
    assert started and job.pid not in (dead.pid, os.getpid())
    wait_until(lambda: not scan_jobs.is_running(job), 90, "the scan's end")


def test_starts_refused_outside_the_roots_or_on_a_busy_database(scan_root, state, tmp_path):
    r = roots.configured_roots(str(scan_root))
    with pytest.raises(roots.RootError):
        scan_jobs.start_scan(tmp_path, r, state)
    with pytest.raises(roots.RootError):
        scan_jobs.start_scan(scan_root / "case", (), state)
    with pytest.raises(scan_jobs.ScanStartError, match="not a folder"):
        scan_jobs.start_scan(scan_root / "case" / "notes.mp4", r, state)
    db = scan_jobs.job_dir(state.resolve(), (scan_root / "case").resolve()) / scan_jobs.DB_NAME
    with ResultsDB(db):  # a scan run elsewhere (e.g. the command line) holds the database
        with pytest.raises(scan_jobs.ScanStartError, match="another program is writing"):
            start(scan_root, state)
    assert scan_jobs.list_jobs(state) == []


def test_progress_of_a_missing_database_is_zero(tmp_path):
    p = scan_jobs.scan_progress(tmp_path / "none.db")
    assert (p.done, p.total, p.finished) == (0, None, False)
    assert scan_jobs.progress_fraction(p) == 0.0
    assert scan_jobs.progress_text(p, True) == "0 files done; looking for files…"
