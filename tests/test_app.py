"""The dashboard: every page through Streamlit's AppTest, and the helpers behind it.

A small model is trained in a session fixture on the synthetic demo pair (built once per
test session under pytest's base temp folder, shared with test_report and test_browser),
with a synthetic stored evaluation; the pages find it through ``DEEPFAKE_MODEL_DIR``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import demo, scan
from detector.dashboard import (batch, evaluation_store, explain, figures, models, roots, scan_jobs, texts, uploads,
                                video_view)
from detector.metrics import cllr
from detector.model import DEFAULT_MODEL_DIR, EVALUATION_DIR

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
INSPECT, EVALUATION, BATCH = "pages/1_Inspect_a_video.py", "pages/2_Evaluation.py", "pages/3_Batch_results.py"
N_FRAMES = 8  # frames sampled by the tests (the pages default to 16)
TIMEOUT = 120


# ----------------------------------------------------------------------------- fixtures

def build_app_model(folder: Path, clips: tuple[Path, Path], evaluation: bool = True) -> Path:
    """Train a throwaway SVM on the demo pair (aggregates of random frame subsets) and
    write it, with a synthetic stored evaluation, to ``folder`` (once: reused if present)."""
    if (folder / "card.json").exists():
        return folder
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from detector.analysis import analyze
    from detector.features import aggregate
    from detector.model import DetectorModel, save_model

    rng = np.random.default_rng(0)
    rows, labels = [], []
    for clip, label in zip(clips, (0, 1)):
        table = analyze(clip, None, n_frames=N_FRAMES).table.sort_values("frame").reset_index(drop=True)
        for _ in range(25):
            k = int(rng.integers(1, len(table) + 1))
            rows.append(aggregate(table.iloc[np.sort(rng.choice(len(table), k, replace=False))]))
            labels.append(label)
    x = pd.DataFrame(rows)
    # an imputer like every trained model: a still image has no next frame, so no flicker values
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("svm", SVC(kernel="rbf", gamma="scale"))])
    pipe.fit(x.to_numpy(float), labels)
    card = {"description": "test model trained on the synthetic demo pair",
            "training": {"manifest": "demo pair (tests)", "counts": {"real": labels.count(0), "fake": labels.count(1)}},
            "frames": {"training": 32, "evaluation": 16}}
    save_model(DetectorModel(pipe, list(x.columns), 0.0, "testmodel", "0.0-test"), folder, card=card)
    if evaluation:
        write_evaluation(folder / EVALUATION_DIR)
    return folder


def write_evaluation(folder: Path, seed: int = 0) -> Path:
    """A stored evaluation in the layout the training stage writes (synthetic scores)."""
    rng = np.random.default_rng(seed)
    shift = {"Deepfakes": 2.0, "FaceSwap": 1.5, "NeuralTextures": 0.7}
    rows = []
    for g in range(40):
        comp = ("c23", "c40")[g % 2]
        rows.append({"path": f"real/{g}.mp4", "label": "real", "method": "original", "compression": comp,
                     "group": f"g{g}", "fold": g % 5, "score": rng.normal(-1, 0.7)})
        for m, d in shift.items():
            rows.append({"path": f"{m}/{g}.mp4", "label": "fake", "method": m, "compression": comp,
                         "group": f"g{g}", "fold": g % 5, "score": rng.normal(-1 + d, 0.8)})
    df = pd.DataFrame(rows)
    df["verdict"] = np.where(df["score"] >= 0, "fake", "real")
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "scores.csv", index=False)
    frames = df.loc[df.index.repeat(3), ["path", "label", "method", "compression"]].assign(
        frame=np.tile([0, 10, 20], len(df)), score=np.repeat(df["score"].to_numpy(), 3) + rng.normal(0, 0.5, 3 * len(df)))
    frames.to_csv(folder / "frame_scores.csv", index=False)
    metrics = {"convention": "higher = more fake", "threshold": 0.0,
               "video": {"auc": 0.9, "auc_ci": [0.85, 0.95], "eer": 0.2, "far": 0.3, "frr": 0.1, "hter": 0.2},
               "video_deployed_rule": {"overall": {"auc": 0.91, "eer": 0.19}, "n_videos_differing": 3}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest leaves ``sys.modules["__main__"]`` set to the app script; restore it, or
    later tests that spawn processes (multiprocessing re-imports ``__main__`` in the
    child) would run the Streamlit app in every child."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def app_model(tmp_path_factory, demo_pair) -> Path:
    """The test model folder (with its stored evaluation)."""
    return build_app_model(tmp_path_factory.getbasetemp() / "app-model", demo_pair)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory, demo_pair) -> Path:
    """The demo clips where the Inspect page looks for them (no generation in tests)."""
    folder = tmp_path_factory.getbasetemp() / "app-demo"
    demo.install_demo_clips(*demo_pair, folder=folder)
    return folder


@pytest.fixture
def app_env(monkeypatch, tmp_path, app_model, demo_folder):
    """Point the dashboard at the test model and demo clips, a fresh state folder and no scan roots."""
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(app_model))
    monkeypatch.setenv(demo.DEMO_DIR_ENV, str(demo_folder))
    monkeypatch.setenv(roots.STATE_DIR_ENV, str(tmp_path / "state"))
    monkeypatch.delenv(roots.SCAN_ROOTS_ENV, raising=False)
    return app_model


def open_page(page: str | None = None):
    """An AppTest of the app, run once on Home, then on ``page``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def inspect_demo(at, which: str = "fake"):
    """Select a demo clip on the Inspect page with few frames."""
    at.sidebar.slider(key="n_frames").set_value(N_FRAMES)
    at.radio(key="source").set_value(demo.LABELS[which]).run()
    assert not at.exception, at.exception
    return at


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def texts_of(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


# ----------------------------------------------------------------------------- Home

def test_home_shows_the_model_and_links(app_env):
    at = open_page()
    assert metric(at, "Model") == "testmodel"
    assert metric(at, "ROC AUC") == "0.900"  # headline from the stored metrics.json
    assert "demo pair (tests)" in texts_of(at.markdown)
    links = [e for e in at.get("page_link")]
    assert len(links) >= 7  # sidebar navigation + the three page links


def test_sidebar_model_picker_switches_model_on_every_page(app_env):
    """The shipped model folders are offered next to the one in $DEEPFAKE_MODEL_DIR; the
    choice holds when another page is opened."""
    at = open_page()
    picker = at.sidebar.selectbox(key="_model_picker")
    shipped = str(DEFAULT_MODEL_DIR)
    assert picker.value == str(app_env) and models.model_choice_label(shipped) in picker.options
    assert "Not a shipped model" in texts_of(at.sidebar.caption)  # the test model's fingerprint is unknown
    picker.set_value(shipped).run()
    assert not at.exception, at.exception
    assert metric(at, "Model") == "default"
    at.switch_page("pages/2_Evaluation.py").run()
    assert not at.exception, at.exception
    assert "default · version" in texts_of(at.sidebar.caption)
    assert "Shipped model · SHA-256" in texts_of(at.sidebar.caption)


def test_model_choices_list_card_folders_after_the_current_one(monkeypatch, tmp_path, app_model):
    for name in ("b", "a", "empty"):
        (tmp_path / name).mkdir()
    for name in ("a", "b"):
        (tmp_path / name / "card.json").write_text('{"version": "3", "augmentation": {"n_copies": 1}}')
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(app_model))
    assert models.model_choices(tmp_path) == [app_model, tmp_path / "a", tmp_path / "b"]
    assert models.model_choice_label(tmp_path / "a") == "a · v3 · +re-encoded"
    assert models.model_choice_label(tmp_path / "empty") == "empty"
    monkeypatch.delenv(models.MODEL_DIR_ENV)
    assert models.model_choices(tmp_path)[0] == DEFAULT_MODEL_DIR


def test_home_quotes_the_figures_of_the_model_cards(monkeypatch, tmp_path, app_model, demo_folder):
    """The Home page's measured AUCs (original files, re-encoded copies) come from the offered
    model folders' metrics.json and card: change a card and the page says the new figure."""
    import shutil

    folder = tmp_path / "augmented"
    shutil.copytree(app_model, folder)
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    home = lambda: texts_of(open_page().markdown)  # noqa: E731
    assert "**augmented** (v0.0-test): AUC 0.90 on the original files (FRR 10.0 % at its threshold), " \
           "re-encoded copies not measured in its card" in home()

    cpath = folder / "card.json"
    card = json.loads(cpath.read_text())
    card["augmentation"] = {"conditions": {"crf28": {}}}
    card["metrics"] = {"video": {"auc": 0.9}, "degraded_copies": {"crf28": {"auc": 0.333}}}
    cpath.write_text(json.dumps(card))
    text = home()
    assert "trained with re-encoded copies too" in text and "AUC 0.33 (re-encoded, CRF 28)" in text

    card["metrics"]["degraded_copies"]["crf28"]["auc"] = 0.444
    cpath.write_text(json.dumps(card))
    mpath = folder / EVALUATION_DIR / "metrics.json"
    metrics = json.loads(mpath.read_text())
    metrics["video"]["auc"] = 0.777
    mpath.write_text(json.dumps(metrics))
    text = home()
    assert "AUC 0.78 on the original files" in text and "AUC 0.44 (re-encoded, CRF 28)" in text
    assert "0.33" not in text and "0.90 on the original" not in text
    shipped = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())
    assert f"**default** (v{shipped['version']}" in text  # the shipped model, offered in the picker


def test_home_without_model_says_so(monkeypatch, tmp_path, demo_folder):
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path / "nothing"))
    at = open_page()
    assert "No model found" in texts_of(at.warning)


# ----------------------------------------------------------------------------- Inspect

def test_inspect_demo_fake_shows_verdict_plots_and_report(app_env):
    at = inspect_demo(open_page(INSPECT), "fake")
    verdicts = texts_of(at.error) + texts_of(at.success)
    assert "Verdict:" in verdicts
    assert "synthetic" in texts_of(at.info).lower()  # the demo is labelled as synthetic
    assert len(at.get("plotly_chart")) >= 4  # gauge, per-frame score, family, contributions
    assert metric(at, "Threshold") == "+0.000"
    assert "FAR at threshold" in [m.label for m in at.metric]
    assert texts.RATES_CAVEAT in texts_of(at.caption)  # shown with the rates
    assert any(d.label.startswith("Download the case report") for d in at.get("download_button"))
    assert "Towards **fake**" in texts_of(at.markdown)
    # the heat map over the face, next to the family bars, with its region table and what it is scaled against
    heat_map = [i for i in at.get("image") if i.captions == ["Where the cues the model read sit"]]
    assert len(heat_map) == 1 and heat_map[0].value[0]
    heat = texts_of(at.caption)
    assert "Colour: how far each region's measurements sit from those of genuine videos" in heat
    assert "no genuine_reference.json" in heat  # the test model has none: the scaler's reference, said so
    assert any("unlike genuine (rms z)" in df.value.columns for df in at.dataframe)
    # another family re-plots without re-analysing
    at.selectbox(key="family").set_value("noise").run()
    assert not at.exception


def test_second_look_is_served_from_the_cache(app_env, monkeypatch):
    at = inspect_demo(open_page(INSPECT), "real")
    calls = []
    real_run = uploads.run_analysis
    monkeypatch.setattr(uploads, "run_analysis", lambda *a, **k: calls.append(1) or real_run(*a, **k))
    again = inspect_demo(open_page(INSPECT), "real")  # a new session, same file
    assert calls == []
    for a in (at, again):  # both show the verdict, the second without an error
        assert "Verdict:" in texts_of(a.success) + texts_of(a.error) + texts_of(a.warning)
        assert "failed" not in texts_of(a.error)


def test_the_analysis_store_keeps_the_last_entries_and_hands_out_copies():
    """The dashboard's store of analyses: least recently used first out; each get is a copy
    (a page that changes its analysis changes no other session's)."""
    from types import SimpleNamespace

    store = uploads.AnalysisStore(max_entries=2)
    for k in "abc":
        store.put((k,), SimpleNamespace(name=k, table=pd.DataFrame({"x": [1.0]})))
    assert len(store) == 2 and store.get(("a",)) is None
    one = store.get(("b",))
    one.table.loc[0, "x"] = 99.0
    assert store.get(("b",)).table.loc[0, "x"] == 1.0 and store.get(("b",)) is not one
    store.put(("d",), SimpleNamespace(name="d"))  # "c" is now the least recently used
    assert store.get(("c",)) is None and store.get(("b",)).name == "b"


def test_bad_upload_shows_its_message(app_env):
    at = open_page(INSPECT)
    at.file_uploader(key="upload").upload("evidence.mp4", b"this is not a video\n" * 50, "video/mp4").run()
    assert not at.exception
    assert "Cannot analyse evidence.mp4: not a readable video" in texts_of(at.error)
    assert "Errno" not in texts_of(at.error)


def test_upload_above_the_limit_is_refused_with_a_message(app_env, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UPLOAD_MB", 1)
    at = open_page(INSPECT)
    assert "Size limit: **1 MB**" in texts_of(at.caption)
    at.file_uploader(key="upload").upload("big.mp4", b"\0" * (1024 * 1024 + 1), "video/mp4").run()
    assert not at.exception
    assert "above the 1 MB upload limit" in texts_of(at.error)


def test_upload_without_a_face_says_there_is_nothing_to_judge(app_env, bad_files):
    at = open_page(INSPECT)
    at.sidebar.slider(key="n_frames").set_value(4)
    at.file_uploader(key="upload").upload("noface.mp4", bad_files["noface"].read_bytes(), "video/mp4").run()
    assert not at.exception
    assert "NO FACE" in texts_of(at.warning)


def test_uploaded_image_is_judged_like_a_one_frame_video(app_env, bad_files):
    at = open_page(INSPECT)
    at.file_uploader(key="upload").upload("face.png", bad_files["image"].read_bytes(), "image/png").run()
    assert not at.exception
    assert "Verdict:" in texts_of(at.error) + texts_of(at.success) + texts_of(at.warning)
    assert "face.png" in str(at.dataframe[0].value["value"].tolist())


def test_inspect_without_model_shows_faces_and_features(monkeypatch, tmp_path, demo_folder):
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path / "nothing"))
    monkeypatch.setenv(demo.DEMO_DIR_ENV, str(demo_folder))
    at = inspect_demo(open_page(INSPECT), "fake")
    assert "No model found" in texts_of(at.info)
    assert "UNSCORED" in texts_of(at.info)
    assert len(at.get("plotly_chart")) == 1  # the feature family plot; no score, no explanation
    captions = [c for img in at.image for c in img.captions]
    assert captions and all(c.startswith("frame ") for c in captions)  # the face gallery, no scores


# ----------------------------------------------------------------------------- Evaluation

def test_evaluation_slider_changes_far_and_frr(app_env):
    at = open_page(EVALUATION)
    assert not at.error
    assert "APCER" in texts_of(at.markdown)  # the convention is spelled out
    assert "ROC AUC 0.910, EER 19.0 %" in texts_of(at.caption) and "3 videos change" in texts_of(at.caption)
    assert "trained on 32 sampled frames per video, evaluated at 16" in texts_of(at.caption)
    assert texts.RATES_CAVEAT in texts_of(at.caption)  # where the rates stop holding
    assert len(at.get("plotly_chart")) >= 5  # confusion, FAR/FRR, ROC, DET, class balance
    far0, frr0 = metric(at, "FAR = APCER"), metric(at, "FRR = BPCER")
    ev = evaluation_store.load_evaluation(app_env)
    assert far0 == texts.fmt_pct(evaluation_store.operating_point(ev, 0.0)["far"])

    at.slider(key="threshold").set_value(1.5).run()
    assert not at.exception
    op = evaluation_store.operating_point(ev, 1.5)
    assert metric(at, "FAR = APCER") == texts.fmt_pct(op["far"]) != far0
    assert metric(at, "FRR = BPCER") == texts.fmt_pct(op["frr"]) != frr0
    assert metric(at, "HTER") == texts.fmt_pct(op["hter"])
    assert {d.label for d in at.get("download_button")} >= {"Export this table (CSV)"}


def chart_titles(at) -> list[str]:
    return [json.loads(c.proto.spec).get("layout", {}).get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_evaluation_operating_point_control_and_tpr_table(app_env):
    at = open_page(EVALUATION)
    ev = evaluation_store.load_evaluation(app_env)
    # the test model's stored scores have no LRs: no plot, no error, no condition selector
    assert "Tippett plot" not in chart_titles(at) and "ECE plot" not in chart_titles(at)
    assert not [s for s in at.selectbox if s.key == "lr_condition"]
    assert at.radio(key="target").value == "flag at most X % of genuine videos"
    for target, percent, rate in (("flag at most X % of genuine videos", 5.0, "frr"),
                                  ("miss at most X % of fakes", 10.0, "far")):
        at.radio(key="target").set_value(target)
        at.number_input(key="target_percent").set_value(percent).run()
        assert not at.exception, at.exception
        t = evaluation_store.chosen_threshold(ev, rate, percent)
        op = evaluation_store.operating_point(ev, t)
        assert metric(at, "Threshold") == f"{t:+.4f}"
        assert op[rate] <= percent / 100 and metric(at, f"{rate.upper()} at it") == texts.fmt_pct(op[rate])
    # FRR 5 % of 40 genuine videos: at most 2 flagged, at the lowest such threshold
    t5 = evaluation_store.chosen_threshold(ev, "frr", 5)
    real = np.sort(ev.s[ev.y == 0])
    assert real[-3] < t5 <= real[-2] and (ev.s[ev.y == 0] >= t5).sum() == 2
    table = next(d.value for d in at.dataframe if "Fakes flagged (TPR)" in d.value.columns)
    assert list(table["Genuine videos flagged (FPR) at most"]) == [0.01, 0.05, 0.10]
    for f, tpr, thr in table.itertuples(index=False):
        assert (ev.s[ev.y == 0] >= thr).mean() <= f and tpr == pytest.approx((ev.s[ev.y == 1] >= thr).mean())


def test_tippett_plot_of_stored_likelihood_ratios(monkeypatch, tmp_path, app_model, demo_folder):
    import shutil

    folder = tmp_path / "with-llr"
    shutil.copytree(app_model, folder)
    path = folder / EVALUATION_DIR / "scores.csv"
    df = pd.read_csv(path)
    df["llr"] = 0.8 * df["score"]
    df.loc[0, "llr"] = np.nan  # a video without an LR is left out
    df.to_csv(path, index=False)
    ev = evaluation_store.load_evaluation(folder)
    curves = evaluation_store.tippett_curves(ev)
    fake = np.sort(df.loc[(df["label"] == "fake") & df["llr"].notna(), "llr"].to_numpy())
    x, p = curves["fake"]
    assert np.array_equal(x, fake) and p[0] == 1.0 and p[-1] == pytest.approx(1 / len(fake))
    k = len(fake) // 2  # the share of fakes at or above the k-th smallest
    assert p[k] == pytest.approx((fake >= fake[k]).mean())
    assert len(curves["real"][0]) == 40 - 1  # row 0 is genuine
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    assert "Tippett plot" in chart_titles(at) and "ECE plot" in chart_titles(at)
    ece = evaluation_store.ece_curves(ev)
    y, llr = evaluation_store.labelled_llrs(ev)
    assert len(y) == len(df) - 1 and ece["ece"][ece["prior_log10_odds"] == 0].iloc[0] == pytest.approx(cllr(y, llr))


def _condition_scores(seed: int = 0) -> pd.DataFrame:
    """Per-condition out-of-fold scores as ``generalization.py --into`` writes them."""
    rng = np.random.default_rng(seed)
    rows = []
    for cond, sep in (("original", 1.5), ("crf23", 0.3), ("lomo:FaceSwap", 1.0)):
        for i in range(30):
            label = ("real", "fake")[i % 2]
            score = rng.normal(sep * (i % 2), 0.8)
            rows.append({"condition": cond, "label": label, "score": score, "llr": 0.6 * score - 0.3,
                         "fold": i % 5, "seed": 0, "path": f"v/{i}.mp4", "method": "x"})
    return pd.DataFrame(rows)


def test_evaluation_page_draws_tippett_and_ece_per_condition(monkeypatch, tmp_path, app_model, demo_folder):
    import shutil

    from detector.model import CONDITION_SCORES_FILE

    folder = tmp_path / "per-condition"
    shutil.copytree(app_model, folder)
    scores = _condition_scores()
    scores.to_csv(folder / EVALUATION_DIR / CONDITION_SCORES_FILE, index=False)
    ev = evaluation_store.load_evaluation(folder)
    assert evaluation_store.condition_choices(ev) == ["original", "crf23", "lomo:FaceSwap"]
    d = scores[scores["condition"] == "crf23"]
    x, p = evaluation_store.tippett_curves(ev, "crf23")["fake"]
    assert np.array_equal(x, np.sort(d.loc[d["label"] == "fake", "llr"]))
    e = evaluation_store.ece_curves(ev, "crf23")
    assert e["ece"][e["prior_log10_odds"] == 0].iloc[0] == pytest.approx(cllr(d["label"], d["llr"]))
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    assert "Under each condition" in [h.value for h in at.subheader]  # the scores alone, without the card's table
    box = at.selectbox(key="lr_condition")
    assert box.value == "original" and list(box.options) == ["original files", "re-encoded, H.264 CRF 23",
                                                             "unseen method: FaceSwap"]
    titles = chart_titles(at)
    assert "Tippett plot: original files" in titles and "ECE plot: original files" in titles
    assert "Tippett plot" not in titles  # the test model's own scores have no LRs
    box.set_value("crf23").run()
    assert not at.exception, at.exception
    assert "ECE plot: re-encoded, H.264 CRF 23" in chart_titles(at)

    own = pd.read_csv(folder / EVALUATION_DIR / "scores.csv")  # the model's own scores get LRs too
    own["llr"] = 0.8 * own["score"]
    own.to_csv(folder / EVALUATION_DIR / "scores.csv", index=False)
    ev = evaluation_store.load_evaluation(folder)
    assert evaluation_store.condition_choices(ev, exclude_original=True) == ["crf23", "lomo:FaceSwap"]
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    box = at.selectbox(key="lr_condition")  # the original files are drawn once, from the stored scores
    assert box.value == "crf23" and list(box.options) == ["re-encoded, H.264 CRF 23", "unseen method: FaceSwap"]
    titles = chart_titles(at)
    for plot in ("Tippett plot", "ECE plot"):
        assert titles.count(plot) == 1 and f"{plot}: re-encoded, H.264 CRF 23" in titles
        assert f"{plot}: original files" not in titles
    assert "the log10 LRs of the stored scores above (the original files)" in texts_of(at.caption)

    (folder / EVALUATION_DIR / CONDITION_SCORES_FILE).write_text("condition,score\noriginal,1.0\n")
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    assert any("lacks column(s) ['label', 'llr']" in w.value for w in at.warning)
    assert not [s for s in at.selectbox if s.key == "lr_condition"]


def test_flag_rate_scan_and_the_evaluation_page_agree(app_env, demo_pair, tmp_path):
    from detector.cli import main
    from detector.scan import ResultsDB

    db = tmp_path / "flag.db"  # scan first: AppTest leaves __main__ as the app script until the test ends
    assert main(["scan", str(demo_pair[1]), "--out", str(db), "--model", str(app_env), "--frames", str(N_FRAMES),
                 "--workers", "1", "--no-progress", "--flag-rate", "0.05"]) == 0
    with ResultsDB(db, readonly=True) as r:
        row = r.frame().iloc[0]
    ev = evaluation_store.load_evaluation(app_env)
    t = evaluation_store.chosen_threshold(ev, "flag at most X % of genuine videos", 5.0)
    assert row["threshold"] == t and row["verdict"] == ("fake" if row["score"] >= t else "real")
    at = open_page(EVALUATION)
    at.number_input(key="target_percent").set_value(5.0).run()
    assert metric(at, "Threshold") == f"{row['threshold']:+.4f}"


def test_evaluation_page_shows_the_re_encoded_copies_when_stored(monkeypatch, tmp_path, app_model, demo_folder):
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(app_model))
    at = open_page(EVALUATION)  # app_model has none: the page says so and where to look
    assert "has no re-encoded copies" in texts_of(at.caption)
    import shutil

    folder = tmp_path / "augmented"
    shutil.copytree(app_model, folder)
    mpath = folder / EVALUATION_DIR / "metrics.json"
    metrics = json.loads(mpath.read_text())
    metrics["degraded_copies"] = {
        "crf28": {"auc": 0.65, "eer": 0.38, "n": 125, "far": 0.42, "frr": 0.33,
                  "subsets": {"face_swap_vs_real_c23": {"auc": 0.68}}},
        "half": {"auc": 0.70, "eer": 0.35, "n": 125, "far": 0.33, "frr": 0.41, "subsets": {}}}
    mpath.write_text(json.dumps(metrics))
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    tables = [d.value for d in at.dataframe if "Condition" in d.value.columns]
    assert len(tables) == 1
    t = tables[0].set_index("Condition")
    assert t.loc["re-encoded, CRF 28", "AUC"] == 0.65 and t.loc["re-encoded, CRF 28", "Face swap c23 AUC"] == 0.68
    assert t.loc["half size, CRF 23", "FRR at fold thresholds"] == 0.41
    assert "has no re-encoded copies" not in texts_of(at.caption)
    assert texts.RATES_CAVEAT in texts_of(at.caption)  # the card says nothing of augmentation

    # a model trained with re-encoded copies: the caveat quotes what its card measured on them
    cpath = folder / "card.json"
    card = json.loads(cpath.read_text())
    card["augmentation"] = {"conditions": {"crf28": {}, "half": {}}}
    card["metrics"] = {"video": {"auc": 0.9}, "degraded_copies": {
        c: {k: v for k, v in d.items() if k != "subsets"} for c, d in metrics["degraded_copies"].items()}}
    cpath.write_text(json.dumps(card))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    caveat = texts.rates_caveat(card)
    assert caveat != texts.RATES_CAVEAT and caveat in texts_of(at.caption)
    assert "0.65 (re-encoded, CRF 28), 0.70 (half size, CRF 23)" in caveat
    assert "against 0.90 on the original files" in caveat


def test_evaluation_page_without_stored_evaluation(monkeypatch, tmp_path, demo_pair, demo_folder):
    folder = build_app_model(tmp_path / "bare", demo_pair, evaluation=False)
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    at = open_page(EVALUATION)
    assert "No evaluation stored" in texts_of(at.info)


# ----------------------------------------------------------------------------- Batch results

@pytest.fixture
def results_db(tmp_path, demo_pair) -> Path:
    db = tmp_path / "scan.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE results (path TEXT, size_bytes INTEGER, sha256 TEXT, verdict TEXT, score REAL, "
                    "threshold REAL, n_faces INTEGER, n_tracks INTEGER, status TEXT, error TEXT, model_version TEXT, "
                    "finished_at TEXT)")
        rows = [(f"/cases/cam{i % 3}/clip{i}.mp4", 1000 * i, f"{i:064x}", "fake" if s >= 0 else "real", s, 0.0, 8, 1,
                 "done", None, "testmodel@0.0-test", "2026-01-01T00:00:00Z")
                for i, s in enumerate(np.linspace(-2, 2, 9))]
        rows.append((str(demo_pair[1]), 1, "x", "fake", 3.0, 0.0, 8, 1, "done", None, "testmodel@0.0-test", "t"))
        rows.append(("/cases/broken.mp4", 5, None, None, None, None, None, None, "failed", "not a readable video",
                     "testmodel@0.0-test", "t"))
        con.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return db


def test_batch_results_rank_filter_and_inspect(app_env, results_db, demo_pair, monkeypatch, tmp_path_factory):
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path_factory.getbasetemp()))  # the database and the clip
    at = open_page(BATCH)
    at.text_input(key="results_path").input(str(results_db)).run()
    assert not at.exception and not at.error
    assert metric(at, "Videos") == "11" and metric(at, "error") == "1"
    table = at.dataframe[0].value
    assert table["score"].is_monotonic_decreasing and set(table["verdict"]) == {"fake"}
    assert table["path"].iloc[0] == str(demo_pair[1])  # the top suspect first

    at.multiselect(key="verdicts").set_value(["fake", "real"]).run()
    at.text_input(key="path_filter").input("cam1").run()
    table = at.dataframe[0].value
    assert len(table) == 3 and table["path"].str.contains("cam1").all()

    at.text_input(key="path_filter").input("").run()
    at.selectbox(key="pick").set_value(str(demo_pair[1])).run()
    at.button(key="inspect").click().run()
    assert not at.exception
    assert at.radio(key="source").value == f"From batch results: {demo_pair[1]}"
    assert "Verdict:" in texts_of(at.error) + texts_of(at.success)


def test_batch_results_bad_file_shows_its_message(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path))
    bad = tmp_path / "nope.db"
    bad.write_text("not sqlite")
    at = open_page(BATCH)
    at.text_input(key="results_path").input(str(bad)).run()
    assert not at.exception
    assert "cannot read batch results from nope.db" in texts_of(at.error)


def progress_texts(at) -> str:
    return "\n".join(p.proto.text for p in at.get("progress"))


def test_batch_page_without_roots_turns_scanning_off_and_refuses_paths(app_env, results_db):
    at = open_page(BATCH)
    assert roots.SCAN_ROOTS_ENV in texts_of(at.info) and "Start the scan" not in [b.label for b in at.button]
    assert at.radio(key="results_source").options == ["A file on this machine", "Upload a results file"]
    at.text_input(key="results_path").input(str(results_db)).run()
    assert not at.exception and not at.dataframe
    assert roots.SCAN_ROOTS_ENV in texts_of(at.error)


def test_batch_page_reads_only_inside_the_roots(app_env, results_db, tmp_path, monkeypatch):
    inside = tmp_path / "inside"
    inside.mkdir()
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(inside))
    at = open_page(BATCH)
    for typed in (str(results_db), f"{inside}/../{results_db.name}"):
        at.text_input(key="results_path").input(typed).run()
        assert not at.exception and not at.dataframe
        assert f"{results_db} is outside the folders this dashboard may read" in texts_of(at.error)
    # inside the root the table shows, but a listed video outside it is not opened
    (inside / "scan.db").write_bytes(results_db.read_bytes())
    at.text_input(key="results_path").input(str(inside / "scan.db")).run()
    assert not at.error and len(at.dataframe[0].value)
    at.button(key="inspect").click().run()
    assert not at.exception and "is outside the folders" in texts_of(at.error)
    assert at.title[0].value == "Batch results"  # still here, not on the Inspect page


def test_batch_page_starts_a_scan_a_second_visitor_sees_it(app_env, tmp_path, monkeypatch, demo_pair, bad_files):
    case = tmp_path / "root" / "case"
    case.mkdir(parents=True)
    for name, src in (("clip_fake.mp4", demo_pair[1]), ("clip_noface.mp4", bad_files["noface"]),
                      ("hang_me.mp4", demo_pair[0])):
        (case / name).write_bytes(src.read_bytes())
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path / "root"))
    monkeypatch.setenv(scan.TEST_HOOK_ENV, "hang=hang_me")  # the scan stays running after the other two files
    state = roots.state_dir()
    try:
        first = open_page(BATCH)
        assert first.text_input(key="scan_folder").value == str(tmp_path / "root")
        first.text_input(key="scan_folder").input(str(case))
        first.button(key="start_scan").click().run()
        assert not first.exception and not first.error
        (job,) = scan_jobs.list_jobs(state)
        assert job.folder == str(case.resolve()) and job.db.is_relative_to(state)
        assert first.radio(key="results_source").value == "A scan started here"
        wait_for(lambda: scan_jobs.scan_progress(job.db).done >= 2, "two rows in the scan's database")

        second = open_page(BATCH)  # another visitor: the running scan is shown, with the rows so far
        assert second.radio(key="results_source").value == "A scan started here"
        assert second.text_input(key="scan_folder").value == str(case.resolve())  # offered: Start joins it
        assert "of 3 files done: running" in progress_texts(second)
        assert metric(second, "Videos") == "2" and metric(second, "no-face") == "1"  # hang_me.mp4 never ends
        second.multiselect(key="verdicts").set_value(sorted(second.multiselect(key="verdicts").options)).run()
        shown = {Path(p).name for p in second.dataframe[0].value["path"]}
        assert shown == {"clip_fake.mp4", "clip_noface.mp4"}  # a row without a score shows with its verdict
        second.text_input(key="scan_folder").input(f"{tmp_path}/root/../root/case")
        second.button(key="start_scan").click().run()  # starting it again joins it
        assert not second.error and [j.pid for j in scan_jobs.list_jobs(state)] == [job.pid]
    finally:
        for j in scan_jobs.list_jobs(state):
            scan_jobs.stop_scan(j, timeout_s=5)
    first.run()
    assert "stopped (start it again to resume)" in progress_texts(first)


def test_batch_page_stops_the_scan_it_started(app_env, tmp_path, monkeypatch, demo_pair):
    case = tmp_path / "root" / "case"
    case.mkdir(parents=True)
    (case / "hang_me.mp4").write_bytes(demo_pair[0].read_bytes())
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path / "root"))
    monkeypatch.setenv(scan.TEST_HOOK_ENV, "hang=hang_me")  # the scan would never end by itself
    state = roots.state_dir()
    try:
        at = open_page(BATCH)
        assert "starting it again resumes it" in texts_of(at.caption)
        at.text_input(key="scan_folder").input(str(case))
        at.button(key="start_scan").click().run()
        (job,) = scan_jobs.list_jobs(state)
        wait_for(lambda: scan_jobs.scan_progress(job.db).total == 1, "the scan counting its file")
        at.run()
        assert "of 1 files done: running" in progress_texts(at)
        at.button(key="stop_scan").click().run()
        assert not at.exception, at.exception
        assert not scan_jobs.is_running(job)
        assert "0 of 1 files done: stopped (start it again to resume)" in progress_texts(at)
        assert "stop_scan" not in [b.key for b in at.button]  # nothing left to stop
        assert at.text_input(key="scan_folder").value == str(case)  # the visitor's own choice is kept
    finally:
        for j in scan_jobs.list_jobs(state):
            scan_jobs.stop_scan(j, timeout_s=5)


def test_batch_filters_follow_the_rows_of_a_growing_database(app_env, tmp_path, monkeypatch):
    """A scan still running adds rows and verdicts: the verdict choice starts again from its
    default when a new verdict appears, and no stale minimum score hides the new rows."""
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path))
    db = tmp_path / "growing.db"

    def add(rows):
        with sqlite3.connect(db) as con:
            con.execute("CREATE TABLE IF NOT EXISTS results (path TEXT, verdict TEXT, score REAL, threshold REAL, "
                        "status TEXT, model_version TEXT)")
            con.executemany("INSERT INTO results VALUES (?, ?, ?, 0.0, 'done', 'm')", rows)

    add([("/c/a.mp4", "real", -0.5), ("/c/b.mp4", "real", -0.7)])
    at = open_page(BATCH)
    at.text_input(key="results_path").input(str(db)).run()
    assert at.multiselect(key="verdicts").value == ["real"] and len(at.dataframe[0].value) == 2
    add([("/c/c.mp4", "fake", 0.9), ("/c/d.mp4", "real", -2.0)])
    at.run()
    assert at.multiselect(key="verdicts").value == ["fake"]
    assert list(at.dataframe[0].value["path"]) == ["/c/c.mp4"]
    at.multiselect(key="verdicts").set_value(["fake", "real"]).run()
    assert len(at.dataframe[0].value) == 4  # -2.0 is below every score of the first look, and shown


def wait_for(cond, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.3)


# ----------------------------------------------------------------------------- helpers

def test_max_upload_size_comes_from_the_streamlit_config(tmp_path):
    assert uploads.max_upload_mb() == 500 == uploads.MAX_UPLOAD_MB
    cfg = tmp_path / "config.toml"
    cfg.write_text("[server]\nmaxUploadSize = 42\n")
    assert uploads.max_upload_mb(cfg) == 42
    assert uploads.max_upload_mb(tmp_path / "missing.toml") == uploads.DEFAULT_MAX_UPLOAD_MB


@pytest.mark.parametrize("name,size,message", [
    ("clip.mp4", 3 * 1024 * 1024, "above the 2 MB upload limit"),
    ("clip.mp4", 0, "is empty"),
    ("notes.txt", 10, "not a supported file type"),
])
def test_check_upload_refuses_with_a_clear_message(name, size, message):
    with pytest.raises(uploads.UploadError, match=message):
        uploads.check_upload(name, size, limit_mb=2)


def test_check_upload_accepts_a_normal_file():
    uploads.check_upload("Clip.MOV", 2 * 1024 * 1024, limit_mb=2)


def test_uploaded_bytes_are_analysed_in_a_temp_copy_then_deleted(demo_pair):
    src = uploads.Source("my clip (1).mp4", demo_pair[1].read_bytes())
    with uploads.materialize(src) as path:
        assert path.name == "my_clip_1.mp4" and path.read_bytes() == src.data
    assert not path.exists() and not path.parent.exists()


def test_run_analysis_of_garbage_raises_video_error():
    from detector.video import VideoError

    with pytest.raises(VideoError):
        uploads.run_analysis(uploads.Source("x.mp4", b"garbage" * 100), None, 4)
    with pytest.raises(uploads.UploadError, match="not found"):
        uploads.run_analysis(uploads.Source.from_path("/nonexistent/clip.mp4"), None, 4)


def test_run_analysis_keeps_the_uploaded_name(demo_pair):
    a = uploads.run_analysis(uploads.Source("suspect.mp4", demo_pair[0].read_bytes()), None, 3)
    assert a.info.name == a.info.path == "suspect.mp4"
    assert a.verdict == "unscored" and a.tracks and a.tracks[0].thumbnails
    same = uploads.relabel(a, uploads.Source("other.mp4", b"x"))
    assert same.info.name == "other.mp4" and a.info.name == "suspect.mp4"


def test_explanation_sums_contributions_by_family(app_model, demo_pair):
    from detector.features import FAMILIES
    from detector.model import load_model

    model = load_model(app_model)
    a = uploads.run_analysis(uploads.Source.from_path(demo_pair[1]), model, N_FRAMES)
    fam = explain.family_contributions(model, video_view.scoring_track(a).features)
    assert set(fam) <= set(FAMILIES) and len(fam) == len(FAMILIES)
    per_col = model.contributions(video_view.scoring_track(a).features)
    assert sum(fam.values()) == pytest.approx(sum(per_col.values()))
    text = explain.explanation_text(fam)
    assert "Towards **fake**" in text and "Towards **genuine**" in text
    assert set(video_view.driving_frames(a)) <= set(a.table["frame"])
    assert len(figures.family_figure(a, "noise", model).data) == 4  # the noise family's columns


def test_the_scoring_track_is_the_one_the_analysis_recorded(app_model, two_face_video):
    """The explanation, the highlighted frames and the report follow the track whose score is
    the video's (Analysis.decisive_track), not a search for a track with that score."""
    from dataclasses import replace

    from detector.model import load_model

    a = uploads.run_analysis(uploads.Source.from_path(two_face_video), load_model(app_model), 6)
    assert len(a.tracks) == 2 and a.decisive_track is not None
    assert video_view.scoring_track(a).track_id == a.decisive_track and a.decisive.score == a.score
    other = next(t for t in a.tracks if t.track_id != a.decisive_track)
    assert video_view.scoring_track(replace(a, decisive_track=other.track_id)) is other
    unscored = replace(a, decisive_track=None)
    assert video_view.scoring_track(unscored) is a.main_track


def test_evaluation_figures_and_tables(app_model):
    ev = evaluation_store.load_evaluation(app_model)
    det = figures.det_figure(ev, 0.0)
    assert det.layout.xaxis.type == "log" and det.layout.yaxis.type == "log"
    assert len(figures.roc_figure(ev, 0.0).data) == 3
    summary = evaluation_store.overall_summary(ev)
    assert summary["auc_ci"] == [0.85, 0.95] and summary["auc_ci_source"] == "stored"
    attacks, genuine = evaluation_store.method_tables(ev, 0.0)
    assert list(attacks["method"]) == ["Deepfakes", "FaceSwap", "NeuralTextures"]
    assert list(genuine["method"]) == ["original"]
    comp = evaluation_store.breakdown_table(ev, 0.0, "compression")
    assert set(comp["compression"]) == {"c23", "c40"} and (comp["genuine"] == 20).all()
    assert evaluation_store.frame_level_summary(ev)["n_frames"] == 3 * len(ev.scores)


def test_the_verdict_rule_says_what_the_lr_bounds_leave_of_the_verdict():
    """A model whose LRs stop below 3 (the shipped v15: 1/9.33 to 2.95) never says FAKE: the note says
    so, names the threshold verdict it overrules, and the evidence note says the LR is at its bound."""
    from types import SimpleNamespace

    card = {"calibration": {"llr_lower": -0.97, "llr_upper": 0.47, "n_fake": 410, "n_real": 215}}
    note = texts.verdict_rule_note(card)
    assert "LR 2.95 for manipulation" in note and "never gives a FAKE verdict" in note
    assert "REAL verdict" not in note and "not the verdict" in note
    assert "never" not in texts.verdict_rule_note({"calibration": {"llr_lower": -1.7, "llr_upper": 1.7}})
    assert texts.verdict_rule_note({"calibration": {}}) is None and texts.verdict_rule_note(None) is None
    a = SimpleNamespace(verdict="inconclusive", threshold_verdict="fake", score=1.395, threshold=0.075, llr=0.47)
    assert texts.verdict_rule_note(card, a).endswith(
        "At the threshold alone this video would be called FAKE (score +1.395, threshold +0.075).")
    evidence = texts.evidence_note(a, card)
    assert "LR 2.95 (log10 0.47)" in evidence and "between 1/9.33 and 2.95" in evidence
    assert "its upper bound" in evidence
    assert "bound:" not in texts.evidence_note(SimpleNamespace(llr=0.2), card)
    # a card whose LRs misled on every AV1 re-encode: an AV1 file's evidence says so, an H.264 file's not
    table = [{"condition": "crf23", "auc": 0.73, "cllr": 0.89}, {"condition": "crf32", "auc": 0.63, "cllr": 1.02},
             {"condition": "av1", "auc": 0.64, "cllr": 1.108}]
    judged = {**card, "conditions": {"table": table}}
    av1 = texts.evidence_note(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="libdav1d")), judged)
    assert "Caution: this file is AV1." in av1 and "re-encoded, AV1: Cllr 1.11, AUC 0.64" in av1
    assert "Caution" not in texts.evidence_note(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="h264")), judged)
    # a codec the table never measured: said so, naming those it did; nothing without a table or for an image
    hevc = texts.codec_caution(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="hevc", kind="video")), judged)
    assert hevc.startswith("Caution: this file is HEVC (H.265). This model was measured on AV1 and H.264 files only")
    gif = texts.codec_caution(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="gif", kind="video")), judged)
    assert gif.startswith("Caution: this file is GIF. ") and gif.endswith("hold for GIF is unknown.")
    assert texts.codec_caution(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="hevc", kind="video")), card) is None
    assert texts.codec_caution(SimpleNamespace(llr=0.2, info=SimpleNamespace(codec="image", kind="image")), judged) is None
    assert texts.codec_caution(SimpleNamespace(llr=None, info=SimpleNamespace(codec="hevc", kind="video")), judged) is None


def test_an_av1_file_gets_the_cards_caution_in_a_warning_box(app_env, demo_pair, monkeypatch, tmp_path):
    """The shipped card measured misleading LRs (Cllr >= 1) on AV1 re-encodes: an AV1 file's
    Inspect page shows the caution in a warning box under the verdict, and the grey evidence
    caption no longer repeats it; the H.264 demo clip gets no such box."""
    from detector.decode import iter_frames
    from detector.encode import write_video
    from pages import INSPECT_REQUEST  # what the Batch results page sets to open a file here

    monkeypatch.setenv(models.MODEL_DIR_ENV, str(ROOT / DEFAULT_MODEL_DIR))
    monkeypatch.setenv(roots.SCAN_ROOTS_ENV, str(tmp_path))
    clip = write_video((f.image for f in iter_frames(demo_pair[0], 40)), tmp_path / "clip.mkv", codec="libsvtav1",
                       crf=38)
    at = open_page(INSPECT)
    at.sidebar.slider(key="n_frames").set_value(N_FRAMES)
    at.session_state[INSPECT_REQUEST] = str(clip)
    at.run()
    assert not at.exception, at.exception
    warning = texts_of(at.warning)
    assert "Caution: this file is AV1." in warning and "do not rely on this LR" in warning
    assert "Strength of evidence" in texts_of(at.caption) and "Caution" not in texts_of(at.caption)
    at = inspect_demo(open_page(INSPECT), "real")
    assert "Caution" not in texts_of(at.warning) + texts_of(at.caption)


def test_stored_evaluation_problems_are_clear_errors(tmp_path):
    assert evaluation_store.load_evaluation(tmp_path) is None
    ev = tmp_path / EVALUATION_DIR
    ev.mkdir()
    (ev / "scores.csv").write_text("path,label,score\na,real,0.1\nb,real,0.2\n")
    with pytest.raises(evaluation_store.EvaluationError, match="both real and fake"):
        evaluation_store.load_evaluation(tmp_path)


def test_results_csv_is_read_and_ranked(tmp_path):
    csv = tmp_path / "results.csv"
    pd.DataFrame({"path": ["a.mp4", "b.mp4", "c.mp4"], "verdict": ["real", "fake", None],
                  "score": [-1.0, 2.0, None], "error": [None, None, "unreadable"]}).to_csv(csv, index=False)
    df = batch.load_results(csv)
    assert list(df["verdict"]) == ["real", "fake", "error"]
    ranked = batch.rank_suspects(df)
    assert list(ranked["path"]) == ["b.mp4", "a.mp4", "c.mp4"] and list(ranked["rank"]) == [1, 2, 3]
    with pytest.raises(batch.ResultsError, match="no 'path' column"):
        batch.normalise_results(pd.DataFrame({"x": [1]}))
    with pytest.raises(batch.ResultsError, match="no results file"):
        batch.load_results(tmp_path / "missing.db")


def test_demo_clips_are_reused_from_the_demo_folder(tmp_path, demo_pair, monkeypatch):
    folder = tmp_path / "demo"
    assert not demo.demo_ready(folder)
    installed = demo.install_demo_clips(*demo_pair, folder=folder)
    assert demo.demo_ready(folder)
    monkeypatch.setenv(demo.DEMO_DIR_ENV, str(folder))
    assert demo.demo_dir() == folder
    assert demo.demo_clips() == installed  # present: nothing is generated
    assert set(demo.LABELS) == set(demo.FILES) == {"real", "fake"}
    assert "synthetic" in demo.NOTE.lower() and "astronaut" in demo.NOTE


def test_evaluation_page_shows_the_per_condition_table_of_the_card(monkeypatch, tmp_path, app_model, demo_folder):
    import shutil

    monkeypatch.setenv(models.MODEL_DIR_ENV, str(app_model))
    at = open_page(EVALUATION)
    assert "Under each condition" not in [h.value for h in at.subheader]  # the test model's card has none
    folder = tmp_path / "judged"
    shutil.copytree(app_model, folder)
    table = [{"condition": "original", "auc": 0.91, "auc_min": 0.9, "auc_max": 0.92, "eer": 0.16, "tpr_at_fpr5": 0.7},
             {"condition": "crf23", "auc": 0.45, "eer": 0.52, "tpr_at_fpr5": 0.04},
             {"condition": "lomo:FaceSwap", "auc": 0.88, "eer": 0.18, "tpr_at_fpr5": 0.53},
             {"condition": "worst (crf23)", "auc": 0.45, "eer": 0.52, "tpr_at_fpr5": 0.04}]
    cpath = folder / "card.json"
    card = json.loads(cpath.read_text())
    card["conditions"] = {"command": "python benchmarks/generalization.py --test", "seeds": [0, 1], "table": table}
    cpath.write_text(json.dumps(card))
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(folder))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    assert "Under each condition" in [h.value for h in at.subheader]
    t = next(d.value for d in at.dataframe if "TPR at FPR 5 %" in d.value.columns).set_index("Condition")
    assert t.loc["re-encoded, H.264 CRF 23", "AUC"] == 0.45 and t.loc["original files", "AUC"] == 0.91
    assert t.loc["unseen method: FaceSwap", "TPR at FPR 5 %"] == 0.53
    assert "worst (re-encoded, H.264 CRF 23)" in t.index
    assert "Cllr" not in t.columns  # an older card without LRs: no LR columns
    assert "python benchmarks/generalization.py --test" in texts_of(at.caption)
    for row, c in zip(table, (0.55, 0.98, 0.7, 0.98)):
        row.update(cllr=c, cllr_min=c - 0.1)
    cpath.write_text(json.dumps({**card, "conditions": {**card["conditions"], "table": table}}))
    at = open_page(EVALUATION)
    assert not at.exception, at.exception
    t = next(d.value for d in at.dataframe if "TPR at FPR 5 %" in d.value.columns).set_index("Condition")
    assert t.loc["re-encoded, H.264 CRF 23", "Cllr"] == 0.98 and t.loc["original files", "Cllr-min"] == pytest.approx(0.45)


def test_the_shipped_default_card_carries_its_per_condition_table():
    from detector.card import card_markdown
    from detector.dashboard.evaluation_store import conditions_table

    card = json.loads((DEFAULT_MODEL_DIR / "card.json").read_text())
    t, command = conditions_table(card)
    assert {"original files", "re-encoded, H.264 CRF 23", "re-encoded, CRF 28", "half size, CRF 23",
            "re-encoded, VP9", "unseen method (leave one out, mean)"} <= set(t["Condition"])
    assert "generalization.py" in command and "--into models/default" in command
    assert (DEFAULT_MODEL_DIR / "CARD.md").read_text() == card_markdown(card)
    assert "## Under each condition" in card_markdown(card) and "--into models/default" in card_markdown(card)
