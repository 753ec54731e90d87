"""Bad inputs and crafted model folders: the fast subset of ``benchmarks/fuzz.py``.

Every crafted model folder is refused (or, for another valid model under the shipped name,
loaded as *not shipped*) and no code in it runs; every bad input ends ``inspect`` with exit
0 or one clean ``error:`` line, never a traceback, and nothing else on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from detector.analysis import analyze
from detector.cli import main
from detector.model import SHIPPED_SHA256, ModelError, load_model
from detector.scan import scan_file
from detector.decode import iter_frames
from detector.video import MAX_PIXELS, VideoError, probe, sha256_file

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import fuzz_corpus as fc  # noqa: E402


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> list[tuple[str, Path]]:
    return fc.make_model_folders(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[str, Path]]:
    return fc.make_corpus(tmp_path_factory.mktemp("corpus"), quick=True)


def test_every_crafted_model_folder_is_refused_and_runs_no_code(crafted):
    assert len(crafted) >= 10
    for kind, folder in crafted:
        expected = fc.MODEL_KINDS[kind][1]
        if expected == "refused":
            with pytest.raises(ModelError) as err:
                load_model(folder)
            assert "\n" not in str(err.value) and str(folder) in str(err.value), kind
        else:  # another valid model under the shipped name: loads, but is not a shipped model
            m = load_model(folder)
            assert (m.name, m.version) == ("default", load_model().version) and not m.shipped
        assert not (folder / fc.PWNED).exists(), f"{kind}: the model file ran code"


def test_untrusted_types_are_named_in_the_refusal(crafted):
    folder = dict(crafted)["exec_reduce"]
    with pytest.raises(ModelError, match=r"untrusted types.*builtins\.exec"):
        load_model(folder)


def test_an_edited_threshold_is_refused_even_with_a_valid_hash(crafted):
    folder = dict(crafted)["card_threshold_1000"]
    card = json.loads((folder / "card.json").read_text())
    assert card["model_sha256"] == sha256_file(folder / "model.skops")  # the hash still matches
    with pytest.raises(ModelError, match="disagrees with model.skops"):
        load_model(folder)


def test_shipped_models_are_the_fingerprinted_ones():
    for name, digest in SHIPPED_SHA256.items():
        m = load_model(REPO / "models" / name)
        assert m.sha256 == digest == sha256_file(REPO / "models" / name / "model.skops") and m.shipped


def _inspect(path: Path, capfd) -> tuple[int, str, str]:
    rc = main(["inspect", os.fsdecode(path), "--json", "--no-features", "--frames", "4"])
    out, err = capfd.readouterr()
    return rc, out, err


def test_no_bad_input_gives_a_traceback_or_noise(corpus, capfd):
    kinds = {k for k, _ in corpus}
    assert {"empty", "random", "truncated", "bitflip", "header", "huge", "odd_name", "special"} <= kinds
    for kind, path in corpus:
        rc, out, err = _inspect(path, capfd)
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note: ")]
        if rc == 0:
            assert json.loads(out)["video"]["sha256"], path
            assert lines == [], (path, lines)
        else:
            assert rc == 1 and len(lines) == 1 and lines[0].startswith("error: "), (kind, path, err)


def test_messages_name_the_problem(corpus):
    by_name = {p.name: p for _, p in corpus}
    cases = {"loop_a.mp4": "symlink loop", "fifo.mp4": r"not a regular file \(a FIFO", "empty.mp4": "empty file",
             "dev_zero.mp4": "character device", "png_70000x70000_header.png": "image too large",
             "h264_4200x4200.mp4": "frame too large", "random_100.mp4": "not a readable video"}
    for name, pattern in cases.items():
        with pytest.raises(VideoError, match=pattern):
            probe(by_name[name])


def test_pixel_budget_is_checked_before_decoding(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 64
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(fc.png_header_only(side, side))
    with pytest.raises(VideoError, match="too large"):
        list(iter_frames(bomb))


def test_a_renamed_video_is_read_as_the_video_it_is(corpus):
    by_name = {p.name: p for _, p in corpus}
    info = probe(by_name["real_mp4_as.png"])
    assert info.kind == "video" and info.frame_count > 1
    assert len(list(iter_frames(by_name["real_mp4_as.png"], 4))) == 4


def test_a_wrong_stated_length_still_yields_frames(corpus, tmp_path):
    avi = next(p for _, p in corpus if p.name == "real.avi")
    bad = tmp_path / "absurd.avi"
    bad.write_bytes(fc.avi_absurd_length(avi))
    assert probe(bad).frame_count >= 10**8
    assert len(list(iter_frames(bad, 6))) == 6


def test_the_runs_sampling_survives_every_bad_input(corpus, tmp_path):
    """sampling="runs" seeks: on every bad input it yields frames or raises VideoError, as the
    default does; a wrong stated length still yields frames."""
    for kind, path in corpus:
        try:
            frames = list(iter_frames(path, 4, follow=4, sampling="runs"))
        except VideoError:
            continue
        for f in frames:
            assert f.image.ndim == 3 and len(f.following) <= 4, (kind, path)
    avi = next(p for _, p in corpus if p.name == "real.avi")
    bad = tmp_path / "absurd.avi"
    bad.write_bytes(fc.avi_absurd_length(avi))
    assert len(list(iter_frames(bad, 6, sampling="runs"))) == 6


def test_a_damaged_clip_scores_the_same_in_inspect_and_in_a_scan_worker(corpus):
    flipped = [p for k, p in corpus if k == "bitflip"]
    model = load_model()
    for path in flipped:
        a = analyze(path, model=model, n_frames=8, families="model")
        row = scan_file(str(path), n_frames=8, model=model)
        assert row["status"] == "done"
        if a.score is None:
            assert row["score"] is None
        else:
            assert row["score"] == pytest.approx(a.score, abs=1e-9)


def test_verbose_lets_library_warnings_through(corpus, capfd):
    cut = next(p for k, p in corpus if k == "truncated" and p.suffix == ".png" and "cut8." not in p.name)
    assert main(["inspect", str(cut), "--json"]) == 1
    quiet = capfd.readouterr().err
    assert quiet.count("\n") == 1 and quiet.startswith("error: not a readable image")
    assert main(["--verbose", "inspect", str(cut), "--json"]) == 1
    verbose = capfd.readouterr().err
    assert "libpng" in verbose and verbose.rstrip().endswith(quiet.strip())
