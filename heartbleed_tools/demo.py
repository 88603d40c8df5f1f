"""The demo: the real lambda_handler evaluating the sample account on the AWS double.

It runs a periodic evaluation, then two change events (a replacement certificate
uploaded, a pre-Heartbleed one deleted), and prints what the AWS Config console
would show for the rule.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from awsdouble import AwsDouble
from HeartbleedServerCertificate import lambda_handler

from . import events, sample_account
from .pki import issue

PARAMETERS = events.LOCAL_ROLE


def show(aws: AwsDouble) -> None:
    config = aws.client("config")
    rows = []
    for page in config.get_paginator("get_compliance_details_by_config_rule").paginate(
        ConfigRuleName=events.RULE_NAME, ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
    ):
        rows += page["EvaluationResults"]
    print(f"\nAWS Config: rule {events.RULE_NAME}, {len(rows)} resources of AWS::IAM::ServerCertificate")
    print(f"{'CERTIFICATE':<28}{'COMPLIANCE':<16}ARN")
    for arn, row in sorted(
        (r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"], r) for r in rows
    ):
        print(f"{arn.rsplit('/', 1)[-1]:<28}{row['ComplianceType']:<16}{arn}")
        print(f"    {row.get('Annotation', '')}")
    counts = Counter(row["ComplianceType"] for row in rows)
    print(
        "\nSummary: " + ", ".join(f"{counts[kind]} {kind}" for kind in ("NON_COMPLIANT", "COMPLIANT", "NOT_APPLICABLE"))
    )


def report(sent: list[dict[str, Any]]) -> None:
    for evaluation in sent:
        print(f"   lambda_handler sent {evaluation['ComplianceType']} for {evaluation['ComplianceResourceId']}")


def main() -> None:
    with AwsDouble() as aws, aws.environment():
        sample_account.build(aws)
        iam = aws.client("iam")
        print(f"AWS double (moto, extended) on {aws.endpoint_url}; sample account {events.ACCOUNT_ID}:")
        for meta in iam.list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"]:
            print(f"  {meta['ServerCertificateName']:<28} uploaded {meta['UploadDate']:%Y-%m-%dT%H:%M:%SZ}")

        print("\n1. ScheduledNotification: the periodic run evaluates every certificate.")
        sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), PARAMETERS), None)
        print(f"   lambda_handler sent {len(sent)} evaluations")

        print("2. ConfigurationItemChangeNotification: FrontendSSLCertificate's re-keyed replacement is uploaded.")
        fresh = issue("www.example.com", datetime.now(UTC) - timedelta(days=1), days=397)
        meta = aws.upload("FrontendSSLCertificate2026", fresh.body, fresh.private_key)
        item = events.configuration_item(meta["ServerCertificateName"], meta["Arn"])
        report(lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), PARAMETERS), None))

        print("3. ConfigurationItemChangeNotification (ResourceDeleted): DisclosureWeekCertificate is deleted.")
        gone = iam.get_server_certificate(ServerCertificateName="DisclosureWeekCertificate")
        iam.delete_server_certificate(ServerCertificateName="DisclosureWeekCertificate")
        arn = gone["ServerCertificate"]["ServerCertificateMetadata"]["Arn"]
        item = events.configuration_item("DisclosureWeekCertificate", arn, status="ResourceDeleted")
        report(lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), PARAMETERS), None))

        show(aws)


if __name__ == "__main__":
    main()
