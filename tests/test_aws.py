"""The AWS layer: idempotency tokens, regions, error translation, API call counting."""

from __future__ import annotations

import botocore.exceptions
import pytest

from vpcctl.aws import Aws, resolve_region, translate, with_token
from vpcctl.errors import AwsError


def test_token_added_where_the_operation_takes_one(mocked) -> None:
    ec2 = Aws("ap-northeast-1").client("ec2")
    params = with_token(ec2, "CreateRouteTable", {"VpcId": "vpc-1"})
    assert len(params["ClientToken"]) == 32
    again = with_token(ec2, "CreateRouteTable", {"VpcId": "vpc-1"})
    assert again["ClientToken"] != params["ClientToken"]  # unique per creation
    assert with_token(ec2, "CreateVpc", {"CidrBlock": "10.0.0.0/16"}) == {"CidrBlock": "10.0.0.0/16"}
    kept = with_token(ec2, "CreateNatGateway", {"SubnetId": "s", "ClientToken": "given"})
    assert kept["ClientToken"] == "given"


def test_each_token_member_is_recognised(mocked) -> None:
    aws = Aws("ap-northeast-1")
    assert "clientToken" in with_token(aws.client("ecs"), "CreateService", {})
    assert "CallerReference" in with_token(aws.client("route53"), "CreateHostedZone", {})
    assert "CreatorRequestId" in with_token(aws.client("route53resolver"), "CreateResolverEndpoint", {})


def test_a_retried_create_sends_the_same_token(mocked) -> None:
    """botocore resends the very same parameters on a retry, token included."""
    aws = Aws("ap-northeast-1")
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sent: list[str] = []
    failed = []

    def record(request, **_):
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if "CreateRouteTable" in body:
            sent.append(body.split("ClientToken=")[1].split("&")[0])
            if not failed:
                failed.append(True)
                raise botocore.exceptions.ConnectionClosedError(endpoint_url="https://ec2")

    ec2.meta.events.register("before-send.ec2.CreateRouteTable", record)
    from vpcctl.resources.base import Context

    ctx = Context(aws, "d", None, lambda e: None)
    ctx.create("ec2", "CreateRouteTable", VpcId=vpc)
    assert len(sent) == 2 and sent[0] == sent[1]


def test_region_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_region(None, "ap-northeast-1") == "ap-northeast-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert resolve_region(None, "ap-northeast-1") == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert resolve_region(None, "ap-northeast-1") == "us-west-2"
    assert resolve_region("sa-east-1", "ap-northeast-1") == "sa-east-1"


def test_client_errors_keep_aws_code_and_message(mocked) -> None:
    ec2 = Aws("ap-northeast-1").client("ec2")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ec2.delete_vpc(VpcId="vpc-00000000000000000")
    error = translate(raised.value)
    assert isinstance(error, AwsError)
    assert error.code == "InvalidVpcID.NotFound"
    assert "DeleteVpc" in str(error)


def test_calls_are_counted_by_operation(mocked) -> None:
    aws = Aws("ap-northeast-1")
    aws.client("ec2").describe_vpcs()
    aws.client("ec2").describe_vpcs()
    aws.client("ecs").list_clusters()
    assert aws.calls == {"ec2:DescribeVpcs": 2, "ecs:ListClusters": 1}


def test_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from vpcctl.errors import VpcctlError

    with pytest.raises(VpcctlError) as raised:
        Aws("ap-northeast-1", profile="nope")
    assert "nope" in str(raised.value)


def test_prepared_clients_are_the_ones_the_command_gets(mocked) -> None:
    aws = Aws("ap-northeast-1")
    aws.prepare(["ec2", "not-a-service", "iam"]).join(timeout=30)
    ec2 = aws.client("ec2")
    assert ec2 is aws.client("ec2") and ec2.meta.service_model.service_name == "ec2"
    assert "iam" not in aws._clients  # an error stops the background making, it is not hidden:
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        aws.client("not-a-service")  # the command meets it where it asks
    assert aws.client("iam").list_roles()["Roles"] == []
