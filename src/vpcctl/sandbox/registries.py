"""Image registries in the sandbox: ECR pull-through cache rules (which moto lacks), the
registry API's manifest pull on this account's private registry, and whether a task's
image can be pulled from where the task is.

The network decides whether a task reaches ECR at all (the network model, in `behaviour._start_failure`); this
decides what the pull finds: an image on a public registry needs a way to the internet
(the ECR endpoints serve only this account's private registry in the region); an image
under a pull-through cache rule's prefix is served from the cache, and the first pull of it
(the cache does not hold it yet) fetches it from the upstream registry, which needs a way
to the internet from where the pull comes; any other private ECR image must be in a
repository of the registry.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

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


# The Docker Registry HTTP API of an account's private registry, by host.
REGISTRY_BASE = r"https?://\d{12}\.dkr\.ecr\.(.+)\.amazonaws\.com"
MANIFEST_URL = re.compile(
    r"^https?://(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?/v2/(.+)/manifests/([^/]+)$"
)
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def install() -> None:
    _ecr_pull_through_cache_rules()
    _registry_api()


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


# ------------------------------------------------------------ the registry API


def _registry_api() -> None:
    """Route `<account>.dkr.ecr.<region>.amazonaws.com/v2/...` to `serve_registry`: in-process
    (moto's request interception matches its URL patterns) and in the server, where a request
    through the endpoint override names the registry in its Host header and is signed with a
    Basic token rather than SigV4, from which moto's server cannot tell the service."""
    import moto.backend_index as backend_index
    from moto.ecr import urls
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if REGISTRY_BASE in urls.url_bases:
        return
    urls.url_bases.append(REGISTRY_BASE)
    urls.url_paths["{0}/v2/(?P<path>.+)$"] = serve_registry
    backend_index.backend_url_patterns.insert(0, ("ecr", re.compile(REGISTRY_BASE)))
    original = DomainDispatcherApplication.infer_service_region_host

    def infer(self: Any, environ: dict[str, Any], path: str) -> str | None:
        host = environ.get("HTTP_HOST", "")
        if path.startswith("/v2/") and re.match(REGISTRY_BASE, f"https://{host}"):
            return str(host)
        return original(self, environ, path)

    DomainDispatcherApplication.infer_service_region_host = infer  # type: ignore[method-assign]


def _registry_answer(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    """The registry API's error shape: `{"errors": [{"code", "message"}]}`."""
    body = json.dumps({"errors": [{"code": code, "message": message}]})
    return status, {"Content-Type": "application/json; charset=utf-8"}, body


def serve_registry(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """GET or HEAD of a manifest on this account's private registry, with GetAuthorizationToken's
    token as Basic authorization. An image under a cache rule's prefix that the cache does not
    hold yet is fetched from the upstream registry (the caller's way out is the caller's own)."""
    from moto.ecr.models import ecr_backends

    parts = urlsplit(full_url)
    match = MANIFEST_URL.match(f"{parts.scheme}://{parts.netloc}{parts.path}")
    if match is None:
        return _registry_answer(405, "UNSUPPORTED", "The operation is unsupported.")
    account, region, name, reference = match.groups()
    token = f"AWS:{account}-auth-token"  # what the emulator's GetAuthorizationToken hands out
    given = str(dict(headers).get("Authorization") or dict(headers).get("authorization") or "")
    if given != "Basic " + base64.b64encode(token.encode()).decode():
        return _registry_answer(401, "UNAUTHORIZED", "authentication required")
    from vpcctl.sandbox.behaviour import WORLD

    with WORLD.lock:  # the scheduler's pulls import into the same cache
        return _manifest(ecr_backends[account][region], request, parts.netloc, name, reference)


def _manifest(ecr: Any, request: Any, host: str, name: str, reference: str) -> tuple[int, dict[str, str], str]:
    image = cached_image(ecr, name, reference)
    if image is None:
        prefix = images.cache_prefix(images.registry_of(f"{host.split(':')[0]}/{name}"), list(cache_rules(ecr)))
        if prefix is None:
            if name not in ecr.repositories:
                return _registry_answer(404, "NAME_UNKNOWN", f"The repository with name '{name}' does not exist")
            return _registry_answer(404, "MANIFEST_UNKNOWN", f"Requested image not found: {name}:{reference}")
        image = import_upstream(ecr, prefix, name, reference)
    body = "" if getattr(request, "method", "GET") == "HEAD" else image.image_manifest
    return 200, {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": image.get_image_digest()}, body


def cached_image(ecr: Any, repository: str, reference: str) -> Any:
    """The image the repository holds under a tag or digest, or None."""
    held = ecr.repositories.get(repository)
    if held is None:
        return None
    for image in held.images:
        if reference in (image.image_tag, image.get_image_digest()) or reference in (image.image_tags or []):
            return image
    return None


def import_upstream(ecr: Any, prefix: str, repository: str, reference: str) -> Any:
    """The first pull through a rule: ECR creates the cache's repository (when missing) and
    imports the image from the upstream registry, which is assumed to hold it."""
    if repository not in ecr.repositories:
        ecr.create_repository(repository, None, {}, {}, "MUTABLE", [])
    upstream = cache_rules(ecr)[prefix]["upstreamRegistryUrl"]
    source = f"{upstream}/{repository.removeprefix(prefix.strip('/') + '/')}:{reference}"
    config = "sha256:" + hashlib.sha256(source.encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0, "digest": config},
        "layers": [],
    }
    return ecr.put_image(repository, json.dumps(manifest), reference)


# ----------------------------------------------------------------- pulling


def unreachable_registry(image: str, region: str, online: bool) -> str | None:
    """A task without a way to the internet cannot pull from a public registry (nor from
    another region's ECR): AWS's stop reason, naming the host it tried."""
    registry = images.registry_of(image)
    if online or registry.through_endpoints(region):
        return None
    return images.public_pull_failure(image, registry)


def missing_image(ecs: Any, definition: Any, image: str, online: bool) -> str | None:
    """Once ECR is reachable: why the pull finds nothing, or None when it finds the image.
    Only this region's private registry is checked; public registries are assumed to hold it.
    `online`: whether the task's packets to public addresses leave its subnet (a NAT gateway,
    or an internet gateway with a public IP), which the first pull through a cache rule needs."""
    from moto.ecr.models import ecr_backends

    registry = images.registry_of(image)
    if not registry.through_endpoints(ecs.region_name):
        return None
    ecr = ecr_backends[ecs.account_id][ecs.region_name]
    prefix = images.cache_prefix(registry, list(cache_rules(ecr)))
    failed = f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}"
    if prefix is None:
        return None if registry.repository in ecr.repositories else f"{failed}: {image}: not found"
    if cached_image(ecr, registry.repository, registry.tag) is not None:
        return None  # later pulls come from the cache
    # CreateRepository only while the cache's repository does not exist yet.
    needed = images.FIRST_PULL_ACTIONS if registry.repository not in ecr.repositories else images.IMPORT_ACTIONS
    if not role_allows(ecs.account_id, getattr(definition, "execution_role_arn", None), needed):
        return (
            f"{failed}: pull through cache rule {prefix}: the execution role may not {' and '.join(needed)}: "
            "403 Forbidden"
        )
    if not online:
        upstream = cache_rules(ecr)[prefix]["upstreamRegistryUrl"]
        return (
            f"{failed}: pull through cache rule {prefix}: the first pull of an image fetches it from {upstream}, "
            f'which the task cannot reach without a route to the internet: failed to do request: Head "https://'
            f'{upstream}/v2/{registry.repository.removeprefix(prefix.strip("/") + "/")}/manifests/{registry.tag}": '
            "dial tcp: i/o timeout"
        )
    import_upstream(ecr, prefix, registry.repository, registry.tag)
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
