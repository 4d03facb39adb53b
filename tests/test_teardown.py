"""Teardown removes everything a deployment owns, touches nothing else, and says what is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import boto3
import pytest
from click.testing import CliRunner

from conftest import write_variant
from vpcctl.cli import cli
from vpcctl.errors import NOT_HERE, NOT_SERVING, OK


def run(*args: str):
    return CliRunner().invoke(cli, ["--sandbox", *args])


def ec2(endpoint: str):
    return boto3.client(
        "ec2", endpoint_url=endpoint, region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def status_rows(name: str) -> list[dict]:
    result = run("-o", "json", "status", "--name", name, "--region", "ap-northeast-1")
    rows = json.loads(result.stdout)["resources"]
    # 7: nothing of it in the region; else it serves (0) or, half torn down, does not (6).
    assert (result.exit_code == NOT_HERE) == (not rows), result.output
    assert result.exit_code in (OK, NOT_SERVING, NOT_HERE), result.output
    return rows


def test_two_deployments_and_look_alikes_are_left_alone(sandbox_home: str) -> None:
    endpoint = sandbox_home
    for name in ("td-a", "td-b"):
        assert run("up", "fargate-privatelink", "--name", name).exit_code == 0
    client = ec2(endpoint)
    # Untagged look-alikes: same names and CIDRs, made by hand.
    vpc = client.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "td-a-vpc"}]}],
    )["Vpc"]["VpcId"]
    group = client.create_security_group(GroupName="td-a-sec-alb", Description="look-alike", VpcId=vpc)["GroupId"]
    b_before = status_rows("td-b")

    gone = run("teardown", "--name", "td-a", "--yes", "--region", "ap-northeast-1")
    assert gone.exit_code == 0, gone.output
    assert status_rows("td-a") == []
    assert status_rows("td-b") == b_before  # the other deployment exactly as it was
    assert client.describe_vpcs(VpcIds=[vpc])["Vpcs"]
    assert client.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert run("teardown", "--name", "td-b", "--yes", "--region", "ap-northeast-1").exit_code == 0


def test_list_deployed_shows_deployments_with_counts(sandbox_home: str) -> None:
    assert run("up", "fargate-privatelink", "--name", "td-list").exit_code == 0
    result = run("-o", "json", "list", "--deployed", "--region", "ap-northeast-1")
    rows = {d["name"]: d for d in json.loads(result.stdout)}
    assert rows["td-list"]["scenario"] == "fargate-privatelink"
    assert rows["td-list"]["resources"] > 10
    assert run("teardown", "--name", "td-list", "--yes", "--region", "ap-northeast-1").exit_code == 0


def test_a_deletion_held_by_something_outside_exits_4_naming_it(sandbox_home: str) -> None:
    assert run("up", "fargate-privatelink", "--name", "td-held").exit_code == 0
    subnet = next(r["id"] for r in status_rows("td-held") if r["logical_id"] == "public-subnet2")
    outsider = ec2(sandbox_home).create_network_interface(SubnetId=subnet, Description="someone else's")
    eni = outsider["NetworkInterface"]["NetworkInterfaceId"]

    held = run("teardown", "--name", "td-held", "--yes", "--region", "ap-northeast-1", "--timeout", "1")
    assert held.exit_code == 4, held.output
    assert eni in held.output and "someone else's" in held.output
    assert "public-subnet2" in held.output and "still there" in held.output
    left = {r["logical_id"] for r in status_rows("td-held")}
    assert left == {"public-subnet2", "vpc"}  # only what the outsider holds, and what holds that

    ec2(sandbox_home).delete_network_interface(NetworkInterfaceId=eni)
    again = run("teardown", "--name", "td-held", "--yes", "--region", "ap-northeast-1")
    assert again.exit_code == 0, again.output
    assert status_rows("td-held") == []


def test_teardown_after_a_failed_up(sandbox_home: str, tmp_path) -> None:
    variant = write_variant(
        tmp_path,
        '      - {protocol: tcp, port: "${params.container_port}", source: sec-alb, description: HTTP from the ALB}\n',
        "      - {protocol: tcp, port: 22, cidr: 10.0.0.0/16}\n",
    )
    failed = run("up", str(variant), "--name", "td-failed", "--skip-check")
    assert failed.exit_code == 1 and "Target.Timeout" in failed.output
    assert run("teardown", "--name", "td-failed", "--yes", "--region", "ap-northeast-1").exit_code == 0
    assert status_rows("td-failed") == []


@pytest.mark.parametrize("after_lines", [2, 8, 16])
def test_teardown_after_up_is_killed(sandbox_home: str, after_lines: int) -> None:
    name = f"td-kill{after_lines}"
    process = subprocess.Popen(
        [sys.executable, "-m", "vpcctl", "--sandbox", "up", "fargate-privatelink", "--name", name],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stderr is not None
    for _ in range(after_lines):
        if not process.stderr.readline():
            break
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    result = run("teardown", "--name", name, "--yes", "--region", "ap-northeast-1")
    assert result.exit_code == 0, result.output
    assert status_rows(name) == []
