"""Can A reach B on protocol/port P, hop by hop, over one `Network` snapshot.

A broken hop carries an explanation code in the style of AWS Reachability Analyzer
(ENI_SG_RULES_MISMATCH, NO_ROUTE_TO_DESTINATION, ELBV2_LISTENERS_MISMATCH, ...) plus
DNS_NOT_RESOLVED for a name no zone or Resolver rule answers for the client.

Security groups: a rule admits a peer when it covers the protocol and port and either
names one of the peer's groups or, with the other covering rules, has CIDRs that contain
every address the peer can have (containment, not overlap). `-1` is every protocol;
protocol numbers 6 and 17 are TCP and UDP; any other protocol number has no ports.
Network ACLs are not modelled: vpcctl leaves every subnet on its VPC's default network
ACL, which allows all traffic, so SUBNET_ACL_RESTRICTION never applies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from vpcctl.network.snapshot import (
    ANYWHERE,
    DEFAULT_GROUP,
    Endpoint,
    Host,
    LoadBalancer,
    Network,
    Permission,
    ResolverEndpoint,
    ResolverRule,
    TargetGroup,
)

SG_MISMATCH = "ENI_SG_RULES_MISMATCH"
NO_ROUTE = "NO_ROUTE_TO_DESTINATION"
NO_LISTENER = "ELBV2_LISTENERS_MISMATCH"
NOT_RESOLVED = "DNS_NOT_RESOLVED"
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}
HTTPS, DNS = 443, 53
# Where a Fargate task's image comes from: the registry's API, the registry, the layers in S3.
REGISTRY = ("ecr.api", "ecr.dkr")


# ------------------------------------------------------------ security groups


def _covers(perm: Permission, protocol: str, port: int) -> bool:
    kind = PROTOCOL_NUMBERS.get(perm[0], perm[0])
    if kind == "-1":
        return True
    if kind != protocol:
        return False
    if kind not in ("tcp", "udp"):
        return True
    low = 0 if perm[1] in (None, -1) else perm[1]
    high = 65535 if perm[2] in (None, -1) else perm[2]
    return low <= port <= high  # type: ignore[operator]


def _network(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return None  # a run-time value (`${bastion.private_ip}/32`) proves nothing


def admits(perms: Iterable[Permission], protocol: str, port: int, groups: Iterable[str], cidrs: Iterable[str]) -> bool:
    """Whether these rules let `protocol`/`port` through from (or to) a peer with these
    groups and addresses: a rule naming one of its groups, or CIDRs containing all of them."""
    covering = [p for p in perms if _covers(p, protocol, port)]
    peer_groups = set(groups)
    if any(p[3] == "group" and p[4] in peer_groups for p in covering):
        return True
    nets = list(ipaddress.collapse_addresses(n for n in (_network(p[4]) for p in covering if p[3] == "cidr") if n))
    addresses = [_network(c) for c in cidrs]
    return bool(addresses) and all(a is not None and any(a.subnet_of(n) for n in nets) for a in addresses)


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class Party:
    """One end of a flow. `groups` None: nothing filters it (the internet, an NLB without groups)."""

    name: str
    vpc: str | None  # None: the internet, or AWS's public addresses
    subnets: tuple[str, ...]
    addresses: tuple[str, ...]
    groups: tuple[str, ...] | None
    owner: str = ""  # the resource findings are about (logical id offline)
    public_ip: bool = False


@dataclass(frozen=True)
class Hop:
    component: str  # what the hop is at: a group, a route table, a listener, a zone
    kind: str  # 'egress' | 'ingress' | 'route' | 'return-route' | 'listener' | 'dns' | 'scheme'
    code: str | None  # None: passed
    detail: str = ""
    fix: str = ""
    holder: str = ""  # the resource to change (owner of the group, the table, ...)
    port: int = 0
    protocol: str = "tcp"
    where: str = ""  # the subnet a route hop is about
    public: bool = False  # the peer is the internet or AWS's public addresses
    # For a registry route hop: (why packets do not leave, what the PrivateLink path lacks, its fix).
    reason: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code is None


@dataclass
class Result:
    source: str
    destination: str
    protocol: str
    port: int
    hops: list[Hop] = field(default_factory=list)
    label: str = ""  # 'declared', 'registry', 'target', 'resolver'
    # What the flow joins in the snapshot's ids (logical ids offline): for a diagram.
    # 'internet', 'aws:<service>' for AWS's public addresses, 'vpc:<id>' for a whole VPC.
    source_id: str = ""
    destination_id: str = ""

    @property
    def broken(self) -> list[Hop]:
        return [h for h in self.hops if not h.ok]

    @property
    def ok(self) -> bool:
        return not self.broken

    def text(self) -> str:
        """'bar-client → alb.home:80 — breaks at sec-alb (ENI_SG_RULES_MISMATCH): ...; add it'."""
        head = f"{self.source} → {self.destination}:{self.port}"
        if self.protocol != "tcp":
            head += f"/{self.protocol}"
        if self.ok:
            return f"{head} — reachable"
        hop = self.broken[0]
        return f"{head} — breaks at {hop.component} ({hop.code}): {hop.detail}; {hop.fix}"

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "destination": self.destination,
            "protocol": self.protocol,
            "port": self.port,
            "kind": self.label,
            "reachable": self.ok,
            "hops": [
                {"at": h.component, "hop": h.kind, "ok": h.ok, "code": h.code, "detail": h.detail, "fix": h.fix}
                for h in self.hops
            ],
        }


# ------------------------------------------------------------------ parties


def host_party(host: Host) -> Party:
    return Party(host.name, host.vpc, host.subnets, host.addresses, host.groups, host.id, host.public_ip)


def lb_party(net: Network, lb: LoadBalancer) -> Party:
    """Targets see a load balancer's nodes, whose addresses come from its subnets."""
    return Party(f"load balancer {lb.name}", lb.vpc, lb.subnets, net.cidrs(lb.subnets), lb.groups, lb.id)


def endpoint_party(net: Network, endpoint: Endpoint) -> Party:
    name = f"endpoint {endpoint.name}"
    return Party(name, endpoint.vpc, endpoint.subnets, net.cidrs(endpoint.subnets), endpoint.groups, endpoint.id)


def resolver_party(net: Network, endpoint: ResolverEndpoint) -> Party:
    name = f"{endpoint.direction.lower()} endpoint {endpoint.name}"
    return Party(name, endpoint.vpc, endpoint.subnets, net.cidrs(endpoint.subnets), endpoint.groups, endpoint.id)


INTERNET = Party("internet", None, (), (ANYWHERE,), None, "internet")
AWS_PUBLIC = Party("AWS's public addresses", None, (), (ANYWHERE,), None)


def describe(net: Network, party: Party) -> str:
    """'sec-a or 10.0.1.0/24': what a rule would have to name to admit the party."""
    names = [net.name(g) for g in party.groups or () if g != DEFAULT_GROUP] + list(party.addresses)
    return " or ".join(names) or party.name


def clause(net: Network, party: Party) -> str:
    """How a rule names the party: its first own group, else the CIDR its addresses come from."""
    own = [g for g in party.groups or () if g != DEFAULT_GROUP]
    if own:
        return f"source: {net.name(own[0])}"
    if len(party.addresses) == 1:
        return f"cidr: {party.addresses[0]}"
    vpc = net.vpcs.get(party.vpc or "")
    return f"cidr: {vpc.cidr}" if vpc else "cidr: <its addresses>"


def group_names(net: Network, groups: Iterable[str]) -> str:
    return ", ".join(net.name(g) for g in groups)


def _rule_fix(net: Network, holder: Party, direction: str, protocol: str, port: int, peer: Party) -> str:
    body = f"{direction} {{protocol: {protocol}, port: {port}, {clause(net, peer)}}}"
    own = [g for g in holder.groups or () if g != DEFAULT_GROUP]
    if own:
        return f"add {body} to {net.name(own[0])}"
    return f"give {holder.name} a security group of its own (it has the VPC's default one) with {body}"


# ----------------------------------------------------------------- the hops


def sg_hop(net: Network, direction: str, source: Party, destination: Party, protocol: str, port: int) -> Hop | None:
    """The security-group hop of a connection: 'egress' at the source's groups, 'ingress'
    at the destination's; None where no group filters that end."""
    holder, peer = (source, destination) if direction == "egress" else (destination, source)
    if holder.groups is None:
        return None
    component = group_names(net, holder.groups)
    if admits(net.rules(holder.groups, direction), protocol, port, peer.groups or (), peer.addresses):
        return Hop(component, direction, None, holder=holder.owner, port=port, protocol=protocol)
    what = f"{protocol.upper()} {port}"
    if direction == "egress":
        detail = f"egress of {component} ({holder.name}) sends no {what} to {peer.name} ({describe(net, peer)})"
    else:
        detail = f"{component} ({holder.name}) admits no {what} from {describe(net, peer)}"
    return Hop(
        component,
        direction,
        SG_MISMATCH,
        detail,
        _rule_fix(net, holder, direction, protocol, port, peer),
        holder.owner,
        port,
        protocol,
        public=peer.vpc is None,
    )


def _peerings_between(net: Network, a: str, b: str) -> list[str]:
    return [p.id for p in net.peerings.values() if set(p.vpcs) == {a, b}]


def _contains(route_cidr: str, addresses: Iterable[str]) -> bool:
    outer = _network(route_cidr)
    inner = [_network(a) for a in addresses]
    return outer is not None and all(i is not None and i.subnet_of(outer) for i in inner)


def route_hops(net: Network, source: Party, destination: Party) -> list[Hop]:
    """Across VPCs: a peering between them, a route through it from every source subnet to
    the destination's addresses, and the way back from every destination subnet."""
    if source.vpc is None or destination.vpc is None or source.vpc == destination.vpc:
        return []
    peerings = _peerings_between(net, source.vpc, destination.vpc)
    here, there = net.name(source.vpc), net.name(destination.vpc)
    if not peerings:
        return [
            Hop(
                here,
                "route",
                NO_ROUTE,
                f"no peering connects {here} and {there}",
                f"add a vpc_peering between {here} and {there}, with routes on both sides",
                source.owner,
            )
        ]
    hops = []
    for kind, (start, end) in (("route", (source, destination)), ("return-route", (destination, source))):
        for subnet in start.subnets:
            table = net.route_table(subnet)
            routes = table.routes if table else ()
            if any(r.target in peerings and _contains(r.destination, end.addresses) for r in routes):
                continue
            wanted = net.vpcs[end.vpc].cidr if end.vpc in net.vpcs else ", ".join(end.addresses)
            table_name = net.table_name(subnet)
            hops.append(
                Hop(
                    table_name,
                    kind,
                    NO_ROUTE,
                    f"{table_name} ({net.name(subnet)}) has no route to {', '.join(end.addresses)} through "
                    f"peering {net.name(peerings[0])}",
                    f"add a route {{destination: {wanted}, peering: {net.name(peerings[0])}}} to {table_name}",
                    table.id if table else subnet,
                )
            )
    return hops


def connect(net: Network, source: Party, destination: Party, protocol: str, port: int) -> list[Hop]:
    """The hops of one connection: egress at the source, the routes, ingress at the destination."""
    hops = [sg_hop(net, "egress", source, destination, protocol, port)]
    hops += route_hops(net, source, destination)
    hops.append(sg_hop(net, "ingress", source, destination, protocol, port))
    return [h for h in hops if h is not None]


# ---------------------------------------------------------- load balancers


def internet_hops(net: Network, lb: LoadBalancer) -> list[Hop]:
    """Clients on the internet reach only an internet-facing load balancer in subnets routed to an IGW."""
    if lb.scheme != "internet-facing":
        return [
            Hop(
                lb.name,
                "scheme",
                NO_ROUTE,
                f"{lb.name} is internal: it has no public address",
                f"set scheme: internet-facing on {lb.name} (in public subnets)",
                lb.id,
            )
        ]
    hops = []
    for subnet in lb.subnets:
        route = net.default_route(subnet)
        if route is None or route.kind != "igw":
            table = net.table_name(subnet)
            hops.append(
                Hop(
                    table,
                    "route",
                    NO_ROUTE,
                    f"{net.name(subnet)} of {lb.name} has no 0.0.0.0/0 route to an internet gateway ({table})",
                    f"route 0.0.0.0/0 in {table} to an internet gateway",
                    lb.id,
                )
            )
    return hops


def to_load_balancer(net: Network, source: Party, lb: LoadBalancer, port: int) -> list[Hop]:
    hops = internet_hops(net, lb) if source.vpc is None else []
    listener = next((ls for ls in lb.listeners if ls.port == port), None)
    if listener is None:
        ports = ", ".join(str(ls.port) for ls in lb.listeners) or "none"
        hops.append(
            Hop(
                lb.name,
                "listener",
                NO_LISTENER,
                f"{lb.name} has no listener on port {port} (its listeners: {ports})",
                f"add a listener on port {port} to {lb.name}",
                lb.id,
                port,
            )
        )
    if source.vpc is None:
        ingress = sg_hop(net, "ingress", source, lb_party(net, lb), "tcp", port)
        return hops + ([ingress] if ingress else [])
    return hops + connect(net, source, lb_party(net, lb), "tcp", port)


def target_results(net: Network, lb: LoadBalancer, group: TargetGroup) -> list[Result]:
    """The load balancer to every registered target, on the traffic port and the health-check port."""
    results = []
    balancer = lb_party(net, lb)
    for target in group.targets:
        party = host_party(target.host)
        ports = [target.port] + ([group.health_port] if group.health_port not in (None, target.port) else [])
        for port in ports:
            assert port is not None
            kind = "traffic" if port == target.port else "health-check"
            result = Result(
                lb.name,
                target.host.name,
                "tcp",
                port,
                label=f"target {kind}",
                source_id=lb.id,
                destination_id=target.host.id,
            )
            result.hops = connect(net, balancer, party, "tcp", port)
            results.append(result)
    return results


def load_balancers_of(net: Network, group_id: str) -> list[LoadBalancer]:
    return [lb for lb in net.load_balancers.values() if any(ls.target_group == group_id for ls in lb.listeners)]


def all_target_results(net: Network) -> list[tuple[LoadBalancer, TargetGroup, Result]]:
    out = []
    for group in net.target_groups.values():
        if group.protocol == "UDP":
            continue  # health checks of UDP groups run over TCP: not modelled
        for lb in load_balancers_of(net, group.id):
            out += [(lb, group, r) for r in target_results(net, lb, group)]
    return out


# --------------------------------------------------------- the registry path


def leaves(net: Network, subnet: str, public_ip: bool) -> tuple[bool, str]:
    """Whether packets to public addresses leave the subnet (a NAT gateway, or an IGW with a
    public IP), and if not, why not."""
    route = net.default_route(subnet)
    table = net.table_name(subnet)
    if route is not None and route.kind == "nat":
        return True, ""
    if route is not None and route.kind == "igw":
        if public_ip:
            return True, ""
        return False, f"{table} routes to an internet gateway but assign_public_ip is false"
    return False, f"no route to an internet gateway or NAT in {table}"


def _public_route(net: Network, subnet: str, public_ip: bool, why: str, fix: str, owner: str) -> Hop:
    out, blocked = leaves(net, subnet, public_ip)
    table = net.table_name(subnet)
    where = net.name(subnet)
    if out:
        return Hop(table, "route", None, where=where)
    full_fix = f"set assign_public_ip: true on {net.name(owner)}, or {fix}" if "assign_public_ip" in blocked else fix
    reason = (blocked, why, fix)
    detail = f"{blocked}, and {why}"
    return Hop(table, "route", NO_ROUTE, detail, full_fix, owner, HTTPS, where=where, reason=reason)


def registry_results(net: Network, tasks: Party, uses_logs: bool) -> list[Result]:
    """The tasks to ecr.api, ecr.dkr (and logs) on 443 through an interface endpoint with
    private DNS, else through a NAT or IGW; and to S3 through a gateway endpoint or the same way out."""
    results = []
    vpc = net.vpcs.get(tasks.vpc or "")
    dns_ready = bool(vpc and vpc.dns_support and vpc.dns_hostnames)
    for service in (*REGISTRY, *(["logs"] if uses_logs else [])):
        found = net.endpoints_for(tasks.vpc or "", service, "interface")
        usable = [e for e in found if e.private_dns and dns_ready]
        reached = usable[0].id if usable else found[0].id if found else f"aws:{service}"
        result = Result(
            tasks.name, service, "tcp", HTTPS, label="registry", source_id=tasks.owner, destination_id=reached
        )
        if usable:
            result.hops = connect(net, tasks, endpoint_party(net, usable[0]), "tcp", HTTPS)
        else:
            if not found:
                why = f"no {service} endpoint"
                fix = f"add an interface endpoint for {service} in {net.name(tasks.subnets[0])}"
            elif not found[0].private_dns:
                why = (
                    f"endpoint {found[0].name} ({service}) has private DNS off, so {service} resolves to public "
                    "addresses the tasks cannot reach"
                )
                fix = f"set private_dns: true on {found[0].name}"
            else:
                why = f"endpoint {found[0].name} ({service}) needs the VPC's dns_support and dns_hostnames on"
                fix = f"set dns_support: true and dns_hostnames: true on {net.name(tasks.vpc or '')}"
            hops = [_public_route(net, s, tasks.public_ip, why, fix, tasks.owner) for s in tasks.subnets]
            result.hops = [*hops, *_out_to_public(net, tasks, hops)]
        results.append(result)
    gateways = net.endpoints_for(tasks.vpc or "", "s3", "gateway")
    s3 = gateways[0].id if gateways else "aws:s3"
    result = Result(tasks.name, "s3", "tcp", HTTPS, label="registry", source_id=tasks.owner, destination_id=s3)
    hops = []
    for subnet in tasks.subnets:
        table = net.route_table(subnet)
        gateway = [
            e for e in net.endpoints_for(tasks.vpc or "", "s3", "gateway") if table and table.id in e.route_tables
        ]
        if gateway:
            hops.append(Hop(net.table_name(subnet), "route", None, where=net.name(subnet)))
            continue
        name = net.table_name(subnet)
        why = f"no s3 gateway endpoint on {name} (image layers come from S3)"
        fix = f"add a gateway endpoint for s3 with route_tables: [{name}]"
        if table is None or table.main:  # a gateway endpoint attaches to route tables vpcctl manages
            fix = f"list {net.name(subnet)} in a route table's subnets and add a gateway endpoint for s3 on that table"
        hops.append(_public_route(net, subnet, tasks.public_ip, why, fix, tasks.owner))
    result.hops = [*hops, *_out_to_public(net, tasks, hops)]
    results.append(result)
    return results


def _out_to_public(net: Network, tasks: Party, routes: list[Hop]) -> list[Hop]:
    """Where packets do leave, the tasks' groups must send 443 to 0.0.0.0/0 (no rule can name
    the registry's or S3's public addresses more narrowly)."""
    if not any(h.ok for h in routes):
        return []
    hop = sg_hop(net, "egress", tasks, AWS_PUBLIC, "tcp", HTTPS)
    return [hop] if hop else []


# ---------------------------------------------------------------------- DNS


def _in_domain(name: str, domain: str) -> bool:
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


def resolve(net: Network, name: str, vpc: str, depth: int = 0) -> tuple[list[Hop], str | None]:
    """How `name` resolves from a VPC: a Resolver forwarding rule associated with it (then the
    name resolves from the inbound endpoint's VPC, and the outbound endpoint must reach the
    inbound one on 53 over UDP and TCP), else a private zone associated with it. Returns the
    hops and what the name aliases (a load balancer or endpoint id)."""
    # The most specific domain wins; for the same domain a Resolver rule goes before a private zone.
    rules = [r for r in net.resolver_rules.values() if vpc in r.vpcs and _in_domain(name, r.domain)]
    zones = [z for z in net.zones.values() if vpc in z.vpcs and _in_domain(name, z.name)]
    rule = max(rules, key=lambda r: len(r.domain), default=None)
    zone = max(zones, key=lambda z: len(z.name), default=None)
    if rule is not None and depth < 3 and (zone is None or len(rule.domain) >= len(zone.name)):
        return _forward(net, rule, name, vpc, depth)
    if zone is not None:
        named = [r for r in zone.records if r.name.rstrip(".").lower() == name.rstrip(".").lower()]
        record = next((r for r in named if r.alias), None)  # the zone's SOA and NS share its apex name
        if record is None or record.alias is None:
            return [
                Hop(
                    zone.id,
                    "dns",
                    NOT_RESOLVED,
                    f"zone {zone.id} answers for {name} in {net.name(vpc)} but has no alias record for it",
                    f"add a dns_record {name} to {zone.id}",
                    zone.id,
                )
            ], None
        return [Hop(zone.id, "dns", None)], record.alias
    others = sorted(z.id for z in net.zones.values() if _in_domain(name, z.name))
    fix = f"associate {others[0]} with {net.name(vpc)}" if others else f"add a private hosted zone for {name}"
    if others:
        fix += ", or a Resolver forwarding rule for it associated with " + net.name(vpc)
    detail = f"no private hosted zone or Resolver rule answers for {name} in {net.name(vpc)}"
    if others:
        detail += f" ({', '.join(others)} is not associated with it)"
    return [Hop(net.name(vpc), "dns", NOT_RESOLVED, detail, fix, others[0] if others else vpc)], None


def _forward(net: Network, rule: ResolverRule, name: str, vpc: str, depth: int) -> tuple[list[Hop], str | None]:
    inbound = [net.resolver_endpoints[t] for t in rule.targets if t in net.resolver_endpoints]
    outbound = net.resolver_endpoints.get(rule.endpoint)
    if not inbound or outbound is None:
        return [
            Hop(rule.name, "dns", NOT_RESOLVED, f"rule {rule.name} forwards to no inbound endpoint", "", rule.id)
        ], None
    target = inbound[0]
    if target.vpc in rule.vpcs:
        return [
            Hop(
                rule.name,
                "dns-loop",
                NOT_RESOLVED,
                f"rule {rule.name} is associated with {net.name(target.vpc)}, the VPC it forwards to: the inbound "
                "endpoint's own queries are forwarded again and loop",
                f"associate {rule.name} only with the client VPCs (not {net.name(target.vpc)})",
                rule.id,
            )
        ], None
    hops = [Hop(rule.name, "dns", None)]
    for protocol in ("udp", "tcp"):
        hops += connect(net, resolver_party(net, outbound), resolver_party(net, target), protocol, DNS)
    more, alias = resolve(net, name, target.vpc, depth + 1)
    return hops + more, alias


# ------------------------------------------------------------ declared flows


def destination_party(net: Network, thing: str) -> tuple[Party | None, LoadBalancer | None]:
    if thing in net.load_balancers:
        return None, net.load_balancers[thing]
    if thing in net.endpoints:
        return endpoint_party(net, net.endpoints[thing]), None
    if thing in net.hosts:
        return host_party(net.hosts[thing]), None
    if thing in net.resolver_endpoints:
        return resolver_party(net, net.resolver_endpoints[thing]), None
    return None, None


def flow(net: Network, source: str, destination: str, protocol: str, port: int) -> Result:
    """A declared flow: `source` is a host id or 'internet'; `destination` an id or a DNS name."""
    start = INTERNET if source == "internet" else host_party(net.hosts[source]) if source in net.hosts else None
    shown = _shown(net, destination)
    result = Result(
        start.name if start else source,
        shown,
        protocol,
        port,
        label="declared",
        source_id=source,
        destination_id=destination,
    )
    if start is None:
        result.hops = [Hop(source, "source", NO_ROUTE, f"{source} is not in the network", "", source)]
        return result
    party, lb = destination_party(net, destination)
    hops: list[Hop] = []
    if party is None and lb is None:
        by_dns = next((b for b in net.load_balancers.values() if b.dns_name and b.dns_name == destination), None)
        if by_dns is not None:
            lb = by_dns
        elif start.vpc is None:
            hops.append(Hop(destination, "dns", NOT_RESOLVED, f"{destination} has no public name", "", ""))
        else:
            hops, alias = resolve(net, destination, start.vpc)
            party, lb = destination_party(net, alias) if alias else (None, None)
            result.destination_id = alias or destination
    if lb is not None:
        result.destination_id = lb.id
        hops += to_load_balancer(net, start, lb, port)
    elif party is not None:
        hops += connect(net, start, party, protocol, port)
    result.hops = hops
    return result


def _shown(net: Network, thing: str) -> str:
    if thing in net.load_balancers:
        return net.load_balancers[thing].name
    if thing in net.endpoints:
        return net.endpoints[thing].name
    if thing in net.hosts:
        return net.hosts[thing].name
    return thing


# -------------------------------------------------------------- the Resolver


def resolver_results(net: Network) -> list[Result]:
    """Who asks an inbound endpoint on 53 over UDP and TCP: the outbound endpoints whose rules
    forward to it, and the subnets of the VPCs peered with its VPC (resolv.conf pointing at it)."""
    results = []
    for endpoint in net.resolver_endpoints.values():
        if endpoint.direction != "INBOUND":
            continue
        target = resolver_party(net, endpoint)
        clients = [
            (resolver_party(net, net.resolver_endpoints[r.endpoint]), r.endpoint)
            for r in net.resolver_rules.values()
            if endpoint.id in r.targets and r.endpoint in net.resolver_endpoints
        ]
        for peering in net.peerings.values():
            if endpoint.vpc in peering.vpcs:
                other = next(v for v in peering.vpcs if v != endpoint.vpc)
                subnets = tuple(s.id for s in net.subnets.values() if s.vpc == other)
                name = f"VPC {net.name(other)} (peering {peering.name})"
                clients.append((Party(name, other, subnets, net.cidrs(subnets), None, other), f"vpc:{other}"))
        for client, client_id in clients:
            for protocol in ("udp", "tcp"):
                result = Result(
                    client.name,
                    target.name,
                    protocol,
                    DNS,
                    label="resolver",
                    source_id=client_id,
                    destination_id=endpoint.id,
                )
                result.hops = [
                    h for h in connect(net, client, target, protocol, DNS) if h.kind in ("egress", "ingress")
                ]
                results.append(result)
    return results
