"""Dataset manifests: reading, checking and writing the CSV that lists labelled videos.

A *manifest* is a CSV file with one row per video and the columns

``path``
    Video file, relative to the manifest's folder or absolute.
``label``
    ``real`` or ``fake``.
``group``
    Leakage unit: videos sharing a group must never be split between
    training and test data (same source video, same identity, ...).
``method``
    Manipulation method (``Deepfakes``, ``celeb-synthesis``, ...), or the
    origin of a real video (``original-youtube``, ``celeb-real``, ...).
``compression``
    ``raw``, ``c23``, ``c40``, ``hq``, ``lq`` or ``unknown``.
``dataset``
    Source dataset (``ffpp``, ``celebdf``, ``dfdc``, ``dftimit``, ...).

Any other columns (``split``, ``original_id``, ...) are kept.  In memory a
manifest is a :class:`pandas.DataFrame` with the same columns plus
``abs_path``, the absolute path of the video as a string.

The adapters that list a public dataset in its own folder layout as such a frame are
in :mod:`detector.layouts`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "STANDARD_COLUMNS",
    "LABEL_COLUMNS",
    "ManifestProblem",
    "normalize_label",
    "read_manifest",
    "write_manifest",
    "fill_defaults",
]

#: What a manifest says about a video besides its path; a video made from another (a
#: re-encoded copy) takes these from its source.
LABEL_COLUMNS = ["label", "group", "method", "compression", "dataset"]
#: The columns of a manifest, in order; tables of videos (features, scores) carry those a manifest has.
STANDARD_COLUMNS = ["path", *LABEL_COLUMNS]

_REAL_LABELS = {"real", "0", "genuine", "original", "bonafide", "bona fide", "bona-fide"}
_FAKE_LABELS = {"fake", "1", "manipulated", "deepfake", "spoof", "attack"}


@dataclass(frozen=True)
class ManifestProblem:
    """A manifest row that was dropped.

    Attributes
    ----------
    row : int
        0-based index of the data row in the CSV (header excluded), or of the
        entry in the adapter's listing.
    path : str
        The path as written in the manifest.
    reason : str
        Why the row was dropped.
    """

    row: int
    path: str
    reason: str


def normalize_label(value: object) -> str | None:
    """Map a label to ``"real"`` or ``"fake"``; return None if not recognised.

    Accepts ``0``/``1`` (also as strings or floats, ``1`` = fake) and,
    case-insensitively, real / genuine / original / bonafide and
    fake / manipulated / deepfake / spoof / attack.
    """
    if isinstance(value, str):
        text = value.strip().lower()
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        return {0.0: "real", 1.0: "fake"}.get(number)
    if text in ("0.0", "1.0"):
        text = text[0]
    if text in _REAL_LABELS:
        return "real"
    if text in _FAKE_LABELS:
        return "fake"
    return None


# --------------------------------------------------------------------------
# Reading and writing manifests
# --------------------------------------------------------------------------


def read_manifest(path: str | os.PathLike, check_files: bool = True) -> pd.DataFrame:
    """Read a manifest CSV.

    Parameters
    ----------
    path : str or path-like
        The CSV file. It needs the columns ``path`` and ``label``; ``group``,
        ``method``, ``compression`` and ``dataset`` are optional, other
        columns are kept as strings.
    check_files : bool, default True
        Drop rows whose video file does not exist.

    Returns
    -------
    pandas.DataFrame
        Standard columns, then ``abs_path``, then any other columns. Relative
        paths are resolved against the manifest's folder. Labels are
        normalised to ``real``/``fake``. Missing or empty optional values are
        filled: ``group`` with the file stem (each video its own group),
        the others with ``"unknown"``. Bad rows (empty path, unknown label,
        missing file) are dropped and listed in ``df.attrs["problems"]`` as
        dicts ``{row, path, reason}`` (see :class:`ManifestProblem`).

    Raises
    ------
    ValueError
        If the file does not exist or lacks the ``path``/``label`` columns.
    """
    manifest = Path(path).expanduser()
    if not manifest.is_file():
        raise ValueError(f"manifest not found: {manifest}")
    raw = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    missing = [c for c in ("path", "label") if c not in raw.columns]
    if missing:
        raise ValueError(
            f"manifest {manifest} lacks required column(s) {missing}; "
            f"found {list(raw.columns)}"
        )
    keep, abs_paths, labels, problems = _check_rows(raw, manifest.parent.absolute(), check_files)
    df = raw.iloc[keep].reset_index(drop=True)
    df["path"] = df["path"].str.strip()
    df["label"] = labels
    df["abs_path"] = pd.Series(abs_paths, dtype=object)
    df = fill_defaults(df)
    df.attrs["problems"] = [asdict(p) for p in problems]
    return df


def _check_rows(raw: pd.DataFrame, base: Path, check_files: bool
                ) -> tuple[list[int], list[str], list[str], list[ManifestProblem]]:
    """The rows of a manifest's ``raw`` CSV table to keep (their indices, absolute paths
    against ``base`` and normalised labels) and the problems of the others."""
    keep, abs_paths, labels, problems = [], [], [], []
    for i, (p, lab) in enumerate(zip(raw["path"], raw["label"])):
        p = p.strip()
        reasons = []
        label = normalize_label(lab)
        if label is None:
            reasons.append(f"unknown label {lab!r}")
        full = ""
        if not p:
            reasons.append("empty path")
        else:
            full = _absolute(p, base)
            if check_files and not os.path.isfile(full):
                reasons.append("file not found")
        if reasons:
            problems.append(ManifestProblem(i, p, "; ".join(reasons)))
            continue
        keep.append(i)
        abs_paths.append(full)
        labels.append(label)
    return keep, abs_paths, labels, problems


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a manifest CSV.

    Parameters
    ----------
    df : pandas.DataFrame
        A manifest frame (from :func:`read_manifest` or an adapter). The
        video location is taken from ``abs_path`` if present, else ``path``
        (relative ``path`` values are then written unchanged).
    path : str or path-like
        Destination CSV; parent folders are created.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    Paths inside the manifest's folder are written relative to it (with ``/``
    separators), others stay absolute. The standard columns come first, then
    any other columns of ``df`` except ``abs_path``. Missing optional
    columns are filled as in :func:`read_manifest`.
    """
    for col in ("path", "label"):
        if col not in df.columns:
            raise ValueError(f"manifest frame lacks required column {col!r}")
    labels = [normalize_label(v) for v in df["label"]]
    bad = [v for v, lab in zip(df["label"], labels) if lab is None]
    if bad:
        raise ValueError(f"unknown label(s) {sorted(set(map(str, bad)))[:5]}")
    dest = Path(path).expanduser().absolute()
    base = dest.parent
    source = df["abs_path"] if "abs_path" in df.columns else df["path"]
    out = fill_defaults(df.drop(columns=["abs_path"], errors="ignore").copy())
    out["label"] = labels
    out["path"] = [_relative_if_inside(str(p), base) for p in source]
    extra = [c for c in out.columns if c not in STANDARD_COLUMNS]
    base.mkdir(parents=True, exist_ok=True)
    out[STANDARD_COLUMNS + extra].to_csv(dest, index=False)
    return dest


def _absolute(p: str, base: Path) -> str:
    expanded = os.path.expanduser(p)
    if not os.path.isabs(expanded):
        expanded = os.path.join(base, expanded)
    return os.path.abspath(expanded)


def _relative_if_inside(p: str, base: Path) -> str:
    if not os.path.isabs(p):
        return p
    try:
        return Path(p).relative_to(base).as_posix()
    except ValueError:
        return p


def fill_defaults(df: pd.DataFrame) -> pd.DataFrame:
    """Add/fill the optional standard columns of a manifest frame (``group``: the file
    stem; the others: ``"unknown"``) and put the standard columns first."""
    stems = [Path(str(p)).stem for p in df["path"]]
    if "group" not in df.columns:
        df["group"] = stems
    else:
        empty = df["group"].isna() | (df["group"].astype(str).str.strip() == "")
        df.loc[empty, "group"] = [s for s, e in zip(stems, empty) if e]
    for col in ("method", "compression", "dataset"):
        if col not in df.columns:
            df[col] = "unknown"
        else:
            empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
            df.loc[empty, col] = "unknown"
    first = STANDARD_COLUMNS + (["abs_path"] if "abs_path" in df.columns else [])
    return df[first + [c for c in df.columns if c not in first]]
