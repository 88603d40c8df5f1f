"""rdklib tests for HeartbleedServerCertificate (run by `rdk test-local`): a test_scenario_N_... for each
scenario N numbered in heartbleed/verdict.py's docstring (tests/test_scenarios.py checks), and two of the
handler's own (a change event reports one certificate; a misspelt parameter is refused).

IAM and ACM are MagicMocks answering with real X.509 certificate bodies; the key ledger's scenarios run on
moto's DynamoDB in this process, with the AWS double's extensions. Each test asserts every evaluation the
rule returns, so an extra one fails it.
"""

from __future__ import annotations

import os
import re
import sys
import unittest
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, patch

import boto3
import rdklibtest
from botocore.exceptions import ClientError
from moto import mock_aws
from rdklib import ComplianceType, Evaluation, InvalidParametersError

import heartbleed_audit.double  # noqa: F401  its extensions of moto, which the ledger's writes rely on
from heartbleed_audit.demo.pki import issue, new_key

# The ledger table as the tests make it, from rules/key-ledger.yaml (tests/ledger_table.py): rdk test-local
# runs this file from the rule folder, where the tests' helpers are not on the path.
sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from ledger_table import create_table

RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
ACM_TYPE = "AWS::ACM::Certificate"
ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
REGION = "us-east-1"  # the Region of rdklibtest's events
MODULE = __import__("HeartbleedServerCertificate")
RULE = MODULE.HeartbleedServerCertificate()
ARN = "arn:aws:iam::123456789012:server-certificate/"
CUTOFF = "2014-04-08T00:00:00Z"
REMEDY = "Revoke it, re-key, reissue and replace it (or use ACM)."
REMEDY_ACM = "Revoke it; re-import a certificate with a new key, or use an ACM-issued one."
TABLE = "HeartbleedKeyLedger"
LEDGER = {"KeyLedgerTable": TABLE, "HomeRegion": REGION}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def metadata(name: str, uploaded: datetime | None, certificate_id: str, account: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "Path": "/",
        "ServerCertificateName": name,
        "ServerCertificateId": certificate_id,
        "Arn": ARN.replace(ACCOUNT, account) + name,
    }
    if uploaded is not None:
        meta["UploadDate"] = uploaded
    return meta


class FakeIam:
    """Answers list/get like IAM for a dict of name -> (UploadDate, PEM body or error code)."""

    def __init__(self, certificates: dict[str, Any], account: str = ACCOUNT) -> None:
        self.certificates = certificates
        self.account = account
        # Every upload has its own id, as in IAM (the rule keeps bodies by id).
        self.ids = {name: "ASCA" + uuid.uuid4().hex[:17].upper() for name in certificates}
        self.client = MagicMock()
        self.client.list_server_certificates.side_effect = self.list
        self.client.get_server_certificate.side_effect = self.get

    def list(self, **_: Any) -> dict[str, Any]:
        listed = [
            metadata(name, uploaded, self.ids[name], self.account) for name, (uploaded, _) in self.certificates.items()
        ]
        return {"ServerCertificateMetadataList": listed, "IsTruncated": False}

    def get(self, ServerCertificateName: str) -> dict[str, Any]:
        uploaded, body = self.certificates[ServerCertificateName]
        if body == "AccessDenied":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetServerCertificate")
        meta = metadata(ServerCertificateName, uploaded, self.ids[ServerCertificateName], self.account)
        return {"ServerCertificate": {"ServerCertificateMetadata": meta, "CertificateBody": body}}

    def factory(self, acm: FakeAcm | None = None) -> MagicMock:
        config = MagicMock()  # no earlier evaluations to retire
        config.get_compliance_details_by_config_rule.return_value = {"EvaluationResults": []}
        clients = {"iam": self.client, "acm": (acm or FakeAcm({})).client}
        factory = MagicMock()
        factory.build_client.side_effect = lambda service, *_, **__: clients.get(service, config)
        return factory


def acm_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:acm:{region}:{ACCOUNT}:certificate/{name}"


class FakeAcm:
    """Answers list/get like ACM in one Region for a dict of domain name -> (Type, ImportedAt, PEM body)."""

    def __init__(self, certificates: dict[str, Any], region: str = REGION) -> None:
        summaries = [
            {"CertificateArn": acm_arn(name, region), "DomainName": name, "Type": kind}
            | ({"ImportedAt": imported} if imported else {})
            for name, (kind, imported, _) in certificates.items()
        ]
        bodies = {acm_arn(name, region): body for name, (_, _, body) in certificates.items()}
        self.client = MagicMock()
        self.client.get_paginator.return_value.paginate.return_value = [{"CertificateSummaryList": summaries}]
        self.client.get_certificate.side_effect = lambda CertificateArn: {"Certificate": bodies[CertificateArn]}


def expected(name: str, compliance: str, annotation: str) -> Evaluation:
    return Evaluation(compliance, ARN + name, RESOURCE_TYPE, annotation)


def periodic(
    iam: FakeIam, parameters: dict[str, str] | None = None, acm: FakeAcm | None = None, region: str = REGION
) -> list[Evaluation]:
    """The rule's periodic run for iam's account, in region."""
    event = rdklibtest.create_test_scheduled_event(parameters)
    event["accountId"] = iam.account
    event["configRuleArn"] = f"arn:aws:config:{region}:{iam.account}:config-rule/config-rule-8fngan"
    params = RULE.evaluate_parameters(parameters or {})
    evaluations: list[Evaluation] = RULE.evaluate_periodic(event, iam.factory(acm), params)
    return evaluations


class RuleTest(unittest.TestCase):
    def periodic(self, certificates: dict[str, Any], parameters: dict[str, str] | None = None) -> list[Evaluation]:
        return periodic(FakeIam(certificates), parameters)

    def assert_evaluations(self, response: list[Evaluation], wanted: list[Evaluation]) -> None:
        """Every evaluation sent, in order: an extra or a missing one fails (rdklibtest expects 1 by default)."""
        rdklibtest.assert_successful_evaluation(self, response, wanted, len(wanted))


class ComplianceTest(RuleTest):
    def test_scenario_1_uploaded_before_the_cutoff(self) -> None:
        body = issue("www", utc(2015, 1, 1)).body
        response = self.periodic({"Frontend": (utc(2014, 2, 11, 16, 46, 59), body)})
        annotation = f"Uploaded 2014-02-11T16:46:59Z, before the cutoff {CUTOFF}. {REMEDY}"
        self.assert_evaluations(response, [expected("Frontend", ComplianceType.NON_COMPLIANT, annotation)])

    def test_scenario_2_issued_before_the_cutoff(self) -> None:
        body = issue("api", utc(2013, 11, 20)).body
        response = self.periodic({"Legacy": (utc(2016, 3, 1), body)})
        annotation = f"Issued (NotBefore) 2013-11-20T00:00:00Z, before the cutoff {CUTOFF}. {REMEDY}"
        self.assert_evaluations(response, [expected("Legacy", ComplianceType.NON_COMPLIANT, annotation)])

    def test_scenario_3_reissued_with_a_flagged_key(self) -> None:
        key = new_key()
        certificates = {
            "Frontend": (utc(2014, 2, 11), issue("www", utc(2014, 2, 10), key=key).body),
            "Shop2017": (utc(2017, 5, 2), issue("www", utc(2017, 5, 1), key=key).body),
        }
        response = self.periodic(certificates)
        dated = (
            f"Uploaded 2014-02-11T00:00:00Z and issued (NotBefore) 2014-02-10T00:00:00Z, before the cutoff {CUTOFF}."
        )
        reused = (
            "Shares its public key with Frontend, issued or uploaded before the cutoff: "
            f"reissued without re-keying, so the key may be exposed. {REMEDY}"
        )
        self.assert_evaluations(
            response,
            [
                expected("Frontend", ComplianceType.NON_COMPLIANT, f"{dated} {REMEDY}"),
                expected("Shop2017", ComplianceType.NON_COMPLIANT, reused),
            ],
        )

    def test_scenario_4_no_upload_date(self) -> None:
        body = issue("x", utc(2020, 1, 1)).body
        response = self.periodic({"NoDate": (None, body)})
        annotation = f"IAM returned no UploadDate. {REMEDY}"
        self.assert_evaluations(response, [expected("NoDate", ComplianceType.NON_COMPLIANT, annotation)])

    def test_scenario_5_body_is_not_a_certificate(self) -> None:
        response = self.periodic(
            {"Garbled": (utc(2020, 1, 1), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")}
        )
        annotation = f"Body not checked: the body is not a PEM X.509 certificate (ValueError). {REMEDY}"
        self.assert_evaluations(response, [expected("Garbled", ComplianceType.NON_COMPLIANT, annotation)])

    def test_scenario_6_body_read_denied(self) -> None:
        response = self.periodic({"Locked": (utc(2020, 1, 1), "AccessDenied")})
        annotation = f"Body not checked: iam:GetServerCertificate was denied. {REMEDY}"
        self.assert_evaluations(response, [expected("Locked", ComplianceType.NON_COMPLIANT, annotation)])

    def test_scenario_7_clean_certificate(self) -> None:
        body = issue("app", utc(2025, 9, 30)).body
        response = self.periodic({"Modern": (utc(2025, 10, 1, 12), body)})
        annotation = (
            f"Uploaded 2025-10-01T12:00:00Z and issued 2025-09-30T00:00:00Z, after the cutoff {CUTOFF}; "
            "its key is not shared with a pre-cutoff certificate."
        )
        self.assert_evaluations(response, [expected("Modern", ComplianceType.COMPLIANT, annotation)])

    def test_scenario_8_exempt_certificate(self) -> None:
        body = issue("lab", utc(2013, 1, 1)).body
        response = self.periodic({"Lab": (utc(2013, 1, 2), body)}, {"ExemptCertificates": "Lab"})
        annotation = "Exempted by the rule parameter ExemptCertificates."
        self.assert_evaluations(response, [expected("Lab", ComplianceType.NOT_APPLICABLE, annotation)])

    def test_scenario_9_deleted_certificate_keeps_its_arn_row(self) -> None:
        item = {
            "configurationItemStatus": "ResourceDeleted",
            "resourceType": RESOURCE_TYPE,
            "resourceId": "Gone",
            "resourceName": "Gone",
            "ARN": ARN + "Gone",
            "configuration": None,
            "configurationItemCaptureTime": "2026-11-28T03:00:00.000Z",
        }
        event = rdklibtest.create_test_configurationchange_event(
            {"configurationItem": item, "messageType": "ConfigurationItemChangeNotification"}
        )
        fake = FakeIam({})
        response = RULE.evaluate_change(event, fake.factory(), item, RULE.evaluate_parameters({}))
        annotation = "The certificate is no longer recorded (ResourceDeleted)."
        self.assert_evaluations(response, [expected("Gone", ComplianceType.NOT_APPLICABLE, annotation)])
        fake.client.list_server_certificates.assert_not_called()  # nothing to read for a deleted certificate

    def test_scenario_10_an_unreadable_body_leaves_key_reuse_open(self) -> None:
        body = issue("app", utc(2020, 1, 1)).body
        response = self.periodic({"Locked": (utc(2020, 1, 1), "AccessDenied"), "Clean": (utc(2020, 1, 2), body)})
        annotations = {
            "Locked": f"Body not checked: iam:GetServerCertificate was denied. {REMEDY}",
            "Clean": f"Key reuse not ruled out: the body of Locked could not be read. {REMEDY}",
        }
        wanted = [expected(name, ComplianceType.NON_COMPLIANT, text) for name, text in annotations.items()]
        self.assert_evaluations(response, wanted)

    def test_scenario_11_acm_import_before_the_cutoff(self) -> None:
        body = issue("shop", utc(2015, 1, 1)).body
        acm = FakeAcm({"shop.example.com": ("IMPORTED", utc(2014, 3, 1), body)})
        response = periodic(FakeIam({}), acm=acm)
        annotation = f"Imported 2014-03-01T00:00:00Z, before the cutoff {CUTOFF}. {REMEDY_ACM}"
        wanted = Evaluation(ComplianceType.NON_COMPLIANT, acm_arn("shop.example.com"), ACM_TYPE, annotation)
        self.assert_evaluations(response, [wanted])

    def test_scenario_12_issued_by_acm(self) -> None:
        response = periodic(FakeIam({}), acm=FakeAcm({"www.example.com": ("AMAZON_ISSUED", None, None)}))
        annotation = "Issued by ACM (AMAZON_ISSUED): ACM generated its key, after the cutoff, so it is not judged."
        wanted = Evaluation(ComplianceType.NOT_APPLICABLE, acm_arn("www.example.com"), ACM_TYPE, annotation)
        self.assert_evaluations(response, [wanted])

    def test_change_event_reports_the_changed_certificate_only(self) -> None:
        certificates = {
            "Old": (utc(2014, 1, 1), issue("old", utc(2014, 1, 1)).body),
            "New": (utc(2025, 1, 2), issue("new", utc(2025, 1, 1)).body),
        }
        item = {
            "configurationItemStatus": "OK",
            "resourceType": RESOURCE_TYPE,
            "resourceId": "New",
            "resourceName": "New",
            "ARN": ARN + "New",
            "configuration": {"ServerCertificateName": "New", "Path": "/", "Arn": ARN + "New"},
            "configurationItemCaptureTime": "2026-11-28T03:00:00.000Z",
        }
        event = rdklibtest.create_test_configurationchange_event(
            {"configurationItem": item, "messageType": "ConfigurationItemChangeNotification"}
        )
        response = RULE.evaluate_change(event, FakeIam(certificates).factory(), item, RULE.evaluate_parameters({}))
        annotation = (
            f"Uploaded 2025-01-02T00:00:00Z and issued 2025-01-01T00:00:00Z, after the cutoff {CUTOFF}; "
            "its key is not shared with a pre-cutoff certificate."
        )
        self.assert_evaluations(response, [expected("New", ComplianceType.COMPLIANT, annotation)])

    def test_misspelt_parameter_is_refused(self) -> None:
        with self.assertRaises(InvalidParametersError) as raised:
            RULE.evaluate_parameters({"CutOffDate": "2014-04-01"})
        self.assertIn("unknown parameter 'CutOffDate'", str(raised.exception))
        self.assertIn("CutoffDate", str(raised.exception))


class LedgerTest(RuleTest):
    """The key ledger's scenarios: a first run records a 2013 certificate's key, a later run judges a 2020
    certificate carrying it. The table is moto's (in this process), made as rules/key-ledger.yaml defines it."""

    def setUp(self) -> None:
        for patcher in (patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}), mock_aws()):
            patcher.start()
            self.addCleanup(patcher.stop)
        create_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        self.key = new_key()

    def certificate(self, year: int) -> str:
        return issue("www", utc(year, 6, 1), key=self.key).body

    def judged_2020(self, iam: FakeIam | None = None) -> list[Evaluation]:
        """The periodic run of this account's 2020 certificate that carries the key (iam: already listing it)."""
        return periodic(iam or FakeIam({"New2020": (utc(2020, 6, 2), self.certificate(2020))}), LEDGER)

    def shares(self, holder: str) -> str:
        return (
            f"Shares its public key with {holder}, issued 2013-06-01T00:00:00Z, before the cutoff: "
            f"the key may be exposed. {REMEDY}"
        )

    def test_scenario_13_ledger_evidence_from_another_account(self) -> None:
        periodic(FakeIam({"Old2013": (utc(2013, 6, 2), self.certificate(2013))}, OTHER_ACCOUNT), LEDGER)
        wanted = expected("New2020", ComplianceType.NON_COMPLIANT, self.shares(f"Old2013 (account {OTHER_ACCOUNT})"))
        self.assert_evaluations(self.judged_2020(), [wanted])

    def test_scenario_14_ledger_evidence_from_a_deleted_certificate(self) -> None:
        old, new = (utc(2013, 6, 2), self.certificate(2013)), (utc(2020, 6, 2), self.certificate(2020))
        iam = FakeIam({"Old2013": old, "New2020": new})
        periodic(iam, LEDGER)
        del iam.certificates["Old2013"]
        [evaluation] = self.judged_2020(iam)
        self.assertEqual(evaluation.complianceType, ComplianceType.NON_COMPLIANT)
        self.assertEqual(evaluation.complianceResourceId, ARN + "New2020")
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"  # when this run found it gone
        pattern = re.escape(self.shares("Old2013 (deleted since TIME)")).replace("TIME", stamp)
        self.assertRegex(evaluation.annotation, f"^{pattern}$")

    def test_scenario_15_ledger_evidence_from_an_acm_import(self) -> None:
        acm = FakeAcm({"old.example.com": ("IMPORTED", utc(2013, 6, 2), self.certificate(2013))}, "eu-west-1")
        periodic(FakeIam({}), LEDGER, acm, region="eu-west-1")  # that Region's rule: ACM only
        wanted = expected("New2020", ComplianceType.NON_COMPLIANT, self.shares("old.example.com (ACM)"))
        self.assert_evaluations(self.judged_2020(), [wanted])


if __name__ == "__main__":
    unittest.main()
