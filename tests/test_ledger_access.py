"""Who may use the key ledger, under the double's IAM enforcement: the function's role, on its table only.

The roles are the templates' own (template_roles.create_roles) and the table is made from
rules/key-ledger.yaml's properties. The double authorizes each DynamoDB request against the ARN of
the table it names (heartbleed_audit/double/dynamodb_tables.py), so the statement naming the ledger's
ARN is what is really matched. Each ledger call below makes exactly one kind of DynamoDB request, so a
missing action fails its own case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from ledger_table import TABLE as LEDGER
from ledger_table import create_table
from moto.core.authorization import enable_iam_authentication
from template_roles import create_roles

from heartbleed.ledger import Holder, KeptRequest, Ledger, LedgerError, RuleRegistration
from heartbleed_audit.double import ACCOUNT_ID, REGION, AwsDouble

RULES = Path(__file__).resolve().parents[1] / "rules"
OTHER_TABLE = "SomeOtherTable"  # same schema, not the ledger
KEY = "ab" * 32
MEMBER = "222222222222"
ORGANIZATION_RULE = "OrgConfigRule-HeartbleedServerCertificate-x1y2z3ab"  # as config-multiaccountsetup names it
EARLY = datetime(2013, 6, 1, tzinfo=UTC)


def holder(account: str = ACCOUNT_ID) -> Holder:
    return Holder(
        key=KEY,
        account=account,
        service="iam",
        region=REGION,
        arn=f"arn:aws:iam::{account}:server-certificate/shop",
        certificate_id="ASCAEXAMPLEEXAMPLE1",
        name="shop",
        not_before=EARLY,
        uploaded=EARLY,
        first_seen=EARLY,
        last_seen=EARLY,
    )


RULE = RuleRegistration(ACCOUNT_ID, REGION, "HeartbleedServerCertificate")


# Each ledger call the rule makes, by the one DynamoDB action it needs (heartbleed.ledger.Ledger over store.py).
LEDGER_CALLS: dict[str, Callable[[Ledger], object]] = {
    "BatchWriteItem": lambda ledger: ledger.put_certificates([holder()]),
    "Query": lambda ledger: ledger.account_certificates(ACCOUNT_ID),
    "BatchGetItem": lambda ledger: ledger.summaries([KEY]),
    "UpdateItem": lambda ledger: ledger.add_evidence(holder()),
    "PutItem": lambda ledger: ledger.register_rule(RULE),
    "DeleteItem": lambda ledger: ledger.release_lease(ACCOUNT_ID, "a run"),
}


def session_of(aws: AwsDouble, role_arn: str, account: str = ACCOUNT_ID) -> boto3.session.Session:
    """A session of the role, as Lambda or SSM would hand it out (trust is checked only under enforcement)."""
    got = aws.client("sts", account).assume_role(RoleArn=role_arn, RoleSessionName="ledger-access")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=got["AccessKeyId"],
        aws_secret_access_key=got["SecretAccessKey"],
        aws_session_token=got["SessionToken"],
        region_name=REGION,
    )


@contextmanager
def enforced() -> Iterator[None]:
    with enable_iam_authentication():
        yield


def ledger_of(aws: AwsDouble, session: boto3.session.Session, table: str) -> Ledger:
    return Ledger(session.client("dynamodb", endpoint_url=aws.endpoint_url), table)


def assert_denied(call: Callable[[Ledger], object], ledger: Ledger) -> None:
    with enforced(), pytest.raises(LedgerError) as refused:
        call(ledger)
    assert "AccessDenied" in str(refused.value), refused.value


@pytest.mark.parametrize("action", sorted(LEDGER_CALLS))
@pytest.mark.parametrize("template", ["heartbleed-rule.yaml", "organization.yaml"])
def test_the_function_role_may_make_each_ledger_call_on_the_ledger_only(
    aws: AwsDouble, template: str, action: str
) -> None:
    create_table(aws.client("dynamodb"), LEDGER)
    create_table(aws.client("dynamodb"), OTHER_TABLE)
    session = session_of(aws, create_roles(aws, template, ACCOUNT_ID)["FunctionRole"])
    with enforced():
        LEDGER_CALLS[action](ledger_of(aws, session, LEDGER))
    assert_denied(LEDGER_CALLS[action], ledger_of(aws, session, OTHER_TABLE))


def test_what_the_function_role_writes_it_reads_back(aws: AwsDouble) -> None:
    """The allowed calls did their work: the role's writes are in the table, not silently dropped."""
    create_table(aws.client("dynamodb"), LEDGER)
    session = session_of(aws, create_roles(aws, "heartbleed-rule.yaml", ACCOUNT_ID)["FunctionRole"])
    ledger = ledger_of(aws, session, LEDGER)
    with enforced():
        ledger.put_certificates([holder()])
        assert ledger.add_evidence(holder()) is True  # the first evidence against the key
        assert list(ledger.account_certificates(ACCOUNT_ID).values()) == [holder()]
        assert ledger.summaries([KEY])[KEY].accounts == frozenset({ACCOUNT_ID})
        ledger.register_rule(RULE)
        assert ledger.rules([ACCOUNT_ID]) == [RULE]
        ledger.keep(KeptRequest(ACCOUNT_ID, REGION, RULE.rule, asked=EARLY))
        claimed = ledger.claim_kept(ACCOUNT_ID, REGION, "a run", EARLY, EARLY, EARLY)
        assert claimed is not None and ledger.finish_kept(claimed, "a run") is True
        assert ledger.kept_requests() == []


@pytest.mark.parametrize("action", sorted(LEDGER_CALLS))
def test_the_remediation_role_is_denied_every_ledger_call(aws: AwsDouble, action: str) -> None:
    create_table(aws.client("dynamodb"), LEDGER)
    session = session_of(aws, create_roles(aws, "heartbleed-rule.yaml", ACCOUNT_ID)["RemediationRole"])
    assert_denied(LEDGER_CALLS[action], ledger_of(aws, session, LEDGER))


@pytest.mark.parametrize("action", sorted(LEDGER_CALLS))
def test_the_member_execution_role_is_denied_every_ledger_call(aws: AwsDouble, action: str) -> None:
    """In the central account (the management account is a member too, with this role) and in another
    member naming the central table by its ARN."""
    create_table(aws.client("dynamodb"), LEDGER)
    aws.organization(0)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    central = create_roles(aws, "member-execution-role.yaml", ACCOUNT_ID, CentralFunctionRoleArn=function_role)
    assert_denied(LEDGER_CALLS[action], ledger_of(aws, session_of(aws, central["ExecutionRole"]), LEDGER))
    member = create_roles(aws, "member-execution-role.yaml", MEMBER, CentralFunctionRoleArn=function_role)
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{LEDGER}"
    assert_denied(LEDGER_CALLS[action], ledger_of(aws, session_of(aws, member["ExecutionRole"], MEMBER), table_arn))


def start_evaluation(aws: AwsDouble, session: boto3.session.Session, rule: str) -> None:
    with enforced():
        session.client("config", endpoint_url=aws.endpoint_url).start_config_rules_evaluation(ConfigRuleNames=[rule])


@pytest.mark.parametrize("template", ["heartbleed-rule.yaml", "organization.yaml"])
def test_the_function_role_may_ask_its_own_accounts_rule_to_evaluate_again(aws: AwsDouble, template: str) -> None:
    aws.result_token("HeartbleedServerCertificate")  # the rule exists in Config
    session = session_of(aws, create_roles(aws, template, ACCOUNT_ID)["FunctionRole"])
    start_evaluation(aws, session, "HeartbleedServerCertificate")
    assert [started.rules for started in aws.started_evaluations()] == [("HeartbleedServerCertificate",)]


def test_the_member_role_may_ask_the_members_copy_of_the_organization_rule_to_evaluate_again(
    aws: AwsDouble,
) -> None:
    aws.result_token(ORGANIZATION_RULE, MEMBER)
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    member = create_roles(aws, "member-execution-role.yaml", MEMBER, CentralFunctionRoleArn=function_role)
    start_evaluation(aws, session_of(aws, member["ExecutionRole"], MEMBER), ORGANIZATION_RULE)
    assert [started.rules for started in aws.started_evaluations(MEMBER)] == [(ORGANIZATION_RULE,)]


def test_the_remediation_role_may_not_start_evaluations(aws: AwsDouble) -> None:
    aws.result_token("HeartbleedServerCertificate")
    session = session_of(aws, create_roles(aws, "heartbleed-rule.yaml", ACCOUNT_ID)["RemediationRole"])
    with pytest.raises(ClientError) as refused:
        start_evaluation(aws, session, "HeartbleedServerCertificate")
    # moto answers a denied Config request with an XML 403, which the JSON client reads as code "403".
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert aws.started_evaluations() == []


def test_the_member_role_may_not_start_or_read_the_members_own_rules(aws: AwsDouble) -> None:
    """Only the copies of the organization's rules: a rule the member's administrator made, even one of the
    organization rule's name, is neither re-evaluated nor read through the member role."""
    aws.result_token(ORGANIZATION_RULE, MEMBER)
    aws.result_token("HeartbleedServerCertificate", MEMBER)  # the member's own rule
    function_role = create_roles(aws, "organization.yaml", ACCOUNT_ID)["FunctionRole"]
    member = create_roles(aws, "member-execution-role.yaml", MEMBER, CentralFunctionRoleArn=function_role)
    session = session_of(aws, member["ExecutionRole"], MEMBER)
    config = session.client("config", endpoint_url=aws.endpoint_url)
    for call in (
        lambda name: config.start_config_rules_evaluation(ConfigRuleNames=[name]),
        lambda name: config.get_compliance_details_by_config_rule(ConfigRuleName=name),
    ):
        with enforced():
            call(ORGANIZATION_RULE)
            with pytest.raises(ClientError) as refused:
                call("HeartbleedServerCertificate")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [started.rules for started in aws.started_evaluations(MEMBER)] == [(ORGANIZATION_RULE,)]
