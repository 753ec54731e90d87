"""What a model file may hold, skops imported to trust exactly that, and the model file loaded.

skops trusts every scikit-learn estimator by default and builds that list, when it is first
imported, by importing them all (~1 s; Dask and pytest come along through scikit-learn's
array-API shims and test helpers).  :func:`skops_io` imports it listing only the estimators
``train`` builds (:data:`SKLEARN_TYPES`); :mod:`detector.model` accepts beyond skops' other
defaults only :data:`TRUSTED_TYPES`.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import stat
import sys
import zipfile
from pathlib import Path

#: The types a model file may hold beyond skops' own safe defaults, by exact name: those
#: ``skops.io.get_untrusted_types`` reports for the pipelines ``train`` makes.  Anything
#: else (``builtins.exec``, ``os.system``...) is refused before loading.
TRUSTED_TYPES = frozenset({
    "detector.estimators.StatSelector",
    "detector.estimators.FamilyFusion",
    "numpy.dtype",
    "sklearn.feature_selection._univariate_selection.f_classif",
})
#: The scikit-learn estimators the pipelines of ``train`` are made of (:func:`detector.search.make_pipeline`;
#: :class:`detector.estimators.FamilyFusion` holds such pipelines), by exact name: :func:`skops_io`
#: makes skops trust these and no other scikit-learn estimator.
SKLEARN_TYPES = frozenset({
    "sklearn.feature_selection._univariate_selection.SelectKBest",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
})
#: Modules skops imports only to trust more scikit-learn internals (the gradient-boosting binner,
#: whose import loads all of ``sklearn.ensemble``, ~0.1-0.2 s): hidden while skops is imported, as
#: when they are missing (skops then trusts none of their types; no model of ``train`` has one).
_SKOPS_SKIPPED = ("sklearn.ensemble._hist_gradient_boosting.binning",)


def skops_io():
    """``skops.io``, imported (once per process) with scikit-learn's ``all_estimators`` giving only
    :data:`SKLEARN_TYPES` and the modules of :data:`_SKOPS_SKIPPED` hidden: skops builds its default
    trusted list from them when it is first imported.  When something imported ``skops.io`` before,
    that import stands (it trusts more estimators)."""
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    import sklearn.utils  # heavy (scipy.stats): only when a model is loaded or saved

    def estimators(*args, **kwargs) -> list[tuple[str, type]]:
        out = []
        for name in sorted(SKLEARN_TYPES):
            module, _, cls = name.rpartition(".")
            out.append((cls, getattr(importlib.import_module(module), cls)))
        return out

    everything = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = estimators
    hidden = [m for m in _SKOPS_SKIPPED if m not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None: importing it raises ImportError, which skops expects
    try:
        import skops.io  # heavy (scipy.special's ufuncs listed by name): only when a model is loaded or saved
    finally:
        sklearn.utils.all_estimators = everything
        for m in hidden:
            sys.modules.pop(m, None)
    return skops.io


#: The shipped default model's folder, and a model folder's model file.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
MODEL_FILE = "model.skops"
#: Format of the object inside ``model.skops``: a dict of the pipeline and
#: :class:`detector.model.BoundFields`.
MODEL_FORMAT = 2
#: A model file is a small zip: refused when it is larger than this, or would unpack to more.
MAX_MODEL_BYTES = 64 << 20
MAX_MODEL_UNZIPPED_BYTES = 256 << 20


class ModelError(Exception):
    """A model that cannot be loaded or used (one-line, user-facing message)."""


def regular_file(path: Path, what: str, max_bytes: int) -> int:
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


def _check_zip(data: bytes, model_path: Path) -> None:
    """Refuse a model file that is not a zip or would unpack to more than the limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = sum(i.file_size for i in z.infolist())
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise ModelError(f"model file {model_path} is not a valid skops file: {e}") from None
    if total > MAX_MODEL_UNZIPPED_BYTES:
        raise ModelError(f"model file {model_path} unpacks to {total} bytes (limit {MAX_MODEL_UNZIPPED_BYTES})")


def load_bundle(model_path: Path) -> tuple[dict, str]:
    """The dict inside ``model.skops``, loaded only if every type in it is trusted
    (:data:`TRUSTED_TYPES` beyond skops' safe defaults; ModelError otherwise), and the SHA-256
    of the bytes it was loaded from: the file is read once, so the caller's comparison with the
    card's hash holds for what was loaded, even if the file changes meanwhile."""
    sio = skops_io()
    regular_file(model_path, "model file", MAX_MODEL_BYTES)
    try:
        data = model_path.read_bytes()
    except OSError as e:
        raise ModelError(f"model file {model_path}: {e.strerror or e}") from None
    _check_zip(data, model_path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as e:  # skops raises many types on malformed schemas
        raise ModelError(f"model file {model_path} is not a valid skops file: {one_line(e, first=True)}") from None
    bad = sorted(t for t in untrusted if t not in TRUSTED_TYPES)
    if bad:
        raise ModelError(f"model file {model_path} contains untrusted types, refused: {bad[:3]}")
    try:
        bundle = sio.loads(data, trusted=list(untrusted))
    except Exception as e:
        raise ModelError(f"cannot load model file {model_path}: {one_line(e, first=True)}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ModelError(f"model file {model_path} is not a format-{MODEL_FORMAT} model (pipeline with its "
                         "columns and threshold); re-save it with this version's 'deepfake-detector train'")
    return bundle, hashlib.sha256(data).hexdigest()


def one_line(e: BaseException, first: bool = False) -> str:
    """The message of ``e`` on one line: its lines joined by spaces, or with ``first`` its first
    line alone (a long library message); its type's name when it has none."""
    lines = str(e).strip().splitlines()
    text = (lines[0] if lines else "") if first else " ".join(str(e).split())
    return text or type(e).__name__
