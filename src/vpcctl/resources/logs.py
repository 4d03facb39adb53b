"""CloudWatch Logs log groups (for the awslogs driver of ECS tasks).

A group is the deployment's only when it carries the deployment's ownership tags:
its name under `/vpcctl/<deployment>/` narrows the listing, the tags decide.
"""

from __future__ import annotations

from typing import Any

from vpcctl import model
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.kit import Change


def group_prefix(deployment: str) -> str:
    return f"/vpcctl/{deployment}/"


def group_arn(group: dict[str, Any]) -> str:
    """The group's ARN as the tag calls take it (DescribeLogGroups ends it with ':*')."""
    return str(group.get("arn", "")).removesuffix(":*")


class LogGroupHandler(Handler):
    kind = "log_group"
    tagged_as = ("logs:log-group",)
    reads_index = True
    service = "logs"

    def discover(self, ctx: Context) -> list[Found]:
        logs = ctx.client("logs")
        prefix = group_prefix(ctx.deployment)
        groups = kit.listed(ctx, "logs", "describe_log_groups", "logGroups", logGroupNamePrefix=prefix)
        for group in groups:
            group["resourceArn"] = group_arn(group)
        each = kit.each("resourceArn", lambda arn: logs.list_tags_for_resource(resourceArn=arn).get("tags") or {})
        tags = kit.indexed(ctx, "resourceArn", each)
        return kit.owned(ctx, groups, tags, "resourceArn", self._found)

    def _found(self, lid: str, group: dict[str, Any], tags: dict[str, str]) -> Found:
        retention = group.get("retentionInDays")
        state = f"retention {retention}d" if retention else "retention forever"
        name = group["logGroupName"]
        return Found(self.kind, lid, name, state, {"name": name, "arn": group.get("arn", "")}, group, tags)

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"name": group_prefix(ctx.deployment) + resource.id}

    def diff(self, ctx: Context, resource: model.Resource, spec: model.LogGroup, found: Found | None) -> list[Change]:
        name = group_prefix(ctx.deployment) + resource.id
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        changes = kit.updated("retention_days", found.raw.get("retentionInDays"), spec.retention_days)
        return changes + kit.own_tag_changes(ctx, resource.id, found, name)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.LogGroup, found: Found | None, changes: list[Change]
    ) -> Found:
        logs = ctx.client("logs")
        name = group_prefix(ctx.deployment) + resource.id
        if found is None:
            logs.create_log_group(logGroupName=name, tags=ctx.tags(resource.id, name))
            found = Found(self.kind, resource.id, name, "", {"name": name, "arn": ""}, {"logGroupName": name})
            changes = [Change("retention_days", None, spec.retention_days)]
        if kit.named(changes, "retention_days"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=spec.retention_days)
        kit.write_tags(ctx, "logs", group_arn(found.raw), changes)
        found.state = f"retention {spec.retention_days}d"
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        return absent_ok(lambda: ctx.client("logs").delete_log_group(logGroupName=found.id))
