"""Image registries in the sandbox: ECR pull-through cache rules (which moto lacks), and
whether a task's image can be pulled from where the task is.

The network decides whether a task reaches ECR at all (the network model, in `behaviour._start_failure`); this
decides what the pull finds: an image on a public registry needs a way to the internet
(the ECR endpoints serve only this account's private registry in the region); an image
under a pull-through cache rule's prefix is fetched through the rule; any other private
ECR image must be in a repository of the registry.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from typing import Any

from vpcctl import images

UPSTREAMS = {
    "public.ecr.aws": "ecr-public",
    "registry-1.docker.io": "docker-hub",
    "ghcr.io": "github-container-registry",
    "registry.gitlab.com": "gitlab-container-registry",
    "registry.k8s.io": "k8s",
    "quay.io": "quay",
}
PREFIX = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def install() -> None:
    _ecr_pull_through_cache_rules()


def cache_rules(ecr: Any) -> dict[str, dict[str, Any]]:
    return ecr.__dict__.setdefault("sandbox_cache_rules", {})


# ------------------------------------------------------------- the rules API


def _ecr_pull_through_cache_rules() -> None:
    from moto.core.exceptions import ServiceException
    from moto.ecr.responses import ECRResponse

    class RuleExists(ServiceException):
        code = "PullThroughCacheRuleAlreadyExistsException"

    class RuleNotFound(ServiceException):
        code = "PullThroughCacheRuleNotFoundException"

    class Unsupported(ServiceException):
        code = "UnsupportedUpstreamRegistryException"

    class Invalid(ServiceException):
        code = "InvalidParameterException"

    def create(self: Any) -> str:
        prefix, upstream = self._get_param("ecrRepositoryPrefix"), self._get_param("upstreamRegistryUrl")
        if not (2 <= len(prefix or "") <= 30 and PREFIX.match(prefix)):
            raise Invalid(f"Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: '{prefix}'")
        if upstream not in UPSTREAMS:
            raise Unsupported(f"The upstream registry URL '{upstream}' is not supported.")
        rules = cache_rules(self.ecr_backend)
        if prefix in rules:
            raise RuleExists("A pull through cache rule with these settings already exists for the private registry.")
        rules[prefix] = {
            "ecrRepositoryPrefix": prefix,
            "upstreamRegistryUrl": upstream,
            "upstreamRegistry": UPSTREAMS[upstream],
            "createdAt": time.time(),
            "registryId": self.current_account,
        }
        return json.dumps(rules[prefix])

    def describe(self: Any) -> str:
        rules = cache_rules(self.ecr_backend)
        wanted = self._get_param("ecrRepositoryPrefixes")
        if wanted:
            missing = [p for p in wanted if p not in rules]
            if missing:
                raise RuleNotFound(f"The pull through cache rule with prefix '{missing[0]}' does not exist.")
        return json.dumps({"pullThroughCacheRules": [r for p, r in rules.items() if not wanted or p in wanted]})

    def delete(self: Any) -> str:
        prefix = self._get_param("ecrRepositoryPrefix")
        rule = cache_rules(self.ecr_backend).pop(prefix, None)
        if rule is None:
            raise RuleNotFound(f"The pull through cache rule with prefix '{prefix}' does not exist.")
        return json.dumps(rule)

    ECRResponse.create_pull_through_cache_rule = create  # type: ignore[attr-defined]
    ECRResponse.describe_pull_through_cache_rules = describe  # type: ignore[attr-defined]
    ECRResponse.delete_pull_through_cache_rule = delete  # type: ignore[attr-defined]


# ----------------------------------------------------------------- pulling


def unreachable_registry(image: str, region: str, online: bool) -> str | None:
    """A task without a way to the internet cannot pull from a public registry (nor from
    another region's ECR): AWS's stop reason, naming the host it tried."""
    registry = images.registry_of(image)
    if online or registry.through_endpoints(region):
        return None
    return images.public_pull_failure(image, registry)


def missing_image(ecs: Any, definition: Any, image: str) -> str | None:
    """Once ECR is reachable: why the pull finds nothing, or None when it finds the image.
    Only this region's private registry is checked; public registries are assumed to hold it."""
    from moto.ecr.models import ecr_backends

    registry = images.registry_of(image)
    if not registry.through_endpoints(ecs.region_name):
        return None
    ecr = ecr_backends[ecs.account_id][ecs.region_name]
    if registry.repository in ecr.repositories:
        return None
    prefix = images.cache_prefix(registry, list(cache_rules(ecr)))
    if prefix is None:
        return (
            f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
            f"{image}: {image}: not found"
        )
    if not role_allows(ecs.account_id, getattr(definition, "execution_role_arn", None), images.FIRST_PULL_ACTIONS):
        return (
            f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
            f"{image}: pull through cache rule {prefix}: the execution role may not "
            f"{' and '.join(images.FIRST_PULL_ACTIONS)}: 403 Forbidden"
        )
    # The first pull creates the cache's repository; later pulls find it.
    ecr.create_repository(registry.repository, None, {}, {}, "MUTABLE", [])
    return None


def role_allows(account: str, role_arn: str | None, actions: tuple[str, ...]) -> bool:
    """Whether the role's policies (inline and attached) allow every action. Statements are
    read for Allow and their actions only: resources and conditions are not evaluated."""
    if not role_arn:
        return False
    from moto.iam.models import iam_backends

    iam = iam_backends[account]["aws"]
    role = next((r for r in iam.get_roles() if r.arn == role_arn), None)
    if role is None:
        return False
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    allowed: list[str] = []
    denied: list[str] = []
    for document in documents:
        statements = json.loads(document).get("Statement", []) if isinstance(document, str) else document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            listed = statement.get("Action", [])
            (allowed if statement.get("Effect") == "Allow" else denied).extend(
                [listed] if isinstance(listed, str) else listed
            )

    def matched(action: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    return all(matched(a, allowed) and not matched(a, denied) for a in actions)
