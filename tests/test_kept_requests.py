"""Kept re-evaluations at scale: one run claims a kept request (a conditional write that expires, like the
lease) and asks it, so concurrent runs ask each rule once; a request refused again stays kept; a claim of a
run that died is taken over once it expires; what a run has no turn or time for is left for the next runs.

propagation.work over the double's DynamoDB and Config, over HTTP; the protocol is described in
HeartbleedServerCertificate/heartbleed/ledger/schema.py and propagation.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from ledger_table import TABLE, create_table

from heartbleed.deadline import Deadline
from heartbleed.ledger import KeptRequest, Ledger, RuleRegistration, propagation
from heartbleed.ledger.schema import Claim
from heartbleed.retry_policy import without_retries
from heartbleed_audit import events
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

NOW = datetime.now(UTC)


@pytest.fixture
def ledger(aws: AwsDouble) -> Ledger:
    create_table(aws.client("dynamodb"))
    return Ledger(aws.client("dynamodb"), TABLE)


MEMBERS = [f"{100000000000 + n}" for n in range(6)]


@dataclass
class Kept:
    """Kept requests of MEMBERS' rules, and how a run reaches each member's Config."""

    ledger: Ledger
    own: RuleRegistration

    def clients(self, aws: AwsDouble) -> propagation.ConfigClients:
        return lambda account, region, role: without_retries(aws.client("config", account, region))


@pytest.fixture
def kept(aws: AwsDouble, ledger: Ledger) -> Kept:
    for account in MEMBERS:
        aws.result_token(events.RULE_NAME, account)  # the rule exists there
        ledger.keep(KeptRequest(account, "us-east-1", events.RULE_NAME, "", owed="lowered"))
    return Kept(ledger, RuleRegistration(ACCOUNT_ID, "us-east-1", events.RULE_NAME))


def asks(aws: AwsDouble) -> dict[str, int]:
    return {account: len(aws.started_evaluations(account)) for account in MEMBERS}


def test_two_concurrent_runs_ask_each_kept_rule_once(
    aws: AwsDouble, kept: Kept, monkeypatch: pytest.MonkeyPatch
) -> None:
    both_read = threading.Barrier(2, timeout=30)
    window = Ledger.kept_window

    def read_together(self: Ledger, start: str, limit: int) -> list[KeptRequest]:
        found = window(self, start, limit)
        both_read.wait()  # each run has read every request before either claims one
        return found

    monkeypatch.setattr(Ledger, "kept_window", read_together)
    results: list[propagation.Propagation] = []

    def run(owner: str) -> None:
        results.append(propagation.work(kept.ledger, kept.clients(aws), owner, Deadline(), kept.own))

    threads = [threading.Thread(target=run, args=(owner,)) for owner in ("run-1", "run-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert asks(aws) == dict.fromkeys(MEMBERS, 1)
    assert aws.conditions.calls["config:StartConfigRulesEvaluation"] == len(MEMBERS)
    assert sorted(len(result.accepted) for result in results) == sorted([r.claimed for r in results])
    assert sum(len(result.accepted) for result in results) == len(MEMBERS)
    assert kept.ledger.kept_requests() == []


def test_a_refused_request_stays_kept_and_is_asked_after_the_minute(
    aws: AwsDouble, kept: Kept, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = MEMBERS[0]
    aws.set_start_interval(3600, account=refusing)
    aws.client("config", refusing).start_config_rules_evaluation(ConfigRuleNames=[events.RULE_NAME])  # someone's
    done = propagation.work(kept.ledger, kept.clients(aws), "run-1", Deadline(), kept.own)
    assert done.refused == 1 and len(done.accepted) == len(MEMBERS) - 1
    [left] = kept.ledger.kept_requests()
    assert left.account == refusing and left.asked
    aws.conditions.reset_counts()
    again = propagation.work(kept.ledger, kept.clients(aws), "run-2", Deadline(), kept.own)
    assert again.claimed == 0 and aws.conditions.calls["config:StartConfigRulesEvaluation"] == 0  # within the minute
    assert [p.account for p in kept.ledger.kept_requests()] == [refusing]  # refused again: still kept
    monkeypatch.setattr(propagation, "ASK_AGAIN_AFTER", timedelta(0))
    aws.set_start_interval(0, account=refusing)
    assert propagation.work(kept.ledger, kept.clients(aws), "run-3", Deadline(), kept.own).accepted == [
        f"{refusing}/us-east-1/{events.RULE_NAME}"
    ]
    assert kept.ledger.kept_requests() == []


def test_an_expired_claim_is_taken_over_and_a_held_one_is_not(aws: AwsDouble, kept: Kept) -> None:
    dead, busy = MEMBERS[0], MEMBERS[1]
    now = datetime.now(UTC)  # not the module's NOW: the suite may reach this test long after it was imported
    past, future = now - timedelta(minutes=5), now + timedelta(minutes=5)
    assert kept.ledger.claim_kept(dead, "us-east-1", "a run that died", past, past, past) is not None
    assert kept.ledger.claim_kept(busy, "us-east-1", "a run still asking", now, future, now) is not None
    done = propagation.work(kept.ledger, kept.clients(aws), "run-1", Deadline(), kept.own)
    assert asks(aws) == {account: 0 if account == busy else 1 for account in MEMBERS}
    assert len(done.accepted) == len(MEMBERS) - 1
    [left] = kept.ledger.kept_requests()
    assert left.account == busy


def test_a_request_kept_again_while_it_was_asked_stays_kept(aws: AwsDouble, kept: Kept) -> None:
    """Accepted, but new evidence kept it again meanwhile: the evaluation started may predate that evidence."""
    member = MEMBERS[0]
    claimed = kept.ledger.claim_kept(member, "us-east-1", "run-1", NOW, NOW + timedelta(minutes=1), NOW)
    assert claimed is not None and claimed.claim == Claim("run-1", claimed.claim.expires if claimed.claim else NOW)
    kept.ledger.keep(replace(claimed, owed="a newer lowering", claim=None))
    assert kept.ledger.finish_kept(claimed, "run-1") is False
    kept.ledger.release_kept(claimed, "run-1", NOW)
    assert member in [p.account for p in kept.ledger.kept_requests()]


def test_what_a_run_has_no_turn_or_time_for_stays_kept_for_the_next_runs(
    aws: AwsDouble, kept: Kept, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(propagation, "ASKS_PER_RUN", 4)
    first = propagation.work(kept.ledger, kept.clients(aws), "run-1", Deadline(), kept.own)
    assert len(first.accepted) == 4 and len(kept.ledger.kept_requests()) == len(MEMBERS) - 4

    class RunningOut:
        def get_remaining_time_in_millis(self) -> int:
            return 16_000  # 1 s above the reserve: no time for an ask

    late = propagation.work(kept.ledger, kept.clients(aws), "run-2", Deadline(RunningOut()), kept.own)
    assert late.claimed == 0 and late.out_of_time == len(MEMBERS) - 4
    assert len(kept.ledger.kept_requests()) == len(MEMBERS) - 4
    last = propagation.work(kept.ledger, kept.clients(aws), "run-3", Deadline(), kept.own)
    assert len(last.accepted) == len(MEMBERS) - 4
    assert asks(aws) == dict.fromkeys(MEMBERS, 1)
    assert kept.ledger.kept_requests() == []
