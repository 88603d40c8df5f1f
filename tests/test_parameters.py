"""The rule parameters: the one cutoff parser, defaults, and errors that name what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from heartbleed.parameters import DEFAULT_CUTOFF, ParameterError, parse_cutoff, parse_rule_parameters

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def test_defaults_are_the_end_of_the_disclosure_day_with_body_check() -> None:
    params = parse_rule_parameters({}, NOW)
    assert params.cutoff == datetime(2014, 4, 8, tzinfo=UTC)
    assert DEFAULT_CUTOFF == "2014-04-08T00:00:00Z"
    assert params.check_body is True
    assert params.exempt == frozenset()


def test_a_date_means_midnight_utc() -> None:
    assert parse_cutoff("2014-04-01", NOW) == datetime(2014, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-04-08T00:00:00Z", datetime(2014, 4, 8, tzinfo=UTC)),
        ("2014-04-08T00:00:00+00:00", datetime(2014, 4, 8, tzinfo=UTC)),
        # 02:00 in UTC+2 is midnight UTC: the instant counts, not the wall clock.
        ("2014-04-08T02:00:00+02:00", datetime(2014, 4, 8, tzinfo=UTC)),
        ("2014-04-07T19:00:00-05:00", datetime(2014, 4, 8, tzinfo=UTC)),
        ("2014-04-07T12:30:15.250Z", datetime(2014, 4, 7, 12, 30, 15, 250000, tzinfo=UTC)),
    ],
)
def test_date_times_with_a_zone_become_utc_instants(text: str, expected: datetime) -> None:
    parsed = parse_cutoff(text, NOW)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_a_date_time_without_zone_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"CutoffDate '2014-04-08T00:00:00' has no time zone"):
        parse_cutoff("2014-04-08T00:00:00", NOW)


@pytest.mark.parametrize("text", ["April 8 2014", "2014-13-01", "yesterday", "2014/04/08"])
def test_an_unparseable_cutoff_names_value_and_accepted_forms(text: str) -> None:
    with pytest.raises(ParameterError) as error:
        parse_cutoff(text, NOW)
    assert f"CutoffDate '{text}'" in str(error.value)
    assert "ISO 8601" in str(error.value)


def test_a_future_cutoff_is_refused() -> None:
    with pytest.raises(ParameterError, match="in the future"):
        parse_cutoff("2027-01-01", NOW)
    later = datetime(2026, 11, 28, 0, 0, 1, tzinfo=timezone(timedelta(hours=-1)))
    with pytest.raises(ParameterError, match="in the future"):
        parse_cutoff(later.isoformat(), NOW)


def test_unknown_names_are_refused_with_the_accepted_list() -> None:
    with pytest.raises(ParameterError) as error:
        parse_rule_parameters({"CutOffDate": "2014-04-01"}, NOW)
    assert "'CutOffDate'" in str(error.value)
    assert "CutoffDate, CheckCertificateBody, ExemptCertificates" in str(error.value)


@pytest.mark.parametrize("value", ["yes", "1", "on", ""])
def test_check_certificate_body_takes_true_or_false(value: str) -> None:
    if value == "":  # blank means the default
        assert parse_rule_parameters({"CheckCertificateBody": value}, NOW).check_body is True
        return
    with pytest.raises(ParameterError, match=rf"CheckCertificateBody '{value}' is not valid: use true or false"):
        parse_rule_parameters({"CheckCertificateBody": value}, NOW)


def test_boolean_values_ignore_case() -> None:
    assert parse_rule_parameters({"CheckCertificateBody": "FALSE"}, NOW).check_body is False
    assert parse_rule_parameters({"CheckCertificateBody": " True "}, NOW).check_body is True


def test_non_string_values_are_refused() -> None:
    with pytest.raises(ParameterError, match="CheckCertificateBody False is a bool"):
        parse_rule_parameters({"CheckCertificateBody": False}, NOW)


def test_rule_parameters_must_be_an_object() -> None:
    with pytest.raises(ParameterError, match="must be a JSON object of strings, got list"):
        parse_rule_parameters(["CutoffDate"], NOW)  # type: ignore[arg-type]


def test_exempt_certificates_split_on_commas_and_match_name_or_arn() -> None:
    arn = "arn:aws:iam::123456789012:server-certificate/cloudfront/Cdn"
    params = parse_rule_parameters({"ExemptCertificates": f" Legacy , ,{arn}"}, NOW)
    assert params.exempt == frozenset({"Legacy", arn})
    assert params.is_exempt("Legacy", "arn:aws:iam::123456789012:server-certificate/Legacy")
    assert params.is_exempt("Cdn", arn)
    assert not params.is_exempt("Other", "arn:aws:iam::123456789012:server-certificate/Other")


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [
        ("ExecutionRoleName", "role/with/slash", "an IAM role name"),
        ("ExecutionRoleRegion", "mars-1", "an AWS Region code"),
        ("AssumeRoleMode", "maybe", "true or false"),
    ],
)
def test_rdklib_parameters_are_validated_too(name: str, value: str, accepted: str) -> None:
    with pytest.raises(ParameterError) as error:
        parse_rule_parameters({name: value}, NOW)
    assert f"{name} '{value}'" in str(error.value)
    assert accepted in str(error.value)


def test_valid_rdklib_parameters_pass() -> None:
    params = parse_rule_parameters(
        {
            "ExecutionRoleName": "HeartbleedAudit+Role",
            "ExecutionRoleRegion": "us-gov-west-1",
            "AssumeRoleMode": "false",
        },
        NOW,
    )
    assert params.check_body is True


def test_home_region_names_where_iam_is_reported_and_is_checked() -> None:
    anywhere = parse_rule_parameters({"HomeRegion": ""}, NOW)  # blank: the Region the rule runs in
    assert anywhere.home_region is None and anywhere.reports_iam("eu-west-1")
    home = parse_rule_parameters({"HomeRegion": "us-east-1"}, NOW)
    assert home.reports_iam("us-east-1") and not home.reports_iam("eu-west-1")
    with pytest.raises(ParameterError, match=r"HomeRegion 'US East' is not valid: use an AWS Region code"):
        parse_rule_parameters({"HomeRegion": "US East"}, NOW)
