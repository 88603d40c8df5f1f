"""The key ledger's benchmark lines at small sizes: calls, reads and verdicts, not times."""

from __future__ import annotations

import math

import pytest

from bench import report as bench_report
from bench.ledger import central_line, ledger_lines
from bench.ledger_cost import item_size, run_cost
from bench.storm import storm_runs
from heartbleed_audit.double import AwsDouble

READ = "iam:GetServerCertificate"


def test_a_second_cold_run_reads_no_body_and_the_floor_makes_its_calls(aws: AwsDouble) -> None:
    line = ledger_lines(aws, size=30, latency_ms=0.0, rate=1000.0, repeats=1)
    (run,) = line["runs"]
    assert run["cold_calls"][READ] == 30 and run["cold_calls"]["dynamodb:BatchWriteItem"] == math.ceil(60 / 25)
    assert READ not in run["warm_calls"] and line["warm_reads"] == 0
    # The floor makes exactly the second run's calls, operation by operation (fails if either changes).
    assert run["same_calls"] and run["floor_calls"] == run["warm_calls"]
    # No summary is written on a warm ledger; the one update notes the run's outcome.
    assert run["warm_calls"]["dynamodb:BatchGetItem"] == 1 and run["warm_calls"]["dynamodb:UpdateItem"] == 1
    assert run["correct"]
    # The cold run writes both items of every certificate, at least one WRU each; the warm one writes two small
    # items (the rule's registration and its run's outcome).
    assert run["cold_cost"]["wru"]["BatchWriteItem"] >= 60 and run["warm_cost"]["writes"] == 2
    assert 0 < run["warm_cost"]["usd"] < run["cold_cost"]["usd"]


def test_a_storm_on_an_empty_ledger_reads_each_body_about_once(aws: AwsDouble) -> None:
    uncapped, capped = storm_runs(aws, size=10, storms=(3,), caps=(1,), ledger=True)["runs"]
    # Without the ledger three cold containers read 3 x 10 bodies (tests/test_bench_storm.py).
    assert uncapped["failed"] == 0 and uncapped["reads"] - uncapped["throttled"] == 10
    assert uncapped["sent"] == uncapped["correct"] == 3 and uncapped["done"]
    assert capped["reads"] == 10 and capped["done"]


def test_the_central_function_gets_every_cross_account_verdict_right(aws: AwsDouble) -> None:
    line = central_line(aws, latency_ms=0.0, member_count=6, per_member=2)
    # The 2013 certificate is in member 3; members 0 and 5 carry its key. Member 0 ran before it was
    # recorded, so it is asked to evaluate again; member 5 sees the evidence at once.
    assert line["wrong"] == [] and line["verdicts"] == 12
    assert line["asked"] == 1
    assert line["cross_account_verdicts"] == line["cross_account_naming_the_2013_account"] == 2
    assert line["calls_per_account"][READ]["max"] == 2
    assert line["calls_per_account"]["sts:AssumeRole"]["first"] >= 1  # each member through its own role


def test_the_cost_model_follows_dynamodbs_size_rules_and_checks_the_calls() -> None:
    assert item_size({"pk": {"S": "A#1"}, "n": {"N": "1"}, "s": {"SS": ["ab", "c"]}}) == (2 + 3) + (1 + 2) + (1 + 3)
    item = {"pk": {"S": "A#1"}, "sk": {"S": "C#x"}, "key": {"S": "k"}}
    summary = {"pk": {"S": "K#k"}, "sk": {"S": "#"}}
    warm = run_cost([item, summary], {"dynamodb:Query": 2, "dynamodb:BatchGetItem": 1, "dynamodb:PutItem": 1}, "1")
    assert (warm["reads"], warm["writes"]) == (3, 1)
    with pytest.raises(ValueError, match="BatchGetItem"):
        run_cost([item, summary], {"dynamodb:Query": 2}, "1")  # a summary the calls did not read


def test_the_ledger_sections_mark_a_missed_target() -> None:
    cost = {"reads": 10, "writes": 1, "usd": 0.0000019, "certificate_item_bytes": 500, "summary_item_bytes": 600}
    calls = {"iam:ListServerCertificates": 1, "dynamodb:Query": 2}
    run = {
        "cold_wall": 70.0,
        "cold_calls": {**calls, READ: 1000},
        "cold_cost": cost,
        "cold_double_dynamodb_cpu": 20.0,
        "warm_wall": 2.5,
        "warm_calls": calls,
        "warm_cost": cost,
        "warm_double_dynamodb_cpu": 1.0,
        "floor_wall": 2.0,
        "floor_calls": calls,
        "same_calls": True,
        "ratio": 1.25,
        "correct": True,
    }
    ledger = {"date": "2026-12-02", "size": 1000, "latency_ms": 50.0, "rate": 20.0, "bound": 64.5, "repeats": 1}
    ledger |= {"warm_target_s": 3.0, "floor_target": 1.15, "runs": [run], "warm_reads": 0}
    text = bench_report.render({"ledger": ledger})
    lines = text.splitlines()
    assert any(line.startswith("| first cold run, empty ledger | **70.0 s (missed)** |") for line in lines)
    assert any(line.startswith("| second cold run, ledger warm | 2.50 s |") for line in lines)
    assert "rule / floor ≤ 1.15: **1.25 (missed)**" in text
