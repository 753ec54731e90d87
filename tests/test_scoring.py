"""The scoring process of ``inspect`` (:mod:`detector.scoring`): the model file loaded by a child
interpreter with the same checks, scoring exactly as the model loaded in process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from detector.cli import main
from detector.model import DEFAULT_MODEL_DIR, MODEL_FILE, ModelError, load_model
from detector.preload import load_model_in_background
from detector.scoring import RemotePipeline, ScoringProcess


def test_the_scoring_process_scores_as_the_model_in_process():
    """The child scores bit for bit as the pipeline loaded here, missing values included, with
    scikit-learn but without pandas in its memory (left out: WithoutPackages)."""
    shipped = load_model()
    pending = load_model_in_background(process=True)
    try:
        remote = pending.result()
        assert isinstance(remote.pipeline, RemotePipeline)
        assert (remote.columns, remote.threshold, remote.sha256, remote.calibration) == \
            (shipped.columns, shipped.threshold, shipped.sha256, shipped.calibration)
        rows = np.random.default_rng(0).normal(size=(7, len(shipped.columns)))
        rows[1, 2] = rows[4, 0] = np.nan  # imputed
        assert np.array_equal(remote.pipeline.decision_function(rows), shipped.pipeline.decision_function(rows))
        maps = Path(f"/proc/{pending.process._proc.pid}/maps")
        if maps.exists():
            text = maps.read_text()
            assert "/sklearn/" in text and "/pandas/" not in text
        with pytest.raises(ModelError, match="scoring failed in the model process"):
            remote.pipeline.decision_function(rows[:, :3])  # the wrong number of columns: the child's error
        assert np.array_equal(remote.pipeline.decision_function(rows[:2]), shipped.pipeline.decision_function(rows[:2]))
    finally:
        pending.close()
    assert pending.process._proc.wait(timeout=30) == 0  # stopped when asked


def test_a_file_the_child_refuses_is_a_model_error(tmp_path):
    bad = tmp_path / MODEL_FILE
    bad.write_bytes(b"not a zip")
    p = ScoringProcess(bad)
    try:
        with pytest.raises(ModelError, match="not a valid skops file"):
            p.bundle()
    finally:
        p.close()


def test_a_dead_scoring_process_is_a_clear_error():
    p = ScoringProcess(DEFAULT_MODEL_DIR / MODEL_FILE)
    p.bundle()
    os.kill(p._proc.pid, signal.SIGKILL)
    with pytest.raises(ModelError, match="the model process ended"):
        p.request(np.zeros((1, 3)))
    p.close()


_ORPHAN = """
import sys, time
from detector.scoring import ScoringProcess
p = ScoringProcess(sys.argv[1])
p.bundle()
print(p._proc.pid, flush=True)
time.sleep(60)
"""


def test_the_scoring_process_dies_with_its_parent():
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(DEFAULT_MODEL_DIR / MODEL_FILE)],
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        try:  # reaped by init; a zombie of ours would still answer
            with open(f"/proc/{child}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the scoring process outlived its parent")


def test_inspect_gives_the_same_result_with_a_scoring_process(demo_pair, capsys, monkeypatch):
    import detector.cli as cli

    out = {}
    for cores in (1, 2):  # one core: the model in process; two: in a scoring process
        monkeypatch.setattr(cli, "default_workers", lambda: cores)
        assert main(["inspect", "--json", "--frames", "4", str(demo_pair[1])]) == 0
        out[cores] = json.loads(capsys.readouterr().out)
        out[cores].pop("timings_s"), out[cores].pop("analysed_at")
    assert out[1] == out[2] and out[1]["score"] is not None and out[1]["llr"] is not None


def test_the_launcher_starts_inspects_scoring_process_first_and_inspect_uses_it(demo_pair, capsys, monkeypatch,
                                                                                tmp_path):
    import detector.launch as launch
    import detector.scoring as scoring

    monkeypatch.setattr(launch, "default_workers", lambda: 2)
    assert launch.early_model_file(["inspect", "x.mp4"]) == DEFAULT_MODEL_DIR / MODEL_FILE
    assert launch.early_model_file(["--verbose", "inspect", "x.mp4", f"--model={DEFAULT_MODEL_DIR}"]) == \
        DEFAULT_MODEL_DIR / MODEL_FILE
    for argv in (["scan", "x"], ["inspect", "x.mp4", "--report", "r.html"], ["inspect", "-h"],
                 ["inspect", "x.mp4", "--model", str(tmp_path)]):  # no model file there
        assert launch.early_model_file(argv) is None, argv
    started = []
    init = scoring.ScoringProcess.__init__
    monkeypatch.setattr(scoring.ScoringProcess, "__init__", lambda self, *a: (started.append(a), init(self, *a))[1])
    import detector.cli as cli

    monkeypatch.setattr(cli, "default_workers", lambda: 2)
    assert launch.main(["inspect", "--json", "--frames", "3", str(demo_pair[1])]) == 0
    assert json.loads(capsys.readouterr().out)["score"] is not None
    assert len(started) == 1  # the launcher's, used by inspect
    started.clear()
    copy = tmp_path / "copy"
    shutil.copytree(DEFAULT_MODEL_DIR, copy)
    assert launch.main(["inspect", "--json", "--frames", "3", "--mod", str(copy),
                        str(demo_pair[1])]) == 0  # an abbreviation the peek does not read: a second child
    assert json.loads(capsys.readouterr().out)["score"] is not None and len(started) == 2


def test_the_inspect_process_writes_everything_before_it_ends(demo_pair, tmp_path):
    """``python -m detector inspect`` ends with os._exit: its output is complete, its exit code kept."""
    r = subprocess.run([sys.executable, "-m", "detector", "inspect", "--json", "--frames", "3", str(demo_pair[1])],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and json.loads(r.stdout)["n_frames_sampled"] == 3
    r = subprocess.run([sys.executable, "-m", "detector", "inspect", str(tmp_path / "missing.mp4")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.startswith("error: file not found")


def test_the_model_is_checked_against_the_bytes_it_was_loaded_from():
    """The model file is read once; its hash is that of what was loaded, so a file swapped between
    the card's check and the load is refused (in process and through the scoring process alike)."""
    from detector.model import check_files, load_checked

    folder, card, digest = check_files(DEFAULT_MODEL_DIR)
    with pytest.raises(ModelError, match="changed while it was being loaded"):
        load_checked(folder, card, "f" * 64)  # as if the card had been checked against other bytes
    p = ScoringProcess(folder / MODEL_FILE)
    try:
        fields, loaded_digest = p.bundle()
        assert loaded_digest == digest and isinstance(fields["pipeline"], RemotePipeline)
        with pytest.raises(ModelError, match="changed while it was being loaded"):
            load_checked(folder, card, "f" * 64, loaded=p.bundle())
    finally:
        p.close()


def test_one_line_joins_a_message_or_keeps_its_first_line():
    """Errors reach a result row or a model message on one line: the scan keeps the whole
    message, a model error its first line (a library's long text); a bare exception its type."""
    from detector.trust import one_line

    e = ValueError("cannot decode\n  frame 12:\tbad slice")
    assert one_line(e) == "cannot decode frame 12: bad slice"
    assert one_line(e, first=True) == "cannot decode"
    assert one_line(KeyError()) == "KeyError" and one_line(OSError(" \n"), first=True) == "OSError"
