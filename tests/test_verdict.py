"""The verdict function on real X.509 certificates: a test_scenario_N_... for each scenario N numbered in
heartbleed/verdict.py's docstring (tests/test_scenarios.py checks), and the edges between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heartbleed.acm import AcmListing, issued_verdicts
from heartbleed.certificate import BodyError, CertificateEvidence, CertificateMetadata, read_body
from heartbleed.configuration_item import gone_reason
from heartbleed.ledger.schema import Holder, KeySummary
from heartbleed.parameters import RuleParameters
from heartbleed.verdict import (
    ANNOTATION_LIMIT,
    REMEDY_ACM,
    Compliance,
    Verdict,
    evaluate_account,
    fit_annotation,
    not_applicable,
)
from heartbleed_audit.demo.pki import Issued, issue, new_key

CUTOFF = datetime(2014, 4, 8, tzinfo=UTC)
PARAMS = RuleParameters(cutoff=CUTOFF)
ARN = "arn:aws:iam::123456789012:server-certificate/"
ACM_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def evidence(name: str, uploaded: datetime | None, cert: Issued | None) -> CertificateEvidence:
    meta = CertificateMetadata(name=name, arn=ARN + name, upload_date=uploaded)
    return CertificateEvidence(
        meta, body=read_body(cert.body) if cert else None, body_problem=None if cert else "it was not read"
    )


def judge(*items: CertificateEvidence, params: RuleParameters = PARAMS) -> dict[str, Verdict]:
    verdicts = evaluate_account(list(items), params)
    assert [v.arn for v in verdicts] == [i.metadata.arn for i in items]
    for verdict in verdicts:
        assert 1 <= len(verdict.annotation) <= ANNOTATION_LIMIT
    return {v.name: v for v in verdicts}


def test_scenario_1_uploaded_before_the_cutoff_is_non_compliant() -> None:
    v = judge(evidence("Frontend", utc(2014, 2, 11, 16, 46, 59), issue("a", utc(2015, 1, 1))))["Frontend"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Uploaded 2014-02-11T16:46:59Z, before the cutoff 2014-04-08T00:00:00Z.")
    assert "re-key" in v.annotation


def test_scenario_2_issued_before_the_cutoff_but_uploaded_later_is_non_compliant() -> None:
    v = judge(evidence("Legacy", utc(2016, 3, 1), issue("a", utc(2013, 11, 20))))["Legacy"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Issued (NotBefore) 2013-11-20T00:00:00Z, before the cutoff")


def test_both_dates_before_the_cutoff_are_named_in_one_sentence() -> None:
    v = judge(evidence("Old", utc(2014, 2, 11), issue("a", utc(2014, 2, 10))))["Old"]
    assert v.annotation.startswith(
        "Uploaded 2014-02-11T00:00:00Z and issued (NotBefore) 2014-02-10T00:00:00Z, before the cutoff"
    )


def test_exactly_at_the_cutoff_is_not_before_it() -> None:
    at = judge(evidence("At", CUTOFF, issue("a", CUTOFF)))["At"]
    assert at.compliance is Compliance.COMPLIANT
    just_before = CUTOFF - timedelta(microseconds=1)
    assert judge(evidence("Before", just_before, issue("a", CUTOFF)))["Before"].compliance is Compliance.NON_COMPLIANT


def test_a_time_zone_offset_does_not_shift_the_comparison() -> None:
    # 2014-04-08T01:00+02:00 is 2014-04-07T23:00Z: before the cutoff.
    from datetime import timezone

    uploaded = datetime(2014, 4, 8, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    v = judge(evidence("Tz", uploaded, issue("a", utc(2015, 1, 1))))["Tz"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert "Uploaded 2014-04-07T23:00:00Z" in v.annotation


def test_scenario_3_reissued_with_the_key_of_a_flagged_certificate_is_non_compliant() -> None:
    key = new_key()
    old = evidence("Frontend", utc(2014, 2, 11), issue("www", utc(2014, 2, 10), key=key))
    reissued = evidence("Shop2017", utc(2017, 5, 2), issue("www", utc(2017, 5, 1), key=key))
    v = judge(old, reissued)["Shop2017"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Shares its public key with Frontend")


def test_a_chain_of_reissues_with_one_key_is_flagged_throughout() -> None:
    key = new_key()
    chain = [
        evidence("Gen1", utc(2013, 6, 1), issue("x", utc(2013, 6, 1), key=key)),
        evidence("Gen2", utc(2015, 6, 1), issue("x", utc(2015, 6, 1), key=key)),
        evidence("Gen3", utc(2019, 6, 1), issue("x", utc(2019, 6, 1), key=key)),
        evidence("Fresh", utc(2019, 6, 1), issue("x", utc(2019, 6, 1))),
    ]
    verdicts = judge(*reversed(chain))  # order of listing must not matter
    assert [verdicts[n].compliance for n in ("Gen1", "Gen2", "Gen3", "Fresh")] == [
        Compliance.NON_COMPLIANT,
        Compliance.NON_COMPLIANT,
        Compliance.NON_COMPLIANT,
        Compliance.COMPLIANT,
    ]
    assert "with Gen1" in verdicts["Gen3"].annotation


def test_sharing_a_key_only_among_clean_certificates_is_compliant() -> None:
    key = new_key()
    a = evidence("A", utc(2020, 1, 1), issue("x", utc(2020, 1, 1), key=key))
    b = evidence("B", utc(2021, 1, 1), issue("x", utc(2021, 1, 1), key=key))
    assert {v.compliance for v in judge(a, b).values()} == {Compliance.COMPLIANT}


def test_scenario_4_missing_upload_date_is_non_compliant_and_says_so() -> None:
    v = judge(evidence("NoDate", None, issue("a", utc(2020, 1, 1))))["NoDate"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert "IAM returned no UploadDate." in v.annotation


def test_scenario_5_a_body_that_is_not_a_certificate_is_non_compliant_and_named() -> None:
    meta = CertificateMetadata(name="Broken", arn=ARN + "Broken", upload_date=utc(2020, 1, 1))
    v = judge(CertificateEvidence(meta, body_problem="the body is not a PEM X.509 certificate (ValueError)"))["Broken"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert "Body not checked: the body is not a PEM X.509 certificate (ValueError)." in v.annotation


def test_scenario_6_a_body_that_could_not_be_read_is_non_compliant_and_named() -> None:
    meta = CertificateMetadata(name="Locked", arn=ARN + "Locked", upload_date=utc(2020, 1, 1))
    v = judge(CertificateEvidence(meta, body_problem="iam:GetServerCertificate was denied"))["Locked"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Body not checked: iam:GetServerCertificate was denied.")


def test_scenario_10_an_unreadable_body_elsewhere_blocks_compliant_for_the_others() -> None:
    denied = CertificateEvidence(
        CertificateMetadata(name="Denied", arn=ARN + "Denied", upload_date=utc(2020, 1, 1)),
        body_problem="iam:GetServerCertificate was denied",
    )
    clean = evidence("Clean", utc(2020, 1, 1), issue("a", utc(2020, 1, 1)))
    v = judge(denied, clean)["Clean"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert "Key reuse not ruled out: the body of Denied could not be read." in v.annotation


def test_scenario_7_clean_certificate_is_compliant_with_its_dates() -> None:
    v = judge(evidence("Modern", utc(2025, 10, 1, 12), issue("a", utc(2025, 9, 30))))["Modern"]
    assert v.compliance is Compliance.COMPLIANT
    assert v.annotation.startswith(
        "Uploaded 2025-10-01T12:00:00Z and issued 2025-09-30T00:00:00Z, after the cutoff 2014-04-08T00:00:00Z"
    )


def test_body_check_off_judges_upload_date_only_and_says_so() -> None:
    params = RuleParameters(cutoff=CUTOFF, check_body=False)
    meta = CertificateMetadata(name="Meta", arn=ARN + "Meta", upload_date=utc(2016, 1, 1))
    v = judge(CertificateEvidence(meta), params=params)["Meta"]
    assert v.compliance is Compliance.COMPLIANT
    assert "body not checked (CheckCertificateBody=false)" in v.annotation


def test_iam_033_cutoff_misses_the_disclosure_week_that_the_default_catches() -> None:
    week = evidence("Week", utc(2014, 4, 3, 9, 15), issue("a", utc(2014, 4, 2)))
    iam_033 = RuleParameters(cutoff=utc(2014, 4, 1), check_body=False)
    assert judge(week, params=iam_033)["Week"].compliance is Compliance.COMPLIANT
    assert judge(week)["Week"].compliance is Compliance.NON_COMPLIANT


def test_scenario_8_exempt_certificate_is_not_applicable_but_its_key_still_counts() -> None:
    key = new_key()
    params = RuleParameters(cutoff=CUTOFF, exempt=frozenset({"Lab"}))
    lab = evidence("Lab", utc(2013, 1, 1), issue("x", utc(2013, 1, 1), key=key))
    reuse = evidence("Prod", utc(2020, 1, 1), issue("x", utc(2020, 1, 1), key=key))
    verdicts = judge(lab, reuse, params=params)
    assert verdicts["Lab"].compliance is Compliance.NOT_APPLICABLE
    assert "ExemptCertificates" in verdicts["Lab"].annotation
    assert verdicts["Prod"].compliance is Compliance.NON_COMPLIANT


def test_scenario_9_a_deleted_certificate_is_not_applicable_under_its_arn() -> None:
    reason = gone_reason({"configurationItemStatus": "ResourceDeleted"}, left_scope=False)
    assert reason == "The certificate is no longer recorded (ResourceDeleted)."
    v = not_applicable("Gone", ARN + "Gone", reason)
    assert (v.arn, v.compliance, v.annotation) == (ARN + "Gone", Compliance.NOT_APPLICABLE, reason)
    assert gone_reason({"configurationItemStatus": "OK"}, left_scope=False) is None


def test_scenario_11_an_acm_import_before_the_cutoff_is_non_compliant_with_the_acm_remedy() -> None:
    meta = CertificateMetadata(name="shop.example.com", arn=ACM_ARN + "shop", upload_date=utc(2014, 3, 1))
    v = judge(CertificateEvidence(meta, body=read_body(issue("shop", utc(2015, 1, 1)).body)))["shop.example.com"]
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation == f"Imported 2014-03-01T00:00:00Z, before the cutoff 2014-04-08T00:00:00Z. {REMEDY_ACM}"


def test_scenario_12_a_certificate_acm_issued_is_not_applicable() -> None:
    meta = CertificateMetadata(name="www.example.com", arn=ACM_ARN + "www", upload_date=None)
    [v] = issued_verdicts(AcmListing(issued=[(meta, "AMAZON_ISSUED")]))
    assert (v.arn, v.compliance) == (ACM_ARN + "www", Compliance.NOT_APPLICABLE)
    assert v.annotation.startswith("Issued by ACM (AMAZON_ISSUED): ACM generated its key")


def holder(cert: Issued, account: str, service: str = "iam", deleted: datetime | None = None) -> Holder:
    """The ledger's record of a certificate uploaded the day it was issued (a Holder, as records.py reads it)."""
    issued = read_body(cert.body).not_before
    arn = (
        f"arn:aws:acm:eu-west-1:{account}:certificate/old"
        if service == "acm"
        else ARN.replace("123456789012", account) + "Old2013"
    )
    return Holder(
        key=read_body(cert.body).key_fingerprint,
        account=account,
        service=service,
        region="eu-west-1" if service == "acm" else "global",
        arn=arn,
        certificate_id="ASCAOLD",
        name="Old2013",
        not_before=issued,
        uploaded=issued,
        first_seen=utc(2026, 1, 1),
        last_seen=utc(2026, 1, 1),
        deleted_since=deleted,
    )


def judged_with_ledger(earliest: Holder, cert: Issued, name: str = "New2020") -> Verdict:
    """A 2020 certificate of this account carrying the holder's key, judged with the ledger's summary of it."""
    item = evidence(name, utc(2020, 1, 2), cert)
    summary = KeySummary(key=earliest.key, earliest=earliest, accounts=frozenset({earliest.account}))
    [verdict] = evaluate_account([item], PARAMS, {earliest.key: summary})
    return verdict


def reissued_2020(old: Issued) -> Issued:
    return issue("www", utc(2020, 1, 1), key=old.key)


def test_scenario_13_ledger_evidence_from_another_account_is_non_compliant_and_names_it() -> None:
    old = issue("www", utc(2013, 6, 1))
    v = judged_with_ledger(holder(old, "210987654321"), reissued_2020(old))
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith(
        "Shares its public key with Old2013 (account 210987654321), issued 2013-06-01T00:00:00Z, before the cutoff"
    )
    # The same key, recorded after the cutoff only: no evidence.
    late = issue("www", utc(2019, 6, 1), key=old.key)
    assert judged_with_ledger(holder(late, "210987654321"), reissued_2020(old)).compliance is Compliance.COMPLIANT


def test_scenario_14_ledger_evidence_from_a_deleted_certificate_names_the_deletion() -> None:
    old = issue("www", utc(2013, 6, 1))
    v = judged_with_ledger(holder(old, "123456789012", deleted=utc(2015, 2, 3)), reissued_2020(old))
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Shares its public key with Old2013 (deleted since 2015-02-03T00:00:00Z), issued")


def test_scenario_15_ledger_evidence_from_an_acm_import_names_acm() -> None:
    old = issue("www", utc(2013, 6, 1))
    v = judged_with_ledger(holder(old, "123456789012", service="acm"), reissued_2020(old))
    assert v.compliance is Compliance.NON_COMPLIANT
    assert v.annotation.startswith("Shares its public key with Old2013 (ACM), issued 2013-06-01T00:00:00Z")


def test_annotations_are_cut_to_256_characters_and_never_empty() -> None:
    assert fit_annotation("a" * 300).endswith("...")
    assert len(fit_annotation("a" * 300)) == ANNOTATION_LIMIT
    assert fit_annotation("first.", "b" * 256) == "first."
    assert fit_annotation() == "No annotation."


def test_read_body_gives_not_before_and_a_key_fingerprint() -> None:
    key = new_key("rsa")
    first, second = issue("a", utc(2013, 5, 6, 7, 8, 9), key=key), issue("b", utc(2020, 1, 1), key=key)
    facts = read_body(first.body)
    assert facts.not_before == utc(2013, 5, 6, 7, 8, 9)
    assert facts.key_fingerprint == read_body(second.body).key_fingerprint
    assert facts.key_fingerprint != read_body(issue("c", utc(2020, 1, 1)).body).key_fingerprint


@pytest.mark.parametrize(
    "body",
    ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "caf\u00e9"],
)
def test_read_body_refuses_what_is_not_a_certificate_without_echoing_it(body: str) -> None:
    with pytest.raises(BodyError) as error:
        read_body(body)
    assert "not a PEM X.509 certificate" in str(error.value)
    if body:
        assert body not in str(error.value)


# What cryptography's Rust parser raises on some inputs: pyo3_runtime.PanicException, a BaseException.
PanicException = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})


@pytest.mark.parametrize("raised", [PanicException("panicked"), NotImplementedError("odd"), TypeError("odd")])
def test_read_body_turns_whatever_the_parser_raises_into_a_body_error(
    raised: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parser(data: bytes) -> None:
        raise raised

    monkeypatch.setattr("cryptography.x509.load_pem_x509_certificate", parser)
    with pytest.raises(BodyError, match=type(raised).__name__):
        read_body(issue("odd.example.com", utc(2020, 1, 1)).body)


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), SystemExit(1)])
def test_read_body_lets_what_is_not_a_refusal_through(raised: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    def parser(data: bytes) -> None:
        raise raised

    monkeypatch.setattr("cryptography.x509.load_pem_x509_certificate", parser)
    with pytest.raises(type(raised)):
        read_body(issue("odd.example.com", utc(2020, 1, 1)).body)
