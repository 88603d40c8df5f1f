"""docs/performance.md's lean-start block: the handler's import and its cold periodic runs against bare boto3
(bench/periodic.py's start_lines, `python -m bench.run --start-only`), from bench/results.json's "start".

bench/report.py writes it between its own BEGIN and END lines, as it writes the main block, and --check
compares it; a target missed is marked in the table, never hidden.
"""

from __future__ import annotations

from .report_format import Entry, Results, bold, integer, markdown_table, ms, paragraph
from .report_sections import FLOOR_TARGET

BODY_ON_TARGET = 1.10  # the cold periodic run with the body check on, against its floor


def _row(what: str, target: float, worst: float, ratios: list[float], cpu: float) -> list[str]:
    over = worst > target
    return [
        what,
        f"≤ {target:.2f}",
        bold(f"{worst:.2f}", over) + (" (missed)" if over else ""),
        ", ".join(f"{ratio:.2f}" for ratio in ratios),
        f"{cpu:.2f}",
    ]


def _periodic(line: Entry) -> str:
    state = "on" if line["body"] else "off"
    return f"cold periodic run, body check {state}, N={integer(line['size'])}, {ms(line['latency_ms'])}"


def _least_of(start: Entry) -> int:
    return max(int(line.get("least_of", 1)) for line in start["periodic"])


def render_start(results: Results) -> str:
    """The Markdown between the lean-start BEGIN and END lines (empty without a "start" entry)."""
    start = results.get("start")
    if not start:
        return ""
    imports = start["import"]
    rows = [
        _row(
            "handler import / `import boto3`",
            FLOOR_TARGET,
            imports["ratio"],
            [r["ratio"] for r in imports["repetitions"]],
            imports["cpu_ratio"],
        )
    ]
    for line in sorted(start["periodic"], key=lambda line: not line["body"]):
        target = BODY_ON_TARGET if line["body"] else FLOOR_TARGET
        rows.append(_row(_periodic(line) + " / bare boto3", target, line["ratio"], line["ratios"], line["cpu_ratio"]))
    compiled = (
        "; the rule's modules imported from byte code, as the Lambda bundle ships them"
        if start.get("byte_code")
        else "; no byte code: the rule's modules were compiled at every import"
    )
    intro = (
        f"**Lean start** (measured on {start['date']}; `python -m bench.run --start-only`, "
        f"{start['wall_s']:.0f} s). Each ratio is the rule's time over bare boto3's in the same repetition, "
        f"the worst of {start['repeats']} reported: the import in fresh interpreters (each side's least of "
        f"{imports['imports']} in turn), the cold run as in the floor table"
        + (f", each side's fastest of {runs} runs in turn" if (runs := _least_of(start)) > 1 else "")
        + ". The machine's load average was "
        f"{start['load'][0]:.1f} at the start and {start['load'][1]:.1f} at the end{compiled}."
    )
    columns = [("rule / floor", False), ("target", True), ("worst", True), ("each", False), ("worst CPU", True)]
    table = markdown_table(columns, rows)
    return paragraph(intro) + "\n\n" + table + "\n"
