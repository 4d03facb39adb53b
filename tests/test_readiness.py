"""`up` returns only when the topology serves, and says why when it never will.

The sandbox's behaviour runs in-process on a fake clock: AWS's real durations pass
in no real time, and nothing sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import botocore.exceptions
import pytest
from click.testing import CliRunner

from conftest import write_variant
from vpcctl import deploy, pace, scenario
from vpcctl.cli import cli
from vpcctl.engine import CREATED, FAILED, UNCHANGED
from vpcctl.errors import NotReady, TimedOut
from vpcctl.sandbox import behaviour


class FakeClock:
    """Advances a little on every read and by the full amount on every sleep."""

    def __init__(self, step: float = 1.0) -> None:
        self.t = 0.0
        self.step = step
        self.frozen = False

    def now(self) -> float:
        if not self.frozen:
            self.t += self.step
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock(mocked) -> Iterator[FakeClock]:
    fake = FakeClock()
    world = behaviour.install(time_scale=1.0, clock=fake.now)  # AWS's own durations
    yield fake
    world.time_scale, world.clock = 0.0, __import__("time").monotonic


def up(path: str, make_ctx, clock: FakeClock, events: list, **options):
    loaded = scenario.load(path)
    ctx = make_ctx(loaded, events=events, sleep=clock.sleep, **options)
    return deploy.up(loaded, ctx)


def details(events: list, step: str) -> list[str]:
    return [e.detail for e in events if e.step == step and e.status == "waiting"]


def test_up_waits_for_running_tasks_and_healthy_targets(clock, make_ctx) -> None:
    events: list = []
    report = up("fargate-privatelink", make_ctx, clock, events)
    assert not report.failed, report.failed
    seen = " | ".join(details(events, "web-service"))
    order = [seen.find(s) for s in (" PROVISIONING ", " PENDING ", " RUNNING ")]
    assert -1 not in order and order == sorted(order), seen
    assert "initial (Elb.RegistrationInProgress)" in seen
    assert re.search(r"targets: 10\.0\.1\.\d+:80 healthy, 10\.0\.1\.\d+:80 healthy$", seen)
    assert "load balancer provisioning" in details(events, "alb")
    assert any("endpoint: pending" in d for d in details(events, "ecr-api"))
    assert clock.t > 150  # the ALB alone takes minutes of (fake) AWS time


def test_task_ips_are_inside_their_subnet_and_spread(clock, make_ctx) -> None:
    events: list = []
    report = up("fargate-privatelink", make_ctx, clock, events)
    assert not report.failed
    final = details(events, "web-service")[-1]
    ips = re.findall(r"RUNNING (10\.0\.1\.\d+)", final)
    assert len(set(ips)) == 2  # private-subnet1 is 10.0.1.0/24


def test_missing_ecr_api_endpoint_fails_at_pending_time_naming_it(clock, make_ctx, tmp_path) -> None:
    variant = write_variant(
        tmp_path,
        "  ecr-api:\n    kind: vpc_endpoint\n    vpc: vpc\n    service: ecr.api\n",
        "  ecr-api:\n    kind: vpc_endpoint\n    vpc: vpc\n    service: ecr.api\n    depends_on: [web-service]\n",
    )
    text = variant.read_text().replace(
        "depends_on: [http, ecr-api, ecr-dkr, logs, s3]", "depends_on: [http, ecr-dkr, logs, s3]"
    )
    variant.write_text(text)  # the endpoint now comes only after the service: the tasks start without it
    events: list = []
    report = up(str(variant), make_ctx, clock, events, wait_timeout=3600)
    failed = report.results["web-service"]
    assert failed.status == FAILED
    assert isinstance(failed.error, NotReady)
    assert "CannotPullContainerError" in failed.detail
    assert (failed.error.hint or "").startswith("pull-path: ")  # the rule `check` would have named
    assert "no ecr.api endpoint; add an interface endpoint for ecr.api in private-subnet1" in failed.error.hint
    assert report.results["ecr-api"].status == "skipped"


def test_missing_rule_from_the_alb_fails_naming_target_timeout_and_the_rule(clock, make_ctx, tmp_path) -> None:
    variant = write_variant(
        tmp_path,
        '      - {protocol: tcp, port: "${params.container_port}", source: sec-alb, description: HTTP from the ALB}\n',
        "      - {protocol: tcp, port: 22, cidr: 10.0.0.0/16}\n",
    )
    events: list = []
    report = up(str(variant), make_ctx, clock, events)
    failed = report.results["web-service"]
    assert failed.status == FAILED
    assert "Target.Timeout" in failed.detail
    assert failed.error.hint.startswith("target-ingress: sec-web-via-alb (10.0.1.")
    assert "admits no TCP 80 from sec-alb" in failed.error.hint
    assert failed.error.hint.endswith("add ingress {protocol: tcp, port: 80, source: sec-alb} to sec-web-via-alb")


RULE_FROM_ALB = (
    '      - {protocol: tcp, port: "${params.container_port}", source: sec-alb, description: HTTP from the ALB}\n'
)
ADD_RULE = "add ingress {protocol: tcp, port: 80, source: sec-alb} to sec-web-via-alb"


def test_a_new_service_is_not_serving_before_its_targets_are_healthy(clock, make_ctx) -> None:
    """ECS says RUNNING before the load balancer says healthy: the gate waits for the latter."""
    import boto3

    loaded = scenario.load("fargate-privatelink")
    ctx = make_ctx(loaded, sleep=clock.sleep)
    assert not deploy.up(loaded, make_ctx(loaded, sleep=clock.sleep, wait=False)).failed
    elb = boto3.client("elbv2", region_name="ap-northeast-1")
    running_not_healthy = 0
    for _ in range(100):
        serving = "web-service" not in {p.logical_id for p in deploy.readiness(ctx, loaded)}
        descriptions = elb.describe_target_health(TargetGroupArn=ctx.attr("web-tg", "arn"))["TargetHealthDescriptions"]
        healthy = len(descriptions) >= 2 and all(d["TargetHealth"]["State"] == "healthy" for d in descriptions)
        if serving:
            assert healthy, descriptions  # targets never turn unhealthy here: healthy then, healthy now
            break
        running_not_healthy += bool(descriptions) and not healthy
        clock.t += 5
    assert serving and running_not_healthy, "seen running with targets not yet healthy, then serving"


def test_a_revoked_rule_ends_ecs_vouching_and_status_and_up_give_the_same_hint(clock, make_ctx, tmp_path) -> None:
    import boto3

    assert not up("fargate-privatelink", make_ctx, clock, []).failed
    loaded = scenario.load("fargate-privatelink")
    assert deploy.readiness(make_ctx(loaded, sleep=clock.sleep), loaded) == []
    ec2 = boto3.client("ec2", region_name="ap-northeast-1")
    ctx = make_ctx(loaded, sleep=clock.sleep)
    deploy.readiness(ctx, loaded)
    web, alb = ctx.id_of("sec-web-via-alb"), ctx.id_of("sec-alb")
    [group] = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    from_alb = [p for p in group["IpPermissions"] if any(u["GroupId"] == alb for u in p["UserIdGroupPairs"])]
    ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=from_alb)
    hints = []
    for later in (0, 600):  # at once (the targets fail), then after ECS has replaced the tasks
        clock.t += later
        [problem] = deploy.readiness(make_ctx(loaded, sleep=clock.sleep), loaded)
        assert problem.logical_id == "web-service" and "Target.Timeout" in problem.reason
        hints.append(problem.hint)
    ecs = boto3.client("ecs", region_name="ap-northeast-1")
    cluster = ctx.attr("cluster", "arn")
    [svc] = ecs.describe_services(cluster=cluster, services=[ctx.attr("web-service", "arn")])["services"]
    said = [e["message"] for e in svc["events"]]
    assert any("is unhealthy in (target-group" in m and "(reason Request timed out)" in m for m in said), said
    assert not ecs_steady(svc)
    stopped = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    reasons = {t.get("stoppedReason", "") for t in ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]}
    assert any(r.startswith("Task failed ELB health checks in (target-group ") for r in reasons), reasons
    # `up` of the scenario without that rule (so it does not put it back) fails with the same hint.
    variant = write_variant(tmp_path, RULE_FROM_ALB, "      - {protocol: tcp, port: 22, cidr: 10.0.0.0/16}\n")
    failed = up(str(variant), make_ctx, clock, []).results["web-service"]
    assert failed.status == FAILED and isinstance(failed.error, NotReady)
    for hint in [*hints, failed.error.hint]:
        assert hint.startswith("target-ingress: sec-web-via-alb (10.0.1.") and hint.endswith(ADD_RULE), hint


def ecs_steady(svc: dict) -> bool:
    from vpcctl.resources import ecs

    return ecs.ecs_vouches(svc, svc["desiredCount"], svc["taskDefinition"])


def test_a_wait_that_runs_out_times_out_and_a_second_up_finishes(clock, make_ctx) -> None:
    clock.frozen = True  # AWS never gets further: the tasks stay PROVISIONING
    events: list = []
    first = up("fargate-privatelink", make_ctx, clock, events, wait_timeout=0.5)
    assert isinstance(first.results["alb"].error, TimedOut)
    clock.frozen = False
    clock.t += 10_000
    second = up("fargate-privatelink", make_ctx, clock, events)
    assert not second.failed, second.failed
    for step, result in first.results.items():
        if result.status in (CREATED, FAILED):  # made (or made, then waited on) in the first run
            assert second.results[step].status == UNCHANGED, step
        else:  # skipped behind the timeout: made now
            assert second.results[step].status == CREATED, step


def test_cli_exit_3_on_timeout_then_0_without_creating_twice(clock) -> None:
    import json

    import boto3

    clock.frozen = True
    runner = CliRunner()
    timed_out = runner.invoke(cli, ["-o", "json", "up", "fargate-privatelink", "--timeout", "1"])
    assert timed_out.exit_code == 3, timed_out.output
    assert "what exists stays; run `up` again" in timed_out.stderr
    first = json.loads(timed_out.stdout)["steps"]
    clock.frozen = False
    clock.t += 10_000
    done = runner.invoke(cli, ["-o", "json", "up", "fargate-privatelink"])
    assert done.exit_code == 0, done.output
    second = json.loads(done.stdout)["steps"]
    made_before = {s for s, r in first.items() if r["status"] in ("created", "failed")}
    assert {s for s, r in second.items() if r["status"] == "created"} == set(first) - made_before
    elb = boto3.client("elbv2", region_name="ap-northeast-1")
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1  # nothing made twice


def test_no_wait_returns_before_anything_serves(clock, make_ctx) -> None:
    clock.frozen = True
    report = up("fargate-privatelink", make_ctx, clock, [], wait=False)
    assert not report.failed


def test_up_refuses_what_check_says_cannot_work(tmp_path) -> None:
    variant = write_variant(
        tmp_path,
        "  ecr-api:\n    kind: vpc_endpoint\n    vpc: vpc\n    service: ecr.api\n    subnets: [private-subnet1]\n"
        "    security_groups: [sec-endpoints]\n    private_dns: true\n",
        "",
    )
    variant.write_text(variant.read_text().replace("[http, ecr-api, ecr-dkr, logs, s3]", "[http, ecr-dkr, logs, s3]"))
    result = CliRunner().invoke(cli, ["--endpoint-url", "http://127.0.0.1:9", "up", str(variant)])
    assert result.exit_code == 2, result.output
    assert "pull-path" in result.output and "ecr.api" in result.output
    assert "--skip-check" in result.output


def test_polls_begin_near_the_typical_time_to_ready(clock, make_ctx) -> None:
    """At AWS's pace, a wait's first poll comes near the kind's typical time (vpcctl.pace),
    not at once: the tasks are first seen past PROVISIONING, the ALB is polled once or twice."""
    loaded = scenario.load("fargate-privatelink")
    events: list = []
    ctx = make_ctx(loaded, events=events, sleep=clock.sleep, pace=1.0, clock=clock.now, poll_interval=1.0)
    report = deploy.up(loaded, ctx)
    assert not report.failed, report.failed
    seen = details(events, "web-service")
    assert seen and " PROVISIONING " not in seen[0], seen
    discovery = 1
    assert ctx.aws.calls["elbv2:DescribeLoadBalancers"] <= discovery + 3, ctx.aws.calls
    assert clock.t >= pace.up_critical_path(loaded)


def test_a_refused_delete_is_tried_again_when_what_holds_it_is_typically_released(make_ctx) -> None:
    """A subnet a deleted load balancer's interfaces hold is tried at once, then when they are
    typically released (vpcctl.pace.GONE), not at every interval in between."""
    clock = FakeClock(step=0.0)
    ctx = make_ctx(None, sleep=clock.sleep, pace=1.0, clock=clock.now, poll_interval=1.0)
    ctx.expect_release(clock.now(), pace.GONE["load_balancer"])
    tries: list[float] = []

    def delete_subnet() -> str:
        tries.append(clock.t)
        if clock.t < pace.GONE["load_balancer"]:
            error = {"Error": {"Code": "DependencyViolation", "Message": "has dependencies"}}
            raise botocore.exceptions.ClientError(error, "DeleteSubnet")
        return "deleted"

    assert ctx.until_deletable("public-1a", delete_subnet) == "deleted"
    assert tries == [0.0, pace.GONE["load_balancer"]]
