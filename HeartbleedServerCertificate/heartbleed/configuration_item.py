"""What a configuration item of the rule's two resource types tells the rule.

AWS::IAM::ServerCertificate items carry the name, path and ARN, but not UploadDate or the
body; AWS::ACM::Certificate items carry the ARN (also their resourceId), domain name and Type,
but no body. So a change event still reads IAM or ACM. Config's own resourceId of an IAM
certificate is not the ARN, while the rule reports every certificate under its ARN: these
helpers find it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
ACM_RESOURCE_TYPE = "AWS::ACM::Certificate"
RESOURCE_TYPES = (RESOURCE_TYPE, ACM_RESOURCE_TYPE)
GONE_STATUSES = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded"})


def resource_type(arn: str) -> str:
    """The Config resource type a certificate's row is reported under, from its ARN."""
    return ACM_RESOURCE_TYPE if arn.split(":")[2] == "acm" else RESOURCE_TYPE


@dataclass(frozen=True)
class ItemIdentity:
    """The certificate a configuration item names: its name, ARN and resource type."""

    name: str
    arn: str
    resource_type: str = RESOURCE_TYPE


def identity(item: Mapping[str, Any]) -> ItemIdentity:
    """Name, ARN and type of the certificate a configuration item describes."""
    configuration = item.get("configuration") or {}
    kind = str(item.get("resourceType") or RESOURCE_TYPE)
    if kind == ACM_RESOURCE_TYPE:
        arn = item.get("ARN") or item.get("arn") or configuration.get("certificateArn") or item.get("resourceId")
        name = configuration.get("domainName") or item.get("resourceName") or arn
        needs = "ARN (or configuration.certificateArn)"
    else:
        name = configuration.get("ServerCertificateName") or item.get("resourceName") or item.get("resourceId")
        arn = item.get("ARN") or item.get("arn") or configuration.get("Arn")
        needs = "resourceName (or configuration.ServerCertificateName) and ARN"
    if kind not in RESOURCE_TYPES or not name or not arn:
        raise ValueError(
            f"the configuration item names no certificate of {', '.join(RESOURCE_TYPES)}: "
            f"it has resourceType {kind!r} and needs {needs}"
        )
    return ItemIdentity(str(name), str(arn), kind)


def gone_reason(item: Mapping[str, Any], left_scope: bool) -> str | None:
    """Why the item is out of the rule's reach (deleted, unrecorded, out of scope), else None."""
    status = item.get("configurationItemStatus")
    if status in GONE_STATUSES:
        return f"The certificate is no longer recorded ({status})."
    if left_scope:
        return "The certificate left the rule's scope."
    return None
