"""`status` says whether a deployment serves, task by task and target by target, with
`up`'s hint; `wait` blocks until it serves; `output` gives JSON values. One deployment
of fargate-privatelink in the sandbox serves the whole module."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner

from vpcctl.cli import cli
from vpcctl.errors import NOT_HERE, NOT_SERVING, OK, TIMED_OUT

NAME = "st-serve"
REGION = "ap-northeast-1"


def run(*args: str):
    return CliRunner().invoke(cli, ["--sandbox", *args])


def status(*extra: str) -> tuple[int, dict]:
    result = run("-o", "json", "status", "fargate-privatelink", "--name", NAME, *extra)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def deployment(sandbox_endpoint: str) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for key, value in {"VPCCTL_POLL_INTERVAL": "0", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
            env.setenv(key, value)
        result = run("up", "fargate-privatelink", "--name", NAME)
        assert result.exit_code == 0, result.output
        yield sandbox_endpoint
        run("teardown", "fargate-privatelink", "--name", NAME, "--yes")


def by_lid(document: dict) -> dict[str, dict]:
    return {r["logical_id"]: r for r in document["resources"]}


def test_a_serving_deployment_lists_its_tasks_and_targets_and_exits_0(deployment: str) -> None:
    code, document = status()
    assert (code, document["serving"], document["problems"]) == (OK, True, [])
    rows = by_lid(document)
    tasks = rows["web-service"]["tasks"]
    running = [t for t in tasks if t["last_status"] == "RUNNING"]
    assert running and all(t["ip"] and t["desired_status"] == "RUNNING" for t in running)
    targets = rows["web-tg"]["targets"]
    assert {t["id"] for t in targets} == {t["ip"] for t in running}
    assert all(t["state"] == "healthy" and t["of_deployment"].startswith("task ") for t in targets)
    assert rows["web-service"]["events"]  # AWS's own words on the service
    assert run("wait", "fargate-privatelink", "--name", NAME, "--timeout", "60").exit_code == OK
    shown = run("status", "fargate-privatelink", "--name", NAME)
    assert "verdict: serving" in shown.output and "targets of web-tg" in shown.output


def test_output_key_as_json_and_with_set(deployment: str) -> None:
    dns = run("-o", "json", "output", "fargate-privatelink", "alb_dns", "--name", NAME)
    assert dns.exit_code == 0 and json.loads(dns.stdout).endswith(".elb.amazonaws.com")
    bad = run("output", "fargate-privatelink", "--set", "nope=1", "--name", NAME)
    assert bad.exit_code == 2 and "nope" in bad.output


def test_a_revoked_rule_is_not_serving_with_ups_hint(deployment: str) -> None:
    ec2 = boto3.client(
        "ec2", endpoint_url=deployment, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )

    def group(lid: str) -> dict:
        filters = [
            {"Name": "tag:vpcctl:logical-id", "Values": [lid]},
            {"Name": "tag:vpcctl:deployment", "Values": [NAME]},
        ]
        return ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]

    web, alb = group("sec-web-via-alb"), group("sec-alb")
    from_alb = [p for p in web["IpPermissions"] if any(u["GroupId"] == alb["GroupId"] for u in p["UserIdGroupPairs"])]
    ec2.revoke_security_group_ingress(GroupId=web["GroupId"], IpPermissions=from_alb)
    try:
        code, document = status()
        assert code == NOT_SERVING and document["serving"] is False  # not serving beats the drift
        rows = by_lid(document)
        running = [t for t in rows["web-service"]["tasks"] if t["last_status"] == "RUNNING"]
        assert running and all(t["ip"] for t in running)
        targets = rows["web-tg"]["targets"]
        assert {(t["state"], t["reason"]) for t in targets} == {("unhealthy", "Target.Timeout")}
        assert len(targets) == len(running)
        assert rows["sec-web-via-alb"]["drift"]
        [problem] = document["problems"]
        assert problem["logical_id"] == "web-service" and "Target.Timeout" in problem["reason"]
        rule = "add ingress {protocol: tcp, port: 80, source: sec-alb} to sec-web-via-alb"
        assert rule in problem["hint"]  # the hint `up` gives, naming the rule
        shown = run("status", "fargate-privatelink", "--name", NAME)
        assert shown.exit_code == NOT_SERVING
        assert f"hint: {problem['hint']}" in shown.output
        waited = run("wait", "fargate-privatelink", "--name", NAME, "--timeout", "1")
        assert waited.exit_code == TIMED_OUT and "does not serve after 1 s" in waited.output
    finally:
        ec2.authorize_security_group_ingress(GroupId=web["GroupId"], IpPermissions=from_alb)


def test_a_deployment_that_does_not_exist_says_so_in_one_line(deployment: str) -> None:
    result = run("--region", REGION, "status", "--name", "st-nope")
    assert result.exit_code == NOT_HERE
    assert result.output.splitlines()[0] == f"error: nothing is deployed as 'st-nope' in {REGION}"
