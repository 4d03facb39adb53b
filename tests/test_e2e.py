"""End to end: the installed command against the sandbox server, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3

from vpcctl import graph, scenario
from vpcctl.aws.tags import DEPLOYMENT


def vpcctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vpcctl", "--sandbox", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def inventory(endpoint: str) -> dict[str, set[str]]:
    """Everything in the emulator's account, read directly (not through vpcctl)."""
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    elb = session.client("elbv2", endpoint_url=endpoint)
    ecs = session.client("ecs", endpoint_url=endpoint)
    return {
        "vpcs": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
        "subnets": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
        "groups": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "endpoints": {
            e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"] != "deleted"
        },
        "route_tables": {r["RouteTableId"] for r in ec2.describe_route_tables()["RouteTables"]},
        "load_balancers": {lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]},
        "target_groups": {t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]},
        "clusters": {
            c
            for c in ecs.list_clusters()["clusterArns"]
            if ecs.describe_clusters(clusters=[c])["clusters"][0]["status"] == "ACTIVE"
        },
    }


def tagged(endpoint: str, deployment: str) -> list[str]:
    """EC2 resources that still exist and carry the deployment's tag (moto's DescribeTags
    also lists tags of deleted resources, so each type is described instead)."""
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    owned = [{"Name": f"tag:{DEPLOYMENT}", "Values": [deployment]}]
    found = [v["VpcId"] for v in ec2.describe_vpcs(Filters=owned)["Vpcs"]]
    found += [s["SubnetId"] for s in ec2.describe_subnets(Filters=owned)["Subnets"]]
    found += [g["GroupId"] for g in ec2.describe_security_groups(Filters=owned)["SecurityGroups"]]
    found += [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=owned)["RouteTables"]]
    found += [i["InternetGatewayId"] for i in ec2.describe_internet_gateways(Filters=owned)["InternetGateways"]]
    found += [
        e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=owned)["VpcEndpoints"] if e["State"] != "deleted"
    ]
    return found


def test_up_up_status_teardown(sandbox_home: str) -> None:
    endpoint = sandbox_home
    # An untagged look-alike of the scenario's VPC, made by someone else.
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    other = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "e2e-vpc"}]}],
    )["Vpc"]["VpcId"]
    before = inventory(endpoint)

    first = vpcctl("up", "fargate-privatelink", "--name", "e2e")
    assert first.returncode == 0, first.stderr
    steps = len(graph.build(scenario.load("fargate-privatelink")))
    assert f"{steps} created" in first.stdout
    built = inventory(endpoint)

    second = vpcctl("up", "fargate-privatelink", "--name", "e2e")
    assert second.returncode == 0, second.stderr
    assert f"0 created, 0 updated, {steps} unchanged" in second.stdout
    assert inventory(endpoint) == built  # nothing was created twice

    status = vpcctl("status", "fargate-privatelink", "--name", "e2e", "-o", "json")
    rows = json.loads(status.stdout)["resources"]
    assert len(rows) == len(scenario.load("fargate-privatelink").resources) and all(
        r["state"] != "absent" for r in rows
    )

    gone = vpcctl("teardown", "fargate-privatelink", "--name", "e2e", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert "nothing tagged for it is left" in gone.stdout
    assert tagged(endpoint, "e2e") == []
    after = inventory(endpoint)
    assert after == before  # everything else exactly as it was
    assert other in after["vpcs"]

    # By name alone, nothing tells where it lived: the region is given (vpcctl never guesses one).
    again = vpcctl("--region", "ap-northeast-1", "teardown", "--name", "e2e", "--yes")
    assert again.returncode == 0
