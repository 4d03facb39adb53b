"""CloudWatch Logs log groups (for the awslogs driver of ECS tasks)."""

from __future__ import annotations

from vpcctl import model
from vpcctl.resources.base import Context, Found, Handler, Outcome, absent_ok, outcome


def group_prefix(deployment: str) -> str:
    return f"/vpcctl/{deployment}/"


class LogGroupHandler(Handler):
    kind = "log_group"
    service = "logs"

    def discover(self, ctx: Context) -> list[Found]:
        logs = ctx.client("logs")
        prefix = group_prefix(ctx.deployment)
        found = []
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            for group in page["logGroups"]:
                lid = group["logGroupName"].removeprefix(prefix)
                if "/" in lid:
                    continue
                retention = group.get("retentionInDays")
                found.append(
                    Found(
                        self.kind,
                        lid,
                        group["logGroupName"],
                        f"retention {retention}d" if retention else "retention forever",
                        {"name": group["logGroupName"], "arn": group.get("arn", "")},
                        group,
                    )
                )
        return found

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.LogGroup, found: Found | None) -> Outcome:
        logs = ctx.client("logs")
        name = group_prefix(ctx.deployment) + resource.id
        created = found is None
        if found is None:
            logs.create_log_group(logGroupName=name, tags=ctx.tags(resource.id, name))
            found = Found(self.kind, resource.id, name, "", {"name": name, "arn": ""}, {"logGroupName": name})
        changes = []
        if found.raw.get("retentionInDays") != spec.retention_days:
            logs.put_retention_policy(logGroupName=name, retentionInDays=spec.retention_days)
            changes.append(f"retention={spec.retention_days}d")
        found.state = f"retention {spec.retention_days}d"
        return outcome(created, found, [] if created else changes)

    def delete(self, ctx: Context, found: Found) -> bool:
        return absent_ok(lambda: ctx.client("logs").delete_log_group(logGroupName=found.id))
