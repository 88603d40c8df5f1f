"""How the rule's boto3 session is built: once per container, with a faster timestamp parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.utils
import pytest

from heartbleed.clients import install_client_defaults, parse_ordering_timestamps, parse_timestamp
from heartbleed.container import SdkSession

# As IAM (XML), Config (JSON epoch seconds) and older services send them.
SAMPLES: list[str | float] = [
    "2014-04-07T00:00:00Z",
    "2014-04-07T23:59:59.123Z",
    "2014-04-07T12:00:00+02:00",
    "2014-04-07T12:00:00.000000Z",
    1396915200,
    1396915200.5,
    "Mon, 07 Apr 2014 12:00:00 GMT",  # RFC 822: botocore's own parser
]


@pytest.mark.parametrize("value", SAMPLES)
def test_timestamps_are_the_instants_botocore_would_parse(value: str | float) -> None:
    parsed = parse_timestamp(value)
    assert parsed.tzinfo is not None
    if isinstance(value, str) and "GMT" not in value:  # taken by the fast path, not botocore's parser
        assert parsed.utcoffset() == botocore.utils.parse_timestamp(value).utcoffset()
        assert type(parsed.tzinfo).__module__ == "datetime"
    # botocore takes epoch numbers too, whatever its stubs say.
    assert parsed == botocore.utils.parse_timestamp(value)  # type: ignore[arg-type]


def test_an_iso_timestamp_without_a_zone_is_left_to_botocore() -> None:
    # fromisoformat would give a naive datetime, which the verdict could not compare with the cutoff.
    assert parse_timestamp("2014-04-07T12:00:00") == botocore.utils.parse_timestamp("2014-04-07T12:00:00")


def test_epoch_seconds_are_utc() -> None:
    assert parse_timestamp(0) == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_warm_container_keeps_its_session_and_counts_each_invocation_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    kept = SdkSession()  # a new container's
    first_calls = install_client_defaults(kept)
    session = boto3.DEFAULT_SESSION
    second_calls = install_client_defaults(kept)
    assert boto3.DEFAULT_SESSION is session  # models and parsers stay loaded
    # The session's hooks count into this invocation's counter, not the first one's.
    assert session is not None
    session._session.emit("before-send.iam.ListServerCertificates", request=None)  # as each attempt does
    assert second_calls.attempts == {"iam:ListServerCertificates": 1} and not first_calls.attempts
    # A different environment (another endpoint, other credentials) gets a session of its own.
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    install_client_defaults(kept)
    assert boto3.DEFAULT_SESSION is not session


def test_the_sessions_clients_parse_timestamps_with_the_fast_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    install_client_defaults(SdkSession())
    assert boto3.DEFAULT_SESSION is not None
    factory = boto3.DEFAULT_SESSION._session.get_component("response_parser_factory")
    assert factory.create_parser("query")._timestamp_parser is parse_timestamp


def test_ordering_timestamps_become_datetimes_once_per_distinct_string() -> None:
    params: dict[str, Any] = {
        "Evaluations": [
            {"ComplianceResourceId": "a", "OrderingTimestamp": "2026-11-29T06:00:00.000Z"},
            {"ComplianceResourceId": "b", "OrderingTimestamp": "2026-11-29T06:00:00.000Z"},
            {"ComplianceResourceId": "c", "OrderingTimestamp": datetime(2026, 11, 28, tzinfo=UTC)},
        ]
    }
    given = params["Evaluations"]
    parse_ordering_timestamps(params=params)
    stamps = [evaluation["OrderingTimestamp"] for evaluation in params["Evaluations"]]
    # The handler's own result (the same dicts, from rdklib) keeps its strings: Lambda returns it as JSON.
    assert given[0]["OrderingTimestamp"] == "2026-11-29T06:00:00.000Z"
    assert stamps == [datetime(2026, 11, 29, 6, tzinfo=UTC)] * 2 + [datetime(2026, 11, 28, tzinfo=UTC)]
    assert stamps[0] is stamps[1]
