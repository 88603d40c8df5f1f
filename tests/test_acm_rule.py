"""ACM certificates in the rule's own results, in every Region it is deployed in (docs/design.md, Results).

Cases, each over HTTP on the double with real Config events through lambda_handler (the numbers are the
scenarios of heartbleed/verdict.py):
  a member's ACM import in eu-west-1 carries another member's 2013 key (scenario 13)
      -> NON_COMPLIANT in that member's eu-west-1 Config, naming the 2013 account (organization route,
         two Regions, one ledger in the home Region, every role from its template under enforcement)
  a certificate ACM issued (AMAZON_ISSUED; scenario 12)
      -> NOT_APPLICABLE with the reason, from the periodic run and its change event alike
  IAM's certificates
      -> reported by the home Region's rule only; outside it a change event of one gets no row, and a
         row reported there before HomeRegion was set is retired
  an imported certificate deleted from ACM
      -> its row retired by the next periodic run; the ledger keeps its evidence, marked deleted, and
         the home Region's run (which does not list eu-west-1's ACM) does not mark it
  a re-import under the same ARN with a new key
      -> judged by the new body (a new ImportedAt is a new certificate id)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from identities import use_credentials
from ledger_table import TABLE, create_table
from moto.core.authorization import enable_iam_authentication
from simulated_organization import MEMBER_ROLE, MEMBER_RULE, LambdaContext, member_copy
from template_roles import create_roles

from heartbleed.certificate import read_body
from heartbleed.ledger import Ledger
from heartbleed.verdict import REMEDY_ACM
from heartbleed_audit import events
from heartbleed_audit.demo.pki import issue, new_key
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler, new_container

HOME, OTHER = "us-east-1", "eu-west-1"
LEDGER_ARN = f"arn:aws:dynamodb:{HOME}:{ACCOUNT_ID}:table/{TABLE}"
OLD = datetime(2013, 6, 1, tzinfo=UTC)
RECENT = datetime.now(UTC) - timedelta(days=30)
ISSUED_REASON = "Issued by ACM (AMAZON_ISSUED): ACM generated its key, after the cutoff, so it is not judged."
ACM = "AWS::ACM::Certificate"
LONG = 25 * 365  # days: ACM imports only a certificate that has not expired


def rows(aws: AwsDouble, account: str, region: str, rule: str = events.RULE_NAME) -> dict[str, tuple[str, str, str]]:
    """The rule's rows in one account's Config in one Region: ARN -> (type, compliance, annotation)."""
    stored = aws.evaluations(rule, account, region)
    return {arn: (e.resource_type, e.compliance_type, e.annotation or "") for arn, e in stored.items()}


# --- the organization route in two Regions -------------------------------------------------------------


@dataclass(frozen=True)
class TwoRegions:
    a: str  # holds the 2013 IAM certificate
    b: str  # holds a 2025 IAM certificate, and in eu-west-1 an import of A's key and an ACM-issued one
    function_roles: dict[str, str]  # Region -> that Region's stack's FunctionRole
    iam: dict[str, str]  # account -> its IAM certificate's ARN
    imported: str
    issued: str
    key: str  # the shared key's fingerprint


@pytest.fixture
def two_regions(aws: AwsDouble) -> TwoRegions:
    new_container()  # a new Lambda container: no member list kept
    a, b = aws.organization(2)
    # rules/organization.yaml as a stack in each Region (StackSets), HomeRegion us-east-1; the member role
    # (rules/member-execution-role.yaml) trusts both stacks' function roles.
    function_roles = {
        HOME: create_roles(aws, "organization.yaml", ACCOUNT_ID, HomeRegion=HOME)["FunctionRole"],
        OTHER: create_roles(
            aws, "organization.yaml", ACCOUNT_ID, suffix="-eu", HomeRegion=HOME, **{"AWS::Region": OTHER}
        )["FunctionRole"],
    }
    for member in (a, b):
        create_roles(
            aws, "member-execution-role.yaml", member, CentralFunctionRoleArn=",".join(function_roles.values())
        )
    create_table(aws.client("dynamodb"))  # the home Region's stack made it, in the management account
    key = new_key()
    old = issue("shop.example.com", OLD, key=key)
    iam = {a: aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1), account=a)["Arn"]}
    own = issue("b.example.com", RECENT)
    iam[b] = aws.upload("B2025", own.body, own.private_key, uploaded=RECENT + timedelta(days=1), account=b)["Arn"]
    moved = issue("shop.example.com", RECENT, key=key)  # reissued on the old key, then imported into ACM
    imported = aws.import_acm(moved.body, moved.private_key, account=b, region=OTHER)
    issued = aws.request_acm("www.example.com", account=b, region=OTHER)
    return TwoRegions(a, b, function_roles, iam, imported, issued, read_body(old.body).key_fingerprint)


@contextmanager
def as_function_in(aws: AwsDouble, region: str, roles: TwoRegions, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run as that Region's central function (its role's session, its Region), with enforcement on."""
    got = aws.client("sts").assume_role(RoleArn=roles.function_roles[region], RoleSessionName="function")
    use_credentials(monkeypatch, got["Credentials"])
    function_region(monkeypatch, region)
    with enable_iam_authentication():
        yield


def parameters(region: str) -> dict[str, str]:
    """As the organization rule of that Region's stack passes them (rules/organization.yaml)."""
    return {"ExecutionRoleName": MEMBER_ROLE, "KeyLedgerTable": LEDGER_ARN, "HomeRegion": HOME}


def run_periodic(aws: AwsDouble, account: str, region: str) -> Any:
    token = aws.result_token(MEMBER_RULE, account, region)
    event = member_copy(
        events.scheduled_event(token, parameters(region), account=account, region=region), account, region
    )
    context = LambdaContext(f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:HeartbleedServerCertificate")
    return lambda_handler(event, context)


def test_scenario_13_an_acm_import_of_another_accounts_2013_key_is_non_compliant_in_its_region_and_names_it(
    aws: AwsDouble, two_regions: TwoRegions, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = two_regions
    with as_function_in(aws, HOME, setup, monkeypatch):
        for account in (setup.a, setup.b):
            run_periodic(aws, account, HOME)
    with as_function_in(aws, OTHER, setup, monkeypatch):
        run_periodic(aws, setup.b, OTHER)

    there = rows(aws, setup.b, OTHER, MEMBER_RULE)
    kind, compliance, annotation = there[setup.imported]
    assert (kind, compliance) == (ACM, "NON_COMPLIANT")
    assert f"Shares its public key with Shop2013 (account {setup.a}), issued 2013-06-01T00:00:00Z" in annotation
    assert annotation.endswith(REMEDY_ACM)
    assert there[setup.issued] == (ACM, "NOT_APPLICABLE", ISSUED_REASON)
    # IAM rows once: each account's in the home Region, none in eu-west-1.
    assert set(there) == {setup.imported, setup.issued}
    assert rows(aws, setup.a, HOME, MEMBER_RULE) == {
        setup.iam[setup.a]: (
            "AWS::IAM::ServerCertificate",
            "NON_COMPLIANT",
            rows(aws, setup.a, HOME, MEMBER_RULE)[setup.iam[setup.a]][2],
        )
    }
    assert set(rows(aws, setup.b, HOME, MEMBER_RULE)) == {setup.iam[setup.b]}
    assert rows(aws, setup.b, HOME, MEMBER_RULE)[setup.iam[setup.b]][1] == "COMPLIANT"  # its own key is clean
    # The ledger holds the ACM import under the key, with its Region.
    holders = Ledger(aws.client("dynamodb"), TABLE).key_holders(setup.key)
    assert {(h.account, h.service, h.region, h.arn) for h in holders} == {
        (setup.a, "iam", "global", setup.iam[setup.a]),
        (setup.b, "acm", OTHER, setup.imported),
    }


# --- one account, the rule's standalone stack in eu-west-1 --------------------------------------------

ELSEWHERE = {**events.LOCAL_ROLE, "HomeRegion": HOME}  # a rule outside the home Region, without a ledger


def function_region(monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    """The Region of the function's environment, as Lambda sets it: where its rule is."""
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)


@pytest.fixture
def in_other_region(monkeypatch: pytest.MonkeyPatch) -> None:
    function_region(monkeypatch, OTHER)


def periodic_there(aws: AwsDouble, parameters: dict[str, str] = ELSEWHERE) -> Any:
    token = aws.result_token(events.RULE_NAME, region=OTHER)
    return lambda_handler(events.scheduled_event(token, parameters, region=OTHER), None)


def change_there(aws: AwsDouble, item: dict[str, Any], parameters: dict[str, str] = ELSEWHERE) -> Any:
    token = aws.result_token(events.RULE_NAME, region=OTHER)
    return lambda_handler(events.change_event(item, token, parameters, region=OTHER), None)


def only(sent: Any) -> tuple[str, str, str]:
    (evaluation,) = sent
    return evaluation["ComplianceResourceType"], evaluation["ComplianceType"], evaluation["Annotation"]


def test_both_trigger_modes_agree_on_imported_and_issued_certificates(aws: AwsDouble, in_other_region: None) -> None:
    """Scenarios 2 (an import of a 2013 certificate) and 12 (one ACM issued), from either trigger."""
    old = issue("legacy.example.com", OLD, days=LONG)  # a 2013 certificate moved into ACM as it was
    imported = aws.import_acm(old.body, old.private_key, region=OTHER)
    issued = aws.request_acm("www.example.com", region=OTHER)
    periodic = {e["ComplianceResourceId"]: e for e in periodic_there(aws)}
    for arn, domain, kind in (
        (imported, "legacy.example.com", "IMPORTED"),
        (issued, "www.example.com", "AMAZON_ISSUED"),
    ):
        changed = only(change_there(aws, events.acm_configuration_item(arn, domain, kind)))
        assert changed == (ACM, periodic[arn]["ComplianceType"], periodic[arn]["Annotation"])
    assert periodic[imported]["ComplianceType"] == "NON_COMPLIANT"
    assert "Imported" not in periodic[imported]["Annotation"]  # imported today: its NotBefore flags it
    assert periodic[imported]["Annotation"].startswith("Issued (NotBefore) 2013-06-01T00:00:00Z, before the cutoff")
    assert periodic[issued]["Annotation"] == ISSUED_REASON


def test_outside_the_home_region_iam_certificates_get_no_row(aws: AwsDouble, in_other_region: None) -> None:
    old = issue("shop.example.com", OLD)
    meta = aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    assert periodic_there(aws) == []  # no ACM certificate there, and IAM's belong to us-east-1
    assert change_there(aws, events.configuration_item("Shop2013", meta["Arn"])) == []
    assert [len(call.evaluations) for call in aws.put_calls(region=OTHER)] == [0, 0]  # each run still reports
    assert aws.conditions.calls.get("iam:ListServerCertificates", 0) == 0  # nor is IAM read there
    # The home Region's rule (HomeRegion empty or its own) reports it.
    token = aws.result_token(events.RULE_NAME)
    event = events.scheduled_event(token, {**events.LOCAL_ROLE, "HomeRegion": HOME})
    assert [e["ComplianceResourceId"] for e in lambda_handler(event, None)] == [meta["Arn"]]


def test_a_deleted_import_is_retired_and_its_evidence_kept_where_it_was_listed(
    aws: AwsDouble, in_other_region: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(aws.client("dynamodb", region=HOME))
    with_ledger = {**ELSEWHERE, "KeyLedgerTable": LEDGER_ARN}
    old = issue("legacy.example.com", OLD, days=LONG)
    imported = aws.import_acm(old.body, old.private_key, region=OTHER)
    periodic_there(aws, with_ledger)
    ledger = Ledger(aws.client("dynamodb", region=HOME), TABLE)
    fingerprint = read_body(old.body).key_fingerprint
    # The home Region's run lists IAM and us-east-1's ACM, not eu-west-1's: the import is not gone for it.
    function_region(monkeypatch, HOME)
    token = aws.result_token(events.RULE_NAME)
    lambda_handler(events.scheduled_event(token, {**events.LOCAL_ROLE, "KeyLedgerTable": TABLE}), None)
    assert aws.conditions.calls["iam:ListServerCertificates"] == 1  # it did run
    assert [h.deleted_since for h in ledger.key_holders(fingerprint)] == [None]
    function_region(monkeypatch, OTHER)

    aws.client("acm", region=OTHER).delete_certificate(CertificateArn=imported)
    (retired,) = periodic_there(aws, with_ledger)
    assert (retired["ComplianceResourceId"], retired["ComplianceType"]) == (imported, "NOT_APPLICABLE")
    assert retired["ComplianceResourceType"] == ACM
    assert retired["Annotation"].startswith("Not in ACM in this Region at the periodic run")
    (holder,) = ledger.key_holders(fingerprint)
    assert (holder.service, holder.region, holder.arn) == ("acm", OTHER, imported)
    assert holder.deleted_since is not None  # evidence kept, marked deleted


def test_a_re_import_under_the_same_arn_is_judged_by_its_new_body(aws: AwsDouble, in_other_region: None) -> None:
    """Scenario 2 for the old body, then 7 for the new one under the same ARN."""
    old = issue("legacy.example.com", OLD, days=LONG)
    arn = aws.import_acm(old.body, old.private_key, region=OTHER)
    assert only(periodic_there(aws))[1] == "NON_COMPLIANT"
    fresh = issue("legacy.example.com", RECENT)  # re-keyed and reissued, imported over the old one
    assert aws.import_acm(fresh.body, fresh.private_key, region=OTHER, arn=arn) == arn
    kind, compliance, annotation = only(periodic_there(aws))
    assert (kind, compliance) == (ACM, "COMPLIANT")
    assert "its key is not shared with a pre-cutoff certificate" in annotation


def test_an_iam_row_reported_before_home_region_was_set_is_retired(aws: AwsDouble, in_other_region: None) -> None:
    old = issue("shop.example.com", OLD)
    meta = aws.upload("Shop2013", old.body, old.private_key, uploaded=OLD + timedelta(days=1))
    assert only(periodic_there(aws, events.LOCAL_ROLE))[:2] == ("AWS::IAM::ServerCertificate", "NON_COMPLIANT")
    kind, compliance, annotation = only(periodic_there(aws))  # now with HomeRegion us-east-1
    assert (kind, compliance) == ("AWS::IAM::ServerCertificate", "NOT_APPLICABLE")
    assert annotation == "Not reported here: the rule reports IAM server certificates in its HomeRegion us-east-1."
    assert rows(aws, ACCOUNT_ID, OTHER)[meta["Arn"]][1] == "NOT_APPLICABLE"
