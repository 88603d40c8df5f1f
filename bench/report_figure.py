"""The picture next to docs/performance.md's generated block (bench/performance.png): the rate-limit curve
and the change-event storm. plot() needs matplotlib (the `bench` extra) and imports it itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .report_format import MODES, SHAPES, Entry, Results, X, integer, number, pacing_rate, storm_cases, words

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _plot_rates(ax: Axes, results: Results) -> None:
    limited: list[Entry] = results.get("rate_limited", [])
    pacing: list[Entry] = results.get("pacing", [])
    rates = [float(e["rate"]) for e in limited] + [pacing_rate(e) for e in pacing]
    if not rates:
        ax.set_axis_off()
        return
    sizes = sorted({e["size"] for e in limited} | {e["size"] for e in pacing})
    colour = {size: f"C{index}" for index, size in enumerate(sizes)}
    low, high = min(rates) / 1.6, max(rates) * 1.6
    grid = [low * (high / low) ** (i / 99) for i in range(100)]
    for size in sizes:
        ax.plot(grid, [1.25 * size / r + 2 for r in grid], "--", color=colour[size], linewidth=1.2)
    title = []
    for size in sorted({e["size"] for e in limited}):
        line = [e for e in limited if e["size"] == size]
        latencies = words([number(v) for v in dict.fromkeys(e["latency_ms"] for e in line)])
        ax.plot([e["rate"] for e in line], [e["wall"] for e in line], "o-", color=colour[size], markersize=7)
        title.append(f"cold periodic run: N = {integer(size)}, {latencies} ms service time")
    # Pacing lines share R: spread their points a little sideways so that none hides another. The marker
    # tells the run (periodic, change event, CLI audit), the fill the limit (hollow: sliding window).
    markers = {"periodic": "o", "change": "s", "cli": "^"}
    for e in pacing:
        group = [p for p in pacing if p["size"] == e["size"]]
        offset = 1 + 0.35 * (group.index(e) / max(1, len(group) - 1) - 0.5)
        ax.plot(
            pacing_rate(e) * offset,
            e["worst"],
            markers.get(e.get("mode", "periodic"), "D"),
            color=colour[e["size"]],
            markerfacecolor="white" if e["shape"] == "window" else colour[e["size"]],
            markersize=6,
        )
    repeats = words([str(r) for r in sorted({len(e["walls"]) for e in pacing})])
    if pacing:
        pacing_sizes = words([integer(s) for s in sorted({e["size"] for e in pacing})])
        pacing_latencies = words([number(v) for v in sorted({e["latency_ms"] for e in pacing})])
        title.append(f"worst of {repeats} with throttles answered at once: N = {pacing_sizes}, {pacing_latencies} ms")
    from matplotlib.lines import Line2D

    legend = [
        Line2D([], [], linestyle="--", color=colour[s], label=f"bound 1.25 {X} N/R + 2 s, N = {integer(s)}")
        for s in sizes
    ]
    legend += [
        Line2D([], [], marker="o", color=colour[s], label=f"cold periodic run, N = {integer(s)}")
        for s in sorted({e["size"] for e in limited})
    ]
    modes = [m for m in MODES if any(e.get("mode", "periodic") == m for e in pacing)]
    for mode in modes:
        label = f"worst of {repeats}: {MODES[mode][0]}"
        legend.append(Line2D([], [], marker=markers[mode], linestyle="", color="grey", label=label))
    for shape, fill in (("bucket", "grey"), ("window", "white")):
        if any(e["shape"] == shape for e in pacing):
            legend.append(
                Line2D([], [], marker="o", linestyle="", color="grey", markerfacecolor=fill, label=SHAPES[shape])
            )
    ax.legend(handles=legend, fontsize=7.5, loc="upper right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted(set(rates))
    ax.set_xticks(ticks, labels=[f"{number(r)}/s" for r in ticks])
    ax.set_xticks([], minor=True)
    _log_ticks(ax, [e["wall"] for e in limited] + [e["worst"] for e in pacing])
    ax.set_xlabel("GetServerCertificate limit R (requests per second)")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Rate limits: wall time against R\n" + "\n".join(title), fontsize=9)
    ax.grid(True, which="major", alpha=0.3)


def _log_ticks(ax: Axes, values: list[float]) -> None:
    """Plain 1-2-5 labels on a log y axis: matplotlib's own read 2 x 10^2."""
    ticks = [m * 10**e for e in range(-1, 6) for m in (1, 2, 5) if min(values) / 2 <= m * 10**e <= max(values) * 2]
    ax.set_yticks(ticks, labels=[f"{t:,g}" for t in ticks])
    ax.set_yticks([], minor=True)


def _plot_storm(ax: Axes, storm: dict[str, Any]) -> None:
    cases = [(f"K = {e['storm']}\n{'no cap' if cap is None else f'cap {cap}'}", e) for cap, e in storm_cases(storm)]
    # Failures under the tick label: a count inside a bar would not fit the narrow ones.
    labels = [label + (f"\n{e['failed']} failed" if e["failed"] else "") for label, e in cases]
    positions = list(range(len(cases)))
    ax.bar(positions, [e["reads"] for _, e in cases], color="C0", width=0.6, label="total reads")
    title = "Change-event storm"
    if "size" in storm:
        ax.axhline(2 * storm["size"], color="C3", linestyle="--", label=f"2N = {integer(2 * storm['size'])} reads")
        title += f": N = {integer(storm['size'])}"
    if "rate" in storm:
        title += f", R = {number(storm['rate'])}/s"
    if "latency_ms" in storm:
        title += f", {number(storm['latency_ms'])} ms service time"
    ax.set_yscale("log")
    _log_ticks(ax, [e["reads"] for _, e in cases] + ([2 * storm["size"]] if "size" in storm else []))
    ax.set_ylabel("total GetServerCertificate reads (bars)")
    ax.set_xticks(positions, labels=labels)
    twin = ax.twinx()
    twin.plot(positions, [e["wall"] for _, e in cases], "D", color="C1", label="wall time")
    twin.set_ylabel("wall time (s, diamonds)")
    twin.set_ylim(bottom=0)
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = twin.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, fontsize=8, loc="upper right")
    ax.set_title(title, fontsize=9)


def plot(results: Results, path: Path) -> None:
    """The rate-limit curve and, when measured, the change-event storm, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: make bench runs in a terminal or CI
    import matplotlib.pyplot as plt

    storm = results.get("storm")
    figure, axes = plt.subplots(1, 2 if storm else 1, figsize=(13 if storm else 7, 5.5), squeeze=False)
    _plot_rates(axes[0][0], results)
    if storm:
        _plot_storm(axes[0][1], storm)
    figure.tight_layout()
    # No Software stamp: the PNG changes only when the figures do.
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
