"""The rule's earlier evaluations in AWS Config, for retiring rows of certificates that are gone.

rdklib does this clean-up after the evaluation, one page at a time; the rule does
it itself so that the pages are read while IAM is being read (they do not depend
on each other), which takes the clean-up off the run's critical path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_config import ConfigServiceClient

PAGE_SIZE = 100  # GetComplianceDetailsByConfigRule's largest Limit


def reported_resources(config: ConfigServiceClient, rule_name: str) -> dict[str, str]:
    """Resource id -> type of every COMPLIANT or NON_COMPLIANT row the rule has in Config."""
    rows: dict[str, str] = {}
    request: dict[str, Any] = {
        "ConfigRuleName": rule_name,
        "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT"],  # NOT_APPLICABLE rows need no retiring
        "Limit": PAGE_SIZE,
    }
    while True:
        page = config.get_compliance_details_by_config_rule(**request)
        for result in page.get("EvaluationResults", []):
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            rows[qualifier["ResourceId"]] = qualifier["ResourceType"]
        if not page.get("NextToken"):
            return rows
        request["NextToken"] = page["NextToken"]
