"""Network reasoning shared by the readiness diagnosis (over what AWS reports) and the
sandbox's model of AWS (over the emulator's state): can a task pull its image, and does
a load balancer reach its target?

Inputs are plain snapshots, so the same rules serve both sides.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

# (protocol, from port, to port, 'cidr' | 'group', value) — as resources.network.flatten makes them
Permission = tuple[str, int | None, int | None, str, str]


@dataclass
class PullPath:
    """What decides whether a Fargate task in one subnet reaches its image registry."""

    region: str
    subnet: str
    routes: dict[str, str]  # destination CIDR -> target id (igw-…, nat-…, pcx-…)
    public_ip: bool
    task_groups: set[str]
    task_egress: set[Permission]
    interface_endpoints: dict[str, set[Permission]] = field(default_factory=dict)  # service -> its SG ingress
    gateway_endpoints: set[str] = field(default_factory=set)  # services with a gateway endpoint on this table
    dns_ready: bool = True  # the VPC's DNS support and hostnames, needed by endpoint private DNS
    uses_awslogs: bool = False


def _default_route(path: PullPath, prefix: str) -> bool:
    return any(cidr == "0.0.0.0/0" and target.startswith(prefix) for cidr, target in path.routes.items())


def reaches_internet(path: PullPath) -> bool:
    """Whether tasks in the subnet reach public addresses: a NAT route, or an internet gateway
    route with a public IP."""
    return _default_route(path, "nat-") or (_default_route(path, "igw-") and path.public_ip)


def admits(perms: set[Permission], port: int, groups: set[str], cidrs: list[str]) -> bool:
    """Whether any permission lets TCP traffic on `port` from/to the given groups or addresses."""
    for protocol, low, high, kind, value in perms:
        if protocol not in ("-1", "tcp", "6"):
            continue
        if low is not None and high is not None and low != -1 and not (low <= port <= high):
            continue
        if kind == "group" and value in groups:
            return True
        if kind == "cidr" and any(_overlaps(value, cidr) for cidr in cidrs):
            return True
    return False


def _overlaps(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))
    except ValueError:
        return False


def pull_gaps(path: PullPath, task_cidrs: list[str]) -> list[str]:
    """What is missing for tasks in this subnet to pull from ECR and log; empty when nothing is."""
    if _default_route(path, "nat-"):
        return []
    if _default_route(path, "igw-"):
        if path.public_ip:
            return []
        return [
            f"the tasks in {path.subnet} get no public IP, so the internet gateway route does not help: "
            "set assign_public_ip: true, or route through a NAT gateway, or add VPC endpoints"
        ]
    gaps = []
    needed = ["ecr.api", "ecr.dkr"] + (["logs"] if path.uses_awslogs else [])
    for service in needed:
        ingress = path.interface_endpoints.get(service)
        if ingress is None:
            gaps.append(
                f"no route out of {path.subnet} and no {service} interface endpoint: "
                f"add one (com.amazonaws.{path.region}.{service}), or a NAT gateway route"
            )
        elif not admits(ingress, 443, path.task_groups, task_cidrs):
            gaps.append(f"the {service} endpoint's security group does not admit HTTPS (443) from the tasks")
    if "s3" not in path.gateway_endpoints:
        gaps.append(
            f"no s3 gateway endpoint on the route table of {path.subnet}: image layers are stored in S3; "
            f"add com.amazonaws.{path.region}.s3 (type gateway) on that table"
        )
    if (
        path.interface_endpoints
        and not admits(path.task_egress, 443, set(), ["0.0.0.0/0"])
        and not any(admits(path.task_egress, 443, set(), [c]) for c in task_cidrs)
    ):
        gaps.append("the tasks' security group allows no HTTPS (443) out to the endpoints")
    if path.interface_endpoints and not path.dns_ready:
        gaps.append("endpoint private DNS needs the VPC's dns_support and dns_hostnames on")
    return gaps


@dataclass
class LbPath:
    """What decides whether a load balancer's health checks and traffic reach a target."""

    lb_groups: set[str]  # empty for an NLB without security groups
    lb_egress: set[Permission]
    lb_cidrs: list[str]  # the load balancer's subnets (its nodes' addresses)
    target_ip: str
    target_groups: set[str]
    target_ingress: set[Permission]
    traffic_port: int
    health_port: int


def lb_gaps(path: LbPath, names: dict[str, str] | None = None) -> list[str]:
    """The security-group rules missing between a load balancer and one target."""
    names = names or {}

    def name(group: str) -> str:
        return names.get(group, group)

    gaps = []
    lb = ", ".join(sorted(name(g) for g in path.lb_groups)) or "the load balancer"
    target = ", ".join(sorted(name(g) for g in path.target_groups)) or path.target_ip
    for port in sorted({path.traffic_port, path.health_port}):
        what = "traffic" if port == path.traffic_port else "health-check"
        if path.lb_groups and not admits(path.lb_egress, port, path.target_groups, [f"{path.target_ip}/32"]):
            gaps.append(f"{lb} has no egress rule to {target} on tcp/{port} ({what}): add one")
        if not admits(path.target_ingress, port, path.lb_groups, path.lb_cidrs):
            source = lb if path.lb_groups else "the load balancer's subnets"
            gaps.append(f"{target} has no ingress rule from {source} on tcp/{port} ({what}): add one")
    return gaps
