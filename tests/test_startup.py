"""Start-up (issue 24): what ``import detector`` and ``inspect`` load, and the short list of
scikit-learn estimators skops is made to trust instead of importing them all."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.trust import SKLEARN_TYPES, TRUSTED_TYPES

REPO = Path(__file__).resolve().parents[1]
#: Never on the CLI's path: the dashboard's, the batch scanner's cluster and their plots.
NOT_ON_CLI_PATH = ("streamlit", "dask", "plotly")

#: Run in a fresh interpreter: the top-level packages loaded by ``import detector``, then by the
#: inspect command on argv[2] (with the shipped model), written as JSON to argv[1].
_PROBE = """
import json, sys
import detector
loaded = {"import detector": sorted({m.split(".")[0] for m in sys.modules})}
import detector.cli
detector.cli.default_workers = lambda: int(sys.argv[3])  # cores: 2 loads the model in a scoring process
rc = detector.cli.main(["inspect", "--json", "--frames", "3", sys.argv[2]])
loaded["inspect"] = sorted({m.split(".")[0] for m in sys.modules})
loaded["rc"] = rc
open(sys.argv[1], "w").write(json.dumps(loaded))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("cores", [1, 2])
def test_import_and_inspect_load_no_streamlit_dask_or_plotly(demo_pair, tmp_path, cores):
    out = tmp_path / "modules.json"
    r = _run(_PROBE, str(out), str(demo_pair[1]), str(cores))
    assert r.returncode == 0, r.stderr
    loaded = json.loads(out.read_text())
    assert loaded["rc"] == 0 and json.loads(r.stdout)["n_frames_sampled"] == 3  # inspect really ran
    assert json.loads(r.stdout)["model"]["name"] == "default"  # ... with the model loaded
    # ... in this process on one core, in the scoring process (no scikit-learn here) on two
    assert ("skops" in loaded["inspect"] and "sklearn" in loaded["inspect"]) == (cores == 1)
    for stage in ("import detector", "inspect"):
        assert not set(NOT_ON_CLI_PATH) & set(loaded[stage]), stage


def test_the_cli_loads_no_scipy_or_parquet_writer_before_a_command_runs():
    # scikit-image's LBP module loads scipy.linalg (~0.1 s) and pyarrow.parquet serves `extract` only:
    # both are imported by the code that uses them
    r = _run("import sys, detector.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy' "
             "or m in ('pyarrow.parquet', 'skimage.feature._texture', 'lir')))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_trusted_sklearn_types_cover_every_pipeline_train_makes():
    from detector.search import DESIGN_SEARCHES, make_pipeline

    cols = [f"block_c{i}__mean" for i in range(4)]
    for search in DESIGN_SEARCHES:
        names = {f"{type(step).__module__}.{type(step).__qualname__}" for _, step in make_pipeline(cols, search).steps}
        names.add("sklearn.pipeline.Pipeline")
        assert names <= SKLEARN_TYPES | TRUSTED_TYPES, (search, names - SKLEARN_TYPES - TRUSTED_TYPES)


_OTHER_ESTIMATOR = """
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from detector.model import DetectorModel, ModelError, load_model, save_model
x = np.random.default_rng(0).normal(size=(20, 2))
pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(x, np.arange(20) % 2)
save_model(DetectorModel(pipe, ["a", "b"], name="other"), sys.argv[1])
assert "sklearn.ensemble" not in sys.modules  # skops did not import every estimator
try:
    load_model(sys.argv[1])
except ModelError as e:
    print(e)
"""


def test_a_scikit_learn_estimator_train_never_makes_is_refused(tmp_path):
    """In a fresh process (skops lists its trusted estimators once, when first imported)."""
    r = _run(_OTHER_ESTIMATOR, str(tmp_path / "other"))
    assert r.returncode == 0, r.stderr
    assert "untrusted types" in r.stdout and "sklearn.linear_model._logistic.LogisticRegression" in r.stdout


#: Run in a fresh interpreter: what the CLI loads before ``inspect`` loads its model.
_CLI_IMPORTS = """
import json, sys
import detector.cli
detector.cli.build_parser().parse_args(["inspect", "clip.mp4"])
print(json.dumps(sorted(sys.modules)))
"""
#: Heavy modules of the other commands and of the model file, never imported before ``inspect`` loads its model.
NOT_BEFORE_THE_MODEL = ("sklearn", "scipy.stats", "skops", "detector.training", "detector.evaluation",
                        "detector.metrics", "detector.search", "detector.report", *NOT_ON_CLI_PATH)


def test_the_cli_imports_no_scikit_learn_before_the_model_loads():
    r = _run(_CLI_IMPORTS)
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout))
    assert not loaded & set(NOT_BEFORE_THE_MODEL), loaded & set(NOT_BEFORE_THE_MODEL)


def test_inspect_loads_none_of_the_training_modules(demo_pair, tmp_path):
    """The model's own modules come with it (scikit-learn's, sklearn.metrics among them), the other
    commands' do not."""
    out = tmp_path / "modules.json"
    probe = _PROBE.replace('{m.split(".")[0] for m in sys.modules}', "set(sys.modules)")
    assert probe != _PROBE
    r = _run(probe, str(out), str(demo_pair[1]), "1")
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(out.read_text())["inspect"])
    assert "skops.io" in loaded and "detector.preload" in loaded
    assert not loaded & {"detector.training", "detector.evaluation", "detector.metrics", "detector.report",
                         "detector.search", "detector.synthesis"}  # synthesis: only the opt-in lmk family's reference


def _edited_default(tmp_path) -> Path:
    """A copy of the shipped model whose card's threshold was edited: its files and SHA-256 pass the
    checks made at once, its model file is refused in the background (the card disagrees with it)."""
    folder = tmp_path / "edited"
    shutil.copytree(REPO / "models" / "default", folder)
    card = json.loads((folder / "card.json").read_text())
    card["threshold"] += 0.5
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize("cores", [1, 2])  # inspect loads the model in the background with a second core
def test_a_model_refused_in_the_background_is_the_same_error(demo_pair, tmp_path, capsys, monkeypatch, cores):
    import detector.cli as cli
    from detector.cli import main
    from detector.model import ModelError, load_model
    from detector.preload import load_model_in_background

    folder = _edited_default(tmp_path)
    with pytest.raises(ModelError, match="disagrees") as direct:
        load_model(folder)
    pending = load_model_in_background(folder)  # the card's checks pass at once
    assert pending.families == ("block",) and pending.sampling == load_model().sampling
    with pytest.raises(ModelError) as later:
        pending.result()
    assert pending.failed and str(later.value) == str(direct.value)
    monkeypatch.setattr(cli, "default_workers", lambda: cores)
    assert main(["inspect", str(demo_pair[1]), "--frames", "3", "--model", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {direct.value}\n"


@pytest.mark.parametrize("cores", [1, 2])
def test_a_refused_default_model_gives_the_note_and_every_family(demo_pair, tmp_path, capsys, monkeypatch, cores):
    import detector.cli as cli
    from detector import model as M
    from detector.cli import main
    from detector.features import FAMILIES, family_of

    monkeypatch.setattr(M, "DEFAULT_MODEL_DIR", _edited_default(tmp_path))
    monkeypatch.setattr(cli, "default_workers", lambda: cores)
    assert main(["inspect", str(demo_pair[1]), "--frames", "3", "--json"]) == 0
    cap = capsys.readouterr()
    assert "note: no model loaded (model card" in cap.err and "disagrees" in cap.err
    out = json.loads(cap.out)
    assert out["model"] is None and out["verdict"] == "unscored"
    assert {family_of(c) for c in out["frames"][0]["faces"][0]["features"]} == set(FAMILIES)


def test_a_refused_model_file_comes_before_an_undecodable_video(bad_files, tmp_path):
    """As when the model was loaded before the analysis."""
    from detector.analysis import analyze
    from detector.model import ModelError
    from detector.preload import load_model_in_background

    with pytest.raises(ModelError, match="disagrees"):
        analyze(bad_files["truncated"], model=load_model_in_background(_edited_default(tmp_path)), n_frames=3)


def test_a_pipeline_that_drops_families_is_measured_with_those_it_reads(demo_pair, tmp_path):
    """The card names hf and noise columns, the pipeline reads hf only: the background-loaded
    model gives the table and score of the model loaded before."""
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from detector.analysis import analyze
    from detector.estimators import StatSelector
    from detector.model import DetectorModel, load_model, save_model
    from detector.preload import load_model_in_background

    cols = ["hf_inner_outer__mean", "noise_inner_outer__mean"]
    x = np.random.default_rng(0).normal(size=(40, 2))
    pipe = Pipeline([("stats", StatSelector(columns=cols, families=("hf",))), ("svm", SVC())]).fit(x, x[:, 0] > 0)
    save_model(DetectorModel(pipe, cols, name="hf-only"), tmp_path / "m")
    pending = load_model_in_background(tmp_path / "m")
    assert pending.families == ("hf", "noise") and load_model(tmp_path / "m").families == ("hf",)
    before = analyze(demo_pair[1], model=load_model(tmp_path / "m"), n_frames=3, families="model")
    after = analyze(demo_pair[1], model=pending, n_frames=3, families="model", decode_ahead=True)
    assert list(after.table.columns) == list(before.table.columns)
    assert after.score == before.score and after.score is not None


def test_inspect_gives_the_same_json_on_one_core_and_two(demo_pair, capsys, monkeypatch):
    """Two cores: the model loads in the background and frames are decoded ahead; one: neither."""
    import detector.cli as cli

    outs = []
    for n in (1, 2):
        monkeypatch.setattr(cli, "default_workers", lambda: n)
        assert cli.main(["inspect", str(demo_pair[1]), "--json", "--frames", "4"]) == 0
        out = json.loads(capsys.readouterr().out)
        outs.append({k: v for k, v in out.items() if k not in ("timings_s", "analysed_at")})
    assert outs[0] == outs[1] and outs[0]["score"] is not None


def test_decoding_ahead_gives_the_same_analysis(demo_pair):
    from detector.analysis import analyze

    a, b = (analyze(demo_pair[0], n_frames=4, decode_ahead=ahead) for ahead in (False, True))
    assert a.frame_indices == b.frame_indices
    pd.testing.assert_frame_equal(a.table, b.table)


def test_decoding_ahead_raises_in_order_and_stops_with_its_caller():
    from detector.analysis import _ahead
    from detector.video import VideoError

    def frames():
        yield 1
        yield 2
        raise VideoError("broken")

    got = []
    with pytest.raises(VideoError, match="broken"):
        for f in _ahead(frames()):
            got.append(f)
    assert got == [1, 2]
    n_threads = threading.active_count()
    endless = _ahead(i for i in itertools.count())
    assert next(endless) == 0 and threading.active_count() == n_threads + 1
    endless.close()  # the thread stops after the item it is producing
    assert threading.active_count() == n_threads


def test_the_stage_timings_of_a_serial_analysis_add_up_to_its_wall_time(demo_pair):
    """Without decoding ahead, each stage is timed once: decode, faces and features (found in
    the same ``next()`` as the frame) add up to no more than the analysis's wall time."""
    from detector.analysis import analyze

    t = time.perf_counter()
    a = analyze(demo_pair[0], n_frames=6)
    wall = time.perf_counter() - t
    assert a.timings["faces"] > 0 and a.timings["decode"] > 0
    assert a.timings["total"] <= wall


def test_a_failure_while_measuring_ahead_is_raised_as_itself(demo_pair, monkeypatch):
    """When measuring a frame fails while the decode-ahead thread is decoding the next one, the
    caller gets that error, the thread is stopped before the decoder is closed (closing a
    generator another thread is running raises 'generator already executing'), and no thread
    is left."""
    import detector.analysis as analysis

    decode = analysis.iter_frames

    def slow_frames(*args, **kwargs):
        for k, frame in enumerate(decode(*args, **kwargs)):
            if k:
                time.sleep(0.5)  # decoding the next frame while the first one is measured
            yield frame

    def failing(*args, **kwargs):
        time.sleep(0.1)  # the thread is inside the decoder by now
        raise RuntimeError("measuring failed")

    monkeypatch.setattr(analysis, "iter_frames", slow_frames)
    monkeypatch.setattr(analysis, "face_features", failing)
    n_threads = threading.active_count()
    with pytest.raises(RuntimeError, match="measuring failed") as e:
        analysis.analyze(demo_pair[0], n_frames=4, decode_ahead=True)
    assert e.value.__context__ is None and threading.active_count() == n_threads


def test_the_launcher_and_the_scoring_process_load_none_of_the_analysis():
    """The launcher starts inspect's scoring process before the CLI's imports; the child itself needs
    only scikit-learn and skops (checked in a fresh interpreter, as the child is)."""
    heavy = ("cv2", "av", "detector.analysis", "detector.features", "skimage", *NOT_ON_CLI_PATH)
    r = _run("import json, sys, detector.launch; print(json.dumps(sorted(sys.modules)))")
    assert r.returncode == 0, r.stderr
    assert not set(json.loads(r.stdout)) & {*heavy, "pandas", "sklearn", "numpy"}  # the child starts at once
    r = _run("import json, sys; from pathlib import Path; from detector.trust import load_bundle, DEFAULT_MODEL_DIR; "
             "load_bundle(DEFAULT_MODEL_DIR / 'model.skops'); print(json.dumps(sorted(sys.modules)))")
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout))
    assert "detector.estimators" in loaded and not loaded & set(heavy)
