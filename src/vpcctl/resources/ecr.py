"""ECR pull-through cache rules: public images served from this account's private registry.

A task whose only way out is the ECR interface endpoints can pull only from the private
registry of its region. A pull-through cache rule makes a public image available there:
`<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<upstream repository>:<tag>`; the first
pull creates the cache's repository under the prefix.

Rules take no tags. A deployment's rules are its prefixes, `<deployment>/<logical id>`
(deployment names hold no '/', so no other deployment's prefix reads the same); the
repositories the cache created under a prefix go with its rule.
"""

from __future__ import annotations

from typing import Any

from vpcctl import model
from vpcctl.errors import BadInput
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.kit import Change

PREFIX_LIMIT = 30  # ecrRepositoryPrefix: 2-30 characters


def cache_prefix(deployment: str, logical_id: str) -> str:
    prefix = f"{deployment}/{logical_id.lower()}"
    if len(prefix) > PREFIX_LIMIT:
        raise BadInput(
            f"{logical_id}: the ECR repository prefix '{prefix}' is longer than {PREFIX_LIMIT} characters",
            hint="use a shorter deployment name (--name) or logical id",
        )
    return prefix


class EcrPullThroughCacheHandler(Handler):
    kind = "ecr_pull_through_cache"
    service = "ecr"

    def discover(self, ctx: Context) -> list[Found]:
        pages = ctx.client("ecr").get_paginator("describe_pull_through_cache_rules").paginate()
        ids = {lid.lower(): lid for lid in (ctx.scenario.resources if ctx.scenario else {})}
        found = []
        for rule in (r for page in pages for r in page["pullThroughCacheRules"]):
            owner, _, name = rule["ecrRepositoryPrefix"].partition("/")
            if owner == ctx.deployment and name and "/" not in name:
                found.append(self._found(ctx, ids.get(name, name), rule))
        return found

    def _found(self, ctx: Context, lid: str, rule: dict) -> Found:
        prefix, account = rule["ecrRepositoryPrefix"], rule["registryId"]
        attributes = {
            "prefix": prefix,
            "uri": f"{account}.dkr.ecr.{ctx.region}.amazonaws.com/{prefix}",
            "repositories": f"arn:aws:ecr:{ctx.region}:{account}:repository/{prefix}/*",
        }
        return Found(self.kind, lid, prefix, f"from {rule['upstreamRegistryUrl']}", attributes, rule)

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"prefix": cache_prefix(ctx.deployment, resource.id)}

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.EcrPullThroughCache, found: Found | None
    ) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, prefix=cache_prefix(ctx.deployment, resource.id))]
        # A rule's upstream cannot change: a new upstream is a new rule.
        return kit.replaced("upstream", found.raw["upstreamRegistryUrl"], spec.upstream)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.EcrPullThroughCache,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        if found is not None:
            return found  # rules take no tags and have nothing else to change
        rule = ctx.client("ecr").create_pull_through_cache_rule(
            ecrRepositoryPrefix=cache_prefix(ctx.deployment, resource.id), upstreamRegistryUrl=spec.upstream
        )
        return self._found(ctx, resource.id, rule)

    def delete(self, ctx: Context, found: Found) -> bool:
        ecr = ctx.client("ecr")
        cached = [r["repositoryName"] for r in kit.listed(ctx, "ecr", "describe_repositories", "repositories")]
        for name in (n for n in cached if n.startswith(f"{found.id}/")):
            absent_ok(lambda n=name: ecr.delete_repository(repositoryName=n, force=True))
        return absent_ok(lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=found.id))
