"""The snapshot of the emulator's state, read from moto's backends (for the sandbox).

Duck-typed over moto's model objects (no moto import here): the sandbox hands in its
backends. Security-group rules go through the one flattener as EC2 IpPermissions.
Names are AWS ids: the sandbox speaks AWS's language, not the scenario's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vpcctl.network.snapshot import GONE_STATES as GONE
from vpcctl.network.snapshot import (
    Endpoint,
    Host,
    HostedZone,
    Listener,
    LoadBalancer,
    Network,
    Peering,
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
    flatten,
)


def _id(thing: Any) -> str:
    return thing if isinstance(thing, str) else str(thing.id)


def permissions(rules: Iterable[Any]) -> frozenset[Any]:
    """moto's rules (one source each) as the IpPermissions describe_security_groups returns."""
    perms = []
    for rule in rules:
        perm: dict[str, Any] = {"IpProtocol": str(rule.ip_protocol), "FromPort": rule.from_port, "ToPort": rule.to_port}
        if rule.ip_range.get("CidrIp"):
            perm["IpRanges"] = [{"CidrIp": rule.ip_range["CidrIp"]}]
        if rule.source_group.get("GroupId"):
            perm["UserIdGroupPairs"] = [{"GroupId": rule.source_group["GroupId"]}]
        perms.append(perm)
    return frozenset(flatten(perms))


def build(ec2: Any, vpc_ids: Iterable[str], elbv2: Any = None, route53: Any = None, resolver: Any = None) -> Network:
    """The VPCs (and those peered with them) with their routes, endpoints, groups, instances;
    the load balancers in them; the private zones and Resolver rules that concern them."""
    net = Network(ec2.region_name)
    wanted = set(vpc_ids)
    for p in getattr(ec2, "vpc_pcxs", {}).values():
        if p._status.code == "active" and wanted & {p.vpc.id, p.peer_vpc.id}:
            wanted |= {p.vpc.id, p.peer_vpc.id}
            net.peerings[p.id] = Peering(p.id, p.id, (p.vpc.id, p.peer_vpc.id))
    for vpc_id in wanted:
        vpc = ec2.vpcs.get(vpc_id)
        if vpc is not None:
            net.vpcs[vpc_id] = Vpc(
                vpc_id, vpc_id, vpc.cidr_block, bool(vpc.enable_dns_support), bool(vpc.enable_dns_hostnames)
            )
    for zone in ec2.subnets.values():
        for s in zone.values():
            if s.vpc_id in wanted:
                net.subnets[s.id] = Subnet(s.id, s.id, s.vpc_id, s.cidr_block)
    for t in ec2.route_tables.values():
        if t.vpc_id not in wanted:
            continue
        routes = []
        for r in t.routes.values() if isinstance(t.routes, dict) else t.routes:
            for target, kind in ((r.gateway, "igw"), (r.nat_gateway, "nat"), (r.vpc_pcx, "peering")):
                if r.destination_cidr_block and target is not None and _id(target)[:4] in ("igw-", "nat-", "pcx-"):
                    routes.append(Route(r.destination_cidr_block, _id(target), kind))
        subnets = tuple(t._associations.values())
        net.route_tables[t.id] = RouteTable(t.id, t.id, t.vpc_id, subnets, tuple(routes), bool(t.main_association_id))
    for vpc_id, groups in ec2.groups.items():
        if vpc_id in wanted:
            for g in groups.values():
                net.groups[g.id] = SecurityGroup(g.id, g.id, permissions(g.ingress_rules), permissions(g.egress_rules))
    for e in ec2.vpc_end_points.values():
        if e.vpc_id in wanted and e.state not in GONE:
            net.endpoints[e.id] = Endpoint(
                e.id,
                e.id,
                e.vpc_id,
                e.service_name.split(f".{ec2.region_name}.", 1)[-1],
                (e.vpc_endpoint_type or "interface").lower(),
                tuple(e.subnet_ids or ()),
                tuple(e.security_group_ids or ()),
                tuple(e.route_table_ids or ()),
                bool(e.private_dns_enabled),
            )
    for reservation in ec2.reservations.values():
        for i in reservation.instances:
            if i.state == "running" and i.subnet_id in net.subnets:
                # Groups belong to the network interfaces; the instance's own list may be names only.
                enis = [e for e in ec2.enis.values() if e.private_ip_address == i.private_ip]
                groups = tuple(sorted({g.id for e in enis for g in e.group_set}))
                net.hosts[i.id] = Host(
                    i.id,
                    i.id,
                    net.subnets[i.subnet_id].vpc,
                    (i.subnet_id,),
                    (f"{i.private_ip}/32",),
                    groups,
                    bool(i.public_ip),
                )
    if elbv2 is not None:
        _load_balancers(net, ec2, elbv2)
    if route53 is not None:
        _zones(net, route53)
    if resolver is not None:
        _resolver(net, resolver)
    return net


def interface_host(ec2: Any, ip: str, vpc_id: str) -> Host | None:
    """The network interface holding an address in a VPC (other VPCs may reuse the address)."""
    eni = next((e for e in ec2.enis.values() if e.private_ip_address == ip and e.subnet.vpc_id == vpc_id), None)
    if eni is None:
        return None
    groups = tuple(sorted(g.id for g in eni.group_set))
    return Host(ip, ip, vpc_id, (eni.subnet.id,), (f"{ip}/32",), groups)


def _load_balancers(net: Network, ec2: Any, elbv2: Any) -> None:
    for lb in elbv2.load_balancers.values():
        if lb.vpc_id not in net.vpcs:
            continue
        listeners = []
        for ls in lb.listeners.values():
            forward = None
            for action in ls.default_actions:
                data = action.data if hasattr(action, "data") else action
                forward = forward or data.get("TargetGroupArn")
                for tg in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
                    forward = forward or tg.get("TargetGroupArn")
            listeners.append(Listener(int(ls.port), ls.protocol, forward))
        groups = tuple(lb.security_groups or ())
        net.load_balancers[lb.arn] = LoadBalancer(
            lb.arn,
            lb.name,
            lb.vpc_id,
            lb.type,
            lb.scheme,
            tuple(_id(s) for s in lb.subnets),
            groups if groups or lb.type == "application" else None,
            tuple(listeners),
            lb.dns_name,
        )
    forwarded = {ls.target_group for lb in net.load_balancers.values() for ls in lb.listeners}
    for group in elbv2.target_groups.values():
        if group.arn in forwarded:
            net.target_groups[group.arn] = target_group(net, ec2, group)


def target_group(net: Network, ec2: Any, group: Any) -> TargetGroup:
    health = str(group.health_check_port or "traffic-port")
    targets = []
    for target in group.targets.values():
        host = net.hosts.get(target["Id"]) or interface_host(ec2, target["Id"], group.vpc_id)
        if host is not None:  # a target nothing holds is not reachable at all
            targets.append(Target(host, int(target.get("Port") or group.port)))
    return TargetGroup(
        group.arn,
        group.name,
        group.protocol,
        int(group.port),
        int(health) if health.isdigit() else None,
        tuple(targets),
    )


def _zones(net: Network, route53: Any) -> None:
    for zone in route53.zones.values():
        vpcs = tuple(v["vpc_id"] for v in zone.vpcs)
        if not zone.private_zone or not set(vpcs) & set(net.vpcs):
            continue
        records = []
        for record in zone.rrsets:
            alias = ((record.alias_target or {}).get("DNSName") or "").rstrip(".").lower().removeprefix("dualstack.")
            target = next((lb.id for lb in net.load_balancers.values() if lb.dns_name.lower() == alias), None)
            target = target or next((e.id for e in net.endpoints.values() if alias and e.id in alias), None)
            records.append(Record(record.name.rstrip("."), target))
        net.zones[zone.id] = HostedZone(zone.id, zone.name.rstrip("."), vpcs, tuple(records))


def _resolver(net: Network, resolver: Any) -> None:
    by_ip: dict[str, str] = {}
    for endpoint in resolver.resolver_endpoints.values():
        subnets = tuple(dict.fromkeys(a["SubnetId"] for a in endpoint.ip_addresses))
        vpc = next((net.subnets[s].vpc for s in subnets if s in net.subnets), None)
        if vpc is None:
            continue
        by_ip.update({ip: endpoint.id for ips in endpoint.subnets.values() for ip in ips})
        net.resolver_endpoints[endpoint.id] = ResolverEndpoint(
            endpoint.id, endpoint.id, vpc, endpoint.direction, subnets, tuple(endpoint.security_group_ids or ())
        )
    associations: dict[str, list[str]] = {}
    for a in resolver.resolver_rule_associations.values():
        associations.setdefault(a.resolver_rule_id, []).append(a.vpc_id)
    for rule in resolver.resolver_rules.values():
        if rule.rule_type != "FORWARD" or rule.resolver_endpoint_id not in net.resolver_endpoints:
            continue
        targets = tuple(dict.fromkeys(by_ip[t["Ip"]] for t in rule.target_ips or [] if t.get("Ip") in by_ip))
        net.resolver_rules[rule.id] = ResolverRule(
            rule.id,
            rule.id,
            rule.domain_name.rstrip("."),
            rule.resolver_endpoint_id,
            targets,
            tuple(associations.get(rule.id, ())),
        )
