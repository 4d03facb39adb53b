"""The snapshot of what AWS holds, from describe results: for `check --live` and `up`'s hints.

`build` takes boto3 clients (made by the caller, with its session, retries and endpoint)
and the VPCs to read; every read is one filtered describe per kind, paginated. Names are
the `vpcctl:logical-id` tag where EC2 returns tags, else `names` (AWS id -> logical id), else the id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vpcctl.aws.pages import listed
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

LOGICAL_ID = "vpcctl:logical-id"


def _name(item: dict[str, Any], thing_id: str, names: dict[str, str]) -> str:
    for tag in item.get("Tags") or []:
        if tag.get("Key") == LOGICAL_ID:
            return str(tag["Value"])
    return names.get(thing_id, thing_id)


def build(
    ec2: Any,
    vpc_ids: Iterable[str],
    *,
    region: str,
    elbv2: Any = None,
    route53: Any = None,
    resolver: Any = None,
    names: dict[str, str] | None = None,
) -> Network:
    """The VPCs (and those peered with them), their routes, endpoints, groups, instances and
    interfaces; with elbv2 their load balancers and targets; with route53 and resolver the
    private zones and Resolver endpoints and rules that concern them."""
    names = dict(names or {})
    net = Network(region)
    wanted = set(vpc_ids)
    peerings = listed(ec2, "describe_vpc_peering_connections", "VpcPeeringConnections")
    for p in peerings:
        if p.get("Status", {}).get("Code") != "active":
            continue
        a, b = p["RequesterVpcInfo"]["VpcId"], p["AccepterVpcInfo"]["VpcId"]
        if wanted & {a, b}:
            wanted |= {a, b}
            net.peerings[p["VpcPeeringConnectionId"]] = Peering(
                p["VpcPeeringConnectionId"], _name(p, p["VpcPeeringConnectionId"], names), (a, b)
            )
    vpc_filter = [{"Name": "vpc-id", "Values": sorted(wanted)}]
    for v in listed(ec2, "describe_vpcs", "Vpcs", VpcIds=sorted(wanted)):
        support, hostnames = (
            ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute=a)[key]["Value"]
            for a, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames"))
        )
        net.vpcs[v["VpcId"]] = Vpc(v["VpcId"], _name(v, v["VpcId"], names), v["CidrBlock"], support, hostnames)
    for s in listed(ec2, "describe_subnets", "Subnets", Filters=vpc_filter):
        net.subnets[s["SubnetId"]] = Subnet(s["SubnetId"], _name(s, s["SubnetId"], names), s["VpcId"], s["CidrBlock"])
    for t in listed(ec2, "describe_route_tables", "RouteTables", Filters=vpc_filter):
        associations = t.get("Associations") or []
        net.route_tables[t["RouteTableId"]] = RouteTable(
            t["RouteTableId"],
            _name(t, t["RouteTableId"], names),
            t["VpcId"],
            tuple(a["SubnetId"] for a in associations if a.get("SubnetId")),
            tuple(_routes(t.get("Routes") or [])),
            any(a.get("Main") for a in associations),
        )
    for g in listed(ec2, "describe_security_groups", "SecurityGroups", Filters=vpc_filter):
        net.groups[g["GroupId"]] = SecurityGroup(
            g["GroupId"],
            _name(g, g["GroupId"], names),
            frozenset(flatten(g.get("IpPermissions"))),
            frozenset(flatten(g.get("IpPermissionsEgress"))),
        )
    for e in listed(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=vpc_filter):
        if e.get("State", "").lower() in GONE:
            continue
        service = e["ServiceName"].split(f".{region}.", 1)[-1]
        net.endpoints[e["VpcEndpointId"]] = Endpoint(
            e["VpcEndpointId"],
            _name(e, e["VpcEndpointId"], names),
            e["VpcId"],
            service,
            e.get("VpcEndpointType", "Interface").lower(),
            tuple(e.get("SubnetIds") or ()),
            tuple(g["GroupId"] for g in e.get("Groups") or []),
            tuple(e.get("RouteTableIds") or ()),
            bool(e.get("PrivateDnsEnabled")),
        )
    for reservation in listed(ec2, "describe_instances", "Reservations", Filters=vpc_filter):
        for i in reservation.get("Instances") or []:
            if i.get("State", {}).get("Name") in ("terminated", "shutting-down") or not i.get("SubnetId"):
                continue
            groups = {g["GroupId"] for n in i.get("NetworkInterfaces") or [] for g in n.get("Groups") or []}
            groups |= {g["GroupId"] for g in i.get("SecurityGroups") or []}
            net.hosts[i["InstanceId"]] = Host(
                i["InstanceId"],
                _name(i, i["InstanceId"], names),
                i["VpcId"],
                (i["SubnetId"],),
                (f"{i['PrivateIpAddress']}/32",),
                tuple(sorted(groups)),
                bool(i.get("PublicIpAddress")),
            )
    if elbv2 is not None:
        _load_balancers(net, ec2, elbv2, vpc_filter, names)
    if route53 is not None:
        _zones(net, route53, names)
    if resolver is not None:
        _resolver(net, resolver, names)
    return net


def _routes(routes: list[dict[str, Any]]) -> Iterable[Route]:
    for r in routes:
        destination = r.get("DestinationCidrBlock")
        if not destination or r.get("State", "active") != "active":
            continue
        gateway = r.get("GatewayId") or ""
        if gateway.startswith("igw-"):
            yield Route(destination, gateway, "igw")
        elif r.get("NatGatewayId"):
            yield Route(destination, r["NatGatewayId"], "nat")
        elif r.get("VpcPeeringConnectionId"):
            yield Route(destination, r["VpcPeeringConnectionId"], "peering")


def _interfaces(ec2: Any, vpc_filter: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Private address -> its network interface, in these VPCs."""
    out = {}
    for eni in listed(ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=vpc_filter):
        for address in eni.get("PrivateIpAddresses") or [{"PrivateIpAddress": eni.get("PrivateIpAddress")}]:
            out[str(address.get("PrivateIpAddress"))] = eni
    return out


def _load_balancers(net: Network, ec2: Any, elbv2: Any, vpc_filter: Any, names: dict[str, str]) -> None:
    interfaces: dict[str, dict[str, Any]] | None = None
    for lb in listed(elbv2, "describe_load_balancers", "LoadBalancers"):
        if lb.get("VpcId") not in net.vpcs:
            continue
        arn = lb["LoadBalancerArn"]
        listeners = []
        for ls in listed(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn):
            forward = next(
                (a.get("TargetGroupArn") for a in ls.get("DefaultActions") or [] if a.get("TargetGroupArn")), None
            )
            listeners.append(Listener(int(ls["Port"]), ls.get("Protocol", ""), forward))
        groups = tuple(lb.get("SecurityGroups") or ())
        net.load_balancers[arn] = LoadBalancer(
            arn,
            names.get(arn, lb.get("LoadBalancerName", arn)),
            lb["VpcId"],
            lb.get("Type", "application"),
            lb.get("Scheme", "internet-facing"),
            tuple(z["SubnetId"] for z in lb.get("AvailabilityZones") or []),
            groups if groups or lb.get("Type") == "application" else None,
            tuple(listeners),
            lb.get("DNSName", ""),
        )
        forwarded = sorted({ls.target_group for ls in listeners if ls.target_group})
        groups_found = elbv2.describe_target_groups(TargetGroupArns=forwarded)["TargetGroups"] if forwarded else []
        for group in groups_found:
            tg_arn = group["TargetGroupArn"]
            if tg_arn in net.target_groups:
                continue
            if interfaces is None:
                interfaces = _interfaces(ec2, vpc_filter)
            health = str(group.get("HealthCheckPort") or "traffic-port")
            targets = []
            for d in elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]:
                if d["TargetHealth"].get("State") in ("draining", "unused"):
                    continue
                host = _target_host(net, interfaces, d["Target"]["Id"])
                # Each registered target has its own port; the group's port is only the default.
                targets.append(Target(host, int(d["Target"].get("Port") or group["Port"])))
            net.target_groups[tg_arn] = TargetGroup(
                tg_arn,
                names.get(tg_arn, group.get("TargetGroupName", tg_arn)),
                group.get("Protocol", "HTTP"),
                int(group["Port"]),
                int(health) if health.isdigit() else None,
                tuple(targets),
            )


def _target_host(net: Network, interfaces: dict[str, dict[str, Any]], target_id: str) -> Host:
    if target_id in net.hosts:
        return net.hosts[target_id]
    eni = interfaces.get(target_id)
    if eni is None:  # an address outside these VPCs: nothing known filters it
        return Host(target_id, target_id, "", (), (f"{target_id}/32",), None)
    groups = tuple(sorted(g["GroupId"] for g in eni.get("Groups") or []))
    return Host(target_id, target_id, eni["VpcId"], (eni["SubnetId"],), (f"{target_id}/32",), groups)


def _zones(net: Network, route53: Any, names: dict[str, str]) -> None:
    for zone in listed(route53, "list_hosted_zones", "HostedZones"):
        if not zone.get("Config", {}).get("PrivateZone"):
            continue
        zone_id = zone["Id"].split("/")[-1]
        vpcs = tuple(v["VPCId"] for v in route53.get_hosted_zone(Id=zone_id).get("VPCs") or [])
        if not set(vpcs) & set(net.vpcs):
            continue
        records = []
        for record in listed(route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id):
            alias = (record.get("AliasTarget") or {}).get("DNSName", "").rstrip(".").lower()
            records.append(Record(record["Name"].rstrip("."), _alias_target(net, alias) if alias else None))
        net.zones[zone_id] = HostedZone(zone_id, zone["Name"].rstrip("."), vpcs, tuple(records))


def _alias_target(net: Network, dns_name: str) -> str | None:
    """The load balancer or endpoint an alias names, by DNS name."""
    dns_name = dns_name.removeprefix("dualstack.")
    for lb in net.load_balancers.values():
        if lb.dns_name.rstrip(".").lower() == dns_name:
            return lb.id
    for endpoint in net.endpoints.values():
        if endpoint.id in dns_name:  # endpoint DNS names embed the endpoint's id
            return endpoint.id
    return None


def _resolver(net: Network, resolver: Any, names: dict[str, str]) -> None:
    by_ip: dict[str, str] = {}
    for endpoint in listed(resolver, "list_resolver_endpoints", "ResolverEndpoints"):
        addresses = listed(
            resolver, "list_resolver_endpoint_ip_addresses", "IpAddresses", ResolverEndpointId=endpoint["Id"]
        )
        subnets = tuple(dict.fromkeys(a["SubnetId"] for a in addresses))
        vpc = next((net.subnets[s].vpc for s in subnets if s in net.subnets), None)
        if vpc is None:
            continue
        by_ip.update({a["Ip"]: endpoint["Id"] for a in addresses if a.get("Ip")})
        net.resolver_endpoints[endpoint["Id"]] = ResolverEndpoint(
            endpoint["Id"],
            names.get(endpoint["Id"], endpoint.get("Name") or endpoint["Id"]),
            vpc,
            endpoint["Direction"],
            subnets,
            tuple(endpoint.get("SecurityGroupIds") or ()),
        )
    associations: dict[str, list[str]] = {}
    for a in listed(resolver, "list_resolver_rule_associations", "ResolverRuleAssociations"):
        associations.setdefault(a["ResolverRuleId"], []).append(a["VPCId"])
    for rule in listed(resolver, "list_resolver_rules", "ResolverRules"):
        if rule.get("RuleType") != "FORWARD" or rule.get("ResolverEndpointId") not in net.resolver_endpoints:
            continue
        targets = tuple(dict.fromkeys(by_ip[t["Ip"]] for t in rule.get("TargetIps") or [] if t.get("Ip") in by_ip))
        net.resolver_rules[rule["Id"]] = ResolverRule(
            rule["Id"],
            names.get(rule["Id"], rule.get("Name") or rule["Id"]),
            rule["DomainName"].rstrip("."),
            rule["ResolverEndpointId"],
            targets,
            tuple(associations.get(rule["Id"], ())),
        )
