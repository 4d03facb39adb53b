"""Instances, VPC peering, Route 53 zones and records, and target groups that vpcctl fills
itself, against moto: each kind ensured twice (changed, then unchanged) and deleted twice;
alb-ip-targets and internal-alb-peering up, up again, status and teardown."""

from __future__ import annotations

import itertools
from graphlib import TopologicalSorter
from typing import Any

import pytest

import conftest
from conftest import changed_steps, write_variant
from vpcctl import deploy, graph, scenario
from vpcctl.aws import Aws
from vpcctl.engine import CREATED, UNCHANGED, UPDATED
from vpcctl.resources import handler, handlers
from vpcctl.resources.compute import DEFAULT_AMI_PARAMETER

PEERING = "internal-alb-peering"
IP_TARGETS = "alb-ip-targets"
BASTION_CIDR = "203.0.113.7/32"
_names = itertools.count(1)


def new_name() -> str:
    return f"c{next(_names)}"


@pytest.fixture
def fresh(up_scenario):
    # With an address for ssh, the scenarios keep their bastions (without, they leave them out).
    def up(path: str = PEERING, deployment: str | None = None, **options: Any):
        return up_scenario(path, deployment, {"ssh_cidr": BASTION_CIDR}, **options)

    return up


# ------------------------------------------------------------ whole scenarios


@pytest.mark.parametrize("name", [PEERING, IP_TARGETS])
def test_up_twice_status_and_teardown_leave_nothing(fresh, make_ctx, name: str) -> None:
    deployment = new_name()
    loaded, _, first = fresh(name, deployment)
    assert not first.failed, first.failed
    assert {r.status for r in first.results.values()} == {CREATED}

    _, _, second = fresh(name, deployment)
    assert changed_steps(second) == {}
    creates = {op: n for op, n in second.calls.items() if ":Create" in op or ":Run" in op or ":Register" in op}
    assert creates == {}

    rows = deploy.status(make_ctx(loaded, deployment=deployment), loaded)
    assert len(rows) == len(loaded.resources)
    assert all(r.state != "absent" and not r.note for r in rows), rows

    gone = deploy.teardown(make_ctx(loaded, deployment=deployment))
    assert not gone.failed and gone.leftovers == []
    assert deploy.status(make_ctx(None, deployment=deployment), None) == []


def test_outputs_name_the_load_balancer_alb_home_and_the_bastion(fresh, make_ctx) -> None:
    deployment = new_name()
    loaded, ctx, _ = fresh(PEERING, deployment)
    out = deploy.outputs(make_ctx(loaded, deployment=deployment), loaded)
    assert out["alb_home"] == "alb.home"
    assert out["curl"] == "curl -v alb.home"
    assert out["alb_dns"] == ctx.attr("foo-internal-alb", "dns_name")
    assert out["bar_bastion_ip"] and out["ssh_client"].endswith(ctx.attr("client", "private_ip"))


def test_the_bastion_rule_holds_its_private_ip(fresh) -> None:
    """A run-time value inside a late field: `${step-server.private_ip}/32`."""
    _, ctx, report = fresh(IP_TARGETS, new_name())
    bastion = ctx.attr("step-server", "private_ip")
    assert f"+ingress tcp/80 {bastion}/32" in report.results["klein-targets-sg/rules"].detail
    group = ctx.client("ec2").describe_security_groups(GroupIds=[ctx.id_of("klein-targets-sg")])["SecurityGroups"][0]
    cidrs = {r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]}
    sources = {g["GroupId"] for p in group["IpPermissions"] for g in p["UserIdGroupPairs"]}
    assert cidrs == {f"{bastion}/32"} and sources == {ctx.id_of("klein-alb-sg")}


def test_web_servers_are_targets_by_ip_and_by_instance(fresh) -> None:
    _, by_ip, _ = fresh(IP_TARGETS, new_name())
    assert registered(by_ip, "klein-alb-tg-by-ip") == {
        by_ip.attr("web-a", "private_ip"),
        by_ip.attr("web-b", "private_ip"),
    }
    _, by_instance, _ = fresh(PEERING, new_name())
    assert registered(by_instance, "foo-web-tg") == {by_instance.id_of("web1"), by_instance.id_of("web2")}


def test_instances_run_the_latest_amazon_linux_and_their_user_data(fresh) -> None:
    _, ctx, _ = fresh(PEERING, new_name())
    ec2 = ctx.client("ec2")
    latest = ctx.client("ssm").get_parameter(Name=DEFAULT_AMI_PARAMETER)["Parameter"]["Value"]
    web1 = ec2.describe_instances(InstanceIds=[ctx.id_of("web1")])["Reservations"][0]["Instances"][0]
    assert web1["ImageId"] == latest
    assert "PublicIpAddress" not in web1 and ctx.attr("foo-bastion", "public_ip")
    from vpcctl.resources.compute import user_data

    assert "<title>Welcome to web1</title>" in user_data(ctx, web1["InstanceId"])
    assert "python3 -m http.server 8080" in user_data(ctx, web1["InstanceId"])


def test_peering_is_active_with_dns_resolution_both_ways_and_routed(fresh) -> None:
    _, ctx, _ = fresh(PEERING, new_name())
    ec2 = ctx.client("ec2")
    peering = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[ctx.id_of("foo-bar")])[
        "VpcPeeringConnections"
    ][0]
    assert peering["Status"]["Code"] == "active"
    for side in ("RequesterVpcInfo", "AccepterVpcInfo"):
        assert peering[side]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True
    table = ec2.describe_route_tables(RouteTableIds=[ctx.id_of("bar-private-rt")])["RouteTables"][0]
    routes = {r.get("DestinationCidrBlock"): r for r in table["Routes"]}
    assert routes["10.2.0.0/16"]["VpcPeeringConnectionId"] == ctx.id_of("foo-bar")


def test_alb_home_is_an_alias_in_a_zone_private_to_both_vpcs(fresh) -> None:
    _, ctx, _ = fresh(PEERING, new_name())
    r53 = ctx.client("route53")
    zone = r53.get_hosted_zone(Id=ctx.id_of("home"))
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert {v["VPCId"] for v in zone["VPCs"]} == {ctx.id_of("foo"), ctx.id_of("bar")}
    records = r53.list_resource_record_sets(HostedZoneId=ctx.id_of("home"))["ResourceRecordSets"]
    alias = next(r for r in records if r["Name"].rstrip(".") == "alb.home" and r["Type"] == "A")
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == ctx.attr("foo-internal-alb", "dns_name")
    assert alias["AliasTarget"]["HostedZoneId"] == ctx.attr("foo-internal-alb", "zone_id")
    owner = next(r for r in records if r["Name"].startswith("_vpcctl-a.alb.home"))
    assert "vpcctl:logical-id=alb-home" in owner["ResourceRecords"][0]["Value"]
    # Route 53 is global: the same deployment name in another region does not own this zone.
    assert handler("hosted_zone").discover(ctx)[0].tags["vpcctl:region"] == conftest.REGION
    elsewhere = deploy.context(Aws("us-east-1"), ctx.deployment, ctx.scenario, lambda e: None)
    assert handler("hosted_zone").discover(elsewhere) == []


# ------------------------------------------------------ each kind, changed once

ALB_RECORD = "    name: alb.home\n    type: A\n"

# (what to change in internal-alb-peering, the step that must report it, a part of its detail)
CHANGES = [
    (
        "    subnet: foo-private-1a\n    security_groups: [foo-web-sg]\n",
        "    subnet: foo-private-1a\n    security_groups: [foo-web-sg, foo-bastion-sg]\n",
        "web1",
        "+security_group foo-bastion-sg",
    ),
    ("    allow_remote_dns: true\n", "    allow_remote_dns: false\n", "foo-bar", "allow_remote_dns: true → false"),
    ("    vpcs: [foo, bar]\n", "    vpcs: [foo]\n", "home", "-vpc"),
    (ALB_RECORD, "    name: web.home\n    type: A\n", "alb-home", "name: alb.home A → web.home A"),
    (
        '    targets: ["${web1.id}", "${web2.id}"]\n',
        '    targets: ["${web1.id}"]\n',
        "foo-web-tg/rules",
        "-target i-",
    ),
]


@pytest.mark.parametrize(("old", "new", "step", "detail"), CHANGES, ids=[c[2] for c in CHANGES])
def test_a_change_is_converged_once(fresh, tmp_path, old, new, step, detail) -> None:
    name = new_name()
    fresh(PEERING, name)
    variant = write_variant(tmp_path, old, new, name=PEERING)
    _, _, changed = fresh(str(variant), name)
    assert changed.results[step].status == UPDATED, changed.results[step]
    assert detail in changed.results[step].detail
    assert set(changed_steps(changed)) == {step}
    _, _, again = fresh(str(variant), name)
    assert changed_steps(again) == {}


def test_a_renamed_record_leaves_no_old_record_behind(fresh, tmp_path) -> None:
    name = new_name()
    fresh(PEERING, name)
    variant = write_variant(tmp_path, ALB_RECORD, "    name: web\n    type: A\n", name=PEERING)
    _, ctx, _ = fresh(str(variant), name)
    records = ctx.client("route53").list_resource_record_sets(HostedZoneId=ctx.id_of("home"))["ResourceRecordSets"]
    names = {r["Name"].rstrip(".") for r in records if r["Type"] in ("A", "TXT")}
    assert names == {"web.home", "_vpcctl-a.web.home"}


def test_an_instance_type_change_is_refused_with_what_to_do(fresh, tmp_path) -> None:
    name = new_name()
    fresh(PEERING, name)
    variant = write_variant(tmp_path, "    default: t3.micro\n", "    default: t3.small\n", name=PEERING)
    _, _, report = fresh(str(variant), name)
    failed = report.results["web1"]
    assert failed.status == "failed"
    assert "instance_type is t3.micro in AWS but t3.small in the scenario" in failed.detail
    assert report.results["foo-web-tg/rules"].status == "skipped"


def test_a_stopped_instance_is_started_again(fresh) -> None:
    name = new_name()
    _, ctx, _ = fresh(PEERING, name)
    ctx.client("ec2").stop_instances(InstanceIds=[ctx.id_of("client")])
    _, _, report = fresh(PEERING, name)
    assert report.results["client"].status == UPDATED
    assert report.results["client"].detail == "state: stopped → running"


def test_a_zone_whose_run_died_before_tagging_is_found_and_tagged(fresh) -> None:
    """CreateHostedZone takes no tags; its CallerReference names the owner."""
    name = new_name()
    _, ctx, _ = fresh(PEERING, name)
    r53 = ctx.client("route53")
    keys = [
        t["Key"]
        for t in r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=ctx.id_of("home"))["ResourceTagSet"][
            "Tags"
        ]
    ]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=ctx.id_of("home"), RemoveTagKeys=keys)
    _, again, report = fresh(PEERING, name)
    assert report.results["home"].status == UPDATED  # its tags converge again
    assert "tag vpcctl:logical-id: (none) → home" in report.results["home"].detail
    assert again.id_of("home") == ctx.id_of("home")
    tags = r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=ctx.id_of("home"))["ResourceTagSet"]
    assert {"Key": "vpcctl:logical-id", "Value": "home"} in tags["Tags"]


# ----------------------------------------------- every kind deleted, then absent


@pytest.mark.parametrize("name", [PEERING, IP_TARGETS])
def test_every_kind_is_deleted_then_already_absent(fresh, make_ctx, name: str) -> None:
    deployment = new_name()
    loaded, _, _ = fresh(name, deployment)
    ctx = make_ctx(loaded, deployment=deployment)
    found = deploy.discover(ctx, list(handlers()))
    kinds_used = {r.kind for r in loaded.resources.values()}
    for kind in TopologicalSorter(graph.teardown_order()).static_order():
        for item in found[kind].values():
            assert handler(kind).delete(ctx, item) is True, item
            assert handler(kind).delete(ctx, item) is False, item
        if kind in kinds_used:
            assert found[kind], kind
    assert deploy.sweep(make_ctx(loaded, deployment=deployment)) == []


# ------------------------------------------- PublicServices follows the tasks


def registered(ctx, target_group: str) -> set[str]:
    answer = ctx.client("elbv2").describe_target_health(TargetGroupArn=ctx.attr(target_group, "arn"))
    return {d["Target"]["Id"] for d in answer["TargetHealthDescriptions"] if d["TargetHealth"]["State"] != "draining"}


SERVICES = ("publicIpOn", "publicIpOn2")


def running_task_ips(ctx) -> dict[str, str | None]:
    """Task ARN -> private IP of the RUNNING tasks of publicIpOn and publicIpOn2."""
    return conftest.running_task_ips(ctx.client("ecs"), ctx.attr("klein-cluster", "arn"), SERVICES)


def test_public_services_holds_the_running_tasks_once_they_run(fresh) -> None:
    _, ctx, report = fresh(IP_TARGETS, new_name())
    tasks = running_task_ips(ctx)
    assert len(tasks) == 2
    assert registered(ctx, "PublicServices") == set(tasks.values())
    detail = report.results["PublicServices/rules"].detail
    assert all(f"+target {ip}" in detail for ip in tasks.values())
    # Registered only after the tasks ran: the group's second step follows both services.
    assert {"publicIpOn", "publicIpOn2"} <= graph.build(scenario.load(IP_TARGETS))["PublicServices/rules"]


def test_a_stopped_task_is_replaced_in_public_services(fresh) -> None:
    name = new_name()
    _, ctx, _ = fresh(IP_TARGETS, name)
    gone_arn, gone_ip = next(iter(running_task_ips(ctx).items()))
    ctx.client("ecs").stop_task(cluster=ctx.attr("klein-cluster", "arn"), task=gone_arn, reason="test")
    _, ctx, report = fresh(IP_TARGETS, name)
    now = running_task_ips(ctx)
    assert gone_arn not in now and len(now) == 2
    assert registered(ctx, "PublicServices") == set(now.values())
    if gone_ip not in now.values():  # the replacement may be handed the freed address again
        assert f"-target {gone_ip}" in report.results["PublicServices/rules"].detail


def test_public_services_drops_ips_of_gone_tasks_and_adds_missing_ones(fresh) -> None:
    name = new_name()
    _, ctx, _ = fresh(IP_TARGETS, name)
    elb, group = ctx.client("elbv2"), ctx.attr("PublicServices", "arn")
    kept, dropped = sorted(running_task_ips(ctx).values())
    elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": dropped}])
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.1.2.99"}])  # a task long gone
    assert registered(ctx, "PublicServices") == {kept, "10.1.2.99"}

    _, ctx, report = fresh(IP_TARGETS, name)
    assert report.results["PublicServices/rules"].status == UPDATED
    assert report.results["PublicServices/rules"].detail == f"+target {dropped}, -target 10.1.2.99"
    assert registered(ctx, "PublicServices") == {kept, dropped}
    _, _, again = fresh(IP_TARGETS, name)
    assert again.results["PublicServices/rules"].status == UNCHANGED
