"""The console's Remediate step trusts a NON_COMPLIANT row only if it was judged a full second after the
upload of the certificate now under its ARN.

IAM gives UploadDate to the second, so a certificate uploaded in the very second the rule's run began
(the row's OrderingTimestamp) may be newer than what the run read: a row from that second may have
judged the certificate it replaced. rules/delete-unused-certificate.yaml's script, called as SSM calls
it, against the double.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from heartbleed_audit import events
from heartbleed_audit.certificate_users import Refused, handler
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler


def judged_at(aws: AwsDouble, arn: str) -> datetime:
    """The OrderingTimestamp of the rule's current row for arn, as Config returns it."""
    results = aws.client("config").get_compliance_details_by_config_rule(ConfigRuleName=events.RULE_NAME)
    (row,) = [
        r
        for r in results["EvaluationResults"]
        if r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"] == arn
    ]
    assert row["ComplianceType"] == "NON_COMPLIANT"
    stamp: datetime = row["EvaluationResultIdentifier"]["OrderingTimestamp"]
    return stamp.astimezone(UTC)


def inputs(arn: str) -> dict[str, Any]:
    return {"CertificateArn": arn, "ConfigRuleName": events.RULE_NAME, "RequireExpired": False, "DryRun": False}


def test_a_certificate_uploaded_in_the_second_its_row_was_judged_is_kept(aws: AwsDouble) -> None:
    old = issue("shop.example.com", datetime(2013, 6, 1, tzinfo=UTC))
    arn = aws.upload("Shop", old.body, old.private_key, uploaded=datetime(2013, 6, 2, tzinfo=UTC))["Arn"]
    lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)
    judged = judged_at(aws, arn)
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop")
    fresh = issue("shop.example.com", judged - timedelta(days=1))
    # Re-uploaded under the same ARN in the second the run began: its UploadDate is not after the row's time.
    same_second = judged.replace(microsecond=0)
    assert aws.upload("Shop", fresh.body, fresh.private_key, uploaded=same_second)["Arn"] == arn
    with pytest.raises(Refused, match="that result judged an earlier certificate under the same name"):
        handler(inputs(arn), None)
    names = [
        m["ServerCertificateName"]
        for m in aws.client("iam").list_server_certificates()["ServerCertificateMetadataList"]
    ]
    assert names == ["Shop"]  # the fresh certificate is kept
