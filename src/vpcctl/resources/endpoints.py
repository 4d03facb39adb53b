"""VPC endpoints: interface endpoints (PrivateLink) and gateway endpoints."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import is_not_found
from vpcctl.errors import AwsError
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found
from vpcctl.resources.kit import Change
from vpcctl.resources.network import Ec2Handler, ec2_discover, tag_spec

GONE = ("deleted", "Deleted")


def service_name(region: str, service: str) -> str:
    """'ecr.api' -> 'com.amazonaws.<region>.ecr.api'; a full service name is kept."""
    return service if service.startswith("com.amazonaws.") else f"com.amazonaws.{region}.{service}"


KEYS = {"subnets": "SubnetIds", "security_groups": "SecurityGroupIds", "route_tables": "RouteTableIds"}


class VpcEndpointHandler(Ec2Handler):
    kind = "vpc_endpoint"
    # CreateVpcEndpoint tags it (TagSpecifications): the index holds it from its create on.
    tagged_as = ("ec2:vpc-endpoint",)

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId")
        for f in found:
            f.attributes = _attributes(f.raw)
        return [f for f in found if not self.is_gone(f)]

    def is_gone(self, found: Found) -> bool:
        return found.state in GONE

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.VpcEndpoint, found: Found | None
    ) -> list[Change]:
        name = service_name(ctx.region, spec.service)
        if found is None:
            return [kit.create(ctx, spec, service=name)]
        changes = kit.replaced("service", found.raw["ServiceName"], name)
        interface = spec.type == "interface"
        have = {
            "subnets": found.raw.get("SubnetIds") or [],
            "security_groups": [g["GroupId"] for g in found.raw.get("Groups") or []],
            "route_tables": found.raw.get("RouteTableIds") or [],
        }
        for field in ("subnets", "security_groups") if interface else ("route_tables",):
            want = ctx.ids_of(getattr(spec, field))
            changes += kit.members(field.removesuffix("s"), have[field], want, ctx.logical_id_of)
        if interface:
            changes += kit.updated("private_dns", bool(found.raw.get("PrivateDnsEnabled")), spec.private_dns)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.VpcEndpoint,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        if found is None:
            return self._create(ctx, resource, spec)
        params: dict[str, Any] = {}
        for field, key in KEYS.items():
            attribute = field.removesuffix("s")
            if kit.added(changes, attribute):
                params[f"Add{key}"] = kit.added(changes, attribute)
            if kit.removed(changes, attribute):
                params[f"Remove{key}"] = kit.removed(changes, attribute)
        if kit.named(changes, "private_dns"):
            params["PrivateDnsEnabled"] = spec.private_dns
        if params:
            ctx.client("ec2").modify_vpc_endpoint(VpcEndpointId=found.id, **params)
        self.write_tags(ctx, found, changes)
        return found

    def _create(self, ctx: Context, resource: model.Resource, spec: model.VpcEndpoint) -> Found:
        interface = spec.type == "interface"
        params: dict[str, Any] = {
            "VpcEndpointType": "Interface" if interface else "Gateway",
            "VpcId": ctx.id_of(spec.vpc),
            "ServiceName": service_name(ctx.region, spec.service),
            "TagSpecifications": tag_spec(ctx, "vpc-endpoint", resource.id),
        }
        if interface:
            params.update(
                SubnetIds=sorted(ctx.ids_of(spec.subnets)),
                SecurityGroupIds=sorted(ctx.ids_of(spec.security_groups)),
                PrivateDnsEnabled=spec.private_dns,
            )
        else:
            params["RouteTableIds"] = sorted(ctx.ids_of(spec.route_tables))
        endpoint = ctx.create("ec2", "CreateVpcEndpoint", **params)["VpcEndpoint"]
        return Found(
            self.kind,
            resource.id,
            endpoint["VpcEndpointId"],
            endpoint.get("State", ""),
            _attributes(endpoint),
            endpoint,
        )

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """No botocore waiter covers endpoints: poll until available (failed/rejected end the wait)."""
        if found.state.lower() == "available":
            return found
        endpoint = kit.wait_status(
            ctx,
            resource.id,
            "endpoint",
            lambda: ctx.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[found.id])["VpcEndpoints"][0],
            lambda e: str(e.get("State", "")).lower(),
            ready={"available"},
            failed={"failed", "rejected", "expired"},
            reason=lambda e: (e.get("LastError") or {}).get("Message", ""),
        )
        return Found(self.kind, resource.id, found.id, "available", _attributes(endpoint), endpoint, found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        try:
            current = ec2.describe_vpc_endpoints(VpcEndpointIds=[found.id])["VpcEndpoints"]
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return False
            raise
        if not current or current[0].get("State") in GONE:
            return False  # AWS lists a deleted endpoint for a while
        result = ec2.delete_vpc_endpoints(VpcEndpointIds=[found.id])
        for failure in result.get("Unsuccessful") or []:
            error = failure.get("Error", {})
            if "NotFound" in error.get("Code", ""):
                return False
            raise AwsError(error.get("Code", "Error"), error.get("Message", ""), "DeleteVpcEndpoints")

        # Its network interfaces stay in the subnets until the endpoint is really gone.
        kit.wait_gone(
            ctx,
            found.logical_id,
            "endpoint",
            lambda: next(iter(ec2.describe_vpc_endpoints(VpcEndpointIds=[found.id])["VpcEndpoints"]), None),
            lambda e: str(e.get("State", "")),
            gone={"deleted"},
        )
        return True


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    entries = raw.get("DnsEntries") or []
    first = entries[0] if entries else {}
    return {"dns_name": first.get("DnsName", ""), "zone_id": first.get("HostedZoneId", "")}
