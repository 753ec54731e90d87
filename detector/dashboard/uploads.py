"""Files to analyse: upload checks, temp copies, running an analysis on an upload or a path."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
import threading
import tomllib
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from ..analysis import Analysis, analyze
from ..decode import DEFAULT_FRAMES
from ..model import DetectorModel
from ..video import IMAGE_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, sha256_file
from .texts import human_size

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = ROOT / ".streamlit" / "config.toml"
DEFAULT_MAX_UPLOAD_MB = 200  # Streamlit's own default, used when the config has none
#: Suffixes an upload may have (no dot): every video and image suffix the analysis reads.
UPLOAD_TYPES = tuple(e.lstrip(".") for e in MEDIA_EXTENSIONS)
#: What the upload widget says it takes.
UPLOAD_LABEL = (f"Video ({', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}) "
                f"or image ({', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)})")


class UploadError(ValueError):
    """An upload refused before analysis (one-line, user-facing message)."""


def max_upload_mb(config_path: str | os.PathLike = CONFIG_PATH) -> int:
    """``server.maxUploadSize`` (MB) from ``.streamlit/config.toml``."""
    try:
        with open(config_path, "rb") as f:
            return int(tomllib.load(f).get("server", {}).get("maxUploadSize", DEFAULT_MAX_UPLOAD_MB))
    except (OSError, ValueError, TypeError):
        return DEFAULT_MAX_UPLOAD_MB


MAX_UPLOAD_MB = max_upload_mb()


def check_upload(name: str, size_bytes: int, limit_mb: int | None = None,
                 types: tuple[str, ...] = UPLOAD_TYPES) -> None:
    """Refuse an upload that is too large, empty or of an unsupported type.

    Raises
    ------
    UploadError
        With the message the page shows.
    """
    limit_mb = MAX_UPLOAD_MB if limit_mb is None else limit_mb
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in types:
        raise UploadError(f"'{Path(name).name}' is not a supported file type; "
                          f"use one of: {', '.join(types)}.")
    if size_bytes <= 0:
        raise UploadError(f"'{Path(name).name}' is empty (0 bytes).")
    if size_bytes > limit_mb * 1024 * 1024:
        raise UploadError(f"'{Path(name).name}' is {human_size(size_bytes)}, above the {limit_mb} MB upload limit "
                          f"(server.maxUploadSize in .streamlit/config.toml). Analyse large files with the "
                          f"command line: deepfake-detector inspect FILE.")


@dataclass(frozen=True)
class Source:
    """A file to analyse: uploaded bytes (``data``) or a file on this machine (``path``).

    ``name`` is what the user knows the file as; ``label`` says where it came from.
    """

    name: str
    data: bytes | None = None
    path: str | None = None
    label: str = "upload"

    @classmethod
    def from_path(cls, path: str | os.PathLike, label: str = "file") -> "Source":
        return cls(Path(path).name, None, str(path), label)


def source_sha256(src: Source) -> str:
    """SHA-256 of the source's bytes (the analysis cache key); '' for a missing path."""
    if src.data is not None:
        return hashlib.sha256(src.data).hexdigest()
    p = Path(src.path or "")
    return sha256_file(p) if p.is_file() else ""


def safe_filename(name: str, max_len: int = 100) -> str:
    """A file name safe to create in a temp folder, keeping the (lower-case) suffix."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "upload"
    suffix = re.sub(r"[^\w.]+", "", suffix)
    return stem[: max_len - len(suffix)] + suffix


@contextmanager
def materialize(src: Source) -> Iterator[Path]:
    """A path to the source's bytes: uploads go to a temp file with the original name
    and suffix, deleted on exit; path sources are used in place."""
    if src.data is None:
        yield Path(src.path or "")
        return
    with tempfile.TemporaryDirectory(prefix="deepfake-upload-") as d:
        p = Path(d) / safe_filename(src.name)
        p.write_bytes(src.data)
        yield p


def run_analysis(src: Source, model: DetectorModel | None, n_frames: int = DEFAULT_FRAMES,
                 progress: Callable[[int, int], None] | None = None) -> Analysis:
    """Analyse a source (temp copy for uploads) and keep face thumbnails for display.

    Raises
    ------
    detector.video.VideoError
        Unreadable input.  :class:`UploadError` for a missing path source.
    """
    if src.data is None and not Path(src.path or "").is_file():
        raise UploadError(f"file not found on this machine: {src.path}")
    with materialize(src) as path:
        a = analyze(path, model=model, n_frames=n_frames, thumbnails=True, progress=progress)
    return relabel(a, src)


def relabel(a: Analysis, src: Source) -> Analysis:
    """The analysis under the source's name (an upload's temp path is meaningless)."""
    path = src.path if src.data is None else src.name
    if a.info.name == src.name and a.info.path == path:
        return a
    return replace(a, info=replace(a.info, name=src.name, path=path))


class AnalysisStore:
    """The last ``max_entries`` analyses, shared by the dashboard's sessions, keyed by
    (file content SHA-256, model, frame count): a second look at a file is instant, in any
    session.  Each is kept pickled and :meth:`get` returns a fresh copy, so no session
    changes another's.  (Streamlit's ``st.cache_data`` would replay the progress bar a cached
    analysis drew into a page that no longer has it, and fail in every session but the first.)"""

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Analysis | None:
        with self._lock:
            blob = self._items.get(key)
            if blob is not None:
                self._items.move_to_end(key)
        return None if blob is None else pickle.loads(blob)

    def put(self, key: tuple, analysis: Analysis) -> None:
        blob = pickle.dumps(analysis, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._items[key] = blob
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
