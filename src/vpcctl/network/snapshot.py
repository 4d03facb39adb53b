"""A neutral snapshot of one network: what decides whether an address reaches another.

The three adapters (from the scenario's specs, from AWS describe results, from the
emulator's backends) fill the same dataclasses; `evaluate` asks the questions. Ids are
whatever identifies a thing in its source (logical ids offline, AWS ids live); `name`
is what messages call it (the logical id wherever it is known).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ANYWHERE = "0.0.0.0/0"
# (protocol, from port, to port, 'cidr' | 'group', value): one IpPermission source, flattened.
Permission = tuple[str, int | None, int | None, str, str]
ALLOW_ALL_OUT: frozenset[Permission] = frozenset({("-1", None, None, "cidr", ANYWHERE)})
# What AWS attaches to an interface that names no security group, offline: it admits its
# own members and sends anywhere.
DEFAULT_GROUP = "(default)"


# States in which an endpoint or a peering no longer carries traffic.
GONE_STATES = ("deleted", "deleting", "failed", "rejected", "expired")


def flatten(ip_permissions: Iterable[dict[str, Any]] | None) -> set[Permission]:
    """EC2 IpPermissions (as describe_security_groups returns them) into one tuple per source."""
    out: set[Permission] = set()
    for perm in ip_permissions or []:
        protocol = str(perm["IpProtocol"])
        low = perm.get("FromPort") if protocol != "-1" else None
        high = perm.get("ToPort") if protocol != "-1" else None
        for ip_range in perm.get("IpRanges") or []:
            out.add((protocol, low, high, "cidr", ip_range["CidrIp"]))
        for pair in perm.get("UserIdGroupPairs") or []:
            out.add((protocol, low, high, "group", pair["GroupId"]))
    return out


@dataclass
class Vpc:
    id: str
    name: str
    cidr: str
    dns_support: bool = True
    dns_hostnames: bool = True


@dataclass
class Subnet:
    id: str
    name: str
    vpc: str
    cidr: str


@dataclass
class Route:
    destination: str  # a CIDR
    target: str  # id of an internet gateway, NAT gateway or peering
    kind: str  # 'igw' | 'nat' | 'peering'


@dataclass
class RouteTable:
    id: str
    name: str
    vpc: str
    subnets: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    main: bool = False


@dataclass
class Peering:
    id: str
    name: str
    vpcs: tuple[str, str]


@dataclass
class Endpoint:
    """A VPC endpoint; `service` is the short name ('ecr.api', 's3', 'execute-api')."""

    id: str
    name: str
    vpc: str
    service: str
    type: str  # 'interface' | 'gateway'
    subnets: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    route_tables: tuple[str, ...] = ()
    private_dns: bool = True


@dataclass
class SecurityGroup:
    id: str
    name: str
    ingress: frozenset[Permission] = frozenset()
    egress: frozenset[Permission] = ALLOW_ALL_OUT


@dataclass
class Host:
    """Something with addresses that opens or answers connections: an instance, the tasks
    of a service. `addresses` are CIDRs: a /32 when the address is known, else every
    address it can get (its subnets)."""

    id: str
    name: str
    vpc: str
    subnets: tuple[str, ...]
    addresses: tuple[str, ...]
    groups: tuple[str, ...] | None  # None: unknown, so nothing is assumed to filter it
    public_ip: bool = False


@dataclass
class Target:
    host: Host
    port: int


@dataclass
class TargetGroup:
    id: str
    name: str
    protocol: str
    port: int
    health_port: int | None  # None: the traffic port
    targets: tuple[Target, ...] = ()


@dataclass
class Listener:
    port: int
    protocol: str
    target_group: str | None


@dataclass
class LoadBalancer:
    id: str
    name: str
    vpc: str
    type: str  # 'application' | 'network'
    scheme: str  # 'internet-facing' | 'internal'
    subnets: tuple[str, ...]
    groups: tuple[str, ...] | None  # None: a network load balancer without security groups
    listeners: tuple[Listener, ...] = ()
    dns_name: str = ""


@dataclass
class Record:
    name: str  # fully qualified, without the trailing dot
    alias: str | None  # id of a load balancer or an endpoint it aliases


@dataclass
class HostedZone:
    id: str
    name: str  # the domain, without the trailing dot
    vpcs: tuple[str, ...]  # empty: a public zone
    records: tuple[Record, ...] = ()


@dataclass
class ResolverEndpoint:
    id: str
    name: str
    vpc: str
    direction: str  # 'INBOUND' | 'OUTBOUND'
    subnets: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass
class ResolverRule:
    id: str
    name: str
    domain: str
    endpoint: str  # the outbound endpoint the queries leave through
    targets: tuple[str, ...]  # inbound endpoints the target IPs belong to (ids)
    vpcs: tuple[str, ...]


@dataclass
class Network:
    region: str
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)
    peerings: dict[str, Peering] = field(default_factory=dict)
    nat_public: dict[str, bool] = field(default_factory=dict)  # NAT gateway id -> in a subnet routed to an IGW
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    groups: dict[str, SecurityGroup] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    zones: dict[str, HostedZone] = field(default_factory=dict)
    resolver_endpoints: dict[str, ResolverEndpoint] = field(default_factory=dict)
    resolver_rules: dict[str, ResolverRule] = field(default_factory=dict)

    # ---------------------------------------------------------- look-ups

    def name(self, thing_id: str) -> str:
        for table in (self.groups, self.subnets, self.route_tables, self.endpoints, self.load_balancers, self.vpcs):
            if thing_id in table:
                return str(table[thing_id].name)  # type: ignore[attr-defined]
        if thing_id == DEFAULT_GROUP:
            return "the VPC's default security group"
        return thing_id

    def route_table(self, subnet: str) -> RouteTable | None:
        """The table a subnet is associated with, else its VPC's main table."""
        vpc = self.subnets[subnet].vpc if subnet in self.subnets else None
        main = None
        for table in self.route_tables.values():
            if subnet in table.subnets:
                return table
            if table.main and table.vpc == vpc:
                main = table
        return main

    def table_name(self, subnet: str) -> str:
        table = self.route_table(subnet)
        return table.name if table and not table.main else "the VPC's main route table"

    def default_route(self, subnet: str) -> Route | None:
        table = self.route_table(subnet)
        return next((r for r in (table.routes if table else ()) if r.destination == ANYWHERE), None)

    def rules(self, groups: Iterable[str], direction: str) -> frozenset[Permission]:
        out: set[Permission] = set()
        for group in groups:
            if group == DEFAULT_GROUP:
                out |= {("-1", None, None, "group", DEFAULT_GROUP)} if direction == "ingress" else ALLOW_ALL_OUT
            elif group in self.groups:
                out |= getattr(self.groups[group], direction)
        return frozenset(out)

    def endpoints_for(self, vpc: str, service: str, kind: str) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.vpc == vpc and e.service == service and e.type == kind]

    def vpc_of_subnets(self, subnets: Iterable[str]) -> str | None:
        return next((self.subnets[s].vpc for s in subnets if s in self.subnets), None)

    def cidrs(self, subnets: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.subnets[s].cidr for s in subnets if s in self.subnets)
