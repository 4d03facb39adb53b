"""IAM roles, such as the ECS task execution role."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import is_not_found
from vpcctl.aws import tags as tagging
from vpcctl.errors import VpcctlError
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok, physical_name
from vpcctl.resources.kit import Change

INLINE_POLICY = "vpcctl"


def role_path(deployment: str, region: str = "") -> str:
    """Roles live under a path of their own, per deployment and region (IAM is global: one
    deployment name in two regions must never share a role), so one list call finds them."""
    return f"/vpcctl/{deployment}/{region}/" if region else f"/vpcctl/{deployment}/"


def role_prefix(ctx: Context) -> str:
    return f"{ctx.deployment}-{ctx.region}-"


def role_name(ctx: Context, logical_id: str) -> str:
    return physical_name(f"{ctx.deployment}-{ctx.region}", logical_id, 64)


def role_tags(ctx: Context, logical_id: str) -> dict[str, str]:
    """The ownership tags, and the region: IAM is global, a role belongs to one region's deployment."""
    return {**ctx.tags(logical_id, role_name(ctx, logical_id)), tagging.REGION: ctx.region}


def trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


class IamRoleHandler(Handler):
    kind = "iam_role"
    # Read directly (no tagged_as): the Resource Groups Tagging API does not cover IAM.
    service = "iam"

    def discover(self, ctx: Context) -> list[Found]:
        iam = ctx.client("iam")
        # The path narrows the listing (ListRoles carries no tags); the tags decide.
        roles = kit.listed(ctx, "iam", "list_roles", "Roles", PathPrefix=role_path(ctx.deployment, ctx.region))
        roles = [r for r in roles if r["Path"] == role_path(ctx.deployment, ctx.region)]
        tags = kit.each("RoleName", lambda name: tagging.to_dict(iam.list_role_tags(RoleName=name)["Tags"]))
        return kit.owned(ctx, roles, tags, "RoleName", self._found)

    def _found(self, lid: str, role: dict[str, Any], tags: dict[str, str]) -> Found:
        name = role["RoleName"]
        return Found(self.kind, lid, name, "exists", {"arn": role["Arn"], "name": name}, role, tags)

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"name": role_name(ctx, resource.id)}

    def diff(self, ctx: Context, resource: model.Resource, spec: model.IamRole, found: Found | None) -> list[Change]:
        name = role_name(ctx, resource.id)
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        iam = ctx.client("iam")
        policies = kit.listed(ctx, "iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name)
        attached = {p["PolicyArn"] for p in policies}
        changes = kit.members("policy", attached, spec.managed_policies)
        have = self._inline_policy(iam, name)
        want = json.loads(spec.policy) if spec.policy else None
        changes += kit.updated(f"inline policy {INLINE_POLICY}", have, want)
        return changes + kit.tag_changes(found.tags, role_tags(ctx, resource.id))

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.IamRole, found: Found | None, changes: list[Change]
    ) -> Found:
        iam = ctx.client("iam")
        name = role_name(ctx, resource.id)
        if found is None:
            role = iam.create_role(
                RoleName=name,
                Path=role_path(ctx.deployment, ctx.region),
                AssumeRolePolicyDocument=trust_policy(spec.service),
                Description=spec.description,
                Tags=tagging.as_list(role_tags(ctx, resource.id)),
            )["Role"]
            found = Found(self.kind, resource.id, name, "exists", {"arn": role["Arn"], "name": name}, role)
            changes = kit.members("policy", (), spec.managed_policies)
            changes += kit.updated(f"inline policy {INLINE_POLICY}", None, spec.policy)
        for arn in kit.added(changes, "policy"):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for arn in kit.removed(changes, "policy"):
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        if kit.named(changes, f"inline policy {INLINE_POLICY}"):
            if spec.policy:
                iam.put_role_policy(RoleName=name, PolicyName=INLINE_POLICY, PolicyDocument=spec.policy)
            else:
                iam.delete_role_policy(RoleName=name, PolicyName=INLINE_POLICY)
        kit.write_tags(ctx, "iam", name, changes)
        return found

    @staticmethod
    def _inline_policy(iam: Any, role: str) -> Any:
        """The role's inline policy INLINE_POLICY as a document (None when it has none)."""
        try:
            have = iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY)["PolicyDocument"]
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        if isinstance(have, str):  # AWS returns it URL-encoded; boto3 decodes it to a dict
            have = json.loads(urllib.parse.unquote(have))
        return have

    def delete(self, ctx: Context, found: Found) -> bool:
        iam = ctx.client("iam")
        name = found.id

        def remove() -> None:
            tags = tagging.to_dict(iam.list_role_tags(RoleName=name)["Tags"])
            if not tagging.owned_by(tags, ctx.deployment) or tags.get(tagging.REGION) != ctx.region:
                raise VpcctlError(
                    f"role {name} is not tagged for deployment {ctx.deployment} in {ctx.region}; left alone"
                )
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
                for policy in page["AttachedPolicies"]:
                    # Each on its own: a retried detach that meets NoSuchEntity has done its work.
                    absent_ok(lambda p=policy: iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"]))
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy in page["PolicyNames"]:
                    absent_ok(lambda p=policy: iam.delete_role_policy(RoleName=name, PolicyName=p))
            iam.delete_role(RoleName=name)

        return absent_ok(remove)
