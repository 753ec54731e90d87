"""Batch scanner: broken inputs, resume, dead workers, kill -9, Dask, report (small synthetic inputs)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.cli import main
from detector.scan import TEST_HOOK_ENV, ResultsDB, discover, model_setting, scan

FRAMES = 2  # frames sampled per video: keeps every analysis well under a second


def rows(db) -> pd.DataFrame:
    with ResultsDB(db, readonly=True) as r:
        return r.frame().set_index("path", drop=False)


def small_clips(folder: Path, n: int, seed0: int = 0) -> list[Path]:
    """``n`` distinct 320x240 clips of 8 frames (a face, camera motion)."""
    from detector.encode import write_video
    from detector.synthesis import astronaut_bgr, camera_frames

    folder.mkdir(parents=True, exist_ok=True)
    img = astronaut_bgr()
    return [write_video(camera_frames(img, 8, size=(320, 240), seed=seed0 + k, centre=(0.45, 0.33)),
                        folder / f"clip{seed0 + k:03d}.mp4") for k in range(n)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, demo_pair):
    """An SVM fitted on the demo pair's feature rows plus jitter, saved like a real model."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from detector.analysis import analyze, video_feature_row
    from detector.model import DetectorModel, load_model, save_model

    real, fake = (video_feature_row(analyze(p, model=None, n_frames=FRAMES)) for p in demo_pair)
    cols = [c for c in real if np.isfinite(real[c]) and np.isfinite(fake[c])]
    rng = np.random.default_rng(0)
    base = np.array([[real[c] for c in cols], [fake[c] for c in cols]])
    scale = np.abs(base).mean(axis=0) * 0.02 + 1e-6
    X = np.vstack([base[k] + rng.normal(0, 1, (20, len(cols))) * scale for k in (0, 1)])
    y = np.repeat([0, 1], 20)
    # an imputer like every trained model: a still image has no next frame, so no flicker values
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("svm", SVC())]).fit(X, y)
    folder = tmp_path_factory.mktemp("model") / "tiny"
    save_model(DetectorModel(pipe, cols, 0.0, "tiny", "1"), folder, card={"command": "test fixture"})
    return load_model(folder)


@pytest.fixture(scope="module")
def media(tmp_path_factory, demo_pair, bad_files) -> dict[str, Path]:
    """A folder of good videos and every kind of bad input, with a symlink loop."""
    d = tmp_path_factory.mktemp("media")
    (d / "sub" / "deeper").mkdir(parents=True)
    f = {
        "real": d / "real.mp4", "fake": d / "sub" / "fake.mp4", "copy": d / "sub" / "deeper" / "copy_of_real.mp4",
        "image": d / "face.png", "empty": d / "empty.mp4", "text": d / "text.mp4", "truncated": d / "truncated.mp4",
        "noface": d / "noface.mp4", "broken_link": d / "broken_link.mp4",
    }
    f["real"].write_bytes(demo_pair[0].read_bytes())
    f["fake"].write_bytes(demo_pair[1].read_bytes())
    f["copy"].write_bytes(demo_pair[0].read_bytes())
    for k in ("image", "empty", "text", "truncated", "noface"):
        f[k].write_bytes(bad_files[k].read_bytes())
    os.symlink("missing_target.mp4", f["broken_link"])
    os.symlink("../..", d / "sub" / "deeper" / "loop")  # a symlink loop back to the root
    (d / "notes.txt").write_text("not media, ignored in folders\n")
    f["root"] = d
    return f


# ----------------------------------------------------------------------------- inputs
def test_discover_folders_lists_and_symlink_loops(media, tmp_path):
    found = discover([media["root"]])
    names = sorted(Path(p).name for p in found.paths)
    assert names == sorted(["real.mp4", "fake.mp4", "copy_of_real.mp4", "face.png", "empty.mp4", "text.mp4",
                            "truncated.mp4", "noface.mp4", "broken_link.mp4"])
    assert found.loops >= 1 and found.ignored == 1  # the loop was cut, notes.txt ignored
    assert all(os.path.isabs(p) for p in found.paths)

    lists = tmp_path / "lists"
    lists.mkdir()
    rel = os.path.relpath(media["real"], lists)
    (lists / "a.txt").write_text(f"# a comment\n{rel}\n\n{media['fake']}\nnot_there.mp4\n")
    pd.DataFrame({"path": [rel, str(media["image"])], "label": ["real", "real"]}).to_csv(lists / "b.csv", index=False)
    found = discover([lists / "a.txt", lists / "b.csv", media["real"]])
    assert found.paths == [str(media["real"]), str(media["fake"]), str(media["image"])]  # unique, in order
    assert found.missing == [str(lists / "not_there.mp4")]
    (lists / "bad.csv").write_text("file\nx.mp4\n")
    with pytest.raises(ValueError, match="'path' column"):
        discover([lists / "bad.csv"])


# ----------------------------------------------------------------------------- scan + resume
def test_scan_records_every_bad_input_and_resumes(media, tiny_model, tmp_path, capsys):
    db = tmp_path / "results.db"
    argv = ["scan", str(media["root"]), "--out", str(db), "--model", tiny_model.path, "--frames", str(FRAMES),
            "--workers", "2", "--top", "5"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "9 files" in cap.err and "symlink loops" in cap.err
    assert "top 4 suspects" in cap.out  # real, fake, the image, and the copy (a duplicate) are scored

    r = rows(db)
    assert len(r) == 9 and r.index.is_unique
    st = {k: r.loc[str(media[k])] for k in media if k != "root"}
    for k in ("real", "fake", "image", "noface"):
        assert st[k].status == "done", (k, st[k].error)
        assert len(st[k].sha256) == 64 and st[k].model_version.startswith("tiny@1+features")
    assert {st["real"].verdict, st["fake"].verdict} <= {"real", "fake"} and st["fake"].score > st["real"].score
    assert st["noface"].verdict == "no-face" and st["noface"].n_faces == 0
    assert st["real"].n_faces == FRAMES and st["real"].n_tracks == 1 and st["real"].duration_s > 1
    assert st["real"].t_total > 0 and st["real"].worker.startswith("pid") and st["real"].finished_at
    # the copy is recorded as a duplicate of the first file with that content, not analysed again
    dup = st["copy"]
    assert dup.status == "duplicate" and dup.duplicate_of == str(media["real"])
    assert dup.score == st["real"].score and dup.verdict == st["real"].verdict and dup.sha256 == st["real"].sha256
    assert pd.isna(dup.t_total)
    reasons = {k: st[k].error for k in ("empty", "text", "truncated", "broken_link")}
    assert all(st[k].status == "failed" for k in reasons)
    assert "empty file" in reasons["empty"]
    assert "not a readable video" in reasons["text"]
    assert "not a readable video" in reasons["truncated"] or "no frame" in reasons["truncated"]
    assert "broken symlink" in reasons["broken_link"]

    # resume: nothing analysed again, nothing rewritten
    s = scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, workers=2, progress=False)
    assert (s.skipped, s.done, s.failed, s.duplicate) == (9, 0, 0, 0)
    assert rows(db)["finished_at"].equals(r["finished_at"])

    # same bytes, new mtime: re-hashed, recognised, skipped (fingerprint refreshed)
    os.utime(media["real"], ns=(time.time_ns(), time.time_ns() + 10**9))
    s = scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False)
    assert s.skipped == 9 and s.done == 0
    assert rows(db).loc[str(media["real"]), "mtime_ns"] == os.stat(media["real"]).st_mtime_ns

    # --retry-failed analyses the failed ones again, and only them
    s = scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, workers=2, retry_failed=True, progress=False)
    assert s.failed == 4 and s.done == 0 and s.skipped == 5
    r2 = rows(db)
    assert (r2.loc[r2.status == "failed", "attempts"] == 2).all()
    assert (r2.loc[r2.status != "failed", "attempts"] == 1).all()

    # another model version (here: none) is another setting: analysed, in its own rows
    s = scan([media["real"]], db, model=None, n_frames=FRAMES, workers=1, progress=False)
    assert s.done == 1 and s.verdicts == {"unscored": 1}
    assert len(rows(db).loc[[str(media["real"])]]) == 2


def test_report_ranks_suspects_and_exports(media, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, workers=2, progress=False)
    capsys.readouterr()
    assert main(["report", str(db), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "top 2 suspects" in out and "failed (4):" in out and "empty file" in out
    lines = [ln for ln in out.splitlines() if ln.strip().startswith(("1 ", "2 "))]
    assert len(lines) == 2

    assert main(["report", str(db), "--csv", str(tmp_path / "s.csv")]) == 0
    csv = pd.read_csv(tmp_path / "s.csv")
    assert list(csv["rank"]) == [1, 2, 3, 4] and csv["margin"].is_monotonic_decreasing
    assert csv.loc[0, "path"] == str(media["fake"])  # the self-blended fake ranks first
    assert main(["report", str(db), "--parquet", str(tmp_path / "s.parquet"), "--all"]) == 0
    pq = pd.read_parquet(tmp_path / "s.parquet")
    assert len(pq) == 9 and pq["rank"].notna().sum() == 4
    assert main(["report", str(db), "--csv", str(tmp_path / "top1.csv"), "--top", "1"]) == 0
    assert len(pd.read_csv(tmp_path / "top1.csv")) == 1
    assert main(["report", str(tmp_path / "nothing.db")]) == 1


# ----------------------------------------------------------------------------- dying workers
def test_dead_or_runaway_workers_are_replaced_and_their_file_failed(tmp_path, monkeypatch):
    clips = small_clips(tmp_path / "in", 6)
    names = {"crash": clips[1], "abort": clips[2], "hang": clips[3], "oom": clips[4]}
    monkeypatch.setenv(TEST_HOOK_ENV, ";".join(f"{k}={p.name}" for k, p in names.items()))
    db = tmp_path / "w.db"
    s = scan([tmp_path / "in"], db, n_frames=FRAMES, workers=2, timeout_s=8, max_memory_mb=1200, progress=False)
    assert s.total == 6 and s.done == 2 and s.failed == 4 and s.workers_replaced == 4
    r = rows(db)
    err = {k: r.loc[str(p), "error"] for k, p in names.items()}
    assert "SIGKILL" in err["crash"] and "SIGABRT" in err["abort"]
    assert "timed out" in err["hang"] and "out of memory" in err["oom"]
    for p in (clips[0], clips[5]):
        assert r.loc[str(p), "status"] == "done"
    # the failed ones come back only with --retry-failed (here without the hook: they succeed)
    monkeypatch.delenv(TEST_HOOK_ENV)
    assert scan([tmp_path / "in"], db, n_frames=FRAMES, workers=2, progress=False).done == 0
    s = scan([tmp_path / "in"], db, n_frames=FRAMES, workers=2, retry_failed=True, progress=False)
    assert s.done == 4 and (rows(db)["status"] == "done").all()


# ----------------------------------------------------------------------------- kill -9
def test_kill_9_mid_scan_then_resume_loses_and_duplicates_nothing(tiny_model, tmp_path):
    # enough clips that the kill lands mid-scan on a fast, quiet machine too (with 8, a
    # clean-clone CI run once saw all of them committed before the kill)
    clips = small_clips(tmp_path / "in", 24, seed0=100)
    db = tmp_path / "k.db"
    cmd = [sys.executable, "-m", "detector", "scan", str(tmp_path / "in"), "--out", str(db), "--frames", str(FRAMES),
           "--workers", "2", "--no-progress", "--model", tiny_model.path]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        n = 0
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if db.exists():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                        n = c.execute("SELECT count(*) FROM results").fetchone()[0]
                except sqlite3.Error:
                    n = 0
            if n >= 3:
                break
        assert proc.poll() is None, "the scan finished before it could be killed"
        assert n >= 3
        workers = _children(proc.pid)
        assert workers
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 10  # the workers die with it (PR_SET_PDEATHSIG), no orphans
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = rows(db)  # what was committed when it died
    assert 3 <= len(before) < len(clips)
    s = scan([tmp_path / "in"], db, model=tiny_model, n_frames=FRAMES, workers=2, tasks_per_worker=2,
             progress=False)  # workers are also recycled on the way
    after = rows(db)
    assert s.skipped == len(before) and s.done == len(clips) - len(before)
    assert len(after) == len(clips) and after.index.is_unique  # nothing lost, nothing twice
    kept = after.loc[before.index]
    assert kept["finished_at"].equals(before["finished_at"]) and (kept["attempts"] == 1).all()
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ----------------------------------------------------------------------------- Dask
def test_dask_local_cluster_on_loopback(media, tiny_model, tmp_path):
    distributed = pytest.importorskip("distributed")
    db = tmp_path / "dask.db"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        s = scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, scheduler=cluster.scheduler_address,
                 progress=False)
    assert (s.total, s.done, s.duplicate, s.failed) == (9, 4, 1, 4)
    r = rows(db)
    done = r[r.status == "done"]
    assert done["worker"].str.startswith("tcp://127.0.0.1").all()
    assert r.loc[str(media["fake"]), "score"] > r.loc[str(media["real"]), "score"]
    assert "not a readable video" in r.loc[str(media["text"]), "error"]


def test_a_second_writer_is_refused(tmp_path):
    from detector.scan import ScanLockedError

    db = tmp_path / "x.db"
    with ResultsDB(db):
        with pytest.raises(ScanLockedError):
            ResultsDB(db)
    ResultsDB(db).close()  # released


# ----------------------------------------------------------------------------- hardening
def test_a_file_name_that_is_not_utf8_scans_resumes_and_reports(demo_pair, tiny_model, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    bad = d / os.fsdecode(b"bad\xff name.mp4")  # a str with a surrogate escape, as os.listdir gives it
    try:
        bad.write_bytes(demo_pair[0].read_bytes())
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not valid UTF-8")
    (d / "copy.mp4").write_bytes(demo_pair[0].read_bytes())  # a duplicate of the bad name
    (d / "good.mp4").write_bytes(demo_pair[1].read_bytes())
    shown = str(d / "bad\\xff name.mp4")  # how text outputs show the name
    db = tmp_path / "u.db"
    argv = ["scan", str(d), "--out", str(db), "--model", tiny_model.path, "--frames", str(FRAMES), "--workers", "1",
            "--no-progress"]
    assert main(argv) == 0
    assert "3 files: 2 analysed" in capsys.readouterr().err
    with ResultsDB(db, readonly=True) as r:
        row = r.get(str(bad), model_setting(tiny_model)[2], FRAMES)  # stored exactly: found by its real name
        assert row["path"] == str(bad) and row["status"] == "done"
        assert r.get(str(d / "copy.mp4"), row["model_version"], FRAMES)["duplicate_of"] == str(bad)
    t = rows(db)
    assert t.loc[shown, "status"] == "done" and t.loc[str(d / "good.mp4"), "status"] == "done"
    assert t.loc[str(d / "copy.mp4"), "duplicate_of"] == shown

    s = scan([d], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False)  # resume: nothing redone
    assert (s.skipped, s.done, s.failed, s.duplicate) == (3, 0, 0, 0)
    assert rows(db)["finished_at"].equals(t["finished_at"])
    lst = tmp_path / "list.txt"  # the same name in a list of paths
    lst.write_bytes(os.fsencode(str(bad)) + b"\n")
    assert scan([lst], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False).skipped == 1

    assert main(["report", str(db)]) == 0
    out = capsys.readouterr().out
    assert shown in out and str(d / "good.mp4") in out
    assert main(["report", str(db), "--csv", str(tmp_path / "u.csv")]) == 0
    assert {shown, str(d / "good.mp4")} <= set(pd.read_csv(tmp_path / "u.csv")["path"])
    assert main(["report", str(db), "--parquet", str(tmp_path / "u.parquet")]) == 0
    assert {shown, str(d / "good.mp4")} <= set(pd.read_parquet(tmp_path / "u.parquet")["path"])


def test_non_regular_files_are_recorded_once_with_their_reason(tmp_path):
    d = tmp_path / "in"
    small_clips(d, 1)
    os.mkfifo(d / "pipe.mp4")
    os.symlink("loop_b.mp4", d / "loop_a.mp4")
    os.symlink("loop_a.mp4", d / "loop_b.mp4")
    os.symlink(os.devnull, d / "null.mp4")
    os.symlink(d, d / "folder.mp4")  # a folder named like a video is walked, not scanned: cut as a loop
    db = tmp_path / "n.db"
    s = scan([d], db, n_frames=FRAMES, workers=1, progress=False)
    assert (s.total, s.done, s.failed) == (5, 1, 4)
    err = rows(db)["error"]
    assert err[str(d / "pipe.mp4")] == "not a regular file (FIFO)"
    assert err[str(d / "loop_a.mp4")] == err[str(d / "loop_b.mp4")] == "symlink loop"
    assert err[str(d / "null.mp4")] == "not a regular file (character device)"

    s = scan([d], db, n_frames=FRAMES, workers=1, progress=False)  # not retried on resume
    assert (s.skipped, s.done, s.failed) == (5, 0, 0)
    assert (rows(db)["attempts"] == 1).all()
    s = scan([d / "pipe.mp4"], db, n_frames=FRAMES, workers=1, retry_failed=True, progress=False)
    assert s.failed == 1 and rows(db).loc[str(d / "pipe.mp4"), "attempts"] == 2  # only when asked


def test_scan_reads_a_file_as_inspect_does(demo_pair, tiny_model, tmp_path, capsys):
    import cv2

    from detector.synthesis import astronaut_bgr

    d = tmp_path / "in"
    d.mkdir()
    video = demo_pair[0].read_bytes()
    (d / "clip.mp4").write_bytes(video)
    (d / "clip_renamed.png").write_bytes(video)  # MP4 bytes named as an image: same bytes as clip.mp4
    (d / "still.mp4").write_bytes(cv2.imencode(".png", astronaut_bgr())[1].tobytes())  # PNG bytes named .mp4
    inspected = {}
    for name in ("clip_renamed.png", "still.mp4"):
        code = main(["inspect", str(d / name), "--model", tiny_model.path, "--frames", str(FRAMES), "--json",
                     "--no-features"])
        cap = capsys.readouterr()
        inspected[name] = (code, cap.err.strip().splitlines()[-1] if code else json.loads(cap.out))
    db = tmp_path / "i.db"
    scan([d], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False)
    r = rows(db)
    code, message = inspected["clip_renamed.png"]
    assert code == 0 and message["video"]["kind"] == "video"  # read by content: the video it is
    png = r.loc[str(d / "clip_renamed.png")]
    assert png.status in ("done", "duplicate") and png.score == pytest.approx(message["score"])
    assert png.verdict == message["verdict"]
    code, a = inspected["still.mp4"]
    still = r.loc[str(d / "still.mp4")]
    assert code == 0 and still.status == "done" and still.kind == a["video"]["kind"]
    assert still.score == pytest.approx(a["score"]) and still.verdict == a["verdict"]

    (d / "later.png").write_bytes(video)  # added later: compared with the rows in the database
    s = scan([d], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False)
    assert (s.skipped, s.failed) == (3, 0)
    assert rows(db).loc[str(d / "later.png"), "score"] == pytest.approx(message["score"])


def test_a_truncated_file_is_reported_as_such(demo_pair, tmp_path):
    import av

    from detector.scan import scan_file

    whole = tmp_path / "faststart.mp4"  # the index (moov) first, so a cut file still opens
    with av.open(str(demo_pair[0])) as src, av.open(str(whole), "w", options={"movflags": "faststart"}) as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for pkt in src.demux(src.streams.video[0]):
            if pkt.dts is not None:
                pkt.stream = out
                dst.mux(pkt)
    data, cut = whole.read_bytes(), tmp_path / "cut.mp4"
    errors = set()
    for n in range(200, 1200, 25):  # cut inside the header: the stream is there, its codec parameters not
        cut.write_bytes(data[:n])
        res = scan_file(str(cut), n_frames=FRAMES)
        assert res["status"] == "failed"
        errors.add(res["error"])
    assert not [e for e in errors if "NoneType" in e], errors


def test_the_batch_page_ranks_as_the_report(media, tiny_model, tmp_path):
    from detector.dashboard import batch as dash

    db = tmp_path / "b.db"
    scan([media["root"]], db, model=tiny_model, n_frames=FRAMES, workers=2, progress=False)
    assert main(["report", str(db), "--csv", str(tmp_path / "b.csv"), "--all"]) == 0
    report = pd.read_csv(tmp_path / "b.csv")
    for source in (db, tmp_path / "b.csv"):  # the database, and the exported table read back
        page = dash.rank_suspects(dash.load_results(source))
        assert list(page["path"]) == list(report["path"])
        assert list(page["rank"]) == list(range(1, len(report) + 1))


# ----------------------------------------------------------------------------- --flag-rate

def test_flag_threshold_decides_the_verdict_and_keeps_the_lr(demo_pair, tiny_model):
    from dataclasses import replace

    from detector.calibration import Calibration
    from detector.scan.worker import scan_file

    # a calibration stating LR = 1 for every score: its own verdict is always inconclusive
    flat = replace(tiny_model, calibration=Calibration(0.0, 0.0, -2.0, 2.0, 10, 10))
    own = scan_file(str(demo_pair[1]), FRAMES, model=flat)
    assert own["status"] == "done" and own["verdict"] == "inconclusive" and own["llr"] == 0.0
    assert own["threshold"] == tiny_model.threshold
    for t, verdict in ((own["score"] - 0.01, "fake"), (own["score"], "fake"), (own["score"] + 0.01, "real")):
        r = scan_file(str(demo_pair[1]), FRAMES, model=flat, flag_threshold=t)
        assert (r["verdict"], r["threshold"], r["llr"], r["score"]) == (verdict, t, 0.0, own["score"])


def test_flag_rate_needs_a_stored_evaluation_and_is_part_of_the_setting(demo_pair, tiny_model, tmp_path, capsys):
    import shutil

    db = tmp_path / "f.db"
    args = ["scan", str(demo_pair[0]), "--out", str(db), "--model", tiny_model.path, "--frames", str(FRAMES),
            "--workers", "1", "--no-progress"]
    assert main(args + ["--flag-rate", "0.01"]) == 1
    assert "--flag-rate needs the model's stored evaluation" in capsys.readouterr().err and not db.exists()

    folder = tmp_path / "with-evaluation"
    shutil.copytree(tiny_model.path, folder)
    (folder / "evaluation").mkdir()
    # genuine 0.1 0.2 0.3 0.9, fake 0.25 0.5 0.6 0.8: flagging at most 1 of 4 genuine -> threshold 0.5
    pd.DataFrame({"label": ["real"] * 4 + ["fake"] * 4, "score": [.1, .2, .3, .9, .25, .5, .6, .8]}).to_csv(
        folder / "evaluation" / "scores.csv", index=False)
    args[5] = str(folder)
    assert main(args + ["--flag-rate", "2"]) == 1 and "fraction in [0, 1]" in capsys.readouterr().err
    assert main(args + ["--flag-rate", "0.25"]) == 0
    assert "flag threshold +0.5000" in capsys.readouterr().err
    r = rows(db).iloc[0]
    assert r.threshold == 0.5 and r.verdict == ("fake" if r.score >= 0.5 else "real")
    assert main(args) == 0  # the model's own threshold: another setting, analysed again
    r = rows(db).sort_values("threshold")
    assert list(r.threshold) == [0.0, 0.5] and r.score.nunique() == 1


def test_scan_sampling_is_the_models_and_another_is_part_of_the_setting(media, tiny_model, tmp_path):
    """A model scans with its own sampling (a card without one: spread); asking for another is
    refused before anything runs; without a model, ``runs`` is its own setting (own rows)."""
    db = tmp_path / "s.db"
    with pytest.raises(ValueError, match="trained on features of sampling 'spread'"):
        scan([media["real"]], db, model=tiny_model, n_frames=FRAMES, workers=1, progress=False, sampling="runs")
    s = scan([media["real"]], db, model=None, n_frames=FRAMES, workers=1, progress=False)
    r = scan([media["real"]], db, model=None, n_frames=FRAMES, workers=1, progress=False, sampling="runs")
    assert s.done == r.done == 1 and r.model_version == s.model_version + "+sampling-runs"
    assert len(rows(db).loc[[str(media["real"])]]) == 2


def _scan_one(pool, key: tuple, path: str) -> dict:
    """The result of ``path`` scanned by ``pool`` (a LocalPool) with the model of ``key``."""
    pool.submit(path, {"path": path, "n_frames": FRAMES, "model_dir": key[0], "model_sha": key[1]})
    done = []
    while not done:
        done = pool.wait(timeout=30)
    return done[0][1]


def test_local_workers_score_through_the_parent_without_scikit_learn(demo_pair, tiny_model):
    """A local worker gets the model without its pipeline and has the parent score its rows: the
    same scores as in process, and no scikit-learn in the worker (its start-up is the analysis'
    imports only); a pipeline that fails in the parent fails that file, with the reason."""
    from dataclasses import replace

    from detector.scan.local_pool import LocalPool
    from detector.scan.worker import scan_file

    path = str(demo_pair[1])
    own = scan_file(path, FRAMES, model=tiny_model)
    key = model_setting(tiny_model)[:2]
    pool = LocalPool(1, model=tiny_model, model_key=key)
    try:
        res = _scan_one(pool, key, path)
        assert res["status"] == "done", res.get("error")
        assert (res["score"], res["llr"], res["verdict"]) == (own["score"], own["llr"], own["verdict"])
        maps = Path(f"/proc/{pool.slots[0].proc.pid}/maps")
        if maps.exists():
            assert "/sklearn/" not in maps.read_text()
    finally:
        pool.close()

    class Broken:
        def decision_function(self, rows):
            raise ValueError("no scores today")

    pool = LocalPool(1, model=replace(tiny_model, pipeline=Broken()), model_key=key)
    try:
        res = _scan_one(pool, key, path)
        assert res["status"] == "failed" and "scoring failed in the scan's process: no scores today" in res["error"]
    finally:
        pool.close()


def test_the_scan_records_each_files_codec_and_the_cards_caution(demo_pair, tmp_path):
    """With the shipped model (its card measured H.264, VP9 and AV1 re-encodes, and misleading
    LRs on every AV1 one), a scan through a local worker records each file's codec and flags the
    AV1 file and the HEVC one (never measured), not the H.264 clip; the Batch page shows the flag."""
    from detector.dashboard import batch
    from detector.decode import iter_frames
    from detector.encode import write_video
    from detector.model import load_model
    from detector.scan.results import report_text

    d = tmp_path / "in"
    d.mkdir()
    (d / "h264.mp4").write_bytes(demo_pair[0].read_bytes())
    frames = [f.image for f in iter_frames(demo_pair[0], 40)]
    write_video(frames, d / "av1.mkv", codec="libsvtav1", crf=38)
    write_video(frames, d / "hevc.mp4", codec="libx265", crf=28)
    db = tmp_path / "codecs.db"
    s = scan([d], db, model=load_model(), n_frames=4, workers=1, progress=False)
    assert s.failed == 0
    r = rows(db)
    assert r.loc[str(d / "h264.mp4"), "codec"] == "h264" and pd.isna(r.loc[str(d / "h264.mp4"), "caution"])
    assert r.loc[str(d / "av1.mkv"), "codec"] in ("av1", "libdav1d", "libaom-av1")
    assert r.loc[str(d / "av1.mkv"), "caution"] == "LRs misled on AV1"
    assert r.loc[str(d / "hevc.mp4"), ["codec", "caution"]].tolist() == ["hevc", "codec not measured: HEVC (H.265)"]
    text = report_text(db)  # the text report marks them after the path
    assert f"{d / 'av1.mkv'}  [LRs misled on AV1]" in text and f"{d / 'h264.mp4'}\n" in text + "\n"
    table = batch.suspects_display(batch.rank_suspects(batch.load_results(db)))
    assert sorted(table["caution"]) == ["", "LRs misled on AV1", "codec not measured: HEVC (H.265)"]


def test_phone_camcorder_and_gif_files_are_scanned(demo_pair, tmp_path):
    """A folder scan takes 3GP (phones, messengers), M2TS (camcorders) and animated GIFs (face
    swaps passed around as GIFs) as videos; a GIF is flagged as a codec the card never measured;
    a ``.ts`` file (TypeScript as often as a transport stream) is left out."""
    import av

    from detector.decode import iter_frames
    from detector.encode import write_video
    from detector.model import load_model

    d = tmp_path / "in"
    d.mkdir()
    frames = [f.image for f in iter_frames(demo_pair[0], 12)]
    write_video(frames, d / "phone.3gp")
    write_video(frames, d / "camera.m2ts")
    with av.open(str(d / "passed_around.gif"), "w") as c:
        s = c.add_stream("gif", rate=10)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "rgb8"
        for image in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:, :, ::-1]), format="rgb24")))
        c.mux(s.encode())
    (d / "app.ts").write_text("export const x: number = 1;\n")
    s = scan([d], tmp_path / "formats.db", model=load_model(), n_frames=4, workers=1, progress=False)
    assert (s.failed, s.ignored) == (0, 1)
    r = rows(tmp_path / "formats.db")
    assert sorted(Path(p).name for p in r.index) == ["camera.m2ts", "passed_around.gif", "phone.3gp"]
    assert (r["n_faces"] > 0).all() and (r["status"] == "done").all(), r[["n_faces", "status"]]
    assert r.loc[str(d / "passed_around.gif"), ["codec", "caution"]].tolist() == ["gif", "codec not measured: GIF"]
