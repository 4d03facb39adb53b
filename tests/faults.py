"""Fault injection for the in-process moto: answers lost after AWS acted, throttling and
5xx, as botocore meets them on a real network.

A `before-send` handler runs ahead of moto's own: it lets moto process the request and
then, when the plan says so, throws the answer away (a read timeout), so botocore's
standard retry mode sends the same request again — exactly what happens when a
response is lost on the way back from AWS. Throttling and 5xx are answered without
letting moto act, as AWS does for those.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from botocore.awsrequest import AWSResponse

# Operations that change something (what a lost answer can make ambiguous).
MUTATING_PREFIXES = (
    "Create",
    "Delete",
    "Put",
    "Attach",
    "Detach",
    "Associate",
    "Disassociate",
    "Authorize",
    "Revoke",
    "Register",
    "Deregister",
    "Modify",
    "Update",
    "Accept",
    "Allocate",
    "Release",
    "Replace",
    "Run",
    "Terminate",
    "Tag",
    "Untag",
    "Add",
    "Remove",
    "Change",
    "Enable",
    "Disable",
    "Set",
    "Import",
    "Start",
    "Stop",
)


def is_mutating(operation: str) -> bool:
    return operation.startswith(MUTATING_PREFIXES)


def operation_of(event_name: str) -> tuple[str, str]:
    """'before-send.ec2.CreateVpc' -> ('ec2', 'CreateVpc')."""
    _, service, operation = event_name.split(".", 2)
    return service, operation


@dataclass
class Faults:
    """What to do to each request; counts what it did."""

    lose_first: set[str] = field(default_factory=set)  # 'ec2:CreateVpc': lose the first success of these
    lose_share: float = 0.0  # of mutating answers, lost after moto acted
    throttle_share: float = 0.0  # of all requests, answered 400 Throttling without acting
    error_share: float = 0.0  # of all requests, answered 503 without acting
    seed: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    succeeded: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    def handler(self, moto_send: Callable[..., Any]) -> Callable[..., Any]:
        def before_send(event_name: str, request: Any, **kwargs: Any) -> Any:
            service, operation = operation_of(event_name)
            key = f"{service}:{operation}"
            self.seen[key] += 1
            # The rolls of the n-th call of an operation depend on the seed alone, not on
            # how the run's threads interleave, so a seed replays its run.
            rolls = random.Random(f"{self.seed}:{key}:{self.seen[key]}")
            roll = rolls.random()
            if roll < self.throttle_share:
                self.refused["Throttling"] += 1
                return _error_response(service, request, 400, "Throttling", "Rate exceeded")
            if roll < self.throttle_share + self.error_share:
                self.refused["ServiceUnavailable"] += 1
                return _error_response(service, request, 503, "ServiceUnavailable", "Service is unavailable")
            response = moto_send(event_name=event_name, request=request)
            if response is not None and response.status_code < 300:
                self.succeeded[key] += 1
            # The first answer that says "done": losing a refusal makes nothing ambiguous.
            first = key in self.lose_first and self.succeeded[key] == 1 and response.status_code < 300
            shared = is_mutating(operation) and rolls.random() < self.lose_share
            if first or shared:
                self.lost.append(key)
                raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)
            return response

        return before_send


# Services whose errors come as XML (query and rest-xml protocols); the rest answer JSON.
XML_SERVICES = {"iam", "elastic-load-balancing-v2", "sts", "route-53"}


def _error_response(service: str, request: Any, status: int, code: str, message: str) -> AWSResponse:
    from moto.core.botocore_stubber import MockRawResponse

    if service == "ec2":
        body = f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors></Response>"
        headers = {"Content-Type": "text/xml"}
    elif service in XML_SERVICES:
        body = f"<ErrorResponse><Error><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
        headers = {"Content-Type": "text/xml"}
    else:
        body = f'{{"__type": "{code}", "message": "{message}"}}'
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


def install(aws: Any, faults: Faults) -> None:
    """Put the fault handler in place of moto's own on every client this Aws makes
    (botocore calls every before-send handler, so moto's must not also see the request)."""
    from moto.core.models import botocore_stubber

    original = aws.client
    lock = threading.Lock()

    def client(service: str) -> Any:
        made = original(service)
        with lock:
            if not getattr(made, "_vpcctl_faults", False):
                made.meta.events.unregister("before-send", botocore_stubber)
                made.meta.events.register("before-send", faults.handler(botocore_stubber))
                made._vpcctl_faults = True
        return made

    aws.client = client


def record_operations(aws: Any) -> Counter[str]:
    """Count every operation the clients of this Aws send (to find what to break)."""
    seen: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        service, operation = operation_of(event_name)
        seen[f"{service}:{operation}"] += 1

    aws.session.events.register("before-send", count)
    return seen


# ------------------------------------------------------------ duplicates


def owned_twins(aws: Any, deployment: str) -> dict[str, list[str]]:
    """Logical id -> ids, for every logical id of the deployment held by more than one
    live resource: read straight from AWS by the ownership tags, not through vpcctl."""
    found: dict[str, list[str]] = {}
    for logical_id, resource_id in _owned(aws, deployment):
        found.setdefault(logical_id, []).append(resource_id)
    return {k: sorted(v) for k, v in found.items() if len(v) > 1}


def owned_resources(aws: Any, deployment: str) -> list[str]:
    """Every live resource tagged for the deployment (and its IAM roles), read straight from AWS."""
    return sorted(f"{logical_id} {resource_id}" for logical_id, resource_id in _owned(aws, deployment))


def _tag(tags: Any, key: str) -> str | None:
    for tag in tags or []:
        if tag.get("Key", tag.get("key")) == key:
            return tag.get("Value", tag.get("value"))
    return None


def _owned(aws: Any, deployment: str) -> Iterator[tuple[str, str]]:
    from vpcctl.aws import tags as tagging

    ec2 = aws.client("ec2")
    owned = [{"Name": f"tag:{tagging.DEPLOYMENT}", "Values": [deployment]}]
    reads = (
        ("describe_vpcs", "Vpcs", "VpcId", None),
        ("describe_subnets", "Subnets", "SubnetId", None),
        ("describe_internet_gateways", "InternetGateways", "InternetGatewayId", None),
        ("describe_route_tables", "RouteTables", "RouteTableId", None),
        ("describe_security_groups", "SecurityGroups", "GroupId", None),
        ("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId", ("deleted", "deleting")),
        ("describe_vpc_peering_connections", "VpcPeeringConnections", "VpcPeeringConnectionId", ("deleted",)),
        ("describe_nat_gateways", "NatGateways", "NatGatewayId", ("deleted", "deleting")),
        ("describe_addresses", "Addresses", "AllocationId", None),
    )
    for method, key, id_key, gone in reads:
        for item in getattr(ec2, method)(Filters=owned)[key]:
            state = item.get("State") or (item.get("Status") or {}).get("Code")
            if gone and state in gone:
                continue
            yield _tag(item.get("Tags"), tagging.LOGICAL_ID) or "?", item[id_key]
    for reservation in ec2.describe_instances(Filters=owned)["Reservations"]:
        for instance in reservation["Instances"]:
            if instance["State"]["Name"] not in ("terminated", "shutting-down"):
                yield _tag(instance.get("Tags"), tagging.LOGICAL_ID) or "?", instance["InstanceId"]
    yield from _owned_elb(aws, deployment)
    yield from _owned_apigateway(aws, deployment)
    yield from _owned_iam(aws, deployment)


def _owned_elb(aws: Any, deployment: str) -> Iterator[tuple[str, str]]:
    from vpcctl.aws import tags as tagging

    elb = aws.client("elbv2")
    arns = [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    arns += [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    for start in range(0, len(arns), 20):
        for described in elb.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            if _tag(described["Tags"], tagging.DEPLOYMENT) == deployment:
                yield _tag(described["Tags"], tagging.LOGICAL_ID) or "?", described["ResourceArn"]


def _owned_apigateway(aws: Any, deployment: str) -> Iterator[tuple[str, str]]:
    from vpcctl.aws import tags as tagging

    api = aws.client("apigateway")
    for item in api.get_rest_apis()["items"]:
        if (item.get("tags") or {}).get(tagging.DEPLOYMENT) == deployment:
            yield item["tags"].get(tagging.LOGICAL_ID, "?"), item["id"]
    for item in api.get_vpc_links()["items"]:
        if (item.get("tags") or {}).get(tagging.DEPLOYMENT) == deployment:
            yield item["tags"].get(tagging.LOGICAL_ID, "?"), item["id"]


def _owned_iam(aws: Any, deployment: str) -> Iterator[tuple[str, str]]:
    iam = aws.client("iam")
    for role in iam.list_roles()["Roles"]:
        if role["RoleName"].startswith(f"{deployment}-"):
            yield role["RoleName"], role["RoleName"]
