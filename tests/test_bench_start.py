"""The lean-start block (bench/report_start.py) shows every repetition and marks a missed target; that
docs/performance.md holds what bench/results.json says is tests/test_bench_report.py's, for every block."""

from __future__ import annotations

from typing import Any

from bench.report_start import render_start


def start(import_ratios: list[float], off_ratios: list[float]) -> dict[str, Any]:
    periodic = {"size": 1000, "latency_ms": 50.0, "cpu_ratio": 1.2}
    return {
        "date": "2026-12-06",
        "repeats": len(import_ratios),
        "wall_s": 240.0,
        "load": [1.5, 2.0],
        "byte_code": True,
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


def test_each_repetition_is_shown_and_a_missed_target_is_marked() -> None:
    lines = render_start({"start": start([1.08, 1.12], [1.1, 1.31])}).splitlines()
    assert "| handler import / `import boto3` | ≤ 1.15 | 1.12 | 1.08, 1.12 | 1.05 |" in lines
    assert (
        "| cold periodic run, body check on, N=1,000, 50 ms / bare boto3 | ≤ 1.10 | 1.04 | 1.01, 1.04 | 1.20 |" in lines
    )
    off = "| cold periodic run, body check off, N=1,000, 50 ms / bare boto3 | ≤ 1.15 | **1.31** (missed) | 1.10, 1.31 |"
    assert any(line.startswith(off) for line in lines)
    assert render_start({}) == ""


def test_the_runs_each_repetition_keeps_are_named() -> None:
    once = render_start({"start": start([1.08], [1.1])})
    entry = start([1.08], [1.1])
    for line in entry["periodic"]:
        line["least_of"] = 3
    assert "fastest of" not in once
    assert "each side's fastest of 3 runs in turn" in render_start({"start": entry})
