"""heartbleed-audit reevaluate --organization and ledger show --accounts, over HTTP against the double:
the members the organization rule has not served, found in the ledger and asked to evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from identities import AUDITOR, acting_as
from ledger_table import TABLE, create_table
from log_secrets import SECRETS
from simulated_organization import (
    MEMBER_ROLE,
    WITH_LEDGER,
    Organization,
    as_central_function,
    build_organization,
    copy_event,
    copy_of,
    invoke_copy,
    served_with_ledger,
)
from template_roles import create_roles

from heartbleed.retry_policy import RetryableFailure
from heartbleed_audit.cli import main
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler


def cli(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    assert SECRETS.search(out + err) is None
    return code, out, err


def deploy_copy(aws: AwsDouble, account: str) -> str:
    """The organization rule's copy in a member whose rule never ran: in its Config's list of rules."""
    name, _ = copy_of(account)
    source = {"Owner": "AWS", "SourceIdentifier": "IAM_PASSWORD_POLICY"}  # the double lists rules by name only
    aws.client("config", account).put_config_rule(ConfigRule={"ConfigRuleName": name, "Source": source})
    aws.result_token(name, account)  # the double's Config knows the rule, so it can be asked to evaluate
    return name


@pytest.fixture
def organization(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> Organization:
    """First member served; the third's role came after its first run failed; the second never ran."""
    made = served_with_ledger(aws, monkeypatch)
    first, _, third = made.members
    with as_central_function(aws, made, monkeypatch):
        invoke_copy(aws, first, WITH_LEDGER)
        with pytest.raises(RetryableFailure):
            lambda_handler(copy_event(aws, third, WITH_LEDGER), None)
    create_roles(aws, "member-execution-role.yaml", third, CentralFunctionRoleArn=made.function_role)
    return made


def test_ledger_show_accounts_says_which_members_were_served_and_when(
    aws: AwsDouble, organization: Organization, capfd: pytest.CaptureFixture[str]
) -> None:
    first, _, third = organization.members
    code, out, _ = cli(aws, capfd, "ledger", "show", "--accounts", "--table", TABLE)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line[:12].isdigit()}
    assert set(lines) == {first, third}
    assert lines[first].split()[2] == "ok" and copy_of(first)[0] in lines[first]
    assert lines[third].split()[2:4] == ["no", "result"] and "AssumeRole" in lines[third]
    code, out, _ = cli(
        aws, capfd, "ledger", "show", "--accounts", "--account", third, "--output", "json", "--table", TABLE
    )
    (run,) = json.loads(out)
    assert run["state"] == "no result" and run["last_success"] is None and run["region"] == "us-east-1"
    assert run["last_failure"] and "AssumeRole" in run["failure"]


def test_reevaluate_asks_the_members_without_a_result_and_no_other(
    aws: AwsDouble, organization: Organization, capfd: pytest.CaptureFixture[str]
) -> None:
    first, second, third = organization.members
    second_copy = deploy_copy(aws, second)
    code, out, _ = cli(aws, capfd, "reevaluate", "--organization", "--exclude", ACCOUNT_ID, "--table", TABLE)
    assert code == 0, out
    assert [started.rules for started in aws.started_evaluations(third)] == [(copy_of(third)[0],)]
    assert [started.rules for started in aws.started_evaluations(second)] == [(second_copy,)]
    assert aws.started_evaluations(first) == [] and aws.started_evaluations(ACCOUNT_ID) == []
    assert f"asked {copy_of(third)[0]} in {third} (us-east-1) to evaluate [last run failed" in out
    assert f"asked {second_copy} in {second} (us-east-1) to evaluate [no run recorded]" in out
    assert "3 ACTIVE accounts (1 excluded): 1 served, 2 asked, 0 could not be asked" in out


def test_reevaluate_says_what_it_could_not_ask(
    aws: AwsDouble, organization: Organization, capfd: pytest.CaptureFixture[str]
) -> None:
    _, second, third = organization.members  # the second has no copy of the rule yet
    code, out, _ = cli(aws, capfd, "reevaluate", "--organization", "--exclude", ACCOUNT_ID, "--table", TABLE)
    assert code == 1
    assert f"could not ask {second} (us-east-1): no copy of the organization rule HeartbleedServerCertificate" in out
    assert f"asked {copy_of(third)[0]} in {third}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--exclude", "12345"], "--exclude '12345' is not an AWS account ID: use 12 digits"),
        (["--exclude", "999999999999"], "--exclude '999999999999' is not an ACTIVE account of this organization"),
        (["--rule-name", "no spaces"], "--rule-name 'no spaces' is not an organization rule name"),
        (["--role-name", "a/b"], "--role-name 'a/b' is not an IAM role name"),
        (["--table", ""], "no ledger table: pass --table NAME_OR_ARN"),
    ],
)
def test_reevaluate_bad_input_exits_2_naming_it(
    aws: AwsDouble, organization: Organization, capfd: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = cli(aws, capfd, "reevaluate", "--organization", "--table", TABLE, *argv)
    assert code == 2 and message in err, err
    assert all(aws.started_evaluations(account) == [] for account in organization.members)


def test_reevaluate_needs_organization(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["reevaluate", "--table", TABLE])
    assert exited.value.code == 2 and "--organization" in capfd.readouterr().err


def test_a_member_whose_last_run_failed_after_a_success_is_asked_again(
    aws: AwsDouble, organization: Organization, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    first = organization.members[0]
    iam = aws.client("iam", first)  # someone deletes the member's execution role
    iam.delete_role_policy(RoleName=MEMBER_ROLE, PolicyName="HeartbleedServerCertificate")
    iam.delete_role(RoleName=MEMBER_ROLE)
    with as_central_function(aws, organization, monkeypatch), pytest.raises(RetryableFailure):
        invoke_copy(aws, first, WITH_LEDGER)
    code, out, _ = cli(aws, capfd, "ledger", "show", "--accounts", "--account", first, "--table", TABLE)
    assert code == 0 and " failed last " in out
    create_roles(aws, "member-execution-role.yaml", first, CentralFunctionRoleArn=organization.function_role)
    code, out, _ = cli(aws, capfd, "reevaluate", "--organization", "--exclude", ACCOUNT_ID, "--table", TABLE)
    assert [started.rules for started in aws.started_evaluations(first)] == [(copy_of(first)[0],)]
    assert f"asked {copy_of(first)[0]} in {first} (us-east-1) to evaluate [last run failed" in out


def test_an_operator_reaches_members_through_their_reevaluation_role_only(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Under the double's IAM enforcement, as an operator holding rules/ledger-operator-policy.json: the member
    whose stack names the operator in OperatorPrincipalArns is asked through its ReevaluationRole; the members
    whose stacks name no operator have no such role and cannot be asked."""
    policy = json.loads((Path(__file__).resolve().parents[1] / "rules" / "ledger-operator-policy.json").read_text())
    made = build_organization(aws)
    create_table(aws.client("dynamodb"))
    first, second, third = made.members
    roles = {"CentralFunctionRoleArn": made.function_role, "OperatorPrincipalArns": AUDITOR}
    create_roles(aws, "member-execution-role.yaml", third, **roles)
    copies = {member: deploy_copy(aws, member) for member in made.members}
    with acting_as(aws, policy):
        code, out, _ = cli(aws, capfd, "reevaluate", "--organization", "--exclude", ACCOUNT_ID, "--table", TABLE)
    assert code == 1, out
    assert [started.rules for started in aws.started_evaluations(third)] == [(copies[third],)]
    assert aws.started_evaluations(first) == aws.started_evaluations(second) == []
    assert f"could not ask {first} (us-east-1): AssumeRole refused: AccessDenied" in out
    assert f"could not ask {second} (us-east-1): AssumeRole refused: AccessDenied" in out
