"""A rule outside its HomeRegion does not list IAM, so it never marks IAM's certificates deleted in the ledger.

IAM is global and reported by the rule in the home Region; the same rule deployed in another Region reads
only that Region's ACM. Its run still records into the one ledger, and a certificate the ledger holds is
marked deleted only where the run listed it in full. Real events through lambda_handler, on the double.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ledger_table import TABLE, create_table

from heartbleed.certificate import read_body
from heartbleed.ledger import Ledger
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler

HOME, OTHER = "us-east-1", "eu-west-1"
LEDGER = {
    **events.LOCAL_ROLE,
    "HomeRegion": HOME,
    "KeyLedgerTable": f"arn:aws:dynamodb:{HOME}:{ACCOUNT_ID}:table/{TABLE}",
}
OLD = datetime(2013, 6, 1, tzinfo=UTC)
RECENT = datetime.now(UTC) - timedelta(days=30)


def periodic_in(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, region: str) -> dict[str, dict[str, str]]:
    """A periodic run of the rule's function in region (Lambda sets AWS_REGION to the function's Region)."""
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    token = aws.result_token(events.RULE_NAME, region=region)
    sent = lambda_handler(events.scheduled_event(token, LEDGER, region=region), None)
    assert isinstance(sent, list), sent
    return {e["ComplianceResourceId"]: e for e in sent}


def test_a_run_outside_the_home_region_leaves_iams_certificates_in_the_ledger_as_they_are(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(aws.client("dynamodb", region=HOME))
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    shop = aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))["Arn"]
    moved = issue("shop.example.com", RECENT, key=key)  # reissued on the 2013 key, imported into ACM elsewhere
    imported = aws.import_acm(moved.body, moved.private_key, region=OTHER)
    assert periodic_in(aws, monkeypatch, HOME)[shop]["ComplianceType"] == "NON_COMPLIANT"  # IAM recorded

    there = periodic_in(aws, monkeypatch, OTHER)  # lists eu-west-1's ACM only: IAM is not its to judge gone
    assert list(there) == [imported]
    assert there[imported]["ComplianceType"] == "NON_COMPLIANT"
    # Not "Shop2013 (deleted since ...)": it still exists.
    annotation = there[imported]["Annotation"]
    assert annotation.startswith(
        "Shares its public key with Shop2013, issued 2013-06-01T00:00:00Z, before the cutoff"
    ), annotation
    holders = Ledger(aws.client("dynamodb", region=HOME), TABLE).key_holders(read_body(old.body).key_fingerprint)
    assert {(h.service, h.arn, h.deleted_since) for h in holders} == {("iam", shop, None), ("acm", imported, None)}
