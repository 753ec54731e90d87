"""Which frames of a video are sampled: evenly spread, or runs starting at keyframes.

Two samplings of ``n`` samples, each sample with the ``run - 1`` frames right after it
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

Features are measured the same way on either sampling; a model is trained on one and
scores only features of the same sampling (:func:`check_sampling`).
"""

from __future__ import annotations

import numpy as np

#: The samplings, the default first.
SAMPLINGS = ("spread", "runs")
#: The sampling used when none is asked for, and assumed of features and models that do not
#: record theirs (everything made before ``"runs"`` existed).
DEFAULT_SAMPLING = SAMPLINGS[0]


def check_sampling(sampling: str) -> str:
    """``sampling`` if it names one of :data:`SAMPLINGS`, else ValueError."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; known: {', '.join(SAMPLINGS)}")
    return sampling


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
    >>> plan_runs(np.array([0, 0, 250, 250]), 5, 260).tolist()
    [0, 5, 245, 255]
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
