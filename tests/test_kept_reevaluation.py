"""A kept re-evaluation that Config refuses again stays kept, until Config accepts it.

Organization route: member A's run finds new evidence against a key member B carries and asks B's rule to
evaluate again. Config refuses (B's rule was asked within its minute): the request is kept. A later run
asks again and is refused again: still kept. A run after that, once Config accepts, asks it, and B's
certificate turns NON_COMPLIANT without waiting for B's periodic run. Real events through lambda_handler,
over HTTP to the double, every role from its template under IAM enforcement.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_table import TABLE, create_table
from simulated_organization import MEMBER_RULE, PARAMETERS, as_central_function, build_organization, invoke

from heartbleed.ledger import propagation
from heartbleed_audit.double import AwsDouble


def test_a_request_refused_twice_is_still_asked_once_config_accepts(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization = build_organization(aws, shared_key=True)
    create_table(aws.client("dynamodb"))
    first, second, _ = organization.members
    parameters = {**PARAMETERS, "KeyLedgerTable": TABLE}
    shop = organization.certificates[second]
    monkeypatch.setattr(propagation, "ASK_AGAIN_AFTER", timedelta(0))  # no minute to wait between runs here
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, second, parameters)  # B's rule registers how to reach it; its certificate is COMPLIANT
    assert aws.evaluations(MEMBER_RULE, second)[shop].compliance_type == "COMPLIANT"
    aws.set_start_interval(3600, account=second)  # B's rule refuses every ask from now on...
    aws.client("config", second).start_config_rules_evaluation(ConfigRuleNames=[MEMBER_RULE])  # ...after this
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first, parameters)  # new evidence: asks B, refused, kept
        invoke(aws, first, parameters)  # asks the kept request again: refused again
    assert len(aws.started_evaluations(second)) == 1  # only the one before
    aws.set_start_interval(0, account=second)  # Config accepts again
    with as_central_function(aws, organization, monkeypatch):
        invoke(aws, first, parameters)  # no new evidence: only what was kept is asked
        assert len(aws.started_evaluations(second)) == 2
        invoke(aws, second, parameters)  # what Config runs when asked
    result = aws.evaluations(MEMBER_RULE, second)[shop]
    assert result.compliance_type == "NON_COMPLIANT", result.annotation
