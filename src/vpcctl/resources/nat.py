"""Elastic IPs and NAT gateways: the way out to the internet for private subnets.

A NAT gateway holds its Elastic IP until it is deleted, and AWS refuses to release
an address a NAT gateway still uses: teardown deletes the NAT gateway, waits until
it is `deleted`, and only then releases the address (the NAT refers to the address,
so the teardown order says so).
"""

from __future__ import annotations

from typing import Any

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, absent_ok
from vpcctl.resources.kit import Change
from vpcctl.resources.network import Ec2Handler, ec2_discover, tag_spec

NAT_GONE = ("deleted", "deleting", "failed")


# ----------------------------------------------------------------- elastic ip


class ElasticIpHandler(Ec2Handler):
    kind = "elastic_ip"
    # AllocateAddress tags it (TagSpecifications). The authorization reference names the type
    # elastic-ip; Shield's API reference writes an address's ARN with eip-allocation: either counts.
    tagged_as = ("ec2:elastic-ip", "ec2:eip-allocation")

    def discover(self, ctx: Context) -> list[Found]:
        # DescribeAddresses is not paginated: one filtered call returns them all.
        addresses = kit.listed(
            ctx, "ec2", "describe_addresses", "Addresses", Filters=tagging.ec2_filter(ctx.deployment)
        )
        return kit.owned(ctx, addresses, kit.inline("AllocationId"), "AllocationId", self._found)

    def diff(self, ctx: Context, resource: model.Resource, spec: model.ElasticIp, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, domain="vpc")]
        return kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.ElasticIp, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            address = ctx.client("ec2").allocate_address(
                Domain="vpc", TagSpecifications=tag_spec(ctx, "elastic-ip", resource.id)
            )
            return self._found(resource.id, address, ctx.tags(resource.id))
        self.write_tags(ctx, found, changes)
        return found

    def _found(self, lid: str, address: dict[str, Any], tags: dict[str, str]) -> Found:
        used_by = address.get("NetworkInterfaceId") or address.get("InstanceId")
        state = f"{address['PublicIp']}, {'in use' if used_by else 'free'}"
        return Found(self.kind, lid, address["AllocationId"], state, {"public_ip": address["PublicIp"]}, address, tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        return absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id,
                lambda: ec2.release_address(AllocationId=found.id),
                lambda: nat_gateways_using(ctx, found.id),
            )
        )


def nat_gateways_using(ctx: Context, allocation_id: str) -> list[str]:
    """NAT gateways (not yet deleted) that hold this Elastic IP."""
    return [
        f"{nat['NatGatewayId']} (NAT gateway, {nat['State']})"
        for nat in kit.listed(ctx, "ec2", "describe_nat_gateways", "NatGateways")
        if nat["State"] != "deleted"
        and any(a.get("AllocationId") == allocation_id for a in nat.get("NatGatewayAddresses") or [])
    ]


# ---------------------------------------------------------------- nat gateway


class NatGatewayHandler(Ec2Handler):
    kind = "nat_gateway"
    tagged_as = ("ec2:natgateway",)

    def discover(self, ctx: Context) -> list[Found]:
        # DescribeNatGateways names its filter parameter `Filter`, not `Filters`.
        found = ec2_discover(ctx, self.kind, "describe_nat_gateways", "NatGateways", "NatGatewayId", "Filter")
        for f in found:
            f.attributes = _attributes(f.raw)
        # AWS lists a deleted NAT gateway for about an hour: only live ones count.
        return [f for f in found if not self.is_gone(f)]

    def is_gone(self, found: Found) -> bool:
        return found.state in NAT_GONE

    def diff(self, ctx: Context, resource: model.Resource, spec: model.NatGateway, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec)]
        allocation = ctx.id_of(spec.elastic_ip) if spec.elastic_ip else None
        have_allocation = next((a.get("AllocationId") for a in found.raw.get("NatGatewayAddresses") or []), None)
        changes = kit.replaced("subnet", found.raw["SubnetId"], ctx.id_of(spec.subnet))
        changes += kit.replaced("elastic_ip", have_allocation, allocation)
        changes += kit.replaced(
            "connectivity_type", found.raw.get("ConnectivityType", "public"), spec.connectivity_type
        )
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.NatGateway, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is not None:
            self.write_tags(ctx, found, changes)
            return found
        params: dict[str, Any] = {
            "SubnetId": ctx.id_of(spec.subnet),
            "ConnectivityType": spec.connectivity_type,
            "TagSpecifications": tag_spec(ctx, "natgateway", resource.id),
        }
        if spec.elastic_ip:
            params["AllocationId"] = ctx.id_of(spec.elastic_ip)
        nat = ctx.create("ec2", "CreateNatGateway", **params)["NatGateway"]
        return Found(self.kind, resource.id, nat["NatGatewayId"], nat.get("State", ""), _attributes(nat), nat)

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        if found.state == "available":
            return found
        if found.state == "failed":
            raise NotReady(f"NAT gateway {found.id} failed: {found.raw.get('FailureMessage', '')}")
        ctx.progress(resource.id, f"NAT gateway {found.state or 'pending'}")
        ctx.wait_for("ec2", "nat_gateway_available", NatGatewayIds=[found.id])
        nat = ctx.client("ec2").describe_nat_gateways(NatGatewayIds=[found.id])["NatGateways"][0]
        return Found(self.kind, resource.id, found.id, nat["State"], _attributes(nat), nat, found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        current = ec2.describe_nat_gateways(Filter=[{"Name": "nat-gateway-id", "Values": [found.id]}])["NatGateways"]
        if not current or current[0]["State"] == "deleted":
            return False  # AWS lists a deleted NAT gateway for a while
        if current[0]["State"] != "deleting":
            absent_ok(lambda: ec2.delete_nat_gateway(NatGatewayId=found.id))
        # Its Elastic IP and its network interface in the subnet stay taken until it is deleted.
        ctx.progress(found.logical_id, "waiting for the NAT gateway to be deleted")
        ctx.wait_for("ec2", "nat_gateway_deleted", NatGatewayIds=[found.id])
        return True


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    addresses = raw.get("NatGatewayAddresses") or [{}]
    return {"public_ip": addresses[0].get("PublicIp", ""), "private_ip": addresses[0].get("PrivateIp", "")}
