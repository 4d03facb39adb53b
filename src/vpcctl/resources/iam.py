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
from vpcctl.resources.base import Context, Found, Handler, Outcome, absent_ok, outcome, physical_name

INLINE_POLICY = "vpcctl"


def role_path(deployment: str, region: str = "") -> str:
    """Roles live under a path of their own, per deployment and region (IAM is global: one
    deployment name in two regions must never share a role), so one list call finds them."""
    return f"/vpcctl/{deployment}/{region}/" if region else f"/vpcctl/{deployment}/"


def role_prefix(ctx: Context) -> str:
    return f"{ctx.deployment}-{ctx.region}-"


def role_name(ctx: Context, logical_id: str) -> str:
    return physical_name(f"{ctx.deployment}-{ctx.region}", logical_id, 64)


def trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


class IamRoleHandler(Handler):
    kind = "iam_role"
    service = "iam"

    def discover(self, ctx: Context) -> list[Found]:
        iam = ctx.client("iam")
        found = []
        path = role_path(ctx.deployment, ctx.region)
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=path):
            for role in page["Roles"]:
                # list_roles carries no tags; the path and the name say whose role it is.
                prefix = role_prefix(ctx)
                if role["Path"] != path or not role["RoleName"].startswith(prefix):
                    continue
                lid = role["RoleName"].removeprefix(prefix)
                found.append(
                    Found(
                        self.kind, lid, role["RoleName"], "exists", {"arn": role["Arn"], "name": role["RoleName"]}, role
                    )
                )
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.IamRole, found: Found | None) -> Outcome:
        iam = ctx.client("iam")
        name = role_name(ctx, resource.id)
        created = found is None
        if found is None:
            role = iam.create_role(
                RoleName=name,
                Path=role_path(ctx.deployment, ctx.region),
                AssumeRolePolicyDocument=trust_policy(spec.service),
                Description=spec.description,
                Tags=tagging.as_list({**ctx.tags(resource.id, name), tagging.REGION: ctx.region}),
            )["Role"]
            found = Found(self.kind, resource.id, name, "exists", {"arn": role["Arn"], "name": name}, role)
            attached: set[str] = set()
        else:
            pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
            attached = {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}
        changes = []
        for arn in sorted(set(spec.managed_policies) - attached):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            changes.append(f"+policy {arn.rsplit('/', 1)[-1]}")
        for arn in sorted(attached - set(spec.managed_policies)):
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
            changes.append(f"-policy {arn.rsplit('/', 1)[-1]}")
        changes += self._inline_policy(iam, name, spec.policy, created)
        return outcome(created, found, [] if created else changes)

    @staticmethod
    def _inline_policy(iam: Any, role: str, document: str | None, created: bool) -> list[str]:
        """Keep the role's inline policy INLINE_POLICY equal to the scenario's (or absent)."""
        have = None
        if not created:
            try:
                have = iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY)["PolicyDocument"]
            except botocore.exceptions.ClientError as exc:
                if not is_not_found(exc):
                    raise
        if isinstance(have, str):  # AWS returns it URL-encoded; boto3 decodes it to a dict
            have = json.loads(urllib.parse.unquote(have))
        if document is None:
            if have is None:
                return []
            iam.delete_role_policy(RoleName=role, PolicyName=INLINE_POLICY)
            return [f"-inline policy {INLINE_POLICY}"]
        if have == json.loads(document):
            return []
        iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=document)
        return [f"inline policy {INLINE_POLICY}"]

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
                    iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy in page["PolicyNames"]:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)

        return absent_ok(remove)
