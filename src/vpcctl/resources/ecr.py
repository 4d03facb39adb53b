"""ECR pull-through cache rules: public images served from this account's private registry.

A task whose only way out is the ECR interface endpoints can pull only from the private
registry of its region. A pull-through cache rule makes a public image available there:
`<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<upstream repository>:<tag>`; the first
pull creates the cache's repository under the prefix.

The first pull of an image through a rule from a VPC that reaches ECR only through its
interface endpoints needs a route to the internet from that VPC; later pulls come from the
cache (ECR user guide, "Using pull through cache rules", considerations). So, unless `warm`
is false, `up` pulls each image the scenario's tasks name through the rule once, from where
vpcctl runs, and waits until the cache lists it: the tasks then find it cached.

Rules take no tags. A deployment's rules are its prefixes, `<deployment>/<logical id>`
(deployment names hold no '/', so no other deployment's prefix reads the same); the
repositories the cache created under a prefix go with its rule.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from vpcctl import images, model
from vpcctl.aws import error_code, registry
from vpcctl.errors import BadInput
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.kit import Change

PREFIX_LIMIT = 30  # ecrRepositoryPrefix: 2-30 characters
CACHED = "cached image"


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
    # Read directly (no tagged_as): cache rules take no tags: the prefix names them.
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
        prefix = cache_prefix(ctx.deployment, resource.id)
        wanted = pulled_through(ctx.scenario, resource.id) if spec.warm else []
        if found is None:
            extra = {"images": wanted} if wanted else {}
            return [kit.create(ctx, spec, prefix=prefix, **extra), *kit.members(CACHED, [], wanted)]
        # A rule's upstream cannot change: a new upstream is a new rule.
        changes = kit.replaced("upstream", found.raw["upstreamRegistryUrl"], spec.upstream)
        if changes:
            return changes
        have = [ref for ref in wanted if is_cached(ctx.client("ecr"), prefix, ref)]
        return kit.members(CACHED, have, wanted)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.EcrPullThroughCache,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        if found is None:
            rule = ctx.client("ecr").create_pull_through_cache_rule(
                ecrRepositoryPrefix=cache_prefix(ctx.deployment, resource.id), upstreamRegistryUrl=spec.upstream
            )
            found = self._found(ctx, resource.id, rule)
        # Rules take no tags and have nothing else to change; what is left is warming the cache.
        for reference in kit.added(changes, CACHED):
            warm(ctx, resource.id, found.id, reference)
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        ecr = ctx.client("ecr")
        cached = [r["repositoryName"] for r in kit.listed(ctx, "ecr", "describe_repositories", "repositories")]
        for name in (n for n in cached if n.startswith(f"{found.id}/")):
            absent_ok(lambda n=name: ecr.delete_repository(repositoryName=n, force=True))
        return absent_ok(lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=found.id))


# ------------------------------------------------------------------ the cache


def pulled_through(scenario: model.Scenario | None, logical_id: str) -> list[str]:
    """`<repository>:<tag>` of each image the scenario's containers name as `${<rule>.uri}/...`."""
    head = f"${{{logical_id}.uri}}/"
    refs = {
        container.image.removeprefix(head)
        for res in (scenario.resources.values() if scenario else ())
        if res.kind == "task_definition"
        for container in res.spec.containers
        if container.image.startswith(head) and not model.RUNTIME.search(container.image.removeprefix(head))
    }
    return sorted(refs)


def _image_id(reference: str) -> tuple[str, dict[str, str]]:
    repository, tag = images.split_reference(reference)
    return repository, {"imageDigest": tag} if tag.startswith("sha256:") else {"imageTag": tag}


def is_cached(ecr: Any, prefix: str, reference: str) -> bool:
    """Whether the cache's repository lists the image (DescribeImages)."""
    repository, image_id = _image_id(reference)
    try:
        details = ecr.describe_images(repositoryName=f"{prefix}/{repository}", imageIds=[image_id])["imageDetails"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("RepositoryNotFoundException", "ImageNotFoundException"):
            return False
        raise
    return bool(details)


def warm(ctx: Context, logical_id: str, prefix: str, reference: str) -> None:
    """Pull the image through the rule once (a manifest GET on the registry API, from where
    vpcctl runs), then wait until the cache lists it."""
    repository, tag = images.split_reference(reference)
    ecr = ctx.client("ecr")
    registry.pull_manifest(ecr, ctx.aws.endpoint_url, f"{prefix}/{repository}", tag)
    ctx.poll(
        logical_id,
        f"caching {reference}",
        lambda: (True, "cached") if is_cached(ecr, prefix, reference) else (False, "importing from upstream"),
    )


def cold_image(ctx: Context, image: str) -> str | None:
    """The prefix of the cache rule a private-ECR image is pulled through, when the cache
    does not hold the image yet; None for any other image, or a cached one."""
    found = images.registry_of(image)
    if not found.through_endpoints(ctx.region):
        return None
    pages = ctx.client("ecr").get_paginator("describe_pull_through_cache_rules").paginate()
    prefix = images.cache_prefix(
        found, [r["ecrRepositoryPrefix"] for page in pages for r in page["pullThroughCacheRules"]]
    )
    if prefix is None:
        return None
    reference = f"{found.repository.removeprefix(prefix.strip('/') + '/')}:{found.tag}"
    return None if is_cached(ctx.client("ecr"), prefix.strip("/"), reference) else prefix
