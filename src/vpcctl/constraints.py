"""AWS's own limits on the values a scenario sets, in one place, each with its source.

`vpcctl` refuses a value AWS would refuse before it makes any call, so a bad file
never leaves half a deployment behind. Every table names the AWS page it comes
from; docs/constraints.md lists them for people. Where botocore's service model
carries the limit (min/max/pattern), the model is the source and is read here.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

# Deployment and scenario names end up in every physical name (`<deployment>-<id>`)
# and in tags. The tightest consumers are ELB names (32 characters, letters, digits and
# hyphens, no hyphen at either end) and IAM role names (64); 24 leaves room for the
# logical id. Lowercase because S3-, ECS- and Route 53-style names fold case.
DEPLOYMENT_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}")
NAME_RULE = "use 1-24 lowercase letters, digits and '-', starting with a letter and not ending in '-'"


def name_problem(name: str) -> str | None:
    """Why a deployment or scenario name is not usable, or None when it is."""
    if not name:
        return "is empty"
    if not DEPLOYMENT_NAME.fullmatch(name) or name.endswith("-") or "--" in name:
        return "is not usable"
    return None


# VPC and subnet IPv4 CIDR sizes: "The allowed block size is between a /16 netmask
# (65,536 IP addresses) and /28 netmask (16 IP addresses)."
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html
VPC_PREFIX = (16, 28)
SUBNET_PREFIX = (16, 28)

# TCP and UDP ports (ELBv2 Port shape: min 1, max 65535; EC2 security-group rules for
# tcp/udp take the same range). ICMP types and codes are -1 (all) to 255.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html
PORT = (1, 65535)
ICMP = (-1, 255)

# Security group and rule descriptions: "Up to 255 characters in length. Valid
# characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html
SG_DESCRIPTION = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")

# CloudWatch Logs retention: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150,
# 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922)
LOG_RETENTION_DAYS += (3288, 3653)


# Fargate task size: the memory values (MiB) each cpu value (units) accepts.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html (cpu, memory)
def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}

# ECS service deployment configuration: minimumHealthyPercent 0-100, maximumPercent
# at least 100 (rolling update); desiredCount at least 0.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html
HEALTHY_PERCENT = (0, 100)
MAXIMUM_PERCENT = (100, 200)

# ECS names (cluster, service, family, container): "Up to 255 letters (uppercase and
# lowercase), numbers, underscores, and hyphens are allowed."
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Image: "Up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores,
# colons, periods, forward slashes, and number signs are allowed." (@ for digests)
ECS_IMAGE = re.compile(r"[A-Za-z0-9\-_:./#@]{1,255}")

# ELBv2 target-group and load-balancer names: "a maximum of 32 characters, must contain
# only alphanumeric characters or hyphens, and must not begin or end with a hyphen."
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
ELB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")

# ELBv2 health checks (CreateTargetGroup): HealthCheckPath 1-1024 characters, an
# absolute path ("The ping path. The default is /."); interval 5-300 seconds;
# healthy and unhealthy threshold counts 2-10.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
HEALTH_CHECK_PATH = re.compile(r"/[\x21-\x7e]{0,1023}")
HEALTH_CHECK_INTERVAL = (5, 300)
HEALTH_CHECK_THRESHOLD = (2, 10)

# Listener protocols by load balancer type (CreateListener: "For Application Load
# Balancers, the supported protocols are HTTP and HTTPS. For Network Load Balancers,
# the supported protocols are TCP, TLS, UDP, and TCP_UDP."); HTTPS and TLS listeners
# need a certificate ("Certificates ... Required if the protocol is HTTPS or TLS").
LISTENER_PROTOCOLS = {"application": ("HTTP", "HTTPS"), "network": ("TCP", "TLS", "UDP", "TCP_UDP")}
NEEDS_CERTIFICATE = ("HTTPS", "TLS")
# A server certificate: one from ACM, or one uploaded to IAM.
CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:(acm:[a-z0-9-]+:\d{12}:certificate/|iam::\d{12}:server-certificate/)\S+")

# IAM (botocore's model of CreateRole): description up to 1000 characters of
# [\t\n\r\x20-\x7E\xA1-\xFF]; managed policies are ARNs.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]{0,1000}")
POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]{1,512}")
SERVICE_PRINCIPAL = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")

# EC2 instances: types such as t3.micro; AMI ids ami- and 8 or 17 hex digits; user
# data "is limited to 16 KB" (before base64 encoding).
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html
INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
AMI_ID = re.compile(r"ami-([0-9a-f]{8}|[0-9a-f]{17})")
USER_DATA_BYTES = 16 * 1024

# DNS names for Route 53 and Resolver: labels of 1-63 letters, digits, hyphens or
# underscores, 255 characters in all.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html
DNS_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
DNS_NAME_LENGTH = 255
# Route 53 TTL: 0 to 2147483647 seconds (ResourceRecordSet TTL).
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html
TTL = (0, 2147483647)

# API Gateway: stage names "can only contain alphanumeric characters, hyphens, and
# underscores. Maximum length is 128 characters."; HTTP methods of a method resource.
# https://docs.aws.amazon.com/apigateway/latest/api/API_CreateStage.html
# https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY")

# Route 53 Resolver endpoints need at least two IP addresses, in two subnets.
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_CreateResolverEndpoint.html
RESOLVER_MIN_IPS = 2


# Availability Zone letters of each Region, as EC2 names them for accounts today
# (regions opened before November 2012 map letters per account; there a letter is
# listed when any account can see it: us-west-1 offers two of a, b, c).
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html
AZ_LETTERS: dict[str, str] = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "abc",
    "us-west-2": "abcd",
    "ca-central-1": "abd",
    "ca-west-1": "abc",
    "mx-central-1": "abc",
    "sa-east-1": "abc",
    "af-south-1": "abc",
    "ap-east-1": "abc",
    "ap-east-2": "abc",
    "ap-northeast-1": "acd",
    "ap-northeast-2": "abcd",
    "ap-northeast-3": "abc",
    "ap-south-1": "abc",
    "ap-south-2": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-southeast-3": "abc",
    "ap-southeast-4": "abc",
    "ap-southeast-5": "abc",
    "ap-southeast-6": "abc",
    "ap-southeast-7": "abc",
    "eu-central-1": "abc",
    "eu-central-2": "abc",
    "eu-north-1": "abc",
    "eu-south-1": "abc",
    "eu-south-2": "abc",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-west-3": "abc",
    "il-central-1": "abc",
    "me-central-1": "abc",
    "me-south-1": "abc",
    "cn-north-1": "ab",
    "cn-northwest-1": "abc",
    "us-gov-east-1": "abc",
    "us-gov-west-1": "abc",
}


@cache
def known_regions() -> frozenset[str]:
    """Every Region botocore's partition data knows, in the commercial, China and GovCloud partitions.

    Read from the data file itself: a botocore session (and its endpoint data, a megabyte
    of JSON) would cost `check` half a second; the file is found without importing botocore."""
    spec = find_spec("botocore")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("botocore")
    text = (Path(spec.origin).parent / "data" / "partitions.json").read_text(encoding="utf-8")
    regions: set[str] = set()
    for partition in json.loads(text)["partitions"]:
        if partition["id"] in ("aws", "aws-cn", "aws-us-gov"):
            regions.update(r for r in partition["regions"] if not r.endswith("-global"))
    return frozenset(regions)


def az_letters(region: str) -> str:
    """The zone letters of a Region; a Region botocore knows but this table does not gets a-c,
    the three zones every Region has ("Each Region has at least three Availability Zones")."""
    return AZ_LETTERS.get(region, "abc")


def in_range(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def is_dns_name(name: str) -> bool:
    name = name.rstrip(".")
    return 0 < len(name) <= DNS_NAME_LENGTH and all(DNS_LABEL.fullmatch(label) for label in name.split("."))
