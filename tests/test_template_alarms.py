"""The templates' alarms and metric filters (rules/heartbleed-rule.yaml, rules/organization.yaml).

The metric filters read the one JSON line a run logs (heartbleed/run_log.py). Lambda writes it after a text
prefix, so CloudWatch Logs' JSON filter patterns cannot read it; the filters are regular expressions. The
tests hold each pattern to the characters CloudWatch Logs accepts in one (its filter pattern syntax page:
letters, digits, _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + .; no parentheses) and run it, as a
Python regular expression of the same meaning, on lines the run log really writes.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from template_values import parameter_defaults, resolve
from test_templates import FUNCTION_TEMPLATES, RULES

from heartbleed import run_log
from heartbleed_audit import events

TRIGGERS = {
    "ScheduledNotification": events.scheduled_event("token"),
    "ConfigurationItemChangeNotification": events.change_event(
        events.configuration_item("Shop", "arn:aws:iam::123456789012:server-certificate/Shop"), "token"
    ),
    "OversizedConfigurationItemChangeNotification": events.oversized_change_event("Shop", "token"),
}
OUTCOMES = ("ok", "error", "failed", "refused")
CLOUDWATCH_REGEX = re.compile(r"%[A-Za-z0-9_#=@/;,\-\^$?\[\]{}|\\*+.]+%")
REGEX_FILTERS_PER_LOG_GROUP = 5  # CloudWatch Logs' quota for filter patterns that hold a regular expression
TOPIC = "arn:aws:sns:us-east-1:123456789012:security-alerts"


def resources(name: str, kind: str, **given: str) -> dict[str, dict[str, Any]]:
    template: dict[str, Any] = cfn_yaml.load(str(RULES / name))
    pseudo = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    context = parameter_defaults(template) | pseudo | given
    return {
        logical: resolve(resource["Properties"], template.get("Conditions", {}), context)
        for logical, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == kind
    }


def logged_line(outcome: str, trigger: str) -> str:
    """The run's line as Lambda's Python runtime writes it to the log group (text format: level, time,
    request id, then the message), with an error that names the other outcomes, as a real one may."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep = Keep()
    run_log.LOG.addHandler(keep)
    try:
        error = None if outcome == "ok" else "ClientError: organizations:ListAccounts failed; refused; error"
        line = run_log.summary(TRIGGERS[trigger], outcome, [], run_log.APICalls(), 12.0, error)
        run_log.log_summary(line)
    finally:
        run_log.LOG.removeHandler(keep)
    (message,) = lines
    assert json.loads(message)["outcome"] == outcome and json.loads(message)["trigger"] == trigger
    return f"[ERROR]\t2026-12-06T12:00:00.000Z\t8f5a2c1e-0000-4000-8000-000000000000\t{message}\n"


def matched(pattern: str) -> set[tuple[str, str]]:
    assert CLOUDWATCH_REGEX.fullmatch(pattern), pattern  # only what CloudWatch Logs accepts
    expression = re.compile(pattern[1:-1])
    return {(o, t) for o in OUTCOMES for t in TRIGGERS if expression.search(logged_line(o, t))}


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_each_failing_run_filter_counts_error_and_failed_runs_of_its_trigger_only(name: str) -> None:
    filters = resources(name, "AWS::Logs::MetricFilter")
    counted: dict[str, set[tuple[str, str]]] = {}
    for properties in filters.values():
        assert properties["LogGroupName"] == {"Ref": "LogGroup"}
        (metric,) = properties["MetricTransformations"]
        assert (metric["MetricNamespace"], metric["MetricValue"], metric["Unit"]) == (
            "HeartbleedServerCertificate",
            "1",
            "Count",
        )
        counted[metric["MetricName"]] = matched(properties["FilterPattern"])
    for trigger in TRIGGERS:
        assert counted.pop(f"FailingRuns{trigger}") == {("error", trigger), ("failed", trigger)}
    if name == "organization.yaml":  # only the organization's function has a guard that refuses events
        assert counted.pop("RefusedEvents") == {("refused", trigger) for trigger in TRIGGERS}
    assert counted == {}
    assert len(filters) <= REGEX_FILTERS_PER_LOG_GROUP


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_every_metric_a_filter_makes_and_the_functions_errors_and_throttles_have_an_alarm(name: str) -> None:
    filters = resources(name, "AWS::Logs::MetricFilter")
    made = {("HeartbleedServerCertificate", f["MetricTransformations"][0]["MetricName"]) for f in filters.values()}
    alarms = resources(name, "AWS::CloudWatch::Alarm")
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert made | {("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles")} <= watched
    for alarm in alarms.values():
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
            "GreaterThanThreshold",
            0,
            "notBreaching",
        )
        assert "AlarmActions" not in alarm
        if alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] != "DeadLetterErrors":
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Function"}}]
    # Throttling is how the reserved concurrency queues a storm: only 15 minutes of it alarms.
    (throttles,) = [a for a in alarms.values() if a["MetricName"] == "Throttles"]
    assert (throttles["Period"], throttles["EvaluationPeriods"]) == (300, 3)
    # One optional topic for every alarm of the stack.
    notified = resources(name, "AWS::CloudWatch::Alarm", AlarmTopicArn=TOPIC)
    assert {logical: a["AlarmActions"] for logical, a in notified.items()} == {key: [TOPIC] for key in alarms}


def test_both_function_templates_define_the_same_failing_run_filters_and_alarms() -> None:
    """One definition in two templates, as the key ledger's table is."""
    for kind, count in (("AWS::Logs::MetricFilter", 3), ("AWS::CloudWatch::Alarm", 5)):
        standalone, organization = (
            {k: v for k, v in resources(name, kind).items() if k.startswith(("Failing", "Function"))}
            for name in FUNCTION_TEMPLATES
        )
        assert standalone == organization and len(standalone) == count
