"""The command line's entry point (``deepfake-detector``, ``python -m detector``).

``inspect`` on a machine with a second core scores in a child interpreter
(:class:`detector.scoring.ScoringProcess`), which needs ~1 s to import scikit-learn and load
the model file.  Started here, before the command line's own imports (~0.4 s: OpenCV, PyAV,
pandas), it is ready that much sooner.  :func:`detector.cli.main` hands it to ``inspect`` when
``inspect`` asks for the same model file, and stops it in any case.  The command line is
peeked at, not parsed: an option spelled otherwise (``--mod``) only means the child started
here goes unused.

:func:`run`, the process's entry point, also ends an ``inspect`` process at once when its
output is written (``os._exit`` after flushing): the interpreter's teardown, freeing OpenCV,
PyAV and pandas, takes another ~0.1-0.2 s.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .scoring import ScoringProcess
from .trust import DEFAULT_MODEL_DIR, MODEL_FILE
from .workers import default_workers


def _command(argv: list[str]) -> str | None:
    """The command of a command line: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def early_model_file(argv: list[str]) -> Path | None:
    """The model file an ``inspect`` command line will load in a scoring process (the default
    model's, or ``--model``'s), or None: another command, a case report (loaded in process), help,
    one core, or no such file."""
    if _command(argv) != "inspect" or default_workers() < 2 or any(
            a in ("-h", "--help", "--report") or a.startswith("--report=") for a in argv):
        return None
    folder = DEFAULT_MODEL_DIR
    for i, a in enumerate(argv):
        if a == "--model" and i + 1 < len(argv):
            folder = Path(argv[i + 1])
        elif a.startswith("--model="):
            folder = Path(a.split("=", 1)[1])
    path = (folder.parent if folder.is_file() else folder) / MODEL_FILE
    return path if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """:func:`detector.cli.main`, with ``inspect``'s scoring process started first."""
    argv = list(sys.argv[1:] if argv is None else argv)
    path = early_model_file(argv)
    scoring = ScoringProcess(path) if path is not None else None
    from .cli import main as cli_main  # after the child started: these imports are what it overlaps

    return cli_main(argv, scoring=scoring)


def run() -> None:
    """The process's entry point: :func:`main`, then exit; ``inspect`` without the interpreter's
    teardown (everything it writes is written and flushed when :func:`main` returns)."""
    argv = sys.argv[1:]
    rc = main(argv)
    if _command(argv) == "inspect":
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):  # a reader that stopped early, a closed stream
                pass
        os._exit(rc)
    sys.exit(rc)
