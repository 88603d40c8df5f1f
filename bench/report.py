"""The performance figures and picture in docs/performance.md, from bench/results.json (the end of `make bench`).

    python -m bench.report [--results bench/results.json] [--root .]
        [--png bench/performance.png] [--check]

Each generated block is the Markdown between a BEGIN and an END comment line of one file; BLOCKS names every
block, the file that holds it and the function that renders it from the results alone, so the docs cannot
drift from the measurement (tests/test_bench_report.py keeps them equal). A block may live in any file of the
checkout: the target is per block. A section is rendered only when its key is in the results: the partial
runs (--pacing-only, --organization-only) and the figures added later need no change here to keep working.
The sections are in bench/report_sections.py, bench/report_limits.py, bench/report_ledger.py and
bench/report_org_scale.py, the README's headline in bench/report_headline.py, their formats in
bench/report_format.py; plot() (bench/report_figure.py) needs matplotlib (the `bench` extra) and imports it
itself, so render(), --check and the tests do without it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .report_figure import plot
from .report_format import Results
from .report_headline import headline
from .report_ledger import central_section, ledger_audit_section, ledger_section, storm_ledger_section
from .report_limits import pacing_section, rate_limited_section, storm_section
from .report_org_scale import org_scale_section
from .report_sections import floor_section, organization_section, other_figures, periodic_section, sizing_section
from .report_start import render_start

# The sections, in the document's order, each with the key of the results it needs.
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
    """The Markdown of the main performance block (docs/performance.md)."""
    parts = [part for key, section in SECTIONS if results.get(key) for part in section(results)]
    parts += other_figures(results)
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Block:
    """One generated block: its marker name, the file that holds it (relative to the checkout) and its renderer."""

    name: str
    target: Path
    render: Callable[[Results], str]

    @property
    def begin(self) -> str:
        return f"<!-- BEGIN {self.name} -->"

    @property
    def end(self) -> str:
        return f"<!-- END {self.name} -->"


MAIN = Block("bench/results.json", Path("docs/performance.md"), render)
HEADLINE = Block("bench/results.json headline", Path("README.md"), headline)
START = Block("bench/results.json start", Path("docs/performance.md"), render_start)

# Every generated block. A new one is a line here: its own markers, and its own file if it belongs elsewhere.
BLOCKS: tuple[Block, ...] = (MAIN, HEADLINE, START)


def _span(text: str, which: Block) -> tuple[int, int]:
    # A blank line before END, so that the block's last list or table ends before the comment.
    if which.begin + "\n" not in text or "\n" + which.end not in text:
        raise ValueError(f"no {which.begin} ... {which.end} lines in {which.target}")
    return text.index(which.begin + "\n") + len(which.begin) + 1, text.index("\n" + which.end)


def block(text: str, which: Block = MAIN) -> str:
    """A file's generated block, without its BEGIN and END lines."""
    start, end = _span(text, which)
    return text[start:end]


def with_block(text: str, rendered: str, which: Block = MAIN) -> str:
    start, end = _span(text, which)
    return text[:start] + rendered + text[end:]


def stale(root: Path, results: Results, results_name: str) -> list[str]:
    """A unified diff per block whose file no longer shows what the results hold; empty when all agree."""
    diffs = []
    for which in BLOCKS:
        path = root / which.target
        current, fresh = block(path.read_text(), which), which.render(results)
        if current != fresh:
            lines = difflib.unified_diff(
                current.splitlines(), fresh.splitlines(), f"{path} (block)", f"render({results_name})", lineterm=""
            )
            diffs.append("\n".join(lines))
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--root", type=Path, default=Path("."), help="the checkout whose files hold the blocks")
    parser.add_argument("--png", type=Path, default=Path("bench/performance.png"))
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated block is stale; write nothing")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    if args.check:
        diffs = stale(args.root, results, str(args.results))
        for diff in diffs:
            print(diff, file=sys.stderr)
        if diffs:
            print("the generated blocks are stale: run python -m bench.report", file=sys.stderr)
        return 1 if diffs else 0
    for which in BLOCKS:  # one block at a time, so that two blocks may share a file
        path = args.root / which.target
        path.write_text(with_block(path.read_text(), which.render(results), which))
    plot(results, args.png)
    targets = ", ".join(sorted({str(args.root / which.target) for which in BLOCKS}))
    print(f"wrote the generated blocks in {targets} and {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
