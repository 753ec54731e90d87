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

from .card import card_markdown
from .features import BLOCK_RUN, FEATURES_VERSION, family_of
from .video import sha256_file

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
#: Type-name prefixes a model file may contain; anything else is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.sparse.", "collections.OrderedDict",
                    "detector.estimators.StatSelector", "detector.estimators.FamilyFusion")


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
        """The input columns that reach the classifier (a fused model: those any member
        reads); every column when the pipeline's steps cannot say."""
        used = columns_into(self.pipeline, self.columns)
        return list(self.columns) if used is None else used

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
        where = {c: j for j, c in enumerate(self.columns)}
        keep = np.array([where[c] for c in self.used_columns], dtype=int)  # columns that reach the classifier
        if reference is None:
            ref = getattr(self.pipeline, "reference_", None)  # a fused model: training means
            if ref is not None and len(ref) == n:
                reference = np.asarray(ref, dtype=float)
            else:  # the scaler's centre: the training mean (StandardScaler) or median (RobustScaler)
                centre = self.scaler_reference()
                reference = np.array([centre[c][0] if c in centre else 0.0 for c in self.columns])
        xs = np.repeat(x, len(keep), axis=0)
        xs[np.arange(len(keep)), keep] = np.asarray(reference, dtype=float)[keep]
        moved = np.asarray(self.pipeline.decision_function(xs), dtype=float)
        out = dict.fromkeys(self.columns, 0.0)
        for j, m in zip(keep, moved):
            out[self.columns[j]] = base - float(m)
        return out

    def scaler_reference(self) -> dict[str, tuple[float, float]]:
        """{column: (centre, scale)} of the pipeline's scaler (``mean_`` or ``center_``, and
        ``scale_``; a fused model: each member's), for the columns that reach it; empty
        when the pipeline has no scaler or its columns cannot be followed."""
        out: dict[str, tuple[float, float]] = {}
        for pipeline in getattr(self.pipeline, "estimators_", None) or [self.pipeline]:
            out.update(_scaler_reference(pipeline, self.columns))
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


def columns_into(estimator, columns: list[str], step: str | None = None) -> list[str] | None:
    """The names of ``columns`` (the estimator's input, in order) that reach ``step`` of a
    pipeline (default: its final estimator), as its steps' ``get_feature_names_out``
    tell; for an estimator with ``get_support`` (a fused model), the columns it reads.
    None when that cannot be followed (a step that does not name its output) or when
    no column reaches it."""
    if hasattr(estimator, "get_support"):
        names = np.asarray(columns, dtype=object)[estimator.get_support()]
    else:
        steps = [name for name, _ in getattr(estimator, "steps", [])]
        if not steps:
            return None
        end = steps.index(step) if step in steps else len(steps) - 1
        try:
            names = estimator[:end].get_feature_names_out(columns) if end else np.asarray(columns, dtype=object)
        except (AttributeError, ValueError):  # a step without feature names, or not fitted
            return None
    return [str(c) for c in names] or None


def _scaler_reference(pipeline, columns: list[str]) -> dict[str, tuple[float, float]]:
    """{column: (centre, scale)} of the first step of ``pipeline`` with a centre (``mean_``
    or ``center_``) and a ``scale_``; {} when there is none or its columns are unknown."""
    for name, step in getattr(pipeline, "steps", []):
        centre = getattr(step, "mean_", None)
        if centre is None:
            centre = getattr(step, "center_", None)
        scale = getattr(step, "scale_", None)
        if centre is not None and scale is not None:
            names = columns_into(pipeline, columns, step=name)
            if names is None or len(names) != len(centre):
                return {}
            return {c: (float(m), float(s) if s else 1.0) for c, m, s in zip(names, centre, scale)}
    return {}
