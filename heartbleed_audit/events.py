"""AWS Config event documents, shaped like the examples in the AWS Config developer guide.

invokingEvent and ruleParameters are JSON strings, as Config sends them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from heartbleed.configuration_item import ACM_RESOURCE_TYPE, RESOURCE_TYPE

RULE_NAME = "HeartbleedServerCertificate"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# Local runs use the Lambda's own role: rdklib's STS call goes to a fixed AWS endpoint.
LOCAL_ROLE = {"AssumeRoleMode": "false"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def member_event_role(account: str) -> str:
    """The executionRoleArn of an organization rule's event: the member's Config service-linked role."""
    return f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


def _event(
    invoking: dict[str, Any],
    result_token: str,
    parameters: Mapping[str, str] | None,
    left_scope: bool,
    account: str = ACCOUNT_ID,
    region: str = REGION,
) -> dict[str, Any]:
    # A rule of the account's own; an organization rule's event names the member's service-linked role.
    role = f"arn:aws:iam::{account}:role/config-role" if account == ACCOUNT_ID else member_event_role(account)
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking),
        "ruleParameters": json.dumps(dict(parameters or {})),
        "resultToken": result_token,
        "eventLeftScope": left_scope,
        "executionRoleArn": role,
        "configRuleArn": f"arn:aws:config:{region}:{account}:config-rule/config-rule-hb0001",
        "configRuleName": RULE_NAME,
        "configRuleId": "config-rule-hb0001",
        "accountId": account,
    }


def scheduled_event(
    result_token: str, parameters: Mapping[str, str] | None = None, account: str = ACCOUNT_ID, region: str = REGION
) -> dict[str, Any]:
    invoking = {
        "awsAccountId": account,
        "notificationCreationTime": _now(),
        "messageType": "ScheduledNotification",
        "recordVersion": "1.0",
    }
    return _event(invoking, result_token, parameters, False, account, region)


def configuration_item(name: str, arn: str, path: str = "/", status: str = "OK") -> dict[str, Any]:
    """A configuration item for a server certificate; a deleted one has no configuration."""
    deleted = status.startswith("ResourceDeleted")
    return {
        "relatedEvents": [],
        "relationships": [],
        "configuration": None if deleted else {"ServerCertificateName": name, "Path": path, "Arn": arn},
        "supplementaryConfiguration": {},
        "tags": {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": _now(),
        "configurationStateId": 1732759200000,
        "awsAccountId": ACCOUNT_ID,
        "configurationItemStatus": status,
        "resourceType": RESOURCE_TYPE,
        "resourceId": name,
        "resourceName": name,
        "ARN": arn,
        "awsRegion": "global",
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
    }


def acm_configuration_item(arn: str, domain: str, kind: str = "IMPORTED", status: str = "OK") -> dict[str, Any]:
    """A configuration item for an ACM certificate, in its own account and Region (named by the ARN):
    Config records ACM per Region, under the ARN, with the certificate's lowerCamelCase fields."""
    deleted = status.startswith("ResourceDeleted")
    _, _, _, region, account, _ = arn.split(":", 5)
    return {
        "relatedEvents": [],
        "relationships": [],
        "configuration": None if deleted else {"certificateArn": arn, "domainName": domain, "type": kind},
        "supplementaryConfiguration": {},
        "tags": {},
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": _now(),
        "configurationStateId": 1732759200000,
        "awsAccountId": account,
        "configurationItemStatus": status,
        "resourceType": ACM_RESOURCE_TYPE,
        "resourceId": arn,
        "resourceName": domain,
        "ARN": arn,
        "awsRegion": region,
        "availabilityZone": "Regional",
        "configurationStateMd5Hash": "",
    }


def change_event(
    item: dict[str, Any],
    result_token: str,
    parameters: Mapping[str, str] | None = None,
    *,
    left_scope: bool = False,
    region: str | None = None,
) -> dict[str, Any]:
    """The event of a change to item, from the rule in the item's account and in region (default: the
    item's Region; for IAM's global items, us-east-1, where Config records them)."""
    invoking = {
        "configurationItemDiff": None,
        "configurationItem": item,
        "notificationCreationTime": _now(),
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    account = str(item.get("awsAccountId") or ACCOUNT_ID)
    recorded = str(item.get("awsRegion") or REGION)
    where = region or (REGION if recorded == "global" else recorded)
    return _event(invoking, result_token, parameters, left_scope, account, where)


def oversized_change_event(name: str, result_token: str, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The summary Config sends when the item is too large; the rule fetches the item itself."""
    invoking = {
        "configurationItemSummary": {
            "changeType": "UPDATE",
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": _now(),
            "configurationStateId": 1732759200000,
            "awsAccountId": ACCOUNT_ID,
            "configurationItemStatus": "OK",
            "resourceType": RESOURCE_TYPE,
            "resourceId": name,
            "resourceName": name,
            "ARN": f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/{name}",
            "awsRegion": "global",
            "availabilityZone": "Not Applicable",
            "configurationStateMd5Hash": "",
            "resourceCreationTime": _now(),
        },
        "s3DeliverySummary": {
            "s3BucketLocation": "config-bucket/AWSLogs/oversized-item.json.gz",
            "errorCode": None,
            "errorMessage": None,
        },
        "notificationCreationTime": _now(),
        "messageType": "OversizedConfigurationItemChangeNotification",
        "recordVersion": "1.0",
    }
    return _event(invoking, result_token, parameters, False)
