"""A model loaded in the background while the caller decodes and measures a video.

Loading the model file imports skops and scikit-learn (~1 s), most of ``inspect``'s start-up.
:func:`load_model_in_background` makes the checks of :func:`detector.model.load_model` that
need no skops at once (same errors) and loads the rest in a thread, or, with
``process=True``, in a child interpreter (:class:`detector.scoring.ScoringProcess`: those
imports then hold no GIL this process needs, and the model scores there);
:func:`detector.analysis.analyze` takes the :class:`PendingModel` and waits for it before
scoring.  ``inspect`` loads in the background only when it has a second core to run on, in a
child unless it writes a case report (whose explanations read the pipeline's steps).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .calibration import Calibration
from .columns import family_of
from .model import MODEL_FILE, DetectorModel, card_sampling, check_files, load_checked
from .scoring import ScoringProcess


class PendingModel:
    """A model being loaded in a background thread, while the caller decodes and measures.

    Made by :func:`load_model_in_background`: the checks that need no skops (files, card,
    SHA-256) are done when it is made; loading the model file (importing skops and
    scikit-learn, ~1 s, most of ``inspect``'s start-up) runs in a thread.  ``name``,
    ``sampling`` and ``families`` come from the checked card (which the model file must
    agree with); :meth:`result` waits for the model.
    """

    def __init__(self, folder: Path, card: dict, digest: str, process: bool | ScoringProcess = False):
        self.card, self.path = card, str(folder)
        self.name = card.get("name") or folder.name
        self._model: DetectorModel | None = None
        self._error: BaseException | None = None
        #: the child loading and scoring the model file (None: loaded in this process); one
        #: started before (``process``) if it loads this very file
        self.process = None
        if process:
            same = isinstance(process, ScoringProcess) and process.loads(folder / MODEL_FILE)
            self.process = process if same else ScoringProcess(folder / MODEL_FILE)
        self._thread = threading.Thread(target=self._load, args=(folder, card, digest), name="load-model",
                                        daemon=True)
        self._thread.start()

    def _load(self, folder: Path, card: dict, digest: str) -> None:
        try:
            if card.get("calibration"):  # checked with the card (and compared with the model file's below)
                # lir's import (~0.2 s) here, while a scoring process loads, not when the caller first needs an LR
                Calibration.from_mapping(card["calibration"]).llr([0.0])
            loaded = None if self.process is None else self.process.bundle()
            self._model = load_checked(folder, card, digest, loaded=loaded)
        except BaseException as e:  # raised by result(), in the caller's thread
            self._error = e

    @property
    def sampling(self) -> str:
        """The card's sampling (:attr:`DetectorModel.sampling`)."""
        return card_sampling(self.card)

    @property
    def families(self) -> tuple[str, ...]:
        """The families of the card's columns: :attr:`DetectorModel.families`, or more when the
        pipeline drops whole families (known only once it is loaded)."""
        return tuple(sorted({family_of(c) for c in self.card["columns"]}))

    @property
    def failed(self) -> bool:
        """Whether loading the model file failed (:meth:`result` raises); waits for it."""
        self._thread.join()
        return self._error is not None

    def close(self) -> None:
        """Stop the scoring process, if any (after the last score)."""
        if self.process is not None:
            self._thread.join()
            self.process.close()

    def result(self) -> DetectorModel:
        """The loaded model (waits for the thread); the :class:`~detector.model.ModelError` of
        :func:`~detector.model.load_model` when the model file is refused."""
        if self.failed:
            raise self._error
        return self._model


def load_model_in_background(folder: str | os.PathLike | None = None,
                             process: bool | ScoringProcess = False) -> PendingModel:
    """:func:`detector.model.load_model`, with the model file loaded in a thread, or with
    ``process`` in a child interpreter that then scores for the model
    (:class:`detector.scoring.ScoringProcess`; the model's explanations, which read the
    pipeline's steps, are not available then): ``process`` itself when it is one already
    loading this model file.

    Raises
    ------
    detector.model.ModelError
        At once, for what needs no skops (missing or oversized files, an invalid card, a model
        file whose hash differs from its card); the rest from :meth:`PendingModel.result`.
    """
    return PendingModel(*check_files(folder), process=process)
