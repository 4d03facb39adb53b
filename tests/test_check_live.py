"""`check --live` reads what a deployment has in AWS; a killed teardown is finished by the next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import boto3
from click.testing import CliRunner

from vpcctl.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["--sandbox", *args])


def resources(name: str) -> dict[str, str]:
    result = run("-o", "json", "status", "--name", name, "--region", "ap-northeast-1")
    return {r["logical_id"]: r["id"] for r in json.loads(result.stdout)["resources"]}


def test_live_check_finds_what_changed_behind_the_scenario(sandbox_home: str) -> None:
    assert run("up", "fargate-privatelink", "--name", "live").exit_code == 0
    clean = run("check", "fargate-privatelink", "--live", "--name", "live", "-o", "json")
    assert clean.exit_code == 0, clean.output

    ids = resources("live")
    ec2 = boto3.client(
        "ec2", endpoint_url=sandbox_home, region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    ec2.revoke_security_group_ingress(
        GroupId=ids["sec-web-via-alb"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": ids["sec-alb"]}]}
        ],
    )
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ids["ecr-api"]])

    broken = run("check", "fargate-privatelink", "--live", "--name", "live", "-o", "json")
    assert broken.exit_code == 1
    rules = {(f["rule"], f["fix"]) for f in json.loads(broken.stdout)["findings"]}
    # The same rules as the offline check, with the same fixes.
    assert ("target-ingress", "add ingress {protocol: tcp, port: 80, source: sec-alb} to sec-web-via-alb") in rules
    assert ("pull-path", "add an interface endpoint for ecr.api in private-subnet1") in rules
    assert run("teardown", "--name", "live", "--yes", "--region", "ap-northeast-1").exit_code == 0


def test_a_killed_teardown_is_finished_by_the_next(sandbox_home: str) -> None:
    assert run("up", "fargate-privatelink", "--name", "halfway").exit_code == 0
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vpcctl",
            "--sandbox",
            "teardown",
            "--name",
            "halfway",
            "--yes",
            "--region",
            "ap-northeast-1",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stderr is not None
    for _ in range(6):
        process.stderr.readline()
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert resources("halfway")  # something is left
    finished = run("teardown", "--name", "halfway", "--yes", "--region", "ap-northeast-1")
    assert finished.exit_code == 0, finished.output
    assert resources("halfway") == {}
