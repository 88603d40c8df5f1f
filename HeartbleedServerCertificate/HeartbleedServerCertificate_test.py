"""rdklib tests for HeartbleedServerCertificate: one per scenario (run by `rdk test-local`).

The IAM client is a MagicMock answering with real X.509 certificate bodies.
Each test asserts every evaluation the rule returns, so an extra one fails it.

Scenarios:
  1  uploaded before the cutoff                        NON_COMPLIANT
  2  issued (NotBefore) before the cutoff, uploaded later NON_COMPLIANT
  3  reissued with the key of a flagged certificate    NON_COMPLIANT, as is the flagged one
  4  IAM returned no UploadDate                        NON_COMPLIANT
  5  the body is not a certificate                     NON_COMPLIANT
  6  GetServerCertificate denied                       NON_COMPLIANT
  7  uploaded and issued after the cutoff, own key     COMPLIANT
  8  named in ExemptCertificates                       NOT_APPLICABLE
  9  deleted (change event, ResourceDeleted)           NOT_APPLICABLE, under the ARN
  10 change event for one certificate                  that certificate's verdict only
  11 a misspelt parameter                              InvalidParametersError
"""

import unittest
import uuid
from datetime import UTC, datetime
from typing import Any
from unittest.mock import MagicMock

import rdklibtest
from botocore.exceptions import ClientError
from rdklib import ComplianceType, Evaluation, InvalidParametersError

from heartbleed_audit.demo.pki import issue, new_key

RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
MODULE = __import__("HeartbleedServerCertificate")
RULE = MODULE.HeartbleedServerCertificate()
ARN = "arn:aws:iam::123456789012:server-certificate/"
CUTOFF = "2014-04-08T00:00:00Z"
REMEDY = "Revoke it, re-key, reissue and replace it (or use ACM)."


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def metadata(name: str, uploaded: datetime | None, certificate_id: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "Path": "/",
        "ServerCertificateName": name,
        "ServerCertificateId": certificate_id,
        "Arn": ARN + name,
    }
    if uploaded is not None:
        meta["UploadDate"] = uploaded
    return meta


class FakeIam:
    """Answers list/get like IAM for a dict of name -> (UploadDate, PEM body or error code)."""

    def __init__(self, certificates: dict[str, Any]) -> None:
        self.certificates = certificates
        # Every upload has its own id, as in IAM (the rule keeps bodies by id).
        self.ids = {name: "ASCA" + uuid.uuid4().hex[:17].upper() for name in certificates}
        self.client = MagicMock()
        self.client.list_server_certificates.side_effect = self.list
        self.client.get_server_certificate.side_effect = self.get

    def list(self, **_: Any) -> dict[str, Any]:
        listed = [metadata(name, uploaded, self.ids[name]) for name, (uploaded, _) in self.certificates.items()]
        return {"ServerCertificateMetadataList": listed, "IsTruncated": False}

    def get(self, ServerCertificateName: str) -> dict[str, Any]:
        uploaded, body = self.certificates[ServerCertificateName]
        if body == "AccessDenied":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetServerCertificate")
        meta = metadata(ServerCertificateName, uploaded, self.ids[ServerCertificateName])
        return {"ServerCertificate": {"ServerCertificateMetadata": meta, "CertificateBody": body}}

    def factory(self) -> MagicMock:
        config = MagicMock()  # no earlier evaluations to retire
        config.get_compliance_details_by_config_rule.return_value = {"EvaluationResults": []}
        factory = MagicMock()
        factory.build_client.side_effect = lambda service, *_, **__: self.client if service == "iam" else config
        return factory


def expected(name: str, compliance: str, annotation: str) -> Evaluation:
    return Evaluation(compliance, ARN + name, RESOURCE_TYPE, annotation)


class ComplianceTest(unittest.TestCase):
    def periodic(self, certificates: dict[str, Any], parameters: dict[str, str] | None = None) -> list[Evaluation]:
        event = rdklibtest.create_test_scheduled_event(parameters)
        params = RULE.evaluate_parameters(parameters or {})
        evaluations: list[Evaluation] = RULE.evaluate_periodic(event, FakeIam(certificates).factory(), params)
        return evaluations

    def assert_evaluations(self, response: list[Evaluation], wanted: list[Evaluation]) -> None:
        """Every evaluation sent, in order: an extra or a missing one fails (rdklibtest expects 1 by default)."""
        rdklibtest.assert_successful_evaluation(self, response, wanted, len(wanted))

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

    def test_scenario_10_change_event_reports_the_changed_certificate_only(self) -> None:
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

    def test_scenario_11_misspelt_parameter(self) -> None:
        with self.assertRaises(InvalidParametersError) as raised:
            RULE.evaluate_parameters({"CutOffDate": "2014-04-01"})
        self.assertIn("unknown parameter 'CutOffDate'", str(raised.exception))
        self.assertIn("CutoffDate", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
