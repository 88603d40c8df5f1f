"""The console's Remediate button: rules/delete-unused-certificate.yaml's script, run as SSM runs it.

The step's handler is called directly with the inputs SSM passes (the document's InputPayload),
against the AWS double over HTTP; the committed document must be what `make rules` builds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from identities import use_credentials
from moto.core.authorization import enable_iam_authentication
from template_roles import create_roles
from users_of_certificates import distribution_using, load_balancers_using

from build_tools import ssm_document
from heartbleed_audit.certificate_users import Refused, handler
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble

NOW = datetime.now(UTC)


def old_certificate(aws: AwsDouble, name: str = "Legacy2013", days: int = 825) -> dict[str, Any]:
    """A 2013 certificate, uploaded while it was valid; expired now unless days says otherwise."""
    cert = issue("legacy.example.com", datetime(2013, 6, 1, tzinfo=UTC), days=days)
    return aws.upload(name, cert.body, cert.private_key, uploaded=datetime(2013, 6, 2, tzinfo=UTC))


def inputs(arn: str, **flags: Any) -> dict[str, Any]:
    """The InputPayload: SSM passes the document's Boolean parameters as booleans."""
    return {"CertificateArn": arn, "RequireExpired": True, "DryRun": False, **flags}


def exists(aws: AwsDouble, name: str) -> bool:
    names = [
        m["ServerCertificateName"]
        for m in aws.client("iam").list_server_certificates()["ServerCertificateMetadataList"]
    ]
    return name in names


def test_the_committed_document_is_what_make_rules_builds() -> None:
    committed = ssm_document.DOCUMENT.read_text()
    assert committed.split("\n", 1)[1] == ssm_document.document_text()
    standalone = ssm_document.STANDALONE.read_text()
    assert ssm_document.standalone_text(standalone) == standalone
    assert "Runtime: python3.11" in committed and "def handler(events" in committed


def test_an_unused_expired_certificate_is_deleted(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    result = handler(inputs(meta["Arn"]), None)
    assert result["Outcome"] == f"deleted {meta['Arn']}"
    assert any(step.startswith("users: ") for step in result["Checked"])
    assert not exists(aws, "Legacy2013")


def test_a_dry_run_deletes_nothing(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    result = handler(inputs(meta["Arn"], DryRun=True), None)
    assert result["Outcome"] == "dry run: Legacy2013 is unused and would be deleted"
    assert exists(aws, "Legacy2013")


def test_an_already_deleted_certificate_succeeds(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    aws.client("iam").delete_server_certificate(ServerCertificateName="Legacy2013")
    assert handler(inputs(meta["Arn"]), None)["Outcome"] == "already deleted: nothing to do"


def test_an_unexpired_certificate_is_refused_unless_require_expired_is_false(aws: AwsDouble) -> None:
    meta = old_certificate(aws, days=20 * 365)  # issued in 2013, valid until 2033: flagged, not expired
    with pytest.raises(Refused, match="Legacy2013 has not expired \\(RequireExpired is true\\), nothing deleted"):
        handler(inputs(meta["Arn"]), None)
    assert exists(aws, "Legacy2013")
    assert handler(inputs(meta["Arn"], RequireExpired="false"), None)["Outcome"].startswith(
        "deleted"
    )  # as a string too
    assert not exists(aws, "Legacy2013")


def in_use_by(aws: AwsDouble, kind: str, meta: dict[str, Any]) -> str:
    """Make the certificate used by one kind of user; return how the refusal must name it."""
    if kind == "load balancers":
        load_balancers_using(aws, meta["Arn"])  # an ALB's default certificate and a Classic ELB listener
        return "Classic Load Balancer legacy in us-east-1, listener 443; application load balancer shop in us-east-1"
    if kind == "ALB extra certificate":
        other = issue("other.example.com", NOW - timedelta(days=1))
        other_arn = aws.upload("Other", other.body, other.private_key)["Arn"]
        load_balancers_using(aws, other_arn)
        elbv2 = aws.client("elbv2")
        balancer = elbv2.describe_load_balancers(Names=["shop"])["LoadBalancers"][0]["LoadBalancerArn"]
        listener = elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"][0]["ListenerArn"]
        elbv2.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": meta["Arn"]}])
        return "application load balancer shop in us-east-1, listener 443 (extra certificate)"
    if kind == "Classic ELB in another Region":
        elb = boto3.session.Session(region_name="eu-west-1").client("elb", endpoint_url=aws.endpoint_url)
        listener = {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 80}
        elb.create_load_balancer(
            LoadBalancerName="dublin",
            AvailabilityZones=["eu-west-1a"],
            Listeners=[{**listener, "SSLCertificateId": meta["Arn"]}],
        )
        return "Classic Load Balancer dublin in eu-west-1, listener 443"
    distribution = distribution_using(aws, meta["ServerCertificateId"])
    return f"CloudFront distribution {distribution}"


@pytest.mark.parametrize(
    "kind", ["load balancers", "ALB extra certificate", "Classic ELB in another Region", "CloudFront distribution"]
)
def test_a_certificate_in_use_is_refused_and_kept(aws: AwsDouble, kind: str) -> None:
    meta = old_certificate(aws)
    named = in_use_by(aws, kind, meta)
    with pytest.raises(Refused) as refused:
        handler(inputs(meta["Arn"]), None)
    assert str(refused.value).startswith("Legacy2013 is in use, nothing deleted: ")
    assert named in str(refused.value)
    assert exists(aws, "Legacy2013")


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("arn:aws:iam::210987654321:server-certificate/Legacy2013", "belongs to account 210987654321"),
        ("arn:aws:iam::123456789012:role/Legacy2013", "is not an IAM server certificate ARN"),
        ("Legacy2013", "is not an IAM server certificate ARN"),
        ("", "is not an IAM server certificate ARN"),
    ],
)
def test_an_arn_of_another_account_or_a_malformed_one_is_refused(aws: AwsDouble, arn: str, message: str) -> None:
    old_certificate(aws)
    with pytest.raises(Refused, match=message):
        handler(inputs(arn), None)
    assert exists(aws, "Legacy2013")


def test_a_flag_that_is_not_a_boolean_is_refused(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    with pytest.raises(Refused, match="DryRun must be true or false, not 'maybe'"):
        handler(inputs(meta["Arn"], DryRun="maybe"), None)
    assert exists(aws, "Legacy2013")


def as_remediation_role(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch, policy: dict[str, Any] | None = None) -> None:
    """The credentials of the template's RemediationRole (assumed by SSM in AWS; here before enforcement)."""
    role = create_roles(aws, "heartbleed-rule.yaml", ACCOUNT_ID)["RemediationRole"]
    if policy is not None:
        aws.client("iam").put_role_policy(
            RoleName="RemediationRole", PolicyName="DeleteUnusedServerCertificate", PolicyDocument=json.dumps(policy)
        )
    use_credentials(
        monkeypatch, aws.client("sts").assume_role(RoleArn=role, RoleSessionName="automation")["Credentials"]
    )
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a fresh runtime, as SSM gives each execution


def test_the_remediation_role_is_enough_and_deleting_needs_its_delete_permission(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = old_certificate(aws)
    load_balancers_using(aws, old_certificate(aws, "InUse")["Arn"])  # users exist: the describes really run
    as_remediation_role(aws, monkeypatch)
    with enable_iam_authentication():
        assert handler(inputs(meta["Arn"]), None)["Outcome"] == f"deleted {meta['Arn']}"
    assert not exists(aws, "Legacy2013")


def test_without_delete_permission_nothing_is_deleted(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = old_certificate(aws)
    template_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:GetServerCertificate", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeRegions",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeListenerCertificates",
                    "cloudfront:ListDistributions",
                ],
                "Resource": "*",
            },
        ],
    }
    as_remediation_role(aws, monkeypatch, template_policy)
    with enable_iam_authentication(), pytest.raises(ClientError) as denied:
        handler(inputs(meta["Arn"]), None)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert exists(aws, "Legacy2013")
