"""The case report's charts: small static matplotlib figures as inline SVG.

Each function returns the ``<svg>`` element of one figure (no XML header, text kept as
text, no date), ready to be placed in an HTML page.  Figures are made with
:class:`matplotlib.figure.Figure` on an Agg canvas, never through pyplot, so no global
figure state is created or left behind.

matplotlib is imported inside :func:`render`, when a chart is drawn:
it is heavy to import and only the case report needs it (``import detector``, the CLI
without ``--report``, the scanner and the dashboard until a report is made do not load it).
"""

from __future__ import annotations

import io
import math
from typing import Callable, Sequence

from .dashboard.style import FAKE_COLOUR, REAL_COLOUR, score_axis

#: Width of the report's charts, in inches at :data:`DPI` (the report's column is ~900 px).
WIDTH_IN, DPI = 9.0, 100
#: Font size of legends and bar labels (points).
FONT_SIZE = 8
#: Height of one legend entry (inches): a line chart with many series grows to hold its legend.
LEGEND_ROW_IN = 0.16
#: A line chart marks its points when it has at most this many series.
MARKED_SERIES = 4

#: matplotlib settings while a chart is drawn and saved: text kept as text (not glyph paths)
#: in the page's own sans-serif font (DejaVu Sans, matplotlib's own, for the layout where the
#: others are absent), a short font list (each text element repeats it).
RC = {"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": ["Helvetica", "Arial", "DejaVu Sans"],
      "font.size": 9}


def render(height_in: float, draw: Callable) -> str:
    """The ``<svg>`` element (no XML header, no date, lines without indentation) of a
    :data:`WIDTH_IN` x ``height_in`` figure whose one Axes ``draw(ax)`` fills.  The figure
    is a :class:`matplotlib.figure.Figure` on an Agg canvas, made and saved under :data:`RC`
    (restored afterwards); see the module docstring for the lazy import."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(RC):
        fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig.add_subplot())
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return "\n".join(line.strip() for line in text[text.index("<svg"):].splitlines())


def _finite(xs: Sequence, ys: Sequence) -> tuple[list[float], list[float]]:
    pts = [(float(x), float(y)) for x, y in zip(xs, ys) if y is not None and math.isfinite(float(y))]
    return [p[0] for p in pts], [p[1] for p in pts]


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str = "", x_label: str = "",
               y_label: str = "", hline: float | None = None, hline_label: str = "",
               marks: Sequence[tuple[float, float]] = (), height_in: float = 2.8) -> str:
    """A line chart: ``series`` maps a name to (x values, y values); missing and non-finite
    y values are skipped; points are marked when there are at most :data:`MARKED_SERIES`
    series (more would make the file large), and in any series of one point.  ``hline``
    draws a dashed horizontal line (e.g. the threshold) labelled ``hline_label``; ``marks``
    circles points (x, y).  The figure grows taller to hold a long legend."""
    if not any(_finite(xs, ys)[0] for xs, ys in series.values()):
        return "<p class='muted'>(no data to plot)</p>"

    def draw(ax) -> None:
        for name, (xs, ys) in series.items():
            fx, fy = _finite(xs, ys)
            ax.plot(fx, fy, marker="o" if len(series) <= MARKED_SERIES or len(fx) < 2 else None, markersize=3,
                    linewidth=1.5, label=name)
        if hline is not None:
            ax.axhline(hline, color="black", linestyle="--", linewidth=1.2, label=hline_label or None)
        if marks:
            ax.scatter([m[0] for m in marks], [m[1] for m in marks], s=120, facecolors="none",
                       edgecolors=FAKE_COLOUR, linewidths=2, zorder=3, label="highlighted frames")
        ax.set(title=title, xlabel=x_label, ylabel=y_label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT_SIZE, frameon=False)

    entries = len(series) + (hline is not None) + bool(marks)
    return render(max(height_in, 0.8 + LEGEND_ROW_IN * entries), draw)  # tall enough for the legend


def score_bar(score: float, threshold: float) -> str:
    """The score on a horizontal scale split at the threshold (blue: the genuine side, red: fake)."""
    lo, hi = score_axis(score, threshold)

    def draw(ax) -> None:
        ax.axvspan(lo, threshold, color=REAL_COLOUR, alpha=0.2)
        ax.axvspan(threshold, hi, color=FAKE_COLOUR, alpha=0.2)
        ax.axvline(threshold, color="black", linewidth=2.5)
        ax.plot([shown], [0.65], marker="v", markersize=14, color=FAKE_COLOUR if score >= threshold else REAL_COLOUR)
        ax.text(threshold, 1.05, f"threshold {threshold:+.3f}", ha="center", va="bottom",
                transform=ax.get_xaxis_transform())
        ax.text(shown, 0.4, f"score {score:+.3f}", ha="center", va="top", fontweight="bold")
        ax.text(0.01, 0.08, "← genuine", color=REAL_COLOUR, transform=ax.transAxes)
        ax.text(0.99, 0.08, "fake →", color=FAKE_COLOUR, ha="right", transform=ax.transAxes)
        ax.set(xlim=(lo, hi), ylim=(0, 1), yticks=[], xlabel="SVM score")

    shown = min(max(score, lo), hi)
    return render(1.2, draw)


def bar_chart(values: dict[str, float], title: str = "") -> str:
    """Horizontal bars around zero, largest first (red: positive, towards fake; blue: negative)."""
    if not values:
        return "<p class='muted'>(nothing to plot)</p>"
    items = sorted(values.items(), key=lambda kv: kv[1])
    m = max(abs(v) for _, v in items) or 1.0

    def draw(ax) -> None:
        ax.barh([k for k, _ in items], [v for _, v in items],
                color=[FAKE_COLOUR if v > 0 else REAL_COLOUR for _, v in items])
        ax.axvline(0, color="black", linewidth=1)
        for k, (_, v) in enumerate(items):
            ax.annotate(f"{v:+.3f}", (v, k), xytext=(4 if v >= 0 else -4, 0), textcoords="offset points",
                        ha="left" if v >= 0 else "right", va="center", fontsize=FONT_SIZE)
        ax.set(title=title, xlim=(-1.35 * m, 1.35 * m))
        ax.grid(axis="x", alpha=0.3)

    return render(0.6 + 0.28 * len(items), draw)
