"""The SVM model: a scikit-learn Pipeline saved safely, with its card.

A model folder ``models/<name>/`` holds
  - ``model.skops``: the fitted Pipeline in skops format (loading never runs
    arbitrary code; only an allow-list of scikit-learn / numpy types is accepted);
  - ``card.json``: name, version, features version, feature columns, threshold,
    training data, parameters, metrics, the command that made it, library versions,
    and the SHA-256 of ``model.skops`` (a tampered file is refused);
  - ``CARD.md``: the same for people;
  - ``evaluation/``: stored out-of-fold scores, curves and metrics.

Scores follow the convention of :mod:`detector.evaluation`: higher = more likely fake;
the verdict is ``fake`` when ``score >= threshold``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import BLOCK_RUN, FEATURES_VERSION, family_of
from .video import sha256_file

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
#: Folder of a model that holds its stored out-of-fold evaluation.
EVALUATION_DIR = "evaluation"
#: Type-name prefixes a model file may contain; anything else is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.sparse.", "collections.OrderedDict",
                    "detector.training.StatSelector", "detector.training.FamilyFusion")


class ModelError(Exception):
    """A model that cannot be loaded or used (one-line, user-facing message)."""


@dataclass
class DetectorModel:
    """A fitted pipeline plus what is needed to use and explain it.

    ``pipeline`` has ``decision_function`` taking a (n, len(columns)) array;
    ``threshold`` is on that decision score.
    """

    pipeline: object
    columns: list[str]
    threshold: float = 0.0
    name: str = "unnamed"
    version: str = "0"
    card: dict = field(default_factory=dict)
    path: str = ""

    @property
    def used_columns(self) -> list[str]:
        """The input columns the pipeline reads (its ``stats`` step may drop families)."""
        keep = self._keep()
        return list(self.columns) if keep is None else [self.columns[j] for j in keep]

    def _keep(self, upto: str | None = None) -> np.ndarray | None:
        """Indices of the input columns that reach the classifier (a fused model: any
        member's), following the steps that drop columns: a ``keep_`` selector, an
        imputer dropping all-empty columns, a ``get_support()`` feature selector.
        ``upto``: stop before the step of that name (e.g. ``"scale"``).  None when the
        pipeline's steps cannot be followed."""
        keep = getattr(self.pipeline, "keep_", None)
        if keep is not None:  # FamilyFusion: union of its members' stats selections
            return np.asarray(keep, dtype=int)
        steps = getattr(self.pipeline, "steps", None)
        if steps is None:
            return None
        idx = np.arange(len(self.columns))
        for name, step in steps[:-1]:
            if name == upto:
                break
            if getattr(step, "keep_", None) is not None:
                idx = idx[np.asarray(step.keep_, dtype=int)]
            elif getattr(step, "statistics_", None) is not None and not getattr(step, "keep_empty_features", True):
                idx = idx[~np.isnan(np.asarray(step.statistics_, dtype=float))]
            elif hasattr(step, "get_support"):
                idx = idx[np.asarray(step.get_support(), dtype=bool)]
            if len(idx) == 0:
                return None
        return idx

    @property
    def families(self) -> tuple[str, ...]:
        """Feature families the model needs: pass them to :func:`detector.analysis.analyze`
        to compute nothing else (the other columns are dropped by the pipeline anyway)."""
        return tuple(sorted({family_of(c) for c in self.used_columns}))

    def _matrix(self, rows) -> np.ndarray:
        import pandas as pd

        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows) if not isinstance(rows, dict) else [rows])
        missing = [c for c in self.used_columns if c not in df.columns]
        if missing:
            raise ModelError(f"features missing for model {self.name}: {missing[:5]}...")
        # columns the pipeline drops before using anything may be absent (not computed)
        return df.reindex(columns=self.columns).to_numpy(dtype=float)

    def decision_function(self, rows) -> np.ndarray:
        """SVM decision score per row (higher = more likely fake)."""
        return np.asarray(self.pipeline.decision_function(self._matrix(rows)), dtype=float)

    def predict(self, rows) -> np.ndarray:
        """1 = fake, 0 = real, at the model's threshold."""
        return (self.decision_function(rows) >= self.threshold).astype(int)

    def contributions(self, row: dict, reference: np.ndarray | None = None) -> dict[str, float]:
        """How much each feature moves this row's score away from a reference point.

        For each column, the score change when that column alone is set back to the
        reference (default: the scaler's centre, the training mean or median, i.e. 0
        after the scaler).  Positive = pushed towards fake.  Exact for a linear SVM, a
        local sensitivity for RBF.
        """
        x = self._matrix(row)
        base = float(self.pipeline.decision_function(x)[0])
        n = x.shape[1]
        steps = getattr(self.pipeline, "named_steps", {})
        keep = self._keep()  # columns that reach the classifier
        keep = np.arange(n) if keep is None else keep
        if reference is None:
            ref = getattr(self.pipeline, "reference_", None)  # a fused model: training means
            if ref is not None and len(ref) == n:
                reference = np.asarray(ref, dtype=float)
            else:
                scaler = steps.get("scale")
                ref = getattr(scaler, "mean_", None)  # StandardScaler: the training mean
                if ref is None:
                    ref = getattr(scaler, "center_", None)  # RobustScaler: the training median
                before = self._keep(upto="scale")  # the columns the scaler saw
                reference = np.zeros(n)
                if ref is not None and before is not None and len(ref) == len(before):
                    reference[before] = ref
        xs = np.repeat(x, len(keep), axis=0)
        xs[np.arange(len(keep)), keep] = np.asarray(reference, dtype=float)[keep]
        moved = np.asarray(self.pipeline.decision_function(xs), dtype=float)
        out = dict.fromkeys(self.columns, 0.0)
        for j, m in zip(keep, moved):
            out[self.columns[j]] = base - float(m)
        return out

    def summary(self) -> dict:
        return {"name": self.name, "version": self.version, "path": self.path,
                "threshold": self.threshold, "features_version": self.card.get("features_version"),
                "metrics": self.card.get("metrics", {})}


def save_model(model: DetectorModel, folder: str | os.PathLike, card: dict | None = None) -> Path:
    """Write ``model.skops`` and ``card.json`` (+ ``CARD.md``) into ``folder``."""
    import skops.io as sio

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sio.dump(model.pipeline, out / MODEL_FILE)
    card = dict(model.card if card is None else card)
    card.update({
        "name": model.name, "version": model.version, "features_version": FEATURES_VERSION,
        "block_run": BLOCK_RUN, "columns": list(model.columns), "threshold": float(model.threshold),
        "model_file": MODEL_FILE, "model_sha256": sha256_file(out / MODEL_FILE),
    })
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, default=_json_default))
    (out / "CARD.md").write_text(card_markdown(card))
    model.card, model.path = card, str(out)
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def load_model(folder: str | os.PathLike | None = None) -> DetectorModel:
    """Load a model folder (default: the shipped ``models/default``).

    Raises
    ------
    ModelError
        Missing files, a model file whose hash differs from its card (tampered),
        untrusted types inside it, or a features version the code does not produce.
    """
    import skops.io as sio

    folder = Path(folder) if folder else DEFAULT_MODEL_DIR
    if folder.is_file():
        folder = folder.parent
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    if not card_path.exists() or not model_path.exists():
        raise ModelError(f"no model at {folder} (need {CARD_FILE} and {MODEL_FILE})")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"unreadable model card {card_path}: {e}") from None
    if card.get("features_version") != FEATURES_VERSION:
        raise ModelError(
            f"model {folder.name} was trained on features version {card.get('features_version')!r}, "
            f"this code computes version {FEATURES_VERSION!r}: retrain it with 'deepfake-detector train'")
    if card.get("model_sha256") and sha256_file(model_path) != card["model_sha256"]:
        raise ModelError(f"model file {model_path} does not match the SHA-256 in its card (modified or corrupt)")
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as e:
        raise ModelError(f"model file {model_path} is not a valid skops file: {e}") from None
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise ModelError(f"model file {model_path} contains untrusted types, refused: {bad[:3]}")
    try:
        pipeline = sio.load(model_path, trusted=untrusted)
    except Exception as e:
        raise ModelError(f"cannot load model file {model_path}: {e}") from None
    return DetectorModel(pipeline, list(card["columns"]), float(card["threshold"]), card.get("name", folder.name),
                         str(card.get("version", "0")), card, str(folder))


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
             *([f"- {frames_text(card.get('frames'))}"] if frames_text(card.get("frames")) else []), "",
             "## Parameters", "",
             *([f"- inner search: {search_text(card)}", ""] if card.get("search") else []),
             "```json", json.dumps(card.get("parameters", {}), indent=2, default=str), "```", "",
             f"Decision threshold (EER point of the validation folds): {card.get('threshold')}", "",
             "## Metrics (grouped cross-validation, out-of-fold)", "", "```json",
             json.dumps(m, indent=2, default=str), "```", "",
             "## Reproduce", "", "```bash", card.get("command", "?"), "```", "",
             "## Libraries", "", "```json", json.dumps(card.get("libraries", {}), indent=2), "```", ""]
    return "\n".join(lines)
