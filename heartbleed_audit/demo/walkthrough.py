"""The demo: the real lambda_handler evaluating the sample account on the AWS double.

It runs a periodic evaluation, then two change events (a re-keyed replacement
uploaded under the name `heartbleed-audit replace` gives it while the old one is in
use, and a pre-Heartbleed one deleted), then two ACM change events (a 2013 certificate
imported into ACM as it was, and one ACM issued), prints what the AWS Config console
would show for the rule, and explains how each step moved the counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from heartbleed_audit import events, remediation
from heartbleed_audit.double import AwsDouble
from HeartbleedServerCertificate import lambda_handler

from . import sample_account
from .pki import issue

PARAMETERS = events.LOCAL_ROLE


KINDS = ("NON_COMPLIANT", "COMPLIANT", "NOT_APPLICABLE")


def counted(counts: Counter[str]) -> str:
    return ", ".join(f"{counts[kind]} {kind}" for kind in KINDS)


def show(aws: AwsDouble) -> Counter[str]:
    config = aws.client("config")
    rows = []
    for page in config.get_paginator("get_compliance_details_by_config_rule").paginate(
        ConfigRuleName=events.RULE_NAME, ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
    ):
        rows += page["EvaluationResults"]
    kinds = Counter(r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceType"] for r in rows)
    print(
        f"\nAWS Config: rule {events.RULE_NAME}, resources: " + ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
    )
    arns = sorted((r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"], r) for r in rows)
    width = max(len(arn.rsplit("/", 1)[-1]) for arn, _ in arns) + 2
    print(f"{'CERTIFICATE':<{width}}{'COMPLIANCE':<16}ARN")
    for arn, row in arns:
        print(f"{arn.rsplit('/', 1)[-1]:<{width}}{row['ComplianceType']:<16}{arn}")
        print(f"    {row.get('Annotation', '')}")
    counts = Counter(row["ComplianceType"] for row in rows)
    print("\nSummary: " + counted(counts))
    return counts


def report(sent: list[dict[str, Any]]) -> None:
    for evaluation in sent:
        print(f"   lambda_handler sent {evaluation['ComplianceType']} for {evaluation['ComplianceResourceId']}")


def walk_through() -> None:
    with AwsDouble() as aws, aws.environment():
        sample_account.build(aws)
        iam = aws.client("iam")
        print(f"AWS double (moto, extended) on {aws.endpoint_url}; sample account {events.ACCOUNT_ID}:")
        for meta in iam.list_server_certificates(MaxItems=1000)["ServerCertificateMetadataList"]:
            print(f"  {meta['ServerCertificateName']:<28} uploaded {meta['UploadDate']:%Y-%m-%dT%H:%M:%SZ}")

        print("\n1. ScheduledNotification: the periodic run evaluates every certificate.")
        sent = lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), PARAMETERS), None)
        periodic = Counter(e["ComplianceType"] for e in sent)
        print(f"   lambda_handler sent {len(sent)} evaluations: {counted(periodic)}")

        # The name `heartbleed-audit replace` gives a replacement while the old certificate is in use.
        replacement = remediation.new_name("FrontendSSLCertificate")
        print(f"2. ConfigurationItemChangeNotification: a re-keyed replacement is uploaded as {replacement},")
        print("   as `heartbleed-audit replace` does while FrontendSSLCertificate is still in use.")
        fresh = issue("www.example.com", datetime.now(UTC) - timedelta(days=1), days=397)
        meta = aws.upload(replacement, fresh.body, fresh.private_key)
        item = events.configuration_item(meta["ServerCertificateName"], meta["Arn"])
        added = lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), PARAMETERS), None)
        report(added)

        gone_name = "DisclosureWeekCertificate"
        print(f"3. ConfigurationItemChangeNotification (ResourceDeleted): {gone_name} is deleted.")
        gone = iam.get_server_certificate(ServerCertificateName=gone_name)
        iam.delete_server_certificate(ServerCertificateName=gone_name)
        arn = gone["ServerCertificate"]["ServerCertificateMetadata"]["Arn"]
        item = events.configuration_item(gone_name, arn, status="ResourceDeleted")
        report(lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), PARAMETERS), None))

        print("4. AWS::ACM::Certificate changes: a 2013 certificate is imported into ACM as it was (its key with")
        print("   it), and ACM issues a new one (a key ACM made).")
        moved = issue("legacy.example.com", sample_account.utc("2013-09-01T00:00:00"), days=25 * 365)
        imported = aws.import_acm(moved.body, moved.private_key)
        issued = aws.request_acm("new.example.com")
        acm = []
        for acm_arn, domain, kind in (
            (imported, "legacy.example.com", "IMPORTED"),
            (issued, "new.example.com", "AMAZON_ISSUED"),
        ):
            item = events.acm_configuration_item(acm_arn, domain, kind)
            acm += lambda_handler(events.change_event(item, aws.result_token(events.RULE_NAME), PARAMETERS), None)
        report(acm)

        final = show(aws)
        before = next(e["ComplianceType"] for e in sent if e["ComplianceResourceId"] == arn)
        print("\nHow the counts got there:")
        print(f"  step 1 (periodic run)  {counted(periodic)}")
        print("                         as `heartbleed-audit audit --demo` shows: it audits the account as built")
        print(f"  step 2 (upload)        +1 {added[0]['ComplianceType']}: {replacement}")
        print(f"  step 3 (deletion)      {gone_name}: {before} -> NOT_APPLICABLE")
        print("  step 4 (ACM)           " + ", ".join(f"+1 {e['ComplianceType']}" for e in acm))
        print(f"  now                    {counted(final)}")
