"""EC2 networking: VPCs, subnets, internet gateways, route tables, security groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady, VpcctlError
from vpcctl.network.from_specs import rule_permissions
from vpcctl.network.snapshot import Permission, flatten
from vpcctl.resources.base import (
    Context,
    Found,
    Handler,
    Outcome,
    absent_ok,
    exists,
    outcome,
    retry_while_not_found,
)


def ec2_discover(ctx: Context, kind: str, operation: str, key: str, id_key: str, **extra: Any) -> list[Found]:
    """One filtered, paginated describe for every resource of a type the deployment owns."""
    client = ctx.client("ec2")
    paginator = client.get_paginator(operation)
    found = []
    for page in paginator.paginate(Filters=tagging.ec2_filter(ctx.deployment), **extra):
        for item in page[key]:
            tags = tagging.to_dict(item.get("Tags"))
            lid = tags.get(tagging.LOGICAL_ID)
            if lid and tagging.owned_by(tags, ctx.deployment):
                found.append(Found(kind, lid, item[id_key], str(item.get("State", "")), {}, item, tags))
    return found


def tag_spec(ctx: Context, resource_type: str, logical_id: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tagging.as_list(ctx.tags(logical_id))}]


def immutable(logical_id: str, field: str, have: Any, want: Any) -> VpcctlError:
    return VpcctlError(
        f"{logical_id}: {field} is {have} in AWS but {want} in the scenario, and AWS cannot change it in place",
        hint=f"run `vpcctl teardown` and `up` again, or set {field} back to {have}",
    )


# ------------------------------------------------------------------------ vpc


class VpcHandler(Handler):
    kind = "vpc"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_vpcs", "Vpcs", "VpcId")
        for f in found:
            f.attributes = {"cidr": f.raw["CidrBlock"]}
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.Vpc, found: Found | None) -> Outcome:
        ec2 = ctx.client("ec2")
        changes: list[str] = []
        created = found is None
        if found is None:
            vpc = ec2.create_vpc(CidrBlock=spec.cidr, TagSpecifications=tag_spec(ctx, "vpc", resource.id))["Vpc"]
            found = Found(self.kind, resource.id, vpc["VpcId"], vpc["State"], {"cidr": spec.cidr}, vpc)
            ctx.wait_for("ec2", "vpc_available", VpcIds=[found.id])
            found.state = "available"
            # A new VPC has DNS support on and DNS hostnames off.
            current = {"EnableDnsSupport": True, "EnableDnsHostnames": False}
        else:
            if found.raw["CidrBlock"] != spec.cidr:
                raise immutable(resource.id, "cidr", found.raw["CidrBlock"], spec.cidr)
            current = {
                name: ec2.describe_vpc_attribute(VpcId=found.id, Attribute=attr)[name]["Value"]
                for name, attr in (
                    ("EnableDnsSupport", "enableDnsSupport"),
                    ("EnableDnsHostnames", "enableDnsHostnames"),
                )
            }
        # DNS support first: AWS refuses hostnames without it.
        for name, want in (("EnableDnsSupport", spec.dns_support), ("EnableDnsHostnames", spec.dns_hostnames)):
            if current[name] != want:
                retry_while_not_found(
                    lambda n=name, w=want: ec2.modify_vpc_attribute(VpcId=found.id, **{n: {"Value": w}}),
                    sleep=ctx.sleep,
                )
                changes.append(f"{name[0].lower()}{name[1:]}={str(want).lower()}")
        return outcome(created, found, [] if created else changes)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        return absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id, lambda: ec2.delete_vpc(VpcId=found.id), lambda: vpc_holders(ctx, found.id)
            )
        )


# What keeps a VPC, subnet or group from being deleted, named for the person waiting.

# Network interfaces AWS services leave behind in a subnet once their owner is gone.
LEFTOVER_INTERFACES = ("ELB ", "arn:aws:ecs:", "AWS Lambda VPC ENI", "VPC Endpoint Interface")


def interfaces_holding(ctx: Context, filters: list[dict[str, Any]], clear_leftovers: bool = False) -> list[str]:
    """ENIs matching the filters, described; detached leftovers of AWS services are deleted."""
    ec2 = ctx.client("ec2")
    held = []
    for eni in ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]:
        description = eni.get("Description") or ""
        leftover = eni.get("Status") == "available" and (
            eni.get("RequesterManaged") or description.startswith(LEFTOVER_INTERFACES)
        )
        if clear_leftovers and leftover:
            absent_ok(lambda e=eni: ec2.delete_network_interface(NetworkInterfaceId=e["NetworkInterfaceId"]))
            continue
        held.append(
            f"{eni['NetworkInterfaceId']} ({description or eni.get('InterfaceType', 'interface')}, {eni.get('Status')})"
        )
    return held


def group_holders(ctx: Context, group_id: str) -> list[str]:
    held = interfaces_holding(ctx, [{"Name": "group-id", "Values": [group_id]}])
    referencing = ctx.client("ec2").describe_security_groups(
        Filters=[{"Name": "ip-permission.group-id", "Values": [group_id]}]
    )["SecurityGroups"]
    held += [f"{g['GroupId']} (rules naming this group)" for g in referencing if g["GroupId"] != group_id]
    return held


def vpc_holders(ctx: Context, vpc_id: str) -> list[str]:
    ec2 = ctx.client("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    held = [f"{s['SubnetId']} (subnet)" for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]]
    attached = [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    held += [
        f"{g['InternetGatewayId']} (internet gateway)"
        for g in ec2.describe_internet_gateways(Filters=attached)["InternetGateways"]
    ]
    held += [
        f"{g['GroupId']} (security group {g['GroupName']})"
        for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    held += [
        f"{e['VpcEndpointId']} (endpoint, {e['State']})"
        for e in ec2.describe_vpc_endpoints(Filters=in_vpc)["VpcEndpoints"]
        if e["State"].lower() != "deleted"
    ]
    return held


# --------------------------------------------------------------------- subnet


class SubnetHandler(Handler):
    kind = "subnet"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_subnets", "Subnets", "SubnetId")
        for f in found:
            f.attributes = {"cidr": f.raw["CidrBlock"], "az": f.raw["AvailabilityZone"]}
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.Subnet, found: Found | None) -> Outcome:
        ec2 = ctx.client("ec2")
        az = zone_name(ctx.region, spec.az)
        created = found is None
        if found is None:
            subnet = ec2.create_subnet(
                VpcId=ctx.id_of(spec.vpc),
                CidrBlock=spec.cidr,
                AvailabilityZone=az,
                TagSpecifications=tag_spec(ctx, "subnet", resource.id),
            )["Subnet"]
            found = Found(
                self.kind, resource.id, subnet["SubnetId"], subnet["State"], {"cidr": spec.cidr, "az": az}, subnet
            )
        else:
            for field, have, want in (
                ("cidr", found.raw["CidrBlock"], spec.cidr),
                ("az", found.raw["AvailabilityZone"], az),
                ("vpc", found.raw["VpcId"], ctx.id_of(spec.vpc)),
            ):
                if have != want:
                    raise immutable(resource.id, field, have, want)
        changes = []
        if bool(found.raw.get("MapPublicIpOnLaunch")) != spec.public_ip_on_launch:
            retry_while_not_found(
                lambda: ec2.modify_subnet_attribute(
                    SubnetId=found.id, MapPublicIpOnLaunch={"Value": spec.public_ip_on_launch}
                ),
                sleep=ctx.sleep,
            )
            changes.append(f"public_ip_on_launch={str(spec.public_ip_on_launch).lower()}")
        return outcome(created, found, changes)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        return absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id,
                lambda: ec2.delete_subnet(SubnetId=found.id),
                lambda: interfaces_holding(ctx, [{"Name": "subnet-id", "Values": [found.id]}], clear_leftovers=True),
            )
        )


def zone_name(region: str, az: str) -> str:
    """'a' -> 'ap-northeast-1a'; a full zone name is kept."""
    return az if az.startswith(region) else f"{region}{az}"


# ----------------------------------------------------------- internet gateway


class InternetGatewayHandler(Handler):
    kind = "internet_gateway"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_internet_gateways", "InternetGateways", "InternetGatewayId")
        for f in found:
            attachments = f.raw.get("Attachments") or []
            f.state = attachments[0]["State"] if attachments else "detached"
        return found

    def ensure(
        self, ctx: Context, resource: model.Resource, spec: model.InternetGateway, found: Found | None
    ) -> Outcome:
        ec2 = ctx.client("ec2")
        created = found is None
        if found is None:
            igw = ec2.create_internet_gateway(TagSpecifications=tag_spec(ctx, "internet-gateway", resource.id))
            igw = igw["InternetGateway"]
            found = Found(self.kind, resource.id, igw["InternetGatewayId"], "detached", {}, igw)
        vpc_id = ctx.id_of(spec.vpc)
        attached = [a["VpcId"] for a in found.raw.get("Attachments") or []]
        changes = []
        if vpc_id not in attached:
            for other in attached:
                ec2.detach_internet_gateway(InternetGatewayId=found.id, VpcId=other)
            retry_while_not_found(
                lambda: ec2.attach_internet_gateway(InternetGatewayId=found.id, VpcId=vpc_id), sleep=ctx.sleep
            )
            changes.append(f"attached to {vpc_id}")
        found.state = "available"
        return outcome(created, found, [] if created else changes)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        for attachment in found.raw.get("Attachments") or []:
            absent_ok(
                lambda a=attachment: ctx.until_deletable(
                    found.logical_id,
                    lambda: ec2.detach_internet_gateway(InternetGatewayId=found.id, VpcId=a["VpcId"]),
                )
            )
        return absent_ok(lambda: ec2.delete_internet_gateway(InternetGatewayId=found.id))


# ---------------------------------------------------------------- route table


ROUTE_TARGETS = {"gateway": "GatewayId", "nat_gateway": "NatGatewayId", "peering": "VpcPeeringConnectionId"}


class RouteTableHandler(Handler):
    kind = "route_table"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_route_tables", "RouteTables", "RouteTableId")
        for f in found:
            f.state = f"{len(self._managed_routes(f.raw))} routes, {len(self._subnet_associations(f.raw))} subnets"
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.RouteTable, found: Found | None) -> Outcome:
        created = found is None
        if found is None:
            table = ctx.create(
                "ec2",
                "CreateRouteTable",
                VpcId=ctx.id_of(spec.vpc),
                TagSpecifications=tag_spec(ctx, "route-table", resource.id),
            )["RouteTable"]
            found = Found(self.kind, resource.id, table["RouteTableId"], "", {}, table)
        changes = self._converge_routes(ctx, found, spec) + self._converge_associations(ctx, found, spec)
        found.state = f"{len(spec.routes)} routes, {len(spec.subnets)} subnets"
        return outcome(created, found, [] if created else changes)

    @staticmethod
    def _managed_routes(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Routes vpcctl manages: CIDR routes made by CreateRoute (not 'local', not endpoint routes)."""
        return {
            r["DestinationCidrBlock"]: r
            for r in raw.get("Routes") or []
            if r.get("DestinationCidrBlock")
            and r.get("Origin", "CreateRoute") == "CreateRoute"
            and r.get("GatewayId") != "local"
        }

    @staticmethod
    def _subnet_associations(raw: dict[str, Any]) -> dict[str, str]:
        return {a["SubnetId"]: a["RouteTableAssociationId"] for a in raw.get("Associations") or [] if a.get("SubnetId")}

    def _converge_routes(self, ctx: Context, found: Found, spec: model.RouteTable) -> list[str]:
        ec2 = ctx.client("ec2")
        current = self._managed_routes(found.raw)
        changes = []
        for route in spec.routes:
            field, target_lid = next((f, getattr(route, f)) for f in ROUTE_TARGETS if getattr(route, f))
            target = {ROUTE_TARGETS[field]: ctx.id_of(target_lid)}
            have = current.pop(route.destination, None)
            if have is None:
                retry_while_not_found(
                    lambda t=target, r=route: ec2.create_route(
                        RouteTableId=found.id, DestinationCidrBlock=r.destination, **t
                    ),
                    sleep=ctx.sleep,
                )
                changes.append(f"+route {route.destination}")
            elif any(have.get(k) != v for k, v in target.items()):
                ec2.replace_route(RouteTableId=found.id, DestinationCidrBlock=route.destination, **target)
                changes.append(f"~route {route.destination}")
        for destination in current:
            ec2.delete_route(RouteTableId=found.id, DestinationCidrBlock=destination)
            changes.append(f"-route {destination}")
        return changes

    def _converge_associations(self, ctx: Context, found: Found, spec: model.RouteTable) -> list[str]:
        ec2 = ctx.client("ec2")
        current = self._subnet_associations(found.raw)
        changes = []
        for subnet_lid in spec.subnets:
            subnet_id = ctx.id_of(subnet_lid)
            if current.pop(subnet_id, None):
                continue
            # A subnet already associated elsewhere moves here in one call.
            elsewhere = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
                "RouteTables"
            ]
            other = [
                a["RouteTableAssociationId"]
                for t in elsewhere
                for a in t.get("Associations", [])
                if a.get("SubnetId") == subnet_id
            ]
            if other:
                ec2.replace_route_table_association(AssociationId=other[0], RouteTableId=found.id)
            else:
                retry_while_not_found(
                    lambda s=subnet_id: ec2.associate_route_table(RouteTableId=found.id, SubnetId=s), sleep=ctx.sleep
                )
            changes.append(f"+subnet {subnet_lid}")
        for subnet_id, association in current.items():
            ec2.disassociate_route_table(AssociationId=association)
            changes.append(f"-subnet {subnet_id}")
        return changes

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        for association in self._subnet_associations(found.raw).values():
            absent_ok(lambda a=association: ec2.disassociate_route_table(AssociationId=a))
        return absent_ok(
            lambda: ctx.until_deletable(found.logical_id, lambda: ec2.delete_route_table(RouteTableId=found.id))
        )


# ------------------------------------------------------------- security group

DEFAULT_EGRESS: set[Permission] = {("-1", None, None, "cidr", "0.0.0.0/0")}


class SecurityGroupHandler(Handler):
    kind = "security_group"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_security_groups", "SecurityGroups", "GroupId")
        for f in found:
            f.state = (
                f"{len(flatten(f.raw.get('IpPermissions')))} in, {len(flatten(f.raw.get('IpPermissionsEgress')))} out"
            )
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.SecurityGroup, found: Found | None) -> Outcome:
        created = found is None
        if found is None:
            group = ctx.client("ec2").create_security_group(
                GroupName=ctx.name(resource.id),
                Description=spec.description,
                VpcId=ctx.id_of(spec.vpc),
                TagSpecifications=tag_spec(ctx, "security-group", resource.id),
            )
            raw = {"GroupId": group["GroupId"], "IpPermissions": [], "IpPermissionsEgress": _default_egress()}
            found = Found(self.kind, resource.id, group["GroupId"], "", {}, raw)
        changes: list[str] = []
        from vpcctl.graph import has_late_step

        if not has_late_step(resource):  # no rules step follows: converge to "no rules" here
            changes = self.converge_rules(ctx, found, spec)
        return outcome(created, found, [] if created else changes)

    def ensure_late(self, ctx: Context, resource: model.Resource, spec: model.SecurityGroup, found: Found) -> Outcome:
        return outcome(False, found, self.converge_rules(ctx, found, spec))

    def converge_rules(self, ctx: Context, found: Found, spec: model.SecurityGroup) -> list[str]:
        ec2 = ctx.client("ec2")
        changes = []
        for direction, rules, current_key in (
            ("ingress", spec.ingress, "IpPermissions"),
            ("egress", spec.egress, "IpPermissionsEgress"),
        ):
            want = DEFAULT_EGRESS if rules is None else {p for rule in rules for p in permissions(ctx, rule)}
            have = flatten(found.raw.get(current_key))
            descriptions = {p: rule.description for rule in rules or () for p in permissions(ctx, rule)}
            missing, extra = want - have, have - want
            authorize = getattr(ec2, f"authorize_security_group_{direction}")
            revoke = getattr(ec2, f"revoke_security_group_{direction}")
            if missing:
                perms = [to_ip_permission(p, descriptions.get(p, "")) for p in sorted(missing, key=str)]
                retry_while_not_found(
                    lambda ps=perms, call=authorize: call(GroupId=found.id, IpPermissions=ps), sleep=ctx.sleep
                )
                changes += [f"+{direction} {describe_permission(p)}" for p in sorted(missing, key=str)]
            if extra:
                revoke(GroupId=found.id, IpPermissions=[to_ip_permission(p) for p in sorted(extra, key=str)])
                changes += [f"-{direction} {describe_permission(p)}" for p in sorted(extra, key=str)]
        found.state = f"{len(spec.ingress)} in, {'default' if spec.egress is None else len(spec.egress)} out"
        return changes

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        # Rules naming a group keep it alive: revoke this group's own, and the deployment's
        # rules naming this group, so groups that refer to each other can go in any order.
        revoke_group_rules(ctx, found.id, found.raw, lambda p: p[3] == "group")
        owned = tagging.ec2_filter(ctx.deployment)
        for key in ("ip-permission.group-id", "egress.ip-permission.group-id"):
            for other in ec2.describe_security_groups(Filters=[*owned, {"Name": key, "Values": [found.id]}])[
                "SecurityGroups"
            ]:
                if other["GroupId"] != found.id:
                    revoke_group_rules(ctx, other["GroupId"], other, lambda p: p[3:] == ("group", found.id))
        return absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id,
                lambda: ec2.delete_security_group(GroupId=found.id),
                lambda: group_holders(ctx, found.id),
            )
        )


def revoke_group_rules(ctx: Context, group_id: str, raw: dict[str, Any], which: Callable[[Permission], bool]) -> None:
    ec2 = ctx.client("ec2")
    for key, revoke in (
        ("IpPermissions", ec2.revoke_security_group_ingress),
        ("IpPermissionsEgress", ec2.revoke_security_group_egress),
    ):
        chosen = [p for p in flatten(raw.get(key)) if which(p)]
        if chosen:
            absent_ok(lambda r=revoke, c=chosen: r(GroupId=group_id, IpPermissions=[to_ip_permission(p) for p in c]))


def _default_egress() -> list[dict[str, Any]]:
    return [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "UserIdGroupPairs": []}]


def permissions(ctx: Context, rule: model.Rule) -> list[Permission]:
    return rule_permissions(rule, ctx.id_of)


def to_ip_permission(p: Permission, description: str = "") -> dict[str, Any]:
    protocol, low, high, source_type, value = p
    perm: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        perm["FromPort"], perm["ToPort"] = low, high
    extra = {"Description": description} if description else {}
    if source_type == "cidr":
        perm["IpRanges"] = [{"CidrIp": value, **extra}]
    else:
        perm["UserIdGroupPairs"] = [{"GroupId": value, **extra}]
    return perm


def describe_permission(p: Permission) -> str:
    protocol, low, high, _, value = p
    ports = "all" if low is None else (str(low) if low == high else f"{low}-{high}")
    return f"{'all' if protocol == '-1' else protocol}/{ports} {value}"


# ---------------------------------------------------------------- vpc peering

PEERING_GONE = {"deleted", "deleting", "rejected", "failed", "expired"}
PEERING_LIVE = ["initiating-request", "pending-acceptance", "provisioning", "active"]


class VpcPeeringHandler(Handler):
    """A peering between two VPCs of the deployment: requested, accepted, then options set."""

    kind = "vpc_peering"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(
            ctx, self.kind, "describe_vpc_peering_connections", "VpcPeeringConnections", "VpcPeeringConnectionId"
        )
        for f in found:
            f.state = f.raw["Status"]["Code"]
        # AWS lists deleted and rejected connections for days: only live ones count.
        return [f for f in found if f.state in PEERING_LIVE]

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.VpcPeering, found: Found | None) -> Outcome:
        vpc, peer = ctx.id_of(spec.vpc), ctx.id_of(spec.peer_vpc)
        created = found is None
        if found is None:
            found = self._request(ctx, resource.id, vpc, peer)
        else:
            for field, have, want in (
                ("vpc", found.raw["RequesterVpcInfo"]["VpcId"], vpc),
                ("peer_vpc", found.raw["AccepterVpcInfo"]["VpcId"], peer),
            ):
                if have != want:
                    raise immutable(resource.id, field, have, want)
        changes = self._accept(ctx, found)
        changes += self._converge_options(ctx, found, spec.allow_remote_dns)
        return outcome(created, found, [] if created else changes)

    def _request(self, ctx: Context, lid: str, vpc: str, peer: str) -> Found:
        connection = ctx.create(
            "ec2",
            "CreateVpcPeeringConnection",
            VpcId=vpc,
            PeerVpcId=peer,
            TagSpecifications=tag_spec(ctx, "vpc-peering-connection", lid),
        )["VpcPeeringConnection"]
        connection_id = connection["VpcPeeringConnectionId"]
        ctx.wait_for("ec2", "vpc_peering_connection_exists", VpcPeeringConnectionIds=[connection_id])
        return Found(self.kind, lid, connection_id, connection["Status"]["Code"], {}, connection)

    def _accept(self, ctx: Context, found: Found) -> list[str]:
        """Accept a pending request (both VPCs are ours), then wait until the peering is active."""
        ec2 = ctx.client("ec2")
        changes = []
        if found.state in ("initiating-request", "pending-acceptance"):
            self._refresh(ctx, found)
        if found.state == "pending-acceptance":
            ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=found.id)
            changes.append("accepted")
        if found.state != "active":
            ctx.poll(found.logical_id, "peering", lambda: self._is_active(ctx, found))
        return changes

    def _is_active(self, ctx: Context, found: Found) -> tuple[bool, str]:
        self._refresh(ctx, found)
        status = found.raw["Status"]
        if found.state in PEERING_GONE:
            hint = "peered VPCs' CIDRs must not overlap" if found.state == "failed" else None
            raise NotReady(f"{found.logical_id}: peering {found.state}: {status.get('Message', '')}", hint=hint)
        return found.state == "active", found.state

    @staticmethod
    def _refresh(ctx: Context, found: Found) -> None:
        connection = ctx.client("ec2").describe_vpc_peering_connections(VpcPeeringConnectionIds=[found.id])[
            "VpcPeeringConnections"
        ][0]
        found.raw, found.state = connection, connection["Status"]["Code"]

    def _converge_options(self, ctx: Context, found: Found, allow_remote_dns: bool) -> list[str]:
        """AllowDnsResolutionFromRemoteVpc on both sides; AWS accepts it only once the peering is active."""
        sides = {"Requester": found.raw.get("RequesterVpcInfo", {}), "Accepter": found.raw.get("AccepterVpcInfo", {})}
        differing = {
            f"{side}PeeringConnectionOptions": {"AllowDnsResolutionFromRemoteVpc": allow_remote_dns}
            for side, info in sides.items()
            if bool((info.get("PeeringOptions") or {}).get("AllowDnsResolutionFromRemoteVpc")) != allow_remote_dns
        }
        if not differing:
            return []
        ctx.client("ec2").modify_vpc_peering_connection_options(VpcPeeringConnectionId=found.id, **differing)
        for key, options in differing.items():
            side = key.removesuffix("PeeringConnectionOptions")
            found.raw.setdefault(f"{side}VpcInfo", {}).setdefault("PeeringOptions", {}).update(options)
        return [f"allow_remote_dns={str(allow_remote_dns).lower()}"]

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        # AWS keeps listing a deleted peering for a while (moto deletes it again): ask first.
        if not exists(
            lambda: [
                c
                for c in ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[found.id])[
                    "VpcPeeringConnections"
                ]
                if c["Status"]["Code"] not in PEERING_GONE
            ]
        ):
            return False
        deleted = absent_ok(lambda: ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=found.id))
        ctx.wait_for("ec2", "vpc_peering_connection_deleted", VpcPeeringConnectionIds=[found.id])
        return deleted

    def is_gone(self, found: Found) -> bool:
        return found.state in PEERING_GONE
