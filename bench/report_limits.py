"""docs/performance.md's sections on reads under a GetServerCertificate limit: the rate-limited runs,
the pacing lines (throttles answered at once) and the change-event storms.
"""

from __future__ import annotations

from .report_format import (
    MODES,
    SHAPES,
    Results,
    X,
    bold,
    integer,
    markdown_table,
    ms,
    number,
    outcome,
    pacing_rate,
    paragraph,
    seconds,
    storm_cases,
    words,
)


def rate_limited_section(results: Results) -> list[str]:
    entries = results["rate_limited"]
    first = entries[0]
    rows = [
        [
            f"{number(e['rate'])}/s",
            number(e["floor"]) + " s",
            number(e["bound"]) + " s",
            seconds(e["wall"], 1),
            integer(sum(e["throttled"].values())),
            outcome(e),
        ]
        for e in entries
    ]
    intro = (
        f"**Rate limits.** At {ms(first['latency_ms'])} and N={integer(first['size'])}, cold periodic runs with "
        "GetServerCertificate limited to R per second:"
    )
    table = markdown_table(
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
    return [paragraph(intro), table]


def pacing_section(results: Results) -> list[str]:
    entries = results["pacing"]
    with_mode = any("mode" in e for e in entries)
    repeats = sorted({len(e["walls"]) for e in entries})
    worst = f"worst of {repeats[0]}" if len(repeats) == 1 else "worst"
    rows = []
    for e in entries:
        missed = e["worst"] > e["bound"]
        row = [integer(e["size"])]
        if with_mode:
            row.append(MODES[e.get("mode", "periodic")][0])
        row += [
            ms(e["latency_ms"]),
            SHAPES.get(e["shape"], e["shape"]),
            bold(seconds(e["worst"]), missed),
            seconds(min(e["walls"])),
            number(e["bound"]) + " s" + (" (missed)" if missed else ""),
            outcome(e),
        ]
        rows.append(row)
    modes = words(
        [plural for mode, (_, plural) in MODES.items() if any(e.get("mode", "periodic") == mode for e in entries)]
    )
    rates = words([f"{number(r)}/s" for r in dict.fromkeys(pacing_rate(e) for e in entries)])
    shapes = " or ".join(f"a {SHAPES.get(s, s)}" for s in dict.fromkeys(e["shape"] for e in entries))
    latencies = words([number(v) for v in dict.fromkeys(e["latency_ms"] for e in entries)], "or")
    intro = (
        "**Throttles answered at once** (`python -m bench.run --pacing-only`, "
        f"`bench/pacing.py`). Cold {modes} in fresh interpreters, GetServerCertificate limited "
        f"to R = {rates} by {shapes} whose refusals come back at once while accepted reads take {latencies} ms; "
        f"worst and best of {words([str(r) for r in repeats])} runs each:"
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
    return [paragraph(intro), markdown_table(columns, rows)]


def storm_section(results: Results) -> list[str]:
    storm = results["storm"]
    size = storm.get("size")
    limit = 2 * size if size else None
    rows = []
    for cap, e in storm_cases(storm):
        capped = cap is not None
        over = capped and limit is not None and e["reads"] > limit
        sent = e["sent"]
        right = e["correct"] == sent  # the verdicts sent that equal an unthrottled run's
        rows.append(
            [
                f"cap {cap}" if capped else "no cap",
                integer(e["storm"]),
                bold(integer(e["failed"]), capped and e["failed"] > 0),
                bold(integer(sent), capped and sent < e["storm"]),
                "yes" if right else "**no**",
                bold(integer(e["reads"]), over) + (" (over 2N)" if over else ""),
                integer(e["throttled"]),
                seconds(e["wall"], 1),
            ]
        )
    where = [f"N = {integer(size)}"] if size else []
    if "rate" in storm:
        where.append(f"GetServerCertificate limited to R = {number(storm['rate'])}/s")
    if "latency_ms" in storm:
        where.append(f"{ms(storm['latency_ms'])} service time")
    intro = (
        f"**Change-event storms** ({', '.join(where)}): K change events at once, each uncapped one in a cold "
        "container; under a cap (`ReservedConcurrentExecutions`), one or a few warm containers take the events "
        "in turn. Target under the cap: 0 failed invocations, every changed certificate's verdict sent"
        + (f", and total reads ≤ 2N = {integer(limit)}." if limit else ".")
    )
    table = markdown_table(
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
    return [paragraph(intro), table]
