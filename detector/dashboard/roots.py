"""Which folders of the server the dashboard may scan or read: the operator's roots.

The operator names the roots in ``$DEEPFAKE_SCAN_ROOTS`` (folders separated by
``os.pathsep``, ``:`` on Linux) before starting the dashboard.  A path a visitor types
(a folder to scan, a results file, a video to inspect) is accepted only when it lies
inside a root once symlinks and ``..`` are resolved; with no roots, nothing is.

The scans started from the dashboard keep their databases and logs under a state folder:
``$DEEPFAKE_STATE_DIR``, else ``$XDG_STATE_HOME/deepfake-detector``
(``~/.local/state/deepfake-detector``), never the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable listing the folders the dashboard may scan or read.
SCAN_ROOTS_ENV = "DEEPFAKE_SCAN_ROOTS"
#: Environment variable naming the folder of the dashboard's scan databases and logs.
STATE_DIR_ENV = "DEEPFAKE_STATE_DIR"
NO_ROOTS = (f"No folder of this server is open to the dashboard. To scan or read files here, the operator "
            f"sets {SCAN_ROOTS_ENV} to the allowed folders (separated by '{os.pathsep}'), e.g. "
            f"`{SCAN_ROOTS_ENV}=/data/cases{os.pathsep}/srv/videos streamlit run app.py`.")


class RootError(ValueError):
    """A path outside the operator's roots, or no roots configured (one-line message)."""


def configured_roots(value: str | None = None) -> tuple[Path, ...]:
    """The operator's roots, resolved (symlinks followed, ``~`` expanded), without repeats.

    Parameters
    ----------
    value : str, optional
        ``os.pathsep``-separated folders; default ``$DEEPFAKE_SCAN_ROOTS``.  Empty
        entries are ignored; so is a relative one (it would depend on the server's
        working folder).
    """
    value = os.environ.get(SCAN_ROOTS_ENV, "") if value is None else value
    out: list[Path] = []
    for part in value.split(os.pathsep):
        p = Path(part.strip()).expanduser()
        if part.strip() and p.is_absolute():
            r = p.resolve()
            if r not in out:
                out.append(r)
    return tuple(out)


def check_under_roots(path: str | os.PathLike, roots: tuple[Path, ...] | list[Path]) -> Path:
    """``path`` resolved (symlinks and ``..``), when it lies in one of ``roots``.

    Parameters
    ----------
    path : str or PathLike
        Absolute, or relative to the server's working folder; ``~`` is expanded.
    roots : sequence of Path
        Resolved folders (:func:`configured_roots`); a root itself is inside.

    Returns
    -------
    Path
        The resolved path (it need not exist).

    Raises
    ------
    RootError
        No roots, or the resolved path is outside every root.
    """
    if not roots:
        raise RootError(NO_ROOTS)
    text = os.fspath(path)
    if "\x00" in text:
        raise RootError("a path cannot hold a NUL character")
    resolved = Path(text).expanduser().resolve()
    for root in roots:
        if resolved == root or root in resolved.parents:
            return resolved
    where = ", ".join(str(r) for r in roots)
    raise RootError(f"{resolved} is outside the folders this dashboard may read ({where}; set by the operator "
                    f"in {SCAN_ROOTS_ENV})")


def state_dir(value: str | None = None) -> Path:
    """Where the dashboard's scans keep their databases and logs (see the module docstring)."""
    value = os.environ.get(STATE_DIR_ENV, "") if value is None else value
    if value.strip():
        return Path(value.strip()).expanduser()
    base = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(base) / "deepfake-detector"
