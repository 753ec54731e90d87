"""The model folders the dashboard offers and what their cards and stored evaluations say.

A model folder (:mod:`detector.model`) holds ``card.json``, ``model.skops`` and
``evaluation/metrics.json``; the figures shown on the Home page and in the sidebar are
read from these files, never written into a page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..card import frames_text, sampling_text, search_text, trained_conditions
from ..profiles import PROFILES
from ..model import (CARD_FILE, CONDITION_SCORES_FILE, DEFAULT_MODEL_DIR, EVALUATION_DIR, MODEL_FILE, DetectorModel,
                     ModelError, load_model)
from .texts import degraded_aucs, flat_text, fmt_pct, fmt_score

#: Environment variable that points the dashboard at another model folder.
MODEL_DIR_ENV = "DEEPFAKE_MODEL_DIR"


def model_dir() -> Path:
    """The model folder the dashboard uses: ``$DEEPFAKE_MODEL_DIR`` or ``models/default``."""
    env = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_MODEL_DIR


def model_choices(root: str | os.PathLike | None = None) -> list[Path]:
    """The model folders the dashboard offers: :func:`model_dir` first (``$DEEPFAKE_MODEL_DIR``
    or the shipped default), then every other folder of ``root`` (default: the shipped
    ``models/``) that holds a model card, by name."""
    first = model_dir()
    base = Path(root) if root is not None else DEFAULT_MODEL_DIR.parent
    out = [first]
    if base.is_dir():
        for p in sorted(base.iterdir(), key=lambda p: (p.resolve() != DEFAULT_MODEL_DIR.resolve(), p.name)):
            if p.is_dir() and (p / CARD_FILE).exists() and p.resolve() != first.resolve():
                out.append(p)
    return out


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from a file; ``{}`` when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_choice_label(folder: str | os.PathLike) -> str:
    """How a model folder is named in the model picker (short: the sidebar is narrow): its
    name, its version, and a ``+`` when it was trained with re-encoded copies."""
    folder = Path(folder)
    try:
        card = json.loads((folder / CARD_FILE).read_text())
    except (OSError, ValueError):
        return folder.name
    return f"{folder.name} · v{card.get('version', '?')}" + (" · +re-encoded" if card.get("augmentation") else "")


def folder_stamp(folder: str | os.PathLike) -> str:
    """A string that changes whenever the model or its evaluation changes (a cache key)."""
    parts = []
    for name in (CARD_FILE, MODEL_FILE, f"{EVALUATION_DIR}/scores.csv", f"{EVALUATION_DIR}/metrics.json",
                 f"{EVALUATION_DIR}/frame_scores.csv", f"{EVALUATION_DIR}/{CONDITION_SCORES_FILE}"):
        p = Path(folder) / name
        st = p.stat() if p.exists() else None
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}" if st else f"{name}:-")
    return "|".join(parts)


def load_model_safe(folder: str | os.PathLike) -> tuple[DetectorModel | None, str | None]:
    """``(model, None)``, or ``(None, reason)`` when there is no usable model."""
    folder = Path(folder)
    if not (folder / CARD_FILE).exists():
        return None, f"No model found at `{folder}` (it needs {CARD_FILE} and {MODEL_FILE})."
    try:
        return load_model(folder), None
    except ModelError as e:
        return None, f"The model at `{folder}` could not be loaded: {e}"


def provenance_text(model: DetectorModel) -> str:
    """Whether the model is one shipped with this code (by the SHA-256 of its model file)."""
    if model.shipped:
        return f"Shipped model · SHA-256 `{model.sha256[:16]}…`"
    return (f"⚠ Not a shipped model · SHA-256 `{model.sha256[:16]}…`: compare the full hash of its "
            "`model.skops` with the one its sender gave you.")


def model_key(model: DetectorModel | None) -> str:
    """Identifies a model in analysis cache keys."""
    if model is None:
        return "no-model"
    return f"{model.name}:{model.version}:{model.card.get('model_sha256', '')}"


# --------------------------------------------------------------------------- what a card measured

def find_summary(metrics: dict | None) -> dict:
    """The overall video-level summary inside a stored ``metrics.json`` or card metrics
    (the first nested object that has an ``auc``; ``{}`` when none)."""
    if not isinstance(metrics, dict):
        return {}
    queue = [metrics]
    for _ in range(4):
        nxt = []
        for d in queue:
            if "auc" in d:
                return d
            for key in ("video", "overall", "summary"):
                if isinstance(d.get(key), dict):
                    nxt.append(d[key])
            nxt += [v for k, v in d.items() if isinstance(v, dict) and k not in ("video", "overall", "summary", "frame")]
        queue = nxt
    return {}


def headline_metrics(card: dict | None, metrics: dict | None = None) -> dict:
    """AUC, its CI, EER, FAR/FRR/HTER at the threshold from the stored evaluation or the card."""
    s = find_summary(metrics) or find_summary((card or {}).get("metrics"))
    at = s.get("metrics") if isinstance(s.get("metrics"), dict) else {}
    pick = lambda k: s.get(k, at.get(k))  # noqa: E731
    return {"auc": s.get("auc"), "auc_ci": s.get("auc_ci"), "eer": s.get("eer"), "far": pick("far"),
            "frr": pick("frr"), "hter": pick("hter"), "n_real": s.get("n_real"), "n_fake": s.get("n_fake")}


def reencoding_text(folders: list[Path]) -> str:
    """What each model folder measured out of fold on the original files and on re-encoded
    copies of the held-out videos, as Markdown sentences for the Home page ('' when no
    folder has a measured AUC).

    The figures come from the card's per-condition table (``conditions``, several fold
    seeds) when it has one, else from ``evaluation/metrics.json`` or the card's ``metrics``."""
    parts = []
    for folder in folders:
        card = read_json(Path(folder) / CARD_FILE)
        if not card:
            continue
        trained = ", trained with re-encoded copies too" if card.get("augmentation") else ""
        name = f"**{Path(folder).name}** (v{card.get('version', '?')}{trained})"
        text = conditions_sentence(card.get("conditions"), trained_conditions(card))
        if text is None:
            stored = read_json(Path(folder) / EVALUATION_DIR / "metrics.json")
            head = headline_metrics(card, stored)
            if head["auc"] is None:
                continue
            degraded = degraded_aucs(stored) or degraded_aucs(card.get("metrics"))
            text = f"AUC {head['auc']:.2f} on the original files (FRR {fmt_pct(head['frr'])} at its threshold), " + (
                "on re-encoded copies AUC " + ", ".join(f"{a:.2f} ({n})" for n, a in degraded) if degraded
                else "re-encoded copies not measured in its card")
        parts.append(f"{name}: {text}")
    if not parts:
        return ""
    return "Measured out of fold on held-out videos: " + "; ".join(parts) + "."


def conditions_sentence(conditions: dict | None, trained: list[str] | None = None) -> str | None:
    """'AUC 0.87 on the original files, 0.69-0.73 after platform re-encodes, 0.81 on unseen
    methods (mean of fold seeds 0, 1, 2)' from a card's ``conditions``; None without one.
    With ``trained`` (:func:`detector.card.trained_conditions`), the re-encodes outside it get a
    range of their own ('0.63-0.73 after re-encodes it was not trained on')."""
    rows = {r.get("condition"): r.get("auc") for r in (conditions or {}).get("table", []) if isinstance(r, dict)}
    if rows.get("original") is None:
        return None
    encodes = {k: v for k, v in rows.items() if k in PROFILES and v is not None}
    other = {k: v for k, v in encodes.items() if trained is not None and k not in trained}
    platform = [v for k, v in encodes.items() if k not in other]
    text = f"AUC {rows['original']:.2f} on the original files"
    if platform:
        text += f", {min(platform):.2f}-{max(platform):.2f} after platform re-encodes"
    if other:
        text += f", {min(other.values()):.2f}-{max(other.values()):.2f} after re-encodes it was not trained on"
    if rows.get("lomo") is not None:
        text += f", {rows['lomo']:.2f} on unseen methods (leave one out)"
    return text + f" (mean of fold seeds {', '.join(map(str, conditions.get('seeds', [])))})"


# --------------------------------------------------------------------------- the card as a table

def card_summary(card: dict | None) -> pd.DataFrame:
    """Two-column table (item, value) of a model card for display."""
    if not card:
        return pd.DataFrame(columns=["item", "value"])
    tr = card.get("training", {}) if isinstance(card.get("training"), dict) else {}
    rows = [("name", card.get("name")), ("version", card.get("version")),
            ("description", card.get("description")),
            ("training data", training_source(tr)),
            ("training videos", counts_text(tr.get("counts")) if tr.get("counts") else tr.get("n_videos")),
            ("leakage groups", tr.get("n_groups")),
            ("features version", card.get("features_version")),
            ("feature columns", len(card.get("columns", [])) or None),
            ("sampled frames", frames_text(card.get("frames"))),
            ("frame sampling", sampling_text(card["sampling"]) if card.get("sampling") else None),
            ("block grid averaged over", f"{card['block_run']} consecutive frames per sample"
             if card.get("block_run") else None),
            ("inner search", search_text(card)),
            ("parameters", flat_text(card["parameters"]) if card.get("parameters") else None),
            ("decision threshold", fmt_score(card.get("threshold"))),
            ("model SHA-256", card.get("model_sha256")), ("command", card.get("command")),
            ("created", card.get("created") or card.get("trained_at"))]
    return pd.DataFrame([(k, str(v)) for k, v in rows if v not in (None, "", [])], columns=["item", "value"])


def training_source(training: dict) -> str:
    """Where the training data came from (manifest, dataset or features folder)."""
    for key in ("manifest", "dataset", "data", "features_dir"):
        if training.get(key):
            return str(training[key])
    return ""


def counts_text(counts) -> str:
    """Training counts as one line: '43 genuine · 82 fake' from ``{label: n}`` or from
    records ``[{label, n, ...}]``; anything else flattened."""
    if isinstance(counts, list) and counts and all(isinstance(r, dict) and "label" in r and "n" in r for r in counts):
        totals: dict[str, int] = {}
        for r in counts:
            totals[str(r["label"])] = totals.get(str(r["label"]), 0) + int(r["n"])
        counts = totals
    if isinstance(counts, dict) and all(isinstance(v, (int, float)) for v in counts.values()):
        names = {"real": "genuine"}
        return " · ".join(f"{int(v):,} {names.get(str(k), str(k))}" for k, v in counts.items())
    return flat_text(counts)


def training_text(card: dict | None) -> str:
    """One line about the training data of a model card ('' when the card says nothing)."""
    tr = (card or {}).get("training")
    if not isinstance(tr, dict):
        return flat_text(tr) if tr else ""
    source = training_source(tr)
    parts = [f"`{source}`" if source else "", counts_text(tr["counts"]) + " videos" if tr.get("counts") else "",
             f"in {tr['n_groups']} leakage groups" if tr.get("n_groups") else ""]
    return " — ".join(p for p in parts[:2] if p) + (f" {parts[2]}" if parts[2] else "")
