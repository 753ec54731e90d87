"""What the dashboard and the case report say: fixed texts, labels and number formats.

The error-rate convention is not here: it is :data:`detector.metrics.CONVENTION`, the
one definition, also stored in every ``metrics.json``.
"""

from __future__ import annotations

import math
import re

from ..analysis import Analysis
from ..calibration import LLR_INCONCLUSIVE, evidence_text
from ..card import CONDITION_LABELS, codec_standing, condition_label, reencode_rows
from ..profiles import codec_name

__all__ = ["DISCLAIMER", "RATES_CAVEAT", "LR_PLOTS_CAPTION", "DEGRADED_LABELS", "FAMILY_LABELS", "degraded_aucs", "rates_caveat", "misleading_note", "codec_caution",
           "verdict_headline", "evidence_note", "lr_bounds", "verdict_rule_note", "highlight_note", "fmt_score", "fmt_pct", "human_size", "clean_message",
           "flat_text"]

DISCLAIMER = ("The verdict is a statistical indication for a trained examiner, not proof: "
              "it must be weighed with the provenance of the file and other evidence.")
#: Where the stored error rates stop holding (README, Accuracy: re-encoded copies of the
#: test videos let most fakes pass).  Quoted under the error rates of the case report.
RATES_CAVEAT = ("These rates hold for videos like the training data, compressed once after the "
                "manipulation. A video re-encoded or downscaled afterwards (as platforms do on upload) "
                "loses much of the compression trace the model reads: fakes then pass as genuine far more "
                "often, so a genuine verdict on such a file means little.")
#: Under the Tippett and ECE plots of the Evaluation page: how to read them.
LR_PLOTS_CAPTION = (
    "Tippett plot: for fake and for genuine videos, the share with a log10 LR at or above x. Right of 0 (LR above "
    "1) the evidence supports fake: the fake curve should stay high there and the genuine curve low. "
    "ECE plot (empirical cross-entropy, lir): the information still missing after these LRs, in bits, for every "
    "prior odds a case could have; lower is better. Below the dotted line (LR always 1) the LRs help; the dashed "
    "line is the best any monotone recalibration of them reaches (their discrimination), the gap to it their "
    "calibration loss. At prior log10 odds 0 the solid line is Cllr and the dashed one Cllr-min.")
#: How the degraded-copy conditions of ``train --augment`` are named.
DEGRADED_LABELS = CONDITION_LABELS  # one set of names (detector.card)
#: How the feature families of :mod:`detector.features` are named.
FAMILY_LABELS = {
    "hf": "High-frequency energy",
    "spec": "Block spectrum",
    "noise": "Noise residual",
    "grad": "Gradients / blending edge",
    "lbp": "LBP texture",
    "block": "Compression blockiness",
    "color": "Colour mismatch",
    "iqm": "Image quality (absolute)",
    "flick": "Temporal flicker",
    "lmk": "Landmark pose and motion",
}


def degraded_aucs(metrics: dict | None) -> list[tuple[str, float]]:
    """``[(condition label, AUC)]`` of the re-encoded copies in a card's or a stored
    evaluation's metrics (``degraded_copies``), in stored order; ``[]`` when there are none."""
    degraded = (metrics or {}).get("degraded_copies") or {}
    return [(DEGRADED_LABELS.get(c, c), float(d["auc"])) for c, d in degraded.items()
            if isinstance(d, dict) and isinstance(d.get("auc"), (int, float))]


def rates_caveat(card: dict | None) -> str:
    """Where the stored error rates stop holding, for this model.

    :data:`RATES_CAVEAT` for a model trained on the original files only; for one whose
    training parts held re-encoded copies too (``train --augment``), the AUCs its card
    measured on re-encoded copies of the held-out videos, against the original files."""
    metrics = (card or {}).get("metrics") or {}
    aucs = degraded_aucs(metrics)
    if not (card or {}).get("augmentation") or not aucs:
        return RATES_CAVEAT
    original = (metrics.get("video") or {}).get("auc")
    measured = ", ".join(f"{a:.2f} ({name})" for name, a in aucs)
    return ("This model was trained on re-encoded copies of its training videos as well. On re-encoded "
            f"copies of the held-out videos it reached AUC {measured}"
            + (f", against {original:.2f} on the original files" if original is not None else "")
            + ": the rates above hold for files compressed once after the manipulation, and a re-encoded "
              "or downscaled file is still judged much less reliably." + misleading_note(card))


def misleading_note(card: dict | None) -> str:
    """The re-encodes of the card's per-condition table (``conditions``) where the out-of-fold LRs
    had Cllr >= 1 (worse than stating LR 1 for every video), with their AUC, as a sentence for
    :func:`rates_caveat` (' On held-out videos its likelihood ratios mislead ... under: re-encoded,
    AV1 (AUC 0.64, Cllr 1.11). ...'); '' when there are none."""
    bad = [r for r in reencode_rows(card) if r["cllr"] >= 1]
    if not bad:
        return ""
    listed = "; ".join(f"{condition_label(str(r['condition']))} ("
                       + (f"AUC {r['auc']:.2f}, " if isinstance(r.get("auc"), (int, float)) else "")
                       + f"Cllr {r['cllr']:.2f})" for r in bad)
    return (" On held-out videos its likelihood ratios mislead (Cllr of 1 or more: worse than stating none) "
            f"under: {listed}. Do not rely on its LR for a file that came through such a re-encode.")


def verdict_headline(a: Analysis) -> tuple[str, str]:
    """(text, kind) for the verdict banner; kind is error / success / warning / info."""
    evidence = evidence_text(a.llr)
    if a.verdict == "fake":
        return (f"Verdict: FAKE — signs of face manipulation ("
                + (evidence or f"score {fmt_score(a.score)} ≥ threshold {fmt_score(a.threshold)}") + ")", "error")
    if a.verdict == "real":
        return (f"Verdict: REAL — no sign of face manipulation found ("
                + (evidence or f"score {fmt_score(a.score)} < threshold {fmt_score(a.threshold)}") + ")", "success")
    if a.verdict == "inconclusive":
        return (f"Verdict: INCONCLUSIVE — the evidence is too weak to call either way ({evidence}: a likelihood "
                f"ratio between 1/3 and 3)", "warning")
    if a.verdict == "no-face":
        return ("Verdict: NO FACE — no face was found in the sampled frames, so there is nothing to judge. "
                "Try more frames, or a file where a face is visible.", "warning")
    return ("Verdict: UNSCORED — no model is loaded; faces and artifact features are shown, but no score.",
            "info")


def lr_bounds(card: dict | None) -> tuple[float, float] | None:
    """(lowest, highest) log10 LR the model's calibration states (its ELUB bounds), or None."""
    cal = (card or {}).get("calibration") or {}
    lo, hi = cal.get("llr_lower"), cal.get("llr_upper")
    return (float(lo), float(hi)) if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else None


def evidence_note(a: Analysis, card: dict | None = None, caution: bool = True) -> str | None:
    """The strength of evidence in words for people: the likelihood ratio, what it compares,
    its ENFSI category and the bounds of the model's calibration (saying so when the LR sits
    at one of them), then :func:`codec_caution` (unless ``caution`` is False: a page or
    report that shows it apart); None without an LR."""
    if a.llr is None:
        return None
    bounds = lr_bounds(card)
    extra = ""
    if bounds is not None:
        cal = card["calibration"]
        extra = (f" This model states likelihood ratios only between 1/{10 ** -bounds[0]:.3g} and "
                 f"{10 ** bounds[1]:.3g}: the empirical bounds (ELUB) of the "
                 f"{cal.get('n_fake', 0) + cal.get('n_real', 0)} training scores its calibration was fitted on.")
        if a.llr >= bounds[1] - 0.005:
            extra += " This LR is its upper bound: the strongest support for manipulation it ever states."
        elif a.llr <= bounds[0] + 0.005:
            extra += " This LR is its lower bound: the strongest support for a genuine video it ever states."
    return (f"Strength of evidence: {evidence_text(a.llr)} (ENFSI verbal scale, 2015). The likelihood ratio "
            "is how much more probable this score is if the face was manipulated than if the video is genuine; "
            "it is not the probability that the video is fake, which also depends on everything else known "
            "about the case." + extra + (" " + warn if caution and (warn := codec_caution(a, card)) else ""))


def codec_caution(a: Analysis, card: dict | None) -> str | None:
    """The card's word on this file's codec (:func:`detector.card.codec_standing`) as a caution:
    'Caution: this file is AV1. ...' where the card measured misleading likelihood ratios
    (Cllr >= 1) on every re-encode with the codec, 'Caution: this file is HEVC (H.265). ...'
    where it measured none with it; None otherwise or without an LR."""
    info = getattr(a, "info", None)  # None for a record without video metadata
    codec = getattr(info, "codec", None)
    standing = codec_standing(card, codec, getattr(info, "kind", "video")) if a.llr is not None else None
    if standing is None:
        return None
    kind, rows = standing
    if kind == "misled":
        measured = "; ".join(f"{condition_label(str(r['condition']))}: Cllr {r['cllr']:.2f}"
                             + (f", AUC {r['auc']:.2f}" if isinstance(r.get("auc"), (int, float)) else "")
                             for r in rows)
        return (f"Caution: this file is {codec_name(codec)}. On held-out videos re-encoded as {codec_name(codec)}, "
                f"this model's likelihood ratios misled ({measured}): do not rely on this LR.")
    names = sorted({codec_name(c) for c in rows})
    return (f"Caution: this file is {codec_name(codec)}. This model was measured on "
            f"{', '.join(names[:-1]) + ' and ' + names[-1] if len(names) > 1 else names[0]} files only: "
            f"how well its score and likelihood ratio hold for {codec_name(codec)} is unknown.")


def verdict_rule_note(card: dict | None, a: Analysis | None = None) -> str | None:
    """How the verdict follows the likelihood ratio, what the model's bounds leave of it and
    what the SVM threshold is for; with ``a``, the verdict at the threshold alone when it
    differs.  None for a model without calibration (its verdict is the threshold's)."""
    bounds = lr_bounds(card)
    if bounds is None:
        return None
    text = ("The verdict follows the likelihood ratio: FAKE at LR 3 or more, REAL at LR 1/3 or less, INCONCLUSIVE between. "
            "The threshold on the SVM score, and the FAR / FRR at it, rank and flag videos (as `scan` does); "
            "they are not the verdict.")
    lo, hi = bounds
    if hi < LLR_INCONCLUSIVE:
        text += (f" This model never states more than LR {10 ** hi:.3g} for manipulation (its upper bound), so it "
                 "never gives a FAKE verdict: the videos it finds most suspicious are INCONCLUSIVE, with weak "
                 "support for manipulation.")
    if -lo < LLR_INCONCLUSIVE:
        text += (f" This model never states less than LR 1/{10 ** -lo:.3g} (its lower bound), so it never gives a "
                 "REAL verdict.")
    if a is not None and a.threshold_verdict and a.verdict not in (a.threshold_verdict, None):
        text += (f" At the threshold alone this video would be called {a.threshold_verdict.upper()} "
                 f"(score {fmt_score(a.score)}, threshold {fmt_score(a.threshold)}).")
    return text


def highlight_note(a: Analysis) -> str:
    """What the highlighted frames are, for captions (depends on the verdict)."""
    if a.verdict == "fake":
        return "the frames with the highest per-frame scores, the ones that drove the score towards fake"
    return ("the frames with the highest per-frame scores, the most fake-looking ones "
            "(the video as a whole was not judged fake)")


def fmt_score(v) -> str:
    """A decision score with its sign, ``+0.123`` ('—' when missing)."""
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{float(v):+.3f}"


def fmt_pct(v) -> str:
    """A rate in [0, 1] as a percentage, ``12.3 %`` ('—' when missing)."""
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * float(v):.1f} %"


def human_size(n: int | float | None) -> str:
    """1536 -> '1.5 KB' (binary multiples, as Streamlit counts its upload limit)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def clean_message(error: BaseException | str) -> str:
    """An error's one-line message without low-level noise such as ``[Errno 1094995529]``."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return re.sub(r"\[Errno -?\d+\]\s*", "", text)


def flat_text(value, depth: int = 0) -> str:
    """A nested dict/list as one readable line (``real: 10, fake: 40``), never raw JSON."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {flat_text(v, depth + 1)}" for k, v in value.items())
        return f"({inner})" if depth else inner
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flat_text(v, depth + 1) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
