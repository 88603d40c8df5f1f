"""IAM roles created in the double from a template's own text, as its stack would create them.

moto's CloudFormation keeps inline role policies as a Python repr, which its IAM enforcement
cannot read, so the roles are made through the IAM API from the resolved template instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml
from template_values import list_parameters, parameter_defaults, resolve

from heartbleed_audit.double import AwsDouble

RULES = Path(__file__).resolve().parents[1] / "rules"


def _attributes(body: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    """The ARN of each named SQS queue (the dead-letter queue a role may write) and DynamoDB table (the key
    ledger), as `Fn::GetAtt` gives it; roles refer to no other attribute."""
    named = {"AWS::SQS::Queue": ("sqs", "QueueName", ""), "AWS::DynamoDB::Table": ("dynamodb", "TableName", "table/")}
    where = f"{context['AWS::Region']}:{context['AWS::AccountId']}"
    arns = {}
    for logical, resource in body["Resources"].items():
        if isinstance(resource, dict) and resource.get("Type") in named:
            service, name_property, prefix = named[resource["Type"]]
            name = resolve(resource["Properties"][name_property], body.get("Conditions", {}), context)
            arns[f"{logical}.Arn"] = f"arn:{context['AWS::Partition']}:{service}:{where}:{prefix}{name}"
    return arns


def create_roles(aws: AwsDouble, template: str, account: str, suffix: str = "", **parameters: str) -> dict[str, str]:
    """Create the template's AWS::IAM::Role resources in account; return their ARNs by logical id.

    suffix names the roles of a second stack of the template (CloudFormation makes role names unique);
    parameters include AWS::Region (default us-east-1) for a stack in another Region."""
    body: dict[str, Any] = cfn_yaml.load(str(RULES / template))
    context: dict[str, Any] = parameter_defaults(body)
    context |= {"AWS::Partition": "aws", "AWS::AccountId": account, "AWS::Region": "us-east-1", **parameters}
    context |= list_parameters(body, context)
    context |= _attributes(body, context)
    iam = aws.client("iam", account)
    made = {}
    conditions = body.get("Conditions", {})
    for logical, resource in body["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::Role":  # Fn::ForEach is a list
            continue
        if "Condition" in resource and not resolve({"Condition": resource["Condition"]}, conditions, context):
            continue  # the stack would not create it
        properties = resolve(resource["Properties"], conditions, context)
        name = properties.get("RoleName", logical + suffix)
        trust = json.dumps(properties["AssumeRolePolicyDocument"])
        made[logical] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for policy in properties.get("Policies", []):
            document = json.dumps(policy["PolicyDocument"])
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=document)
    return made
