"""Turn AWS's failure reasons into what to change, by reading the live network.

A stopped task says `CannotPullContainerError ... i/o timeout`; an unhealthy target says
`Target.Timeout`. Neither says which route, endpoint or rule is missing: this reads the
subnet's route table, the VPC's endpoints and the security groups and asks
`reachability` what is missing.
"""

from __future__ import annotations

from typing import Any

from vpcctl import reachability
from vpcctl.aws import tags as tagging
from vpcctl.resources.base import Context
from vpcctl.resources.network import flatten

PULL_FAILURES = ("CannotPullContainerError", "ResourceInitializationError")


def group_names(ctx: Context) -> dict[str, str]:
    """Security group id -> logical id, for messages in the scenario's own words."""
    return {f.id: f.logical_id for f in ctx.inventory.all("security_group").values()}


def _groups(ctx: Context, ids: set[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    groups = ctx.client("ec2").describe_security_groups(GroupIds=sorted(ids))["SecurityGroups"]
    return {g["GroupId"]: g for g in groups}


def pull_gaps(ctx: Context, subnet_id: str, public_ip: bool, task_groups: set[str], uses_awslogs: bool) -> list[str]:
    ec2 = ctx.client("ec2")
    subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    vpc_id = subnet["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "RouteTables"
    ]
    if not tables:  # no explicit association: the VPC's main table applies
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
    table = tables[0] if tables else {"RouteTableId": "", "Routes": []}
    routes = {
        r["DestinationCidrBlock"]: r.get("GatewayId") or r.get("NatGatewayId") or r.get("VpcPeeringConnectionId") or ""
        for r in table.get("Routes", [])
        if r.get("DestinationCidrBlock") and r.get("State", "active") == "active"
    }
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    endpoints = [e for e in endpoints if e.get("State") not in ("deleted", "deleting", "failed")]
    endpoint_groups = {g["GroupId"] for e in endpoints for g in e.get("Groups") or []}
    groups = _groups(ctx, endpoint_groups | task_groups)
    interface: dict[str, set[reachability.Permission]] = {}
    gateway: set[str] = set()
    for endpoint in endpoints:
        service = endpoint["ServiceName"].split(f".{ctx.region}.", 1)[-1]
        if endpoint.get("VpcEndpointType") == "Gateway":
            if table["RouteTableId"] in (endpoint.get("RouteTableIds") or []):
                gateway.add(service)
        else:
            interface[service] = set().union(
                *[
                    flatten(groups[g["GroupId"]].get("IpPermissions"))
                    for g in endpoint.get("Groups") or []
                    if g["GroupId"] in groups
                ]
            )
    dns = all(
        ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=a)[key]["Value"]
        for a, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames"))
    )
    path = reachability.PullPath(
        region=ctx.region,
        subnet=_subnet_name(ctx, subnet),
        routes=routes,
        public_ip=public_ip,
        task_groups=task_groups,
        task_egress=set().union(*[flatten(groups[g].get("IpPermissionsEgress")) for g in task_groups if g in groups]),
        interface_endpoints=interface,
        gateway_endpoints=gateway,
        dns_ready=dns,
        uses_awslogs=uses_awslogs,
    )
    return reachability.pull_gaps(path, [subnet["CidrBlock"]])


def _subnet_name(ctx: Context, subnet: dict[str, Any]) -> str:
    return tagging.to_dict(subnet.get("Tags")).get(tagging.LOGICAL_ID) or subnet["SubnetId"]


def lb_gaps(ctx: Context, target_group: dict[str, Any], target_ip: str, target_groups: set[str]) -> list[str]:
    """The rules missing between a target group's load balancers and one target."""
    elb = ctx.client("elbv2")
    ec2 = ctx.client("ec2")
    arns = target_group.get("LoadBalancerArns") or []
    if not arns:
        return []
    port = int(target_group["Port"])
    health = target_group.get("HealthCheckPort") or "traffic-port"
    health_port = port if health == "traffic-port" else int(health)
    names = group_names(ctx)
    gaps: list[str] = []
    for lb in elb.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]:
        lb_groups = set(lb.get("SecurityGroups") or [])
        subnets = [z["SubnetId"] for z in lb.get("AvailabilityZones") or []]
        cidrs = [s["CidrBlock"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]] if subnets else []
        groups = _groups(ctx, lb_groups | target_groups)
        path = reachability.LbPath(
            lb_groups=lb_groups,
            lb_egress=set().union(*[flatten(groups[g].get("IpPermissionsEgress")) for g in lb_groups if g in groups]),
            lb_cidrs=cidrs,
            target_ip=target_ip,
            target_groups=target_groups,
            target_ingress=set().union(
                *[flatten(groups[g].get("IpPermissions")) for g in target_groups if g in groups]
            ),
            traffic_port=port,
            health_port=health_port,
        )
        gaps += [g for g in reachability.lb_gaps(path, names) if g not in gaps]
    return gaps


TARGET_HINTS = {
    "Target.FailedHealthChecks": "the health check fails: is the application listening on the target port and "
    "answering at the health-check path?",
    "Target.ResponseCodeMismatch": "the health-check path answers a code outside the matcher: point "
    "health_check.path at a page that answers 200",
    "Target.NotInUse": "no listener forwards to this target group",
}


def live_findings(ctx: Context) -> list[Any]:
    """`check --live`: the registry path of every service's subnets and the path from the
    load balancer to every registered target, read from what the deployment has in AWS."""
    from vpcctl.netcheck import Finding

    findings: list[Finding] = []
    elb = ctx.client("elbv2")
    for service in ctx.inventory.all("ecs_service").values():
        network = (service.raw.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        groups = set(network.get("securityGroups") or [])
        public = network.get("assignPublicIp") == "ENABLED"
        uses_logs = _uses_awslogs(ctx, service.raw.get("taskDefinition", ""))
        for subnet in network.get("subnets") or []:
            for gap in pull_gaps(ctx, subnet, public, groups, uses_logs):
                findings.append(
                    Finding("live-pull-path", "error", service.logical_id, "its tasks cannot pull their image", gap)
                )
        for lb in service.raw.get("loadBalancers") or []:
            group = elb.describe_target_groups(TargetGroupArns=[lb["targetGroupArn"]])["TargetGroups"][0]
            for target in elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"])[
                "TargetHealthDescriptions"
            ]:
                for gap in lb_gaps(ctx, group, target["Target"]["Id"], groups):
                    findings.append(
                        Finding(
                            "live-lb-path",
                            "error",
                            service.logical_id,
                            f"target {target['Target']['Id']} cannot be reached",
                            gap,
                        )
                    )
    return findings


def _uses_awslogs(ctx: Context, task_definition: str) -> bool:
    if not task_definition:
        return False
    definition = ctx.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return any(
        (c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in definition["containerDefinitions"]
    )
