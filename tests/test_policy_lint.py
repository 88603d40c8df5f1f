"""parliament (an IAM policy linter, offline against its bundled list of actions, resources and condition
keys) on every IAM policy the templates create and on the shipped policy documents.

Trust policies are resource policies with no Resource element (the role is the resource); parliament
lints identity policies, so each trust statement is given its role's ARN as Resource before linting.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from template_values import list_parameters, parameter_defaults, resolve

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns that it is deprecated
    from parliament import analyze_policy_string

RULES = Path(__file__).resolve().parents[1] / "rules"
ACCOUNT = "123456789012"
# What the stack would supply: parameters without a default, pseudo parameters and attributes.
STAND_INS = {
    "AWS::Partition": "aws",
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": "us-east-1",
    "CodeBucket": "rule-code",
    "CentralFunctionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/heartbleed-FunctionRole-ABC",
    "AuditingPrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/SecurityAudit",
    "OperatorPrincipalArns": f"arn:aws:iam::{ACCOUNT}:role/SecurityOperator",
    "LogGroup": "/aws/lambda/HeartbleedServerCertificate",
    "DeadLetterQueue.Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:HeartbleedServerCertificate-failed-events",
    "KeyLedger.Arn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/HeartbleedKeyLedger",
}
TEMPLATES = [p for p in sorted(RULES.glob("*.yaml")) if p.name != "delete-unused-certificate.yaml"]
ROLES = (
    "audit-role.yaml AuditRole",
    "heartbleed-rule.yaml FunctionRole",
    "heartbleed-rule.yaml RemediationRole",
    "member-execution-role.yaml ExecutionRole",
    "member-execution-role.yaml ReevaluationRole",
    "organization.yaml FunctionRole",
)


def role_policies(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every policy of every AWS::IAM::Role in the template, resolved at its defaults."""
    template: dict[str, Any] = cfn_yaml.load(str(path))
    context: dict[str, Any] = parameter_defaults(template) | STAND_INS
    context |= list_parameters(template, context)
    found = []
    for logical, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::Role":
            continue
        properties = resolve(resource["Properties"], template.get("Conditions", {}), context)
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{properties.get('RoleName', logical)}"
        trust = properties["AssumeRolePolicyDocument"]
        trust = trust | {"Statement": [s | {"Resource": role_arn} for s in trust["Statement"]]}
        found.append((f"{path.name} {logical} trust", trust))
        found += [(f"{path.name} {logical} {p['PolicyName']}", p["PolicyDocument"]) for p in properties["Policies"]]
    return found


POLICIES = [policy for path in TEMPLATES for policy in role_policies(path)] + [
    (name, json.loads((RULES / name).read_text()))
    for name in ("least-privilege-policy.json", "ledger-operator-policy.json")
]


def findings(policy: dict[str, Any]) -> list[tuple[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyzed = analyze_policy_string(json.dumps(policy), include_community_auditors=True)
    return [(f.issue, str(f.detail)) for f in analyzed.findings]


# The community auditors' findings that are the policy's purpose, each with why.
EXPECTED = {
    # Any sts:AssumeRole hands out credentials: the trust of every role, and the central function's reach into
    # the member role, which is what the organization route is.
    **{f"{role} trust": "CREDENTIALS_EXPOSURE" for role in ROLES},
    "organization.yaml FunctionRole HeartbleedServerCertificate": "CREDENTIALS_EXPOSURE",
    # The operator's way into the members' re-evaluation role (heartbleed-audit reevaluate --organization).
    "ledger-operator-policy.json": "CREDENTIALS_EXPOSURE",
    # The remediation deletes the one server certificate a NON_COMPLIANT result judged.
    "heartbleed-rule.yaml RemediationRole DeleteUnusedServerCertificate": "PERMISSIONS_MANAGEMENT_ACTIONS",
}


@pytest.mark.parametrize(("where", "policy"), POLICIES, ids=[where for where, _ in POLICIES])
def test_parliament_finds_nothing_in_any_policy_but_its_purpose(where: str, policy: dict[str, Any]) -> None:
    expected = [(EXPECTED[where], "")] if where in EXPECTED else []
    assert findings(policy) == expected


def test_every_role_of_every_template_is_linted() -> None:
    linted = {where.rsplit(" ", 1)[0] for where, _ in POLICIES if where.endswith(" trust")}
    assert linted == set(ROLES)


def test_parliament_catches_a_misspelt_action_and_a_condition_key_the_action_lacks() -> None:
    """The linter is really on: what a typo or a wrong condition in a template would look like."""
    (assume,) = [p for w, p in POLICIES if w == "organization.yaml FunctionRole HeartbleedServerCertificate"]
    typo = json.loads(json.dumps(assume).replace("sqs:SendMessage", "sqs:SendMesage"))
    assert ("UNKNOWN_ACTION", "Unknown action sqs:SendMesage") in findings(typo)
    wrong = json.loads(json.dumps(assume).replace("aws:ResourceOrgID", "s3:ResourceAccount"))
    assert "UNKNOWN_CONDITION_FOR_ACTION" in [issue for issue, _ in findings(wrong)]
