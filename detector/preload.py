"""A model loaded in a background thread while the caller decodes and measures a video.

Loading the model file imports skops and scikit-learn (~1 s), most of ``inspect``'s start-up;
PyAV, OpenCV and NumPy release the GIL while the first frames are decoded and measured, so
the two overlap.  :func:`load_model_in_background` makes the checks of
:func:`detector.model.load_model` that need no skops at once (same errors), and loads the rest
in a thread; :func:`detector.analysis.analyze` takes the :class:`PendingModel` and waits for it
before scoring.  Both threads need the GIL for most of their work: ``inspect`` loads in the
background only when it has a second core to run on.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .features import family_of
from .model import DetectorModel, card_sampling, check_files, load_checked


class PendingModel:
    """A model being loaded in a background thread, while the caller decodes and measures.

    Made by :func:`load_model_in_background`: the checks that need no skops (files, card,
    SHA-256) are done when it is made; loading the model file (importing skops and
    scikit-learn, ~1 s, most of ``inspect``'s start-up) runs in a thread.  ``name``,
    ``sampling`` and ``families`` come from the checked card (which the model file must
    agree with); :meth:`result` waits for the model.
    """

    def __init__(self, folder: Path, card: dict, digest: str):
        self.card, self.path = card, str(folder)
        self.name = card.get("name") or folder.name
        self._model: DetectorModel | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(folder, card, digest), name="load-model",
                                        daemon=True)
        self._thread.start()

    def _load(self, *checked) -> None:
        try:
            model = load_checked(*checked)
            if model.calibration is not None:
                model.llr([0.0])  # imports lir (~0.2 s) here too, not when the caller first needs an LR
            self._model = model
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

    def result(self) -> DetectorModel:
        """The loaded model (waits for the thread); the :class:`~detector.model.ModelError` of
        :func:`~detector.model.load_model` when the model file is refused."""
        if self.failed:
            raise self._error
        return self._model


def load_model_in_background(folder: str | os.PathLike | None = None) -> PendingModel:
    """:func:`detector.model.load_model`, with the model file loaded in a thread.

    Raises
    ------
    detector.model.ModelError
        At once, for what needs no skops (missing or oversized files, an invalid card, a model
        file whose hash differs from its card); the rest from :meth:`PendingModel.result`.
    """
    return PendingModel(*check_files(folder))
