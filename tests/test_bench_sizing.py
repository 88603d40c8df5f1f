"""The Lambda sizing arithmetic: CPU seconds stretch below one vCPU, waiting does not."""

from __future__ import annotations

import pytest

from bench.sizing import PRICE_PER_GB_SECOND, PRICE_PER_REQUEST, cost, projected, sizing


def test_at_one_vcpu_a_run_takes_what_it_took() -> None:
    assert projected(cpu=3.0, wall=5.0, memory_mb=1769) == pytest.approx(5.0)
    assert projected(cpu=3.0, wall=5.0, memory_mb=3538) == pytest.approx(5.0)  # one thread gains nothing more


def test_below_one_vcpu_only_the_cpu_seconds_stretch() -> None:
    # 256 MB is 256/1769 of a vCPU: 3 CPU seconds take 20.7 s; the 2 s of waiting stay 2 s.
    assert projected(cpu=3.0, wall=5.0, memory_mb=256) == pytest.approx(3.0 * 1769 / 256 + 2.0)


def test_a_run_busier_than_its_wall_time_waits_for_nothing() -> None:
    assert projected(cpu=2.5, wall=2.0, memory_mb=1769) == pytest.approx(2.5)


def test_cost_is_gigabyte_seconds_and_the_request() -> None:
    assert cost(10.0, 512) == pytest.approx(10.0 * 0.5 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST)


def test_each_run_gets_a_line_per_memory_size_with_its_imports() -> None:
    lines = sizing([{"label": "N=1,000", "size": 1000, "wall": 5.0, "cpu": 3.0}], import_seconds=0.5)
    assert [line["memory_mb"] for line in lines] == [256, 512, 1024, 1769]
    assert {line["case"] for line in lines} == {"N=1,000"}
    assert lines[-1]["seconds"] == pytest.approx(5.5)
    assert lines[0]["seconds"] == pytest.approx(3.5 * 1769 / 256 + 2.0)
    assert lines[0]["seconds"] > lines[1]["seconds"] > lines[2]["seconds"] > lines[3]["seconds"]
