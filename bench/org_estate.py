"""The organization the organization-at-scale line serves (bench/org_scale.py): its members, their
certificates, the shared key, and the events Config in each member sends.

Every member holds `per_member` certificates, each with its own key, except that `holders` of them also
carry one wildcard certificate (`*.example.com`) with a shared key: one member's was issued in 2013, the
others' in 2025. So every holder's wildcard row must end NON_COMPLIANT, every other row COMPLIANT. The
member whose certificate is from 2013 comes at `old_at` of the queue (three quarters by default), so that
most holders have run, reported COMPLIANT and registered their rule before its run records the evidence:
propagation must then reach them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import REGION, AwsDouble

from .runs import LEDGER_TABLE, ROOT

OLD_AT = 0.75  # where in the queue the member with the 2013 certificate stands
MEMBER_ROLE = "HeartbleedServerCertificateExecution"  # the templates' default ExecutionRoleName
WILDCARD = "*.example.com"


def template_defaults() -> dict[str, Any]:
    """The organization template's defaults the line runs at: the reserved concurrency, the function's
    memory and the organization rule's name (rules/organization.yaml, the one place they are written)."""
    from cfnlint.decode import cfn_yaml  # a dev dependency, as the benchmark is

    template = cfn_yaml.load(str(ROOT / "rules" / "organization.yaml"))
    resources, parameters = template["Resources"], template["Parameters"]
    return {
        "concurrency": int(parameters["ReservedConcurrency"]["Default"]),
        "memory_mb": int(resources["Function"]["Properties"]["MemorySize"]),
        "rule": str(parameters["OrganizationRuleName"]["Default"]),
    }


def member_rule(organization_rule: str, index: int) -> str:
    """The name of a member's copy of the organization rule, as config-multiaccountsetup forms it."""
    return f"OrgConfigRule-{organization_rule}-{index:08x}"


def planted(members: int, holders: int, old_at: float = OLD_AT) -> tuple[int, list[int]]:
    """The member with the 2013 certificate and every holder of the shared key (it included), as queue
    positions: the holders spread evenly over the queue."""
    if not 1 <= holders <= members:
        raise ValueError(f"holders must be between 1 and the {members} members, not {holders}")
    spread = sorted({(k * members) // holders for k in range(holders)})
    old = max((i for i in spread if i <= old_at * (members - 1)), default=spread[0])
    return old, spread


def build_estate(
    aws: AwsDouble, members: list[str], per_member: int, old: int, sharing: list[int]
) -> dict[str, dict[str, str]]:
    """Upload every member's certificates; the verdict each row must end with, by account and ARN. The
    member at position old holds the 2013 certificate, those in sharing (old among them) its key."""
    shared = new_key()
    now = datetime.now(UTC)
    expected: dict[str, dict[str, str]] = {}
    for index, member in enumerate(members):
        expected[member] = {}
        for n in range(per_member):
            if n == 0 and index in sharing:
                issued = datetime(2013, 6, 1, tzinfo=UTC) if index == old else datetime(2025, 6, 1, tzinfo=UTC)
                cert, verdict = issue(WILDCARD, issued, key=shared), "NON_COMPLIANT"
            else:
                issued = now - timedelta(days=30 + n)
                cert, verdict = issue(f"m{index}-{n}.example.com", issued), "COMPLIANT"
            meta = aws.upload(
                f"m{index}-c{n}", cert.body, cert.private_key, uploaded=issued + timedelta(hours=1), account=member
            )
            expected[member][meta["Arn"]] = verdict
    return expected


def member_event(aws: AwsDouble, member: str, rule: str) -> dict[str, Any]:
    """A periodic event of the member's copy of the organization rule, as Config in the member sends it."""
    parameters = {"KeyLedgerTable": LEDGER_TABLE, "ExecutionRoleName": MEMBER_ROLE}
    event = events.scheduled_event(aws.result_token(rule, member), parameters, account=member)
    rule_id = f"config-rule-{abs(hash((member, rule))) % 16**6:06x}"
    return event | {
        "configRuleName": rule,
        "configRuleId": rule_id,
        "configRuleArn": (
            f"arn:aws:config:{REGION}:{member}:config-rule/aws-service-rule/"
            f"config-multiaccountsetup.amazonaws.com/{rule_id}"
        ),
    }
