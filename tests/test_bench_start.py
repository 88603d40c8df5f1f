"""The README's lean-start block is bench/results.json's "start" (bench/report_start.py), and a missed target
shows as missed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report as bench_report
from bench.report_start import BEGIN, END, render_start

ROOT = Path(__file__).resolve().parents[1]


def start(import_ratios: list[float], off_ratios: list[float]) -> dict[str, Any]:
    periodic = {"size": 1000, "latency_ms": 50.0, "cpu_ratio": 1.2}
    return {
        "date": "2026-12-06",
        "repeats": len(import_ratios),
        "wall_s": 240.0,
        "load": [1.5, 2.0],
        "bytecode_written": True,
        "import": {
            "ratio": max(import_ratios),
            "cpu_ratio": 1.05,
            "imports": 7,
            "repetitions": [{"ratio": ratio} for ratio in import_ratios],
        },
        "periodic": [
            {**periodic, "body": True, "ratio": 1.04, "ratios": [1.01, 1.04]},
            {**periodic, "body": False, "ratio": max(off_ratios), "ratios": off_ratios},
        ],
    }


def test_the_readme_shows_the_lean_start_results_json_holds() -> None:
    # If this fails: python -m bench.report (make bench runs it).
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    assert bench_report.block((ROOT / "README.md").read_text(), BEGIN, END) == render_start(results)


def test_each_repetition_is_shown_and_a_missed_target_is_marked() -> None:
    lines = render_start({"start": start([1.08, 1.12], [1.1, 1.31])}).splitlines()
    assert "| handler import / `import boto3` | ≤ 1.15 | 1.12 | 1.08, 1.12 | 1.05 |" in lines
    assert (
        "| cold periodic run, body check on, N=1,000, 50 ms / bare boto3 | ≤ 1.10 | 1.04 | 1.01, 1.04 | 1.20 |" in lines
    )
    off = "| cold periodic run, body check off, N=1,000, 50 ms / bare boto3 | ≤ 1.15 | **1.31** (missed) | 1.10, 1.31 |"
    assert any(line.startswith(off) for line in lines)
    assert render_start({}) == ""


def test_check_finds_a_stale_lean_start_block(tmp_path: Path) -> None:
    results = {"start": start([1.08, 1.12], [1.1, 1.12])}
    (tmp_path / "results.json").write_text(json.dumps(results))
    readme = f"{bench_report.BEGIN}\n{bench_report.render(results)}\n{bench_report.END}\n\n{BEGIN}\nold\n\n{END}\n"
    (tmp_path / "README.md").write_text(readme)
    argv = ["--results", str(tmp_path / "results.json"), "--readme", str(tmp_path / "README.md"), "--check"]
    assert bench_report.main(argv) == 1
    fresh = bench_report.with_block(readme, render_start(results), BEGIN, END)
    (tmp_path / "README.md").write_text(fresh)
    assert bench_report.main(argv) == 0
