"""EC2 instances: web servers, bastions and clients of the scenarios."""

from __future__ import annotations

import base64
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import error_code
from vpcctl.aws import tags as tagging
from vpcctl.resources.base import Context, Found, Handler, Outcome, outcome
from vpcctl.resources.network import immutable, tag_spec

# AWS's public SSM parameter naming the latest Amazon Linux 2023 AMI of the region.
DEFAULT_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
GONE_STATES = {"shutting-down", "terminated"}


class InstanceHandler(Handler):
    kind = "instance"
    service = "ec2"

    def discover(self, ctx: Context) -> list[Found]:
        """One filtered describe; terminated instances are left out (AWS lists them for an hour)."""
        filters = [*tagging.ec2_filter(ctx.deployment), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        pages = ctx.client("ec2").get_paginator("describe_instances").paginate(Filters=filters)
        found = []
        for instance in (i for page in pages for r in page["Reservations"] for i in r["Instances"]):
            tags = tagging.to_dict(instance.get("Tags"))
            if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
                found.append(self._found(tags[tagging.LOGICAL_ID], instance, tags))
        return found

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

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.Instance, found: Found | None) -> Outcome:
        if found is None:
            return outcome(True, self._launch(ctx, resource, spec), [])
        self._check_immutable(ctx, resource.id, spec, found)
        changes = self._converge_groups(ctx, spec, found) + self._start_if_stopped(ctx, found)
        return outcome(False, found, changes)

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
        return self._found(resource.id, instance)

    def _check_immutable(self, ctx: Context, lid: str, spec: model.Instance, found: Found) -> None:
        raw = found.raw
        fields: list[tuple[str, Any, Any]] = [
            ("instance_type", raw.get("InstanceType"), spec.instance_type),
            ("subnet", raw.get("SubnetId"), ctx.id_of(spec.subnet)),
            ("key_name", raw.get("KeyName") or None, spec.key_name or None),
            ("associate_public_ip", bool(raw.get("PublicIpAddress")), spec.associate_public_ip),
        ]
        if spec.ami:  # without one, the instance keeps the AMI that was latest at launch
            fields.append(("ami", raw.get("ImageId"), spec.ami))
        for field, have, want in fields:
            if have != want and not (field == "associate_public_ip" and found.state != "running"):
                raise immutable(lid, field, have, want)
        have_data = user_data(ctx, found.id)
        if have_data != spec.user_data:
            raise immutable(lid, "user_data", "different", "what the scenario says")

    def _converge_groups(self, ctx: Context, spec: model.Instance, found: Found) -> list[str]:
        want = sorted(ctx.ids_of(spec.security_groups))
        if sorted(security_groups(found.raw)) == want:
            return []
        ctx.client("ec2").modify_instance_attribute(InstanceId=found.id, Groups=want)
        return ["security groups"]

    def _start_if_stopped(self, ctx: Context, found: Found) -> list[str]:
        if found.state not in ("stopping", "stopped"):
            return []
        if found.state == "stopping":
            ctx.wait_for("ec2", "instance_stopped", InstanceIds=[found.id])
        ctx.client("ec2").start_instances(InstanceIds=[found.id])
        found.state = "pending"
        return ["started"]

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
