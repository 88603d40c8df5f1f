"""The README's performance figures and picture, from bench/results.json (the end of `make bench`).

    python -m bench.report [--results bench/results.json] [--readme README.md]
        [--png bench/performance.png] [--check]

render() writes the Markdown between the README's BEGIN and END lines from the results alone, so the
README cannot drift from the measurement (tests/test_bench_report.py keeps them equal). A section is
rendered only when its key is in the results: the partial runs (--pacing-only, --organization-only)
and the figures added later need no change here to keep working. The sections are in
bench/report_sections.py, bench/report_limits.py and bench/report_ledger.py, their formats in
bench/report_format.py; plot() (bench/report_figure.py) needs matplotlib (the `bench` extra) and
imports it itself, so render(), --check and the tests do without it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .report_figure import plot
from .report_format import Results
from .report_ledger import central_section, ledger_audit_section, ledger_section, storm_ledger_section
from .report_limits import pacing_section, rate_limited_section, storm_section
from .report_org_scale import org_scale_section
from .report_sections import floor_section, organization_section, other_figures, periodic_section, sizing_section
from .report_start import BEGIN as START_BEGIN
from .report_start import END as START_END
from .report_start import render_start

BEGIN = "<!-- BEGIN bench/results.json -->"
END = "<!-- END bench/results.json -->"

# The sections, in the README's order, each with the key of the results it needs.
SECTIONS: list[tuple[str, Callable[[Results], list[str]]]] = [
    ("periodic", periodic_section),
    ("floor", floor_section),
    ("sizing", sizing_section),
    ("rate_limited", rate_limited_section),
    ("pacing", pacing_section),
    ("storm", storm_section),
    ("ledger", ledger_section),
    ("storm_ledger", storm_ledger_section),
    ("organization", organization_section),
    ("organization_ledger", central_section),
    ("ledger_audit", ledger_audit_section),
    ("organization_scale", org_scale_section),
]


def render(results: Results) -> str:
    """The Markdown between the README's BEGIN and END lines."""
    parts = [part for key, section in SECTIONS if results.get(key) for part in section(results)]
    parts += other_figures(results)
    return "\n\n".join(parts) + "\n"


def _span(readme: str, begin: str = BEGIN, end: str = END) -> tuple[int, int]:
    # A blank line before END, so that the block's last list or table ends before the comment.
    if begin + "\n" not in readme or "\n" + end not in readme:
        raise ValueError(f"no {begin} ... {end} lines in the README")
    return readme.index(begin + "\n") + len(begin) + 1, readme.index("\n" + end)


def block(readme: str, begin: str = BEGIN, end: str = END) -> str:
    """The README's generated block (by default the main one), without its BEGIN and END lines."""
    start, stop = _span(readme, begin, end)
    return readme[start:stop]


def with_block(readme: str, text: str, begin: str = BEGIN, end: str = END) -> str:
    start, stop = _span(readme, begin, end)
    return readme[:start] + text + readme[stop:]


# The generated blocks: (BEGIN, END, render). The lean start's is small and kept apart (bench/report_start.py).
BLOCKS: list[tuple[str, str, Callable[[Results], str]]] = [(BEGIN, END, render), (START_BEGIN, START_END, render_start)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--png", type=Path, default=Path("bench/performance.png"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's block is stale; write nothing")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    readme = args.readme.read_text()
    if args.check:
        stale = False
        for begin, end, rendered in BLOCKS:
            current, text = block(readme, begin, end), rendered(results)
            if current != text:
                stale = True
                diff = difflib.unified_diff(
                    current.splitlines(), text.splitlines(), f"{args.readme} ({begin})", f"{args.results}", lineterm=""
                )
                print("\n".join(diff), file=sys.stderr)
        if stale:
            print(f"{args.readme} is stale: run python -m bench.report", file=sys.stderr)
        return int(stale)
    for begin, end, rendered in BLOCKS:
        readme = with_block(readme, rendered(results), begin, end)
    args.readme.write_text(readme)
    plot(results, args.png)
    print(f"wrote the performance figures in {args.readme} and {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
