"""Who uses an IAM server certificate, and the console's one-click remediation: delete it when nothing does.

Self-contained (the standard library and boto3 only): `make rules` inlines this file as the
aws:executeScript step of rules/delete-unused-certificate.yaml, and heartbleed-audit replace
imports it, so both find a certificate's users the same way.

handler() is the step: it re-reads the certificate, refuses unless the rule's current result for
its ARN is NON_COMPLIANT and about this very certificate, refuses while anything uses it (in every
enabled Region) or while it is unexpired (unless RequireExpired is false), then deletes it (unless
DryRun). It never uploads, and it never sees private key material (IAM never returns it).

No `from __future__ import annotations`: how aws:executeScript loads the script is not documented,
and executed into a fresh namespace (no module in sys.modules), @dataclass cannot resolve string
annotations. tests/test_remediation_document.py runs it both ways.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ClientMaker = Callable[[str, "str | None"], Any]  # (service, Region or None for the default) -> client
RESOURCE_TYPE = "AWS::IAM::ServerCertificate"
ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):server-certificate(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]{1,128})")


@dataclass(frozen=True)
class User:
    """One place the old certificate is in use, and the command that moves it to the new one."""

    where: str
    switch_command: str


def find_users(make_client: ClientMaker, arn: str, certificate_id: str) -> list[User]:
    """Every user of the certificate: Classic ELB and ELBv2 listeners (default and extra certificates)
    in every Region enabled in the account, and CloudFront distributions."""
    regions = sorted(r["RegionName"] for r in make_client("ec2", None).describe_regions()["Regions"])
    users = []
    for region in regions:  # a load balancer in any Region may serve an IAM server certificate
        users += _classic_users(make_client("elb", region), arn, region)
        users += _elbv2_users(make_client("elbv2", region), arn, region)
    return users + _cloudfront_users(make_client("cloudfront", None), certificate_id)


def _classic_users(elb: Any, arn: str, region: str) -> list[User]:
    users = []
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for balancer in page["LoadBalancerDescriptions"]:
            name = balancer["LoadBalancerName"]
            for described in balancer.get("ListenerDescriptions", []):
                port = described["Listener"]["LoadBalancerPort"]
                if described["Listener"].get("SSLCertificateId") == arn:
                    command = (
                        f"aws elb set-load-balancer-listener-ssl-certificate --region {region} "
                        f"--load-balancer-name {name} --load-balancer-port {port} --ssl-certificate-id NEW_ARN"
                    )
                    users.append(User(f"Classic Load Balancer {name} in {region}, listener {port}", command))
    return users


def _elbv2_users(elbv2: Any, arn: str, region: str) -> list[User]:
    users = []
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for balancer in page["LoadBalancers"]:
            for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
                listener_arn = listener["ListenerArn"]
                name = balancer["LoadBalancerName"]
                where = f"{balancer['Type']} load balancer {name} in {region}, listener {listener['Port']}"
                if any(c.get("CertificateArn") == arn for c in listener.get("Certificates", [])):
                    command = (
                        f"aws elbv2 modify-listener --region {region} --listener-arn {listener_arn} "
                        "--certificates CertificateArn=NEW_ARN"
                    )
                    users.append(User(where, command))
                extra = elbv2.describe_listener_certificates(ListenerArn=listener_arn)["Certificates"]
                if any(c.get("CertificateArn") == arn and not c.get("IsDefault") for c in extra):
                    command = (
                        f"aws elbv2 add-listener-certificates --region {region} --listener-arn {listener_arn} "
                        f"--certificates CertificateArn=NEW_ARN && aws elbv2 remove-listener-certificates "
                        f"--region {region} --listener-arn {listener_arn} --certificates CertificateArn={arn}"
                    )
                    users.append(User(f"{where} (extra certificate)", command))
    return users


def _cloudfront_users(cloudfront: Any, certificate_id: str) -> list[User]:
    users = []
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for distribution in page.get("DistributionList", {}).get("Items", []):
            # CloudFront names an IAM certificate by its ServerCertificateId, not its ARN.
            if distribution.get("ViewerCertificate", {}).get("IAMCertificateId") == certificate_id:
                ident = distribution["Id"]
                command = (
                    f"aws cloudfront get-distribution-config --id {ident}; set ViewerCertificate.IAMCertificateId "
                    f"to NEW_ID in its DistributionConfig; aws cloudfront update-distribution --id {ident} "
                    "--if-match ETAG --distribution-config file://config.json"
                )
                users.append(User(f"CloudFront distribution {ident} ({distribution.get('DomainName', '')})", command))
    return users


class Refused(Exception):
    """The certificate must not be deleted; the message says why (the automation step fails with it)."""


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region) if region else boto3.client(service)  # type: ignore[call-overload]


def _flag(value: Any, name: str) -> bool:
    """SSM passes Boolean parameters as booleans; accept their string forms too, nothing else."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise Refused(f"{name} must be true or false, not {value!r}")


def _judged(config: Any, rule: str, arn: str, uploaded: datetime) -> str:
    """Refuse unless rule's current result for arn is NON_COMPLIANT and judged the certificate now there.

    An ARN outlives a delete and a re-upload under the same name and path (heartbleed-audit replace
    does that), so a row can name a certificate it never saw. Its OrderingTimestamp (the notification
    or capture time, before the run read IAM) must come at least a second after this certificate's
    UploadDate, which IAM gives to the second; ResultRecordedTime could follow a run that read the
    old certificate while the new one was uploaded.
    """
    latest: dict[str, Any] | None = None
    for page in config.get_paginator("get_compliance_details_by_config_rule").paginate(ConfigRuleName=rule):
        for result in page["EvaluationResults"]:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if (qualifier["ResourceType"], qualifier["ResourceId"]) == (RESOURCE_TYPE, arn):
                latest = result
    if latest is None:
        raise Refused(f"the rule {rule} has no result for {arn}: nothing done")
    if latest["ComplianceType"] != "NON_COMPLIANT":
        raise Refused(f"the rule {rule} now finds {arn} {latest['ComplianceType']}, not NON_COMPLIANT: nothing done")
    judged_at = latest["EvaluationResultIdentifier"]["OrderingTimestamp"]
    if judged_at < uploaded + timedelta(seconds=1):
        raise Refused(
            f"the certificate now at {arn} was uploaded {uploaded:%Y-%m-%dT%H:%M:%SZ}, not before the "
            f"NON_COMPLIANT result ({judged_at:%Y-%m-%dT%H:%M:%SZ}): that result judged an earlier certificate "
            "under the same name; nothing done, wait for the rule to evaluate this one"
        )
    return f"result: {rule} found it NON_COMPLIANT at {judged_at:%Y-%m-%dT%H:%M:%SZ}, after its upload"


def handler(events: dict[str, Any], context: Any, make_client: ClientMaker = _boto3_client) -> dict[str, Any]:
    """Delete one IAM server certificate, by ARN, only when the rule found it NON_COMPLIANT, nothing uses it
    and (by default) it has expired."""
    arn = str(events.get("CertificateArn", ""))
    require_expired = _flag(events.get("RequireExpired", True), "RequireExpired")
    dry_run = _flag(events.get("DryRun", False), "DryRun")
    rule = str(events.get("ConfigRuleName", ""))
    if not rule:
        raise Refused("ConfigRuleName is missing: the name of the rule whose NON_COMPLIANT result this acts on")
    parts = ARN.fullmatch(arn)
    if not parts:
        raise Refused(
            f"CertificateArn {arn[:300]!r} is not an IAM server certificate ARN: "
            "arn:aws:iam::ACCOUNT:server-certificate/NAME, with the path if it has one"
        )
    account, name = parts.group(2), parts.group(4)
    here = make_client("sts", None).get_caller_identity()["Account"]
    if account != here:
        raise Refused(f"{arn} belongs to account {account}; this automation runs in account {here}: nothing done")
    iam = make_client("iam", None)
    checked = [f"read {arn}"]
    try:
        meta = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]["ServerCertificateMetadata"]
    except iam.exceptions.NoSuchEntityException:
        return {"Outcome": "already deleted: nothing to do", "Checked": checked}
    if meta["Arn"] != arn:
        raise Refused(f"the certificate named {name} is now {meta['Arn']}, not {arn}: nothing done")
    checked.append(_judged(make_client("config", None), rule, arn, meta["UploadDate"]))
    users = find_users(make_client, arn, meta["ServerCertificateId"])
    checked.append("users: Classic ELB and ELBv2 listeners in every enabled Region, CloudFront distributions")
    if users:
        raise Refused(f"{name} is in use, nothing deleted: " + "; ".join(user.where for user in users))
    expiration = meta.get("Expiration")
    checked.append(f"expiration: {expiration:%Y-%m-%dT%H:%M:%SZ}" if expiration else "expiration: not given")
    if require_expired and (expiration is None or expiration > datetime.now(UTC)):
        raise Refused(f"{name} has not expired (RequireExpired is true), nothing deleted")
    if dry_run:
        return {"Outcome": f"dry run: {name} is unused and would be deleted", "Checked": checked}
    iam.delete_server_certificate(ServerCertificateName=name)
    return {"Outcome": f"deleted {arn}", "Checked": checked}
