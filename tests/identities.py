"""Who a test acts as under the double's IAM enforcement: the shipped policy, a user, a role's session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto.core.authorization import enable_iam_authentication

from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

POLICY = json.loads((Path(__file__).resolve().parents[1] / "rules" / "least-privilege-policy.json").read_text())
FUNCTION_USER = "rule-function"  # the IAM user acting_as makes
AUDIT_ROLE = "HeartbleedServerCertificateAudit"  # rules/audit-role.yaml's role, which the organization audit assumes
AUDITOR = f"arn:aws:iam::{ACCOUNT_ID}:user/{FUNCTION_USER}"  # the principal acting_as gives a test


@contextmanager
def acting_as(aws: AwsDouble, policy: dict[str, Any]) -> Iterator[None]:
    """Run the block with the credentials of an IAM user holding only policy, enforcement on."""
    iam = aws.client("iam")
    iam.create_user(UserName=FUNCTION_USER)
    iam.put_user_policy(UserName=FUNCTION_USER, PolicyName="rule", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=FUNCTION_USER)["AccessKey"]
    saved = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    try:
        with enable_iam_authentication():
            yield
    finally:
        os.environ.update(saved)


def use_credentials(monkeypatch: pytest.MonkeyPatch, credentials: Mapping[str, Any]) -> None:
    """Make an AssumeRole answer's Credentials the environment's, as Lambda or SSM would for their role."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
