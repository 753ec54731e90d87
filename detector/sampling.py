"""Which frames of a video are sampled: evenly spread, runs starting at keyframes, or spread
over the fronts of the keyframe intervals.

Three samplings of ``n`` samples, each sample with the ``run - 1`` frames right after it
(the block features average over runs of consecutive frames, the landmark kinematics and
the flicker read the following frames too):

``"spread"``
    The samples at the centres of ``n`` equal segments of the video
    (:func:`sample_indices`).  The decoder has to run through the whole video to reach them
    (it skips only the frames nothing refers to).
``"runs"``
    Runs of consecutive frames starting at keyframes, designed around the bitstream
    (:func:`plan_runs`): the keyframe before each of the ``n`` spread positions is found by
    seeking; samples that share a keyframe get their runs back to back after it (frames
    k .. k + run - 1 the first sample and its followers, k + run .. k + 2 run - 1 the
    second, ...).  The decoder then reads each keyframe and the few frames of its runs and
    seeks over everything between, so a video with a keyframe per spread position decodes
    ``n x run`` frames, and a video with one keyframe decodes its first ``n x run`` frames.
    A video of at most ``n x run`` frames is decoded whole anyway and sampled spread.
``"front"``
    The samples spread evenly over the union of the first :data:`FRONT_FRACTION` of each
    keyframe interval (:func:`plan_front`; a video with one keyframe: its first quarter).  The
    decoder finds the keyframes by reading the packets (no decoding), decodes each interval
    from its keyframe to its last sample's followers and seeks to the next keyframe, so it
    decodes about ``FRONT_FRACTION`` of the reference frames while the samples still come
    from every part of the video.  The fronts are widened (the same share of every interval)
    until they hold ``n x run`` frames, so its runs never overlap; a video of at most
    ``n x run`` frames is sampled spread instead, where runs overlap when the samples are fewer
    than ``run`` frames apart (32 samples of a 120-frame clip: 3-4 frames apart).

Features are measured the same way on either sampling; a model is trained on one and
scores only features of the same sampling (:func:`check_sampling`).
"""

from __future__ import annotations

import numpy as np

#: The samplings, the default first.
SAMPLINGS = ("spread", "runs", "front")
#: The sampling used when none is asked for, and assumed of features and models that do not
#: record theirs (everything made before ``"runs"`` existed).
DEFAULT_SAMPLING = SAMPLINGS[0]
#: The share of each keyframe interval that the ``"front"`` sampling samples (and decodes).
FRONT_FRACTION = 0.25


def check_sampling(sampling: str) -> str:
    """``sampling`` if it names one of :data:`SAMPLINGS`, else ValueError."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; known: {', '.join(SAMPLINGS)}")
    return sampling


def sampling_setting(sampling: str) -> dict:
    """What fixes the frames a sampling reads, as features folders (``extract.json``) and model
    cards record it: ``{"sampling": name}``, and for ``"front"`` also ``"front_fraction"``
    (:data:`FRONT_FRACTION`).

    >>> sampling_setting("front")
    {'sampling': 'front', 'front_fraction': 0.25}
    """
    check_sampling(sampling)
    return {"sampling": sampling, **({"front_fraction": FRONT_FRACTION} if sampling == "front" else {})}


def check_front_fraction(record: dict, what: str, missing_ok: bool = False) -> None:
    """ValueError when ``record`` (an ``extract.json`` or a model card, named ``what``) says the
    ``"front"`` sampling at another fraction than this code's :data:`FRONT_FRACTION`: its
    features were measured on other frames than this code samples.  A ``front`` record without
    a fraction (made before fractions were recorded) passes only with ``missing_ok``."""
    if record.get("sampling") != "front":
        return
    fraction = record.get("front_fraction")
    if fraction is None and missing_ok:
        return
    if fraction != FRONT_FRACTION:
        raise ValueError(f"{what} was made with the 'front' sampling at fraction {fraction}, this code samples "
                         f"fraction {FRONT_FRACTION}: its features were measured on other frames")


def sample_indices(frame_count: int, n: int) -> np.ndarray:
    """Indices of ``n`` frames spread evenly over ``frame_count`` frames.

    Each index is the centre of one of ``n`` equal segments; fewer than ``n`` unique
    indices are returned when the video is shorter than ``n`` frames.

    >>> sample_indices(100, 4).tolist()
    [12, 37, 62, 87]
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    if frame_count <= 0:
        return np.zeros(0, dtype=int)
    idx = np.floor((np.arange(n) + 0.5) * frame_count / n).astype(int)
    return np.unique(np.clip(idx, 0, frame_count - 1))


def plan_runs(keyframes: np.ndarray, run: int, frame_count: int) -> np.ndarray:
    """Start indices of back-to-back runs after keyframes.

    Parameters
    ----------
    keyframes : (n,) int array
        For each sample, in order, the index of the keyframe it starts from (non-decreasing;
        the keyframe at or before its spread position).
    run : int
        Frames per run (a sample and its followers), >= 1.
    frame_count : int
        Frames in the video; 0 when unknown (runs may then pass the end).

    Returns
    -------
    (n,) int array
        Sorted, non-overlapping run starts: the samples of one keyframe back to back from it,
        a keyframe inside the previous runs continuing them; runs that would pass
        ``frame_count`` are moved back (as little as possible) to end with the video.

    >>> plan_runs(np.array([0, 0, 0, 100]), 5, 300).tolist()
    [0, 5, 10, 100]
    >>> plan_runs(np.array([0, 0, 250, 250]), 5, 258).tolist()
    [0, 5, 248, 253]
    """
    if run < 1:
        raise ValueError(f"run must be >= 1, got {run}")
    starts = np.zeros(len(keyframes), dtype=int)
    end = 0  # first frame after the runs planned so far
    for i, k in enumerate(np.asarray(keyframes, dtype=int)):
        starts[i] = max(int(k), end)
        end = starts[i] + run
    if frame_count > 0:
        limit = frame_count
        for i in range(len(starts) - 1, -1, -1):
            starts[i] = max(0, min(starts[i], limit - run))
            limit = starts[i]
    return starts


def plan_front(keyframes: np.ndarray, frame_count: int, n: int, run: int,
               fraction: float = FRONT_FRACTION) -> np.ndarray:
    """Indices of ``n`` samples spread evenly over the fronts of the keyframe intervals.

    Parameters
    ----------
    keyframes : (k,) int array
        Indices of the video's keyframes (any order; those outside ``[0, frame_count)`` are
        ignored).  Each starts an interval that ends at the next one (the last at
        ``frame_count``); frames before the first keyframe are never sampled.
    frame_count : int
        Frames in the video.
    n : int
        Samples, >= 1.
    run : int
        Frames per sample (the sample and its followers), >= 1.
    fraction : float
        Share of each interval sampled, its first ``ceil(fraction x length)`` frames,
        in (0, 1].  Raised (for every interval alike) until the fronts hold ``n x run``
        frames, so that the runs do not overlap.

    Returns
    -------
    (m,) int array
        Sorted sample indices, ``m <= n`` (fewer only when the video has fewer than ``n``
        frames from its first keyframe); empty without keyframes or frames.  The centres of
        ``n`` equal segments of the fronts laid end to end (:func:`sample_indices` of their
        union): with ``fraction`` 1, or a video of at most ``n x run`` frames from a
        keyframe at 0, the spread samples.

    >>> plan_front(np.array([0, 100, 200]), 300, 4, 5).tolist()   # fronts 0-24, 100-124, 200-224
    [9, 103, 121, 215]
    >>> plan_front(np.array([0]), 120, 4, 5).tolist()             # one keyframe: the first quarter
    [3, 11, 18, 26]
    >>> plan_front(np.array([0]), 120, 16, 5)[[0, 1, -1]].tolist()  # widened to 80 frames
    [2, 7, 77]
    """
    if n < 1 or run < 1:
        raise ValueError(f"n and run must be >= 1, got {n} and {run}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    keys = np.unique(np.asarray(keyframes, dtype=int))
    keys = keys[(keys >= 0) & (keys < frame_count)]
    if keys.size == 0:
        return np.zeros(0, dtype=int)
    lengths = np.diff(np.append(keys, frame_count))
    share = max(fraction, min(1.0, n * run / lengths.sum()))
    fronts = np.minimum(lengths, np.ceil(share * lengths - 1e-9).astype(int))
    ends = np.cumsum(fronts)
    pos = sample_indices(int(ends[-1]), n)  # positions on the fronts laid end to end
    which = np.searchsorted(ends, pos, side="right")
    return keys[which] + pos - (ends - fronts)[which]
