import json
from pathlib import Path

import pandas as pd
import pytest

from detector.datasets import STANDARD_COLUMNS, normalize_label, read_manifest, write_manifest
from detector.layouts import (
    ADAPTERS,
    build_manifest,
    detect_layout,
    from_celebdf,
    from_dfdc,
    from_dftimit,
    from_ffpp,
    from_folders,
)


def touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x00\x00")


def by_name(df: pd.DataFrame) -> dict:
    return {Path(p).name: row for p, (_, row) in zip(df["abs_path"], df.iterrows())}


def test_normalize_label():
    assert [normalize_label(v) for v in ("REAL", "Genuine", "original", 0, "0", 0.0)] == ["real"] * 6
    assert [normalize_label(v) for v in ("Fake", "manipulated", "DeepFake", "spoof", 1, "1")] == [
        "fake"
    ] * 6
    assert normalize_label("maybe") is None and normalize_label(2) is None
    assert normalize_label(None) is None


# --------------------------------------------------------------------------
# read / write
# --------------------------------------------------------------------------


def test_read_manifest_resolves_and_reports(tmp_path):
    data = tmp_path / "data"
    touch(data, "a.mp4", "b.mp4", "sub/c.mp4")
    outside = tmp_path / "elsewhere" / "d.mp4"
    touch(outside.parent, "d.mp4")
    manifest = data / "manifest.csv"
    manifest.write_text(
        "path,label,method,notes\n"
        "a.mp4,real,,x\n"
        "sub/c.mp4,Manipulated,FaceSwap,y\n"
        f"{outside},1,,z\n"
        "missing.mp4,fake,,\n"
        "b.mp4,maybe,,\n"
        ",real,,\n"
    )
    df = read_manifest(manifest)
    assert list(df.columns[:7]) == STANDARD_COLUMNS + ["abs_path"]
    assert "notes" in df.columns
    assert df["abs_path"].tolist() == [str(data / "a.mp4"), str(data / "sub/c.mp4"), str(outside)]
    assert df["label"].tolist() == ["real", "fake", "fake"]
    assert df["group"].tolist() == ["a", "c", "d"]
    assert df["method"].tolist() == ["unknown", "FaceSwap", "unknown"]
    assert set(df["compression"]) == {"unknown"} and set(df["dataset"]) == {"unknown"}
    problems = df.attrs["problems"]
    assert [(p["row"], p["path"]) for p in problems] == [(3, "missing.mp4"), (4, "b.mp4"), (5, "")]
    assert problems[0]["reason"] == "file not found"
    assert "unknown label 'maybe'" in problems[1]["reason"]
    assert "empty path" in problems[2]["reason"]

    unchecked = read_manifest(manifest, check_files=False)
    assert len(unchecked) == 4 and len(unchecked.attrs["problems"]) == 2


def test_read_manifest_requires_columns(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("file,label\na.mp4,real\n")
    with pytest.raises(ValueError, match="lacks required column"):
        read_manifest(bad)
    with pytest.raises(ValueError, match="not found"):
        read_manifest(tmp_path / "nope.csv")


def test_write_manifest_round_trip(tmp_path):
    touch(tmp_path / "ds", "real/a.mp4", "fake/X/b.mp4")
    outside = tmp_path / "other" / "c.mp4"
    touch(outside.parent, "c.mp4")
    df = from_folders(tmp_path / "ds")
    df = pd.concat([df, df.iloc[[0]].assign(path=str(outside), abs_path=str(outside))])
    dest = write_manifest(df, tmp_path / "ds" / "manifest.csv")
    written = pd.read_csv(dest, dtype=str)
    assert list(written.columns) == STANDARD_COLUMNS
    assert written["path"].tolist() == ["fake/X/b.mp4", "real/a.mp4", str(outside)]
    back = read_manifest(dest)
    assert back["abs_path"].tolist() == df["abs_path"].tolist()
    assert back["method"].tolist() == ["X", "unknown", "X"]
    assert back.attrs["problems"] == []


# --------------------------------------------------------------------------
# adapters
# --------------------------------------------------------------------------


def test_ffpp_grouping(tmp_path):
    touch(
        tmp_path,
        "original_sequences/youtube/c23/videos/000.mp4",
        "original_sequences/youtube/c23/videos/003.mp4",
        "original_sequences/youtube/c23/videos/010.mp4",
        "original_sequences/youtube/c23/videos/005.mp4",
        "original_sequences/youtube/c40/videos/007.mp4",
        "original_sequences/actors/c23/videos/01__walk.mp4",
        "manipulated_sequences/Deepfakes/c23/videos/003_000.mp4",
        "manipulated_sequences/FaceSwap/c23/videos/010_003.mp4",
        "manipulated_sequences/Face2Face/c40/videos/007_005.mp4",
        "manipulated_sequences/Deepfakes/masks/videos/003_000.mp4",
        "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walk__ABC.mp4",
    )
    df = from_ffpp(tmp_path)
    assert len(df) == 10  # masks ignored
    assert (df["path"] == df["abs_path"]).all()
    rows = {(r.method, Path(r.path).stem): r for r in df.itertuples()}
    # 003_000 joins 000 and 003; 010_003 joins 010 too -> one component, smallest id 000
    for key in [
        ("original-youtube", "000"),
        ("original-youtube", "003"),
        ("original-youtube", "010"),
        ("Deepfakes", "003_000"),
        ("FaceSwap", "010_003"),
    ]:
        assert rows[key].group == "ffpp-000", key
    assert rows[("Face2Face", "007_005")].group == "ffpp-005"
    assert rows[("original-youtube", "007")].group == "ffpp-005"
    assert rows[("original-youtube", "005")].group == "ffpp-005"
    fake = rows[("FaceSwap", "010_003")]
    assert (fake.label, fake.compression, fake.dataset, fake.original_id) == (
        "fake",
        "c23",
        "ffpp",
        "010",
    )
    assert rows[("Face2Face", "007_005")].compression == "c40"
    assert rows[("original-youtube", "000")].label == "real"
    dfd = rows[("DeepFakeDetection", "01_02__walk__ABC")]
    assert dfd.group == rows[("original-actors", "01__walk")].group
    assert dfd.original_id == "01__walk"


def test_celebdf_groups_and_split(tmp_path):
    touch(
        tmp_path,
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0001.mp4",
        "Celeb-real/id2_0000.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "YouTube-real/00170.mp4",
        "YouTube-real/00171.mp4",
    )
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n1 Celeb-real/id9_0000.mp4\n"
    )
    df = from_celebdf(tmp_path)
    rows = by_name(df)
    assert rows["id0_0000.mp4"]["group"] == rows["id1_0001.mp4"]["group"] == "celebdf-id0"
    assert rows["id0_id1_0000.mp4"]["group"] == "celebdf-id0"
    assert rows["id2_0000.mp4"]["group"] == "celebdf-id2"
    assert rows["00170.mp4"]["group"] != rows["00171.mp4"]["group"]
    assert rows["id0_id1_0000.mp4"]["label"] == "fake"
    assert rows["id0_id1_0000.mp4"]["method"] == "celeb-synthesis"
    assert rows["id0_id1_0000.mp4"]["original_id"] == "id0_0000"
    assert rows["00171.mp4"]["method"] == "youtube-real"
    assert {n for n, r in rows.items() if r["split"] == "test"} == {"00170.mp4", "id0_id1_0000.mp4"}


def test_dfdc_metadata(tmp_path):
    part = tmp_path / "dfdc_train_part_0"
    touch(part, "aaa.mp4", "bbb.mp4", "ccc.mp4")
    meta = {
        "aaa.mp4": {"label": "REAL", "original": None, "split": "train"},
        "bbb.mp4": {"label": "FAKE", "original": "aaa.mp4", "split": "train"},
        "ccc.mp4": {"label": "FAKE", "original": "zzz.mp4", "split": "train"},
        "gone.mp4": {"label": "FAKE", "original": "aaa.mp4", "split": "train"},
    }
    (part / "metadata.json").write_text(json.dumps(meta))
    df = from_dfdc(tmp_path)
    rows = by_name(df)
    assert len(df) == 3
    assert rows["aaa.mp4"]["group"] == rows["bbb.mp4"]["group"] == "dfdc-aaa"
    assert rows["ccc.mp4"]["group"] == "dfdc-zzz"
    assert rows["aaa.mp4"]["label"] == "real" and rows["bbb.mp4"]["label"] == "fake"
    assert set(df["method"]) == {"dfdc"} and set(df["split"]) == {"train"}
    assert [p["reason"] for p in df.attrs["problems"]] == ["file not found"]


def test_dftimit(tmp_path):
    touch(
        tmp_path,
        "higher_quality/fadg0/sa1-video-fram1.avi",
        "higher_quality/fadg0/sa2-video-fram1.avi",
        "lower_quality/fadg0/sa1-video-fram1.avi",
        "lower_quality/mcem0/sa1-video-fram1.AVI",
    )
    df = from_dftimit(tmp_path)
    assert len(df) == 4 and set(df["label"]) == {"fake"}
    assert set(df["method"]) == {"deepfaketimit"}
    assert df.groupby("compression").size().to_dict() == {"hq": 2, "lq": 2}
    assert set(df["group"]) == {"dftimit-fadg0", "dftimit-mcem0"}

    touch(tmp_path, "real/fadg0/sa1.mp4")
    with_real = from_dftimit(tmp_path)
    real = with_real[with_real["label"] == "real"]
    assert real["group"].tolist() == ["dftimit-fadg0"]


def test_folders(tmp_path):
    touch(tmp_path, "Real/a.MP4", "real/notes.txt", "fake/FaceSwap/b.mov", "fake/c.webm")
    df = from_folders(tmp_path)
    rows = by_name(df)
    assert set(rows) == {"a.MP4", "b.mov", "c.webm"}
    assert rows["a.MP4"]["label"] == "real" and rows["a.MP4"]["group"] == "a"
    assert rows["b.mov"]["method"] == "FaceSwap" and rows["c.webm"]["method"] == "unknown"


@pytest.mark.parametrize(
    "files, layout",
    [
        (["original_sequences/youtube/c23/videos/000.mp4"], "ffpp"),
        (["Celeb-real/id0_0000.mp4"], "celebdf"),
        (["higher_quality/fadg0/a.avi", "real/fadg0/a.mp4"], "dftimit"),
        (["part0/x.mp4"], "dfdc"),
        (["real/a.mp4", "fake/b.mp4"], "folders"),
    ],
)
def test_auto_detection(tmp_path, files, layout):
    touch(tmp_path, *files)
    if layout == "dfdc":
        (tmp_path / "part0" / "metadata.json").write_text(
            json.dumps({"x.mp4": {"label": "REAL", "original": None}})
        )
    assert detect_layout(tmp_path) == layout
    df = build_manifest(tmp_path)
    assert len(df) == len(files)
    assert df.equals(ADAPTERS[layout](tmp_path))


def test_build_manifest_errors(tmp_path):
    touch(tmp_path, "misc/a.mp4")
    with pytest.raises(ValueError, match="cannot detect"):
        build_manifest(tmp_path)
    with pytest.raises(ValueError, match="unknown layout"):
        build_manifest(tmp_path, layout="nope")
    with pytest.raises(ValueError, match="not a directory"):
        build_manifest(tmp_path / "missing")
    with pytest.raises(ValueError, match="no FaceForensics"):
        from_ffpp(tmp_path)
