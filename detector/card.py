"""The model card: what a model folder says about how its model was made and how it does.

:func:`model_card` assembles the card of a training run from its parts (the training
data, :func:`training_data`; the evaluation summary, :func:`card_metrics`; the commands
that reproduce it, :func:`recipe`; :func:`library_versions`).
:func:`detector.model.save_model` adds the model's own fields (name, version, columns,
threshold, file hash), writes ``card.json`` and renders ``CARD.md`` with
:func:`card_markdown`; :func:`frames_text` and :func:`search_text` put single fields in
words for the dashboard too.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Iterable
from importlib import metadata

import cv2
import numpy as np
import pandas as pd
import skimage

from .decode import DEFAULT_FRAMES
from .sampling import DEFAULT_SAMPLING, sampling_setting
from .features import family_of
from .profiles import PROFILES, codec_name, decoded_as

#: The description of every model's features, after its classifier's.
FEATURES_TEXT = " over self-referenced face artifact features (face vs its own surroundings), aggregated per face track."


def headline(summary: dict) -> dict:
    """The few numbers a reader wants first, from an evaluate_table() result."""
    o = summary.get("overall", summary)
    m = o.get("metrics", {})
    return {k: o.get(k) for k in ("auc", "auc_ci", "eer", "eer_threshold", "n")} | \
        {k: m.get(k) for k in ("far", "frr", "hter")} | {k: o[k] for k in ("cllr", "cllr_min") if k in o}


def manifest_hash(videos: pd.DataFrame) -> str:
    """SHA-256 of the videos' path, label, group (and file hash, when known), in path order."""
    cols = [c for c in ("path", "label", "group", "sha256") if c in videos.columns]
    text = videos[cols].sort_values(cols[0]).to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def training_data(features_dir: str, manifest: str | None, videos: pd.DataFrame, usable: pd.DataFrame) -> dict:
    """The card's ``training`` part: where the features came from (``features_dir``,
    extracted from ``manifest``), how many videos (with a face: ``usable``) and groups,
    their hash, and the counts of all ``videos`` by label, method and compression."""
    counts = videos.groupby(["label", "method", "compression"]).size().reset_index(name="n")
    return {"features_dir": str(features_dir), "manifest": manifest,
            "n_videos": int(len(usable)), "n_groups": int(usable["group"].nunique()),
            "manifest_sha256": manifest_hash(usable), "counts": counts.to_dict("records")}


def card_metrics(metrics: dict) -> dict:
    """The card's ``metrics``: a summary of a model folder's ``evaluation/metrics.json``."""
    dep = metrics["video_deployed_rule"]
    out = {"video": headline(metrics["video"]), "subsets": metrics["subsets"],
           "video_at_fold_thresholds": {k: metrics["video_at_fold_thresholds"].get(k) for k in ("far", "frr", "hter")},
           "video_deployed_rule": headline(dep) | {"n_videos_differing": dep["n_videos_differing"]}}
    if "video_training_frames" in metrics:
        out |= {"video_training_frames": headline(metrics["video_training_frames"]),
                "subsets_training_frames": metrics["subsets_training_frames"]}
    if metrics.get("degraded_copies"):
        out["degraded_copies"] = {c: {k: v for k, v in d.items() if k != "subsets"}
                                  | {"face_swap_vs_real_c23": d["subsets"].get("face_swap_vs_real_c23")}
                                  for c, d in metrics["degraded_copies"].items()}
    out["frame"] = headline(metrics["frame"]) if metrics.get("frame") else None
    return out


def library_versions() -> dict:
    """Versions of Python and of the libraries the features and the model depend on."""
    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            # the installed distribution's version: importing scikit-learn here would load it
            # with every `import detector` (detector.model renders cards)
            "scikit-learn": metadata.version("scikit-learn"), "scikit-image": skimage.__version__,
            "opencv": cv2.__version__, "lir": _distribution_version("lir")}


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def recipe(features_dir: str, out_dir: str, seed: int, quick: bool, name: str | None = None,
           version: str = "1", fusion: bool = False, drop: tuple[str, ...] = (),
           columns: str | None = None, eval_features: str | None = None, augment: str | None = None,
           search: str = "full", stamps: dict[str, dict] | None = None, by_worst: bool = False) -> str:
    """The commands that reproduce a model from its manifest: ``extract`` for each features
    folder whose ``extract.json`` (in ``stamps``, by folder) names its manifest, then
    ``train`` with these options."""
    train_cmd = f"deepfake-detector train --features {features_dir} --out {out_dir} --seed {seed}" + \
        (f" --name {name}" if name else "") + f" --version {version}" + (" --quick" if quick else "") + \
        (" --fusion" if fusion else "") + ("".join(f" --drop {f}" for f in drop)) + \
        (f" --columns '{columns}'" if columns else "") + (f" --eval-features {eval_features}" if eval_features else "") + \
        (f" --augment {augment}" if augment else "") + (f" --search {search}" if search != "full" else "") + \
        (" --by-worst" if by_worst else "")
    steps = []
    for d in (features_dir, eval_features):
        stamp = (stamps or {}).get(d, {}) if d else {}
        if stamp.get("manifest"):
            steps.append(f"deepfake-detector extract --manifest {stamp['manifest']} --out {d} "
                         f"--frames {stamp.get('n_frames', DEFAULT_FRAMES)}"
                         + (f" --sampling {stamp['sampling']}" if stamp.get("sampling", DEFAULT_SAMPLING)
                            != DEFAULT_SAMPLING else ""))
    return " && ".join([*steps, train_cmd])


def model_card(*, model_text: str, training: dict, parameters: dict, search: str, columns: list[str],
               column_set: dict, augmentation: dict | None, metrics: dict, frames: dict, command: str,
               seconds: float, sampling: str = DEFAULT_SAMPLING) -> dict:
    """The card of a training run, before :func:`detector.model.save_model` adds the model's
    own fields.  ``model_text``: the classifier in words (e.g. ``"RBF SVM"``);
    ``training``: :func:`training_data`; ``parameters``: the final model's chosen
    parameters; ``columns``: the columns offered; ``column_set``: the ``--columns`` spec,
    its pattern and how many columns it offered; ``augmentation``: the re-encoded copies
    used, or None; ``metrics``: the evaluation's ``metrics.json`` (summarised by
    :func:`card_metrics`); ``frames``: sampled frames of training and evaluation;
    ``sampling``: how they were sampled (:mod:`detector.sampling`; scans must match);
    ``command``: how to reproduce it; ``seconds``: how long training took."""
    return {
        "description": model_text + FEATURES_TEXT,
        "training": training,
        "parameters": parameters,
        "search": search,
        "families": sorted({family_of(c) for c in columns}),
        "column_set": column_set,
        **({"augmentation": augmentation} if augmentation else {}),
        "metrics": card_metrics(metrics),
        "frames": frames,
        **sampling_setting(sampling),
        "command": command,
        "libraries": library_versions(),
        "trained_seconds": round(seconds, 1),
    }


def _column_set_line(cs: dict | None) -> list[str]:
    if not cs or cs.get("spec") in (None, "all"):
        return []
    return [f"- columns offered to the search: `--columns {cs['spec']}` (`{cs.get('pattern')}`, "
            f"{cs.get('n_offered')} columns)"]


def frames_text(frames: dict | None) -> str | None:
    """'trained on 32 sampled frames per video, evaluated at 16' from a card's ``frames``."""
    if not frames or not frames.get("training"):
        return None
    t, e = frames.get("training"), frames.get("evaluation") or frames.get("training")
    if t == e:
        return f"{t} sampled frames per video (training and evaluation)"
    return f"trained on {t} sampled frames per video, evaluated at {e} (the frames the scanner samples)"


def sampling_text(sampling: str) -> str:
    """A card's ``sampling`` in words, with what it binds."""
    how = {"spread": "samples spread evenly over the video",
           "runs": "runs of consecutive frames after keyframes",
           "front": "samples spread over the fronts of the keyframe intervals"}.get(sampling, sampling)
    return f"`{sampling}` ({how}); scans with another sampling are refused"


_SEARCH_TEXT = {"full": "standardised columns, k best, RBF or linear SVM",
                "compact": "median / IQR scaling, every offered column, RBF SVM; C and gamma searched"}


def search_text(card: dict) -> str | None:
    """The card's inner search in words (``train --search``); None when it names none.

    ``auto``: the search picked on all training videos and its nested AUC."""
    search = card.get("search")
    if not search:
        return None
    if search != "auto":
        return f"`{search}`" + (f" ({_SEARCH_TEXT[search]})" if search in _SEARCH_TEXT else "")
    params = card.get("parameters") or {}
    picked, aucs = params.get("search"), params.get("search_aucs") or {}
    auc = f", nested AUC {aucs[picked]:.3f}" if picked in aucs else ""
    return (f"`auto` (chosen by a nested grouped CV of the training videos among {len(aucs) or 'the'} "
            f"searches, scaler x kernels x column selection; picked `{picked}`{auc}; the evaluation "
            "chose again inside every training part)")


def calibration_lines(card: dict) -> list[str]:
    """The card's likelihood-ratio calibration in words (Markdown list items); [] without one."""
    cal = card.get("calibration")
    if not isinstance(cal, dict):
        return []
    video = (card.get("metrics") or {}).get("video") or {}
    cllr = ""
    if video.get("cllr") is not None and video.get("cllr_min") is not None:
        cllr = (f"- out of fold (LRs of each outer fold from a calibration fitted inside its training part): "
                f"Cllr {video['cllr']:.3f}, Cllr-min {video['cllr_min']:.3f} "
                "(0 = perfect, 1 = an LR that always says 1; Cllr - Cllr-min = calibration loss)")
    return [f"- method: {cal.get('method')} regression of the decision score (lir `LogitCalibrator`, "
            f"class-balanced): log10 LR = {cal.get('intercept'):+.4f} {cal.get('slope'):+.4f} x score",
            f"- bounds: {str(cal.get('bounds')).upper()} (lir `ELUBBounder`): log10 LR between "
            f"{cal.get('llr_lower'):.2f} and {cal.get('llr_upper'):.2f}, i.e. LR from 1/{10 ** -cal['llr_lower']:.3g} "
            f"to {10 ** cal['llr_upper']:.3g}: no stated LR goes beyond what the training scores support",
            f"- fitted on {cal.get('n_fake', 0) + cal.get('n_real', 0)} cross-validated scores of the training "
            f"videos ({cal.get('n_fake')} fake, {cal.get('n_real')} real)",
            "- verdict `inconclusive` for an LR between 1/3 and 3; words on the ENFSI verbal scale (2015)",
            *([cllr] if cllr else [])]


#: Names of the conditions of a card's per-condition table (``benchmarks/generalization.py``)
#: and of its re-encoded copies (``train --augment``), for people.
CONDITION_LABELS = {"original": "original files", "crf23": "re-encoded, H.264 CRF 23", "crf28": "re-encoded, CRF 28",
                    "crf35": "re-encoded, CRF 35", "half": "half size, CRF 23", "vp9": "re-encoded, VP9",
                    "crf32": "re-encoded, CRF 32", "q540": "3/4 size, CRF 26", "av1": "re-encoded, AV1",
                    "lomo": "unseen method (leave one out, mean)"}


def condition_label(cond: str, trained: Iterable[str] | None = None) -> str:
    """``crf23`` -> "re-encoded, H.264 CRF 23"; ``lomo:FaceSwap`` -> "unseen method: FaceSwap".
    With ``trained`` (the re-encodes a model's training parts held, its card's
    ``augmentation.conditions``), a re-encode outside them says so: ``crf32`` -> "re-encoded,
    CRF 32 (not a training re-encode)"."""
    if cond.startswith("lomo:"):
        return f"unseen method: {cond[5:]}"
    if cond.startswith("worst (") and cond.endswith(")"):
        return f"worst ({condition_label(cond[7:-1])})"
    label = CONDITION_LABELS.get(cond, cond)
    if trained is not None and cond in PROFILES and cond not in set(trained):
        label += " (not a training re-encode)"
    return label


def reencode_rows(card: dict | None) -> list[dict]:
    """The rows of a card's per-condition table (``conditions``) that are re-encodes (a profile
    of :data:`detector.profiles.PROFILES`) with a Cllr."""
    table = ((card or {}).get("conditions") or {}).get("table") or []
    return [r for r in table if isinstance(r, dict) and r.get("condition") in PROFILES
            and isinstance(r.get("cllr"), (int, float))]


def misleading_for_codec(card: dict | None, codec: str | None) -> list[dict]:
    """The rows of a card's per-condition table (``conditions``) that say its likelihood ratios
    mislead on a file decoded as ``codec`` (:attr:`detector.video.VideoInfo.codec`): the
    re-encodes with that codec (:func:`detector.profiles.decoded_as`) where the out-of-fold LRs
    had Cllr >= 1, when every re-encode with that codec in the table did (otherwise the codec
    alone does not tell, e.g. H.264 at CRF 23 against CRF 32).  [] when none."""
    rows = [r for r in reencode_rows(card) if codec and codec in decoded_as(r["condition"])]
    return rows if rows and all(r["cllr"] >= 1 for r in rows) else []


def evaluated_codecs(card: dict | None) -> set[str]:
    """The decoder names (:attr:`detector.video.VideoInfo.codec`) of the re-encodes a card's
    per-condition table measured (:func:`reencode_rows`; e.g. ``h264``, ``vp9``, ``av1``):
    the codecs its figures say something about.  Empty without such a table."""
    return {name for r in reencode_rows(card) for name in decoded_as(r["condition"])}


def codec_standing(card: dict | None, codec: str | None, kind: str = "video") -> tuple[str, list] | None:
    """What a card's per-condition table says of a file decoded as ``codec``, when its figures
    do not hold for it: ``("misled", rows)``, the re-encodes with that codec whose LRs misled
    (:func:`misleading_for_codec`), or ``("unmeasured", codecs)``, the decoder names the table
    did measure (:func:`evaluated_codecs`), none of them ``codec``; None otherwise, for an image,
    or without a per-condition table (nothing is known either way)."""
    if not codec or kind != "video":
        return None
    rows = misleading_for_codec(card, codec)
    if rows:
        return "misled", rows
    known = evaluated_codecs(card)
    return ("unmeasured", sorted(known)) if known and codec not in known else None


def codec_flag(card: dict | None, codec: str | None, kind: str = "video") -> str | None:
    """:func:`codec_standing` as a short flag for a result row (a scan's ``caution`` column):
    ``"LRs misled on AV1"``, ``"codec not measured: HEVC (H.265)"``, or None."""
    standing = codec_standing(card, codec, kind)
    if standing is None:
        return None
    return f"LRs misled on {codec_name(codec)}" if standing[0] == "misled" else f"codec not measured: {codec_name(codec)}"


def trained_conditions(card: dict) -> list[str] | None:
    """The re-encodes a model's training parts held (``augmentation.conditions`` of its card);
    None when the card does not say (then no row is marked)."""
    aug = card.get("augmentation")
    conds = aug.get("conditions") if isinstance(aug, dict) else None
    return list(conds) if isinstance(conds, dict) else None


def conditions_lines(card: dict) -> list[str]:
    """The card's per-condition table (Markdown) and the command that measured it; [] without one."""
    c = card.get("conditions")
    if not isinstance(c, dict) or not c.get("table"):
        return []

    def num(v, fmt="{:.3f}"):
        return fmt.format(v) if isinstance(v, (int, float)) and math.isfinite(v) else ""

    lr = any(isinstance(r, dict) and r.get("cllr") is not None for r in c["table"])  # older cards have no LRs
    trained = trained_conditions(card)
    rows = [f"| {condition_label(str(r.get('condition')), trained)} | {num(r.get('auc'))} "
            f"{'(' + num(r.get('auc_min')) + '-' + num(r.get('auc_max')) + ')' if r.get('auc_min') is not None else ''} "
            f"| {num(r.get('eer'))} | {num(r.get('tpr_at_fpr5'), '{:.2f}')} |"
            + (f" {num(r.get('cllr'))} | {num(r.get('cllr_min'))} |" if lr else "") for r in c["table"]]
    return [f"This model's training procedure in nested grouped cross-validation, mean over fold seeds "
            f"{c.get('seeds')}: the original files; copies of the test-fold videos re-encoded as platforms do "
            "(never trained on); each manipulation method left out of training and tested on."
            + (" Cllr and Cllr-min of the out-of-fold log10 LRs (each outer fold's calibration, fitted inside "
               "its training part): below 1 the LRs inform, at or above 1 they mislead." if lr else ""), "",
            "| condition | AUC (min-max over seeds) | EER | TPR at FPR 5 % |" + (" Cllr | Cllr-min |" if lr else ""),
            "| --- | --- | --- | --- |" + (" --- | --- |" if lr else ""), *rows, "",
            "Measured by:", "", "```bash", str(c.get("command", "?")), "```"]


def card_markdown(card: dict) -> str:
    """Human-readable model card."""
    m = card.get("metrics", {})
    lines = [f"# Model card: {card.get('name')} (version {card.get('version')})", "",
             card.get("description", "SVM over self-referenced face artifact features."), "",
             "## Training data", "", f"- manifest: `{card.get('training', {}).get('manifest') or '?'}`",
             f"- manifest SHA-256: `{card.get('training', {}).get('manifest_sha256', '?')}`",
             f"- counts: {json.dumps(card.get('training', {}).get('counts', {}))}",
             *([f"- augmentation: {card['augmentation'].get('n_copies')} re-encoded copies of the training videos "
                f"({', '.join(card['augmentation'].get('conditions', {}))}; first {card['augmentation'].get('span_frames')} "
                "frames), in the training parts of the folds only; `degraded_copies` below scores the held-out "
                "videos' copies"] if card.get("augmentation") else []), "",
             "## Features", "", f"- features version: {card.get('features_version')}",
             *([f"- block grid strength of each sampled face averaged over {card['block_run']} consecutive frames"]
               if card.get("block_run") else []),
             f"- {len(card.get('columns', []))} aggregated columns; families: "
             f"{', '.join(sorted({c.split('_', 1)[0] for c in card.get('columns', [])}))}",
             *_column_set_line(card.get("column_set")),
             *([f"- {frames_text(card.get('frames'))}"] if frames_text(card.get("frames")) else []),
             *([f"- frame sampling: {sampling_text(card['sampling'])}"] if card.get("sampling") else []), "",
             "## Parameters", "",
             *([f"- inner search: {search_text(card)}", ""] if card.get("search") else []),
             "```json", json.dumps(card.get("parameters", {}), indent=2, default=str), "```", "",
             f"Decision threshold (EER point of the validation folds): {card.get('threshold')}", "",
             *(["## Likelihood ratio", "", *calibration_lines(card), ""] if card.get("calibration") else []),
             *(["## Under each condition", "", *conditions_lines(card), ""] if conditions_lines(card) else []),
             "## Metrics (grouped cross-validation, out-of-fold)", "", "```json",
             json.dumps(m, indent=2, default=str), "```", "",
             "## Reproduce", "", "```bash", card.get("command", "?"), "```", "",
             "## Libraries", "", "```json", json.dumps(card.get("libraries", {}), indent=2), "```", ""]
    return "\n".join(lines)
