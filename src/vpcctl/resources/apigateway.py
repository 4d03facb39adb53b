"""API Gateway REST APIs and their VPC links.

A `rest_api` carries what a person thinks of as one API: its endpoint type (a
PRIVATE API is bound to execute-api interface endpoints), its resource policy,
its routes (method + path -> an HTTP integration, through a VPC link when the
backend is an NLB in a VPC) and one stage. Any change to those is deployed: a
new deployment, fingerprinted in its description, and the stage moved onto it
(a resource policy takes effect only once deployed).

A `vpc_link` (REST flavour) connects API Gateway to one Network Load Balancer.
AWS takes minutes to make one AVAILABLE; an NLB cannot be deleted while a link
targets it, so teardown deletes the link first and waits until it is gone.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import is_not_found
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady, VpcctlError
from vpcctl.resources.base import Context, Found, Handler, Outcome, absent_ok, exists, outcome
from vpcctl.resources.network import immutable

# 'arn:aws:execute-api:<region>:<account>:<api-id>/' is what AWS makes of 'execute-api:/'.
API_ARN = re.compile(r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/")


def owned_items(ctx: Context, items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, item) for the items tagged for the deployment (API Gateway lists tags inline)."""
    out = []
    for item in items:
        tags = item.get("tags") or {}
        if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
            out.append((tags[tagging.LOGICAL_ID], item))
    return out


# ------------------------------------------------------------------ vpc link


class VpcLinkHandler(Handler):
    kind = "vpc_link"
    service = "apigateway"

    def discover(self, ctx: Context) -> list[Found]:
        pages = ctx.client("apigateway").get_paginator("get_vpc_links").paginate()
        items = [link for page in pages for link in page.get("items", [])]
        return [self._found(lid, link) for lid, link in owned_items(ctx, items)]

    def _found(self, lid: str, link: dict[str, Any]) -> Found:
        return Found(self.kind, lid, link["id"], link.get("status", ""), {}, link, dict(link.get("tags") or {}))

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.VpcLink, found: Found | None) -> Outcome:
        target = ctx.attr(spec.load_balancer, "arn")
        if found is None:
            name = ctx.name(resource.id)
            link = ctx.client("apigateway").create_vpc_link(
                name=name, description=spec.description, targetArns=[target], tags=ctx.tags(resource.id, name)
            )
            return outcome(True, self._found(resource.id, link), [])
        have = found.raw.get("targetArns") or []
        if have != [target]:
            raise immutable(resource.id, "load_balancer", ", ".join(have), target)
        return outcome(False, found, [])

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """PENDING for minutes on AWS; FAILED ends the wait with AWS's statusMessage."""
        api = ctx.client("apigateway")
        latest = {"link": found.raw}

        def check() -> tuple[bool, str]:
            link = api.get_vpc_link(vpcLinkId=found.id)
            latest["link"] = link
            status = link.get("status", "")
            if status in ("FAILED", "DELETING"):
                raise NotReady(f"VPC link {found.id} is {status}: {link.get('statusMessage', '')}".rstrip(": "))
            return status == "AVAILABLE", status

        if found.state != "AVAILABLE":
            ctx.poll(resource.id, "VPC link", check)
            found = self._found(resource.id, {**latest["link"], "tags": found.tags})
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        api = ctx.client("apigateway")
        if not exists(lambda: api.get_vpc_link(vpcLinkId=found.id)):
            return False  # AWS answers NotFound; moto deletes nothing again
        absent_ok(lambda: ctx.until_deletable(found.logical_id, lambda: api.delete_vpc_link(vpcLinkId=found.id)))

        def gone() -> tuple[bool, str]:
            try:
                return False, api.get_vpc_link(vpcLinkId=found.id).get("status", "")
            except botocore.exceptions.ClientError as exc:
                if is_not_found(exc):
                    return True, "gone"
                raise

        # The load balancer stays in use until the link is really gone.
        ctx.poll(found.logical_id, "VPC link", gone, timeout=ctx.delete_timeout)
        return True


# ------------------------------------------------------------------ rest api


class RestApiHandler(Handler):
    kind = "rest_api"
    service = "apigateway"

    def discover(self, ctx: Context) -> list[Found]:
        api = ctx.client("apigateway")
        pages = api.get_paginator("get_rest_apis").paginate()
        items = [item for page in pages for item in page.get("items", [])]
        found = []
        for lid, item in owned_items(ctx, items):
            stages = api.get_stages(restApiId=item["id"]).get("item") or []
            found.append(self._found(ctx, lid, item, stages[0]["stageName"] if stages else None))
        return found

    def _found(self, ctx: Context, lid: str, item: dict[str, Any], stage: str | None) -> Found:
        domain = f"{item['id']}.execute-api.{ctx.region}.amazonaws.com"
        types = (item.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
        state = f"{types[0]}, stage {stage}" if stage else f"{types[0]}, not deployed"
        url = f"https://{domain}/{stage}/" if stage else ""
        raw = {**item, "stage": stage}
        return Found(self.kind, lid, item["id"], state, {"domain": domain, "url": url}, raw, item.get("tags") or {})

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.RestApi, found: Found | None) -> Outcome:
        endpoints = sorted(ctx.ids_of(spec.vpc_endpoints))
        created = found is None
        if found is None:
            found = self._create(ctx, resource.id, spec, endpoints)
            changes: list[str] = []
        else:
            changes = self._converge_settings(ctx, found, spec, endpoints)
        changes += self._converge_routes(ctx, found.id, spec)
        changes += self._deploy(ctx, resource.id, found, spec, endpoints)
        return outcome(created, found, [] if created else changes)

    def _create(self, ctx: Context, lid: str, spec: model.RestApi, endpoints: list[str]) -> Found:
        name = ctx.name(lid)
        params: dict[str, Any] = {
            "name": name,
            "description": spec.description,
            "endpointConfiguration": endpoint_configuration(spec.endpoint_type, endpoints),
            "tags": ctx.tags(lid, name),
        }
        if spec.policy:
            params["policy"] = compact(spec.policy)
        item = ctx.client("apigateway").create_rest_api(**params)
        return self._found(ctx, lid, item, None)

    def _converge_settings(self, ctx: Context, found: Found, spec: model.RestApi, endpoints: list[str]) -> list[str]:
        config = found.raw.get("endpointConfiguration") or {}
        have_type = (config.get("types") or ["EDGE"])[0]
        if have_type != spec.endpoint_type:
            raise immutable(found.logical_id, "endpoint_type", have_type, spec.endpoint_type)
        have_endpoints = sorted(config.get("vpcEndpointIds") or [])
        ops: list[dict[str, Any]] = []
        changes = []
        path = "/endpointConfiguration/vpcEndpointIds"
        for endpoint in sorted(set(endpoints) - set(have_endpoints)):
            ops.append({"op": "add", "path": path, "value": endpoint})
            changes.append(f"+endpoint {endpoint}")
        for endpoint in sorted(set(have_endpoints) - set(endpoints)):
            ops.append({"op": "remove", "path": path, "value": endpoint})
            changes.append(f"-endpoint {endpoint}")
        if normalized_policy(found.raw.get("policy")) != normalized_policy(spec.policy):
            ops.append({"op": "replace", "path": "/policy", "value": compact(spec.policy) if spec.policy else ""})
            changes.append("policy")
        if (found.raw.get("description") or "") != spec.description:
            ops.append({"op": "replace", "path": "/description", "value": spec.description})
            changes.append("description")
        if ops:
            item = ctx.client("apigateway").update_rest_api(restApiId=found.id, patchOperations=ops)
            found.raw.update(item)
        return changes

    def _converge_routes(self, ctx: Context, api_id: str, spec: model.RestApi) -> list[str]:
        """Each route a method with its integration; methods the scenario does not name are removed."""
        client = ctx.client("apigateway")
        pages = client.get_paginator("get_resources").paginate(restApiId=api_id, embed=["methods"])
        resources = {r["path"]: r for page in pages for r in page.get("items", [])}
        changes = []
        wanted: set[tuple[str, str]] = set()
        for route in spec.routes:
            resource = resources.get(route.path) or self._create_path(ctx, api_id, route.path, resources)
            wanted.add((route.path, route.method))
            changes += self._converge_method(ctx, api_id, resource, route)
        for path, resource in resources.items():
            for method in list(resource.get("resourceMethods") or {}):
                if (path, method) not in wanted:
                    client.delete_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
                    changes.append(f"-route {method} {path}")
        return changes

    @staticmethod
    def _create_path(ctx: Context, api_id: str, path: str, resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
        client = ctx.client("apigateway")
        parent = resources["/"]
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            if current not in resources:
                resources[current] = client.create_resource(restApiId=api_id, parentId=parent["id"], pathPart=part)
            parent = resources[current]
        return parent

    def _converge_method(self, ctx: Context, api_id: str, resource: dict[str, Any], route: model.ApiRoute) -> list[str]:
        client = ctx.client("apigateway")
        method = (resource.get("resourceMethods") or {}).get(route.method)
        key = {"restApiId": api_id, "resourceId": resource["id"], "httpMethod": route.method}
        changes = []
        if method is None:
            client.put_method(**key, authorizationType="NONE")
            changes.append(f"+route {route.method} {route.path}")
            method = {}
        want = self._integration(ctx, route)
        have = method.get("methodIntegration") or {}
        have_view = {
            "type": have.get("type"),
            "integrationHttpMethod": have.get("httpMethod"),
            "uri": have.get("uri"),
            "connectionType": have.get("connectionType", "INTERNET"),
            "connectionId": have.get("connectionId"),
        }
        if have_view != {**{"connectionId": None}, **want}:
            client.put_integration(**key, **{k: v for k, v in want.items() if v is not None})
            if method:
                changes.append(f"~route {route.method} {route.path}")
        return changes

    @staticmethod
    def _integration(ctx: Context, route: model.ApiRoute) -> dict[str, Any]:
        integration: dict[str, Any] = {
            "type": route.integration,
            "integrationHttpMethod": route.backend_method or route.method,
            "uri": route.uri,
            "connectionType": "VPC_LINK" if route.vpc_link else "INTERNET",
        }
        if route.vpc_link:
            integration["connectionId"] = ctx.id_of(route.vpc_link)
        return integration

    def _deploy(self, ctx: Context, lid: str, found: Found, spec: model.RestApi, endpoints: list[str]) -> list[str]:
        """Deploy when what the stage serves differs from the scenario (fingerprint in the description)."""
        client = ctx.client("apigateway")
        fingerprint = deployment_fingerprint(ctx, spec, endpoints)
        stage = None
        try:
            stage = client.get_stage(restApiId=found.id, stageName=spec.stage)
        except botocore.exceptions.ClientError as exc:
            if not is_not_found(exc):
                raise
        if stage is not None:
            deployment = client.get_deployment(restApiId=found.id, deploymentId=stage["deploymentId"])
            if deployment.get("description") == fingerprint:
                self._set_stage(ctx, found, spec.stage)
                return []
        deployment = client.create_deployment(restApiId=found.id, description=fingerprint)
        if stage is None:
            client.create_stage(
                restApiId=found.id,
                stageName=spec.stage,
                deploymentId=deployment["id"],
                tags=ctx.tags(lid, f"{ctx.name(lid)}/{spec.stage}"),
            )
        else:
            client.update_stage(
                restApiId=found.id,
                stageName=spec.stage,
                patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment["id"]}],
            )
        self._set_stage(ctx, found, spec.stage)
        return [f"deployed to {spec.stage}"]

    def _set_stage(self, ctx: Context, found: Found, stage: str) -> None:
        fresh = self._found(ctx, found.logical_id, found.raw, stage)
        found.state, found.attributes, found.raw = fresh.state, fresh.attributes, fresh.raw

    def delete(self, ctx: Context, found: Found) -> bool:
        api = ctx.client("apigateway")
        # moto fails on a missing API where AWS answers NotFound: ask first.
        if not exists(lambda: api.get_rest_api(restApiId=found.id)):
            return False
        return absent_ok(lambda: api.delete_rest_api(restApiId=found.id))


def endpoint_configuration(endpoint_type: str, endpoints: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {"types": [endpoint_type]}
    if endpoint_type == "PRIVATE":
        config["vpcEndpointIds"] = endpoints
    return config


def compact(policy: str) -> str:
    """A policy document as compact JSON; a document that is not JSON is a scenario error."""
    try:
        return json.dumps(json.loads(policy), separators=(",", ":"))
    except json.JSONDecodeError as exc:
        raise VpcctlError(f"the resource policy is not valid JSON: {exc}") from None


def normalized_policy(policy: str | None) -> str | None:
    """A policy as comparable text: AWS returns it with escaped quotes and with
    'execute-api:/' expanded to the API's ARN."""
    if not policy:
        return None
    text = policy.replace('\\"', '"')
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    return API_ARN.sub("execute-api:/", json.dumps(document, sort_keys=True, separators=(",", ":")))


def deployment_fingerprint(ctx: Context, spec: model.RestApi, endpoints: list[str]) -> str:
    routes = [
        {"method": r.method, "path": r.path, **RestApiHandler._integration(ctx, r)}
        for r in sorted(spec.routes, key=lambda r: (r.path, r.method))
    ]
    document = {"routes": routes, "policy": normalized_policy(spec.policy), "endpoints": endpoints}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
    return f"vpcctl {digest}"
