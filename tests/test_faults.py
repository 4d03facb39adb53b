"""Lost answers, throttling and 5xx: `up` converges with no duplicate and `teardown` leaves
nothing, for fargate-privatelink and closed-vpc-apigw.

One moto for the module; each run its own deployment name. Losing the first answer of
every mutating operation one at a time runs in full with VPCCTL_FAULTS_FULL=1; with
VPCCTL_FAULTS=1 a fixed sample of the operations where a lost answer is most ambiguous runs
(see README). `make test` leaves the suite out: it costs minutes of CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import REGION, SCENARIOS, no_sleep
from faults import Faults, install, is_mutating, owned_twins, record_operations

SCENARIO_NAMES = ("fargate-privatelink", "closed-vpc-apigw")
FULL = os.environ.get("VPCCTL_FAULTS_FULL") == "1"
# Minutes of CPU: more than `make test`'s budget on two cores, so the suite is asked for.
pytestmark = pytest.mark.skipif(
    not (FULL or os.environ.get("VPCCTL_FAULTS") == "1"), reason="fault suite: set VPCCTL_FAULTS=1 (or _FULL=1)"
)

# The default sample: creates without an idempotency token, creates of uniquely named or
# duplicate-refusing things, and deletes/detaches that meet "not found" when retried.
SAMPLE = {
    "ec2:CreateVpc",
    "ec2:CreateInternetGateway",
    "ec2:CreateRouteTable",
    "ec2:CreateSubnet",
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "api-gateway:CreateRestApi",
    "api-gateway:CreateVpcLink",
    "cloudwatch-logs:CreateLogGroup",
    "ec2:DetachInternetGateway",
    "iam:DetachRolePolicy",
    "api-gateway:DeleteRestApi",
}

# Creates with no idempotency token: a lost answer makes a twin, which up deletes and reports.
NO_TOKEN = {"ec2:CreateVpc", "ec2:CreateInternetGateway", "api-gateway:CreateRestApi", "api-gateway:CreateVpcLink"}


@pytest.fixture(scope="module", autouse=True)
def no_backoff() -> Iterator[None]:
    """botocore's standard retry mode sleeps between attempts: not in tests."""
    from botocore.retries.standard import ExponentialBackoff

    mp = pytest.MonkeyPatch()
    mp.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    yield
    mp.undo()


def run(name: str, deployment: str, faults: Faults | None) -> tuple[Any, Any, Any]:
    """up then teardown of a scenario under the faults; (up report, teardown report, aws)."""
    from vpcctl import deploy, scenario
    from vpcctl.aws import Aws

    loaded = scenario.load(str(SCENARIOS / f"{name}.yaml"))
    aws = Aws(REGION)
    if faults is not None:
        install(aws, faults)
    options = {"poll_interval": 0, "wait_timeout": 60, "delete_timeout": 5, "sleep": no_sleep}
    ctx = deploy.context(aws, deployment, loaded, lambda e: None, **options)
    up = deploy.up(loaded, ctx)
    twins = owned_twins(Aws(REGION), deployment)
    down = deploy.teardown(deploy.context(aws, deployment, loaded, lambda e: None, **options))
    return up, down, twins


def failures(report: Any) -> dict[str, str]:
    return {step: result.detail for step, result in report.failed.items()}


@pytest.fixture(scope="module")
def operations(moto_module: None) -> dict[str, list[str]]:
    """The mutating operations up and teardown make, per scenario, from a clean run."""
    from vpcctl import deploy, scenario
    from vpcctl.aws import Aws

    out = {}
    for name in SCENARIO_NAMES:
        loaded = scenario.load(str(SCENARIOS / f"{name}.yaml"))
        aws = Aws(REGION)
        seen = record_operations(aws)
        options = {"poll_interval": 0, "wait_timeout": 60, "delete_timeout": 5, "sleep": no_sleep}
        report = deploy.up(loaded, deploy.context(aws, f"ops-{name[:4]}", loaded, lambda e: None, **options))
        assert not report.failed, failures(report)
        down = deploy.teardown(deploy.context(aws, f"ops-{name[:4]}", loaded, lambda e: None, **options))
        assert not down.failed and not down.leftovers
        out[name] = sorted(op for op in seen if is_mutating(op.split(":")[1]))
    return out


def lost_first_cases() -> list[tuple[str, str]]:
    return [(name, op) for name in SCENARIO_NAMES for op in sorted(SAMPLE)]


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_lose_the_first_answer_of_each_operation(name: str, operations: dict[str, list[str]]) -> None:
    chosen = operations[name] if FULL else [op for op in operations[name] if op in SAMPLE]
    assert chosen, "the sample names operations this scenario makes"
    broken = {}
    for number, op in enumerate(chosen):
        faults = Faults(lose_first={op})
        up, down, twins = run(name, f"lf{number}-{name[:4]}", faults)
        problems = {
            "up": failures(up),
            "twins": twins,
            "teardown": failures(down),
            "left": [f"{f.kind} {f.logical_id}" for f in down.leftovers],
            # A create with no idempotency token made twice says so in its step's changes.
            "unreported": op in NO_TOKEN
            and not any(c.attribute == "duplicate" for changes in up.changes.values() for c in changes),
        }
        if any(problems.values()) or op not in faults.lost:
            broken[op] = {k: v for k, v in problems.items() if v} or "answer never lost"
    assert not broken, broken


@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lost_throttled_and_failing_answers(name: str, seed: int, operations: dict[str, list[str]]) -> None:
    faults = Faults(lose_share=0.10, throttle_share=0.20, error_share=0.05, seed=seed)
    up, down, twins = run(name, f"mx{seed}-{name[:4]}", faults)
    assert faults.lost and faults.refused  # the faults did happen
    assert not failures(up)
    assert not twins
    assert not failures(down)
    assert not down.leftovers


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
