"""Turn AWS's failure reasons into what to change, by reading the live network.

A stopped task says `CannotPullContainerError ... i/o timeout`; an unhealthy target says
`Target.Timeout`. Neither says which route, endpoint or rule is missing: this reads the
VPC's routes, endpoints, groups and load balancers into the network model
(`network.from_aws`) and asks it, hop by hop. Each hint and live finding names the
`check` rule it falls under, so `check`, `check --live` and `up` speak alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vpcctl import model
from vpcctl.resources.base import Context

if TYPE_CHECKING:
    from vpcctl import network

# The network model and the rules of `check` load when a failure is explained, not with every `up`.

PULL_FAILURES = ("CannotPullContainerError", "ResourceInitializationError")
NAMED_KINDS = ("load_balancer", "target_group", "resolver_endpoint", "resolver_rule", "hosted_zone", "vpc_peering")


def names(ctx: Context) -> dict[str, str]:
    """AWS id -> logical id, for what EC2 does not tag in its describe results."""
    return {f.id: f.logical_id for kind in NAMED_KINDS for f in ctx.inventory.all(kind).values()}


def _network(ctx: Context, vpc_ids: list[str], everything: bool = False) -> network.Network:
    from vpcctl.network import from_aws

    extra: dict[str, Any] = {"elbv2": ctx.client("elbv2"), "names": names(ctx)}
    if everything:
        extra |= {"route53": ctx.client("route53"), "resolver": ctx.client("route53resolver")}
    return from_aws.build(ctx.client("ec2"), vpc_ids, region=ctx.region, **extra)


def hint(rule_id: str, hop: network.Hop) -> str:
    return f"{rule_id}: {hop.detail}; {hop.fix}"


def pull_gaps(ctx: Context, subnet_id: str, public_ip: bool, task_groups: set[str], uses_awslogs: bool) -> list[str]:
    """What keeps tasks in this subnet from their registry, S3 and logs; empty when nothing does."""
    from vpcctl import network
    from vpcctl.network import from_aws

    subnet = ctx.client("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    net = from_aws.build(ctx.client("ec2"), [subnet["VpcId"]], region=ctx.region)
    tasks = network.Party(
        "the tasks", subnet["VpcId"], (subnet_id,), (subnet["CidrBlock"],), tuple(sorted(task_groups)), "", public_ip
    )
    return _registry_hints(net, tasks, uses_awslogs)


def _registry_hints(net: network.Network, tasks: network.Party, uses_awslogs: bool) -> list[str]:
    from vpcctl import netcheck, network

    out: list[str] = []
    for result in network.registry_results(net, tasks, uses_awslogs):
        out += [h for h in (hint(netcheck.registry_rule(hop), hop) for hop in result.broken) if h not in out]
    return out


def lb_gaps(ctx: Context, target_group: dict[str, Any], target_ip: str, target_groups: set[str]) -> list[str]:
    """What keeps the group's load balancers from one target (an IP or its instance's IP)."""
    from vpcctl import netcheck
    from vpcctl.network import evaluate

    net = _network(ctx, [target_group["VpcId"]])
    group = net.target_groups.get(target_group["TargetGroupArn"])
    if group is None:
        return []
    out: list[str] = []
    for lb in evaluate.load_balancers_of(net, group.id):
        for result in evaluate.target_results(net, lb, group):
            target = next(t.host for t in group.targets if t.host.name == result.destination)
            if target.id != target_ip and f"{target_ip}/32" not in target.addresses:
                continue
            out += [h for h in (hint(netcheck.target_rule(result, hop), hop) for hop in result.broken) if h not in out]
    return out


TARGET_HINTS = {
    "Target.FailedHealthChecks": "the health check fails: is the application listening on the target port and "
    "answering at the health-check path?",
    "Target.ResponseCodeMismatch": "the health-check path answers a code outside the matcher: point "
    "health_check.path at a page that answers 200",
    "Target.NotInUse": "no listener forwards to this target group",
}


def live_findings(ctx: Context) -> list[Any]:
    """`check --live`: the rules of `check` over what the deployment has in AWS — each service's
    tasks to their registry, every load balancer to every registered target (on that target's
    port), the Resolver's clients, and the scenario's declared flows."""
    from vpcctl import images, netcheck, network
    from vpcctl.netcheck import Finding
    from vpcctl.network import evaluate

    vpcs = sorted(f.id for f in ctx.inventory.all("vpc").values())
    if not vpcs:
        return []
    net = _network(ctx, vpcs, everything=True)
    findings: list[Finding] = []

    def add(rule_id: str, resource: str, message: str, fix: str) -> None:
        finding = Finding(rule_id, "error", resource, message, fix)
        if finding not in findings:
            findings.append(finding)

    for service in ctx.inventory.all("ecs_service").values():
        config = (service.raw.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        subnets = tuple(config.get("subnets") or ())
        vpc = net.vpc_of_subnets(subnets)
        if vpc is None:
            continue
        tasks = network.Party(
            f"tasks of {service.logical_id}",
            vpc,
            subnets,
            net.cidrs(subnets),
            tuple(config.get("securityGroups") or ()),
            service.logical_id,
            config.get("assignPublicIp") == "ENABLED",
        )
        definition = _definition(ctx, service.raw.get("taskDefinition", ""))
        for result in network.registry_results(net, tasks, _uses_awslogs(definition)):
            for hop in result.broken:
                add(netcheck.registry_rule(hop), service.logical_id, f"{hop.detail} ({result.destination})", hop.fix)
        if not any(evaluate.leaves(net, subnet, tasks.public_ip)[0] for subnet in subnets):
            for image, prefix in _cold_images(ctx, definition):
                add(
                    "pull-through-first-pull",
                    service.logical_id,
                    f"tasks of {service.logical_id} have no route to the internet, and {image} is not in the cache "
                    f"of pull-through rule {prefix} yet: its first pull needs one",
                    images.first_pull_hint(image, prefix).split(": ", 1)[1],
                )
    for lb, group, result in network.all_target_results(net):
        for hop in result.broken:
            add(
                netcheck.target_rule(result, hop),
                group.name,
                f"{lb.name} → {result.destination}: {hop.detail}",
                hop.fix,
            )
    for result in network.resolver_results(net):
        for hop in result.broken:
            add("resolver-sg-53", result.destination, hop.detail, hop.fix)
    for rule in net.resolver_rules.values():
        looped = [t for t in rule.targets if net.resolver_endpoints[t].vpc in rule.vpcs]
        if looped:
            add("resolver-rule-loop", rule.name, f"rule {rule.name} is associated with the VPC it forwards to", "")
    for flow in ctx.scenario.flows if ctx.scenario else ():
        result = _declared(ctx, net, flow)
        if result is not None and not result.ok:
            add("flow", flow.client, result.text(), result.broken[0].fix)
    return findings


def _declared(ctx: Context, net: network.Network, flow: model.Flow) -> network.Result | None:
    """A declared flow over AWS's state: logical ids become AWS ids, run-time values their values."""
    from vpcctl import network

    by_name = {
        thing.name: thing_id
        for table in (net.hosts, net.load_balancers, net.endpoints)
        for thing_id, thing in table.items()
    }
    client = "internet" if flow.client == "internet" else by_name.get(flow.client)
    destination = by_name.get(flow.to, flow.to)
    if client is None:
        return None
    if model.RUNTIME.search(destination):
        try:
            destination = ctx.resolve(destination)
        except KeyError:
            for lid, attr in model.RUNTIME.findall(destination):
                kind = ctx.scenario.resources[lid].kind if ctx.scenario and lid in ctx.scenario.resources else None
                found = ctx.inventory.get(kind, lid) if kind else None
                if found is None or attr not in found.attributes:
                    return None
                destination = destination.replace(f"${{{lid}.{attr}}}", str(found.attributes[attr]))
    return network.flow(net, client, destination, flow.protocol, flow.port)


def _definition(ctx: Context, task_definition: str) -> dict[str, Any]:
    if not task_definition:
        return {"containerDefinitions": []}
    return dict(ctx.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"])


def _uses_awslogs(definition: dict[str, Any]) -> bool:
    return any(
        (c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in definition["containerDefinitions"]
    )


def _cold_images(ctx: Context, definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(image, rule prefix) of each container image pulled through a cache rule that does not hold it yet."""
    from vpcctl.resources import ecr

    out = []
    for container in definition["containerDefinitions"]:
        prefix = ecr.cold_image(ctx, container.get("image", ""))
        if prefix is not None:
            out.append((container["image"], prefix))
    return out
