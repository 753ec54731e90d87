"""Keep native libraries' chatter off the terminal.

FFmpeg, libpng, libjpeg and OpenCV write warnings about damaged input straight to file
descriptor 2, before the command can print its own one-line ``error:``.  :func:`quiet_stderr`
points descriptor 2 at ``/dev/null`` for the duration of a command (child processes, such
as scan workers, inherit it) while Python's ``sys.stderr`` keeps writing to the terminal,
so the command's own messages, progress and tracebacks still show.  ``--verbose`` on the
command line skips it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send what native code writes to fd 2 to ``/dev/null``; Python's ``sys.stderr`` and
    Python warnings are unaffected except that library warnings are ignored."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded): nothing to do
        yield
        return
    try:  # rebind sys.stderr only when it writes to fd 2 (not when a caller captured it)
        rebind = sys.stderr.fileno() == 2
    except (OSError, ValueError, AttributeError):
        rebind = False
    old_stderr = sys.stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        if rebind:
            sys.stderr = os.fdopen(saved, "w", buffering=1, closefd=False, errors="backslashreplace",
                                   encoding=getattr(old_stderr, "encoding", None) or "utf-8")
        os.dup2(devnull, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        sys.stderr = old_stderr
        os.close(devnull)
        os.close(saved)
