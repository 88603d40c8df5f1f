"""What the rule's runs left in the double's AWS Config."""

from __future__ import annotations

from heartbleed_audit import events
from heartbleed_audit.double import AwsDouble


def stored(aws: AwsDouble) -> dict[str, str]:
    """The rule's stored compliance in the double's own account, by certificate name."""
    return {arn.rsplit("/", 1)[1]: e.compliance_type for arn, e in aws.evaluations(events.RULE_NAME).items()}
