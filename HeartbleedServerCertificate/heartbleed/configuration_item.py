"""What a configuration item of AWS::IAM::ServerCertificate tells the rule.

The item carries the name, path and ARN but not UploadDate or the body, so a
change event still reads IAM. Config's own resourceId is not the ARN, while the
rule reports every certificate under its ARN: these helpers find it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
GONE_STATUSES = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded"})


@dataclass(frozen=True)
class ItemIdentity:
    name: str
    arn: str


def identity(item: Mapping[str, Any]) -> ItemIdentity:
    """Name and ARN of the certificate a configuration item describes."""
    configuration = item.get("configuration") or {}
    name = configuration.get("ServerCertificateName") or item.get("resourceName") or item.get("resourceId")
    arn = item.get("ARN") or item.get("arn") or configuration.get("Arn")
    if not name or not arn:
        raise ValueError(
            "the configuration item names no server certificate: it needs resourceName "
            "(or configuration.ServerCertificateName) and ARN"
        )
    return ItemIdentity(str(name), str(arn))


def gone_reason(item: Mapping[str, Any], left_scope: bool) -> str | None:
    """Why the item is out of the rule's reach (deleted, unrecorded, out of scope), else None."""
    status = item.get("configurationItemStatus")
    if status in GONE_STATUSES:
        return f"The certificate is no longer recorded ({status})."
    if left_scope:
        return "The certificate left the rule's scope."
    return None
