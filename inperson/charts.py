"""Charts for the event report, drawn with matplotlib and returned as inline SVG.

Only matplotlib's object API is used (``Figure``, never ``pyplot``): no global figure
state, safe in any thread, no display needed. The SVG carries no date and a fixed id
salt, so the same data draws the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # never a display; must come before the figure import
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

_SIZE = (7.0, 2.8)
_COLOR = "#2c6e9b"
_ACCENT = "#d1802c"
_MIN_SLOTS = 6
_DURATION_TICKS = (20, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
matplotlib.rcParams["svg.hashsalt"] = "inperson"
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, selectable


def _duration_label(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=_SIZE, layout="constrained")
    axes: Axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#e4e4e4", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def line_chart(
    x: Sequence[float], y: Sequence[float], *, xlabel: str, ylabel: str, fill: bool = True
) -> str:
    """One series over time (``x`` ascending)."""
    figure, axes = _figure()
    axes.plot(x, y, color=_COLOR, linewidth=1.4, marker="o" if len(x) <= 24 else None, ms=3)
    if fill and len(x) > 1:
        axes.fill_between(x, y, color=_COLOR, alpha=0.15)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    return _svg(figure)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    xlabel: str,
    ylabel: str,
    second: Sequence[float] | None = None,
    legend: tuple[str, str] | None = None,
) -> str:
    """Bars per label; with ``second``, two bars side by side per label."""
    figure, axes = _figure()
    positions = list(range(len(labels)))
    width = 0.8 if second is None else 0.4
    shift = 0.0 if second is None else width / 2
    first_label, second_label = legend if legend is not None else (None, None)
    axes.bar([p - shift for p in positions], values, width=width, color=_COLOR, label=first_label)
    if second is not None:
        axes.bar(
            [p + shift for p in positions], second, width=width, color=_ACCENT, label=second_label
        )
    if legend is not None:
        axes.legend(frameon=False)
    step = max(1, len(labels) // 16)  # at most ~16 tick labels, readable
    axes.set_xticks(positions[::step], list(labels)[::step])
    if labels and max(len(label) for label in labels) > 5:
        axes.tick_params(axis="x", labelrotation=30)  # long labels would overlap
    axes.set_xlim(-0.6, max(len(labels), _MIN_SLOTS) - 0.4)  # a lone bar stays a bar
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return _svg(figure)


def log_histogram(values: Sequence[float], *, xlabel: str, ylabel: str) -> str:
    """A histogram of positive values on logarithmic bins (durations span decades)."""
    figure, axes = _figure()
    positive = [v for v in values if v > 0]
    if positive:
        low, high = min(positive), max(positive)
        if high <= low:
            high = low * 2
        bins = [low * (high / low) ** (k / 24) for k in range(25)]
        axes.hist(positive, bins=bins, color=_COLOR)
        axes.set_xscale("log")
        ticks: list[float] = [t for t in _DURATION_TICKS if low / 1.5 <= t <= high * 1.5] or [low]
        axes.set_xticks(ticks, [_duration_label(t) for t in ticks])
        axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return _svg(figure)


def scatter_log(
    x: Sequence[float], y: Sequence[float], *, xlabel: str, ylabel: str, diagonal: bool = True
) -> str:
    """Points on logarithmic axes (positive values only), with the line y = x."""
    figure = Figure(figsize=(4.6, 4.2), layout="constrained")
    axes: Axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    points = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.scatter(xs, ys, s=6, alpha=0.35, color=_COLOR, linewidths=0)
        axes.set_xscale("log")
        axes.set_yscale("log")
        if diagonal:
            low, high = min(*xs, *ys), max(*xs, *ys)
            axes.plot([low, high], [low, high], color=_ACCENT, linewidth=1, label="equal")
            axes.legend(frameon=False)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    return _svg(figure)
