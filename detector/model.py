"""The SVM model: a scikit-learn Pipeline saved safely, with its card.

A model folder ``models/<name>/`` holds
  - ``model.skops``: the file that carries the trust.  It holds, in skops format (loading
    never runs code: only skops' safe defaults plus the exact types of
    :data:`TRUSTED_TYPES` are accepted, no prefix that could cover a callable), the
    fitted Pipeline *and* every field that changes behaviour: name, version, feature
    columns, threshold, features version and the score-to-LR calibration, as plain
    numbers (:class:`BoundFields`).  Its SHA-256 is the
    model's fingerprint (:attr:`DetectorModel.sha256`); :data:`SHIPPED_SHA256` lists the
    fingerprints of the models shipped with this code.
  - ``card.json``: the same fields for reading, plus training data, parameters,
    metrics, the command that made it, library versions and ``model_sha256``.  It is
    checked against the model file: a card whose hash or behaviour fields differ from
    ``model.skops`` is refused, as is a card without a hash.
  - ``CARD.md``: the card for people;
  - ``evaluation/``: stored out-of-fold scores, curves and metrics.

To verify a model you were sent: compare ``sha256sum model.skops`` with the fingerprint
its author gave you by another channel (the card's own ``model_sha256`` only shows that
card and file belong together; whoever can edit one can edit both).

Scores follow the convention of :mod:`detector.metrics`: higher = more likely fake.
A calibrated model states a likelihood ratio per score (:meth:`DetectorModel.llr`), its
verdict ``inconclusive`` between LR 1/3 and 3 (:func:`detector.calibration.verdict_of`);
one saved without a calibration says ``fake`` when ``score >= threshold``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .calibration import Calibration
from .card import card_markdown
from .features import BLOCK_RUN, FEATURES_VERSION, family_of
from .sampling import DEFAULT_SAMPLING, check_front_fraction
from .trust import (DEFAULT_MODEL_DIR, MAX_MODEL_BYTES, MODEL_FILE, MODEL_FORMAT, TRUSTED_TYPES,  # noqa: F401 (API)
                    ModelError, load_bundle, regular_file, skops_io)
from .video import sha256_file

CARD_FILE = "card.json"
#: Folder of a model that holds its stored out-of-fold evaluation.
EVALUATION_DIR = "evaluation"
#: File in :data:`EVALUATION_DIR` of the per-condition out-of-fold scores and log10 LRs of
#: one fold seed (``benchmarks/generalization.py --into``; the Evaluation page's plots per condition).
CONDITION_SCORES_FILE = "condition_scores.csv"
#: Fingerprints (SHA-256 of ``model.skops``) of the models shipped in ``models/``.
SHIPPED_SHA256: dict[str, str] = {
    "default": "3dccb12b832d08d25611939feff7d0c188da4c03e4b207c7808b680a5d9bbc43",
}
#: Size limits read before parsing: a card is a small JSON file; a model file a small zip.
MAX_CARD_BYTES = 4 << 20


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
    sha256: str = ""  # of model.skops: the model's fingerprint (empty until saved or loaded)
    #: score -> likelihood ratio (None: a model saved without one states no LR)
    calibration: Calibration | None = None

    @property
    def shipped(self) -> bool:
        """Whether this is one of the models shipped with this code (by fingerprint)."""
        return bool(self.sha256) and self.sha256 in SHIPPED_SHA256.values()

    @property
    def sampling(self) -> str:
        """The frame sampling of the features the model was trained on (its card's
        ``sampling``; :data:`detector.sampling.DEFAULT_SAMPLING` for cards made before
        samplings were recorded): scans must sample the same way."""
        return card_sampling(self.card)

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
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows) if not isinstance(rows, dict) else [rows])
        missing = [c for c in self.used_columns if c not in df.columns]
        if missing:
            raise ModelError(f"features missing for model {self.name}: {missing[:5]}...")
        # columns the pipeline drops before using anything may be absent (not computed)
        return df.reindex(columns=self.columns).to_numpy(dtype=float)

    def decision_function(self, rows) -> np.ndarray:
        """SVM decision score per row (higher = more likely fake)."""
        return np.asarray(self.pipeline.decision_function(self._matrix(rows)), dtype=float)

    def llr(self, scores) -> np.ndarray:
        """log10 likelihood ratio (manipulated vs genuine) of decision scores, within the
        calibration's ELUB bounds (:class:`detector.calibration.Calibration`); ModelError
        when the model has none."""
        if self.calibration is None:
            raise ModelError(f"model {self.name} has no likelihood-ratio calibration: retrain it with this version")
        return self.calibration.llr(scores)

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
        return {"name": self.name, "version": self.version, "path": self.path, "sha256": self.sha256,
                "shipped": self.shipped, "threshold": self.threshold, "features_version": self.card.get("features_version"),
                "sampling": self.sampling,
                "calibration": None if self.calibration is None else self.calibration.to_dict(),
                "metrics": self.card.get("metrics", {})}


@dataclass(frozen=True)
class BoundFields:
    """The fields of a model that change its verdicts, stored inside ``model.skops`` and
    repeated in ``card.json`` (which must agree).  :meth:`from_mapping` validates them."""

    name: str
    version: str
    columns: tuple[str, ...]
    threshold: float
    features_version: str
    calibration: Calibration | None = None

    @classmethod
    def from_mapping(cls, d: object, where: str) -> "BoundFields":
        """Checked fields from a card or a model file's dict; ModelError naming the problem."""
        if not isinstance(d, dict):
            raise ModelError(f"{where}: expected a JSON object / dict, got {type(d).__name__}")
        for key in ("columns", "threshold", "features_version"):
            if key not in d:
                raise ModelError(f"{where}: field '{key}' is missing")
        cols = d["columns"]
        if not isinstance(cols, (list, tuple)) or not cols or not all(isinstance(c, str) and c for c in cols):
            raise ModelError(f"{where}: 'columns' must be a non-empty list of column names")
        if len(set(cols)) != len(cols):
            raise ModelError(f"{where}: 'columns' names a column twice")
        t = d["threshold"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t):
            raise ModelError(f"{where}: 'threshold' must be a finite number, got {t!r}")
        name, version = d.get("name", ""), d.get("version", "0")
        if not isinstance(name, str) or not isinstance(version, (str, int)) or isinstance(version, bool):
            raise ModelError(f"{where}: 'name' and 'version' must be text")
        try:
            cal = None if d.get("calibration") is None else Calibration.from_mapping(d["calibration"])
        except ValueError as e:
            raise ModelError(f"{where}: {e}") from None
        return cls(name, str(version), tuple(cols), float(t), str(d["features_version"]), cal)

    def to_dict(self) -> dict:
        """The fields as plain values (``calibration`` only when there is one)."""
        out = {"name": self.name, "version": self.version, "columns": list(self.columns),
               "threshold": self.threshold, "features_version": self.features_version}
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_dict()
        return out


def save_model(model: DetectorModel, folder: str | os.PathLike, card: dict | None = None) -> Path:
    """Write ``model.skops`` (pipeline + :class:`BoundFields`) and ``card.json`` (+ ``CARD.md``)."""
    sio = skops_io()

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    bound = BoundFields(model.name, str(model.version), tuple(model.columns), float(model.threshold),
                        FEATURES_VERSION, model.calibration)
    sio.dump({"format": MODEL_FORMAT, "pipeline": model.pipeline, **bound.to_dict()}, out / MODEL_FILE)
    card = dict(model.card if card is None else card)
    card.pop("calibration", None)  # the model's own, if any, comes with the bound fields
    card.update({**bound.to_dict(), "block_run": BLOCK_RUN, "model_file": MODEL_FILE,
                 "model_sha256": sha256_file(out / MODEL_FILE)})
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, default=_json_default))
    (out / "CARD.md").write_text(card_markdown(card))
    model.card, model.path, model.sha256 = card, str(out), card["model_sha256"]
    return out


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _read_card(card_path: Path) -> dict:
    """The checked card: a JSON object with valid :class:`BoundFields` and a model hash."""
    regular_file(card_path, "model card", MAX_CARD_BYTES)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"unreadable model card {card_path}: {e}") from None
    bound = BoundFields.from_mapping(card, f"model card {card_path}")
    if bound.features_version != FEATURES_VERSION:
        raise ModelError(
            f"model {card_path.parent.name} was trained on features version {bound.features_version!r}, "
            f"this code computes version {FEATURES_VERSION!r}: retrain it with 'deepfake-detector train'")
    try:
        check_front_fraction(card, f"model {card_path.parent.name}", missing_ok=True)
    except ValueError as e:
        raise ModelError(f"{e}: retrain it with 'deepfake-detector train'") from None
    digest = card.get("model_sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ModelError(f"model card {card_path} has no valid 'model_sha256' (64 hex digits): refused")
    return card


def load_model(folder: str | os.PathLike | None = None) -> DetectorModel:
    """Load and verify a model folder (default: the shipped ``models/default``).

    Raises
    ------
    ModelError
        Missing or oversized files, a card that is not valid (fields missing or of the wrong
        type, no ``model_sha256``), a model file whose hash differs from its card, types
        outside :data:`TRUSTED_TYPES`, a card whose columns / threshold / name / calibration
        differ from the model file's, or a features version this code does not produce.
    """
    return load_checked(*check_files(folder))


def check_files(folder: str | os.PathLike | None) -> tuple[Path, dict, str]:
    """The checks of :func:`load_model` that need no skops: the model folder, its checked card
    and the SHA-256 of its model file (that of the card)."""
    folder = Path(folder) if folder else DEFAULT_MODEL_DIR
    if folder.is_file():
        folder = folder.parent
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    if not card_path.exists() or not model_path.exists():
        raise ModelError(f"no model at {folder} (need {CARD_FILE} and {MODEL_FILE})")
    card = _read_card(card_path)
    regular_file(model_path, "model file", MAX_MODEL_BYTES)
    digest = sha256_file(model_path)
    if digest != card["model_sha256"]:
        raise ModelError(f"model file {model_path} does not match the SHA-256 in its card (modified or corrupt)")
    return folder, card, digest


def load_checked(folder: Path, card: dict, digest: str, loaded: tuple[dict, str] | None = None) -> DetectorModel:
    """The rest of :func:`load_model`: the model file of a folder that passed :func:`check_files`
    (ModelError when it is refused).  ``loaded``: the file's contents and the SHA-256 of the bytes
    they came from, when they were loaded elsewhere (:meth:`detector.scoring.ScoringProcess.bundle`),
    checked the same way."""
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    bundle, loaded_digest = load_bundle(model_path) if loaded is None else loaded
    if loaded_digest != digest:
        raise ModelError(f"model file {model_path} changed while it was being loaded (its SHA-256 no longer "
                         "matches its card): refused")
    bound = BoundFields.from_mapping(bundle, f"model file {model_path}")
    if bound != BoundFields.from_mapping(card, f"model card {card_path}"):
        raise ModelError(f"model card {card_path} disagrees with {MODEL_FILE} on name, version, columns, "
                         "threshold, features version or calibration (edited card): refused")
    pipeline = bundle.get("pipeline")
    if not hasattr(pipeline, "decision_function"):
        raise ModelError(f"model file {model_path} holds no fitted classifier")
    n_in = getattr(pipeline, "n_features_in_", len(bound.columns))
    if n_in != len(bound.columns):
        raise ModelError(f"model file {model_path}: the pipeline reads {n_in} columns, its card names "
                         f"{len(bound.columns)}")
    return DetectorModel(pipeline, list(bound.columns), bound.threshold, bound.name or folder.name,
                         bound.version, card, str(folder), sha256=digest, calibration=bound.calibration)


def card_sampling(card: dict) -> str:
    """The frame sampling of a model card (its ``sampling``; :data:`detector.sampling.DEFAULT_SAMPLING`
    for cards made before samplings were recorded)."""
    return card.get("sampling") or DEFAULT_SAMPLING


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
