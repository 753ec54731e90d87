"""The case report: one self-contained HTML file per analysis."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from detector.dashboard import evaluation_store, texts, uploads
from detector.metrics import CONVENTION
from detector.charts import bar_chart, line_chart, score_bar
from detector.report import case_report_html, report_filename
from test_app import N_FRAMES, build_app_model


class _Collect(HTMLParser):
    """Tags, attributes and text of a document (and whether it parses)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def scored(tmp_path_factory, demo_pair):
    """(analysis of the demo fake with the test model, model, error rates at its threshold)."""
    from detector.model import load_model

    model = load_model(build_app_model(tmp_path_factory.getbasetemp() / "app-model", demo_pair))
    a = uploads.run_analysis(uploads.Source.from_path(demo_pair[1]), model, N_FRAMES)
    ev = evaluation_store.load_evaluation(model.path)
    rates = {**evaluation_store.operating_point(ev, model.threshold), **evaluation_store.overall_summary(ev)}
    return a, model, rates


def test_report_has_everything_the_case_needs(scored):
    a, model, rates = scored
    html = case_report_html(a, model.card, rates, model=model)
    doc = parse(html)
    text = " ".join(doc.text)
    for needle in (a.info.name, a.info.sha256, f"{a.info.size_bytes:,} bytes", "mov / h264", "testmodel", "0.0-test",
                   "Verdict:", f"{a.score:+.3f}", "threshold +0.000", "FAR = APCER", "FRR = BPCER",
                   texts.fmt_pct(rates["far"]), texts.fmt_pct(rates["frr"]), a.analysed_at, "not proof",
                   "report generated at", "Per-frame score", texts.RATES_CAVEAT,
                   *(line.removeprefix("- ") for line in CONVENTION.splitlines())):
        assert needle in text, needle
    images = [attrs for tag, attrs in doc.tags if tag == "img"]
    crops = [i for i in images if i["alt"].startswith(("frame", "▲"))]
    assert len(crops) == sum(len(t.thumbnails) for t in a.tracks)
    assert len(images) == len(crops) + 2  # and the heat map over the face with its colour scale
    assert all(i["src"].startswith("data:image/png;base64,") for i in images)
    assert sum(tag == "svg" for tag, _ in doc.tags) >= 3  # score bar, per-frame score, families, contributions

    # a model trained with re-encoded copies: the report's caveat is the one its card supports
    card = {**model.card, "augmentation": {"n_copies": 2},
            "metrics": {"video": {"auc": 0.87}, "degraded_copies": {"crf28": {"auc": 0.69}}}}
    text = " ".join(parse(case_report_html(a, card, rates, model=model)).text)
    assert texts.rates_caveat(card) in text and texts.RATES_CAVEAT not in text
    assert "mislead" not in text  # its card measured no condition where the LRs mislead

    # one whose card measured misleading LRs after a re-encode (Cllr >= 1) names it, from the card
    table = [{"condition": "original", "auc": 0.84, "cllr": 0.78}, {"condition": "crf28", "auc": 0.67, "cllr": 0.96},
             {"condition": "av1", "auc": 0.64, "cllr": 1.108}, {"condition": "lomo:FaceSwap", "auc": 0.7, "cllr": 1.2},
             {"condition": "worst (crf28)", "auc": 0.67, "cllr": 0.96}]
    card["conditions"] = {"seeds": [0], "table": table}
    text = " ".join(parse(case_report_html(a, card, rates, model=model)).text)
    assert "its likelihood ratios mislead" in text and "re-encoded, AV1 (AUC 0.64, Cllr 1.11)" in text
    assert "CRF 28 (AUC" not in text and "FaceSwap (AUC" not in text  # Cllr < 1; not a re-encode


def test_report_is_self_contained(scored):
    a, model, rates = scored
    html = case_report_html(a, model.card, rates, model=model)
    assert "<script" not in html.lower()
    for tag, attrs in parse(html).tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value or value.startswith(("data:", "#")), (tag, key, value[:40])
    assert not re.search(r"url\((?!data:|#)", html)  # inline data or the SVG's own clip paths


def test_report_escapes_the_file_name(scored):
    a, model, rates = scored
    evil = replace(a, info=replace(a.info, name="<script>alert(1)</script>.mp4"))
    html = case_report_html(evil, model.card, rates, model=model)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    name = report_filename(evil)
    assert name.startswith("case-report_") and name.endswith(".html") and not set(name) & set("/<>\\")


def test_report_without_model_or_evaluation(demo_pair):
    a = uploads.run_analysis(uploads.Source.from_path(demo_pair[0]), None, 3)
    html = case_report_html(a, None, None)
    text = " ".join(parse(html).text)
    assert "UNSCORED" in text and "No model was loaded" in text
    assert a.info.sha256 in text


def test_report_without_stored_evaluation_says_rates_are_unknown(scored):
    a, model, _ = scored
    text = " ".join(parse(case_report_html(a, model.card, None, model=model)).text)
    assert "error rates at this threshold are unknown" in text


def test_charts_are_static_matplotlib_svg():
    svg = line_chart({"a": ([0, 1, 2], [1.0, float("nan"), 3.0])}, "a title", hline=2.0, hline_label="thr")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "Matplotlib v" in svg
    assert "a title" in svg and "thr" in svg  # text kept as text
    assert "<script" not in svg and "<?xml" not in svg
    assert "no data" in line_chart({}, "empty") and "no data" in line_chart({"a": ([0], [float("nan")])})
    assert "score +0.500" in score_bar(0.5, 0.0) and "nothing" in bar_chart({})
    assert "+0.250" in bar_chart({"x": 0.25, "y": -0.1})
    assert len(svg) < 30_000


def test_report_has_the_heat_map_the_likelihood_ratio_and_matplotlib_charts(demo_pair):
    """With the shipped (calibrated) model: the LR and its words, the heat map over the face
    and the charts as SVG from matplotlib."""
    from detector.model import load_model

    model = load_model()
    a = uploads.run_analysis(uploads.Source.from_path(demo_pair[1]), model, N_FRAMES)
    html = case_report_html(a, model.card, None, model=model)
    doc = parse(html)
    text = " ".join(doc.text)
    assert a.llr is not None and f"{a.llr:+.2f}" in text and a.llr_category in text
    assert "log10 likelihood ratio (llr)" in text and "verbal category" in text
    heat = [attrs for tag, attrs in doc.tags if tag == "img" and attrs.get("alt", "").startswith("heat map")]
    assert len(heat) == 1 and heat[0]["src"].startswith("data:image/png;base64,")
    assert "Where on the face" in text and "inner face" in text and "blending boundary" in text
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) >= 3 and all("Matplotlib v" in s for s in svgs)


def test_matplotlib_loads_only_when_a_chart_is_drawn_and_never_pyplot():
    """In a fresh process: importing the package, the CLI and the report loads no matplotlib;
    drawing a chart loads it without pyplot and leaves its settings as they were."""
    import subprocess
    import sys

    code = ("import sys, detector, detector.cli, detector.report\n"
            "assert not [m for m in sys.modules if m.startswith('matplotlib')], 'matplotlib at import'\n"
            "from detector.charts import line_chart\n"
            "svg = line_chart({'a': ([0, 1], [0.0, 1.0])}, 'x')\n"
            "import matplotlib\n"
            "assert 'matplotlib.pyplot' not in sys.modules and matplotlib.rcParams['svg.fonttype'] == 'path'\n"
            "print(len(svg))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) > 1000
