"""Scoring in a child process: the model file loaded by another interpreter.

Loading ``model.skops`` imports scikit-learn, scipy and skops (~1 s of pure Python, most of
``inspect``'s start-up).  In a thread it would hold the GIL that measuring the video needs
too; a child interpreter runs it on another core.  :class:`ScoringProcess` starts one that
loads the file with the same checks (:func:`detector.trust.load_bundle`) while the caller
decodes and measures; :meth:`ScoringProcess.bundle` then returns the model file's fields with
a :class:`RemotePipeline` in place of the pipeline, which :func:`detector.model.load_checked`
checks against the card as it checks a pipeline loaded in process.  Each
``decision_function`` call sends the rows to the child and returns its scores.

The child imports only :mod:`detector.trust`, :mod:`detector.estimators` and what they need
(no OpenCV, PyAV or the analysis), dies with its parent (``PR_SET_PDEATHSIG``) and exits
when its pipe closes.  This module imports no NumPy (the rows and scores are NumPy arrays,
pickled), so that :mod:`detector.launch` can start the child within ~30 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from .trust import ModelError, load_bundle, one_line
from .workers import child_env

#: The child's first statements: die with the parent before the seconds of imports, then serve.
_BOOT = """import sys
from detector.workers import die_with_parent
die_with_parent(int(sys.argv[1]))
from detector.scoring import serve
serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
"""


def messages(conn: Connection) -> Iterator:
    """The objects received on ``conn``, until it closes or None arrives (the sender's stop)."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        yield msg


def score_reply(pipeline, rows, where: str) -> tuple:
    """``("scores", pipeline.decision_function(rows))``, or ``("error", message)`` naming
    ``where`` it failed: what a process holding a pipeline answers a request to score."""
    try:
        return "scores", pipeline.decision_function(rows)
    except Exception as e:  # the requester raises it as a ModelError
        return "error", f"scoring failed in {where}: {one_line(e, first=True)}"


class WithoutPackages:
    """An import hook under which ``import`` of the named top-level packages fails
    (``ModuleNotFoundError``), as if they were not installed.

    The scoring process installs it for pandas: scikit-learn treats pandas as optional, but
    imports it at its own start-up when it is installed (``sklearn.utils.fixes``: ~0.25 s of
    the child's ~1.5 s), and a pipeline scoring NumPy rows never uses it.  Without it
    scikit-learn takes its no-pandas paths; the scores are the same, bit for bit
    (tests/test_startup.py)."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    def find_spec(self, name: str, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (left out of this process)", name=name)
        return None


def serve(fd_in: int, fd_out: int, model_path: str) -> None:
    """The child: load ``model_path``, send ``("loaded", fields)`` or ``("error", message)``,
    then answer each array received with ``("scores", decision_function(array))`` (or
    ``("error", message)``) until the pipe closes or None arrives.  pandas is left out of the
    process (:class:`WithoutPackages`)."""
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, WithoutPackages("pandas"))
    requests, replies = Connection(fd_in, writable=False), Connection(fd_out, readable=False)
    try:
        bundle, digest = load_bundle(Path(model_path))
    except ModelError as e:
        replies.send(("error", str(e)))
        return
    pipeline = bundle.pop("pipeline", None)
    replies.send(("loaded", {"fields": bundle, "sha256": digest, "classifier": hasattr(pipeline, "decision_function"),
                             "n_features_in": getattr(pipeline, "n_features_in_", None)}))
    for rows in messages(requests):
        replies.send(score_reply(pipeline, rows, "the model process"))


class RemotePipeline:
    """A fitted pipeline that lives in another process: ``decision_function`` sends the rows
    to ``scorer`` (anything with ``request(rows) -> scores``: a :class:`ScoringProcess`, or a
    scan worker's link to its parent, :mod:`detector.scan.local_pool`) and returns its scores.
    ``n_features_in_`` is the fitted pipeline's, when it has one; ``support``, when given, the
    boolean mask of the input columns that reach its classifier (what
    :func:`detector.model.columns_into` reads through ``get_support``), so that the features a
    model needs are known without its steps."""

    def __init__(self, scorer, n_features_in: int | None, support=None):
        self._scorer = scorer
        if n_features_in is not None:
            self.n_features_in_ = n_features_in
        if support is not None:  # only then has it a get_support, as a selector
            self._support = [bool(v) for v in support]
            self.get_support = self._get_support

    def _get_support(self) -> list[bool]:
        return list(self._support)

    def decision_function(self, rows):
        """The pipeline's ``decision_function`` of ``rows`` (a NumPy array), computed where it lives."""
        return self._scorer.request(rows)


class ScoringProcess:
    """A child interpreter loading ``model_path`` (checked there as in process) and scoring rows."""

    def __init__(self, model_path: str | os.PathLike):
        self.path = str(model_path)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(os.getpid()), str(req_r), str(rep_w), self.path],
                pass_fds=(req_r, rep_w), env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            os.close(req_r)
            os.close(rep_w)
        self._requests, self._replies = Connection(req_w, readable=False), Connection(rep_r, writable=False)
        self._loaded: dict | None = None

    def loads(self, model_path: str | os.PathLike) -> bool:
        """Whether this process loads ``model_path`` (the same file, however named)."""
        try:
            return os.path.samefile(self.path, model_path)
        except OSError:
            return False

    def _reply(self, what: str):
        try:
            kind, value = self._replies.recv()
        except (EOFError, OSError):
            code = self._proc.wait()
            raise ModelError(f"the model process ended (exit code {code}) while {what} {self.path}") from None
        if kind == "error":
            raise ModelError(value)
        return value

    def bundle(self) -> tuple[dict, str]:
        """What :func:`detector.trust.load_bundle` returns: the model file's fields, with a
        :class:`RemotePipeline` as ``pipeline`` (None when the file holds no classifier), and the
        SHA-256 of the bytes the child loaded; waits for the child to load them.  ModelError with
        the child's message when it refused the file."""
        if self._loaded is None:
            self._loaded = self._reply("loading")
        info = self._loaded
        pipeline = RemotePipeline(self, info["n_features_in"]) if info["classifier"] else None
        return {**info["fields"], "pipeline": pipeline}, info["sha256"]

    def request(self, rows):
        """The child's ``decision_function`` of ``rows``."""
        self.bundle()
        try:
            self._requests.send(rows)
        except OSError:
            pass  # the child is gone: _reply says how
        return self._reply("scoring with")

    def close(self, wait: bool = False) -> None:
        """Ask the child to stop (it also stops when this process exits); again: nothing.
        ``wait``: until it has exited (else its exit, ~0.1 s of interpreter shutdown, is not waited for)."""
        if self._requests.closed:
            return
        try:
            self._requests.send(None)
        except OSError:
            pass
        self._requests.close()
        self._replies.close()
        if wait:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
