"""Finding the files to scan: folders, files and lists of paths expanded into paths.

Folders are walked recursively, following symlinks; a directory already visited (by
device and inode) is not entered again, so symlink loops end the walk instead of
hanging it.  A file named as an input is taken whatever its extension; in folders,
files with a video or image extension of :mod:`detector.video` are kept and the others
counted as ignored.  ``.txt`` / ``.csv`` lists hold one path per line / a ``path``
column; relative paths are relative to the list's folder.

File names are ``str`` as :mod:`os` gives them: a name that is not valid UTF-8 holds
surrogate escapes (``os.fsdecode``), and lists are read the same way, so every name
on disk can be scanned.

:func:`unscannable` says why a path found here cannot be analysed (missing, a symlink
loop, a FIFO...), from its ``os.stat`` outcome.
"""

from __future__ import annotations

import csv
import errno
import os
import stat
from dataclasses import dataclass, field

from ..video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

#: File types that are not regular files, as named in a failed row's reason.
_FILE_TYPES = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
               (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


@dataclass
class Discovery:
    """What the inputs expand to: ``paths`` to scan (absolute, in order, unique),
    ``missing`` paths that do not exist, ``ignored`` files with other extensions in
    folders, ``loops`` directories not entered again (symlink loops / repeats)."""

    paths: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ignored: int = 0
    loops: int = 0


def media_extensions() -> tuple[str, ...]:
    """The extensions scanned in folders: :mod:`detector.video`'s videos and images."""
    return tuple(VIDEO_EXTENSIONS) + tuple(IMAGE_EXTENSIONS)


def discover(inputs, extensions: tuple[str, ...] | None = None) -> Discovery:
    """Expand folders, files and ``.txt``/``.csv`` lists into the files to scan.

    Parameters
    ----------
    inputs : iterable of str or path-like
        Folders, files and lists.
    extensions : tuple of str, optional
        Extensions (with the dot, any case) kept in folders; default :func:`media_extensions`.

    Raises
    ------
    ValueError
        A ``.csv`` list without a ``path`` column.
    """
    exts = tuple(e.lower() for e in (extensions or media_extensions()))
    out = Discovery()
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def add(p: str) -> None:
        if p not in seen_files:
            seen_files.add(p)
            out.paths.append(p)

    def one(entry: str, base: str | None, allow_lists: bool) -> None:
        p = os.path.abspath(os.path.join(base, entry) if base else entry)
        if os.path.isdir(p):
            _walk(p, exts, seen_dirs, add, out)
        elif allow_lists and p.lower().endswith((".txt", ".csv")) and os.path.isfile(p):
            for e in _read_list(p):
                one(e, os.path.dirname(p), allow_lists=False)
        elif os.path.lexists(p):
            add(p)  # a named file is scanned whatever its extension (a broken symlink fails later)
        elif p not in out.missing:
            out.missing.append(p)

    for i in inputs:
        one(os.fsdecode(i), None, allow_lists=True)
    return out


def _read_list(path: str) -> list[str]:
    # surrogateescape: a listed name that is not valid UTF-8 is read as os.listdir would give it
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            reader = csv.DictReader(f)
            if "path" not in (reader.fieldnames or []):
                raise ValueError(f"list {path} has no 'path' column (columns: {reader.fieldnames})")
            return [r["path"].strip() for r in reader if (r.get("path") or "").strip()]
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as f:
        return [s.strip() for s in f if s.strip() and not s.lstrip().startswith("#")]


def _walk(root: str, exts, seen_dirs: set, add, out: Discovery) -> None:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # reached again (a repeated input): walk no further
            out.loops += 1
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        keep = []
        for d in sorted(dirnames):
            try:
                s = os.stat(os.path.join(dirpath, d))
            except OSError:  # broken directory symlink
                continue
            if (s.st_dev, s.st_ino) in seen_dirs:  # a symlink back up the tree (loop) or to a walked folder
                out.loops += 1
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.lower().endswith(exts):
                add(os.path.join(dirpath, name))
            else:
                out.ignored += 1


def stat_or_error(path: str) -> os.stat_result | OSError | ValueError:
    """``os.stat(path)`` (following symlinks), or the error it raised (ValueError: a name
    the system refuses, e.g. with a NUL byte)."""
    try:
        return os.stat(path)
    except (OSError, ValueError) as e:
        return e


def unscannable(path: str, st: os.stat_result | OSError | ValueError) -> str | None:
    """Why ``path`` cannot be analysed, given :func:`stat_or_error` of it; None for a regular file.

    The reason is one line naming the problem: ``file not found (broken symlink)``,
    ``symlink loop``, ``not a regular file (FIFO)``, ``cannot read: Permission denied``...
    """
    if isinstance(st, ValueError):
        return f"invalid file name: {st}"
    if isinstance(st, OSError):
        if st.errno == errno.ELOOP:
            return "symlink loop"
        if st.errno == errno.ENOENT:
            return "file not found" + (" (broken symlink)" if os.path.islink(path) else "")
        return f"cannot read: {st.strerror or st}"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = next((name for test, name in _FILE_TYPES if test(st.st_mode)), "unknown type")
    return f"not a regular file ({kind})"
