"""This account's private registry over the Docker Registry HTTP API: a manifest pull.

ECR serves the Docker Registry HTTP API at `https://<account>.dkr.ecr.<region>.amazonaws.com`
and wants the token of `GetAuthorizationToken` on every request, as `Authorization: Basic
<token>` (ECR user guide, "Private registry authentication", HTTP API authentication).
A pull of an image under a pull-through cache rule's prefix through this URI is what makes
ECR fetch it from the upstream registry and cache it (ECR user guide, "Using pull through
cache rules"); that is all a pull is needed for here, so only the manifest is requested.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vpcctl.errors import AwsError, VpcctlError

if TYPE_CHECKING:
    import requests

# What a Docker or containerd client accepts: an index (a multi-architecture image) or one manifest.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
OPERATION = "GET manifest (registry API)"


def pull_manifest(ecr: object, endpoint_url: str | None, repository: str, reference: str) -> str:
    """GET `<repository>:<reference>`'s manifest from this account's registry; its media type.

    The registry's address is the `proxyEndpoint` AWS gives with the token. Under an
    endpoint override (the sandbox) every host is served at one address, so the request
    goes there and names the registry in its Host header."""
    import requests  # only a first pull through a cache rule needs it: not every command's import

    data = ecr.get_authorization_token()["authorizationData"][0]  # type: ignore[attr-defined]
    registry = str(data["proxyEndpoint"]).rstrip("/")
    path = f"/v2/{repository}/manifests/{reference}"
    headers = {"Authorization": f"Basic {data['authorizationToken']}", "Accept": ", ".join(MANIFEST_TYPES)}
    url = f"{registry}{path}"
    if endpoint_url:
        headers["Host"] = urlsplit(registry).netloc
        url = f"{endpoint_url.rstrip('/')}{path}"
    try:
        answer = requests.get(url, headers=headers, timeout=(10, 120))
    except requests.RequestException as exc:
        raise VpcctlError(f"{OPERATION} {registry}{path}: {exc}", hint="is the registry reachable from here?") from None
    if answer.status_code != 200:
        code, message = _registry_error(answer)
        raise AwsError(code, f"{message} ({registry}{path})", OPERATION, hint=HINTS.get(code))
    return str(answer.headers.get("Content-Type", "")).split(";")[0]


def _registry_error(answer: requests.Response) -> tuple[str, str]:
    """The registry's error code and message (`{"errors": [{"code", "message"}]}`), else the status."""
    try:
        first = json.loads(answer.text)["errors"][0]
        return str(first["code"]), str(first.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {answer.status_code}", answer.text.strip()[:200]


HINTS = {
    "UNAUTHORIZED": "the registry refused the token: are the credentials in use allowed ecr:GetAuthorizationToken?",
    "DENIED": "the credentials in use may not pull through the cache rule: allow ecr:BatchGetImage, "
    "ecr:BatchImportUpstreamImage and ecr:CreateRepository on the rule's repositories",
    "MANIFEST_UNKNOWN": "the upstream registry has no such image or tag: check the image reference",
    "NAME_UNKNOWN": "no repository of that name, and no pull-through cache rule's prefix covers it",
}
