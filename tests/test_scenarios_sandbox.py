"""alb-ip-targets and internal-alb-peering through the CLI, against the sandbox server."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from conftest import running_task_ips
from vpcctl.cli import cli
from vpcctl.errors import NOT_HERE


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["--sandbox", *args])


def run_json(*args: str) -> dict[str, Any]:
    result = run(*args, "-o", "json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def client(endpoint: str, service: str) -> Any:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
    return session.client(service, endpoint_url=endpoint)


def test_internal_alb_peering_up_up_output_teardown(sandbox_home: str) -> None:
    first = run_json("up", "internal-alb-peering", "--name", "sbx-peer")
    assert first["summary"]["created"] == len(first["steps"])
    second = run_json("up", "internal-alb-peering", "--name", "sbx-peer")
    assert second["summary"]["unchanged"] == len(second["steps"])

    rows = run_json("status", "internal-alb-peering", "--name", "sbx-peer")["resources"]
    assert rows and all(r["state"] != "absent" for r in rows)
    home = run("output", "internal-alb-peering", "alb_home", "--name", "sbx-peer")
    assert home.exit_code == 0 and home.output.strip() == "alb.home"
    curl = run("output", "internal-alb-peering", "curl", "--name", "sbx-peer")
    assert curl.output.strip() == "curl -v alb.home"

    gone = run_json("teardown", "internal-alb-peering", "--name", "sbx-peer", "--yes")
    assert gone["left"] == []
    gone_status = run("--region", "ap-northeast-1", "status", "--name", "sbx-peer", "-o", "json")
    assert gone_status.exit_code == NOT_HERE and json.loads(gone_status.stdout)["resources"] == []


def service_task_ips(endpoint: str, cluster: str) -> dict[str, str | None]:
    return running_task_ips(client(endpoint, "ecs"), cluster, ("publicIpOn", "publicIpOn2"))


def registered(endpoint: str, target_group: str) -> set[str]:
    health = client(endpoint, "elbv2").describe_target_health(TargetGroupArn=target_group)
    return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"] if d["TargetHealth"]["State"] != "draining"}


def test_public_services_follow_the_tasks_of_both_services(sandbox_home: str) -> None:
    endpoint = sandbox_home
    first = run_json("up", "alb-ip-targets", "--name", "sbx-ip")
    try:
        steps = first["steps"]
        cluster, target_group = steps["klein-cluster"]["id"], steps["PublicServices"]["id"]
        tasks = service_task_ips(endpoint, cluster)
        if not tasks:
            pytest.skip("the sandbox started no tasks for the services (its ECS scheduler is not there yet)")
        assert registered(endpoint, target_group) == set(tasks.values())

        # One task stops; the service replaces it with a task that has another IP.
        stopped_arn, stopped_ip = next(iter(tasks.items()))
        client(endpoint, "ecs").stop_task(cluster=cluster, task=stopped_arn, reason="stopped by the test")
        again = run_json("up", "alb-ip-targets", "--name", "sbx-ip")
        now = service_task_ips(endpoint, cluster)
        assert stopped_arn not in now and len(now) == len(tasks)
        assert registered(endpoint, target_group) == set(now.values())
        if stopped_ip not in now.values():  # the replacement may get the freed address again
            assert f"-target {stopped_ip}" in again["steps"]["PublicServices/rules"]["detail"]
    finally:
        gone = run_json("teardown", "alb-ip-targets", "--name", "sbx-ip", "--yes")
        assert gone["left"] == []
