"""botocore's own retry machinery, on the rule's client settings, against the double over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders

from awsdouble import AwsDouble
from heartbleed.account import assess_account
from heartbleed.clients import install_client_defaults
from heartbleed.parameters import RuleParameters
from heartbleed.verdict import Compliance
from heartbleed_tools.pki import issue

THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield THROTTLED


def test_throttled_body_reads_are_retried_to_a_complete_result(aws: AwsDouble) -> None:
    cert = issue("t", datetime(2020, 1, 1, tzinfo=UTC))
    names = [f"throttled-{i}" for i in range(6)]
    for name in names:
        aws.upload(name, cert.body, cert.private_key, uploaded=datetime(2020, 1, 2, tzinfo=UTC))

    install_client_defaults()
    iam = boto3.client("iam")
    sent = {"GetServerCertificate": 0, "throttled": 0}

    def throttle_first_reads(request: Any, **_: Any) -> Any:  # a response here replaces the HTTP call
        body = request.body or b""
        if b"Action=GetServerCertificate" not in (body.encode() if isinstance(body, str) else body):
            return None
        sent["GetServerCertificate"] += 1
        if sent["throttled"] < 3:  # a burst of Throttling answers before IAM recovers
            sent["throttled"] += 1
            return AWSResponse(request.url, 400, HTTPHeaders(), _Raw())
        return None

    iam.meta.events.register("before-send.iam.GetServerCertificate", throttle_first_reads)
    verdicts = assess_account(iam, RuleParameters(cutoff=datetime(2014, 4, 8, tzinfo=UTC)))

    assert sorted(v.name for v in verdicts) == names
    assert {v.compliance for v in verdicts} == {Compliance.COMPLIANT}
    assert sent == {"GetServerCertificate": len(names) + 3, "throttled": 3}
