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
from vpcctl.errors import VpcctlError
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok, exists, immutable
from vpcctl.resources.kit import Change

# 'arn:aws:execute-api:<region>:<account>:<api-id>/' is what AWS makes of 'execute-api:/'.
API_ARN = re.compile(r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/")


def resource_arn(ctx: Context, path: str) -> str:
    """The ARN API Gateway's tag calls take: arn:aws:apigateway:<region>::/restapis/<id>."""
    return f"arn:aws:apigateway:{ctx.region}::{path}"


# ------------------------------------------------------------------ vpc link


class VpcLinkHandler(Handler):
    kind = "vpc_link"
    tagged_as = ("apigateway:vpclinks",)  # CreateVpcLink takes its tags
    service = "apigateway"

    def discover(self, ctx: Context) -> list[Found]:
        items = kit.listed(ctx, "apigateway", "get_vpc_links", "items")
        return kit.owned(ctx, items, kit.inline("id", "tags"), "id", lambda lid, link, _: self._found(lid, link))

    def _found(self, lid: str, link: dict[str, Any]) -> Found:
        return Found(self.kind, lid, link["id"], link.get("status", ""), {}, link, dict(link.get("tags") or {}))

    def diff(self, ctx: Context, resource: model.Resource, spec: model.VpcLink, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, name=ctx.name(resource.id))]
        have = ", ".join(ctx.logical_id_of(a) for a in found.raw.get("targetArns") or []) or None
        changes = kit.replaced("load_balancer", have, spec.load_balancer)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.VpcLink, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            name = ctx.name(resource.id)
            link = ctx.client("apigateway").create_vpc_link(
                name=name,
                description=spec.description,
                targetArns=[ctx.attr(spec.load_balancer, "arn")],
                tags=ctx.tags(resource.id, name),
            )
            return self._found(resource.id, link)
        kit.write_tags(ctx, "apigateway", resource_arn(ctx, f"/vpclinks/{found.id}"), changes)
        return found

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """PENDING for minutes on AWS; FAILED ends the wait with AWS's statusMessage."""
        if found.state != "AVAILABLE":
            link = kit.wait_status(
                ctx,
                resource.id,
                f"VPC link {found.id}",
                lambda: ctx.client("apigateway").get_vpc_link(vpcLinkId=found.id),
                lambda link: str(link.get("status", "")),
                ready={"AVAILABLE"},
                failed={"FAILED", "DELETING"},
                reason=lambda link: str(link.get("statusMessage", "")),
            )
            found = self._found(resource.id, {**link, "tags": found.tags})
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        api = ctx.client("apigateway")
        if not exists(lambda: api.get_vpc_link(vpcLinkId=found.id)):
            return False  # AWS answers NotFound; moto deletes nothing again
        absent_ok(lambda: ctx.until_deletable(found.logical_id, lambda: api.delete_vpc_link(vpcLinkId=found.id)))
        # The load balancer stays in use until the link is really gone.
        kit.wait_gone(
            ctx, found.logical_id, "VPC link", lambda: api.get_vpc_link(vpcLinkId=found.id), lambda link: link["status"]
        )
        return True


# ------------------------------------------------------------------ rest api


class RestApiHandler(Handler):
    kind = "rest_api"
    tagged_as = ("apigateway:restapis",)  # CreateRestApi takes its tags (a stage's ARN is under its API's)
    service = "apigateway"

    def discover(self, ctx: Context) -> list[Found]:
        api = ctx.client("apigateway")
        items = kit.listed(ctx, "apigateway", "get_rest_apis", "items")

        def make(lid: str, item: dict[str, Any], _: dict[str, str]) -> Found:
            stages = api.get_stages(restApiId=item["id"]).get("item") or []
            return self._found(ctx, lid, item, stages[0]["stageName"] if stages else None)

        return kit.owned(ctx, items, kit.inline("id", "tags"), "id", make)

    def _found(self, ctx: Context, lid: str, item: dict[str, Any], stage: str | None) -> Found:
        domain = f"{item['id']}.execute-api.{ctx.region}.amazonaws.com"
        types = (item.get("endpointConfiguration") or {}).get("types") or ["EDGE"]
        state = f"{types[0]}, stage {stage}" if stage else f"{types[0]}, not deployed"
        url = f"https://{domain}/{stage}/" if stage else ""
        raw = {**item, "stage": stage}
        return Found(self.kind, lid, item["id"], state, {"domain": domain, "url": url}, raw, item.get("tags") or {})

    def diff(self, ctx: Context, resource: model.Resource, spec: model.RestApi, found: Found | None) -> list[Change]:
        endpoints = sorted(ctx.ids_of(spec.vpc_endpoints))
        if found is None:
            return [kit.create(ctx, spec, name=ctx.name(resource.id))]
        config = found.raw.get("endpointConfiguration") or {}
        changes = kit.replaced("endpoint_type", (config.get("types") or ["EDGE"])[0], spec.endpoint_type)
        changes += kit.members("vpc_endpoint", config.get("vpcEndpointIds") or [], endpoints, ctx.logical_id_of)
        changes += kit.updated("policy", normalized_policy(found.raw.get("policy")), normalized_policy(spec.policy))
        changes += kit.updated("description", found.raw.get("description") or "", spec.description)
        changes += self._route_changes(ctx, found.id, spec)
        changes += kit.updated(
            f"stage {spec.stage}",
            self._deployed(ctx, found.id, spec.stage),
            deployment_fingerprint(ctx, spec, endpoints),
        )
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.RestApi, found: Found | None, changes: list[Change]
    ) -> Found:
        endpoints = sorted(ctx.ids_of(spec.vpc_endpoints))
        if found is None:
            found = self._create(ctx, resource.id, spec, endpoints)
        else:
            self._converge_settings(ctx, found, spec, endpoints)
            kit.write_tags(ctx, "apigateway", resource_arn(ctx, f"/restapis/{found.id}"), changes)
        self._converge_routes(ctx, found.id, spec)
        self._deploy(ctx, resource.id, found, spec, endpoints)
        return found

    def _route_changes(self, ctx: Context, api_id: str, spec: model.RestApi) -> list[Change]:
        """Routes to add, to change (their integration) and to remove, read from AWS."""
        resources = api_resources(ctx, api_id)
        have = {
            (path, method): self._integration_view(body)
            for path, r in resources.items()
            for method, body in (r.get("resourceMethods") or {}).items()
        }
        changes = []
        for route in spec.routes:
            key = (route.path, route.method)
            want = {**{"connectionId": None}, **self._integration(ctx, route)}
            if key not in have:
                changes.append(Change("route", None, f"{route.method} {route.path}", member=True))
            elif have[key] != want:
                changes.append(Change(f"route {route.method} {route.path}", describe(have[key]), describe(want)))
        wanted = {(r.path, r.method) for r in spec.routes}
        changes += [Change("route", f"{m} {p}", None, member=True) for p, m in sorted(have) if (p, m) not in wanted]
        return changes

    @staticmethod
    def _integration_view(method: dict[str, Any]) -> dict[str, Any]:
        have = method.get("methodIntegration") or {}
        return {
            "type": have.get("type"),
            "integrationHttpMethod": have.get("httpMethod"),
            "uri": have.get("uri"),
            "connectionType": have.get("connectionType", "INTERNET"),
            "connectionId": have.get("connectionId"),
        }

    @staticmethod
    def _deployed(ctx: Context, api_id: str, stage_name: str) -> str | None:
        """The fingerprint of what the stage serves now (None: no such stage)."""
        client = ctx.client("apigateway")
        try:
            stage = client.get_stage(restApiId=api_id, stageName=stage_name)
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return client.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"]).get("description")

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
        resources = api_resources(ctx, api_id)
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
        if self._integration_view(method) != {**{"connectionId": None}, **want}:
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


def api_resources(ctx: Context, api_id: str) -> dict[str, dict[str, Any]]:
    """Path -> the API's resource at that path, with its methods."""
    items = kit.listed(ctx, "apigateway", "get_resources", "items", restApiId=api_id, embed=["methods"])
    return {r["path"]: r for r in items}


def describe(integration: dict[str, Any]) -> str:
    """An integration in a few words: 'HTTP_PROXY GET http://... via VPC_LINK abc'."""
    via = f" via {integration['connectionId']}" if integration.get("connectionId") else ""
    return f"{integration.get('type')} {integration.get('integrationHttpMethod')} {integration.get('uri')}{via}"


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
