"""The deployment routes in rules/: cfn-lint, conformance pack limits, least privilege, moto CloudFormation."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from make_targets import BUILD_TIMEOUT, made
from template_values import list_parameters, parameter_defaults, resolve

from heartbleed_audit.double import AwsDouble

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
DOCUMENT = RULES / "delete-unused-certificate.yaml"  # an SSM Automation document, not a template
TEMPLATES = sorted(path for path in RULES.glob("*.yaml") if path != DOCUMENT)
POLICY = json.loads((RULES / "least-privilege-policy.json").read_text())
DEFAULTS = json.loads((ROOT / "parameters.json").read_text())


def load(name: str) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(RULES / name))
    return template


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The dead-letter queue's name is fixed, like the function's, so the policy document can name it.
QUEUE_NAME = "HeartbleedServerCertificate-failed-events"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{QUEUE_NAME}"
LEDGER_NAME = "HeartbleedKeyLedger"  # KeyLedgerTableName's default, which the policy document names
LEDGER_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{LEDGER_NAME}"
STAND_INS = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "LogGroup": "/aws/lambda/HeartbleedServerCertificate",
    "DeadLetterQueue.Arn": QUEUE_ARN,
    "KeyLedger.Arn": LEDGER_ARN,
}
FOURTEEN_DAYS = 14 * 24 * 3600  # SQS's longest retention


def resource_text(value: Any) -> str:
    """A policy statement's resource as the standalone stack at its defaults resolves it, with stand-ins."""
    template = load("heartbleed-rule.yaml")
    context = parameter_defaults(template) | STAND_INS
    return str(resolve(value, template["Conditions"], context))


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def allowed_by_document(action: str, resource: str) -> bool:
    """True if the shipped policy document grants action on resource (no broader than it)."""
    return any(
        action in as_list(s["Action"]) and any(fnmatch.fnmatchcase(resource, r) for r in as_list(s["Resource"]))
        for s in POLICY["Statement"]
    )


@pytest.mark.timeout(660)  # its own subprocess may take the 300 s it is given, and then some
def test_every_template_passes_cfn_lint() -> None:
    assert len(TEMPLATES) == 6
    lint = subprocess.run(
        [Path(sys.executable).parent / "cfn-lint", *TEMPLATES], capture_output=True, text=True, timeout=300
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("name", ["heartbleed-rule.yaml", "organization.yaml", "conformance-pack.yaml"])
def test_parameter_defaults_come_from_parameters_json(name: str) -> None:
    parameters = load(name)["Parameters"]
    assert {key: parameters[key]["Default"] for key in DEFAULTS} == DEFAULTS
    assert parameters["ExemptCertificates"]["Default"] == ""


def test_the_standalone_role_is_exactly_the_shipped_policy() -> None:
    template = load("heartbleed-rule.yaml")
    statements = role_statements(template, "FunctionRole")
    shipped = {s["Sid"]: sorted(as_list(s["Action"])) for s in POLICY["Statement"]}
    assert {s["Sid"]: sorted(as_list(s["Action"])) for s in statements} == shipped
    for statement in statements:
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                assert allowed_by_document(action, resource_text(resource)), (action, resource)
    # rdklib must use this role, not assume Config's.
    assert template["Resources"]["Rule"]["Properties"]["InputParameters"]["AssumeRoleMode"] == "false"


def test_only_list_and_put_evaluations_need_every_resource() -> None:
    broad = {a for s in POLICY["Statement"] if s["Resource"] == "*" for a in as_list(s["Action"])}
    # These actions have no resource-level permissions in IAM's service authorization reference.
    assert broad == {
        "iam:ListServerCertificates",
        "acm:ListCertificates",
        "config:PutEvaluations",
        "config:GetResourceConfigHistory",
    }


def test_the_member_role_trusts_only_the_central_function_and_can_only_read_and_report() -> None:
    template = load("member-execution-role.yaml")
    role = template["Resources"]["ExecutionRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"AWS": {"Ref": "CentralFunctionRoleArn"}}, "Action": "sts:AssumeRole"}
    ]
    assert role["RoleName"] == {"Ref": "ExecutionRoleName"}
    actions = set()
    for statement in role_statements(template, "ExecutionRole"):
        for action in as_list(statement["Action"]):
            actions.add(action)
            for resource in as_list(statement["Resource"]):
                assert allowed_by_document(action, resource_text(resource).replace(":config:*:", ":config:us-east-1:"))
    assert actions == {
        "iam:ListServerCertificates",
        "iam:GetServerCertificate",
        "acm:ListCertificates",  # ACM imports, in each Region the organization rule is deployed in
        "acm:GetCertificate",
        "config:PutEvaluations",
        "config:GetResourceConfigHistory",
        "config:GetComplianceDetailsByConfigRule",
        "config:StartConfigRulesEvaluation",  # the member's copy of the rule, on new evidence elsewhere
    }
    # The rule-scoped actions reach the organization's copies only, never the member's own rules.
    copies = (
        "arn:${AWS::Partition}:config:*:${AWS::AccountId}:config-rule/"
        "aws-service-rule/config-multiaccountsetup.amazonaws.com/*"
    )
    scoped = [s for s in role_statements(template, "ExecutionRole") if str(s["Resource"]).count("config-rule")]
    assert {a: s["Resource"] for s in scoped for a in as_list(s["Action"])} == {
        "config:GetComplianceDetailsByConfigRule": {"Fn::Sub": copies},
        "config:StartConfigRulesEvaluation": {"Fn::Sub": copies},
    }


def test_the_organization_function_can_only_assume_the_member_role_list_members_and_log() -> None:
    template = load("organization.yaml")
    statements = role_statements(template, "FunctionRole")
    assert {a for s in statements for a in as_list(s["Action"])} == {
        "sts:AssumeRole",
        "organizations:ListAccounts",  # the organization guard
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",  # Lambda, keeping a failed event in the dead-letter queue
        *LEDGER_ACTIONS,  # the key ledger, on its table
        "config:StartConfigRulesEvaluation",  # its own account's rule
    }
    (send,) = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    assert send["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assume = next(s for s in statements if s["Action"] == "sts:AssumeRole")
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ExecutionRoleName}"}
    # Inside its own organization only (tests/test_organization_route.py shows it under the double's IAM).
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}}
    metadata = template["Resources"]["OrganizationRule"]["Properties"]["OrganizationCustomRuleMetadata"]
    assert '"ExecutionRoleName": "${ExecutionRoleName}"' in metadata["InputParameters"]["Fn::Sub"][0]
    assert metadata["ResourceTypesScope"] == ["AWS::IAM::ServerCertificate", "AWS::ACM::Certificate"]
    assert "ScheduledNotification" in metadata["OrganizationConfigRuleTriggerTypes"]


@pytest.mark.parametrize("name", ["heartbleed-rule.yaml", "organization.yaml"])
def test_functions_run_python_313_with_a_timeout_for_the_raised_quota(name: str) -> None:
    function = load(name)["Resources"]["Function"]["Properties"]
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "HeartbleedServerCertificate.lambda_handler"
    assert function["Timeout"] >= 300  # 1,000 certificates at 20 reads/s is 50 s


def test_the_conformance_pack_fits_the_limits_of_a_pack() -> None:
    body = (RULES / "conformance-pack.yaml").read_bytes()
    template = load("conformance-pack.yaml")
    assert len(body) <= 51_200  # PutConformancePack TemplateBody
    assert len(template["Parameters"]) <= 60  # ConformancePackInputParameters
    assert {p["Type"] for p in template["Parameters"].values()} <= {
        "String",
        "int",
        "double",
        "CSV",
        "boolean",
        "StringMap",
    }
    types = {r["Type"] for r in template["Resources"].values()}
    assert types <= {"AWS::Config::ConfigRule", "AWS::Config::RemediationConfiguration"}
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"]
    assert 1 <= len(rules) <= 130
    assert set(template) <= {"Parameters", "Conditions", "Resources"}
    source = rules[0]["Properties"]["Source"]
    assert source == {**source, "Owner": "CUSTOM_LAMBDA", "SourceIdentifier": {"Ref": "LambdaFunctionArn"}}


@pytest.mark.timeout(BUILD_TIMEOUT + 300)  # it may build the bundle first (make_targets.made)
@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto has no Config rule in CloudFormation
def test_the_standalone_stack_creates_in_moto_cloudformation(aws: AwsDouble) -> None:
    bundle = made(ROOT / "dist" / "HeartbleedServerCertificate-x86_64.zip", "artifacts")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="rule-code")
    s3.put_object(Bucket="rule-code", Key="HeartbleedServerCertificate-x86_64.zip", Body=bundle.read_bytes())
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName="heartbleed",
        TemplateBody=(RULES / "heartbleed-rule.yaml").read_text(),
        Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": "rule-code"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="heartbleed")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    summaries = cloudformation.list_stack_resources(StackName="heartbleed")["StackResourceSummaries"]
    # moto 5.2 has no CloudFormation support for AWS::Config::ConfigRule, RemediationConfiguration,
    # AWS::CloudWatch::Alarm or AWS::Lambda::EventInvokeConfig (it lists blank entries for them); every other
    # type is created. render() checks the alarms and the invoke configuration.
    created = {r["LogicalResourceId"]: r["ResourceType"] for r in summaries if r["LogicalResourceId"]}
    assert created == {
        "LogGroup": "AWS::Logs::LogGroup",
        "DeadLetterQueue": "AWS::SQS::Queue",
        "FunctionRole": "AWS::IAM::Role",
        "Function": "AWS::Lambda::Function",
        "ConfigInvokePermission": "AWS::Lambda::Permission",
        "RemediationDocument": "AWS::SSM::Document",
        "RemediationRole": "AWS::IAM::Role",
        "KeyLedger": "AWS::DynamoDB::Table",
    }
    document = next(r["PhysicalResourceId"] for r in summaries if r["LogicalResourceId"] == "RemediationDocument")
    deployed = aws.client("ssm").get_document(Name=document, DocumentFormat="JSON")
    assert deployed["DocumentType"] == "Automation"
    assert json.loads(deployed["Content"]) == cfn_yaml.load(str(DOCUMENT))
    function = aws.client("lambda").get_function_configuration(FunctionName="HeartbleedServerCertificate")
    assert (function["Runtime"], function["Timeout"], function["Architectures"]) == ("python3.13", 300, ["x86_64"])
    assert function["MemorySize"] == 512  # docs/performance.md's sizing table
    # The default only: moto turns a Number parameter into an int, so its Fn::Equals with "0" differs
    # from CloudFormation's (which compares strings); render() checks the 0 case.
    concurrency = aws.client("lambda").get_function_concurrency(FunctionName="HeartbleedServerCertificate")
    assert concurrency["ReservedConcurrentExecutions"] == RESERVED["heartbleed-rule.yaml"]
    role_name = function["Role"].rsplit("/", 1)[1]
    iam = aws.client("iam")
    inline = iam.get_role_policy(RoleName=role_name, PolicyName="HeartbleedServerCertificate")["PolicyDocument"]
    # moto 5.2 keeps a CloudFormation inline policy as the repr of a dict, not as JSON.
    inline = ast.literal_eval(inline) if isinstance(inline, str) else inline
    assert {s["Sid"] for s in inline["Statement"]} == {s["Sid"] for s in POLICY["Statement"]}
    for statement in inline["Statement"]:
        for action in as_list(statement["Action"]):
            assert all(allowed_by_document(action, resource) for resource in as_list(statement["Resource"]))
    assert {"Sid": "KeepFailedEvents", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN} in (
        inline["Statement"]
    )
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["QueueArn"] == QUEUE_ARN
    assert attributes["Attributes"]["MessageRetentionPeriod"] == str(FOURTEEN_DAYS)
    assert attributes["Attributes"]["SqsManagedSseEnabled"] == "true"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["FunctionArn"] == function["FunctionArn"]
    table = aws.client("dynamodb").describe_table(TableName=LEDGER_NAME)["Table"]
    assert (
        (outputs["KeyLedgerTable"], outputs["KeyLedgerTableArn"])
        == (LEDGER_NAME, LEDGER_ARN)
        == (
            table["TableName"],
            table["TableArn"],
        )
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {"Sid": "ReadAndWriteTheKeyLedger", "Effect": "Allow", "Action": LEDGER_ACTIONS, "Resource": LEDGER_ARN} in (
        inline["Statement"]
    )


def test_the_organization_function_has_one_invoke_permission_for_config_whatever_the_accounts() -> None:
    resources = load("organization.yaml")["Resources"]
    permissions = [r for r in resources.values() if isinstance(r, dict) and r.get("Type") == "AWS::Lambda::Permission"]
    assert permissions == [resources["ConfigInvokePermission"]]
    assert not [key for key in resources if key.startswith("Fn::ForEach")]
    assert render("organization.yaml", "ConfigInvokePermission") == {
        "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "config.amazonaws.com",
    }
    # The guard in the code knows the organization rule by the name the stack gives it.
    rule = load("organization.yaml")["Resources"]["OrganizationRule"]
    assert rule["Properties"]["OrganizationConfigRuleName"] == {"Ref": "OrganizationRuleName"}
    variables = render("organization.yaml", "Function")["Environment"]["Variables"]
    assert variables == {"ORGANIZATION_RULE_NAME": "HeartbleedServerCertificate"}
    renamed = render("organization.yaml", "Function", OrganizationRuleName="HeartbleedAudit")
    assert renamed["Environment"]["Variables"]["ORGANIZATION_RULE_NAME"] == "HeartbleedAudit"
    assert rule["DependsOn"] == "ConfigInvokePermission"  # Config checks it may invoke the function
    # The first deployment makes the function's role for the member roles to trust, and no rule yet.
    template = load("organization.yaml")
    context = parameter_defaults(template) | STAND_INS
    assert (
        rule["Condition"] == "CreatesOrganizationRule"
        and template["Parameters"]["CreateOrganizationRule"]["Default"] == "true"
    )
    assert resolve({"Condition": "CreatesOrganizationRule"}, template["Conditions"], context) is True
    off = context | {"CreateOrganizationRule": "false"}
    assert resolve({"Condition": "CreatesOrganizationRule"}, template["Conditions"], off) is False


@pytest.mark.parametrize("name", ["heartbleed-rule.yaml", "conformance-pack.yaml"])
def test_the_remediation_is_manual_by_default_and_retries_when_switched_on(name: str) -> None:
    template = load(name)
    (remediation,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Config::RemediationConfiguration"]
    properties = remediation["Properties"]
    assert properties["Automatic"] == {"Ref": "AutomaticRemediation"}
    assert template["Parameters"]["AutomaticRemediation"]["Default"] == "false"
    assert 1 <= properties["MaximumAutomaticAttempts"] <= 25 and properties["RetryAttemptSeconds"] >= 1
    assert properties["TargetType"] == "SSM_DOCUMENT"
    assert properties["Parameters"]["CertificateArn"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
    # The document acts only on the certificate that this rule's NON_COMPLIANT result judged.
    assert properties["Parameters"]["ConfigRuleName"] == {"StaticValue": {"Values": [properties["ConfigRuleName"]]}}
    assert properties["Parameters"]["RequireExpired"] == {"StaticValue": {"Values": ["true"]}}
    assert properties["Parameters"]["DryRun"] == {"StaticValue": {"Values": ["false"]}}


def test_the_remediation_role_may_delete_server_certificates_and_read_their_users_and_results_only() -> None:
    template = load("heartbleed-rule.yaml")
    statements = role_statements(template, "RemediationRole")
    granted = {(a, resource_text(s["Resource"])) for s in statements for a in as_list(s["Action"])}
    certificates = resource_text({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:server-certificate/*"})
    assert granted == {
        ("iam:GetServerCertificate", certificates),
        ("iam:DeleteServerCertificate", certificates),
        (
            "config:GetComplianceDetailsByConfigRule",
            resource_text({"Fn::Sub": "arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:config-rule/*"}),
        ),
        ("ec2:DescribeRegions", "*"),
        ("elasticloadbalancing:DescribeLoadBalancers", "*"),
        ("elasticloadbalancing:DescribeListeners", "*"),
        ("elasticloadbalancing:DescribeListenerCertificates", "*"),
        ("cloudfront:ListDistributions", "*"),
    }
    trust = template["Resources"]["RemediationRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ssm.amazonaws.com"}]
    # Only SSM acting for this account (confused-deputy prevention); the double has no SSM to assume roles, so
    # the condition is checked here and by parliament (tests/test_policy_lint.py).
    assert [s["Condition"] for s in trust] == [{"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}]


def render(name: str, resource: str, **given: str) -> dict[str, Any]:
    """A resource's properties as CloudFormation resolves them for these parameter values (the rest at
    their defaults), in us-east-1 (template_values.resolve)."""
    template = load(name)
    pseudo = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    context = parameter_defaults(template) | pseudo | given
    resolved: dict[str, Any] = resolve(
        template["Resources"][resource]["Properties"], template.get("Conditions", {}), context
    )
    return resolved


# The reserved concurrency chosen from bench/storm.py --ledger (docs/performance.md, storms with the key
# ledger): every cap up to 10 kept reads within 2N with 0 failures, and the organization route needs
# parallelism across accounts.
RESERVED = {"heartbleed-rule.yaml": 10, "organization.yaml": 10}


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_the_function_reserves_the_measured_concurrency_unless_told_not_to(name: str) -> None:
    parameter = load(name)["Parameters"]["ReservedConcurrency"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", RESERVED[name], 0)
    assert render(name, "Function")["ReservedConcurrentExecutions"] == str(RESERVED[name])
    assert render(name, "Function", ReservedConcurrency="4")["ReservedConcurrentExecutions"] == "4"
    # 0 reserves nothing: Lambda's own 0 would throttle every invocation and stop the rule.
    assert "ReservedConcurrentExecutions" not in render(name, "Function", ReservedConcurrency="0")


FUNCTION_TEMPLATES = sorted(RESERVED)


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_a_failed_event_is_kept_14_days_in_an_encrypted_queue_that_only_the_function_role_may_write(
    name: str,
) -> None:
    template = load(name)
    resources = template["Resources"]
    queue = resources["DeadLetterQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    # Lambda's dead-letter queue must be a standard queue; the policy document names it.
    assert queue["Properties"] == {
        "QueueName": QUEUE_NAME,
        "MessageRetentionPeriod": FOURTEEN_DAYS,
        "SqsManagedSseEnabled": True,
    }
    assert resources["Function"]["Properties"]["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    }
    sends = [
        s for s in role_statements(template, "FunctionRole") if any(a.startswith("sqs:") for a in as_list(s["Action"]))
    ]
    assert sends == [
        {
            "Sid": "KeepFailedEvents",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        }
    ]
    assert allowed_by_document("sqs:SendMessage", QUEUE_ARN)
    assert not allowed_by_document("sqs:SendMessage", QUEUE_ARN.replace("failed-events", "other"))


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_alarms_watch_the_queue_depth_and_the_events_lambda_could_not_queue(name: str) -> None:
    depth = render(name, "DeadLetterQueueAlarm")
    assert (depth["Namespace"], depth["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    lost = render(name, "DeadLetterErrorsAlarm")
    assert (lost["Namespace"], lost["MetricName"]) == ("AWS/Lambda", "DeadLetterErrors")
    assert lost["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Function"}}]
    for alarm in (depth, lost):
        # One message, or one lost event, is enough.
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
            "GreaterThanThreshold",
            0,
            1,
        )
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm
    topic = "arn:aws:sns:us-east-1:123456789012:security-alerts"
    for logical in ("DeadLetterQueueAlarm", "DeadLetterErrorsAlarm"):
        assert render(name, logical, AlarmTopicArn=topic)["AlarmActions"] == [topic]


# MaximumEventAgeInSeconds for each periodic frequency: one interval, at most Lambda's 6 hours.
EVENT_AGE = {
    "One_Hour": 3600,
    "Three_Hours": 10800,
    "Six_Hours": 21600,
    "Twelve_Hours": 21600,
    "TwentyFour_Hours": 21600,
}


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_lambda_retries_twice_and_keeps_an_event_for_one_periodic_interval(name: str) -> None:
    template = load(name)
    frequencies = template["Parameters"]["MaximumExecutionFrequency"]["AllowedValues"]
    assert sorted(frequencies) == sorted(EVENT_AGE)
    timeout = template["Resources"]["Function"]["Properties"]["Timeout"]
    for frequency in frequencies:
        config = render(name, "FailedEventHandling", MaximumExecutionFrequency=frequency)
        assert config["FunctionName"] == {"Ref": "Function"} and config["Qualifier"] == "$LATEST"
        assert config["MaximumRetryAttempts"] == 2
        age = config["MaximumEventAgeInSeconds"]
        assert age == EVENT_AGE[frequency]
        # Room for all three tries at the full timeout, with Lambda's 1 and 2 minutes between them.
        assert 3 * timeout + 180 <= age <= 21600


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_the_log_group_uses_the_kms_key_only_when_one_is_given(name: str) -> None:
    parameter = load(name)["Parameters"]["LogGroupKmsKeyArn"]
    assert parameter["Default"] == ""
    assert "KmsKeyId" not in render(name, "LogGroup")
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert render(name, "LogGroup", LogGroupKmsKeyArn=key)["KmsKeyId"] == key
    # CloudWatch Logs takes a key ARN, not an alias or a bare id.
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch(key)
    assert not pattern.fullmatch("alias/aws/logs") and not pattern.fullmatch("1234abcd-12ab-34cd-56ef-1234567890ab")


LEDGER_SKIP = ("KeyLedger", "CKV_AWS_119")  # the AWS managed key: the template says why
CHECKOV_SKIPS = {
    **{
        name: {("Function", "CKV_AWS_117"), ("DeadLetterQueue", "CKV_AWS_27"), LEDGER_SKIP}
        for name in FUNCTION_TEMPLATES
    },
    "key-ledger.yaml": {LEDGER_SKIP},
}
# Config in every member account invokes the organization's function: no one SourceAccount or SourceArn names them.
# The function's one environment variable is the organization rule's name, no secret.
CHECKOV_SKIPS["organization.yaml"] = CHECKOV_SKIPS["organization.yaml"] | {
    ("ConfigInvokePermission", "CKV_AWS_364"),
    ("Function", "CKV_AWS_173"),
}


@pytest.mark.parametrize("name", sorted(CHECKOV_SKIPS))
def test_every_checkov_skip_states_its_reason(name: str) -> None:
    skipped = {
        (logical, skip["id"]): skip.get("comment", "")
        for logical, resource in load(name)["Resources"].items()
        if isinstance(resource, dict)
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert set(skipped) == CHECKOV_SKIPS[name]
    assert all(len(reason) > 40 for reason in skipped.values()), skipped


@pytest.mark.timeout(BUILD_TIMEOUT + 660)  # checkov's venv may be built first, then its scan (300 s) and some
def test_checkov_fails_a_function_without_a_dead_letter_queue(tmp_path: Path) -> None:
    """The gate of `make checkov` (its arguments, on a copy of the standalone template) can fail."""
    # Its own venv (`make checkov` makes it, then scans): checkov pins a boto3 older than the project's.
    checkov = made(ROOT / ".venv-checkov" / "bin" / "checkov", ".venv-checkov/.installed")
    arguments = re.search(r"^CHECKOV_ARGS := (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert arguments is not None
    argv = arguments.group(1).replace("--directory rules", f"--directory {tmp_path}").split()
    text = (RULES / "heartbleed-rule.yaml").read_text()
    without = text.replace("      DeadLetterConfig:\n        TargetArn: !GetAtt DeadLetterQueue.Arn\n", "")
    assert without != text
    (tmp_path / "heartbleed-rule.yaml").write_text(without)
    environment = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    scan = subprocess.run([checkov, *argv], capture_output=True, text=True, timeout=300, env=environment)
    assert scan.returncode == 1, scan.stdout + scan.stderr
    assert "CKV_AWS_116" in scan.stdout and "Failed checks: 1," in scan.stdout


@pytest.mark.timeout(660)  # its own subprocess may take the 300 s it is given, and then some
def test_checkov_passes_every_template() -> None:
    """`make checkov`'s gate on rules/ as shipped (the organization stack is the same text for 4 or 400
    members: no parameter adds resources per account)."""
    # Its own venv (`make checkov` makes it, then scans): checkov pins a boto3 older than the project's.
    checkov = made(ROOT / ".venv-checkov" / "bin" / "checkov", ".venv-checkov/.installed")
    arguments = re.search(r"^CHECKOV_ARGS := (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert arguments is not None
    argv = arguments.group(1).replace("--directory rules", f"--directory {RULES}").split()
    environment = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    scan = subprocess.run([checkov, *argv], capture_output=True, text=True, timeout=300, env=environment)
    assert scan.returncode == 0 and "Failed checks: 0," in scan.stdout, scan.stdout + scan.stderr


# The key ledger: one table definition in three templates, used by the function role only.
LEDGER_ACTIONS = [
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
]
LEDGER_TEMPLATES = {"key-ledger.yaml": "TableName", **dict.fromkeys(FUNCTION_TEMPLATES, "KeyLedgerTableName")}
LEDGER_TABLE = {
    "TableName": LEDGER_NAME,
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "SSESpecification": {"SSEEnabled": True},
    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    "DeletionProtectionEnabled": True,
}


# The ledger package's modules the rule's function never uses: the operator's Scans and removals, granted by
# rules/ledger-operator-policy.json instead.
OPERATOR_MODULES = {"operator_acts.py"}


def ledger_operations() -> set[str]:
    """The DynamoDB actions the rule's ledger (every module of heartbleed/ledger but the operator's) calls:
    client methods and the operations given to Table.call (directly, or through its batch loop)."""
    package = ROOT / "HeartbleedServerCertificate" / "heartbleed" / "ledger"
    modules = sorted(path for path in package.glob("*.py") if path.name not in OPERATOR_MODULES)
    assert {path.name for path in modules} >= {"records.py", "store.py"}
    source = "".join(path.read_text() for path in modules)
    methods = re.findall(r"\.dynamodb\.(\w+)\(", source) + re.findall(
        r'\.(?:call|_until_processed)\(\s*"[^"]*",\s*"(\w+)"', source
    )
    return {"dynamodb:" + "".join(word.title() for word in method.split("_")) for method in methods}


def test_the_ledger_statement_grants_exactly_the_calls_the_ledger_makes() -> None:
    assert ledger_operations() == set(LEDGER_ACTIONS)
    (statement,) = [s for s in POLICY["Statement"] if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert sorted(statement["Action"]) == sorted(LEDGER_ACTIONS)
    assert statement["Resource"] == f"arn:aws:dynamodb:*:*:table/{LEDGER_NAME}"
    assert allowed_by_document("dynamodb:PutItem", LEDGER_ARN)
    assert not allowed_by_document("dynamodb:PutItem", LEDGER_ARN.replace(LEDGER_NAME, "OtherTable"))
    assert not allowed_by_document("dynamodb:Scan", LEDGER_ARN)


@pytest.mark.parametrize("name", sorted(LEDGER_TEMPLATES))
def test_every_ledger_table_is_the_one_definition_and_outlives_its_stack(name: str) -> None:
    resource = load(name)["Resources"]["KeyLedger"]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert render(name, "KeyLedger") == LEDGER_TABLE
    assert resource["Metadata"] == load("key-ledger.yaml")["Resources"]["KeyLedger"]["Metadata"]
    parameter = LEDGER_TEMPLATES[name]
    assert render(name, "KeyLedger", **{parameter: "OtherLedger"})["TableName"] == "OtherLedger"
    spec = load(name)["Parameters"][parameter]
    assert spec == {**load("key-ledger.yaml")["Parameters"]["TableName"], "Description": spec["Description"]}


ELSEWHERE = {"AWS::Region": "eu-west-1", "HomeRegion": "us-east-1"}  # a stack outside the home Region


def test_the_rule_gets_the_ledger_table_its_stack_creates_or_the_home_regions() -> None:
    standalone = render("heartbleed-rule.yaml", "Rule")["InputParameters"]
    assert standalone["KeyLedgerTable"] == {"Ref": "KeyLedger"}
    assert "HomeRegion" not in standalone
    elsewhere = render("heartbleed-rule.yaml", "Rule", **ELSEWHERE)["InputParameters"]
    assert (elsewhere["KeyLedgerTable"], elsewhere["HomeRegion"]) == (LEDGER_ARN, "us-east-1")
    metadata = load("organization.yaml")["Resources"]["OrganizationRule"]["Properties"]
    text, variables = metadata["OrganizationCustomRuleMetadata"]["InputParameters"]["Fn::Sub"]
    # The organization rule takes a JSON string: it must stay JSON once substituted.
    substituted = json.loads(re.sub(r"\$\{(\w+)\}", r"<\1>", text))
    assert (substituted["KeyLedgerTable"], substituted["HomeRegion"]) == ("<LedgerArn>", "<HomeRegion>")
    assert set(substituted) == {
        "CutoffDate",
        "CheckCertificateBody",
        "ExemptCertificates",
        "ExecutionRoleName",
        "KeyLedgerTable",
        "HomeRegion",
    }
    template = load("organization.yaml")
    context = parameter_defaults(template) | STAND_INS
    assert resolve(variables["LedgerArn"], template["Conditions"], context) == LEDGER_ARN
    assert resolve(variables["LedgerArn"], template["Conditions"], context | ELSEWHERE) == LEDGER_ARN
    for name in FUNCTION_TEMPLATES:
        template = load(name)
        outputs = template["Outputs"]
        assert outputs["KeyLedgerTable"]["Value"] == {"Ref": "KeyLedger"}
        assert outputs["KeyLedgerTableArn"]["Value"] == {"Fn::GetAtt": ["KeyLedger", "Arn"]}
        # Only the home Region's stack creates the table (and names it in its outputs).
        for logical in (template["Resources"]["KeyLedger"], outputs["KeyLedgerTable"], outputs["KeyLedgerTableArn"]):
            assert logical["Condition"] == "IsHomeRegion"
        home = parameter_defaults(template) | STAND_INS
        for where, created in ((home, True), (home | ELSEWHERE, False), (home | {"HomeRegion": "us-east-1"}, True)):
            assert resolve({"Condition": "IsHomeRegion"}, template["Conditions"], where) is created


@pytest.mark.parametrize("name", FUNCTION_TEMPLATES)
def test_only_the_function_role_may_use_the_ledger_and_only_on_its_table(name: str) -> None:
    template = load(name)
    ledger = [s for s in role_statements(template, "FunctionRole") if s["Sid"] == "ReadAndWriteTheKeyLedger"]
    context = parameter_defaults(template) | STAND_INS
    for where in (context, context | ELSEWHERE):  # the home Region's table, from either Region
        assert resolve(ledger, template["Conditions"], where) == [
            {"Sid": "ReadAndWriteTheKeyLedger", "Effect": "Allow", "Action": LEDGER_ACTIONS, "Resource": LEDGER_ARN}
        ]
    restart = [
        s
        for s in role_statements(template, "FunctionRole")
        if "config:StartConfigRulesEvaluation" in as_list(s["Action"])
    ]
    assert restart == [
        {
            "Sid": "ReEvaluateHoldersOfNewEvidence",
            "Effect": "Allow",
            "Action": "config:StartConfigRulesEvaluation",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:config:*:${AWS::AccountId}:config-rule/*"},
        }
    ]


@pytest.mark.parametrize("name", [path.name for path in TEMPLATES])
def test_no_other_role_gets_anything_on_dynamodb_or_new_on_config(name: str) -> None:
    template = load(name)
    for logical, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::Role" or logical == "FunctionRole":
            continue
        actions = {a for s in role_statements(template, logical) for a in as_list(s["Action"])}
        assert not {a for a in actions if a.startswith("dynamodb:") or a == "*" or a.endswith(":*")}, (name, logical)
        # The member's execution role (for the central function) and its re-evaluation role (for operators) re-run
        # the member's copy of the organization rule.
        if logical not in ("ExecutionRole", "ReevaluationRole"):
            assert "config:StartConfigRulesEvaluation" not in actions, (name, logical)


def test_the_conformance_pack_passes_the_ledger_table_through() -> None:
    parameter = load("conformance-pack.yaml")["Parameters"]["KeyLedgerTable"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    assert "KeyLedgerTable" not in render("conformance-pack.yaml", "HeartbleedServerCertificate")["InputParameters"]
    given = render("conformance-pack.yaml", "HeartbleedServerCertificate", KeyLedgerTable=LEDGER_NAME)
    assert given["InputParameters"]["KeyLedgerTable"] == LEDGER_NAME


@pytest.mark.parametrize(
    ("name", "logical"),
    [("heartbleed-rule.yaml", "Remediation"), ("conformance-pack.yaml", "HeartbleedServerCertificateRemediation")],
)
def test_the_delete_document_is_offered_for_iam_rows_only(name: str, logical: str) -> None:
    """The rule reports ACM rows too; the console must not offer IAM's delete document for them."""
    assert load(name)["Resources"][logical]["Properties"]["ResourceType"] == "AWS::IAM::ServerCertificate"


# A function policy (the Lambda permissions on one function) holds at most 20 KB (Lambda quotas).
FUNCTION_POLICY_LIMIT = 20 * 1024
ORGANIZATION_OF_400 = [f"{100_000_000_000 + index}" for index in range(400)]
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:HeartbleedServerCertificate"


def function_policy(template: dict[str, Any], **given: str) -> dict[str, Any]:
    """The function policy Lambda builds from the template's AWS::Lambda::Permission resources, Fn::ForEach
    loops expanded over their resolved lists, as AddPermission writes each one: its StatementId (CloudFormation
    makes a 64-character one), SourceAccount as StringEquals, SourceArn as ArnLike."""
    pseudo = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    context: dict[str, Any] = parameter_defaults(template) | pseudo | given
    context |= list_parameters(template, context) | {"Function.Arn": FUNCTION_ARN}
    permissions: list[dict[str, Any]] = []
    for logical, resource in template["Resources"].items():
        if logical.startswith("Fn::ForEach::"):
            variable, items, body = resource
            for item in resolve(items, template.get("Conditions", {}), context):
                for inner in body.values():
                    permissions.append(resolve(inner["Properties"], {}, context | {variable: item}))
        elif resource.get("Type") == "AWS::Lambda::Permission":
            permissions.append(resolve(resource["Properties"], template.get("Conditions", {}), context))
    statements = []
    for index, permission in enumerate(permissions):
        condition: dict[str, Any] = {}
        if "SourceAccount" in permission:
            condition["StringEquals"] = {"AWS:SourceAccount": permission["SourceAccount"]}
        if "SourceArn" in permission:
            condition["ArnLike"] = {"AWS:SourceArn": permission["SourceArn"]}
        statement = {
            "Sid": f"heartbleed-organization-ConfigInvokePermission-{index:017d}"[:64],
            "Effect": "Allow",
            "Principal": {"Service": permission["Principal"]},
            "Action": permission["Action"],
            "Resource": FUNCTION_ARN,
        }
        statements.append(statement | ({"Condition": condition} if condition else {}))
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}


def size(policy: dict[str, Any]) -> int:
    return len(json.dumps(policy, separators=(",", ":")).encode())


@pytest.mark.parametrize("excluded", [[], ORGANIZATION_OF_400[:7], ORGANIZATION_OF_400], ids=["none", "7", "400"])
def test_the_organization_function_policy_fits_for_400_accounts_listed_or_not(excluded: list[str]) -> None:
    """Whatever accounts the organization holds, and whichever the stack lists (ExcludedAccounts, up to 400
    here), the function policy is the one statement for Config."""
    policy = function_policy(load("organization.yaml"), ExcludedAccounts=",".join(excluded))
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "config.amazonaws.com"}]
    assert size(policy) < 1_000 < FUNCTION_POLICY_LIMIT
    template = load("organization.yaml")
    context: dict[str, Any] = parameter_defaults(template) | STAND_INS | {"ExcludedAccounts": ",".join(excluded)}
    context |= list_parameters(template, context)
    rule = resolve(template["Resources"]["OrganizationRule"]["Properties"], template["Conditions"], context)
    if excluded:
        assert rule["ExcludedAccounts"] == excluded
    else:
        assert "ExcludedAccounts" not in rule  # an empty list is left out, not sent as [""]


def test_one_permission_per_member_would_not_fit_400_accounts() -> None:
    """What the templates shipped before: Fn::ForEach over the members, one SourceAccount statement each."""
    template = {
        "Parameters": {"MemberAccountIds": {"Type": "CommaDelimitedList"}},
        "Resources": {
            "Fn::ForEach::ConfigInvokePermissions": [
                "AccountId",
                {"Ref": "MemberAccountIds"},
                {
                    "ConfigInvokePermission${AccountId}": {
                        "Type": "AWS::Lambda::Permission",
                        "Properties": {
                            "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]},
                            "Action": "lambda:InvokeFunction",
                            "Principal": "config.amazonaws.com",
                            "SourceAccount": {"Ref": "AccountId"},
                        },
                    }
                },
            ]
        },
    }
    per_statement = size(per_member(template, ORGANIZATION_OF_400[:2])) - size(
        per_member(template, ORGANIZATION_OF_400[:1])
    )
    assert size(per_member(template, ORGANIZATION_OF_400)) > FUNCTION_POLICY_LIMIT
    assert 60 <= FUNCTION_POLICY_LIMIT // per_statement <= 75  # docs/deployment.md: about 62 (326 bytes each)


def per_member(template: dict[str, Any], accounts: list[str]) -> dict[str, Any]:
    return function_policy(template, MemberAccountIds=",".join(accounts))
