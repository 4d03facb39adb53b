"""Container images: which registry an image URI is pulled from, and what well-known
images answer over HTTP.

Pure functions over strings, shared by `check` (over specs) and the sandbox (over the
emulator's state), so both reach the same verdict on an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>
PRIVATE_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/(.+)$")
DOCKER_HUB = "registry-1.docker.io"
PUBLIC_ECR = "public.ecr.aws"
# What the execution role needs for the first pull through a cache rule (the cache's
# repository does not exist yet): ECR user guide, "IAM permissions required to sync an
# upstream registry with an Amazon ECR private registry".
FIRST_PULL_ACTIONS = ("ecr:CreateRepository", "ecr:BatchImportUpstreamImage")
# Once the cache's repository exists: importing a tag it does not hold yet.
IMPORT_ACTIONS = ("ecr:BatchImportUpstreamImage",)


@dataclass(frozen=True)
class Registry:
    """Where a pull goes: a host, and whether it is an account's private ECR (and in which region)."""

    host: str
    repository: str  # the path inside the registry, without tag or digest
    tag: str
    ecr_region: str | None = None  # set for a private ECR registry

    def through_endpoints(self, region: str) -> bool:
        """Whether the ECR interface endpoints of `region` serve this pull: they reach this
        region's private registries only, never a public registry or another region."""
        return self.ecr_region == region


def registry_of(image: str) -> Registry:
    """Split an image reference the way Docker does: a first component with a dot, a colon
    or 'localhost' is a registry host; otherwise the image is on Docker Hub."""
    name, tag = _split_tag(image)
    match = PRIVATE_ECR.match(name)
    if match:
        host = name.split("/", 1)[0]
        return Registry(host, match.group(4), tag, match.group(2))
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return Registry(first, rest, tag)
    return Registry(DOCKER_HUB, name if "/" in name else f"library/{name}", tag)


def split_reference(reference: str) -> tuple[str, str]:
    """`<repository>:<tag>` or `<repository>@<digest>` as (repository, tag or digest); tag 'latest' when none."""
    return _split_tag(reference)


def _split_tag(image: str) -> tuple[str, str]:
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, digest
    head, sep, tail = image.rpartition(":")
    if sep and "/" not in tail:
        return head, tail
    return image, "latest"


def cache_prefix(registry: Registry, prefixes: list[str]) -> str | None:
    """The pull-through cache prefix a private-ECR repository lives under, if any."""
    return next((p for p in prefixes if registry.repository.startswith(f"{p.strip('/')}/")), None)


def public_pull_failure(image: str, registry: Registry) -> str:
    """AWS's stop reason for a task that cannot reach a public registry."""
    return (
        f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: "
        f'failed to do request: Head "https://{registry.host}/v2/{registry.repository}/manifests/{registry.tag}": '
        "dial tcp: i/o timeout"
    )


def first_pull_hint(image: str, prefix: str) -> str:
    """What to change when the tasks make the first pull of an image through a cache rule
    without a way to the internet (the rule `pull-through-first-pull` of `check`)."""
    return (
        f"pull-through-first-pull: {image} is not in the cache of pull-through rule {prefix} yet, and its first "
        "pull needs a route to the internet from the tasks' VPC (and an execution role allowed "
        f"{' and '.join(FIRST_PULL_ACTIONS)}); later pulls come from the cache; let vpcctl warm the cache "
        "before the service starts (warm: true on the rule, the default), or give the subnets a NAT route "
        "for the first deployment"
    )


def pull_hint(image: str, region: str) -> str:
    """What to change when a task with a complete path to ECR still cannot pull its image."""
    registry = registry_of(image)
    if registry.through_endpoints(region):
        return (
            f"{image} is not in this account's ECR in {region}: push it there, or pull it through an ECR "
            f"pull-through cache rule whose tasks' execution role may {' and '.join(FIRST_PULL_ACTIONS)}"
        )
    return (
        f"{image} is on {registry.host}, which the ECR interface endpoints do not serve (they reach this account's "
        f"private ECR in {region} only): pull it through an ECR pull-through cache rule "
        "(kind ecr_pull_through_cache, image <account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<repository>), "
        "push it to ECR in the region, or route 0.0.0.0/0 to a NAT gateway"
    )


# ------------------------------------------------------------ what images serve


@dataclass(frozen=True)
class Served:
    """What an image answers over HTTP: its ports, the paths it serves and the code of any other path."""

    ports: frozenset[int]
    paths: dict[str, int]
    other: int  # the code for a path not in `paths`


# The images' default configurations: nginx serves /usr/share/nginx/html (index.html,
# 50x.html) on port 80 and answers 404 elsewhere; httpd serves htdocs/index.html
# ("It works!") on port 80 and answers 404 elsewhere.
NGINX = Served(frozenset({80}), {"/": 200, "/index.html": 200, "/50x.html": 200}, 404)
HTTPD = Served(frozenset({80}), {"/": 200, "/index.html": 200}, 404)
KNOWN = {"nginx": NGINX, "httpd": HTTPD}

# `server { listen 8081; location = /healthz { return 200 ok; } }` in an nginx command
_NGINX_LISTEN = re.compile(r"listen\s+(\d+)\s*;\s*location\s+=?\s*(\S+)\s*\{\s*return\s+(\d{3})")


def known_image(image: str) -> str | None:
    """'nginx' or 'httpd' for the official images (Docker Hub, ECR Public, or a cache of them)."""
    repository = registry_of(image).repository
    for name in KNOWN:
        official = (name, f"library/{name}", f"{name}/{name}")  # Docker Hub, ECR Public
        if repository in official or repository.endswith(tuple(f"/{o}" for o in official[1:])):
            return name
    return None


def answer(
    image: str, command: tuple[str, ...] | list[str], container_port: int | None, port: int, path: str
) -> int | None:
    """The HTTP status the container answers on `port` at `path`; None when nothing listens there.

    A known image answers as its default configuration does, plus the server blocks an
    nginx command adds. An unknown image is assumed to answer 200 on its container port
    (and nothing elsewhere)."""
    name = known_image(image)
    if name is None:
        return 200 if port == container_port else None
    served = KNOWN[name]
    extra = {(int(p), route): int(code) for p, route, code in _NGINX_LISTEN.findall(" ".join(command))}
    if name == "nginx" and (port, path) in extra:
        return extra[(port, path)]
    if port in served.ports:
        return served.paths.get(path, served.other)
    if name == "nginx" and port in {p for p, _ in extra}:
        return 404
    return None


def matches(matcher: str, code: int) -> bool:
    """Whether a target group's matcher ('200', '200,202', '200-299') accepts a code."""
    for part in matcher.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and int(low) <= code <= int(high or low):
            return True
    return False
