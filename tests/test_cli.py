import json
import subprocess
import sys

import pytest

from detector.cli import main


def test_inspect_json_shape(demo_pair, capsys):
    assert main(["inspect", str(demo_pair[0]), "--json", "--frames", "6"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("video", "verdict", "score", "threshold", "model", "tracks", "frames"):
        assert key in out
    # the shipped model is calibrated: the strength of evidence comes with the score
    assert -2 < out["llr"] < 2 and out["llr_category"].endswith(("manipulation", "a genuine video"))
    assert len(out["video"]["sha256"]) == 64
    assert out["n_frames_sampled"] == 6 and len(out["frames"]) == 6
    face = out["frames"][0]["faces"][0]
    assert len(face["box"]) == 4 and 0 < face["confidence"] <= 1
    # with a model, the features it reads (the shipped one reads the block family)
    from detector.features import family_of
    from detector.model import load_model

    assert {family_of(c) for c in face["features"]} == set(load_model().families)
    assert out["tracks"][0]["n_faces"] == 6


def test_inspect_cautions_on_a_codec_where_the_cards_lrs_mislead_or_were_never_measured(demo_pair, tmp_path, capsys):
    """The shipped card measured misleading LRs (Cllr >= 1) on held-out videos re-encoded as AV1
    (and not on every H.264 re-encode): an AV1 file gets a caution under its evidence, read from
    the card; the H.264 demo clip none; an HEVC file (the card measured no HEVC) one that says so."""
    from detector.decode import iter_frames
    from detector.encode import write_video
    from detector.model import load_model

    card = load_model().card
    av1 = [r for r in card["conditions"]["table"] if r["condition"] == "av1"]
    assert av1 and av1[0]["cllr"] >= 1  # what the caution rests on
    assert main(["inspect", str(demo_pair[0]), "--json", "--frames", "4", "--no-features"]) == 0
    assert json.loads(capsys.readouterr().out)["caution"] is None
    clip = write_video((f.image for f in iter_frames(demo_pair[0], 40)), tmp_path / "clip.mkv", codec="libsvtav1",
                       crf=38)
    assert main(["inspect", str(clip), "--json", "--frames", "4", "--no-features"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["llr"] is not None and out["video"]["codec"] in ("av1", "libdav1d", "libaom-av1")
    assert f"Cllr {av1[0]['cllr']:.2f}" in out["caution"] and "do not rely on this LR" in out["caution"]
    report = tmp_path / "case.html"
    assert main(["inspect", str(clip), "--frames", "4", "--report", str(report)]) == 0
    assert "caution:   this file is AV1." in capsys.readouterr().out
    html = report.read_text()  # the case report shows it in its own box, above the evidence
    box = html.index("<p class='caution'>Caution: this file is AV1.")
    assert box < html.index("<p class='evidence'>") and html.count("Caution: this file is AV1.") == 1
    # HEVC (as phones record): the card measured no HEVC re-encode, and says so
    hevc = write_video((f.image for f in iter_frames(demo_pair[0], 40)), tmp_path / "clip.mp4", codec="libx265",
                       crf=28)
    assert main(["inspect", str(hevc), "--json", "--frames", "4", "--no-features"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"]["codec"] == "hevc" and out["llr"] is not None
    assert out["caution"].startswith("Caution: this file is HEVC (H.265). This model was measured on ")


def test_inspect_json_names_the_track_that_decided_the_score(two_face_video, capsys):
    """Two people: the video's score is the higher track score, and the JSON says whose."""
    assert main(["inspect", str(two_face_video), "--json", "--frames", "6", "--no-features"]) == 0
    out = json.loads(capsys.readouterr().out)
    tracks = {t["track_id"]: t for t in out["tracks"]}
    assert len(tracks) == 2 and out["decisive_track"] in tracks
    assert tracks[out["decisive_track"]]["score"] == out["score"] == max(t["score"] for t in tracks.values())


def test_inspect_all_features_gives_every_family_and_the_same_score(demo_pair, capsys):
    from detector.features import FAMILIES, family_of

    assert main(["inspect", str(demo_pair[1]), "--json", "--frames", "4"]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert main(["inspect", str(demo_pair[1]), "--json", "--frames", "4", "--all-features"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert {family_of(c) for c in full["frames"][0]["faces"][0]["features"]} == set(FAMILIES)
    assert fast["score"] == pytest.approx(full["score"], abs=1e-9)


def test_inspect_without_model_still_reports_faces(demo_pair, tmp_path, capsys):
    from detector import model as M

    old = M.DEFAULT_MODEL_DIR
    M.DEFAULT_MODEL_DIR = tmp_path / "none"
    try:
        assert main(["inspect", str(demo_pair[0]), "--frames", "4"]) == 0
    finally:
        M.DEFAULT_MODEL_DIR = old
    cap = capsys.readouterr()
    assert "no model loaded" in cap.err and "track 0: 4 faces" in cap.out


@pytest.mark.parametrize("name", ["missing", "empty", "text"])
def test_unreadable_input_is_one_line_and_exit_1(bad_files, name, capsys):
    assert main(["inspect", str(bad_files[name])]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err


def test_no_face_video_gives_no_face_verdict(bad_files, capsys):
    assert main(["inspect", str(bad_files["noface"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "no-face" and out["tracks"] == []
    assert out["decisive_track"] is None


def test_image_input(bad_files, capsys):
    assert main(["inspect", str(bad_files["image"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"]["kind"] == "image" and out["n_faces"] == 1


def test_truncated_video_no_traceback(bad_files, capsys):
    code = main(["inspect", str(bad_files["truncated"])])
    assert code in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


def test_module_entry_point(demo_pair):
    r = subprocess.run([sys.executable, "-m", "detector", "inspect", str(demo_pair[1]), "--json", "--frames", "3"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n_frames_sampled"] == 3


def test_inspect_report_writes_the_case_report_and_the_json(demo_pair, tmp_path, capsys):
    out = tmp_path / "case.html"
    assert main(["inspect", str(demo_pair[1]), "--frames", "4", "--json", "--report", str(out)]) == 0
    printed = capsys.readouterr()
    data = json.loads(printed.out)
    assert str(out) in printed.err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and data["video"]["sha256"] in html
    assert "heat map over the face" in html and "Matplotlib v" in html
    assert f"{data['llr']:+.2f}" in html and data["llr_category"] in html
    assert html.count("<img") > 4  # the face crops (kept for the report) and the heat map


@pytest.mark.parametrize("where", ["missing-folder", "folder"])
def test_inspect_report_refuses_an_unwritable_path_before_analysing(demo_pair, tmp_path, capsys, where, monkeypatch):
    import detector.cli as cli

    target = tmp_path / "no" / "such" / "case.html" if where == "missing-folder" else tmp_path
    monkeypatch.setattr(cli, "analyze", lambda *a, **k: pytest.fail("analysed before checking the report path"))
    assert main(["inspect", str(demo_pair[0]), "--report", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the case report to") and len(err.strip().splitlines()) == 1

