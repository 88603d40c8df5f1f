"""The formats of the generated performance blocks (1,000; 0.17 s; 50 ms; $0.0010), and the names and
readings of bench/results.json that its sections and its picture share.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

X = "\N{MULTIPLICATION SIGN}"  # the docs' times sign (ruff flags the literal)

Results = dict[str, Any]
Entry = dict[str, Any]

SHAPES = {"bucket": "token bucket", "window": "sliding window"}
MODES = {
    "periodic": ("periodic", "periodic runs"),
    "change": ("change event", "change events"),
    "cli": ("CLI audit", "CLI audits"),
}


def integer(value: float) -> str:
    return f"{value:,.0f}"


def number(value: float, digits: int = 2) -> str:
    """At most `digits` decimals and no trailing zeros: 8.25, 64.5, 200."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def seconds(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f} s"


def ms(value: float) -> str:
    return f"{number(value)} ms"


def money(usd: float) -> str:
    """Two significant figures, without an exponent: $0.000042, $0.012, $0.0010."""
    usd = float(f"{usd:.2g}")  # rounded first, so that 0.000999 becomes 0.0010, not 0.00100
    digits = 2
    while usd and usd < 10 ** (1 - digits) and digits < 10:
        digits += 1
    return f"${usd:,.{digits}f}"


def bold(text: str, flag: bool = True) -> str:
    return f"**{text}**" if flag else text


def words(items: list[str], conjunction: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def times(count: int) -> str:
    return {1: "once", 2: "twice", 3: "three times"}.get(count, f"{count} times")


def paragraph(text: str) -> str:
    # Wrapped as the docs' hand-written prose is, so that the block reads the same in the source.
    return textwrap.fill(text, width=110, break_on_hyphens=False, break_long_words=False)


def markdown_table(columns: list[tuple[str, bool]], rows: Iterable[list[str]]) -> str:
    """columns: (title, right-aligned)."""
    lines = [
        "| " + " | ".join(title for title, _ in columns) + " |",
        "|" + "|".join("---:" if right else "---" for _, right in columns) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def outcome(entry: Entry) -> str:
    """complete (every certificate has a verdict) and correct (the expected verdicts) when measured."""
    if not entry.get("complete", True):
        return "**incomplete**"
    if "correct" in entry:
        return "complete and correct" if entry["correct"] else "**wrong verdicts**"
    return "complete"


def call_count(calls: dict[str, int]) -> str:
    return integer(sum(calls.values()))


def action_name(action: str) -> str:
    return action.split(":", 1)[1]


def pacing_rate(entry: Entry) -> float:
    # The pacing lines record the bound 1.25 N/R + 2 s, not R itself.
    return float(entry["rate"]) if "rate" in entry else 1.25 * entry["size"] / (entry["bound"] - 2)


def storm_cases(storm: dict[str, Any]) -> list[tuple[int | None, Entry]]:
    """(cap or None for uncapped, run), as bench/storm.py measured them."""
    return [(run["cap"], run) for run in storm["runs"]]
