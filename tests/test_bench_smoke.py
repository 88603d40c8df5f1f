"""The benchmark's smoke run (N=100, no added latency): call counts and verdicts, not times."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from bench import child
from bench.pacing import pacing_runs
from bench.periodic import floor_runs
from bench.runs import IAM_033, build_account, expected_calls, periodic, run_once
from heartbleed.clients import install_client_defaults
from heartbleed.container import SdkSession
from heartbleed_audit.double import AwsDouble


def test_the_rule_makes_the_planned_calls_and_agrees_with_the_seed_procedure(aws: AwsDouble) -> None:
    build_account(aws, 100)
    run_once(aws, "warm-up", 100, periodic(aws))  # 100 earlier rows, as in a steady state

    rule = run_once(aws, "rule", 100, periodic(aws))
    baseline = run_once(aws, "baseline", 100, periodic(aws), "baseline")
    # The body check off, cutoff 1 April 2014: the rule must then judge exactly as the seed's own check.
    iam_033 = run_once(aws, "IAM-033 settings", 100, periodic(aws, IAM_033))

    assert rule.calls == expected_calls(100, prior=100, body=True)
    assert iam_033.calls == expected_calls(100, prior=100, body=False)
    assert baseline.calls == {
        "iam:ListServerCertificates": 1,  # the default page of 100 holds them all
        "iam:GetServerCertificate": 100,
        "config:PutEvaluations": 100,
    }
    assert len(rule.verdicts) == 100
    assert sorted(set(rule.verdicts.values())) == ["COMPLIANT", "NON_COMPLIANT"]
    assert iam_033.verdicts == baseline.verdicts
    assert sorted(set(baseline.verdicts.values())) == ["COMPLIANT", "NON_COMPLIANT"]  # agreeing on both verdicts
    # At its defaults the rule also flags what the seed misses (issued before the cutoff, reused keys).
    assert rule.verdicts.keys() == baseline.verdicts.keys() and rule.verdicts != baseline.verdicts
    assert rule.rss_mib > 0


def test_the_pacing_lines_judge_the_change_event_and_the_cli_audit_complete_and_correct(aws: AwsDouble) -> None:
    lines = pacing_runs(aws, [20], repeats=1, modes=("change", "cli"))
    assert [(line["mode"], line["latency_ms"], line["shape"]) for line in lines] == [
        (mode, latency, shape)
        for mode in ("change", "cli")
        for latency in (50.0, 200.0)
        for shape in ("bucket", "window")
    ]
    assert all(line["complete"] and line["correct"] for line in lines)
    assert all(line["bound"] == 1.25 * 20 / 20 + 2 and len(line["walls"]) == 1 for line in lines)


def test_the_floor_makes_the_rules_calls(aws: AwsDouble) -> None:
    on, off = floor_runs(aws, 20, latency_ms=0.0, repeats=1)
    assert (on["body"], off["body"]) == (True, False)
    # Both: 2 lists (IAM, ACM), 20 reads (body check on), the page of earlier rows the clean-up reads, 1 put.
    assert (on["floor_calls"], on["rule_calls"]) == (24, 24)
    assert (off["floor_calls"], off["rule_calls"]) == (4, 4)
    assert on["calls"] == expected_calls(20, prior=20, body=True)
    assert on["cpu_per_certificate_ms"] > off["cpu_per_certificate_ms"] > 0  # reading bodies costs CPU


def test_the_floor_sets_up_boto3_as_the_rule_does(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    # So that rule / floor measures the rule's own work, not a slower SDK set-up in the floor.
    build_account(aws, 2)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # install_client_defaults replaces it
    install_client_defaults(SdkSession())
    rule = boto3.client("iam")
    for client in child.floor_clients():
        for setting in ("retries", "max_pool_connections", "connect_timeout", "read_timeout"):
            assert getattr(client.meta.config, setting) == getattr(rule.meta.config, setting), setting
    # The rule's parser gives datetime's own UTC; botocore's default (dateutil) gives tzutc().
    for client in (rule, child.floor_clients()[0]):
        listed = client.list_server_certificates()["ServerCertificateMetadataList"]
        assert [meta["UploadDate"].tzinfo for meta in listed] == [UTC, UTC]
    sent = child.floor(periodic(aws))
    assert len(sent) == 2 and all(type(e["OrderingTimestamp"]) is datetime for e in sent)  # never parsed by botocore
