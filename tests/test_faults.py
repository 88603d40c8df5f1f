"""Faults injected by the AWS double over HTTP, and what must hold after each.

Every run starts from a steady account: the sample certificates, their rows from a
clean periodic run, and one row of a certificate deleted since. Then a fault is
injected and a periodic run made. Afterwards, either the run succeeded and every
certificate has exactly one current row with the right verdict (the deleted one
retired), or the run reported failure and no row changed for the worse: no live
certificate retired, no wrong COMPLIANT. Figures go to build/reliability.json.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

import heartbleed.retry_policy
from heartbleed_audit import events
from heartbleed_audit.demo import sample_account
from heartbleed_audit.double import AwsDouble
from heartbleed_audit.double.conditions import TRANSIENT_FAULTS
from HeartbleedServerCertificate import lambda_handler, new_container

ACTIONS = (
    "iam:ListServerCertificates",
    "iam:GetServerCertificate",
    "config:GetComplianceDetailsByConfigRule",
    "config:PutEvaluations",
)
# A burst the retries absorb, and an outage that outlasts them.
BURSTS = {"burst": 2, "outage": 1000}
GONE = "ModernWebCertificate"  # deleted after the first run: its row must be retired, never a live one
STATS: Counter[str] = Counter()
REPORT = Path(__file__).resolve().parents[1] / "build" / "reliability.json"


@pytest.fixture(autouse=True)
def quick_failures(monkeypatch: pytest.MonkeyPatch, aws: AwsDouble) -> None:
    """A cold container every run (no bodies kept from the steady run), 3 attempts instead of 10
    and a 1 s read timeout, so that outlasting the retries takes seconds."""
    new_container()
    config = heartbleed.retry_policy.CLIENT_CONFIG.merge(
        Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=1, connect_timeout=1)
    )
    monkeypatch.setattr(heartbleed.retry_policy, "CLIENT_CONFIG", config)
    aws.conditions.late_answer = 1.5


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(dict(sorted(STATS.items())), indent=2) + "\n")


def arn(name: str) -> str:
    path = "/cloudfront/prod/" if name == "CdnCertificate" else "/"
    return f"arn:aws:iam::{events.ACCOUNT_ID}:server-certificate{path}{name}"


def steady_account(aws: AwsDouble) -> dict[str, str]:
    """The sample account after a clean run, with GONE deleted since; returns the live verdicts."""
    sample_account.build(aws)
    assert isinstance(periodic(aws), list)
    aws.client("iam").delete_server_certificate(ServerCertificateName=GONE)
    return {arn(name): verdict for name, verdict in sample_account.EXPECTED.items() if name != GONE}


def periodic(aws: AwsDouble) -> Any:
    with aws.environment():
        return lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)


def run_with_fault(aws: AwsDouble) -> tuple[bool, Any]:
    """Run; True if it succeeded, False if it reported failure (an error answer or an exception)."""
    try:
        response = periodic(aws)
    except Exception as error:  # a loud failure is an allowed outcome
        return False, error
    return isinstance(response, list), response


def check_outcome(aws: AwsDouble, expected: dict[str, str], succeeded: bool, response: Any) -> None:
    rows = {resource: stored.compliance_type for resource, stored in aws.evaluations(events.RULE_NAME).items()}
    STATS["runs"] += 1
    STATS["evaluations checked"] += len(expected) + 1
    if succeeded:
        STATS["runs complete"] += 1
        # Lost: sent, and answered without FailedEvaluations, yet not what Config holds.
        STATS["evaluations lost"] += sum(rows.get(e["ComplianceResourceId"]) != e["ComplianceType"] for e in response)
        assert rows == {**expected, arn(GONE): "NOT_APPLICABLE"}
    else:
        STATS["runs failed loudly"] += 1
        # Nothing changed for the worse: live rows keep their (right) verdicts, none retired.
        assert {resource: rows[resource] for resource in expected} == expected
        assert rows[arn(GONE)] in {"COMPLIANT", "NOT_APPLICABLE"}
    assert STATS["evaluations lost"] == 0


@pytest.mark.parametrize("burst", sorted(BURSTS))
@pytest.mark.parametrize("kind", TRANSIENT_FAULTS)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_fault_never_gives_a_wrong_or_lost_result(aws: AwsDouble, action: str, kind: str, burst: str) -> None:
    expected = steady_account(aws)
    new_container()  # the steady run's container kept its bodies; the faulty run starts cold
    aws.conditions.reset_counts()
    aws.conditions.inject(action, kind, BURSTS[burst])
    succeeded, response = run_with_fault(aws)
    assert aws.conditions.calls[action] > 0  # the fault was really served
    STATS[f"faults injected: {kind}"] += 1
    check_outcome(aws, expected, succeeded, response)
    if burst == "burst":  # botocore's retries absorb a short burst of any fault
        assert succeeded, response


def test_a_certificate_deleted_between_list_and_get(aws: AwsDouble) -> None:
    expected = steady_account(aws)
    new_container()

    def delete_it(request: Any) -> None:
        if request._get_param("ServerCertificateName") == "LegacyApiCertificate":
            aws.client("iam").delete_server_certificate(ServerCertificateName="LegacyApiCertificate")

    aws.conditions.before("iam:GetServerCertificate", delete_it)
    succeeded, response = run_with_fault(aws)
    assert succeeded, response
    STATS["faults injected: deleted between list and get"] += 1
    STATS["runs"] += 1
    STATS["runs complete"] += 1
    STATS["evaluations checked"] += len(expected) + 1
    rows = {resource: stored for resource, stored in aws.evaluations(events.RULE_NAME).items()}
    legacy = rows[arn("LegacyApiCertificate")]
    assert (legacy.compliance_type, legacy.annotation) == (
        "NOT_APPLICABLE",
        "The certificate was deleted during the evaluation.",
    )
    for resource, verdict in expected.items():
        if resource != arn("LegacyApiCertificate"):
            assert rows[resource].compliance_type == verdict


def test_partly_failed_evaluations_fail_the_run_loudly(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = steady_account(aws)
    # The fault here is FailedEvaluations, not a timeout: with the module's 1 s read timeout, a slow answer
    # on a loaded machine was retried and the retry, past the rejection, succeeded (seen once in CI).
    patient = heartbleed.retry_policy.CLIENT_CONFIG.merge(Config(read_timeout=20))
    monkeypatch.setattr(heartbleed.retry_policy, "CLIENT_CONFIG", patient)
    aws.reject_evaluations(2)
    succeeded, response = run_with_fault(aws)
    assert not succeeded
    assert "AWS Config rejected 2 evaluation(s)" in str(response)
    STATS["faults injected: FailedEvaluations"] += 1
    check_outcome(aws, expected, succeeded, response)
