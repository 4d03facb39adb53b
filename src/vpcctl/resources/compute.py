"""EC2 instances: web servers, bastions and clients of the scenarios."""

from __future__ import annotations

import base64
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import error_code
from vpcctl.aws import tags as tagging
from vpcctl.errors import VpcctlError
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found
from vpcctl.resources.kit import Change
from vpcctl.resources.network import Ec2Handler, tag_spec

# AWS's public SSM parameter naming the latest Amazon Linux 2023 AMI of the region.
DEFAULT_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
GONE_STATES = {"shutting-down", "terminated"}


class InstanceHandler(Ec2Handler):
    kind = "instance"
    tagged_as = ("ec2:instance",)

    def discover(self, ctx: Context) -> list[Found]:
        """One filtered describe; terminated instances are left out (AWS lists them for an hour)."""
        filters = [*tagging.ec2_filter(ctx.deployment), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        reservations = kit.listed(ctx, "ec2", "describe_instances", "Reservations", Filters=filters)
        instances = [i for r in reservations for i in r["Instances"]]
        return kit.owned(ctx, instances, kit.inline("InstanceId"), "InstanceId", self._found)

    def _found(self, lid: str, instance: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        return Found(
            self.kind,
            lid,
            instance["InstanceId"],
            instance["State"]["Name"],
            {
                "private_ip": instance.get("PrivateIpAddress", ""),
                "public_ip": instance.get("PublicIpAddress", ""),
            },
            instance,
            tags or {},
        )

    def diff(self, ctx: Context, resource: model.Resource, spec: model.Instance, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec)]
        raw = found.raw
        changes = kit.replaced("instance_type", raw.get("InstanceType"), spec.instance_type)
        changes += kit.replaced("subnet", ctx.logical_id_of(raw.get("SubnetId", "")), spec.subnet)
        changes += kit.replaced("key_name", raw.get("KeyName") or None, spec.key_name or None)
        if found.state == "running":  # AWS assigns a public IP only to a running instance
            changes += kit.replaced("associate_public_ip", bool(raw.get("PublicIpAddress")), spec.associate_public_ip)
        if spec.ami:  # without one, the instance keeps the AMI that was latest at launch
            changes += kit.replaced("ami", raw.get("ImageId"), spec.ami)
        if user_data(ctx, found.id) != spec.user_data:
            changes.append(Change("user_data", "different", "what the scenario says", kit.REPLACE))
        have_groups = security_groups(raw)
        changes += kit.members("security_group", have_groups, ctx.ids_of(spec.security_groups), ctx.logical_id_of)
        if found.state in ("stopping", "stopped"):
            changes.append(Change("state", found.state, "running"))
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.Instance, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            return self._launch(ctx, resource, spec)
        ec2 = ctx.client("ec2")
        if any(c.attribute == "security_group" for c in changes):
            ec2.modify_instance_attribute(InstanceId=found.id, Groups=sorted(ctx.ids_of(spec.security_groups)))
        if kit.named(changes, "state"):
            if found.state == "stopping":
                raise VpcctlError(
                    f"{resource.id}: instance {found.id} is stopping", hint="run `up` again once it has stopped"
                )
            ec2.start_instances(InstanceIds=[found.id])
            found.state = "pending"
        self.write_tags(ctx, found, changes)
        return found

    def _launch(self, ctx: Context, resource: model.Resource, spec: model.Instance) -> Found:
        params: dict[str, Any] = {
            "ImageId": spec.ami or default_ami(ctx),
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "NetworkInterfaces": [
                {
                    "DeviceIndex": 0,
                    "SubnetId": ctx.id_of(spec.subnet),
                    "Groups": ctx.ids_of(spec.security_groups),
                    "AssociatePublicIpAddress": spec.associate_public_ip,
                    # AWS's default for an interface made at launch; moto keeps it otherwise.
                    "DeleteOnTermination": True,
                }
            ],
            "TagSpecifications": tag_spec(ctx, "instance", resource.id) + tag_spec(ctx, "volume", resource.id),
        }
        if spec.user_data:
            params["UserData"] = spec.user_data  # botocore encodes it in base64
        if spec.key_name:
            params["KeyName"] = spec.key_name
        instance = ctx.create("ec2", "RunInstances", **params)["Instances"][0]
        return self._found(resource.id, instance, ctx.tags(resource.id))

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Running, with its public IP (AWS assigns it only once the instance runs)."""
        if found.state != "running":
            ctx.progress(resource.id, f"instance {found.state}")
            ctx.wait_for("ec2", "instance_running", InstanceIds=[found.id])
        reservations = ctx.client("ec2").describe_instances(InstanceIds=[found.id])["Reservations"]
        return self._found(resource.id, reservations[0]["Instances"][0], found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        ec2 = ctx.client("ec2")
        # TerminateInstances succeeds again for a terminated instance: ask first.
        if self._state(ctx, found.id) in GONE_STATES | {None}:
            return False
        ec2.terminate_instances(InstanceIds=[found.id])
        ctx.progress(found.logical_id, "waiting for the instance to terminate")
        ctx.wait_for("ec2", "instance_terminated", timeout=ctx.delete_timeout, InstanceIds=[found.id])
        return True

    @staticmethod
    def _state(ctx: Context, instance_id: str) -> str | None:
        try:
            reservations = ctx.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "InvalidInstanceID.NotFound":
                return None
            raise
        instances = [i for r in reservations for i in r["Instances"]]
        return str(instances[0]["State"]["Name"]) if instances else None

    def is_gone(self, found: Found) -> bool:
        return found.state in GONE_STATES


def default_ami(ctx: Context) -> str:
    return str(ctx.client("ssm").get_parameter(Name=DEFAULT_AMI_PARAMETER)["Parameter"]["Value"])


def user_data(ctx: Context, instance_id: str) -> str:
    answer = ctx.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    encoded = (answer.get("UserData") or {}).get("Value")
    return base64.b64decode(encoded).decode() if encoded else ""


def security_groups(instance: dict[str, Any]) -> list[str]:
    """The groups of the instance's primary network interface."""
    for eni in instance.get("NetworkInterfaces") or []:
        if eni.get("Attachment", {}).get("DeviceIndex", 0) == 0:
            return [g["GroupId"] for g in eni.get("Groups") or []]
    return [g["GroupId"] for g in instance.get("SecurityGroups") or []]
