"""IAM roles created in the double from a template's own text, as its stack would create them.

moto's CloudFormation keeps inline role policies as a Python repr, which its IAM enforcement
cannot read, so the roles are made through the IAM API from the resolved template instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from heartbleed_audit.double import AwsDouble

RULES = Path(__file__).resolve().parents[1] / "rules"


def _resolve(value: Any, context: dict[str, str]) -> Any:
    """Ref, Fn::Sub and Fn::GetAtt against the context (parameters and pseudo parameters; another resource
    stands for its logical id, an attribute for what `_attributes` knows of it); the rest as written."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return context.get(value["Ref"], value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            return context[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: context.get(m.group(1), m.group(1)), str(value["Fn::Sub"]))
        return {str(key): _resolve(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, context) for item in value]
    return str(value) if isinstance(value, str) else value


def _attributes(body: dict[str, Any], context: dict[str, str]) -> dict[str, str]:
    """The ARN of each named SQS queue (the dead-letter queue a role may write) and DynamoDB table (the key
    ledger), as `Fn::GetAtt` gives it; roles refer to no other attribute."""
    named = {"AWS::SQS::Queue": ("sqs", "QueueName", ""), "AWS::DynamoDB::Table": ("dynamodb", "TableName", "table/")}
    where = f"{context['AWS::Region']}:{context['AWS::AccountId']}"
    arns = {}
    for logical, resource in body["Resources"].items():
        if isinstance(resource, dict) and resource.get("Type") in named:
            service, name_property, prefix = named[resource["Type"]]
            name = _resolve(resource["Properties"][name_property], context)
            arns[f"{logical}.Arn"] = f"arn:{context['AWS::Partition']}:{service}:{where}:{prefix}{name}"
    return arns


def create_roles(aws: AwsDouble, template: str, account: str, **parameters: str) -> dict[str, str]:
    """Create the template's AWS::IAM::Role resources in account; return their ARNs by logical id."""
    body: dict[str, Any] = cfn_yaml.load(str(RULES / template))
    context = {name: str(spec.get("Default", "")) for name, spec in body.get("Parameters", {}).items()}
    context |= {"AWS::Partition": "aws", "AWS::AccountId": account, "AWS::Region": "us-east-1", **parameters}
    context |= _attributes(body, context)
    iam = aws.client("iam", account)
    made = {}
    for logical, resource in body["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::Role":  # Fn::ForEach is a list
            continue
        properties = _resolve(resource["Properties"], context)
        name = properties.get("RoleName", logical)
        trust = json.dumps(properties["AssumeRolePolicyDocument"])
        made[logical] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for policy in properties.get("Policies", []):
            document = json.dumps(policy["PolicyDocument"])
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=document)
    return made
