"""The SVM model: a scikit-learn Pipeline saved safely, with its card.

A model folder ``models/<name>/`` holds
  - ``model.skops``: the file that carries the trust.  It holds, in skops format (loading
    never runs code: only skops' safe defaults plus the exact types of
    :data:`TRUSTED_TYPES` are accepted, no prefix that could cover a callable), the
    fitted Pipeline *and* every field that changes behaviour: name, version, feature
    columns, threshold, features version (:class:`BoundFields`).  Its SHA-256 is the
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

Scores follow the convention of :mod:`detector.evaluation`: higher = more likely fake;
the verdict is ``fake`` when ``score >= threshold``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
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
#: The types a model file may hold beyond skops' own safe defaults, by exact name: those
#: ``skops.io.get_untrusted_types`` reports for the pipelines ``train`` makes.  Anything
#: else (``builtins.exec``, ``os.system``...) is refused before loading.
TRUSTED_TYPES = frozenset({
    "detector.training.StatSelector",
    "detector.training.FamilyFusion",
    "numpy.dtype",
    "sklearn.feature_selection._univariate_selection.f_classif",
})
#: Format of the object inside ``model.skops``: a dict of the pipeline and :class:`BoundFields`.
MODEL_FORMAT = 2
#: Fingerprints (SHA-256 of ``model.skops``) of the models shipped in ``models/``.
SHIPPED_SHA256: dict[str, str] = {
    "default": "b09981abf8010e4d01a8a83e9e5ba40e71322eb94de478112f4eb9a420ffc97b",
    "reencoded": "279a53a4336c29332c5c59ad1ea4b4cf74226c4ce66f744b94a530725a1c5dc9",
}
#: Size limits read before parsing: a card is a small JSON file; a model file a small zip.
MAX_CARD_BYTES = 4 << 20
MAX_MODEL_BYTES = 64 << 20
MAX_MODEL_UNZIPPED_BYTES = 256 << 20


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
    sha256: str = ""  # of model.skops: the model's fingerprint (empty until saved or loaded)

    @property
    def shipped(self) -> bool:
        """Whether this is one of the models shipped with this code (by fingerprint)."""
        return bool(self.sha256) and self.sha256 in SHIPPED_SHA256.values()

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
        return {"name": self.name, "version": self.version, "path": self.path, "sha256": self.sha256,
                "shipped": self.shipped, "threshold": self.threshold, "features_version": self.card.get("features_version"),
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
        return cls(name, str(version), tuple(cols), float(t), str(d["features_version"]))

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "columns": list(self.columns),
                "threshold": self.threshold, "features_version": self.features_version}


def save_model(model: DetectorModel, folder: str | os.PathLike, card: dict | None = None) -> Path:
    """Write ``model.skops`` (pipeline + :class:`BoundFields`) and ``card.json`` (+ ``CARD.md``)."""
    import skops.io as sio  # heavy (imports every scikit-learn estimator): only when a model is saved

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    bound = BoundFields(model.name, str(model.version), tuple(model.columns), float(model.threshold),
                        FEATURES_VERSION)
    sio.dump({"format": MODEL_FORMAT, "pipeline": model.pipeline, **bound.to_dict()}, out / MODEL_FILE)
    card = dict(model.card if card is None else card)
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


def _regular_file(path: Path, what: str, max_bytes: int) -> int:
    """Size of ``path``, or ModelError when it is missing, not a regular file or too large."""
    try:
        st = path.stat()
    except OSError as e:
        raise ModelError(f"{what} {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelError(f"{what} {path} is not a regular file")
    if st.st_size > max_bytes:
        raise ModelError(f"{what} {path} is too large ({st.st_size} bytes, limit {max_bytes})")
    return st.st_size


def _read_card(card_path: Path) -> dict:
    """The checked card: a JSON object with valid :class:`BoundFields` and a model hash."""
    _regular_file(card_path, "model card", MAX_CARD_BYTES)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"unreadable model card {card_path}: {e}") from None
    bound = BoundFields.from_mapping(card, f"model card {card_path}")
    if bound.features_version != FEATURES_VERSION:
        raise ModelError(
            f"model {card_path.parent.name} was trained on features version {bound.features_version!r}, "
            f"this code computes version {FEATURES_VERSION!r}: retrain it with 'deepfake-detector train'")
    digest = card.get("model_sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ModelError(f"model card {card_path} has no valid 'model_sha256' (64 hex digits): refused")
    return card


def _check_zip(model_path: Path) -> None:
    """Refuse a model file that is not a zip or would unpack to more than the limit."""
    try:
        with zipfile.ZipFile(model_path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise ModelError(f"model file {model_path} is not a valid skops file: {e}") from None
    if total > MAX_MODEL_UNZIPPED_BYTES:
        raise ModelError(f"model file {model_path} unpacks to {total} bytes (limit {MAX_MODEL_UNZIPPED_BYTES})")


def _load_bundle(model_path: Path) -> dict:
    """The dict inside ``model.skops``, loaded only if every type in it is trusted."""
    import skops.io as sio  # heavy (imports every scikit-learn estimator): only when a model is loaded

    _check_zip(model_path)
    try:
        untrusted = sio.get_untrusted_types(file=model_path)
    except Exception as e:  # skops raises many types on malformed schemas
        raise ModelError(f"model file {model_path} is not a valid skops file: {_one_line(e)}") from None
    bad = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if bad:
        raise ModelError(f"model file {model_path} contains untrusted types, refused: {bad[:3]}")
    try:
        bundle = sio.load(model_path, trusted=list(untrusted))
    except Exception as e:
        raise ModelError(f"cannot load model file {model_path}: {_one_line(e)}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ModelError(f"model file {model_path} is not a format-{MODEL_FORMAT} model (pipeline with its "
                         "columns and threshold); re-save it with this version's 'deepfake-detector train'")
    return bundle


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def load_model(folder: str | os.PathLike | None = None) -> DetectorModel:
    """Load and verify a model folder (default: the shipped ``models/default``).

    Raises
    ------
    ModelError
        Missing or oversized files, a card that is not valid (fields missing or of the wrong
        type, no ``model_sha256``), a model file whose hash differs from its card, types
        outside :data:`TRUSTED_TYPES`, a card whose columns / threshold / name differ from
        the model file's, or a features version this code does not produce.
    """
    folder = Path(folder) if folder else DEFAULT_MODEL_DIR
    if folder.is_file():
        folder = folder.parent
    card_path, model_path = folder / CARD_FILE, folder / MODEL_FILE
    if not card_path.exists() or not model_path.exists():
        raise ModelError(f"no model at {folder} (need {CARD_FILE} and {MODEL_FILE})")
    card = _read_card(card_path)
    _regular_file(model_path, "model file", MAX_MODEL_BYTES)
    digest = sha256_file(model_path)
    if digest != card["model_sha256"]:
        raise ModelError(f"model file {model_path} does not match the SHA-256 in its card (modified or corrupt)")
    bundle = _load_bundle(model_path)
    bound = BoundFields.from_mapping(bundle, f"model file {model_path}")
    if bound != BoundFields.from_mapping(card, f"model card {card_path}"):
        raise ModelError(f"model card {card_path} disagrees with {MODEL_FILE} on name, version, columns, "
                         "threshold or features version (edited card): refused")
    pipeline = bundle.get("pipeline")
    if not hasattr(pipeline, "decision_function"):
        raise ModelError(f"model file {model_path} holds no fitted classifier")
    n_in = getattr(pipeline, "n_features_in_", len(bound.columns))
    if n_in != len(bound.columns):
        raise ModelError(f"model file {model_path}: the pipeline reads {n_in} columns, its card names "
                         f"{len(bound.columns)}")
    return DetectorModel(pipeline, list(bound.columns), bound.threshold, bound.name or folder.name,
                         bound.version, card, str(folder), sha256=digest)


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
