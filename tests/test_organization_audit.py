"""heartbleed-audit audit --organization / --include-acm on a simulated organization, over HTTP.

The organization: the management account (the double's own, which runs the audit) and three
members made by Organizations CreateAccount. A holds a certificate issued in 2013; B reissued
A's key in 2025, in IAM and into ACM; C has fresh certificates in both, with its own keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from audited_estate import upload_estate
from identities import AUDIT_ROLE, AUDITOR, acting_as
from template_roles import create_roles

from heartbleed_audit.cli import main
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Estate:
    a: str
    b: str
    c: str


@pytest.fixture
def estate(aws: AwsDouble) -> Estate:
    a, b, c = aws.organization(3)
    upload_estate(aws, a, b, c)
    return Estate(a, b, c)


def audit(aws: AwsDouble, capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv, "--endpoint-url", aws.endpoint_url])
    out, err = capfd.readouterr()
    return code, out, err


def rows(out: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["account"], row["name"]): row for row in json.loads(out)}


def test_a_2013_key_is_found_in_another_account_in_iam_and_in_acm(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = audit(aws, capfd, "--organization", "--include-acm", "--output", "json")
    assert code == 1, err
    found = rows(out)
    verdicts = {key: row["compliance"] for key, row in found.items()}
    assert verdicts == {
        (estate.a, "Legacy2013"): "NON_COMPLIANT",
        (estate.b, "Shop2025"): "NON_COMPLIANT",
        (estate.b, "api.example.com"): "NON_COMPLIANT",
        (estate.c, "Fresh2026"): "COMPLIANT",
        (estate.c, "cdn.example.org"): "COMPLIANT",
    }
    shared = f"Shares its public key with Legacy2013 (account {estate.a}), issued or uploaded before the cutoff"
    assert found[(estate.b, "Shop2025")]["annotation"].startswith(shared)
    assert found[(estate.b, "api.example.com")]["annotation"].startswith(shared)
    assert found[(estate.b, "api.example.com")]["arn"].startswith(f"arn:aws:acm:us-east-1:{estate.b}:certificate/")
    assert found[(estate.a, "Legacy2013")]["annotation"].startswith("Uploaded 2013-06-02T00:00:00Z and issued")


def test_the_table_shows_the_account_and_where_each_certificate_is(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = audit(aws, capfd, "--organization", "--include-acm")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["ACCOUNT", "IN", "CERTIFICATE", "VERDICT", "WHY"]
    assert any(line.split()[:5] == [estate.b, "ACM", "us-east-1", "api.example.com", "NON_COMPLIANT"] for line in lines)
    assert "5 certificates: 2 COMPLIANT, 3 NON_COMPLIANT, 0 NOT_APPLICABLE" in out


def test_accounts_limits_the_audit(aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = audit(aws, capfd, "--organization", "--accounts", f"{estate.c}", "--include-acm", "--output", "json")
    assert code == 0  # C alone is clean: without A in the audit, nothing is known against its keys
    assert {account for account, _ in rows(out)} == {estate.c}


def test_one_account_with_acm(aws: AwsDouble, capfd: pytest.CaptureFixture[str]) -> None:
    old_key = new_key("rsa")
    legacy = issue("legacy.example.com", datetime(2013, 6, 1, tzinfo=UTC), key=old_key)
    aws.upload("Legacy2013", legacy.body, legacy.private_key, uploaded=datetime(2013, 6, 2, tzinfo=UTC))
    moved = issue("api.example.com", NOW - timedelta(days=30), key=old_key)
    aws.client("acm").import_certificate(Certificate=moved.body.encode(), PrivateKey=moved.private_key.encode())
    code, out, _ = audit(aws, capfd, "--include-acm", "--output", "json")
    found = rows(out)
    assert code == 1
    assert found[(ACCOUNT_ID, "api.example.com")]["compliance"] == "NON_COMPLIANT"
    assert "Shares its public key with Legacy2013, issued" in found[(ACCOUNT_ID, "api.example.com")]["annotation"]
    code, out, _ = audit(aws, capfd, "--output", "json")  # without --include-acm: IAM only
    assert [name for _, name in rows(out)] == ["Legacy2013"]


# What the auditing principal itself needs in the management account: list the accounts, assume the
# audit role, and read its own account as the role reads the others.
AUDITOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "organizations:ListAccounts", "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::*:role/{AUDIT_ROLE}"},
        {
            "Effect": "Allow",
            "Action": ["iam:ListServerCertificates", "iam:GetServerCertificate", "acm:ListCertificates"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "acm:GetCertificate", "Resource": "*"},
    ],
}


def test_the_read_only_audit_role_is_all_the_audit_needs(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    for member in (estate.a, estate.b, estate.c):
        create_roles(aws, "audit-role.yaml", member, AuditingPrincipalArn=AUDITOR)
    with acting_as(aws, AUDITOR_POLICY):
        code, out, err = audit(
            aws, capfd, "--organization", "--role-name", AUDIT_ROLE, "--include-acm", "--output", "json"
        )
    assert code == 1, err
    assert len(rows(out)) == 5 and "not audited" not in err


def test_an_account_that_cannot_be_audited_is_reported_and_the_audit_is_incomplete(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    for member in (estate.a, estate.b):  # C has no audit role
        create_roles(aws, "audit-role.yaml", member, AuditingPrincipalArn=AUDITOR)
    with acting_as(aws, AUDITOR_POLICY):
        code, out, err = audit(aws, capfd, "--organization", "--role-name", AUDIT_ROLE, "--output", "json")
    assert code == 2  # never clean while an account is missing
    assert f"account {estate.c} not audited: AssumeRole refused (AccessDenied)" in err
    assert "incomplete: 1 of 4 accounts could not be audited" in err
    assert {account for account, _ in rows(out)} == {estate.a, estate.b}  # the others were still audited


def test_a_role_that_trusts_another_principal_is_refused(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]
) -> None:
    for member in (estate.a, estate.b, estate.c):
        create_roles(aws, "audit-role.yaml", member, AuditingPrincipalArn=f"arn:aws:iam::{ACCOUNT_ID}:role/someone")
    with acting_as(aws, AUDITOR_POLICY):
        code, _, err = audit(aws, capfd, "--organization", "--role-name", AUDIT_ROLE)
    assert code == 2 and err.count("not audited: AssumeRole refused (AccessDenied)") == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--organization", "--accounts", "999999999999"], "--accounts '999999999999' is not an ACTIVE account"),
        (["--organization", "--accounts", "12345"], "--accounts '12345' is not an AWS account ID"),
        (["--organization", "--role-name", "no spaces allowed"], "--role-name 'no spaces allowed' is not an IAM role"),
        (["--include-acm", "--acm-regions", "us-east-1,us-moon-1"], "--acm-regions 'us-moon-1' is not a Region"),
        (["--acm-regions", "us-east-1"], "--acm-regions needs --include-acm"),
        (["--accounts", "123456789012"], "--accounts and --role-name need --organization"),
    ],
)
def test_bad_estate_options_exit_2_and_name_the_value(
    aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = audit(aws, capfd, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_text_and_asff_carry_the_account(aws: AwsDouble, estate: Estate, capfd: pytest.CaptureFixture[str]) -> None:
    _, out, _ = audit(aws, capfd, "--organization", "--include-acm", "--output", "text")
    rows = [line.split("\t") for line in out.splitlines()]
    assert {(row[0], row[1], row[3]) for row in rows if row[2].endswith("/Shop2025")} == {
        (estate.b, "IAM", "NON_COMPLIANT")
    }
    _, out, _ = audit(aws, capfd, "--organization", "--include-acm", "--output", "asff")
    findings = [finding for line in out.splitlines() for finding in json.loads(line)["Findings"]]
    moved = next(f for f in findings if f["Resources"][0]["Id"].startswith(f"arn:aws:acm:us-east-1:{estate.b}:"))
    assert moved["AwsAccountId"] == estate.b
    assert moved["Resources"][0]["Type"] == "AwsCertificateManagerCertificate"
    assert moved["Title"] == "ACM certificate api.example.com may carry a key exposed by Heartbleed"
    assert {f["AwsAccountId"] for f in findings} == {estate.a, estate.b, estate.c}
