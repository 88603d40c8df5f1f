"""The console's Remediate button: rules/delete-unused-certificate.yaml's script, run as SSM runs it.

The step's handler is called directly with the inputs SSM passes (the document's InputPayload),
against the AWS double over HTTP; the committed document must be what `make rules` builds.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml
from identities import use_credentials
from moto.core.authorization import enable_iam_authentication
from template_roles import create_roles
from users_of_certificates import distribution_using, load_balancers_using

from build_tools import ssm_document
from heartbleed_audit import events
from heartbleed_audit.certificate_users import Refused, handler
from heartbleed_audit.demo.pki import issue
from heartbleed_audit.double import ACCOUNT_ID, AwsDouble
from HeartbleedServerCertificate import lambda_handler

NOW = datetime.now(UTC)


def old_certificate(aws: AwsDouble, name: str = "Legacy2013", days: int = 825) -> dict[str, Any]:
    """A 2013 certificate, uploaded while it was valid; expired now unless days says otherwise."""
    cert = issue("legacy.example.com", datetime(2013, 6, 1, tzinfo=UTC), days=days)
    return aws.upload(name, cert.body, cert.private_key, uploaded=datetime(2013, 6, 2, tzinfo=UTC))


def judged(aws: AwsDouble) -> None:
    """A periodic run of the rule: the results the console's Remediate button acts on."""
    lambda_handler(events.scheduled_event(aws.result_token(events.RULE_NAME), events.LOCAL_ROLE), None)


def inputs(arn: str, **flags: Any) -> dict[str, Any]:
    """The InputPayload: SSM passes the document's Boolean parameters as booleans."""
    return {"CertificateArn": arn, "ConfigRuleName": events.RULE_NAME, "RequireExpired": True, "DryRun": False, **flags}


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
    judged(aws)
    result = handler(inputs(meta["Arn"]), None)
    assert result["Outcome"] == f"deleted {meta['Arn']}"
    assert any(step.startswith("users: ") for step in result["Checked"])
    assert not exists(aws, "Legacy2013")


def test_a_dry_run_deletes_nothing(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    judged(aws)
    result = handler(inputs(meta["Arn"], DryRun=True), None)
    assert result["Outcome"] == "dry run: Legacy2013 is unused and would be deleted"
    assert exists(aws, "Legacy2013")


def test_an_already_deleted_certificate_succeeds(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    aws.client("iam").delete_server_certificate(ServerCertificateName="Legacy2013")
    assert handler(inputs(meta["Arn"]), None)["Outcome"] == "already deleted: nothing to do"


def test_an_unexpired_certificate_is_refused_unless_require_expired_is_false(aws: AwsDouble) -> None:
    meta = old_certificate(aws, days=20 * 365)  # issued in 2013, valid until 2033: flagged, not expired
    judged(aws)
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
    judged(aws)
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
    judged(aws)
    as_remediation_role(aws, monkeypatch)
    with enable_iam_authentication():
        assert handler(inputs(meta["Arn"]), None)["Outcome"] == f"deleted {meta['Arn']}"
    assert not exists(aws, "Legacy2013")


def test_without_delete_permission_nothing_is_deleted(aws: AwsDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = old_certificate(aws)
    judged(aws)
    template_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:GetServerCertificate", "Resource": "*"},
            {"Effect": "Allow", "Action": "config:GetComplianceDetailsByConfigRule", "Resource": "*"},
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
    assert denied.value.operation_name == "DeleteServerCertificate"  # every check before it was allowed
    assert exists(aws, "Legacy2013")


def test_the_already_deleted_path_runs_under_the_remediation_role(
    aws: AwsDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = old_certificate(aws)
    aws.client("iam").delete_server_certificate(ServerCertificateName="Legacy2013")
    as_remediation_role(aws, monkeypatch)
    with enable_iam_authentication():  # IAM authorizes the read of a missing name against its ARN
        assert handler(inputs(meta["Arn"]), None)["Outcome"] == "already deleted: nothing to do"


def test_a_fresh_certificate_under_the_old_rows_arn_is_kept(aws: AwsDouble) -> None:
    """The probe: a NON_COMPLIANT row outlives its certificate, and a fresh one takes the same ARN."""
    old = old_certificate(aws, "Shop")
    judged(aws)
    assert aws.evaluations(events.RULE_NAME)[old["Arn"]].compliance_type == "NON_COMPLIANT"
    aws.client("iam").delete_server_certificate(ServerCertificateName="Shop")
    fresh_cert = issue("shop.example.com", NOW - timedelta(days=1))
    fresh = aws.upload("Shop", fresh_cert.body, fresh_cert.private_key)
    assert fresh["Arn"] == old["Arn"] and fresh["ServerCertificateId"] != old["ServerCertificateId"]
    earlier = r"not before the NON_COMPLIANT result \(.*\): that result judged an earlier certificate"
    with pytest.raises(Refused, match=earlier):
        handler(inputs(old["Arn"], RequireExpired=False), None)
    assert exists(aws, "Shop")
    judged(aws)  # once the rule has judged the fresh certificate, its row says so
    with pytest.raises(Refused, match=re.escape(f"now finds {old['Arn']} COMPLIANT, not NON_COMPLIANT")):
        handler(inputs(old["Arn"], RequireExpired=False), None)
    assert exists(aws, "Shop")


def test_a_certificate_the_rule_has_not_judged_is_kept(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    aws.result_token(events.RULE_NAME)  # the rule exists, with no result yet
    with pytest.raises(Refused, match=re.escape(f"the rule {events.RULE_NAME} has no result for {meta['Arn']}")):
        handler(inputs(meta["Arn"]), None)
    assert exists(aws, "Legacy2013")


def test_without_the_rule_name_nothing_is_done(aws: AwsDouble) -> None:
    meta = old_certificate(aws)
    judged(aws)
    payload = inputs(meta["Arn"])
    del payload["ConfigRuleName"]
    with pytest.raises(Refused, match="ConfigRuleName is missing"):
        handler(payload, None)
    assert exists(aws, "Legacy2013")


def committed_script() -> str:
    """The Script of the committed document's step, as SSM receives it."""
    document = cfn_yaml.loads(ssm_document.DOCUMENT.read_text())
    return str(document["mainSteps"][0]["inputs"]["Script"])


@pytest.mark.parametrize("loading", ["imported as a module", "executed into a fresh namespace", "executed bare"])
def test_the_committed_script_runs_however_ssm_loads_it(
    aws: AwsDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loading: str
) -> None:
    """How aws:executeScript loads the script is not documented: it must run as a module in sys.modules,
    as code executed into a namespace whose __name__ is no module, and with no __name__ at all."""
    meta = old_certificate(aws)
    judged(aws)
    name = f"ssm_script_{loading.split()[0]}"  # a module name that nothing else imports
    if loading == "imported as a module":
        (tmp_path / f"{name}.py").write_text(committed_script())
        monkeypatch.syspath_prepend(str(tmp_path))
        try:
            namespace = vars(importlib.import_module(name))
        finally:
            sys.modules.pop(name, None)
    else:
        namespace = {"__name__": name} if loading == "executed into a fresh namespace" else {}
        # dont_inherit: not this test module's own `from __future__ import annotations`
        exec(compile(committed_script(), "<Script>", "exec", dont_inherit=True), namespace)
    result = namespace["handler"](inputs(meta["Arn"]), None)
    assert result["Outcome"] == f"deleted {meta['Arn']}"
    assert not exists(aws, "Legacy2013")


def test_the_double_lists_a_listeners_extra_certificates_only_where_elbv2_does(aws: AwsDouble) -> None:
    """DescribeListeners gives the default certificate; DescribeListenerCertificates adds the extra ones."""
    meta = old_certificate(aws)
    in_use_by(aws, "ALB extra certificate", meta)
    elbv2 = aws.client("elbv2")
    balancer = elbv2.describe_load_balancers(Names=["shop"])["LoadBalancers"][0]["LoadBalancerArn"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    other = f"arn:aws:iam::{ACCOUNT_ID}:server-certificate/Other"
    assert listener["Certificates"] == [{"CertificateArn": other}]
    listed = elbv2.describe_listener_certificates(ListenerArn=listener["ListenerArn"])["Certificates"]
    assert listed == [{"CertificateArn": other, "IsDefault": True}, {"CertificateArn": meta["Arn"], "IsDefault": False}]
