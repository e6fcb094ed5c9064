"""Charts on textual-plotext: horizontal bars (cost by layer/model) and day lines (cost, tokens).

Each chart keeps its data in a reactive and redraws in ``watch_*``; callers only assign data.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual_plotext import PlotextPlot


def short_day(day: str) -> str:
    """``2026-01-31`` → ``01-31`` (the axis has no room for years)."""
    return day[5:] if len(day) == 10 else day


class BarChart(PlotextPlot):
    """Bars for ``(label, value)`` pairs; horizontal, so long model names stay readable."""

    DEFAULT_CSS = "BarChart { height: 1fr; min-height: 6; }"

    bars: reactive[tuple[tuple[str, float], ...]] = reactive((), always_update=True)

    def __init__(self, title: str, *, unit: str = "$", horizontal: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.unit = unit
        self.horizontal = horizontal

    def on_mount(self) -> None:
        self.watch_bars(self.bars)

    def watch_bars(self, bars: tuple[tuple[str, float], ...]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.chart_title)
        if not bars:
            plt.title(f"{self.chart_title} — no data in range")
        else:
            labels = [label if len(label) <= 24 else label[:23] + "…" for label, _ in bars]
            values = [value for _, value in bars]
            plt.bar(labels, values, orientation="horizontal" if self.horizontal else "vertical", width=0.6)
        self.refresh()


class DayChart(PlotextPlot):
    """One or two lines over days: ``series`` maps a name to one value per day of ``days``."""

    DEFAULT_CSS = "DayChart { height: 1fr; min-height: 6; }"

    days: reactive[tuple[str, ...]] = reactive(())
    series: reactive[tuple[tuple[str, tuple[float, ...]], ...]] = reactive((), always_update=True)

    def __init__(self, title: str, *, bars: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.as_bars = bars

    def on_mount(self) -> None:
        self.watch_series(self.series)

    def set_data(self, days: list[str], series: list[tuple[str, list[float]]]) -> None:
        self.days = tuple(days)
        self.series = tuple((name, tuple(values)) for name, values in series)

    def watch_series(self, series: tuple[tuple[str, tuple[float, ...]], ...]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.chart_title)
        labels = [short_day(d) for d in self.days]
        if labels and series:
            xs = [float(i) for i in range(len(labels))]
            step = max(1, len(labels) // 6)
            plt.xticks(xs[::step], labels[::step])
            for index, (name, values) in enumerate(series):
                if self.as_bars and index == 0:
                    plt.plot(xs, list(values), label=name if len(series) > 1 else None, marker="braille")
                    peak = max(values, default=0.0)
                    plt.ylim(0, peak * 1.1 if peak > 0 else 0.01)  # tiny costs stay visible; empty reads as $0
                else:
                    plt.plot(xs, list(values), label=name if len(series) > 1 else None,
                             yside="right" if index else "left")  # fmt: skip
        self.refresh()
