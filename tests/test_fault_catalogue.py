"""Faults at every AWS call of every scenario (tests/fault_scenarios.py), each followed by Lambda's
retry and one more run of every rule, must leave what a fault-free play leaves: the same ledger items,
the same Config rows, and no re-evaluation lost (docs/reliability.md).

For each scenario the fault-free play is recorded first; then each of its calls is played with each
fault kind (tests/fault_injection.py). On the double (moto over HTTP) every call is a position; on
dynalite, the ledger's own calls (DynamoDB) are. Counts go to build/fault_catalogue.json.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from dynalite import Dynalite
from fault_injection import FAULT_KINDS, Fault, Injector, Played, Scenario, install, play, positions
from fault_scenarios import Table, scenarios

from heartbleed.ledger import propagation
from heartbleed_audit.double import AwsDouble

REPORT = Path(__file__).resolve().parents[1] / "build" / "fault_catalogue.json"
NAMES = [scenario.name for scenario in scenarios(None, None)]
STATS: dict[str, Counter[str]] = {}
FAILING: dict[str, dict[str, list[str]]] = {}  # "backend: scenario" -> the faults that did not converge


def write_report() -> None:
    """The counts so far, and each case that did not converge with its differences (after every scenario)."""
    REPORT.parent.mkdir(exist_ok=True)
    # Merged into what is there: the two backends' tests may run in separate sessions.
    report = json.loads(REPORT.read_text()) if REPORT.is_file() else {"totals": {}, "not converged": {}}
    report["totals"] |= {backend: dict(sorted(counts.items())) for backend, counts in STATS.items()}
    report["not converged"] |= FAILING
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def injector(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Injector:
    # Lambda retries after a minute or two, so a kept request is due again by then; Config's own minute
    # between asks of one rule is set to 0 per account by the scenarios.
    monkeypatch.setattr(propagation, "ASK_AGAIN_AFTER", timedelta(0))
    # moto's DEBUG records (its expression parser's, a dozen per DynamoDB request) were most of a case's time.
    monkeypatch.setattr(logging.getLogger("moto"), "level", logging.INFO)
    return install(monkeypatch)


def run_catalogue(backend: str, scenario: Scenario, only: str = "", kinds: tuple[str, ...] = FAULT_KINDS) -> None:
    """Play every fault kind at every call (of operations starting with only); assert each converges."""
    started, cpu = time.monotonic(), time.process_time()
    counts = STATS.setdefault(backend, Counter())
    reference = play(scenario)
    assert not reference.failed_steps, f"the fault-free play failed: {reference.failed_steps}"
    scenario.check(reference.outcome)
    calls = [call for call in positions(reference.calls) if call.operation.startswith(only)]
    failed: dict[str, list[str]] = {}
    for call in calls:
        for kind in kinds:
            fault = Fault(call, kind)
            played: Played = play(scenario, fault)
            counts["cases"] += 1
            counts[f"fault kind {kind}"] += 1
            if not played.fired:
                counts["faults not reached"] += 1
            differences = played.outcome.differences(reference.outcome)
            if differences:
                failed[str(fault)] = [f"({', '.join(played.failed_steps)})", *differences]
            counts["converged" if not differences else "not converged"] += 1
    counts["scenarios"] += 1
    counts["positions"] += len(calls)
    counts["seconds"] += round(time.monotonic() - started)
    counts["cpu seconds"] += round(time.process_time() - cpu)  # the double serves in this process
    FAILING[f"{backend}: {scenario.name}"] = dict(sorted(failed.items()))
    write_report()
    lines = [f"{fault}: {'; '.join(diff)}" for fault, diff in sorted(failed.items())]
    assert not lines, f"{len(failed)} of {len(calls) * len(kinds)} cases did not converge:\n" + "\n".join(lines)


# A scenario plays a hundred-odd cases; the ACM one took 190 s of CPU alone, more on a loaded machine.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_every_fault_at_every_call_converges_on_the_double(aws: AwsDouble, injector: Injector, index: int) -> None:
    run_catalogue("moto", scenarios(aws, Table(aws))[index])


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_every_fault_at_every_ledger_call_converges_on_dynalite(
    aws: AwsDouble, injector: Injector, dynalite_server: Dynalite, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynalite_server.endpoint_url)  # the rule's and the CLI's
    # The death right after each ledger write: every prefix of the run's writes, each left as the crash left
    # it. (A call that fails leaves the same prefix, one write shorter; the double plays those.)
    scenario = scenarios(aws, Table(aws, dynalite_server.client()))[index]
    run_catalogue("dynalite", scenario, only="dynamodb:", kinds=("die",))
