"""How scores are drawn, shared by the plotly figures and the case report's SVG charts."""

from __future__ import annotations

FAKE_COLOUR, REAL_COLOUR, NEUTRAL_COLOUR = "#c0392b", "#2471a3", "#7f8c8d"
#: Frame drawn around a highlighted face crop (RGB).
HIGHLIGHT_RGB = (231, 76, 60)


def score_axis(score: float, threshold: float) -> tuple[float, float]:
    """A symmetric range around the threshold that holds the score."""
    span = max(2.0, abs(score - threshold) * 1.3, 0.5)
    return threshold - span, threshold + span
