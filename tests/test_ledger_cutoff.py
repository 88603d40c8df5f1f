"""The ledger keeps evidence, not verdicts: each run judges it against its own CutoffDate.

A certificate issued between two cutoffs is evidence under the later one and none under the earlier
one, and so is the key it carried once it is deleted: both the verdict of the key's other holder
(judged from the ledger alone, its own dates being after either cutoff) and the re-evaluation asked
of another account follow the run's CutoffDate, never the default 2014-04-08. Real Config events
through lambda_handler, over HTTP to the double.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from ledger_table import TABLE, create_table
from simulated_organization import MEMBER_RULE, PARAMETERS, as_central_function, build_organization, invoke

from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

REISSUED = datetime.now(UTC) - timedelta(days=30)


@dataclass(frozen=True)
class Case:
    cutoff: str  # the run's CutoffDate
    issued: datetime  # the older certificate: on the other side of this cutoff from the default one
    compromised: bool  # whether its key is compromised under the run's cutoff


# Before the default cutoff but after the run's, and after the default but before the run's.
EARLIER = Case("2014-04-01", datetime(2014, 4, 5, tzinfo=UTC), compromised=False)
LATER = Case("2015-01-01", datetime(2014, 6, 1, tzinfo=UTC), compromised=True)
CASES = [pytest.param(EARLIER, id="cutoff-2014-04-01"), pytest.param(LATER, id="cutoff-2015-01-01")]


def periodic(aws: AwsDouble, parameters: dict[str, str]) -> list[dict[str, str]]:
    sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), parameters), None)
    assert isinstance(sent, list), sent
    return sent


@pytest.mark.parametrize("case", CASES)
def test_a_deleted_certificates_evidence_is_judged_against_the_runs_cutoff(aws: AwsDouble, case: Case) -> None:
    create_table(aws.client("dynamodb"))
    parameters = {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE, "CutoffDate": case.cutoff}
    key = new_key()
    older = issue("shop.example.com", case.issued, key=key)
    reissue = issue("shop.example.com", REISSUED, key=key)
    aws.upload("ShopOlder", older.body, older.private_key, uploaded=case.issued + timedelta(days=1))
    reissued = aws.upload("ShopReissued", reissue.body, reissue.private_key, uploaded=REISSUED + timedelta(days=1))
    expected = "NON_COMPLIANT" if case.compromised else "COMPLIANT"
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in periodic(aws, parameters)}[
        reissued["Arn"]
    ] == expected
    aws.client("iam").delete_server_certificate(ServerCertificateName="ShopOlder")
    sent = {e["ComplianceResourceId"]: e for e in periodic(aws, parameters)}  # only the ledger knows ShopOlder
    after = sent[reissued["Arn"]]
    assert after["ComplianceType"] == expected, after["Annotation"]
    if case.compromised:
        assert "Shares its public key with ShopOlder (deleted since " in after["Annotation"]
        assert "issued 2014-06-01T00:00:00Z, before the cutoff" in after["Annotation"]
    else:
        assert f"after the cutoff {case.cutoff}T00:00:00Z" in after["Annotation"]
        assert "its key is not shared with a pre-cutoff certificate" in after["Annotation"]


@pytest.mark.parametrize("case", CASES)
def test_another_account_is_asked_to_evaluate_again_only_under_the_runs_cutoff(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    """Organization route: B carries a recent certificate with the key A's older certificate carries. B runs
    first; A's run then records the older evidence, which asks B's rule again only where the cutoff makes
    it evidence."""
    organization = build_organization(aws)
    create_table(aws.client("dynamodb"))
    first, second, _ = organization.members
    parameters = {**PARAMETERS, "KeyLedgerTable": TABLE, "CutoffDate": case.cutoff}
    key = new_key()
    older = issue("shop.example.com", case.issued, key=key)
    reissue = issue("shop.example.com", REISSUED, key=key)
    aws.upload("ShopOlder", older.body, older.private_key, uploaded=case.issued + timedelta(days=1), account=first)
    shop = aws.upload(
        "ShopReissued", reissue.body, reissue.private_key, uploaded=REISSUED + timedelta(days=1), account=second
    )["Arn"]
    aws.set_start_interval(0, second)
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, second, parameters)
        assert aws.evaluations(MEMBER_RULE, second)[shop].compliance_type == "COMPLIANT"
        invoke(aws, first, parameters)
        asked = [started.rules for started in aws.started_evaluations(second)]
        assert asked == ([(MEMBER_RULE,)] if case.compromised else [])
        for _ in asked:  # what Config runs when asked
            invoke(aws, second, parameters)
    result = aws.evaluations(MEMBER_RULE, second)[shop]
    assert result.compliance_type == ("NON_COMPLIANT" if case.compromised else "COMPLIANT"), result.annotation
