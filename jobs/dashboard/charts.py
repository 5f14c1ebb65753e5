"""The overview's two bar charts (jobs per minute, failure rate over the last hour), drawn
on the server as SVG geometry: the template only places the rectangles."""

from dataclasses import dataclass

from jobs.selectors import MinuteStats

CHART_WIDTH, CHART_HEIGHT = 240, 48


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    bars: list[Bar]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _bars(values: list[float | None], labels: list[str], *, top: float) -> list[Bar]:
    """Bars of a sparkline, one per value, scaled so that `top` fills the chart's height; a
    value of zero gets no bar, and a small one at least a visible sliver."""
    slot = CHART_WIDTH / max(len(values), 1)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        if not value:
            continue
        height = max(2.0, CHART_HEIGHT * min(value, top) / top)
        bars.append(Bar(x=round(i * slot, 2), y=round(CHART_HEIGHT - height, 2), width=round(slot - 1, 2),
                        height=round(height, 2), label=label))  # fmt: skip
    return bars


def last_hour_charts(minutes: list[MinuteStats]) -> tuple[Chart, Chart]:
    finished = sum(m.finished for m in minutes)
    failed = sum(m.failed for m in minutes)
    peak = max((m.finished for m in minutes), default=0)
    times = [f"{m.start:%H:%M} UTC" for m in minutes]
    throughput = Chart(
        title="Jobs per minute",
        summary=f"{finished} finished in the last hour, at most {peak} in one minute",
        bars=_bars(
            [m.finished for m in minutes],
            [f"{t}: {m.finished} finished, {m.failed} failed" for t, m in zip(times, minutes, strict=True)],
            top=max(peak, 1),
        ),
    )
    rate = f"{failed / finished:.0%}" if finished else "no jobs finished"
    failures = Chart(
        title="Failure rate",
        summary=f"{rate} in the last hour ({failed} of {finished} failed)" if finished else f"{rate} in the last hour",
        bars=_bars(
            [m.failure_rate * 100 if m.failure_rate else None for m in minutes],
            [f"{t}: {m.failed} of {m.finished} failed" for t, m in zip(times, minutes, strict=True)],
            top=100,
        ),
    )
    return throughput, failures
