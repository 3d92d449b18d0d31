"""The project's own chart corpus: seeded matplotlib charts of many types, each drawn as the
target, as faithful variants (another size, dpi or line width) and as wrong variants (one
visible edit: a colour, the data of one series, one word of a label, a missing series, another
chart type).

Every chart is a function of a ``Style``: the style carries the variant's edit and the chart asks
it for colours, data, texts and sizes, so one function draws every variant of its chart.
Renders are cached on disk by variant and by a hash of this file (``render``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

Kind = Literal["exact", "faithful", "colour", "data", "label", "missing series", "chart type"]
WRONG_KINDS: tuple[Kind, ...] = ("colour", "data", "label", "missing series", "chart type")
TAB = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
# a colour edit paints series 0 in the first of these that the chart does not use already
ALTERNATIVE_COLOURS = ["#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug"]
# a label edit replaces the first word of the chart's title found here
WORD_SWAPS = {
    "Monthly": "Weekly", "Revenue": "Profit", "Sales": "Orders", "Temperature": "Humidity",
    "Growth": "Decline", "Signal": "Noise", "Scores": "Grades", "Population": "Density",
    "Budget": "Forecast", "Traffic": "Visitors", "Market": "Client", "Energy": "Water",
    "Rainfall": "Snowfall", "Velocity": "Pressure", "Response": "Latency", "Survey": "Census",
    "Distribution": "Spread", "Density": "Frequency", "Latency": "Uptime",
    "Project": "Product", "Annual": "Daily", "Average": "Median",
}  # fmt: skip


@dataclass(frozen=True)
class Style:
    """What a chart function asks when it draws: sizes, colours, data and texts of a variant."""

    kind: Kind = "exact"
    size: float = 1.0  # figsize multiplier
    dpi: int = 100
    line_width: float = 1.0  # multiplier of every line width
    alternative: bool = False  # set by the chart-type edit
    missing: bool = False  # set by the missing-series edit
    used_colours: tuple[str, ...] = ()

    def figure(self, width: float = 6.4, height: float = 4.2, **kwargs: object) -> Figure:
        return plt.figure(figsize=(width * self.size, height * self.size), **kwargs)

    def lw(self, width: float = 1.5) -> float:
        return width * self.line_width

    def colour(self, index: int) -> str:
        colours = list(self.used_colours or TAB)
        if self.kind == "colour" and index == 0:
            return next(c for c in ALTERNATIVE_COLOURS if c not in colours)
        return colours[index % len(colours)]

    def cmap(self, name: str) -> str:
        return (
            {"viridis": "plasma", "Blues": "Reds", "coolwarm": "PiYG"}.get(name, "cividis")
            if (self.kind == "colour")
            else name
        )

    def series(self, values: Sequence[Sequence[float]]) -> list[np.ndarray]:
        """The chart's series after the edit: data changes series 0, missing drops the last."""
        result = [np.asarray(v, dtype=float) for v in values]
        if self.kind == "data":
            result[0] = self.edited(result[0], span=np.ptp(np.concatenate(result)))
        if self.missing and len(result) > 1:
            result = result[:-1]
        return result

    def edited(self, values: np.ndarray, span: float | None = None) -> np.ndarray:
        """Every third value (from the second) raised by 30% of the data's range."""
        if self.kind != "data":
            return values
        changed = values.astype(float).copy()
        span = float(span if span is not None else np.ptp(values)) or 1.0
        changed.flat[1::3] += 0.3 * span
        return changed

    def text(self, text: str) -> str:
        if self.kind != "label":
            return text
        swaps = {k.lower(): v for k, v in WORD_SWAPS.items()}
        for word in text.split():
            if word.lower() in swaps:
                new = swaps[word.lower()]
                return text.replace(word, new if word[0].isupper() else new.lower(), 1)
        raise ValueError(f"no word to swap in {text!r}")


ChartFunction = Callable[[Style], Figure]


@dataclass(frozen=True)
class Chart:
    name: str
    draw: ChartFunction
    series: int  # number of series: a missing-series edit needs at least 2
    colours: tuple[str, ...] = tuple(TAB)


@dataclass(frozen=True)
class Variant:
    chart: str
    name: str
    kind: Kind
    style: Style

    @property
    def key(self) -> str:
        return f"{self.chart}__{self.name}"


CHARTS: dict[str, Chart] = {}


def chart(series: int = 2, colours: Sequence[str] = TAB) -> Callable[[ChartFunction], Chart]:
    def register(function: ChartFunction) -> Chart:
        entry = Chart(function.__name__, function, series, tuple(colours))
        CHARTS[entry.name] = entry
        return entry

    return register


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))


def _finish(ax: plt.Axes, s: Style, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(s.text(title))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# ------------------------------------------------------------------------------------ charts
@chart()
def line_markers(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    series = s.series([[3, 5, 4, 6, 8, 9], [2, 3, 5, 5, 6, 7]])
    for i, (name, y) in enumerate(zip(["North", "South"], series, strict=False)):
        if s.alternative:
            ax.bar(np.arange(6) + 0.4 * i, y, width=0.4, color=s.colour(i), label=name)
        else:
            ax.plot(MONTHS[:6], y, marker="o", color=s.colour(i), lw=s.lw(), label=name)
    if s.alternative:
        ax.set_xticks(np.arange(6) + 0.2, MONTHS[:6])
    ax.legend(loc="upper left")
    _finish(ax, s, "Monthly revenue", "Month", "Revenue")
    return fig


@chart(series=3)
def smooth_lines(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 10, 60)
    series = s.series([np.sin(x) * 3 + 5, np.cos(x) * 2 + 4, 0.3 * x + 1])
    for i, y in enumerate(series):
        if s.alternative:
            ax.scatter(x, y, color=s.colour(i), s=12, label=f"probe {i + 1}")
        else:
            ax.plot(x, y, color=s.colour(i), lw=s.lw(2), label=f"probe {i + 1}")
    ax.legend(loc="upper right")
    _finish(ax, s, "Signal over time", "Time (s)", "Amplitude")
    return fig


@chart()
def scatter_groups(s: Style) -> Figure:
    rng = _rng("scatter")
    fig = s.figure()
    ax = fig.add_subplot()
    xs = [rng.normal(3, 1, 40), rng.normal(6, 1, 40)]
    ys = s.series([rng.normal(4, 1, 40), rng.normal(7, 1, 40)])
    for i, y in enumerate(ys):
        order = np.argsort(xs[i])
        if s.alternative:
            ax.plot(xs[i][order], y[order], color=s.colour(i), lw=s.lw(), label=f"group {i + 1}")
        else:
            ax.scatter(xs[i], y, color=s.colour(i), s=25, label=f"group {i + 1}")
    ax.legend(loc="upper left")
    _finish(ax, s, "Scores by group", "Hours studied", "Score")
    return fig


@chart(series=1)
def single_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    names = ["Alpha", "Beta", "Gamma", "Delta", "Omega", "Sigma"]
    (y,) = s.series([[23, 17, 35, 29, 12, 20]])
    if s.alternative:
        ax.plot(names, y, color=s.colour(0), lw=s.lw(2), marker="s")
    else:
        ax.bar(names, y, color=s.colour(0))
    _finish(ax, s, "Project budget", "Team", "Budget (k$)")
    return fig


@chart(series=3)
def grouped_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    series = s.series([[20, 34, 30, 35], [25, 32, 34, 20], [18, 22, 28, 30]])
    x = np.arange(4)
    for i, y in enumerate(series):
        if s.alternative:
            ax.plot(x, y, color=s.colour(i), lw=s.lw(2), marker="o", label=f"20{21 + i}")
        else:
            ax.bar(x + i * 0.25, y, width=0.25, color=s.colour(i), label=f"20{21 + i}")
    ax.set_xticks(x + 0.25, ["Q1", "Q2", "Q3", "Q4"])
    ax.legend(loc="upper left", ncols=3)
    ax.set_ylim(0, 45)
    _finish(ax, s, "Annual sales", "Quarter", "Units")
    return fig


@chart()
def stacked_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    series = s.series([[5, 7, 6, 8, 9], [3, 2, 4, 3, 5]])
    x = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    bottom = np.zeros(5)
    for i, y in enumerate(series):
        if s.alternative:
            ax.plot(x, bottom + y, color=s.colour(i), lw=s.lw(2), label=["web", "mobile"][i])
        else:
            ax.bar(x, y, bottom=bottom, color=s.colour(i), label=["web", "mobile"][i])
        bottom = bottom + y
    ax.legend(loc="upper left")
    _finish(ax, s, "Traffic per day", "Day", "Visits (k)")
    return fig


@chart(series=1)
def horizontal_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    names = ["Python", "Rust", "Go", "Java", "Kotlin"]
    (y,) = s.series([[48, 20, 25, 33, 14]])
    if s.alternative:
        ax.plot(y, names, color=s.colour(0), lw=s.lw(2), marker="o")
    else:
        ax.barh(names, y, color=s.colour(0))
    _finish(ax, s, "Survey of languages", "Share (%)", "Language")
    return fig


@chart()
def histograms(s: Style) -> Figure:
    rng = _rng("hist")
    fig = s.figure()
    ax = fig.add_subplot()
    samples = s.series([rng.normal(0, 1, 400), rng.normal(2.5, 0.8, 400)])
    bins = np.linspace(-3, 5, 25)
    for i, values in enumerate(samples):
        if s.alternative:
            counts, edges = np.histogram(values, bins)
            ax.plot((edges[:-1] + edges[1:]) / 2, counts, color=s.colour(i), lw=s.lw(2))
        else:
            ax.hist(values, bins=bins, color=s.colour(i), alpha=0.7, label=f"batch {i + 1}")
    _finish(ax, s, "Distribution of errors", "Error", "Count")
    return fig


@chart(series=1)
def step_line(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(12)
    (y,) = s.series([[1, 3, 2, 5, 4, 6, 5, 8, 7, 9, 8, 10]])
    if s.alternative:
        ax.bar(x, y, color=s.colour(0))
    else:
        ax.step(x, y, where="mid", color=s.colour(0), lw=s.lw(2))
    _finish(ax, s, "Population steps", "Year", "People (M)")
    return fig


@chart()
def confidence_band(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 10, 40)
    mean, *others = s.series([np.log1p(x) * 3, np.sqrt(x) * 2])
    if s.alternative:
        ax.bar(x, mean, width=0.2, color=s.colour(0))
    else:
        ax.fill_between(x, mean - 0.8, mean + 0.8, color=s.colour(0), alpha=0.3)
        ax.plot(x, mean, color=s.colour(0), lw=s.lw(2), label="model")
    for other in others:
        ax.plot(x, other, color=s.colour(1), lw=s.lw(2), ls="--", label="baseline")
    _finish(ax, s, "Growth forecast", "Month", "Users (k)")
    return fig


@chart(series=3)
def stacked_area(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(10)
    series = s.series([[1, 2, 3, 3, 4, 4, 5, 6, 6, 7], [2, 2, 2, 3, 3, 3, 4, 4, 4, 5],
                       [1, 1, 2, 2, 2, 3, 3, 3, 4, 4]])  # fmt: skip
    colours = [s.colour(i) for i in range(len(series))]
    if s.alternative:
        for i, y in enumerate(series):
            ax.plot(x, y, color=colours[i], lw=s.lw(2))
    else:
        ax.stackplot(x, *series, colors=colours, labels=["coal", "gas", "solar"][: len(series)])
    ax.legend(loc="upper left")
    _finish(ax, s, "Energy mix", "Year", "TWh")
    return fig


@chart(series=5)
def pie(s: Style) -> Figure:
    fig = s.figure(5.0, 4.2)
    ax = fig.add_subplot()
    (values,) = s.series([[30, 25, 20, 15, 10]])
    labels = ["rent", "food", "travel", "health", "other"]
    if s.missing:
        values, labels = values[:-1], labels[:-1]
    colours = [s.colour(i) for i in range(len(values))]
    if s.alternative:
        ax.bar(labels, values, color=colours)
    else:
        ax.pie(values, labels=labels, colors=colours, startangle=90)
    ax.set_title(s.text("Monthly budget"))
    return fig


@chart(series=4)
def donut(s: Style) -> Figure:
    fig = s.figure(5.0, 4.2)
    ax = fig.add_subplot()
    (values,) = s.series([[40, 30, 20, 10]])
    labels = ["desktop", "mobile", "tablet", "other"]
    if s.missing:
        values, labels = values[:-1], labels[:-1]
    colours = [s.colour(i) for i in range(len(values))]
    if s.alternative:
        ax.barh(labels, values, color=colours)
    else:
        ax.pie(values, labels=labels, colors=colours, wedgeprops={"width": 0.4})
    ax.set_title(s.text("Market share"))
    return fig


@chart()
def error_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(1, 7)
    series = s.series([[2.0, 3.1, 3.9, 5.2, 5.8, 7.1], [1.0, 1.8, 2.2, 2.9, 3.8, 4.1]])
    for i, y in enumerate(series):
        if s.alternative:
            ax.bar(x + 0.35 * i, y, width=0.35, color=s.colour(i))
        else:
            ax.errorbar(x, y, yerr=0.4 + 0.1 * x, color=s.colour(i), lw=s.lw(), capsize=4,
                        marker="o", label=f"trial {i + 1}")  # fmt: skip
    ax.legend(loc="upper left")
    _finish(ax, s, "Response with errors", "Dose", "Effect")
    return fig


@chart(series=3)
def box_plot(s: Style) -> Figure:
    rng = _rng("box")
    fig = s.figure()
    ax = fig.add_subplot()
    data = s.series([rng.normal(5, 1, 80), rng.normal(6, 1.5, 80), rng.normal(4, 0.7, 80)])
    if s.alternative:
        ax.bar(range(1, len(data) + 1), [d.mean() for d in data], color=s.colour(0))
    else:
        parts = ax.boxplot(data, patch_artist=True, widths=0.5)
        for i, box in enumerate(parts["boxes"]):
            box.set_facecolor(s.colour(i))
            box.set_linewidth(s.lw(1))
    _finish(ax, s, "Average scores", "Class", "Scores")
    return fig


@chart(series=3)
def violins(s: Style) -> Figure:
    rng = _rng("violin")
    fig = s.figure()
    ax = fig.add_subplot()
    data = s.series([rng.normal(0, 1, 150), rng.normal(1, 0.6, 150), rng.normal(-0.5, 1.4, 150)])
    if s.alternative:
        ax.bar(range(1, len(data) + 1), [np.std(d) for d in data], color=s.colour(0))
    else:
        parts = ax.violinplot(data, showmedians=True)
        for i, body in enumerate(parts["bodies"]):
            body.set_facecolor(s.colour(i))
            body.set_alpha(0.8)
    _finish(ax, s, "Latency distribution", "Server", "Response (ms)")
    return fig


@chart(series=1)
def heatmap(s: Style) -> Figure:
    rng = _rng("heat")
    fig = s.figure(5.6, 4.2)
    ax = fig.add_subplot()
    grid = rng.uniform(0, 10, (6, 8))
    if s.kind == "data":
        grid = grid.copy()
        grid[1:4, 2:5] = 10 - grid[1:4, 2:5]
    if s.alternative:
        ax.plot(grid.mean(axis=0), color="#1f77b4", lw=s.lw(2))
    else:
        image = ax.imshow(grid, cmap=s.cmap("viridis"), vmin=0, vmax=10)
        fig.colorbar(image, ax=ax)
    _finish(ax, s, "Rainfall by region", "Week", "Region")
    return fig


@chart(series=1)
def filled_contours(s: Style) -> Figure:
    fig = s.figure(5.6, 4.2)
    ax = fig.add_subplot()
    x, y = np.meshgrid(np.linspace(-2, 2, 80), np.linspace(-2, 2, 80))
    z = np.exp(-(x**2) - y**2)
    if s.kind == "data":
        z = z + 0.8 * np.exp(-((x - 1.2) ** 2) - (y + 1) ** 2)
    if s.alternative:
        ax.plot(x[0], z[40], color="#1f77b4", lw=s.lw(2))
    else:
        filled = ax.contourf(x, y, z, levels=8, cmap=s.cmap("Blues"))
        fig.colorbar(filled, ax=ax)
    _finish(ax, s, "Temperature field", "x (km)", "y (km)")
    return fig


@chart(series=1)
def quiver_field(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x, y = np.meshgrid(np.linspace(-2, 2, 10), np.linspace(-2, 2, 10))
    u, v = -y, x
    if s.kind == "data":
        u, v = u + 1.5 * (x > 0), v
    if s.alternative:
        ax.scatter(x, y, color=s.colour(0), s=20)
    else:
        ax.quiver(x, y, u, v, color=s.colour(0), width=0.004 * s.line_width)
    _finish(ax, s, "Velocity field", "x", "y")
    return fig


@chart()
def polar_lines(s: Style) -> Figure:
    fig = s.figure(5.0, 4.8)
    ax = fig.add_subplot(projection="polar")
    theta = np.linspace(0, 2 * np.pi, 80)
    series = s.series([1 + 0.5 * np.sin(3 * theta), 1.2 + 0.3 * np.cos(2 * theta)])
    for i, r in enumerate(series):
        if s.alternative:
            ax.bar(theta[::8], r[::8], width=0.4, color=s.colour(i), alpha=0.7)
        else:
            ax.plot(theta, r, color=s.colour(i), lw=s.lw(2))
    ax.set_title(s.text("Antenna response"))
    return fig


@chart(series=1)
def stems(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(10)
    (y,) = s.series([[2, 4, 3, 6, 5, 7, 3, 8, 6, 4]])
    if s.alternative:
        ax.plot(x, y, color=s.colour(0), lw=s.lw(2))
    else:
        markers, lines, _ = ax.stem(x, y)
        markers.set_color(s.colour(0))
        lines.set_color(s.colour(0))
        lines.set_linewidth(s.lw(1.5))
    _finish(ax, s, "Signal samples", "Sample", "Value")
    return fig


@chart(series=1)
def hexbins(s: Style) -> Figure:
    rng = _rng("hexbin")
    fig = s.figure(5.6, 4.2)
    ax = fig.add_subplot()
    x, y = rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)
    if s.kind == "data":
        y = y.copy()
        y[::3] += 2.0
    if s.alternative:
        ax.scatter(x, y, s=2, color="#1f77b4")
    else:
        cells = ax.hexbin(x, y, gridsize=20, cmap=s.cmap("viridis"))
        fig.colorbar(cells, ax=ax)
    _finish(ax, s, "Density of events", "Feature A", "Feature B")
    return fig


@chart(series=1)
def colour_scatter(s: Style) -> Figure:
    rng = _rng("cscatter")
    fig = s.figure(5.6, 4.2)
    ax = fig.add_subplot()
    x = rng.uniform(0, 10, 60)
    y = s.edited(0.5 * x + rng.normal(0, 1, 60))
    if s.alternative:
        order = np.argsort(x)
        ax.plot(x[order], y[order], color="#1f77b4", lw=s.lw())
    else:
        points = ax.scatter(x, y, c=x, cmap=s.cmap("coolwarm"), s=30)
        fig.colorbar(points, ax=ax)
    _finish(ax, s, "Temperature by site", "Altitude", "Degrees")
    return fig


@chart()
def log_scale(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(1, 11)
    series = s.series([2.0**x, 1.5**x * 10])
    for i, y in enumerate(series):
        if s.alternative:
            ax.bar(x + 0.4 * i, y, width=0.4, color=s.colour(i))
        else:
            ax.plot(x, y, color=s.colour(i), lw=s.lw(2), marker="^", label=["fast", "slow"][i])
    ax.set_yscale("log")
    ax.legend(loc="upper left")
    _finish(ax, s, "Growth on log scale", "Generation", "Cells")
    return fig


@chart()
def twin_axes(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(12)
    rain, *temps = s.series([[8, 7, 6, 5, 4, 2, 1, 1, 3, 5, 7, 8], [3, 4, 8, 12, 16, 20, 23,
                                                                   22, 18, 13, 8, 4]])  # fmt: skip
    if s.alternative:
        ax.plot(x, rain, color=s.colour(0), lw=s.lw(2))
    else:
        ax.bar(x, rain, color=s.colour(0))
    for temp in temps:
        other = ax.twinx()
        other.plot(x, temp, color=s.colour(1), lw=s.lw(2), marker="o")
        other.set_ylabel("Temperature")
    _finish(ax, s, "Rainfall and temperature", "Month", "Rain (cm)")
    return fig


@chart()
def two_panels(s: Style) -> Figure:
    fig = s.figure(7.2, 3.6)
    left, right = fig.subplots(1, 2)
    a, *rest = s.series([[3, 4, 6, 5, 7], [5, 3, 4, 2, 1]])
    if s.alternative:
        left.bar(range(5), a, color=s.colour(0))
    else:
        left.plot(range(5), a, color=s.colour(0), lw=s.lw(2), marker="o")
    for b in rest:
        right.bar(range(5), b, color=s.colour(1))
    left.set_title(s.text("Revenue trend"))
    right.set_title("Costs")
    fig.tight_layout()
    return fig


@chart(series=1)
def annotated_bars(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    names = ["Paris", "Lyon", "Nice", "Lille"]
    (y,) = s.series([[42, 31, 18, 25]])
    if s.alternative:
        ax.plot(names, y, color=s.colour(0), lw=s.lw(2), marker="o")
    else:
        bars = ax.bar(names, y, color=s.colour(0))
        ax.bar_label(bars, fmt="%.0f")
    ax.set_ylim(0, 60)
    _finish(ax, s, "Sales by city", "City", "Orders")
    return fig


@chart(series=1)
def lollipop(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    names = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu"]
    (y,) = s.series([[3, 7, 4, 9, 5, 6, 2]])
    if s.alternative:
        ax.bar(names, y, color=s.colour(0))
    else:
        ax.vlines(names, 0, y, color=s.colour(0), lw=s.lw(2))
        ax.plot(names, y, "o", color=s.colour(0), markersize=9)
    ax.set_ylim(0, 12)
    _finish(ax, s, "Average weight", "Animal", "Weight (kg)")
    return fig


@chart()
def cumulative(s: Style) -> Figure:
    rng = _rng("cumulative")
    fig = s.figure()
    ax = fig.add_subplot()
    samples = s.series([rng.exponential(1.0, 300), rng.exponential(2.0, 300)])
    for i, values in enumerate(samples):
        if s.alternative:
            counts, edges = np.histogram(values, bins=20, range=(0, 8))
            ax.bar(edges[:-1] + 0.2 * i, counts, width=0.2, color=s.colour(i))
        else:
            ordered = np.sort(values)
            ax.step(ordered, np.arange(1, len(ordered) + 1) / len(ordered), color=s.colour(i),
                    lw=s.lw(2), label=["cache", "disk"][i])  # fmt: skip
    ax.set_xlim(0, 8)
    ax.legend(loc="lower right")
    _finish(ax, s, "Response time", "Seconds", "Fraction")
    return fig


@chart(series=1)
def area_under(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.arange(15)
    (y,) = s.series([[2, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 13, 12, 14, 15]])
    if s.alternative:
        ax.scatter(x, y, color=s.colour(0), s=30)
    else:
        ax.fill_between(x, 0, y, color=s.colour(0), alpha=0.6)
        ax.plot(x, y, color=s.colour(0), lw=s.lw(2))
    ax.set_ylim(0, 20)
    _finish(ax, s, "Cumulative rainfall", "Day", "mm")
    return fig


@chart(series=3)
def dashed_styles(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    x = np.linspace(0, 5, 30)
    series = s.series([x**1.5, 2 * x + 1, 8 - x])
    for i, y in enumerate(series):
        if s.alternative:
            ax.scatter(x, y, color=s.colour(i), s=15, label=["fit", "linear", "drop"][i])
        else:
            ax.plot(x, y, color=s.colour(i), lw=s.lw(2), ls=["-", "--", ":"][i],
                    label=["fit", "linear", "drop"][i])  # fmt: skip
    ax.legend(loc="upper left")
    _finish(ax, s, "Market models", "Time", "Value")
    return fig


@chart()
def bubbles(s: Style) -> Figure:
    rng = _rng("bubbles")
    fig = s.figure()
    ax = fig.add_subplot()
    x = [rng.uniform(0, 10, 12), rng.uniform(0, 10, 12)]
    sizes = rng.uniform(50, 400, 12)
    ys = s.series([rng.uniform(0, 10, 12), rng.uniform(0, 10, 12)])
    for i, y in enumerate(ys):
        if s.alternative:
            order = np.argsort(x[i])
            ax.plot(x[i][order], y[order], color=s.colour(i), lw=s.lw(2))
        else:
            ax.scatter(x[i], y, s=sizes, color=s.colour(i), alpha=0.6)
    _finish(ax, s, "Population of cities", "Longitude", "Latitude")
    return fig


@chart(series=2)
def gantt(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    starts = s.series([[0, 3, 5, 9], [2, 6, 8, 12]])
    for i, begin in enumerate(starts):
        row = 10 + 10 * i
        if s.alternative:
            ax.plot(begin, [row] * len(begin), "o", color=s.colour(i), markersize=8)
        else:
            ax.broken_barh([(b, 2.5) for b in begin], (row - 3, 6), color=s.colour(i))
    ax.set_yticks([10, 20], ["design", "build"])
    ax.set_xlim(0, 16)
    ax.set_ylim(0, 30)
    _finish(ax, s, "Project plan", "Week", "Phase")
    return fig


@chart()
def radar(s: Style) -> Figure:
    fig = s.figure(5.0, 4.8)
    ax = fig.add_subplot(projection="polar")
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    series = s.series([[4, 3, 5, 2, 4, 3], [2, 4, 3, 4, 2, 5]])
    for i, values in enumerate(series):
        closed = np.append(values, values[0])
        around = np.append(angles, angles[0])
        if s.alternative:
            ax.bar(angles, values, width=0.5, color=s.colour(i), alpha=0.6)
        else:
            ax.plot(around, closed, color=s.colour(i), lw=s.lw(2))
            ax.fill(around, closed, color=s.colour(i), alpha=0.25)
    ax.set_xticks(angles, ["speed", "power", "range", "cost", "comfort", "safety"])
    ax.set_title(s.text("Average ratings"))
    return fig


@chart(series=2, colours=("#2ca02c", "#d62728"))
def waterfall(s: Style) -> Figure:
    fig = s.figure()
    ax = fig.add_subplot()
    (steps,) = s.series([[10, 4, -3, 6, -5, 3]])
    tops = np.cumsum(steps)
    bottoms = tops - steps
    up = [st >= 0 for st in steps]
    colours = [s.colour(0) if u else s.colour(1) for u in up]
    if s.missing:
        colours = [s.colour(0)] * len(steps)
    x = np.arange(len(steps))
    if s.alternative:
        ax.plot(x, tops, color=s.colour(0), lw=s.lw(2), marker="o")
    else:
        ax.bar(x, steps, bottom=bottoms, color=colours)
    ax.set_xticks(x, ["start", "sales", "refunds", "upsell", "costs", "other"])
    _finish(ax, s, "Budget walk", "Item", "k$")
    return fig


@chart()
def ggplot_style(s: Style) -> Figure:
    with plt.style.context("ggplot"):
        fig = s.figure()
        ax = fig.add_subplot()
        x = np.arange(8)
        series = s.series([[4, 6, 5, 7, 9, 8, 10, 12], [3, 3, 4, 4, 5, 6, 6, 7]])
        for i, y in enumerate(series):
            if s.alternative:
                ax.bar(x + 0.4 * i, y, width=0.4, color=s.colour(i))
            else:
                ax.plot(x, y, color=s.colour(i), lw=s.lw(2), marker="o", label=f"site {i + 1}")
        _finish(ax, s, "Traffic per site", "Week", "Visits")
    return fig


# ---------------------------------------------------------------------------------- variants
# the same code drawn at another resolution (0.8x, 1.5x: the image scaled; 72 and 200 dpi),
# on a larger figure (text keeps its size in points, the axes grow), or with thicker lines.
# A smaller figure is no faithful variant: matplotlib's default margins clip the axis labels
FAITHFUL = {
    "scale0.8": {"dpi": 80},
    "scale1.5": {"dpi": 150},
    "dpi72": {"dpi": 72},
    "dpi200": {"dpi": 200},
    "figsize1.25": {"size": 1.25},
    "width1.7": {"line_width": 1.7},
}


def variants(name: str) -> list[Variant]:
    """The target (``exact``), the faithful variants and the wrong variants of one chart."""
    entry = CHARTS[name]
    base = Style(used_colours=entry.colours)
    found = [Variant(name, "exact", "exact", base)]
    for label, change in FAITHFUL.items():
        found.append(Variant(name, label, "faithful", replace(base, kind="faithful", **change)))
    for kind in WRONG_KINDS:
        if kind == "missing series" and entry.series < 2:
            continue
        style = replace(base, kind=kind, alternative=kind == "chart type",
                        missing=kind == "missing series")  # fmt: skip
        found.append(Variant(name, kind.replace(" ", "-"), kind, style))
    return found


@cache
def _source_hash() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(matplotlib.__version__.encode())
    return digest.hexdigest()[:12]


def render(variant: Variant, folder: Path) -> Path:
    """The variant's PNG in ``folder``, drawn once per version of this corpus."""
    path = folder / _source_hash() / f"{variant.key}.png"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        fig = CHARTS[variant.chart].draw(variant.style)
        partial = path.with_suffix(".partial.png")
        fig.savefig(partial, dpi=variant.style.dpi)
        plt.close(fig)
    partial.replace(path)
    return path
