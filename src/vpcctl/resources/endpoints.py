"""VPC endpoints: interface endpoints (PrivateLink) and gateway endpoints."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import is_not_found
from vpcctl.errors import AwsError, NotReady
from vpcctl.resources.base import Context, Found, Handler, Outcome, outcome
from vpcctl.resources.network import ec2_discover, immutable, tag_spec

GONE = ("deleted", "Deleted")


def service_name(region: str, service: str) -> str:
    """'ecr.api' -> 'com.amazonaws.<region>.ecr.api'; a full service name is kept."""
    return service if service.startswith("com.amazonaws.") else f"com.amazonaws.{region}.{service}"


class VpcEndpointHandler(Handler):
    kind = "vpc_endpoint"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        found = ec2_discover(ctx, self.kind, "describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId")
        for f in found:
            f.attributes = _attributes(f.raw)
        return [f for f in found if not self.is_gone(f)]

    def is_gone(self, found: Found) -> bool:
        return found.state in GONE

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.VpcEndpoint, found: Found | None) -> Outcome:
        name = service_name(ctx.region, spec.service)
        wanted = {
            "SubnetIds": set(ctx.ids_of(spec.subnets)),
            "SecurityGroupIds": set(ctx.ids_of(spec.security_groups)),
            "RouteTableIds": set(ctx.ids_of(spec.route_tables)),
        }
        interface = spec.type == "interface"
        if found is None:
            params: dict[str, Any] = {
                "VpcEndpointType": "Interface" if interface else "Gateway",
                "VpcId": ctx.id_of(spec.vpc),
                "ServiceName": name,
                "TagSpecifications": tag_spec(ctx, "vpc-endpoint", resource.id),
            }
            if interface:
                params.update(
                    SubnetIds=sorted(wanted["SubnetIds"]),
                    SecurityGroupIds=sorted(wanted["SecurityGroupIds"]),
                    PrivateDnsEnabled=spec.private_dns,
                )
            else:
                params["RouteTableIds"] = sorted(wanted["RouteTableIds"])
            endpoint = ctx.create("ec2", "CreateVpcEndpoint", **params)["VpcEndpoint"]
            found = Found(
                self.kind,
                resource.id,
                endpoint["VpcEndpointId"],
                endpoint.get("State", ""),
                _attributes(endpoint),
                endpoint,
            )
            return outcome(True, found, [])
        if found.raw["ServiceName"] != name:
            raise immutable(resource.id, "service", found.raw["ServiceName"], name)
        return outcome(False, found, self._converge(ctx, found, spec, wanted, interface))

    def _converge(
        self, ctx: Context, found: Found, spec: model.VpcEndpoint, wanted: dict[str, set[str]], interface: bool
    ) -> list[str]:
        have = {
            "SubnetIds": set(found.raw.get("SubnetIds") or []),
            "SecurityGroupIds": {g["GroupId"] for g in found.raw.get("Groups") or []},
            "RouteTableIds": set(found.raw.get("RouteTableIds") or []),
        }
        keys = ("SubnetIds", "SecurityGroupIds") if interface else ("RouteTableIds",)
        params: dict[str, Any] = {}
        changes = []
        for key in keys:
            add, remove = wanted[key] - have[key], have[key] - wanted[key]
            if add:
                params[f"Add{key}"] = sorted(add)
                changes += [f"+{x}" for x in sorted(add)]
            if remove:
                params[f"Remove{key}"] = sorted(remove)
                changes += [f"-{x}" for x in sorted(remove)]
        if interface and bool(found.raw.get("PrivateDnsEnabled")) != spec.private_dns:
            params["PrivateDnsEnabled"] = spec.private_dns
            changes.append(f"private_dns={str(spec.private_dns).lower()}")
        if params:
            ctx.client("ec2").modify_vpc_endpoint(VpcEndpointId=found.id, **params)
        return changes

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """No botocore waiter covers endpoints: poll until available (failed/rejected end the wait)."""
        ec2 = ctx.client("ec2")
        latest = {"raw": found.raw}

        def check() -> tuple[bool, str]:
            endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[found.id])["VpcEndpoints"][0]
            latest["raw"] = endpoint
            state = endpoint.get("State", "")
            if state.lower() in ("failed", "rejected", "expired"):
                reason = (endpoint.get("LastError") or {}).get("Message", "")
                raise NotReady(f"endpoint {found.id} is {state}: {reason}".rstrip(": "))
            return state.lower() == "available", state

        if found.state.lower() != "available":
            ctx.poll(resource.id, "endpoint", check)
            found = Found(
                self.kind, resource.id, found.id, "available", _attributes(latest["raw"]), latest["raw"], found.tags
            )
        return found

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

        def gone() -> tuple[bool, str]:
            # Its network interfaces stay in the subnets until the endpoint is really gone.
            try:
                listed = ec2.describe_vpc_endpoints(VpcEndpointIds=[found.id])["VpcEndpoints"]
            except botocore.exceptions.ClientError as exc:
                if is_not_found(exc):
                    return True, "gone"
                raise
            state = listed[0].get("State", "") if listed else "deleted"
            return state.lower() == "deleted", state

        ctx.poll(found.logical_id, "endpoint", gone, timeout=ctx.delete_timeout)
        return True


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    entries = raw.get("DnsEntries") or []
    first = entries[0] if entries else {}
    return {"dns_name": first.get("DnsName", ""), "zone_id": first.get("HostedZoneId", "")}
