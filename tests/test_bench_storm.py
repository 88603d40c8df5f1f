"""The storm benchmark's smoke run (N=10, K=3 change events at once): failures, verdicts and reads, not times."""

from __future__ import annotations

import pytest

from bench.runs import build_account
from bench.storm import storm_run, storm_runs
from heartbleed_audit import events
from heartbleed_audit.double import AwsDouble


def test_a_capped_storm_reads_each_body_once_and_sends_every_verdict(aws: AwsDouble) -> None:
    report = storm_runs(aws, size=10, storms=(3,), caps=(1,))
    uncapped, capped = report["runs"]
    # Uncapped: three cold containers, each reading all ten bodies.
    assert (uncapped["cap"], uncapped["containers"], uncapped["failed"]) == (None, 3, 0)
    assert uncapped["reads"] - uncapped["throttled"] == 3 * 10
    assert uncapped["sent"] == uncapped["correct"] == 3
    # Capped at one: the first event reads the account, the queued two meet its body cache (a full
    # bucket of 20 holds the ten reads, so none is throttled).
    assert (capped["cap"], capped["containers"], capped["failed"]) == (1, 1, 0)
    assert (capped["reads"], capped["throttled"]) == (10, 0)
    assert capped["sent"] == capped["correct"] == 3
    assert capped["done"] and not uncapped["done"]


def test_a_failed_invocation_is_counted_and_its_container_replaced(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_account(aws, 5)
    # A misspelt parameter: the handler refuses every event, so bench/child.py exits without a result.
    monkeypatch.setattr(events, "LOCAL_ROLE", {**events.LOCAL_ROLE, "CutOffDate": "2014-04-08"})
    run = storm_run(aws, size=5, rate=20.0, storm=2, cap=1, reference={})
    assert (run.failed, run.containers, run.sent, run.reads) == (2, 2, 0, 0)
    assert run.reasons == {"InvalidParameterValueException": 2}
    assert not run.done(5)
