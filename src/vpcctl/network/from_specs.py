"""The snapshot of a scenario before anything exists: ids are logical ids.

Addresses known only at run time count as every address the thing can get: an
instance's or a service's subnets. A rule CIDR known only at run time proves nothing.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from vpcctl import model
from vpcctl.network.snapshot import (
    ALLOW_ALL_OUT,
    DEFAULT_GROUP,
    Endpoint,
    Host,
    HostedZone,
    Listener,
    LoadBalancer,
    Network,
    Peering,
    Permission,
    Record,
    ResolverEndpoint,
    ResolverRule,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    Target,
    TargetGroup,
    Vpc,
)

TARGET_REF = re.compile(r"^\$\{([A-Za-z0-9_-]+)\.(private_ip|id)\}$")


def short_service(service: str) -> str:
    """'com.amazonaws.ap-northeast-1.ecr.api' -> 'ecr.api'."""
    return re.sub(r"^com\.amazonaws\.[a-z0-9-]+\.", "", service)


def refs_to(spec: Any, kind: str) -> list[str]:
    """The logical ids a spec names in its fields that refer to `kind` (from the model's ref metadata)."""
    out: list[str] = []
    for f in dataclasses.fields(spec):
        if kind in f.metadata.get("ref", ()):
            value = getattr(spec, f.name)
            out.extend(value if isinstance(value, tuple) else [value] if value else [])
    return out


def rule_permissions(rule: model.Rule, group_id: Any = str) -> list[Permission]:
    """One scenario rule as EC2 permissions; `group_id` turns a source's logical id into an id."""
    protocol = {"all": "-1"}.get(rule.protocol, rule.protocol)
    if protocol == "-1":
        low, high = None, None
    elif rule.port is not None:
        low = high = rule.port
    elif protocol == "icmp":
        low = rule.from_port if rule.from_port is not None else -1
        high = rule.to_port if rule.to_port is not None else -1
    else:
        low, high = rule.from_port, rule.to_port
    if rule.source:
        return [(protocol, low, high, "group", group_id(rule.source))]
    return [(protocol, low, high, "cidr", str(rule.cidr))]


def _groups(names: tuple[str, ...]) -> tuple[str, ...]:
    return names or (DEFAULT_GROUP,)


def _port(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() else None


def build(scenario: model.Scenario) -> Network:
    net = Network(scenario.region)
    of = _by_kind(scenario)
    for lid, vpc in of("vpc"):
        net.vpcs[lid] = Vpc(lid, lid, vpc.cidr, vpc.dns_support, vpc.dns_hostnames)
    for lid, subnet in of("subnet"):
        net.subnets[lid] = Subnet(lid, lid, subnet.vpc, subnet.cidr)
    for lid, table in of("route_table"):
        routes = tuple(
            Route(r.destination, target, kind)
            for r in table.routes
            for target, kind in ((r.gateway, "igw"), (r.nat_gateway, "nat"), (r.peering, "peering"))
            if target
        )
        net.route_tables[lid] = RouteTable(lid, lid, table.vpc, table.subnets, routes)
    for lid, peering in of("vpc_peering"):
        vpcs = refs_to(peering, "vpc")
        if len(vpcs) == 2:  # a peer outside the scenario cannot be reasoned about
            net.peerings[lid] = Peering(lid, lid, (vpcs[0], vpcs[1]))
    for lid, group in of("security_group"):
        ingress = frozenset(p for r in group.ingress for p in rule_permissions(r))
        egress = (
            ALLOW_ALL_OUT if group.egress is None else frozenset(p for r in group.egress for p in rule_permissions(r))
        )
        net.groups[lid] = SecurityGroup(lid, lid, ingress, egress)
    for lid, e in of("vpc_endpoint"):
        groups = _groups(e.security_groups) if e.type == "interface" else ()
        net.endpoints[lid] = Endpoint(
            lid, lid, e.vpc, short_service(e.service), e.type, e.subnets, groups, e.route_tables, e.private_dns
        )
    for lid, inst in of("instance"):
        vpc = scenario.resources[inst.subnet].spec.vpc  # type: ignore[attr-defined]
        cidrs = net.cidrs((inst.subnet,))
        net.hosts[lid] = Host(
            lid, lid, vpc, (inst.subnet,), cidrs, _groups(inst.security_groups), inst.associate_public_ip
        )
    for lid, svc in of("ecs_service"):
        vpc = net.vpc_of_subnets(svc.subnets) or ""
        net.hosts[lid] = Host(
            lid,
            f"tasks of {lid}",
            vpc,
            svc.subnets,
            net.cidrs(svc.subnets),
            _groups(svc.security_groups),
            svc.assign_public_ip,
        )
    listeners: dict[str, list[Listener]] = {}
    for _, ls in of("listener"):
        listeners.setdefault(ls.load_balancer, []).append(Listener(ls.port, ls.protocol, ls.target_group))
    for lid, lb in of("load_balancer"):
        groups: tuple[str, ...] | None = lb.security_groups
        if not groups:
            # A network load balancer may have no security group: then nothing filters what it sends.
            groups = (DEFAULT_GROUP,) if lb.type == "application" else None
        vpc = net.vpc_of_subnets(lb.subnets) or ""
        net.load_balancers[lid] = LoadBalancer(
            lid, lid, vpc, lb.type, lb.scheme, lb.subnets, groups, tuple(listeners.get(lid, ())), f"${{{lid}.dns_name}}"
        )
    for lid, tg in of("target_group"):
        net.target_groups[lid] = TargetGroup(
            lid, lid, tg.protocol, tg.port, _port(tg.health_check.port), tuple(_targets(net, scenario, lid, tg))
        )
    for lid, zone in of("hosted_zone"):
        records = tuple(Record(_qualified(r.name, zone.name), r.alias) for _, r in of("dns_record") if r.zone == lid)
        net.zones[lid] = HostedZone(lid, zone.name, zone.vpcs, records)
    for lid, endpoint in of("resolver_endpoint"):
        vpc = net.vpc_of_subnets(endpoint.subnets) or ""
        net.resolver_endpoints[lid] = ResolverEndpoint(
            lid, lid, vpc, endpoint.direction, endpoint.subnets, _groups(endpoint.security_groups)
        )
    for lid, rule in of("resolver_rule"):
        targets = tuple(dict.fromkeys(m.group(1) for ip in rule.target_ips for m in model.RUNTIME.finditer(ip)))
        net.resolver_rules[lid] = ResolverRule(lid, lid, rule.domain, rule.endpoint, targets, rule.vpcs)
    return net


def _by_kind(scenario: model.Scenario) -> Any:
    def of(kind: str) -> list[tuple[str, Any]]:
        return [(lid, r.spec) for lid, r in scenario.resources.items() if r.kind == kind]

    return of


def _qualified(name: str, zone: str) -> str:
    name, zone = name.rstrip("."), zone.rstrip(".")
    return name if name == zone or name.endswith("." + zone) else f"{name}.{zone}"


def _targets(net: Network, scenario: model.Scenario, lid: str, tg: model.TargetGroup) -> list[Target]:
    """What ECS registers (each attached service's tasks on its containerPort), the services
    vpcctl registers itself, and the instances or addresses the group names."""
    out = []
    for sid, r in scenario.resources.items():
        if r.kind == "ecs_service":
            for entry in r.spec.load_balancers:  # type: ignore[attr-defined]
                if entry.target_group == lid:
                    out.append(Target(net.hosts[sid], entry.port))
    out += [Target(net.hosts[sid], tg.port) for sid in tg.services if sid in net.hosts]
    for value in tg.targets:
        match = TARGET_REF.match(value)
        if match and match.group(1) in net.hosts:
            out.append(Target(net.hosts[match.group(1)], tg.port))
        elif not model.RUNTIME.search(value):
            # An address outside the scenario: its groups are unknown, so nothing is assumed to filter it.
            out.append(Target(Host(value, value, tg.vpc, (), (f"{value}/32",), None), tg.port))
    return out
