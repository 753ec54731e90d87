"""Start-up (issue 24): what ``import detector`` and ``inspect`` load, and the short list of
scikit-learn estimators skops is made to trust instead of importing them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
from detector.cli import main
rc = main(["inspect", "--json", "--frames", "3", sys.argv[2]])
loaded["inspect"] = sorted({m.split(".")[0] for m in sys.modules})
loaded["rc"] = rc
open(sys.argv[1], "w").write(json.dumps(loaded))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_import_and_inspect_load_no_streamlit_dask_or_plotly(demo_pair, tmp_path):
    out = tmp_path / "modules.json"
    r = _run(_PROBE, str(out), str(demo_pair[1]))
    assert r.returncode == 0, r.stderr
    loaded = json.loads(out.read_text())
    assert loaded["rc"] == 0 and json.loads(r.stdout)["n_frames_sampled"] == 3  # inspect really ran
    assert "skops" in loaded["inspect"] and "sklearn" in loaded["inspect"]  # ... with the model loaded
    for stage in ("import detector", "inspect"):
        assert not set(NOT_ON_CLI_PATH) & set(loaded[stage]), stage


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
