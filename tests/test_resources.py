"""Every resource kind against moto: ensured twice (changed, then unchanged), deleted twice."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from conftest import write_variant
from vpcctl import deploy, graph, scenario
from vpcctl.aws import tags as tagging
from vpcctl.engine import CREATED, UNCHANGED, UPDATED
from vpcctl.resources import handler, handlers, kit
from vpcctl.resources.dns import zone_id
from vpcctl.resources.logs import group_arn

_names = itertools.count(1)


@pytest.fixture
def fresh(moto_module, make_ctx):
    def up(path: str = "fargate-privatelink", deployment: str | None = None, **sets: str):
        loaded = scenario.load(str(path), {k: str(v) for k, v in sets.items()})
        ctx = make_ctx(loaded, deployment=deployment)
        return loaded, ctx, deploy.up(loaded, ctx)

    return up


def new_name() -> str:
    return f"t{next(_names)}"


def test_first_up_creates_everything_and_second_changes_nothing(fresh) -> None:
    name = new_name()
    loaded, _, first = fresh(deployment=name)
    assert not first.failed, first.failed
    assert {r.status for r in first.results.values()} == {CREATED}
    assert len(first.results) == len(graph.build(loaded))

    _, _, second = fresh(deployment=name)
    assert {s: r.status for s, r in second.results.items() if r.status != UNCHANGED} == {}
    creates = {op: n for op, n in second.calls.items() if ":Create" in op or ":Register" in op or ":Run" in op}
    assert creates == {}


def test_discovery_reads_each_kind_once(fresh) -> None:
    name = new_name()
    fresh(deployment=name)
    _, _, second = fresh(deployment=name)
    # Three subnets, three groups, four endpoints: still one describe each.
    for op in (
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeRouteTables",
        "elbv2:DescribeTargetGroups",
        "iam:ListRoles",
        "logs:DescribeLogGroups",
    ):
        assert second.calls[op] == 1, (op, second.calls)
    writes = [op for op in second.calls if not op.split(":")[1].startswith(("Describe", "List", "Get"))]
    assert writes == [], writes


def test_two_deployments_of_one_scenario_live_side_by_side(fresh) -> None:
    a, b = new_name(), new_name()
    fresh(deployment=a)
    _, ctx_b, report_b = fresh(deployment=b)
    assert {r.status for r in report_b.results.values()} == {CREATED}
    vpcs = ctx_b.client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"]
    assert len(vpcs) >= 2


# (what to change in the scenario, the step that must report it, a part of its detail)
CHANGES = [
    ("    dns_hostnames: true\n", "    dns_hostnames: false\n", "vpc", "dns_hostnames: true → false"),
    (
        "    cidr: 10.0.0.0/24\n    az: a\n",
        "    cidr: 10.0.0.0/24\n    az: a\n    public_ip_on_launch: true\n",
        "public-subnet1",
        "public_ip_on_launch: false → true",
    ),
    (
        "    subnets: [private-subnet1]\n\n  sec-alb:",
        "    subnets: [private-subnet1]\n    routes:\n"
        "      - {destination: 192.168.0.0/16, gateway: igw}\n\n  sec-alb:",
        "private-rt",
        "+route 192.168.0.0/16",
    ),
    (
        "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n",
        "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n"
        "      - {protocol: tcp, port: 443, cidr: 0.0.0.0/0}\n",
        "sec-alb/rules",
        "+ingress tcp/443 0.0.0.0/0",
    ),
    (
        "    service: logs\n    subnets: [private-subnet1]\n    security_groups: [sec-endpoints]\n"
        "    private_dns: true\n",
        "    service: logs\n    subnets: [private-subnet1]\n    security_groups: [sec-endpoints]\n"
        "    private_dns: false\n",
        "logs",
        "private_dns: true → false",
    ),
    (
        "      - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n",
        "      - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n"
        "      - arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess\n",
        "ecsTaskExecutionRole",
        "+policy",
    ),
    ("    retention_days: 7\n", "    retention_days: 14\n", "web-logs", "retention_days: 7 → 14"),
    (
        "    cpu: 256\n    memory: 512\n",
        "    cpu: 512\n    memory: 1024\n",
        "web",
        "cpu: 256 → 512, memory: 512 → 1024",
    ),
    ("    desired_count: ${params.desired_count}\n", "    desired_count: 3\n", "web-service", "desired_count: 2 → 3"),
    (
        "    security_groups: [sec-alb]\n",
        "    security_groups: [sec-alb, sec-endpoints]\n",
        "alb",
        "+security_group sec-endpoints",
    ),
    (
        "    health_check:\n      path: /\n",
        "    health_check:\n      path: /index.html\n",
        "web-tg",
        "health_check path: / → /index.html",
    ),
    (
        "    port: 80\n    protocol: HTTP\n    target_group: web-tg\n",
        "    port: 8080\n    protocol: HTTP\n    target_group: web-tg\n",
        "http",
        "port: 80 → 8080",
    ),
]


@pytest.mark.parametrize(("old", "new", "step", "detail"), CHANGES, ids=[c[2] for c in CHANGES])
def test_a_change_is_converged_once(fresh, tmp_path, old, new, step, detail) -> None:
    name = new_name()
    fresh(deployment=name)
    variant = write_variant(tmp_path, old, new)
    _, _, changed = fresh(str(variant), deployment=name)
    assert changed.results[step].status == UPDATED, changed.results[step]
    assert detail in changed.results[step].detail
    others = {s for s, r in changed.results.items() if r.status != UNCHANGED}
    # A new task definition revision rolls the service onto it.
    assert others == {step} | ({"web-service"} if step == "web" else set()), others
    _, _, again = fresh(str(variant), deployment=name)
    assert again.results[step].status == UNCHANGED
    assert not again.failed


def test_drift_outside_vpcctl_is_put_back(fresh) -> None:
    name = new_name()
    _, ctx, _ = fresh(deployment=name)
    ec2 = ctx.client("ec2")
    igw = ctx.attrs["igw"]["id"]
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=ctx.attrs["vpc"]["id"])
    group = ctx.attrs["sec-alb"]["id"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    _, _, report = fresh(deployment=name)
    assert report.results["igw"].status == UPDATED
    assert report.results["sec-alb/rules"].status == UPDATED
    assert "-ingress tcp/22 0.0.0.0/0" in report.results["sec-alb/rules"].detail


def test_an_immutable_change_fails_the_step_and_skips_its_dependents(fresh, tmp_path) -> None:
    name = new_name()
    fresh(deployment=name)
    variant = write_variant(tmp_path, "    cidr: 10.0.1.0/24\n", "    cidr: 10.0.2.0/24\n")
    _, _, report = fresh(str(variant), deployment=name)
    failed = report.results["private-subnet1"]
    assert failed.status == "failed"
    assert "cidr is 10.0.1.0/24 in AWS but 10.0.2.0/24 in the scenario" in failed.detail
    assert report.results["web-service"].status == "skipped"
    assert report.results["private-rt"].status == "skipped"


def test_every_kind_is_deleted_then_already_absent(fresh, make_ctx) -> None:
    name = new_name()
    loaded, _, _ = fresh(deployment=name)
    ctx = make_ctx(loaded, deployment=name)
    found = deploy.discover(ctx, list(handlers()))
    order = graph.teardown_order()
    from graphlib import TopologicalSorter

    kinds_used = {r.kind for r in loaded.resources.values()}
    for kind in TopologicalSorter(order).static_order():
        for item in found[kind].values():
            assert handler(kind).delete(ctx, item) is True, item
            assert handler(kind).delete(ctx, item) is False, item
        if kind in kinds_used:
            assert found[kind], kind
    assert deploy.sweep(make_ctx(loaded, deployment=name)) == []


# ------------------------------------------------------ tag writes, per service


def _vpc(ctx: Any) -> str:
    return str(ctx.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"])


def _target_group(ctx: Any) -> str:
    elb = ctx.client("elbv2")
    group = elb.create_target_group(Name="kit-tags", Protocol="HTTP", Port=80, VpcId=_vpc(ctx), TargetType="ip")
    return str(group["TargetGroups"][0]["TargetGroupArn"])


def _log_group(ctx: Any) -> str:
    logs = ctx.client("logs")
    logs.create_log_group(logGroupName="kit-tags")
    return group_arn(logs.describe_log_groups(logGroupNamePrefix="kit-tags")["logGroups"][0])


def _zone(ctx: Any) -> str:
    zone = ctx.client("route53").create_hosted_zone(Name="kit-tags.example.", CallerReference="kit-tags")
    return zone_id(zone["HostedZone"]["Id"])


def _resolver_rule(ctx: Any) -> str:
    rule = ctx.client("route53resolver").create_resolver_rule(
        CreatorRequestId="kit-tags", RuleType="SYSTEM", DomainName="kit-tags.example"
    )
    return str(rule["ResolverRule"]["Arn"])


# service -> (make a resource: the target its tag calls take, read its tags back). Not API
# Gateway: moto tags only stages (docs/moto-gaps.md).
TAGGED: dict[str, tuple[Callable[[Any], str], Callable[[Any, str], dict[str, str]]]] = {
    "ec2": (
        _vpc,
        lambda ctx, t: tagging.to_dict(
            ctx.client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [t]}])["Tags"]
        ),
    ),
    "elbv2": (
        _target_group,
        lambda ctx, t: tagging.to_dict(
            ctx.client("elbv2").describe_tags(ResourceArns=[t])["TagDescriptions"][0]["Tags"]
        ),
    ),
    "ecs": (
        lambda ctx: str(ctx.client("ecs").create_cluster(clusterName="kit-tags")["cluster"]["clusterArn"]),
        lambda ctx, t: tagging.to_dict(ctx.client("ecs").list_tags_for_resource(resourceArn=t)["tags"]),
    ),
    "logs": (_log_group, lambda ctx, t: ctx.client("logs").list_tags_for_resource(resourceArn=t)["tags"]),
    "iam": (
        lambda ctx: str(
            ctx.client("iam").create_role(RoleName="kit-tags", AssumeRolePolicyDocument="{}")["Role"]["RoleName"]
        ),
        lambda ctx, t: tagging.to_dict(ctx.client("iam").list_role_tags(RoleName=t)["Tags"]),
    ),
    "route53": (
        _zone,
        lambda ctx, t: tagging.to_dict(
            ctx.client("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=t)["ResourceTagSet"][
                "Tags"
            ]
        ),
    ),
    "route53resolver": (
        _resolver_rule,
        lambda ctx, t: tagging.to_dict(ctx.client("route53resolver").list_tags_for_resource(ResourceArn=t)["Tags"]),
    ),
}


@pytest.mark.parametrize("service", sorted(TAGGED))
def test_write_tags_sets_then_unsets_through_each_services_own_calls(moto_module: None, make_ctx, service) -> None:
    ctx = make_ctx(deployment=f"kit-{service}")
    make, read = TAGGED[service]
    target = make(ctx)
    want = {"Name": "kit-tags", "vpcctl:logical-id": "thing"}
    kit.write_tags(ctx, service, target, kit.tag_changes({}, want))
    assert want.items() <= read(ctx, target).items()
    kit.write_tags(ctx, service, target, kit.tag_changes(want, {"Name": "renamed"}))
    after = read(ctx, target)
    assert after.get("Name") == "renamed" and "vpcctl:logical-id" not in after
