"""`plan`, drift and prune: every change made outside vpcctl is named by `plan`, shown by
`status`, and undone by `up` exactly as `plan` said.

One moto for the module; each scenario is deployed once and every out-of-band change
below is made on it, planned, shown, converged and checked clean again."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import REGION, SCENARIOS, no_sleep, running_task_ips
from vpcctl import deploy, graph, scenario
from vpcctl.aws import Aws
from vpcctl.cli import cli
from vpcctl.errors import CHANGES, NOT_SERVING

_names = itertools.count(1)
KNOWN_AFTER = re.compile(r"\(known after [A-Za-z0-9-]+\)")

# fargate-privatelink with what the corpus needs besides: a private zone with an alias
# record to the load balancer, and a service without a load balancer of its own whose
# tasks' IPs vpcctl keeps registered in a target group.
ADDITIONS = """
  home:
    kind: hosted_zone
    name: home
    vpcs: [vpc]
  alb-home:
    kind: dns_record
    zone: home
    name: alb
    alias: alb
  side:
    kind: ecs_service
    cluster: cluster
    task_definition: web
    desired_count: 1
    subnets: [private-subnet1]
    security_groups: [sec-web-via-alb]
    depends_on: [ecr-api, ecr-dkr, logs, s3]
  side-tg:
    kind: target_group
    vpc: vpc
    protocol: HTTP
    port: 80
    target_type: ip
    services: [side]
"""


@dataclass
class Deployment:
    path: str
    loaded: Any
    name: str
    ids: dict[str, dict[str, Any]]  # logical id -> attributes, as the first up recorded them
    first_calls: dict[str, int]
    noop_calls: dict[str, int]


@functools.cache
def shared_aws() -> Aws:
    """One session and its clients for the module's contexts (making clients is slow)."""
    return Aws(REGION)


def context(loaded: Any, name: str, count: bool = False) -> Any:
    """A run context; count=True gives it clients of its own, so its calls are its own."""
    aws = Aws(REGION) if count else shared_aws()
    return deploy.context(aws, name, loaded, lambda e: None, poll_interval=0, wait_timeout=60, sleep=no_sleep)


def deployed(path: str) -> Deployment:
    loaded = scenario.load(path)
    name = f"pl{next(_names)}"
    ctx = context(loaded, name, count=True)
    first = deploy.up(loaded, ctx)
    assert not first.failed, first.failed
    again = deploy.up(loaded, context(loaded, name, count=True))
    assert not again.failed and not any(again.changes.values()), again.changes
    return Deployment(path, loaded, name, dict(ctx.attrs), first.calls, again.calls)


@pytest.fixture(scope="module")
def fargate(moto_module: None, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    text = (SCENARIOS / "fargate-privatelink.yaml").read_text()
    head, sep, outputs = text.partition("\nflows:")  # the resources end where the flows begin
    path = tmp_path_factory.mktemp("plan") / "fargate-privatelink-more.yaml"
    path.write_text(head.rstrip("\n") + "\n" + ADDITIONS + sep + outputs)
    return deployed(str(path))


def planned_changes(env: Deployment) -> dict[str, list[str]]:
    result = deploy.plan(env.loaded, context(env.loaded, env.name))
    return {r.logical_id: [str(c) for c in r.changes] for r in result.resources if r.changes}


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def matches(planned: str, applied: str) -> bool:
    """A value `plan` could only announce as "(known after x)" matches what `up` found."""
    pattern = ".+".join(re.escape(part) for part in KNOWN_AFTER.split(planned))
    return re.fullmatch(pattern, applied) is not None


def same_changes(planned: list[str], applied: list[str]) -> bool:
    """Up did what plan said. 'target: [...] → (known after side)' (targets of a service whose
    tasks are replaced first) stands for whatever up then registers and deregisters."""
    whole = re.fullmatch(r"(\w+): .* → " + KNOWN_AFTER.pattern, planned[0]) if len(planned) == 1 else None
    if whole:
        attribute = whole.group(1)
        return all(a.startswith((f"+{attribute} ", f"-{attribute} ", f"{attribute}: ")) for a in applied)
    return len(planned) == len(applied) and all(map(matches, planned, applied))


# ------------------------------------------------------------------ the corpus


def ec2(env: Deployment) -> Any:
    return context(env.loaded, env.name).client("ec2")


def rule_added_and_removed(env: Deployment) -> None:
    group = env.ids["sec-web-via-alb"]["id"]
    ec2(env).authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2(env).revoke_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "UserIdGroupPairs": [{"GroupId": env.ids["sec-alb"]["id"]}],
            }
        ],
    )


def route_deleted(env: Deployment) -> None:
    ec2(env).delete_route(RouteTableId=env.ids["public-rt"]["id"], DestinationCidrBlock="0.0.0.0/0")


def private_dns_off(env: Deployment) -> None:
    ec2(env).modify_vpc_endpoint(VpcEndpointId=env.ids["ecr-api"]["id"], PrivateDnsEnabled=False)


def desired_count_changed(env: Deployment) -> None:
    ecs = context(env.loaded, env.name).client("ecs")
    ecs.update_service(cluster=env.ids["cluster"]["arn"], service=env.ids["web-service"]["arn"], desiredCount=1)


def image_changed_in_a_new_revision(env: Deployment) -> None:
    """As the console does it: a new revision of the family, its tags copied."""
    ecs = context(env.loaded, env.name).client("ecs")
    answer = ecs.describe_task_definition(taskDefinition=env.ids["web"]["family"], include=["TAGS"])
    definition = answer["taskDefinition"]
    containers = [
        {**c, "image": c["image"].replace(":stable", ":mainline")} for c in definition["containerDefinitions"]
    ]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn")
    ecs.register_task_definition(
        **{k: definition[k] for k in keep}, containerDefinitions=containers, tags=answer["tags"]
    )


def listener_port_changed(env: Deployment) -> None:
    elb = context(env.loaded, env.name).client("elbv2")
    elb.modify_listener(ListenerArn=env.ids["http"]["arn"], Port=8080)


def health_check_path_changed(env: Deployment) -> None:
    elb = context(env.loaded, env.name).client("elbv2")
    elb.modify_target_group(TargetGroupArn=env.ids["web-tg"]["arn"], HealthCheckPath="/healthz")


def tag_removed(env: Deployment) -> None:
    ec2(env).delete_tags(Resources=[env.ids["public-subnet1"]["id"]], Tags=[{"Key": "Name"}])


def association_moved(env: Deployment) -> None:
    client = ec2(env)
    subnet = env.ids["public-subnet2"]["id"]
    table = client.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    association = next(
        a["RouteTableAssociationId"] for a in table["RouteTables"][0]["Associations"] if a.get("SubnetId") == subnet
    )
    client.replace_route_table_association(AssociationId=association, RouteTableId=env.ids["private-rt"]["id"])


def log_group_deleted(env: Deployment) -> None:
    logs = context(env.loaded, env.name).client("logs")
    logs.delete_log_group(logGroupName=env.ids["web-logs"]["name"])


def dns_hostnames_off(env: Deployment) -> None:
    ec2(env).modify_vpc_attribute(VpcId=env.ids["vpc"]["id"], EnableDnsHostnames={"Value": False})


def side_task_ip(env: Deployment) -> str:
    ctx = context(env.loaded, env.name)
    ips = running_task_ips(ctx.client("ecs"), env.ids["cluster"]["arn"], ("side",))
    return str(next(iter(ips.values())))


def target_deregistered(env: Deployment) -> None:
    """A running task's IP taken out of the group vpcctl keeps it in."""
    elb = context(env.loaded, env.name).client("elbv2")
    elb.deregister_targets(TargetGroupArn=env.ids["side-tg"]["arn"], Targets=[{"Id": side_task_ip(env)}])


def dead_ip_registered(env: Deployment) -> None:
    """An address no running task has (a task that died) left registered."""
    elb = context(env.loaded, env.name).client("elbv2")
    elb.register_targets(TargetGroupArn=env.ids["side-tg"]["arn"], Targets=[{"Id": "10.0.1.250"}])


def alias_target_changed(env: Deployment) -> None:
    r53 = context(env.loaded, env.name).client("route53")
    other = env.ids["ecr-api"]  # an interface endpoint's DNS name: another alias target AWS accepts
    r53.change_resource_record_sets(
        HostedZoneId=env.ids["home"]["id"],
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "alb.home.",
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": other["zone_id"],
                            "DNSName": other["dns_name"] + ".",
                            "EvaluateTargetHealth": False,
                        },
                    },
                }
            ]
        },
    )


def image(env: Deployment, tag: str) -> str:
    """The scenario's nginx image through its pull-through cache rule, at this tag."""
    return f"{env.ids['ecr-public']['uri']}/nginx/nginx:{tag}"


def dns(env: Deployment, lid: str) -> str:
    """A load balancer's DNS name as Route 53 lists it (lower case)."""
    return str(env.ids[lid]["dns_name"]).lower()


def name(env: Deployment, lid: str) -> str:
    return f"{env.name}-{lid}"


# (out-of-band change, the deployment it is made on, what plan must say: logical id -> changes)
CASES: list[tuple[Callable[[Deployment], None], str, Callable[[Deployment], dict[str, list[str]]]]] = [
    (
        rule_added_and_removed,
        "fargate",
        lambda e: {"sec-web-via-alb": ["+ingress tcp/80 sec-alb", "-ingress tcp/22 0.0.0.0/0"]},
    ),
    (route_deleted, "fargate", lambda e: {"public-rt": ["+route 0.0.0.0/0 igw"]}),
    (private_dns_off, "fargate", lambda e: {"ecr-api": ["private_dns: false → true"]}),
    (desired_count_changed, "fargate", lambda e: {"web-service": ["desired_count: 1 → 2"]}),
    (
        image_changed_in_a_new_revision,
        "fargate",
        lambda e: {
            "web": [f"container web image: {image(e, 'mainline')} → {image(e, 'stable')}"],
            "web-service": [f"task_definition: {name(e, 'web')}:1 → (known after web)"],
            "side": [f"task_definition: {name(e, 'web')}:1 → (known after web)"],
            "side-tg": [f"target: [{side_task_ip(e)}] → (known after side)"],
        },
    ),
    (listener_port_changed, "fargate", lambda e: {"http": ["port: 8080 → 80"]}),
    (health_check_path_changed, "fargate", lambda e: {"web-tg": ["health_check path: /healthz → /"]}),
    (tag_removed, "fargate", lambda e: {"public-subnet1": [f"tag Name: (none) → {name(e, 'public-subnet1')}"]}),
    (association_moved, "fargate", lambda e: {"public-rt": ["+subnet public-subnet2"]}),
    (log_group_deleted, "fargate", lambda e: {"web-logs": ["create"]}),
    (dns_hostnames_off, "fargate", lambda e: {"vpc": ["dns_hostnames: false → true"]}),
    (target_deregistered, "fargate", lambda e: {"side-tg": [f"+target {side_task_ip(e)}"]}),
    (dead_ip_registered, "fargate", lambda e: {"side-tg": ["-target 10.0.1.250"]}),
    (
        alias_target_changed,
        "fargate",
        lambda e: {"alb-home": [f"target: alias {dns(e, 'ecr-api')} → alias {dns(e, 'alb')}"]},
    ),
]


@pytest.mark.parametrize(("change", "where", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_an_out_of_band_change_is_planned_shown_and_undone_as_planned(
    request: pytest.FixtureRequest, change: Callable[[Deployment], None], where: str, expected: Callable[..., Any]
) -> None:
    env: Deployment = request.getfixturevalue(where)
    change(env)

    planned = planned_changes(env)
    assert planned == expected(env)

    shown = run("plan", env.path, "--name", env.name, "--detailed-exitcode", "-o", "json")
    assert shown.exit_code == CHANGES, shown.output
    document = json.loads(shown.stdout)
    assert {r["logical_id"] for r in document["resources"] if r["changes"]} == set(planned)

    status = run("status", env.path, "--name", env.name, "-o", "json")
    shown_status = json.loads(status.stdout)
    # Drift exits 5, unless the change also stops it serving: that (6) is the news.
    assert status.exit_code == (CHANGES if shown_status["serving"] else NOT_SERVING), status.output
    drifted = {r["logical_id"] for r in shown_status["resources"] if r["drift"]}
    assert drifted == set(planned)

    report = deploy.up(env.loaded, context(env.loaded, env.name))
    assert not report.failed, report.failed
    applied = {lid: [str(c) for c in cs] for lid, cs in report.changes.items() if cs}
    assert set(applied) <= set(planned)
    for lid, changes in planned.items():
        assert same_changes(changes, applied.get(lid, [])), (changes, applied)

    assert planned_changes(env) == {}


def test_after_up_plan_says_no_changes_and_exits_0(fargate: Deployment) -> None:
    result = run("plan", fargate.path, "--name", fargate.name, "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output
    assert run("status", fargate.path, "--name", fargate.name).exit_code == 0


def test_plan_of_a_deployment_that_does_not_exist_lists_every_resource_as_create(fargate: Deployment) -> None:
    """A new deployment name is an empty account to vpcctl: nothing found, nothing written."""
    ctx = context(fargate.loaded, "plnew", count=True)
    result = deploy.plan(fargate.loaded, ctx)
    assert {r.logical_id: r.action for r in result.resources} == {lid: "create" for lid in fargate.loaded.resources}
    writes = [op for op in result.calls if not op.split(":")[1].startswith(("Describe", "List", "Get"))]
    assert writes == [], writes
    service = result.of("web-service").changes[0].after
    assert service["cluster"] == "cluster" and service["desired_count"] == 2

    shown = run("plan", fargate.path, "--name", "plnew", "--detailed-exitcode")
    assert shown.exit_code == CHANGES
    assert f"plan: {len(fargate.loaded.resources)} to create, 0 to update" in shown.output


def test_a_value_only_a_create_gives_is_known_after_it(fargate: Deployment) -> None:
    document = json.loads(run("plan", fargate.path, "--name", "plnew2", "-o", "json").stdout)
    subnet = next(r for r in document["resources"] if r["logical_id"] == "public-subnet1")
    assert subnet["changes"][0]["after"]["vpc"] == "(known after vpc)"


def test_plan_reads_no_more_than_a_no_op_up(fargate: Deployment) -> None:
    result = deploy.plan(fargate.loaded, context(fargate.loaded, fargate.name, count=True))
    assert sum(result.calls.values()) <= sum(fargate.noop_calls.values())


def test_up_dry_run_is_plan(fargate: Deployment) -> None:
    plan = run("plan", fargate.path, "--name", "plnew3", "-o", "json")
    dry = run("up", fargate.path, "--name", "plnew3", "--dry-run", "-o", "json")
    assert dry.exit_code == 0
    assert json.loads(dry.stdout)["resources"] == json.loads(plan.stdout)["resources"]


# ------------------------------------------------------------------------ prune

SMALL = """\
scenario: small
region: ap-northeast-1
resources:
  vpc:
    kind: vpc
    cidr: 10.9.0.0/16
  app-logs:
    kind: log_group
    retention_days: 7
  extra-logs:
    kind: log_group
  extra-sg:
    kind: security_group
    vpc: vpc
    description: dropped later
"""


def small(tmp_path: Path, keep_extra: bool) -> Any:
    text = SMALL if keep_extra else SMALL.split("  extra-logs:")[0]
    path = tmp_path / ("small-full.yaml" if keep_extra else "small.yaml")
    path.write_text(text)
    return scenario.load(str(path))


def test_resources_dropped_from_the_scenario_are_kept_listed_then_pruned(
    moto_module: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"pl{next(_names)}"
    full, trimmed = small(tmp_path, True), small(tmp_path, False)
    assert not deploy.up(full, context(full, name)).failed
    builds = []
    build = graph.build
    monkeypatch.setattr(graph, "build", lambda *a, **k: builds.append(1) or build(*a, **k))

    planned = deploy.plan(trimmed, context(trimmed, name))
    assert {r.logical_id: r.action for r in planned.resources if r.action == "delete"} == {
        "extra-logs": "delete",
        "extra-sg": "delete",
    }

    kept = run("up", trimmed.file, "--name", name, "--skip-check")
    assert kept.exit_code == 0, kept.output
    assert "kept, not in the scenario" in kept.output and "extra-logs" in kept.output and "extra-sg" in kept.output
    assert len(builds) == 1  # the step graph is built once per command, when the file is read
    assert {f.logical_id for f in deploy.up(trimmed, context(trimmed, name)).unmanaged} == {"extra-logs", "extra-sg"}

    pruned = deploy.up(trimmed, context(trimmed, name), prune=True)
    assert {r.status for r in pruned.pruned.values()} == {"deleted"} and len(pruned.pruned) == 2
    after = deploy.plan(trimmed, context(trimmed, name))
    assert not after.has_changes, [r.as_dict() for r in after.resources if r.changes]


def test_ecs_items_dropped_from_the_scenario_are_listed_and_a_lagging_index_hides_none(
    fargate: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vpcctl.resources import kit

    # The scenario's clusters and services are described by name; the ones it no longer has
    # come from the tag index.
    path = tmp_path / "without-side.yaml"
    path.write_text(Path(fargate.path).read_text().replace(ADDITIONS[ADDITIONS.index("  side:\n") :], ""))
    trimmed = scenario.load(str(path))
    planned = deploy.plan(trimmed, context(trimmed, fargate.name))
    assert {r.logical_id for r in planned.resources if r.action == "delete"} == {"side", "side-tg"}
    # An index that lists nothing yet makes none of the scenario's own resources look missing.
    monkeypatch.setattr(kit, "tag_index", lambda ctx, types=None: {})
    lagging = deploy.plan(fargate.loaded, context(fargate.loaded, fargate.name))
    assert not lagging.has_changes, [r.as_dict() for r in lagging.resources if r.changes]


# ------------------------------------------------------------- log group owners


def test_teardown_deletes_only_log_groups_tagged_for_the_deployment(moto_module: None, tmp_path: Path) -> None:
    name = f"pl{next(_names)}"
    full = small(tmp_path, True)
    ctx = context(full, name)
    assert not deploy.up(full, ctx).failed
    logs = ctx.client("logs")
    lookalike, foreign = f"/vpcctl/{name}/lookalike", f"/vpcctl/{name}/foreign"
    logs.create_log_group(logGroupName=lookalike)
    logs.create_log_group(
        logGroupName=foreign, tags={"vpcctl:deployment": "someone-else", "vpcctl:logical-id": "foreign"}
    )

    assert {f.logical_id for f in deploy.discover(context(full, name), ["log_group"])["log_group"].values()} == {
        "app-logs",
        "extra-logs",
    }
    report = deploy.teardown(context(full, name))
    assert not report.failed and report.leftovers == []
    left = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/vpcctl/{name}/")["logGroups"]}
    assert left == {lookalike, foreign}
