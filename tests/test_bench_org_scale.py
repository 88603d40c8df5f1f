"""The organization-at-scale benchmark line at a small size: real counts on the double, not times."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bench import report as bench_report
from bench.call_log import ledger_part
from bench.lambda_queue import LambdaQueue
from bench.ledger_cost import request_units, updated_units
from bench.org_estate import planted, template_defaults
from bench.org_scale import org_scale_line
from heartbleed.ledger.propagation import ASKS_PER_RUN
from heartbleed_audit.double import AwsDouble

READ = "iam:GetServerCertificate"
START = "config:StartConfigRulesEvaluation"


def test_the_shared_key_reaches_every_holder_through_the_queue(aws: AwsDouble) -> None:
    members, per_member, holders = 8, 2, 6
    line = org_scale_line(aws, members, per_member, holders, latency_ms=0.0, concurrency=2)
    old, sharing = planted(members, holders)
    assert (old, sharing) == (5, [0, 1, 2, 4, 5, 6])  # the 2013 certificate is 6th in the queue
    # Every row right, every holder's wildcard row NON_COMPLIANT, nothing failed, nothing kept.
    assert line["wrong"] == [] and line["verdicts"] == members * per_member
    assert line["holders_not_non_compliant"] == [] and line["without_rows"] == []
    assert line["failed"] == [] and line["kept_requests_left"] == 0 and not line["timed_out"]
    assert line["error_documents"] == 0  # the guard served every member's copy of the organization rule
    assert line["evidence_recorded_at"] <= line["non_compliant_wall"] <= line["wall"]
    assert line["rows_wall"] <= line["wall"]
    # When the old member's event is taken, at most one other event is still running: at least 3 of the 4
    # holders queued before it have been recorded, and each recorded holder is asked (the one after it too,
    # if it was recorded before the evidence); the old member itself never is.
    assert 3 <= line["re_evaluated_accounts"] <= holders - 1
    assert line["invocations"] == members + line["re_evaluations"]
    # Config's side (the double's accepted calls) and the containers' own counts agree.
    assert line["propagation"][f"{START} accepted"] == line["re_evaluations_accepted"] == line["re_evaluations"]
    # Each ask of another member goes through its role; a run that claims its own member's request asks
    # through the session it already has.
    assert 1 <= line["propagation"]["sts:AssumeRole"] <= line["re_evaluations_accepted"]
    assert line["calls_counted"] == line["requests_at_the_double"]
    # Each run asks at most its share of the kept requests; the asking is counted run by run.
    assert 1 <= line["asking_runs"] <= line["re_evaluations"] and line["most_asks_in_a_run"] <= ASKS_PER_RUN
    # A periodic run on an empty ledger reads each of its member's bodies; a re-evaluation reads none.
    assert line["calls_per_periodic_event"][READ] == {"min": 2, "median": 2, "max": 2, "total": 16}
    assert READ not in line["calls_per_re_evaluation"]
    # The run that records the evidence leaves the asks owed in the ledger; any run may claim them.
    assert line["calls_of_the_finding_run"].get(START, 0) <= line["re_evaluated_accounts"]
    asked = (
        line["calls_per_periodic_event"][START]["total"]
        + line["calls_per_re_evaluation"].get(START, {"total": 0})["total"]
    )
    assert asked == sum(n for name, n in line["propagation"].items() if name.startswith(START))
    assert line["concurrency"] == 2 and len(line["container_init_s"]) == 2
    cost = line["cost"]
    # Every certificate is written as two items (under its account and under its key), each at least 1 WRU.
    assert cost["wru"] >= 2 * members * per_member and cost["rru"] > 0 and cost["unpriced"] == {}
    assert cost["invocations"] == line["invocations"]
    gb_seconds = (cost["function_seconds"] + cost["init_seconds"]) * line["memory_mb"] / 1024
    assert cost["gb_seconds"] == pytest.approx(gb_seconds)
    # A later day on the warm ledger: no body read, nobody asked again, every row still right, cheaper.
    later = line["later_day"]
    assert later["invocations"] == members and later["re_evaluations"] == 0
    assert later["failed"] == [] and later["wrong"] == []
    assert READ not in later["calls_per_periodic_event"] and later["propagation"] == {}
    assert later["cost"]["wru"] < cost["wru"] and later["cost"]["dynamodb_usd"] < cost["dynamodb_usd"]
    text = bench_report.render({"organization_scale": line})
    assert f"| every holder's wildcard row NON_COMPLIANT ({holders}) |" in text
    assert "all 16 rows right" in text.replace("\n", " ")
    # A holder never flagged, a failed invocation and a wrong row are called out, not hidden.
    missed = line | {"non_compliant_wall": None, "failed": ["x (periodic, attempt 0): Boom"], "wrong": ["x y"]}
    text = bench_report.render({"organization_scale": missed}).replace("\n", " ")
    assert f"| every holder's wildcard row NON_COMPLIANT ({holders}) | **never** |" in text
    assert "**1 failed**" in text and "**1 row wrong**" in text


def test_the_line_runs_at_the_templates_defaults() -> None:
    defaults = template_defaults()
    assert defaults["concurrency"] >= 1 and defaults["memory_mb"] >= 128
    assert defaults["rule"] == "HeartbleedServerCertificate"


def test_the_holders_are_spread_and_the_old_one_stands_three_quarters_in() -> None:
    old, sharing = planted(400, 300)
    assert len(sharing) == 300 and len(set(sharing)) == 300 and max(sharing) < 400
    assert old == 298 and sum(i < old for i in sharing) == 224
    with pytest.raises(ValueError, match="holders must be between 1 and the 4 members"):
        planted(4, 5)


def test_the_queue_keeps_order_and_holds_a_retry_until_its_time() -> None:
    queue = LambdaQueue()
    queue.put("a", "periodic", delay=0.2, attempt=1)
    queue.put("b", "periodic")
    first = queue.take()
    assert first is not None and first.account == "b"
    queue.done()
    waited = time.monotonic()
    retry = queue.take()
    assert retry is not None and retry.account == "a" and retry.attempt == 1
    assert time.monotonic() - waited >= 0.15
    queue.done()
    assert queue.take() is None  # nothing queued, nothing running


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def test_request_units_follow_dynamodbs_rules() -> None:
    small = {"pk": _s("A#1"), "sk": _s("C#x")}  # 14 bytes
    large = {"pk": _s("K#k"), "sk": _s("#"), "accounts": {"SS": ["1" * 12] * 400}}  # 4,808 bytes
    query = request_units("Query", {"ConsistentRead": True}, {"Items": [small, small]})
    assert query is not None and (query.rru, query.wru) == (1.0, 0.0)  # a page's items together
    eventual = request_units("Query", {}, {"Items": [large]})
    assert eventual is not None and eventual.rru == 1.0  # 2 units of 4 KB, halved
    batch = request_units(
        "BatchGetItem", {"RequestItems": {"t": {"ConsistentRead": True}}}, {"Responses": {"t": [small, large]}}
    )
    assert batch is not None and batch.rru == 1 + 2  # each item rounded up on its own
    put = {"PutRequest": {"Item": large}}
    writes = request_units(
        "BatchWriteItem",
        {"RequestItems": {"t": [put, {"PutRequest": {"Item": small}}, {"DeleteRequest": {"Key": small}}]}},
        {"UnprocessedItems": {"t": [put]}},  # not written by this call: the retry pays for it
    )
    assert writes is not None and writes.wru == 2.0
    assert request_units("PutItem", {"Item": large}, {}) == request_units("PutItem", {"Item": large}, {})
    assert request_units("PutItem", {"Item": large}, {}).wru == 5.0  # type: ignore[union-attr]
    update = request_units("UpdateItem", {"Key": {"pk": _s("K#k"), "sk": _s("#")}}, {})
    assert update is not None and update.updated == (("K#k", "#"),) and update.wru == 0
    assert updated_units([["K#k", "#"], ["A#gone", "#"]], [large]) == 5 + 1
    assert request_units("TransactWriteItems", {}, {}) is None  # not priced here: reported as unpriced


def test_the_ledger_calls_are_told_apart_by_the_items_they_touch() -> None:
    kept: dict[str, Any] = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": _s("PENDING")}}
    assert ledger_part(kept) == "kept requests"
    rules = {"ExpressionAttributeValues": {":pk": _s("A#1"), ":r": _s("#RULE#")}}
    assert ledger_part(rules) == "rule registrations"
    assert ledger_part({"Item": {"pk": _s("A#1"), "sk": _s("#LEASE")}}) == "lease"
    assert ledger_part({"Key": {"pk": _s("A#1"), "sk": _s("#RUN#us-east-1")}}) == "run outcomes"
    summary = {"Key": {"pk": _s("K#ab"), "sk": _s("#")}}
    assert ledger_part({**summary, "UpdateExpression": "REMOVE owed, owed_spare"}) == "owed markers"
    lowering = {**summary, "UpdateExpression": "SET #e0 = :e0 REMOVE owed_owner"}
    assert ledger_part({**lowering, "ConditionExpression": "earliest_evidence_date > :d"}) == "evidence"
    assert ledger_part({"RequestItems": {"t": {"Keys": [{"pk": _s("K#ab"), "sk": _s("#")}]}}}) == "evidence"
