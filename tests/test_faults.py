"""Lost answers, throttling and 5xx: `up` converges with no duplicate and `teardown` leaves
nothing, for fargate-privatelink and closed-vpc-apigw.

One moto per module (per worker under xdist), each case its own deployment, the sandbox
at time scale 0. `make test` runs one cheap sample: a handful of answers lost in one
deployment of fargate-privatelink. On request (see README):

- VPCCTL_FAULTS=1: the mixes (10 % lost, 20 % throttled, 5 % 5xx; three seeds per scenario);
- VPCCTL_FAULTS_FULL=1: the mixes and the sweep: the first answer of every mutating
  operation `up` and `teardown` make, lost one at a time, one case per (scenario, phase,
  operation). A case for a teardown operation runs `up` without faults first; a case for an
  `up` operation tears down without faults. Run it across cores with `-n auto --dist load`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import REGION, SCENARIOS, no_sleep
from faults import Faults, install, is_mutating, owned_resources, owned_twins, record_operations

FULL = os.environ.get("VPCCTL_FAULTS_FULL") == "1"
MIXES = FULL or os.environ.get("VPCCTL_FAULTS") == "1"
on_request = pytest.mark.skipif(not MIXES, reason="fault mixes: set VPCCTL_FAULTS=1 (or VPCCTL_FAULTS_FULL=1)")
full_only = pytest.mark.skipif(not FULL, reason="fault sweep: set VPCCTL_FAULTS_FULL=1")

# Every mutating operation each phase makes, as a clean run records it (the sweep's cases;
# test_the_sweep_names_every_mutating_operation keeps the table true).
OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "fargate-privatelink": {
        "up": (
            "cloudwatch-logs:CreateLogGroup",
            "cloudwatch-logs:PutRetentionPolicy",
            "ec2:AssociateRouteTable",
            "ec2:AttachInternetGateway",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateInternetGateway",
            "ec2:CreateRoute",
            "ec2:CreateRouteTable",
            "ec2:CreateSecurityGroup",
            "ec2:CreateSubnet",
            "ec2:CreateVpc",
            "ec2:CreateVpcEndpoint",
            "ec2:ModifyVpcAttribute",
            "ecr:CreatePullThroughCacheRule",
            "ecs:CreateCluster",
            "ecs:CreateService",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "elastic-load-balancing-v2:CreateListener",
            "elastic-load-balancing-v2:CreateLoadBalancer",
            "elastic-load-balancing-v2:CreateTargetGroup",
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "ssm:PutParameter",
        ),
        "teardown": (
            "cloudwatch-logs:DeleteLogGroup",
            "ec2:DeleteInternetGateway",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteSubnet",
            "ec2:DeleteVpc",
            "ec2:DeleteVpcEndpoints",
            "ec2:DetachInternetGateway",
            "ec2:DisassociateRouteTable",
            "ec2:RevokeSecurityGroupIngress",
            "ecr:DeletePullThroughCacheRule",
            "ecr:DeleteRepository",
            "ecs:DeleteCluster",
            "ecs:DeleteService",
            "ecs:DeregisterTaskDefinition",
            "ecs:UpdateService",
            "elastic-load-balancing-v2:DeleteListener",
            "elastic-load-balancing-v2:DeleteLoadBalancer",
            "elastic-load-balancing-v2:DeleteTargetGroup",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "ssm:DeleteParameter",
        ),
    },
    "closed-vpc-apigw": {
        "up": (
            "api-gateway:CreateDeployment",
            "api-gateway:CreateRestApi",
            "api-gateway:CreateStage",
            "api-gateway:CreateVpcLink",
            "api-gateway:PutIntegration",
            "api-gateway:PutMethod",
            "cloudwatch-logs:CreateLogGroup",
            "cloudwatch-logs:PutRetentionPolicy",
            "ec2:AcceptVpcPeeringConnection",
            "ec2:AssociateRouteTable",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateRoute",
            "ec2:CreateRouteTable",
            "ec2:CreateSecurityGroup",
            "ec2:CreateSubnet",
            "ec2:CreateVpc",
            "ec2:CreateVpcEndpoint",
            "ec2:CreateVpcPeeringConnection",
            "ec2:ModifyVpcAttribute",
            "ec2:ModifyVpcPeeringConnectionOptions",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RunInstances",
            "ecr:CreatePullThroughCacheRule",
            "ecs:CreateCluster",
            "ecs:CreateService",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "elastic-load-balancing-v2:CreateListener",
            "elastic-load-balancing-v2:CreateLoadBalancer",
            "elastic-load-balancing-v2:CreateTargetGroup",
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "route-53:ChangeResourceRecordSets",
            "route-53:ChangeTagsForResource",
            "route-53:CreateHostedZone",
            "route53resolver:AssociateResolverRule",
            "route53resolver:CreateResolverEndpoint",
            "route53resolver:CreateResolverRule",
            "ssm:PutParameter",
        ),
        "teardown": (
            "api-gateway:DeleteRestApi",
            "api-gateway:DeleteVpcLink",
            "cloudwatch-logs:DeleteLogGroup",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteSubnet",
            "ec2:DeleteVpc",
            "ec2:DeleteVpcEndpoints",
            "ec2:DeleteVpcPeeringConnection",
            "ec2:DisassociateRouteTable",
            "ec2:TerminateInstances",
            "ecr:DeletePullThroughCacheRule",
            "ecr:DeleteRepository",
            "ecs:DeleteCluster",
            "ecs:DeleteService",
            "ecs:DeregisterTaskDefinition",
            "ecs:UpdateService",
            "elastic-load-balancing-v2:DeleteListener",
            "elastic-load-balancing-v2:DeleteLoadBalancer",
            "elastic-load-balancing-v2:DeleteTargetGroup",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "route-53:ChangeResourceRecordSets",
            "route-53:DeleteHostedZone",
            "route53resolver:DeleteResolverEndpoint",
            "route53resolver:DeleteResolverRule",
            "route53resolver:DisassociateResolverRule",
            "ssm:DeleteParameter",
        ),
    },
}
SCENARIO_NAMES = tuple(OPERATIONS)

# Creates with no idempotency token: a lost answer makes a twin, which up deletes and reports.
NO_TOKEN = {"ec2:CreateVpc", "ec2:CreateInternetGateway", "api-gateway:CreateRestApi", "api-gateway:CreateVpcLink"}

# make test's sample: answers lost together in one deployment — a create without a token,
# creates AWS refuses as duplicates when retried, and deletes and detaches that meet
# "not found / not attached" when retried.
SAMPLE = {
    "up": {
        "ec2:CreateVpc",
        "ec2:CreateSubnet",
        "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AttachInternetGateway",
        "elastic-load-balancing-v2:CreateTargetGroup",
        "iam:CreateRole",
        "cloudwatch-logs:CreateLogGroup",
        "ec2:DeleteVpc",  # of the twin CreateVpc's retry made: deleting it is ambiguous too
    },
    "teardown": {
        "ec2:DetachInternetGateway",
        "ec2:DeleteSubnet",
        "iam:DetachRolePolicy",
        "cloudwatch-logs:DeleteLogGroup",
    },
}
OPTIONS = {"poll_interval": 0, "wait_timeout": 30, "delete_timeout": 5, "sleep": no_sleep}


@pytest.fixture(scope="module", autouse=True)
def no_backoff() -> Iterator[None]:
    """botocore's standard retry mode sleeps between attempts: not in tests."""
    from botocore.retries.standard import ExponentialBackoff

    mp = pytest.MonkeyPatch()
    mp.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    yield
    mp.undo()


def run(name: str, deployment: str, up_faults: Faults | None, down_faults: Faults | None) -> dict[str, Any]:
    """up then teardown of a scenario, each under its faults (one Faults may serve both):
    what went wrong, read from the reports and straight from AWS; {} when nothing did."""
    from vpcctl import deploy, scenario
    from vpcctl.aws import Aws

    loaded = scenario.load(str(SCENARIOS / f"{name}.yaml"))
    up_aws = Aws(REGION)
    down_aws = up_aws if down_faults is up_faults else Aws(REGION)
    if up_faults is not None:
        install(up_aws, up_faults)
    if down_faults is not None and down_aws is not up_aws:
        install(down_aws, down_faults)
    up = deploy.up(loaded, deploy.context(up_aws, deployment, loaded, lambda e: None, **OPTIONS))
    twins = owned_twins(Aws(REGION), deployment)
    down = deploy.teardown(deploy.context(down_aws, deployment, loaded, lambda e: None, **OPTIONS))
    problems = {
        "up": failures(up),
        "twins": twins,
        "teardown": failures(down),
        "left": [f"{f.kind} {f.logical_id}" for f in down.leftovers] + owned_resources(Aws(REGION), deployment),
    }
    return {k: v for k, v in problems.items() if v} | {"_up": up}


def failures(report: Any) -> dict[str, str]:
    return {step: result.detail for step, result in report.failed.items()}


def reported_duplicate(up: Any) -> bool:
    return any(c.attribute == "duplicate" for changes in up.changes.values() for c in changes)


def broken(problems: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problems.items() if not k.startswith("_")}


def test_a_handful_of_lost_answers_in_one_deployment(moto_module: None) -> None:
    up_faults, down_faults = Faults(lose_first=SAMPLE["up"]), Faults(lose_first=SAMPLE["teardown"])
    problems = run("fargate-privatelink", "lost-sample", up_faults, down_faults)
    assert not broken(problems)
    assert set(up_faults.lost) == SAMPLE["up"] and set(down_faults.lost) == SAMPLE["teardown"]
    assert reported_duplicate(problems["_up"])  # CreateVpc has no token: its twin was deleted and said so


def sweep_cases() -> list[Any]:
    return [
        pytest.param(name, phase, op, id=f"{name}-{phase}-{op}")
        for name, phases in OPERATIONS.items()
        for phase, ops in phases.items()
        for op in ops
    ]


@full_only
@pytest.mark.parametrize(("name", "phase", "op"), sweep_cases())
def test_lose_the_first_answer_of_one_operation(moto_module: None, name: str, phase: str, op: str) -> None:
    faults = Faults(lose_first={op})
    number = OPERATIONS[name][phase].index(op)
    deployment = f"{phase[0]}{number}-{name[:4]}"
    problems = run(name, deployment, faults if phase == "up" else None, faults if phase == "teardown" else None)
    assert op in faults.lost, "the answer was never lost: the case tests nothing"
    assert not broken(problems)
    if op in NO_TOKEN:
        assert reported_duplicate(problems["_up"])


@full_only
def test_the_sweep_names_every_mutating_operation(moto_module: None) -> None:
    from vpcctl import deploy, scenario
    from vpcctl.aws import Aws

    for name in SCENARIO_NAMES:
        loaded = scenario.load(str(SCENARIOS / f"{name}.yaml"))
        recorded = {}
        for phase, command in (("up", functools.partial(deploy.up, loaded)), ("teardown", deploy.teardown)):
            aws = Aws(REGION)
            seen = record_operations(aws)
            report = command(deploy.context(aws, f"ops-{name[:4]}", loaded, lambda e: None, **OPTIONS))
            assert not report.failed, failures(report)
            recorded[phase] = tuple(sorted(op for op in seen if is_mutating(op.split(":")[1])))
        assert recorded == OPERATIONS[name], name


@on_request
@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lost_throttled_and_failing_answers(moto_module: None, name: str, seed: int) -> None:
    faults = Faults(lose_share=0.10, throttle_share=0.20, error_share=0.05, seed=seed)
    problems = run(name, f"mx{seed}-{name[:4]}", faults, faults)
    assert faults.lost and faults.refused  # the faults did happen
    assert not broken(problems)


def test_the_sandbox_answers_a_repeated_client_token_with_the_first_resource(moto_module: None) -> None:
    import boto3
    import botocore.exceptions

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    first = ec2.create_route_table(VpcId=vpc, ClientToken="token-1")["RouteTable"]["RouteTableId"]
    again = ec2.create_route_table(VpcId=vpc, ClientToken="token-1")["RouteTable"]["RouteTableId"]
    assert again == first
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert [t["RouteTableId"] for t in tables if not t["Associations"]] == [first]  # the main one aside
    with pytest.raises(botocore.exceptions.ClientError, match="IdempotentParameterMismatch"):
        ec2.create_route_table(VpcId=other, ClientToken="token-1")
    params = {"VpcId": vpc, "ServiceName": f"com.amazonaws.{REGION}.s3", "VpcEndpointType": "Gateway"}
    endpoint = ec2.create_vpc_endpoint(**params, ClientToken="token-2")["VpcEndpoint"]["VpcEndpointId"]
    assert ec2.create_vpc_endpoint(**params, ClientToken="token-2")["VpcEndpoint"]["VpcEndpointId"] == endpoint
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    launch = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "SubnetId": subnet, "ClientToken": "token-3"}
    instance = ec2.run_instances(**launch)["Instances"][0]["InstanceId"]
    assert ec2.run_instances(**launch)["Instances"][0]["InstanceId"] == instance
    running = ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["Reservations"]
    assert [i["InstanceId"] for r in running for i in r["Instances"]] == [instance]
    # TerminateInstances is idempotent: a repeat (a retry after a lost answer) succeeds.
    for _ in range(2):
        states = ec2.terminate_instances(InstanceIds=[instance])["TerminatingInstances"]
        assert [s["InstanceId"] for s in states] == [instance]


def test_the_sandbox_answers_a_repeated_create_service_token_with_the_first_service(moto_module: None) -> None:
    import boto3
    import botocore.exceptions

    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="token-cluster")["cluster"]["clusterArn"]
    container = {"name": "web", "image": "nginx", "memory": 512}
    family = ecs.register_task_definition(family="token-web", containerDefinitions=[container])
    definition = family["taskDefinition"]["taskDefinitionArn"]
    service = {"cluster": cluster, "serviceName": "web", "taskDefinition": definition, "desiredCount": 0}
    first = ecs.create_service(**service, clientToken="token-4")["service"]
    again = ecs.create_service(**service, clientToken="token-4")["service"]
    # moto would make the service anew (a new deployment); AWS does nothing more.
    assert [d["id"] for d in again["deployments"]] == [d["id"] for d in first["deployments"]]
    with pytest.raises(botocore.exceptions.ClientError, match="not idempotent"):
        ecs.create_service(**{**service, "desiredCount": 1}, clientToken="token-4")
