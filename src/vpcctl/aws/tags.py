"""Ownership tags: how vpcctl finds what a deployment owns without a state file."""

from __future__ import annotations

import re
from typing import Any

DEPLOYMENT = "vpcctl:deployment"
SCENARIO = "vpcctl:scenario"
LOGICAL_ID = "vpcctl:logical-id"
# On global resources (IAM roles): the region of the deployment that owns them.
REGION = "vpcctl:region"
# On task definitions: a digest of what vpcctl registered (a revision never changes), so an
# unchanged one is known from its tags without reading its containers.
DEFINITION = "vpcctl:definition"


def ownership(deployment: str, scenario: str, logical_id: str, name: str) -> dict[str, str]:
    return {DEPLOYMENT: deployment, SCENARIO: scenario, LOGICAL_ID: logical_id, "Name": name}


def as_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """EC2, ELB, IAM style: [{'Key': k, 'Value': v}]."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def as_lower_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """ECS style: [{'key': k, 'value': v}]."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def keys_only(keys: list[str]) -> list[dict[str, str]]:
    """EC2 style, for tags to remove whatever their value: [{'Key': k}]."""
    return [{"Key": k} for k in keys]


def to_dict(tags: list[dict[str, Any]] | None) -> dict[str, str]:
    out = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        value = tag.get("Value", tag.get("value", ""))
        if key is not None:
            out[str(key)] = str(value)
    return out


def ec2_filter(deployment: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{DEPLOYMENT}", "Values": [deployment]}]


def owned_by(tags: dict[str, str], deployment: str) -> bool:
    return tags.get(DEPLOYMENT) == deployment


def arn_type(arn: str, default: str = "") -> str:
    """The service and resource type an ARN embeds, as GetResources' ResourceTypeFilters take
    them: 'ec2:subnet', 'ecs:task-definition', 'elasticloadbalancing:loadbalancer',
    'logs:log-group', 'apigateway:restapis' (API Gateway's resource part is a path:
    '/restapis/<id>'); `default` for an ARN whose resource part is only a name (an S3 bucket's)."""
    parts = arn.split(":", 5)
    resource = parts[5].removeprefix("/") if len(parts) == 6 else ""
    if not re.search("[/:]", resource):
        return default
    return f"{parts[2]}:{re.split('[/:]', resource, maxsplit=1)[0]}"
