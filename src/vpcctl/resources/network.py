"""EC2 networking: VPCs, subnets, internet gateways, route tables, security groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import error_code
from vpcctl.aws import tags as tagging
from vpcctl.network.from_specs import rule_permissions
from vpcctl.network.snapshot import Permission, flatten
from vpcctl.resources import kit
from vpcctl.resources.base import (
    Context,
    Found,
    Handler,
    absent_ok,
    exists,
    immutable,
    retry_while_not_found,
)
from vpcctl.resources.kit import Change

__all__ = ["immutable"]


# Subnets asked about in one DescribeRouteTables (AWS documents no bound on a filter's values; kept modest).
ASSOCIATION_BATCH = 100


def ec2_discover(
    ctx: Context, kind: str, operation: str, key: str, id_key: str, filter_name: str = "Filters", **extra: Any
) -> list[Found]:
    """One filtered, paginated describe for every resource of a type the deployment owns."""
    items = kit.listed(ctx, "ec2", operation, key, **{filter_name: tagging.ec2_filter(ctx.deployment)}, **extra)
    return kit.owned(
        ctx,
        items,
        kit.inline(id_key),
        id_key,
        lambda lid, item, tags: Found(kind, lid, item[id_key], str(item.get("State", "")), {}, item, tags),
    )


def tag_spec(ctx: Context, resource_type: str, logical_id: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tagging.as_list(ctx.tags(logical_id))}]


class Ec2Handler(Handler):
    """EC2 kinds: tags listed with each item, set with CreateTags/DeleteTags."""

    service = "ec2"

    def write_tags(self, ctx: Context, found: Found, changes: list[Change]) -> None:
        kit.write_tags(ctx, "ec2", found.id, changes)


# ------------------------------------------------------------------------ vpc

DNS_ATTRIBUTES = (
    ("dns_support", "EnableDnsSupport", "enableDnsSupport"),
    ("dns_hostnames", "EnableDnsHostnames", "enableDnsHostnames"),
)
# A new VPC has DNS support on and DNS hostnames off.
NEW_VPC_DNS = {"dns_support": True, "dns_hostnames": False}


class VpcHandler(Ec2Handler):
    kind = "vpc"
    tagged_as = ("ec2:vpc",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_vpcs", "Vpcs", "VpcId")
        for f in found:
            f.attributes = {"cidr": f.raw["CidrBlock"]}
        return found

    def diff(self, ctx: Context, resource: model.Resource, spec: model.Vpc, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec)]
        ec2 = ctx.client("ec2")
        changes = kit.replaced("cidr", found.raw["CidrBlock"], spec.cidr)
        for field, member, attribute in DNS_ATTRIBUTES:
            have = ec2.describe_vpc_attribute(VpcId=found.id, Attribute=attribute)[member]["Value"]
            changes += kit.updated(field, have, getattr(spec, field))
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.Vpc, found: Found | None, changes: list[Change]
    ) -> Found:
        ec2 = ctx.client("ec2")
        if found is None:
            vpc = ec2.create_vpc(CidrBlock=spec.cidr, TagSpecifications=tag_spec(ctx, "vpc", resource.id))["Vpc"]
            found = Found(self.kind, resource.id, vpc["VpcId"], vpc["State"], {"cidr": spec.cidr}, vpc)
            changes = [
                Change(f, NEW_VPC_DNS[f], getattr(spec, f)) for f in NEW_VPC_DNS if getattr(spec, f) != NEW_VPC_DNS[f]
            ]
        # DNS support first: AWS refuses hostnames without it.
        for field, member, _ in DNS_ATTRIBUTES:
            change = kit.named(changes, field)
            if change:
                retry_while_not_found(
                    lambda m=member, w=change.after: ec2.modify_vpc_attribute(VpcId=found.id, **{m: {"Value": w}}),
                    sleep=ctx.sleep,
                )
        self.write_tags(ctx, found, changes)
        return found

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        if found.state != "available":
            ctx.wait_for("ec2", "vpc_available", VpcIds=[found.id])
            found.state = "available"
        return found

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


class SubnetHandler(Ec2Handler):
    kind = "subnet"
    tagged_as = ("ec2:subnet",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_subnets", "Subnets", "SubnetId")
        for f in found:
            f.attributes = {"cidr": f.raw["CidrBlock"], "az": f.raw["AvailabilityZone"]}
        return found

    def diff(self, ctx: Context, resource: model.Resource, spec: model.Subnet, found: Found | None) -> list[Change]:
        az = zone_name(ctx.region, spec.az)
        if found is None:
            return [kit.create(ctx, spec, az=az, vpc=ctx.id_of(spec.vpc))]
        changes = kit.replaced("cidr", found.raw["CidrBlock"], spec.cidr)
        changes += kit.replaced("az", found.raw["AvailabilityZone"], az)
        changes += kit.replaced("vpc", found.raw["VpcId"], ctx.id_of(spec.vpc))
        changes += kit.updated(
            "public_ip_on_launch", bool(found.raw.get("MapPublicIpOnLaunch")), spec.public_ip_on_launch
        )
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.Subnet, found: Found | None, changes: list[Change]
    ) -> Found:
        ec2 = ctx.client("ec2")
        if found is None:
            az = zone_name(ctx.region, spec.az)
            subnet = ec2.create_subnet(
                VpcId=ctx.id_of(spec.vpc),
                CidrBlock=spec.cidr,
                AvailabilityZone=az,
                TagSpecifications=tag_spec(ctx, "subnet", resource.id),
            )["Subnet"]
            found = Found(
                self.kind, resource.id, subnet["SubnetId"], subnet["State"], {"cidr": spec.cidr, "az": az}, subnet
            )
            changes = kit.updated("public_ip_on_launch", False, spec.public_ip_on_launch)
        if kit.named(changes, "public_ip_on_launch"):
            retry_while_not_found(
                lambda: ec2.modify_subnet_attribute(
                    SubnetId=found.id, MapPublicIpOnLaunch={"Value": spec.public_ip_on_launch}
                ),
                sleep=ctx.sleep,
            )
        self.write_tags(ctx, found, changes)
        return found

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


class InternetGatewayHandler(Ec2Handler):
    kind = "internet_gateway"
    tagged_as = ("ec2:internet-gateway",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_internet_gateways", "InternetGateways", "InternetGatewayId")
        for f in found:
            attachments = f.raw.get("Attachments") or []
            f.state = attachments[0]["State"] if attachments else "detached"
        return found

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.InternetGateway, found: Found | None
    ) -> list[Change]:
        vpc_id = ctx.id_of(spec.vpc)
        if found is None:
            return [kit.create(ctx, spec, vpc=vpc_id)]
        attached = [a["VpcId"] for a in found.raw.get("Attachments") or []]
        have = ctx.logical_id_of(attached[0]) if attached else None
        changes = [] if vpc_id in attached else [Change("vpc", have, spec.vpc, payload=attached)]
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.InternetGateway,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        ec2 = ctx.client("ec2")
        attached: list[str] = []
        if found is None:
            igw = ec2.create_internet_gateway(TagSpecifications=tag_spec(ctx, "internet-gateway", resource.id))
            igw = igw["InternetGateway"]
            found = Found(self.kind, resource.id, igw["InternetGatewayId"], "detached", {}, igw)
            changes = [Change("vpc", None, spec.vpc)]
        vpc_change = kit.named(changes, "vpc")
        if vpc_change:
            vpc_id = ctx.id_of(spec.vpc)
            for other in vpc_change.payload or attached:
                ec2.detach_internet_gateway(InternetGatewayId=found.id, VpcId=other)
            retry_while_not_found(
                lambda: ec2.attach_internet_gateway(InternetGatewayId=found.id, VpcId=vpc_id), sleep=ctx.sleep
            )
            found.raw["Attachments"] = [{"VpcId": vpc_id, "State": "available"}]
        found.state = "available"
        self.write_tags(ctx, found, changes)
        return found

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
# A peering in any other state never will (failed, rejected, expired, deleted): no use waiting.
ROUTABLE_PEERING = ("initiating-request", "pending-acceptance", "provisioning", "active")


def _peering_can_carry_routes(ec2: Any, peering_id: str | None) -> bool:
    if not peering_id:
        return True
    answer = ec2.describe_vpc_peering_connections(
        Filters=[{"Name": "vpc-peering-connection-id", "Values": [peering_id]}]
    )["VpcPeeringConnections"]
    return not answer or answer[0]["Status"]["Code"] in ROUTABLE_PEERING  # not listed yet: it may come


class RouteTableHandler(Ec2Handler):
    kind = "route_table"
    tagged_as = ("ec2:route-table",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_route_tables", "RouteTables", "RouteTableId")
        for f in found:
            f.state = f"{len(self._managed_routes(f.raw))} routes, {len(self._subnet_associations(f.raw))} subnets"
        return found

    def diff(self, ctx: Context, resource: model.Resource, spec: model.RouteTable, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec)]
        changes = kit.replaced("vpc", found.raw["VpcId"], ctx.id_of(spec.vpc))
        changes += self._route_changes(ctx, found.raw, spec) + self._association_changes(ctx, resource, found.raw, spec)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.RouteTable, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            table = ctx.create(
                "ec2",
                "CreateRouteTable",
                VpcId=ctx.id_of(spec.vpc),
                TagSpecifications=tag_spec(ctx, "route-table", resource.id),
            )["RouteTable"]
            found = Found(self.kind, resource.id, table["RouteTableId"], "", {}, table)
            changes = self._route_changes(ctx, table, spec) + self._association_changes(ctx, resource, table, spec)
        self._apply_routes(ctx, found, changes)
        self._apply_associations(ctx, found, changes)
        self.write_tags(ctx, found, changes)
        found.state = f"{len(spec.routes)} routes, {len(spec.subnets)} subnets"
        return found

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

    def _route_changes(self, ctx: Context, raw: dict[str, Any], spec: model.RouteTable) -> list[Change]:
        current = self._managed_routes(raw)
        changes = []
        for route in spec.routes:
            field, target_lid = next((f, getattr(route, f)) for f in ROUTE_TARGETS if getattr(route, f))
            target = {ROUTE_TARGETS[field]: ctx.id_of(target_lid)}
            have = current.pop(route.destination, None)
            if have is None:
                label = f"{route.destination} {target_lid}"
                changes.append(Change("route", None, label, member=True, payload=(route.destination, target)))
            elif any(have.get(k) != v for k, v in target.items()):
                before = ctx.logical_id_of(next((have[k] for k in ROUTE_TARGETS.values() if have.get(k)), ""))
                changes.append(Change(f"route {route.destination}", before, target_lid, payload=target))
        for destination, have in current.items():
            before = ctx.logical_id_of(next((have[k] for k in ROUTE_TARGETS.values() if have.get(k)), ""))
            changes.append(Change("route", f"{destination} {before}", None, member=True, payload=destination))
        return changes

    def _apply_routes(self, ctx: Context, found: Found, changes: list[Change]) -> None:
        ec2 = ctx.client("ec2")
        for destination, target in kit.added(changes, "route"):
            retry_while_not_found(
                lambda d=destination, t=target: ec2.create_route(RouteTableId=found.id, DestinationCidrBlock=d, **t),
                sleep=ctx.sleep,
                worth_waiting=lambda t=target: _peering_can_carry_routes(ec2, t.get("VpcPeeringConnectionId")),
            )
        for change in changes:
            if change.attribute.startswith("route ") and not change.member:
                destination = change.attribute.removeprefix("route ")
                ec2.replace_route(RouteTableId=found.id, DestinationCidrBlock=destination, **change.payload)
        for destination in kit.removed(changes, "route"):
            ec2.delete_route(RouteTableId=found.id, DestinationCidrBlock=destination)

    def _association_changes(
        self, ctx: Context, resource: model.Resource, raw: dict[str, Any], spec: model.RouteTable
    ) -> list[Change]:
        """Subnets to associate and to let go. A subnet another route table of the scenario
        wants is that table's to take: it is not let go here."""
        have = set(self._subnet_associations(raw))
        want = {ctx.id_of(lid): lid for lid in spec.subnets}
        claimed = {
            lid
            for other in (ctx.scenario.resources.values() if ctx.scenario else ())
            if isinstance(other.spec, model.RouteTable) and other.id != resource.id
            for lid in other.spec.subnets
        }
        changes = [
            Change("subnet", None, lid, member=True, payload=sid) for sid, lid in want.items() if sid not in have
        ]
        for subnet_id in sorted(have - set(want)):
            lid = ctx.logical_id_of(subnet_id)
            if lid not in claimed:
                changes.append(Change("subnet", lid, None, member=True, payload=subnet_id))
        return changes

    def _apply_associations(self, ctx: Context, found: Found, changes: list[Change]) -> None:
        ec2 = ctx.client("ec2")
        added = kit.added(changes, "subnet")
        # A subnet already associated elsewhere moves here in one call; one read finds them all.
        elsewhere = [
            table
            for batch in kit.chunks(added, ASSOCIATION_BATCH)
            for table in kit.listed(
                ctx,
                "ec2",
                "describe_route_tables",
                "RouteTables",
                Filters=[{"Name": "association.subnet-id", "Values": batch}],
            )
        ]
        current = {
            a["SubnetId"]: a["RouteTableAssociationId"]
            for t in elsewhere
            for a in t.get("Associations", [])
            if a.get("SubnetId") in added
        }
        for subnet_id in added:
            if subnet_id in current:
                ec2.replace_route_table_association(AssociationId=current[subnet_id], RouteTableId=found.id)
            else:
                retry_while_not_found(
                    lambda s=subnet_id: ec2.associate_route_table(RouteTableId=found.id, SubnetId=s), sleep=ctx.sleep
                )
        associations = self._subnet_associations(found.raw)
        for subnet_id in kit.removed(changes, "subnet"):
            ec2.disassociate_route_table(AssociationId=associations[subnet_id])

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        for association in self._subnet_associations(found.raw).values():
            absent_ok(lambda a=association: ec2.disassociate_route_table(AssociationId=a))
        return absent_ok(
            lambda: ctx.until_deletable(found.logical_id, lambda: ec2.delete_route_table(RouteTableId=found.id))
        )


# ------------------------------------------------------------- security group

DEFAULT_EGRESS: set[Permission] = {("-1", None, None, "cidr", "0.0.0.0/0")}


class SecurityGroupHandler(Ec2Handler):
    kind = "security_group"
    tagged_as = ("ec2:security-group",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_security_groups", "SecurityGroups", "GroupId")
        for f in found:
            f.state = (
                f"{len(flatten(f.raw.get('IpPermissions')))} in, {len(flatten(f.raw.get('IpPermissionsEgress')))} out"
            )
        return found

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.SecurityGroup, found: Found | None
    ) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, name=ctx.name(resource.id))]
        changes = kit.replaced("vpc", found.raw["VpcId"], ctx.id_of(spec.vpc))
        changes += kit.replaced("description", found.raw.get("Description", ""), spec.description)
        if not model.has_late_step(resource):  # no rules step follows: converge to "no rules" here
            changes += self.rule_changes(ctx, found.raw, spec)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.SecurityGroup,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        if found is None:
            group = ctx.client("ec2").create_security_group(
                GroupName=ctx.name(resource.id),
                Description=spec.description,
                VpcId=ctx.id_of(spec.vpc),
                TagSpecifications=tag_spec(ctx, "security-group", resource.id),
            )
            raw = {
                "GroupId": group["GroupId"],
                "VpcId": ctx.id_of(spec.vpc),
                "IpPermissions": [],
                "IpPermissionsEgress": _default_egress(),
            }
            found = Found(self.kind, resource.id, group["GroupId"], "", {}, raw, ctx.tags(resource.id))
            changes = [] if model.has_late_step(resource) else self.rule_changes(ctx, raw, spec)
        self.apply_rules(ctx, found, spec, changes)
        self.write_tags(ctx, found, changes)
        return found

    def diff_late(
        self, ctx: Context, resource: model.Resource, spec: model.SecurityGroup, found: Found | None
    ) -> list[Change]:
        return self.rule_changes(ctx, found.raw if found else {"IpPermissionsEgress": _default_egress()}, spec)

    def apply_late(
        self, ctx: Context, resource: model.Resource, spec: model.SecurityGroup, found: Found, changes: list[Change]
    ) -> Found:
        self.apply_rules(ctx, found, spec, changes)
        return found

    def rule_changes(self, ctx: Context, raw: dict[str, Any], spec: model.SecurityGroup) -> list[Change]:
        changes = []
        for direction, rules, current_key in (
            ("ingress", spec.ingress, "IpPermissions"),
            ("egress", spec.egress, "IpPermissionsEgress"),
        ):
            want = DEFAULT_EGRESS if rules is None else {p for rule in rules for p in permissions(ctx, rule)}
            have = flatten(raw.get(current_key))
            changes += kit.members(direction, have, want, lambda p: describe_permission(p, ctx.logical_id_of))
        return changes

    def apply_rules(self, ctx: Context, found: Found, spec: model.SecurityGroup, changes: list[Change]) -> None:
        ec2 = ctx.client("ec2")
        for direction, rules in (("ingress", spec.ingress), ("egress", spec.egress)):
            missing, extra = kit.added(changes, direction), kit.removed(changes, direction)
            authorize = getattr(ec2, f"authorize_security_group_{direction}")
            revoke = getattr(ec2, f"revoke_security_group_{direction}")
            if missing:
                descriptions = {p: rule.description for rule in rules or () for p in permissions(ctx, rule)}
                perms = [to_ip_permission(p, descriptions.get(p, "")) for p in missing]
                retry_while_not_found(
                    lambda ps=perms, call=authorize: call(GroupId=found.id, IpPermissions=ps), sleep=ctx.sleep
                )
            if extra:
                revoke(GroupId=found.id, IpPermissions=[to_ip_permission(p) for p in extra])
        found.state = f"{len(spec.ingress)} in, {'default' if spec.egress is None else len(spec.egress)} out"

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


def describe_permission(p: Permission, name: Callable[[str], str] = str) -> str:
    """'tcp/80 0.0.0.0/0', or 'tcp/80 sec-alb' for a group (by the name given for its id)."""
    protocol, low, high, source_type, value = p
    ports = "all" if low is None else (str(low) if low == high else f"{low}-{high}")
    source = name(value) if source_type == "group" else value
    return f"{'all' if protocol == '-1' else protocol}/{ports} {source}"


# ---------------------------------------------------------------- vpc peering

PEERING_GONE = {"deleted", "deleting", "rejected", "failed", "expired"}
PEERING_LIVE = ["initiating-request", "pending-acceptance", "provisioning", "active"]


class VpcPeeringHandler(Ec2Handler):
    """A peering between two VPCs of the deployment: requested and accepted (both sides are
    ours); its DNS options can be set only once it is active, so readiness sets them."""

    kind = "vpc_peering"
    tagged_as = ("ec2:vpc-peering-connection",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(
            ctx, self.kind, "describe_vpc_peering_connections", "VpcPeeringConnections", "VpcPeeringConnectionId"
        )
        for f in found:
            f.state = f.raw["Status"]["Code"]
        # AWS lists deleted and rejected connections for days: only live ones count.
        return [f for f in found if f.state in PEERING_LIVE]

    def diff(self, ctx: Context, resource: model.Resource, spec: model.VpcPeering, found: Found | None) -> list[Change]:
        vpc, peer = ctx.id_of(spec.vpc), ctx.id_of(spec.peer_vpc)
        if found is None:
            return [kit.create(ctx, spec)]
        changes = kit.replaced("vpc", found.raw["RequesterVpcInfo"]["VpcId"], vpc)
        changes += kit.replaced("peer_vpc", found.raw["AccepterVpcInfo"]["VpcId"], peer)
        if found.state == "pending-acceptance":
            changes.append(Change("status", found.state, "active"))
        elif found.state == "active":
            changes += kit.updated("allow_remote_dns", self._remote_dns(found.raw), spec.allow_remote_dns)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    @staticmethod
    def _remote_dns(raw: dict[str, Any]) -> bool | str:
        """Whether both sides resolve the other's private names ('mixed' when one does)."""
        sides = (raw.get("RequesterVpcInfo") or {}, raw.get("AccepterVpcInfo") or {})
        values = {bool((side.get("PeeringOptions") or {}).get("AllowDnsResolutionFromRemoteVpc")) for side in sides}
        return values.pop() if len(values) == 1 else "mixed"

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.VpcPeering, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            connection = ctx.create(
                "ec2",
                "CreateVpcPeeringConnection",
                VpcId=ctx.id_of(spec.vpc),
                PeerVpcId=ctx.id_of(spec.peer_vpc),
                TagSpecifications=tag_spec(ctx, "vpc-peering-connection", resource.id),
            )["VpcPeeringConnection"]
            found = Found(
                self.kind,
                resource.id,
                connection["VpcPeeringConnectionId"],
                connection["Status"]["Code"],
                {},
                connection,
            )
            changes = []
        if kit.named(changes, "status") or found.state == "pending-acceptance":
            self._accept(ctx, found)
        if kit.named(changes, "allow_remote_dns"):
            self._set_options(ctx, found, spec.allow_remote_dns)
        self.write_tags(ctx, found, changes)
        return found

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Requested -> pending-acceptance (accepted here) -> active; then its DNS options."""
        spec: model.VpcPeering = resource.spec  # type: ignore[assignment]

        def read() -> dict[str, Any]:
            connection = self._read(ctx, found.id)
            found.raw, found.state = connection, connection["Status"]["Code"]
            if found.state == "pending-acceptance":
                self._accept(ctx, found)
            return connection

        kit.wait_status(
            ctx,
            resource.id,
            "peering",
            read,
            lambda c: c["Status"]["Code"],
            ready={"active"},
            failed=PEERING_GONE,
            reason=lambda c: c["Status"].get("Message", ""),
            hints={"failed": "peered VPCs' CIDRs must not overlap"},
        )
        found.state = "active"
        if self._remote_dns(found.raw) != spec.allow_remote_dns:
            self._set_options(ctx, found, spec.allow_remote_dns)
        return found

    @staticmethod
    def _read(ctx: Context, connection_id: str) -> dict[str, Any]:
        return ctx.client("ec2").describe_vpc_peering_connections(VpcPeeringConnectionIds=[connection_id])[
            "VpcPeeringConnections"
        ][0]

    def _accept(self, ctx: Context, found: Found) -> None:
        try:
            ctx.client("ec2").accept_vpc_peering_connection(VpcPeeringConnectionId=found.id)
        except botocore.exceptions.ClientError as exc:
            # A retried accept whose first answer was lost finds the peering accepted already.
            if error_code(exc) != "InvalidStateTransition" or self._read(ctx, found.id)["Status"]["Code"] not in (
                "provisioning",
                "active",
            ):
                raise
        found.state = "provisioning"

    @staticmethod
    def _set_options(ctx: Context, found: Found, allow_remote_dns: bool) -> None:
        """AllowDnsResolutionFromRemoteVpc on both sides; AWS accepts it only once the peering is active."""
        options = {"AllowDnsResolutionFromRemoteVpc": allow_remote_dns}
        ctx.client("ec2").modify_vpc_peering_connection_options(
            VpcPeeringConnectionId=found.id,
            RequesterPeeringConnectionOptions=options,
            AccepterPeeringConnectionOptions=options,
        )
        for side in ("Requester", "Accepter"):
            found.raw.setdefault(f"{side}VpcInfo", {}).setdefault("PeeringOptions", {}).update(options)

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
