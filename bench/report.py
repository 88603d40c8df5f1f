"""The README's performance figures and picture, from bench/results.json (the end of `make bench`).

    python -m heartbleed_tools.bench_report [--results bench/results.json] [--readme README.md]
        [--png bench/performance.png] [--check]

render() writes the Markdown between the README's BEGIN and END lines from the results alone, so the
README cannot drift from the measurement (tests/test_bench_report.py keeps them equal). A section is
rendered only when its key is in the results: the partial runs (--pacing-only, --organization-only)
and the figures added later need no change here to keep working. plot() needs matplotlib (the `bench`
extra) and imports it itself, so render(), --check and the tests do without it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BEGIN = "<!-- BEGIN bench/results.json -->"
END = "<!-- END bench/results.json -->"

# Targets from issue 9, stated next to the figures they judge.
FLOOR_TARGET = 1.15  # rule wall / bare boto3 wall
OFF_CALLS_TARGET = 12  # calls with the body check off
TARGET_SIZE, TARGET_LATENCY_MS = 1000, 50.0  # where the floor targets apply
ORGANIZATION_TARGET = 1.5
SMALLEST_LAMBDA_MB = 128
X = "\N{MULTIPLICATION SIGN}"  # the README's times sign (ruff flags the literal)

Results = dict[str, Any]
Entry = dict[str, Any]

SHAPES = {"bucket": "token bucket", "window": "sliding window"}
MODES = {
    "periodic": ("periodic", "periodic runs"),
    "change": ("change event", "change events"),
    "cli": ("CLI audit", "CLI audits"),
}
ACTION_ORDER = [
    "iam:ListServerCertificates",
    "iam:GetServerCertificate",
    "config:PutEvaluations",
    "config:GetComplianceDetailsByConfigRule",
]


# Formatting: the README's style (1,000; 0.17 s; 50 ms; 8.25 s).
def _int(value: float) -> str:
    return f"{value:,.0f}"


def _num(value: float, digits: int = 2) -> str:
    """At most `digits` decimals and no trailing zeros: 8.25, 64.5, 200."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _s(seconds: float, digits: int = 2) -> str:
    return f"{seconds:,.{digits}f} s"


def _ms(value: float) -> str:
    return f"{_num(value)} ms"


def _money(usd: float) -> str:
    """Two significant figures, without an exponent: $0.000042, $0.012, $0.0010."""
    usd = float(f"{usd:.2g}")  # rounded first, so that 0.000999 becomes 0.0010, not 0.00100
    digits = 2
    while usd and usd < 10 ** (1 - digits) and digits < 10:
        digits += 1
    return f"${usd:,.{digits}f}"


def _bold(text: str, flag: bool = True) -> str:
    return f"**{text}**" if flag else text


def _words(items: list[str], conjunction: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _times(count: int) -> str:
    return {1: "once", 2: "twice", 3: "three times"}.get(count, f"{count} times")


def _paragraph(text: str) -> str:
    # Wrapped as the README's hand-written prose is, so that the block reads the same in the source.
    return textwrap.fill(text, width=110, break_on_hyphens=False, break_long_words=False)


def _table(columns: list[tuple[str, bool]], rows: Iterable[list[str]]) -> str:
    """columns: (title, right-aligned)."""
    lines = [
        "| " + " | ".join(title for title, _ in columns) + " |",
        "|" + "|".join("---:" if right else "---" for _, right in columns) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _result(entry: Entry) -> str:
    """complete (every certificate has a verdict) and correct (the expected verdicts) when measured."""
    if not entry.get("complete", True):
        return "**incomplete**"
    if "correct" in entry:
        return "complete and correct" if entry["correct"] else "**wrong verdicts**"
    return "complete"


def _calls(calls: dict[str, int]) -> str:
    return _int(sum(calls.values()))


def _short(action: str) -> str:
    return action.split(":", 1)[1]


# The sections, in the README's order.
def _periodic(results: Results) -> list[str]:
    entries = results["periodic"]
    headline = max(entries, key=lambda e: (e["rule"]["size"], e["rule"]["latency_ms"]))
    measured = ", ".join(str(results[key]) for key in ("date", "machine") if key in results)
    rows = []
    for entry in entries:
        rule, base, off = entry["rule"], entry["baseline"], entry["body_check_off"]
        bold = entry is headline
        rows.append(
            [
                _int(rule["size"]),
                _ms(rule["latency_ms"]),
                _bold(_s(rule["wall"]), bold),
                _calls(rule["calls"]),
                _bold(f"{rule['rss_mib']:.0f} MiB", bold),
                _s(base["wall"]),
                _calls(base["calls"]),
                f"{entry['ratio']:.1f}",
                f"{_bold(_s(off['wall']), bold)}, {_calls(off['calls'])} calls",
            ]
        )
    table = _table(
        [
            ("N", True),
            ("latency", True),
            ("rule wall", True),
            ("rule calls", True),
            ("peak RSS", True),
            ("baseline wall", True),
            ("baseline calls", True),
            ("baseline / rule", True),
            ("body check off (IAM-033 settings)", True),
        ],
        rows,
    )
    size = headline["rule"]["size"]
    calls = headline["rule"]["calls"]
    ordered = [a for a in ACTION_ORDER if a in calls] + sorted(a for a in calls if a not in ACTION_ORDER)
    listed = []
    for action in ordered:
        text = f"{_int(calls[action])} {_short(action)}"
        if action == "config:GetComplianceDetailsByConfigRule":
            text += f" (the clean-up's reads of the {_int(size)} earlier rows, 100 a page)"
        listed.append(text)
    nothing_else = "; nothing else" if set(calls) <= set(ACTION_ORDER) else ""
    said = (
        f"The rule's calls for N={_int(size)}: {_words(listed)}{nothing_else} (no STS: the benchmark runs with "
        "`AssumeRoleMode=false`)."
    )
    if "iam:GetServerCertificate" not in headline["body_check_off"]["calls"]:
        said += " With the body check off the GetServerCertificate calls go."
    pages = headline["baseline"]["calls"].get("iam:ListServerCertificates", 0)
    said += f" The baseline lists in IAM's default pages of 100 ({_int(pages)} calls)."
    return [f"Measured on {measured}:" if measured else "Measured:", table, _paragraph(said)]


def _floor(results: Results) -> list[str]:
    entries = results["floor"]
    rows = []
    for e in entries:
        judged = e["size"] == TARGET_SIZE and e["latency_ms"] == TARGET_LATENCY_MS
        over = judged and e["ratio"] > FLOOR_TARGET
        too_many = judged and not e["body"] and e["rule_calls"] > OFF_CALLS_TARGET
        rows.append(
            [
                _int(e["size"]),
                _ms(e["latency_ms"]),
                "on" if e["body"] else "off",
                _s(e["rule_wall"]),
                _s(e["floor_wall"]),
                _bold(f"{e['ratio']:.2f}", over) + (" (missed)" if over else ""),
                _bold(_int(e["rule_calls"]), too_many) + (" (missed)" if too_many else ""),
                _int(e["floor_calls"]),
                f"{e['cpu_per_certificate_ms']:.2f} ms",
                str(e["repeats"]),
            ]
        )
    intro = (
        "**Against the floor.** The rule against bare boto3 making the same calls from a fresh session (the "
        "list, N concurrent gets, N/100 puts), measured in the same run; the ratio is the worst of the repeats, "
        "and CPU is the rule's process only. Targets at "
        f"N={_int(TARGET_SIZE)} and {_ms(TARGET_LATENCY_MS)}: rule / floor ≤ {FLOOR_TARGET:g} with the body "
        f"check on and with it off, and ≤ {OFF_CALLS_TARGET} calls with it off."
    )
    table = _table(
        [
            ("N", True),
            ("latency", True),
            ("body check", False),
            ("rule wall", True),
            ("bare boto3 wall", True),
            (f"rule / floor (target {FLOOR_TARGET:g})", True),
            ("rule calls", True),
            ("bare boto3 calls", True),
            ("CPU per certificate", True),
            ("repeats", True),
        ],
        rows,
    )
    return [_paragraph(intro), table]


def _sizing(results: Results) -> list[str]:
    entries = results["sizing"]
    memories = sorted({(e["memory_mb"], e["vcpu"]) for e in entries})
    cells = {(e.get("case", _int(e["size"])), e["memory_mb"]): e for e in entries}
    rows = []
    for case in dict.fromkeys(e.get("case", _int(e["size"])) for e in entries):  # in measured order
        row = [case]
        for memory, _ in memories:
            e = cells.get((case, memory))
            row.append(f"{_s(e['seconds'], 1)}, {_money(e['cost_usd'])}" if e else "")
        rows.append(row)
    intro = (
        "**Lambda sizing**, from the measured CPU seconds of each cold run (a function's share of a vCPU grows "
        "with its memory, one vCPU at 1,769 MB; the waiting on AWS does not shrink): expected duration and "
        "Lambda cost (x86, us-east-1) of one run, imports included."
    )
    columns = [("run", False)] + [(f"{m} MB ({_num(v)} vCPU)", True) for m, v in memories]
    return [_paragraph(intro), _table(columns, rows)]


def _rate_limited(results: Results) -> list[str]:
    entries = results["rate_limited"]
    first = entries[0]
    rows = [
        [
            f"{_num(e['rate'])}/s",
            _num(e["floor"]) + " s",
            _num(e["bound"]) + " s",
            _s(e["wall"], 1),
            _int(sum(e["throttled"].values())),
            _result(e),
        ]
        for e in entries
    ]
    intro = (
        f"**Rate limits.** At {_ms(first['latency_ms'])} and N={_int(first['size'])}, cold periodic runs with "
        "GetServerCertificate limited to R per second:"
    )
    table = _table(
        [
            ("R", True),
            ("floor N/R", True),
            (f"target 1.25 {X} floor + 2 s", True),
            ("wall", True),
            ("throttled answers", True),
            ("result", False),
        ],
        rows,
    )
    return [_paragraph(intro), table]


def _pacing_rate(entry: Entry) -> float:
    # The pacing lines record the bound 1.25 N/R + 2 s, not R itself.
    return float(entry["rate"]) if "rate" in entry else 1.25 * entry["size"] / (entry["bound"] - 2)


def _pacing(results: Results) -> list[str]:
    entries = results["pacing"]
    with_mode = any("mode" in e for e in entries)
    repeats = sorted({len(e["walls"]) for e in entries})
    worst = f"worst of {repeats[0]}" if len(repeats) == 1 else "worst"
    rows = []
    for e in entries:
        missed = e["worst"] > e["bound"]
        row = [_int(e["size"])]
        if with_mode:
            row.append(MODES[e.get("mode", "periodic")][0])
        row += [
            _ms(e["latency_ms"]),
            SHAPES.get(e["shape"], e["shape"]),
            _bold(_s(e["worst"]), missed),
            _s(min(e["walls"])),
            _num(e["bound"]) + " s" + (" (missed)" if missed else ""),
            _result(e),
        ]
        rows.append(row)
    modes = _words(
        [plural for mode, (_, plural) in MODES.items() if any(e.get("mode", "periodic") == mode for e in entries)]
    )
    rates = _words([f"{_num(r)}/s" for r in dict.fromkeys(_pacing_rate(e) for e in entries)])
    shapes = " or ".join(f"a {SHAPES.get(s, s)}" for s in dict.fromkeys(e["shape"] for e in entries))
    latencies = _words([_num(v) for v in dict.fromkeys(e["latency_ms"] for e in entries)], "or")
    intro = (
        "**Throttles answered at once** (`python -P bench/run.py --pacing-only`, "
        f"`heartbleed_tools/bench_pacing.py`). Cold {modes} in fresh interpreters, GetServerCertificate limited "
        f"to R = {rates} by {shapes} whose refusals come back at once while accepted reads take {latencies} ms; "
        f"worst and best of {_words([str(r) for r in repeats])} runs each:"
    )
    columns = [("N", True)] + ([("run", False)] if with_mode else [])
    columns += [
        ("service time", True),
        ("limit", False),
        (worst, True),
        ("best", True),
        (f"bound 1.25 {X} N/R + 2 s", True),
        ("result", False),
    ]
    return [_paragraph(intro), _table(columns, rows)]


def _storm_cases(storm: dict[str, Any]) -> list[tuple[int | None, Entry]]:
    """(cap or None for uncapped, run), as bench_storm measured them."""
    return [(run["cap"], run) for run in storm["runs"]]


def _storm(results: Results) -> list[str]:
    storm = results["storm"]
    size = storm.get("size")
    limit = 2 * size if size else None
    rows = []
    for cap, e in _storm_cases(storm):
        capped = cap is not None
        over = capped and limit is not None and e["reads"] > limit
        sent = e["sent"]
        right = e["correct"] == sent  # the verdicts sent that equal an unthrottled run's
        rows.append(
            [
                f"cap {cap}" if capped else "no cap",
                _int(e["storm"]),
                _bold(_int(e["failed"]), capped and e["failed"] > 0),
                _bold(_int(sent), capped and sent < e["storm"]),
                "yes" if right else "**no**",
                _bold(_int(e["reads"]), over) + (" (over 2N)" if over else ""),
                _int(e["throttled"]),
                _s(e["wall"], 1),
            ]
        )
    where = [f"N = {_int(size)}"] if size else []
    if "rate" in storm:
        where.append(f"GetServerCertificate limited to R = {_num(storm['rate'])}/s")
    if "latency_ms" in storm:
        where.append(f"{_ms(storm['latency_ms'])} service time")
    intro = (
        f"**Change-event storms** ({', '.join(where)}): K change events at once, each uncapped one in a cold "
        "container; under a cap (`ReservedConcurrentExecutions`), one or a few warm containers take the events "
        "in turn. Target under the cap: 0 failed invocations, every changed certificate's verdict sent"
        + (f", and total reads ≤ 2N = {_int(limit)}." if limit else ".")
    )
    table = _table(
        [
            ("case", False),
            ("events K", True),
            ("failed invocations", True),
            ("verdicts sent", True),
            ("correct", False),
            ("total reads", True),
            ("throttles", True),
            ("wall", True),
        ],
        rows,
    )
    return [_paragraph(intro), table]


def _organization(results: Results) -> list[str]:
    organization = results["organization"]
    runs = organization["runs"]
    first = runs[0]
    accounts, per_account = first["accounts"], first["per_account"]
    total = accounts * per_account
    intro = (
        "**Organization audit** (`python -P bench/run.py --organization-only`, also part of `make bench`; "
        f"`heartbleed_tools/bench_organization.py`). The same {_int(total)} certificates (one in ten issued in "
        f"2013 with one shared key), once spread over an organization of {accounts} accounts {X} {per_account} and "
        f"once in one account, each audited by `heartbleed-audit` in a fresh interpreter at "
        f"{_ms(first['latency_ms'])} per request, in the same run, {_times(len(runs))}:"
    )
    rows = [
        [
            str(index),
            _s(run["organization"]["wall"]),
            _calls(run["organization"]["calls"]),
            _s(run["one_account"]["wall"]),
            _calls(run["one_account"]["calls"]),
            f"{run['ratio']:.2f}",
        ]
        for index, run in enumerate(runs, 1)
    ]
    table = _table(
        [
            ("run", True),
            (f"{accounts} accounts {X} {per_account}", True),
            ("calls", True),
            (f"1 account {X} {_int(total)}", True),
            ("calls", True),
            ("ratio", True),
        ],
        rows,
    )
    spread, single = first["organization"]["calls"], first["one_account"]["calls"]
    extra = [
        f"{_int(count - single.get(action, 0))} {'more ' if action in single else ''}{_short(action)}"
        for action, count in spread.items()
        if count > single.get(action, 0)
    ]
    worst = organization["worst_ratio"]
    after = (
        f"Worst ratio {_bold(f'{worst:.2f}', worst > ORGANIZATION_TARGET)} (target {ORGANIZATION_TARGET:g}). "
        f"The organization's {_int(sum(spread.values()) - sum(single.values()))} extra calls: {_words(extra)}. "
        "Both audits are CPU-bound here (the double serves in the same machine), which is why run-to-run "
        "spread is wide."
    )
    return [_paragraph(intro), table, _paragraph(after)]


def _case(name: str) -> str:
    # benchmark.change_events names one container's two events "..., cold then warm container (cold)".
    for state in ("cold", "warm"):
        name = name.replace(f"cold then warm container ({state})", f"{state} container")
    return name


def _other(results: Results) -> list[str]:
    bullets = []
    if "import" in results:
        cost = results["import"]
        bullets.append(
            f"Import: the handler module imports in {cost['handler_ms']:.0f} ms in a fresh interpreter, boto3 "
            f"alone in {cost['boto3_ms']:.0f} ms (ratio {cost['ratio']:.2f}); `cryptography` is imported only "
            "when a body is read."
        )
    rule_runs = [e[key] for e in results.get("periodic", []) for key in ("rule", "body_check_off")]
    rule_runs += results.get("rate_limited", [])
    if rule_runs:
        size = max(run["size"] for run in rule_runs)
        peak = max(run["rss_mib"] for run in rule_runs if run["size"] == size)
        side = "under" if peak * 1.048576 < SMALLEST_LAMBDA_MB else "over"  # MiB in MB, the stricter reading
        bullets.append(
            f"Memory: peak RSS {peak:.0f} MiB for N={_int(size)} (any run above), {side} the smallest Lambda "
            f"size ({SMALLEST_LAMBDA_MB} MB)."
        )
    if results.get("change_events") and results.get("periodic"):
        # Run at the periodic table's largest N and its added latency (benchmark.change_events).
        size = max(e["rule"]["size"] for e in results["periodic"])
        latency = max(e["rule"]["latency_ms"] for e in results["periodic"])
        cases = [
            f"{_case(e['case'])}, {_int(e['iam_calls'])} IAM call{'s' if e['iam_calls'] != 1 else ''} ({_s(e['wall'])})"
            for e in results["change_events"]
        ]
        bullets.append(f"Change events (N={_int(size)}, {_ms(latency)}): {'; '.join(cases)}.")
    if results.get("rate_limited"):
        slowest = max(results["rate_limited"], key=lambda e: e["wall"])
        bullets.append(
            f"Slowest run above: {_s(slowest['wall'], 0)} (N={_int(slowest['size'])}, R={_num(slowest['rate'])}/s)."
        )
    # Results measured before the "body check off" run took IAM-033's cutoff carry the old label.
    if any("IAM-033" not in e["body_check_off"]["label"] for e in results.get("periodic", [])):
        bullets.append(
            f"The periodic table was measured{' on ' + results['date'] if 'date' in results else ''}, before "
            'the baseline got its own judgement and the "body check off" run IAM-033\'s cutoff; neither changes '
            "the calls made, and `make bench` rewrites `bench/results.json`."
        )
    if not bullets:
        return []
    wrapped = [textwrap.indent(_paragraph("- " + b), "  ")[2:] for b in bullets]
    return ["**Other figures.**\n" + "\n".join(wrapped)]


SECTIONS: list[tuple[str, Callable[[Results], list[str]]]] = [
    ("periodic", _periodic),
    ("floor", _floor),
    ("sizing", _sizing),
    ("rate_limited", _rate_limited),
    ("pacing", _pacing),
    ("storm", _storm),
    ("organization", _organization),
]


def render(results: Results) -> str:
    """The Markdown between the README's BEGIN and END lines."""
    parts = [part for key, section in SECTIONS if results.get(key) for part in section(results)]
    parts += _other(results)
    return "\n\n".join(parts) + "\n"


def _span(readme: str) -> tuple[int, int]:
    # A blank line before END, so that the block's last list or table ends before the comment.
    if BEGIN + "\n" not in readme or "\n" + END not in readme:
        raise ValueError(f"no {BEGIN} ... {END} lines in the README")
    return readme.index(BEGIN + "\n") + len(BEGIN) + 1, readme.index("\n" + END)


def block(readme: str) -> str:
    """The README's generated block, without its BEGIN and END lines."""
    start, end = _span(readme)
    return readme[start:end]


def with_block(readme: str, text: str) -> str:
    start, end = _span(readme)
    return readme[:start] + text + readme[end:]


def _plot_rates(ax: Axes, results: Results) -> None:
    limited: list[Entry] = results.get("rate_limited", [])
    pacing: list[Entry] = results.get("pacing", [])
    rates = [float(e["rate"]) for e in limited] + [_pacing_rate(e) for e in pacing]
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
        latencies = _words([_num(v) for v in dict.fromkeys(e["latency_ms"] for e in line)])
        ax.plot([e["rate"] for e in line], [e["wall"] for e in line], "o-", color=colour[size], markersize=7)
        title.append(f"cold periodic run: N = {_int(size)}, {latencies} ms service time")
    # Pacing lines share R: spread their points a little sideways so that none hides another. The marker
    # tells the run (periodic, change event, CLI audit), the fill the limit (hollow: sliding window).
    markers = {"periodic": "o", "change": "s", "cli": "^"}
    for e in pacing:
        group = [p for p in pacing if p["size"] == e["size"]]
        offset = 1 + 0.35 * (group.index(e) / max(1, len(group) - 1) - 0.5)
        ax.plot(
            _pacing_rate(e) * offset,
            e["worst"],
            markers.get(e.get("mode", "periodic"), "D"),
            color=colour[e["size"]],
            markerfacecolor="white" if e["shape"] == "window" else colour[e["size"]],
            markersize=6,
        )
    repeats = _words([str(r) for r in sorted({len(e["walls"]) for e in pacing})])
    if pacing:
        pacing_sizes = _words([_int(s) for s in sorted({e["size"] for e in pacing})])
        pacing_latencies = _words([_num(v) for v in sorted({e["latency_ms"] for e in pacing})])
        title.append(f"worst of {repeats} with throttles answered at once: N = {pacing_sizes}, {pacing_latencies} ms")
    from matplotlib.lines import Line2D

    legend = [
        Line2D([], [], linestyle="--", color=colour[s], label=f"bound 1.25 {X} N/R + 2 s, N = {_int(s)}") for s in sizes
    ]
    legend += [
        Line2D([], [], marker="o", color=colour[s], label=f"cold periodic run, N = {_int(s)}")
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
    ax.set_xticks(ticks, labels=[f"{_num(r)}/s" for r in ticks])
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
    cases = [(f"K = {e['storm']}\n{'no cap' if cap is None else f'cap {cap}'}", e) for cap, e in _storm_cases(storm)]
    # Failures under the tick label: a count inside a bar would not fit the narrow ones.
    labels = [label + (f"\n{e['failed']} failed" if e["failed"] else "") for label, e in cases]
    positions = list(range(len(cases)))
    ax.bar(positions, [e["reads"] for _, e in cases], color="C0", width=0.6, label="total reads")
    title = "Change-event storm"
    if "size" in storm:
        ax.axhline(2 * storm["size"], color="C3", linestyle="--", label=f"2N = {_int(2 * storm['size'])} reads")
        title += f": N = {_int(storm['size'])}"
    if "rate" in storm:
        title += f", R = {_num(storm['rate'])}/s"
    if "latency_ms" in storm:
        title += f", {_num(storm['latency_ms'])} ms service time"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--png", type=Path, default=Path("bench/performance.png"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's block is stale; write nothing")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    readme = args.readme.read_text()
    text = render(results)
    if args.check:
        current = block(readme)
        if current == text:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), text.splitlines(), f"{args.readme} (block)", f"render({args.results})", lineterm=""
        )
        print("\n".join(diff), file=sys.stderr)
        print(f"{args.readme} is stale: run python -m heartbleed_tools.bench_report", file=sys.stderr)
        return 1
    args.readme.write_text(with_block(readme, text))
    plot(results, args.png)
    print(f"wrote the performance figures in {args.readme} and {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
