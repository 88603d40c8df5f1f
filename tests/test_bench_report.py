"""The performance figures in the docs are bench/results.json's: rendered from it, never typed by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report as bench_report
from bench.report_figure import plot

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"


def results() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RESULTS.read_text())
    return loaded


@pytest.mark.parametrize("which", bench_report.BLOCKS, ids=lambda which: f"{which.target}:{which.name}")
def test_every_generated_block_shows_what_results_json_holds(which: bench_report.Block) -> None:
    # If this fails: python -m bench.report (make bench runs it).
    assert bench_report.block((ROOT / which.target).read_text(), which) == which.render(results())


def test_the_main_block_lives_in_the_performance_doc() -> None:
    assert bench_report.MAIN.target == Path("docs/performance.md")
    assert bench_report.MAIN.begin not in (ROOT / "README.md").read_text()


def test_a_partial_results_renders_only_what_it_holds() -> None:
    floor = {
        "size": 1000,
        "latency_ms": 50.0,
        "rule_wall": 3.1,
        "floor_wall": 2.9,
        "floor_calls": 11,
        "cpu_per_certificate_ms": 0.42,
        "floor_cpu_per_certificate_ms": 0.4,
        "cpu_ratio": 1.1,
        "repeats": 3,
        "date": "2026-12-02",  # a --floor-only run, later than the rest
    }
    text = bench_report.render(
        {
            "floor": [
                {**floor, "body": True, "ratio": 1.07, "rule_calls": 1021, "floor_calls": 1011},
                {**floor, "body": False, "ratio": 1.2, "rule_calls": 21},
            ]
        }
    )
    lines = text.splitlines()
    assert "| 1,000 | 50 ms | on | 3.10 s | 2.90 s | 1.07 | 1,021 | 1,011 | 0.42 ms | 0.40 ms | 1.10 | 3 |" in lines
    # Over both targets (1.15 and 12 calls) at N=1,000 and 50 ms: marked, not hidden.
    missed = "**1.20** (missed) | **21** (missed)"
    assert f"| 1,000 | 50 ms | off | 3.10 s | 2.90 s | {missed} | 11 | 0.42 ms | 0.40 ms | 1.10 | 3 |" in lines
    assert "**Against the floor** (measured on 2026-12-02). The rule against bare boto3" in text.replace("\n", " ")
    assert "Measured on" not in text and "Rate limits" not in text and "Other figures" not in text


def test_the_sections_added_later_render_when_present() -> None:
    case = {"failed": 0, "throttled": 4, "wall": 12.5}
    text = bench_report.render(
        {
            "storm": {
                "size": 100,
                "rate": 20,
                "runs": [
                    {**case, "cap": None, "storm": 50, "reads": 5000, "sent": 50, "correct": 50},
                    {**case, "cap": 2, "storm": 50, "reads": 230, "sent": 50, "correct": 50},
                ],
            },
            "sizing": [
                {
                    "case": "N=1,000",
                    "memory_mb": 256,
                    "vcpu": 0.14,
                    "size": 1000,
                    "seconds": 9.5,
                    "cost_usd": 0.0000396,
                },
                {
                    "case": "N=1,000",
                    "memory_mb": 1769,
                    "vcpu": 1.0,
                    "size": 1000,
                    "seconds": 2.0,
                    "cost_usd": 0.0000576,
                },
            ],
            "pacing": [
                {
                    "size": 100,
                    "latency_ms": 200.0,
                    "shape": "window",
                    "mode": "cli",
                    "walls": [6.0, 9.0],
                    "worst": 9.0,
                    "bound": 8.25,
                    "complete": True,
                    "correct": True,
                }
            ],
        }
    )
    lines = text.splitlines()
    assert "| no cap | 50 | 0 | 50 | yes | 5,000 | 4 | 12.5 s |" in lines
    assert "| cap 2 | 50 | 0 | 50 | yes | **230** (over 2N) | 4 | 12.5 s |" in lines  # target: reads <= 2N = 200
    assert "| run | 256 MB (0.14 vCPU) | 1769 MB (1 vCPU) |" in lines
    assert "| N=1,000 | 9.5 s, $0.000040 | 2.0 s, $0.000058 |" in lines
    assert (
        "| 100 | CLI audit | 200 ms | sliding window | **9.00 s** | 6.00 s | 8.25 s (missed) | complete and correct |"
        in lines
    )
    assert "R = 20/s" in text  # recovered from the bound 1.25 N/R + 2 s when the line does not name R
    # A verdict sent that differs from the unthrottled run's is called out.
    runs = [{**case, "storm": 50, "cap": 1, "reads": 150, "sent": 50, "correct": 49}]
    assert "| cap 1 | 50 | 0 | 50 | **no** | 150 | 4 | 12.5 s |" in bench_report.render({"storm": {"runs": runs}})


def test_check_names_the_difference_and_writes_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    argv = ["--results", str(RESULTS), "--png", str(tmp_path / "performance.png"), "--check"]
    assert bench_report.main([*argv, "--root", str(ROOT)]) == 0
    for which in bench_report.BLOCKS:  # a copy of every file that holds a block
        (tmp_path / which.target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / which.target).write_text((ROOT / which.target).read_text())
    doctored = tmp_path / bench_report.MAIN.target
    row = next(line for line in bench_report.render(results()).splitlines() if line.startswith("| 1,000 | 50 ms |"))
    text = doctored.read_text().replace(row, row.replace("| 1,000 | 50 ms |", "| 1,000 | 40 ms |"), 1)
    doctored.write_text(text)
    assert bench_report.main([*argv, "--root", str(tmp_path)]) == 1
    err = capfd.readouterr().err
    assert "-| 1,000 | 40 ms |" in err and "+| 1,000 | 50 ms |" in err
    assert doctored.read_text() == text and not (tmp_path / "performance.png").exists()


def test_writing_puts_each_block_back_in_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two blocks in two files, rendered in place; the text around each block is kept.
    other = bench_report.Block("bench/other.json", Path("README.md"), lambda figures: "other block\n")
    monkeypatch.setattr(bench_report, "BLOCKS", (bench_report.MAIN, other))
    monkeypatch.setattr(bench_report, "plot", lambda figures, path: None)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/performance.md").write_text(
        f"# P\n{bench_report.MAIN.begin}\nold\n\n{bench_report.MAIN.end}\ntail\n"
    )
    (tmp_path / "README.md").write_text(f"head\n{other.begin}\nstale\n{other.end}\n")
    argv = ["--results", str(RESULTS), "--root", str(tmp_path), "--png", str(tmp_path / "p.png")]
    assert bench_report.main(argv) == 0
    performance = (tmp_path / "docs/performance.md").read_text()
    assert bench_report.block(performance) == bench_report.render(results())
    assert performance.startswith("# P\n") and performance.endswith(f"{bench_report.MAIN.end}\ntail\n")
    assert (tmp_path / "README.md").read_text() == f"head\n{other.begin}\nother block\n\n{other.end}\n"
    assert bench_report.main([*argv, "--check"]) == 0


def test_the_picture_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the `bench` extra, not the `test` one
    storm_case = {"failed": 0, "throttled": 4, "wall": 12.5, "sent": 10, "correct": 10, "storm": 10}
    storm = {
        "size": 100,
        "rate": 20,
        "runs": [{**storm_case, "cap": None, "reads": 1000}, {**storm_case, "cap": 1, "reads": 110}],
    }
    for name, figures in (("now", results()), ("storm", {**results(), "storm": storm})):
        path = tmp_path / f"{name}.png"
        plot(figures, path)
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
