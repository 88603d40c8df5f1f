"""The AWS double: moto, extended where it falls short for this rule, served over HTTP.

    with AwsDouble() as aws:
        iam = aws.client("iam")   # a real botocore client talking HTTP to 127.0.0.1
        aws.upload(...)           # a certificate with a chosen UploadDate

The extensions (iam_server_certificates, config_evaluations, conditions, role_trust, acm_certificates,
ec2_regions, elbv2_listeners, signatures, dynamodb_tables) patch moto's handlers in place, so the in-process
mock and the server behave alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

import boto3
from moto.acm.models import acm_backends
from moto.config.models import config_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import IAMBackend, iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.organizations.models import organizations_backends
from moto.sts.models import sts_backends

from . import (
    acm_certificates,
    conditions,
    config_evaluations,
    dispatch,
    dynamodb_tables,
    ec2_regions,
    elbv2_listeners,
    iam_server_certificates,
    role_trust,
    signatures,
)
from .config_evaluations import StoredEvaluation, evaluation_state, issue_result_token

ACCOUNT_ID = DEFAULT_ACCOUNT_ID  # the account the double's own clients act in (an organization's management account)
MEMBER_ADMIN_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates in a new member account
REGION = "us-east-1"  # the home Region, which records the global AWS::IAM::ServerCertificate type
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIADOUBLEDOUBLE0000",
    "AWS_SECRET_ACCESS_KEY": "double-secret",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def install() -> None:
    """Patch moto with the extensions (idempotent)."""
    iam_server_certificates.install()
    config_evaluations.install()
    conditions.install()
    dispatch.install()
    role_trust.install()
    acm_certificates.install()
    ec2_regions.install()
    elbv2_listeners.install()
    signatures.install()
    dynamodb_tables.install()


@contextmanager
def environment(endpoint_url: str) -> Iterator[None]:
    """Point every boto3 client made inside at the double, with fake credentials."""
    values = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class AwsDouble:
    """moto's server on a free loopback port, with helpers to arrange and inspect its state."""

    def __init__(self) -> None:
        install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""
        self._clients: dict[tuple[str, str, str], Any] = {}
        self.conditions = conditions.CONDITIONS  # latency, rate limits and call counts

    def __enter__(self) -> AwsDouble:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.reset()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource (moto keeps backends per process) and every injected condition."""
        self.conditions.wait_until_settled()  # a request a client gave up on would write into the new state
        for backends in (
            iam_backends,
            config_backends,
            acm_backends,
            organizations_backends,
            sts_backends,
            dynamodb_backends,
        ):
            backends.reset()
        # Clients of other accounts hold credentials the reset STS no longer knows.
        self._clients = {key: made for key, made in self._clients.items() if key[1] == ACCOUNT_ID}
        self.conditions.reset()

    def client(self, service: str, account: str = ACCOUNT_ID, region: str = REGION) -> Any:
        """A real botocore client for the double (made once per service and Region: clients are slow to build).

        For another account, the client holds credentials of a role session in it (moto answers
        each request in the account its access key belongs to); arrange before IAM enforcement.
        """
        if (service, account, region) not in self._clients:
            keys = {
                "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            }
            if account != ACCOUNT_ID:
                role = f"arn:aws:iam::{account}:role/{MEMBER_ADMIN_ROLE}"
                got = self.client("sts").assume_role(RoleArn=role, RoleSessionName="double")["Credentials"]
                keys = {
                    "aws_access_key_id": got["AccessKeyId"],
                    "aws_secret_access_key": got["SecretAccessKey"],
                    "aws_session_token": got["SessionToken"],
                }
            session = boto3.session.Session(region_name=region, **keys)  # type: ignore[arg-type]
            self._clients[(service, account, region)] = session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url
            )
        return self._clients[(service, account, region)]

    def organization(self, members: int) -> list[str]:
        """An organization managed by ACCOUNT_ID with new member accounts (each with MEMBER_ADMIN_ROLE)."""
        organizations = self.client("organizations")
        organizations.create_organization(FeatureSet="ALL")
        return [
            organizations.create_account(Email=f"member{i}@example.com", AccountName=f"member-{i}")[
                "CreateAccountStatus"
            ]["AccountId"]
            for i in range(members)
        ]

    def environment(self) -> Any:
        return environment(self.endpoint_url)

    # --- IAM server certificates -------------------------------------------------
    @property
    def _iam(self) -> IAMBackend:
        return iam_backends[ACCOUNT_ID]["aws"]

    def upload(
        self,
        name: str,
        body: str,
        private_key: str,
        *,
        chain: str | None = None,
        path: str = "/",
        uploaded: datetime | None = None,
        account: str = ACCOUNT_ID,
    ) -> dict[str, Any]:
        """Upload through the IAM API at the instant `uploaded` (default now): IAM checks the
        certificate's validity as of then and records it as the UploadDate."""
        request: dict[str, Any] = {
            "ServerCertificateName": name,
            "CertificateBody": body,
            "PrivateKey": private_key,
            "Path": path,
        }
        if chain:
            request["CertificateChain"] = chain
        state = iam_server_certificates.state_of(iam_backends[account]["aws"])
        state.clock = uploaded
        try:
            response = self.client("iam", account).upload_server_certificate(**request)
        finally:
            state.clock = None
        meta: dict[str, Any] = response["ServerCertificateMetadata"]
        return meta

    def accepted_earlier(self, name: str, body: str, *, uploaded: datetime, account: str = ACCOUNT_ID) -> None:
        """A server certificate that IAM accepted at `uploaded` and returns as stored, whatever today's
        parsers make of its body: real accounts hold bodies that an older validation let through."""
        iam_server_certificates.store(iam_backends[account]["aws"], name, body, at=uploaded)

    def set_certificate_quota(self, quota: int) -> None:
        """Raise the account's server certificate quota, as a Service Quotas request would (20 to 1000)."""
        if not iam_server_certificates.DEFAULT_QUOTA <= quota <= iam_server_certificates.MAX_QUOTA:
            raise ValueError(f"the server certificate quota is adjustable from 20 to 1000, not {quota}")
        iam_server_certificates.state_of(self._iam).quota = quota

    def set_page_limit(self, limit: int | None) -> None:
        """Make ListServerCertificates return short pages, as IAM may."""
        iam_server_certificates.state_of(self._iam).page_limit = limit

    # --- ACM certificates ----------------------------------------------------------
    def import_acm(
        self, body: str, private_key: str, *, account: str = ACCOUNT_ID, region: str = REGION, arn: str | None = None
    ) -> str:
        """Import through the ACM API (Type IMPORTED; given an ARN, a re-import under it); return the ARN."""
        request: dict[str, Any] = {"Certificate": body.encode(), "PrivateKey": private_key.encode()}
        if arn:
            request["CertificateArn"] = arn
        return str(self.client("acm", account, region).import_certificate(**request)["CertificateArn"])

    def request_acm(self, domain: str, *, account: str = ACCOUNT_ID, region: str = REGION) -> str:
        """Request a certificate from ACM (Type AMAZON_ISSUED: ACM makes its key); return the ARN."""
        return str(self.client("acm", account, region).request_certificate(DomainName=domain)["CertificateArn"])

    # --- AWS Config evaluations --------------------------------------------------
    def result_token(self, rule_name: str, account: str = ACCOUNT_ID, region: str = REGION) -> str:
        return issue_result_token(account, region, rule_name)

    def evaluations(
        self, rule_name: str, account: str = ACCOUNT_ID, region: str = REGION
    ) -> dict[str, StoredEvaluation]:
        """The rule's current evaluations by resource id, as Config would show them in account and region."""
        results = evaluation_state(config_backends[account][region]).results.get(rule_name, {})
        return {resource_id: stored for (_, resource_id), stored in results.items()}

    def reject_evaluations(self, count: int) -> None:
        """Answer the next `count` evaluations sent with FailedEvaluations, as Config may."""
        evaluation_state(config_backends[ACCOUNT_ID][REGION]).reject_next = count

    def put_calls(self, account: str = ACCOUNT_ID, region: str = REGION) -> list[config_evaluations.PutEvaluationsCall]:
        return list(evaluation_state(config_backends[account][region]).calls)

    def started_evaluations(self, account: str = ACCOUNT_ID) -> list[config_evaluations.StartedEvaluation]:
        """The StartConfigRulesEvaluation calls Config accepted in the account, in order."""
        return list(evaluation_state(config_backends[account][REGION]).started)

    def set_start_interval(self, seconds: float, account: str = ACCOUNT_ID) -> None:
        """How soon Config accepts another StartConfigRulesEvaluation of one rule (60 s, as AWS)."""
        evaluation_state(config_backends[account][REGION]).start_interval_s = seconds
