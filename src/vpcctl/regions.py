"""Where deployments live: the deployments of a region (live resources only), across
regions, and the regions whose global resources name a deployment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vpcctl import deploy
from vpcctl.aws import Aws
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotHere
from vpcctl.resources import handler, kit
from vpcctl.resources.base import Context
from vpcctl.resources.iam import role_path


@dataclass
class Deployment:
    name: str
    scenario: str
    region: str
    resources: int
    kinds: dict[str, int] = field(default_factory=dict)


def global_regions(aws: Aws, deployment: str) -> dict[str, int]:
    """Region -> how many IAM roles of the deployment carry it (their path names the region)."""
    found: Counter[str] = Counter()
    for name, region in _role_paths(aws, role_path(deployment)):
        if name == deployment:
            found[region] += 1
    return dict(found)


def _role_paths(aws: Aws, prefix: str) -> list[tuple[str, str]]:
    """(deployment, region) of each vpcctl role under this path prefix: a role's path is
    /vpcctl/<deployment>/<region>/."""
    pages = aws.client("iam").get_paginator("list_roles").paginate(PathPrefix=prefix)
    parts = [role["Path"].strip("/").split("/") for page in pages for role in page["Roles"]]
    return [(p[1], p[2]) for p in parts if len(p) == 3]


def refuse_if_elsewhere(ctx: Context, parallelism: int = 8) -> None:
    """After a teardown that deleted nothing: when nothing of the deployment is in this region
    but global resources name another region, say where it lives (teardown's reads are reused)."""
    found = deploy.discover(ctx, deploy.owned_kinds(ctx), parallelism)
    if any(f for by_lid in found.values() for f in by_lid.values() if not handler(f.kind).is_gone(f)):
        return
    others = {r: n for r, n in global_regions(ctx.aws, ctx.deployment).items() if r != ctx.region}
    if others:
        where = sorted(others)
        raise NotHere(
            f"nothing of deployment '{ctx.deployment}' is in {ctx.region}; it lives in {', '.join(where)}",
            hint=f"nothing was deleted; to remove it: vpcctl --region {where[0]} teardown --name {ctx.deployment}",
        )


def names_in_region(aws: Aws, index: dict[str, dict[str, dict[str, str]]] | None = None) -> dict[str, str]:
    """Deployment name -> scenario, for every deployment with a tagged resource or a role here.
    Given an index, fills it with each deployment's tag index (ARN -> tags) from the same read."""
    names: dict[str, str] = {}
    pages = (
        aws.client("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(TagFilters=[{"Key": tagging.DEPLOYMENT}])
    )
    for page in pages:
        for mapping in page["ResourceTagMappingList"]:
            tags = tagging.to_dict(mapping.get("Tags"))
            if tags.get(tagging.DEPLOYMENT):
                names.setdefault(tags[tagging.DEPLOYMENT], tags.get(tagging.SCENARIO, ""))
                if index is not None:
                    index.setdefault(tags[tagging.DEPLOYMENT], {})[mapping["ResourceARN"].removesuffix(":*")] = tags
    for name, region in _role_paths(aws, "/vpcctl/"):
        if region == aws.region:
            names.setdefault(name, "")
    return names


def live(
    aws: Aws, name: str, scenario: str, parallelism: int = 8, index: dict[str, dict[str, str]] | None = None
) -> Deployment:
    """What the deployment has in the region now, as its kinds find it: no stopped task,
    inactive task definition or deleted NAT gateway is counted. `index`: its tag index, if read already."""
    ctx = deploy.context(aws, name, None, lambda event: None)
    if index is not None:  # one read of every type (names_in_region's): it holds every kind's items
        ctx.tag_index, ctx.index_types = index, kit.every_type(ctx)
    found = deploy.discover(ctx, deploy.owned_kinds(ctx), parallelism)
    kinds: Counter[str] = Counter()
    for kind, by_lid in found.items():
        for item in by_lid.values():
            if not handler(kind).is_gone(item):
                kinds[kind] += 1
                scenario = scenario or item.tags.get(tagging.SCENARIO, "")
    return Deployment(name, scenario, aws.region, sum(kinds.values()), dict(sorted(kinds.items())))


def deployments(aws: Aws, parallelism: int = 8) -> list[Deployment]:
    """The deployments of one region that still have a live resource there."""
    index: dict[str, dict[str, dict[str, str]]] = {}
    names = sorted(names_in_region(aws, index).items())
    out = [live(aws, name, scenario, parallelism, index.get(name, {})) for name, scenario in names]
    return [d for d in out if d.resources]


def enabled_regions(aws: Aws) -> list[str]:
    """The regions the account can use (DescribeRegions lists only enabled ones by default)."""
    return sorted(r["RegionName"] for r in aws.client("ec2").describe_regions()["Regions"])


def all_regions(aws: Aws, make: Callable[[str], Any], parallelism: int = 8) -> list[Deployment]:
    """Deployments in every enabled region, regions side by side."""
    regions = enabled_regions(aws)
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(regions)))) as pool:
        per_region = pool.map(lambda region: deployments(make(region), 1), regions)
        return [d for found in per_region for d in found]
