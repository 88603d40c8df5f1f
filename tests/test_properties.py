"""Property-based tests (hypothesis): the verdict against an independent model, and hostile input."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from heartbleed.certificate import BodyFacts, CertificateEvidence, CertificateMetadata
from heartbleed.parameters import KNOWN_PARAMETERS, RuleParameters
from heartbleed.verdict import ANNOTATION_LIMIT, evaluate_account
from heartbleed_audit.demo.pki import Issued, issue
from heartbleed_audit.double import AwsDouble
from heartbleed_audit.events import RULE_NAME
from HeartbleedServerCertificate import lambda_handler, refusal

ARN = "arn:aws:iam::123456789012:server-certificate/"
EPOCH = datetime(2010, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=16 * 365 * 24).map(lambda hours: EPOCH + timedelta(hours=hours))


@st.composite
def certificates(draw: st.DrawFn) -> CertificateEvidence:
    name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789+=,.@-", min_size=1, max_size=12))
    uploaded = draw(st.none() | instants)
    body = draw(
        st.none()
        | st.builds(BodyFacts, not_before=instants, key_fingerprint=st.sampled_from(["k1", "k2", "k3", "k4", "k5"]))
    )
    return CertificateEvidence(
        CertificateMetadata(name=name, arn=ARN + name, upload_date=uploaded),
        body=body,
        body_problem=None if body else "the body is not a PEM X.509 certificate (ValueError)",
    )


def model(items: list[CertificateEvidence], cutoff: datetime, check_body: bool, exempt: set[str]) -> dict[str, str]:
    """The design's verdict table, written out again independently of heartbleed.verdict."""

    def dated(item: CertificateEvidence) -> bool:
        early_upload = item.metadata.upload_date is not None and item.metadata.upload_date < cutoff
        early_issue = check_body and item.body is not None and item.body.not_before < cutoff
        return early_upload or early_issue

    bad_keys = {i.body.key_fingerprint for i in items if check_body and i.body is not None and dated(i)}
    unread = {i.metadata.name for i in items if check_body and i.body is None}

    def flagged(item: CertificateEvidence) -> bool:
        missing = item.metadata.upload_date is None or (check_body and item.body is None)
        reused = check_body and item.body is not None and item.body.key_fingerprint in bad_keys
        doubt = bool(unread - {item.metadata.name})
        return dated(item) or missing or reused or doubt

    result = {}
    for item in items:
        name = item.metadata.name
        if name in exempt:
            result[name] = "NOT_APPLICABLE"
        else:
            result[name] = "NON_COMPLIANT" if flagged(item) else "COMPLIANT"
    return result


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(certificates(), max_size=12, unique_by=lambda c: c.metadata.name),
    cutoff=instants,
    check_body=st.booleans(),
    data=st.data(),
)
def test_verdicts_equal_the_model(
    items: list[CertificateEvidence], cutoff: datetime, check_body: bool, data: st.DataObject
) -> None:
    if not check_body:  # with the body check off no body is read
        items = [CertificateEvidence(i.metadata) for i in items]
    names = [i.metadata.name for i in items]
    exempt = set(data.draw(st.lists(st.sampled_from(names), unique=True))) if names else set()
    params = RuleParameters(cutoff=cutoff, check_body=check_body, exempt=frozenset(exempt))
    verdicts = evaluate_account(items, params)
    assert {v.name: v.compliance.value for v in verdicts} == model(items, cutoff, check_body, exempt)
    assert all(1 <= len(v.annotation) <= ANNOTATION_LIMIT for v in verdicts)


# ---- hostile event documents ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
VALID_INVOKING = json.dumps(
    {"messageType": "ScheduledNotification", "notificationCreationTime": "2026-11-28T03:00:00.000Z"}
)
# What Config documents, written out again here rather than taken from heartbleed.event_document.
MESSAGE_TYPES = (
    "ConfigurationItemChangeNotification",
    "OversizedConfigurationItemChangeNotification",
    "ScheduledNotification",
)
REQUIRED_STRINGS = ("invokingEvent", "resultToken", "configRuleName", "executionRoleArn")
INVALID_EVENT, INVALID_PARAMETER = "InvalidEventDocument", "InvalidParameterValueException"


def base_event(token: str = "token") -> dict[str, Any]:
    return {
        "version": "1.0",
        "invokingEvent": VALID_INVOKING,
        "ruleParameters": json.dumps({"AssumeRoleMode": "false"}),
        "resultToken": token,
        "eventLeftScope": False,
        "executionRoleArn": "arn:aws:iam::123456789012:role/config-role",
        "configRuleArn": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-hb0001",
        "configRuleName": RULE_NAME,
        "accountId": "123456789012",
    }


def assert_clear_refusal(response: Any, code: str | None = None) -> None:
    """The rule's own refusal (not an rdklib or AWS error), saying what is wrong; it carries no evaluation."""
    assert isinstance(response, dict), response
    assert response.get("customerErrorCode") in ((code,) if code else (INVALID_EVENT, INVALID_PARAMETER)), response
    assert isinstance(response.get("customerErrorMessage"), str) and response["customerErrorMessage"], response
    assert response == refusal(response["customerErrorCode"], response["customerErrorMessage"]), response


@dataclass(frozen=True)
class Refused:
    """The rule refuses the event itself, with this code and a message that names `field`."""

    code: str
    field: str


@dataclass(frozen=True)
class Evaluated:
    stored: bool = True  # Config keeps what it is sent, except in TESTMODE


@dataclass(frozen=True)
class TokenRefused:
    """Config refuses a result token it never issued: an AWS error that rdklib passes on."""


def json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def expectation(key: str, value: Any) -> Refused | Evaluated | TokenRefused | None:
    """What should become of base_event() with event[key] = value, from the event shape Config documents.

    None: a shape random values do not reach, covered by other tests.
    """
    if key == "eventLeftScope":
        return Evaluated() if isinstance(value, bool) else Refused(INVALID_EVENT, key)
    if not isinstance(value, str) or (key in REQUIRED_STRINGS and not value.strip()):
        return Refused(INVALID_EVENT, key)
    if key == "invokingEvent":
        invoking = json_object(value)
        if invoking is None:
            return Refused(INVALID_EVENT, key)
        # A documented message type needs a whole document (tests/test_end_to_end.py).
        return None if invoking.get("messageType") in MESSAGE_TYPES else Refused(INVALID_EVENT, "messageType")
    if key == "ruleParameters":
        parameters = json_object(value or "{}")  # an empty string means no parameters
        if parameters is None:
            return Refused(INVALID_EVENT, key)
        if not parameters:
            return Evaluated()
        # Known names with random values: tests/test_parameters.py.
        return Refused(INVALID_PARAMETER, "unknown parameter") if set(parameters) - set(KNOWN_PARAMETERS) else None
    if key == "resultToken":
        return Evaluated(stored=False) if value == "TESTMODE" else TokenRefused()
    return Evaluated()  # any other string is accepted (a new configRuleName gets its own token)


@cache
def fresh_certificate() -> Issued:
    return issue("www.example.com", datetime.now(UTC) - timedelta(days=1))


def run_hostile(double: AwsDouble, key: str, value: Any) -> str:
    """base_event() with event[key] = value, on a fresh account holding one fresh certificate.

    Checks the outcome against expectation() and returns its kind, so callers can count them.
    """
    expected = expectation(key, value)
    assert expected is not None, (key, value)
    double.reset()
    certificate = fresh_certificate()
    rule = value if key == "configRuleName" and isinstance(value, str) else RULE_NAME
    with double.environment():
        arn = double.upload("fresh", certificate.body, certificate.private_key)["Arn"]
        event = {**base_event(double.result_token(rule)), key: value}
        response = lambda_handler(event, None)
    stored = {resource: e.compliance_type for resource, e in double.evaluations(rule).items()}
    if isinstance(expected, Refused):
        assert_clear_refusal(response, expected.code)
        assert expected.field.lower() in response["customerErrorMessage"].lower(), response
        assert double.put_calls() == []
    elif isinstance(expected, TokenRefused):
        assert isinstance(response, dict) and response["customerErrorCode"] == "InvalidResultTokenException", response
        assert stored == {}
    else:
        assert isinstance(response, list), response
        assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in response] == [(arn, "COMPLIANT")]
        assert stored == ({arn: "COMPLIANT"} if expected.stored else {})
    return type(expected).__name__


def test_a_field_of_any_other_type_gives_the_expected_outcome(double_server: AwsDouble) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=200, deadline=None)
    @given(key=st.sampled_from(sorted(base_event())), value=st.booleans() | json_values)
    def check(key: str, value: Any) -> None:
        assume(not isinstance(value, str))  # strings: see the test below
        assume(expectation(key, value) is not None)
        seen[run_hostile(double_server, key, value)] += 1

    check()
    assert seen["Refused"] and seen["Evaluated"], seen  # a boolean eventLeftScope is the one right type


def test_any_string_anywhere_gives_the_expected_outcome(double_server: AwsDouble) -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=150, deadline=None)
    @given(key=st.sampled_from(sorted(base_event())), text=st.text(max_size=200))
    def check(key: str, text: str) -> None:
        assume(expectation(key, text) is not None)
        seen[run_hostile(double_server, key, text)] += 1

    check()
    assert seen["Refused"] and seen["Evaluated"] and seen["TokenRefused"], seen


@pytest.mark.parametrize(
    ("key", "value", "outcome"),
    [
        ("configRuleName", "another-rule-name", "Evaluated"),
        ("version", "", "Evaluated"),
        ("eventLeftScope", True, "Evaluated"),
        ("ruleParameters", "", "Evaluated"),
        ("ruleParameters", "{}", "Evaluated"),
        ("resultToken", "TESTMODE", "Evaluated"),
        ("resultToken", "never-issued", "TokenRefused"),
        ("eventLeftScope", "false", "Refused"),
        ("configRuleName", " ", "Refused"),
        ("invokingEvent", "{}", "Refused"),
        ("ruleParameters", '{"CutOffDate": "2014-04-01"}', "Refused"),
    ],
)
def test_each_outcome_of_a_changed_field(double_server: AwsDouble, key: str, value: Any, outcome: str) -> None:
    assert run_hostile(double_server, key, value) == outcome


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_strings_that_are_not_json_objects_are_refused(text: str) -> None:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    assume(not isinstance(parsed, dict))
    for key in ("invokingEvent", "ruleParameters"):
        event = base_event()
        event[key] = text
        if key == "ruleParameters" and not text:
            continue  # an empty string means no parameters
        assert_clear_refusal(lambda_handler(event, None))


@settings(max_examples=100, deadline=None)
@given(parameters=st.dictionaries(st.text(max_size=40), json_values, min_size=1, max_size=4))
def test_random_rule_parameters_never_pass_unnoticed(parameters: dict[str, Any]) -> None:
    assume(set(parameters) - set(KNOWN_PARAMETERS))  # an unknown name is always refused
    event = base_event()
    event["ruleParameters"] = json.dumps(parameters)
    response = lambda_handler(event, None)
    assert_clear_refusal(response, INVALID_PARAMETER)


def test_a_huge_unicode_parameter_is_refused_with_a_short_message() -> None:
    event = base_event()
    event["ruleParameters"] = json.dumps({"CutoffDate": "\u2603" * 1_000_000})
    response = lambda_handler(event, None)
    assert_clear_refusal(response)
    assert len(response["customerErrorMessage"]) < 1000
