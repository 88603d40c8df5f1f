"""Property-based tests (hypothesis): the verdict against an independent model, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from awsdouble import AwsDouble
from heartbleed.certificate import BodyFacts, CertificateEvidence, CertificateMetadata
from heartbleed.parameters import KNOWN_PARAMETERS, RuleParameters
from heartbleed.verdict import ANNOTATION_LIMIT, evaluate_account
from HeartbleedServerCertificate import lambda_handler

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


def base_event() -> dict[str, Any]:
    return {
        "version": "1.0",
        "invokingEvent": VALID_INVOKING,
        "ruleParameters": json.dumps({"AssumeRoleMode": "false"}),
        "resultToken": "token",
        "eventLeftScope": False,
        "executionRoleArn": "arn:aws:iam::123456789012:role/config-role",
        "configRuleArn": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-hb0001",
        "configRuleName": "HeartbleedServerCertificate",
        "accountId": "123456789012",
    }


def assert_clear_refusal(response: Any) -> None:
    """An error response that says what is wrong; being a dict, it carries no evaluation at all."""
    assert isinstance(response, dict), response
    assert isinstance(response.get("customerErrorCode"), str) and response["customerErrorCode"], response
    assert isinstance(response.get("customerErrorMessage"), str) and response["customerErrorMessage"], response


def run(double: AwsDouble, event: dict[str, Any]) -> Any:
    """lambda_handler against the (empty) double: an event that passes the checks must not reach AWS."""
    with double.environment():
        return lambda_handler(event, None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(base_event())), value=json_values)
def test_a_field_of_the_wrong_type_is_refused_clearly(double_server: AwsDouble, key: str, value: Any) -> None:
    assume(not isinstance(value, str))  # strings: see the tests below
    event = base_event()
    event[key] = value
    assert_clear_refusal(run(double_server, event))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(base_event())), text=st.text(max_size=200))
def test_any_string_anywhere_gives_a_clear_outcome(double_server: AwsDouble, key: str, text: str) -> None:
    event = base_event()
    event[key] = text
    response = run(double_server, event)
    if isinstance(response, list):  # an acceptable event: it ran on the empty account
        assert response == []
    else:
        assert_clear_refusal(response)


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
        if key == "ruleParameters" and not text.strip():
            continue  # an empty string means no parameters
        assert_clear_refusal(lambda_handler(event, None))


@settings(max_examples=100, deadline=None)
@given(parameters=st.dictionaries(st.text(max_size=40), json_values, min_size=1, max_size=4))
def test_random_rule_parameters_never_pass_unnoticed(parameters: dict[str, Any]) -> None:
    assume(set(parameters) - set(KNOWN_PARAMETERS))  # an unknown name is always refused
    event = base_event()
    event["ruleParameters"] = json.dumps(parameters)
    response = lambda_handler(event, None)
    assert_clear_refusal(response)
    assert response["customerErrorCode"] == "InvalidParameterValueException"


def test_a_huge_unicode_parameter_is_refused_with_a_short_message() -> None:
    event = base_event()
    event["ruleParameters"] = json.dumps({"CutoffDate": "\u2603" * 1_000_000})
    response = lambda_handler(event, None)
    assert_clear_refusal(response)
    assert len(response["customerErrorMessage"]) < 1000
