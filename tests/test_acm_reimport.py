"""An ACM re-import is a new certificate even when only its key changed.

ImportCertificate with an existing CertificateArn puts a new body under the same ARN. Here the new body
has the same validity and key algorithm as the old one and only a new key: the listing differs only in
ImportedAt, so the certificate id must carry ImportedAt, or the old body's facts (kept by the container,
or by the ledger) judge the new certificate. Real events through lambda_handler, on the double.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from ledger_table import TABLE, create_table

from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

OLD = datetime(2013, 6, 1, tzinfo=UTC)
RECENT = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0)
LONG = 25 * 365  # days: ACM imports only a certificate that has not expired


def periodic(aws: AwsDouble, parameters: dict[str, str]) -> dict[str, dict[str, str]]:
    sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), parameters), None)
    assert isinstance(sent, list), sent
    return {e["ComplianceResourceId"]: e for e in sent}


def next_second() -> None:
    """ACM gives ImportedAt in whole seconds: a re-import must land in a later one to be told apart."""
    time.sleep(1.05 - time.time() % 1)


@pytest.mark.parametrize("where", ["no ledger", "ledger, warm container", "ledger, cold container"])
def test_a_re_import_with_only_a_new_key_is_judged_by_its_new_key(aws: AwsDouble, where: str) -> None:
    parameters = dict(events.LOCAL_ROLE)
    if where != "no ledger":
        create_table(aws.client("dynamodb"))
        parameters["KeyLedgerTable"] = TABLE
    key = new_key()
    legacy = issue("legacy.example.com", OLD, key=key, days=LONG)
    aws.import_acm(legacy.body, legacy.private_key)  # a 2013 certificate moved into ACM as it was
    shop = issue("shop.example.com", RECENT, key=key)  # reissued on its key
    arn = aws.import_acm(shop.body, shop.private_key)
    assert periodic(aws, parameters)[arn]["ComplianceType"] == "NON_COMPLIANT"

    rekeyed = issue("shop.example.com", RECENT, key=new_key())  # same dates and key type, a new key
    listed = aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    next_second()
    assert aws.import_acm(rekeyed.body, rekeyed.private_key, arn=arn) == arn
    relisted = aws.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert [relisted[name] for name in ("NotBefore", "NotAfter", "KeyAlgorithm")] == [
        listed[name] for name in ("NotBefore", "NotAfter", "KeyAlgorithm")
    ]
    assert relisted["ImportedAt"] > listed["ImportedAt"]
    if where == "ledger, cold container":
        new_container()  # a new Lambda container: only the ledger knows the old body
    after = periodic(aws, parameters)[arn]
    assert after["ComplianceType"] == "COMPLIANT", after["Annotation"]
    assert "its key is not shared with a pre-cutoff certificate" in after["Annotation"]
