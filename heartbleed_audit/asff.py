"""Verdicts as AWS Security Finding Format findings, ready for Security Hub's BatchImportFindings.

heartbleed-audit --output asff > findings.jsonl     (one request of at most 100 findings per line)
while IFS= read -r request; do aws securityhub batch-import-findings --cli-input-json "$request"; done < findings.jsonl
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from heartbleed.verdict import Compliance, Verdict

GENERATOR = "heartbleed-server-certificate"
BATCH_LIMIT = 100  # BatchImportFindings takes 1 to 100 findings per request
STATUS = {
    Compliance.NON_COMPLIANT: "FAILED",
    Compliance.COMPLIANT: "PASSED",
    Compliance.NOT_APPLICABLE: "NOT_AVAILABLE",
}
# The compliance context the origin rule (Conformity IAM-033) gives.
RELATED_REQUIREMENTS = ["PCI DSS", "APRA", "MAS", "NIST 800-53", "AWS Well-Architected Security Pillar"]
RECOMMENDATION = (
    "Revoke the certificate, generate a new private key, have the certificate reissued for it, upload it, "
    "switch its users and delete the old one (heartbleed-audit replace does this safely), or move to ACM."
)


def findings(verdicts: Sequence[Verdict], region: str, now: datetime) -> list[dict[str, Any]]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    result = []
    for verdict in verdicts:
        _, partition, service, arn_region, account = verdict.arn.split(":")[:5]
        # ASFF has a resource type for ACM certificates, none for IAM server certificates.
        kind, resource_type = (
            ("ACM certificate", "AwsCertificateManagerCertificate")
            if service == "acm"
            else ("IAM server certificate", "Other")
        )
        failed = verdict.compliance is Compliance.NON_COMPLIANT
        result.append(
            {
                "SchemaVersion": "2018-10-08",
                "Id": f"{verdict.arn}/{GENERATOR}",
                "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
                "GeneratorId": GENERATOR,
                "AwsAccountId": account,
                "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
                "CreatedAt": stamp,
                "UpdatedAt": stamp,
                "Severity": {"Label": "HIGH" if failed else "INFORMATIONAL"},
                "Title": f"{kind} {verdict.name} may carry a key exposed by Heartbleed"
                if failed
                else f"{kind} {verdict.name} is clear of Heartbleed",
                "Description": verdict.annotation,
                "Remediation": {"Recommendation": {"Text": RECOMMENDATION}},
                "Resources": [
                    {"Type": resource_type, "Id": verdict.arn, "Partition": partition, "Region": arn_region or region}
                ],
                "Compliance": {"Status": STATUS[verdict.compliance], "RelatedRequirements": RELATED_REQUIREMENTS},
                "Vulnerabilities": [{"Id": "CVE-2014-0160"}] if failed else [],
                "RecordState": "ACTIVE",
                "Workflow": {"Status": "NEW" if failed else "RESOLVED"},
            }
        )
    return result


def batches(items: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The findings in requests BatchImportFindings accepts; none at all for no findings."""
    for start in range(0, len(items), BATCH_LIMIT):
        yield list(items[start : start + BATCH_LIMIT])
