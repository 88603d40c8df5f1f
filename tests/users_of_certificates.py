"""Users of a server certificate made in the double: a CloudFront distribution, ELBv2 and Classic load balancers."""

from __future__ import annotations

from heartbleed_audit.double import AwsDouble


def distribution_using(aws: AwsDouble, certificate_id: str) -> str:
    origin = {
        "Id": "web",
        "DomainName": "origin.example.com",
        "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
    }
    behaviour = {
        "TargetOriginId": "web",
        "ViewerProtocolPolicy": "redirect-to-https",
        "MinTTL": 0,
        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
        "TrustedSigners": {"Enabled": False, "Quantity": 0},
    }
    config = {
        "CallerReference": "shop",
        "Comment": "",
        "Enabled": True,
        "DefaultCacheBehavior": behaviour,
        "Origins": {"Quantity": 1, "Items": [origin]},
        # CloudFront names an IAM certificate by its ServerCertificateId.
        "ViewerCertificate": {"IAMCertificateId": certificate_id, "SSLSupportMethod": "sni-only"},
    }
    return str(aws.client("cloudfront").create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def load_balancers_using(aws: AwsDouble, arn: str) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elbv2 = aws.client("elbv2")
    balancer = elbv2.create_load_balancer(Name="shop", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name="shop", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    aws.client("elb").create_load_balancer(
        LoadBalancerName="legacy",
        AvailabilityZones=["us-east-1a"],
        Listeners=[
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": 80,
                "SSLCertificateId": arn,
            }
        ],
    )
