"""The typed specs: one frozen class per resource kind.

A field whose metadata holds ``ref`` names other resources by logical id; the
graph is built from those fields. Strings may hold run-time values written
``${logical-id.attribute}``, resolved when the step that needs them runs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, field
from typing import Annotated, Any, ClassVar, Literal

Cidr = Annotated[str, "cidr"]

RUNTIME = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([a-z_]+)\}")


def ref(*kinds: str, default: Any = MISSING) -> Any:
    """A field that names other resources (of these kinds) by logical id."""
    return field(default=default, metadata={"ref": kinds})


def refs(*kinds: str) -> Any:
    return field(default=(), metadata={"ref": kinds})


class Spec:
    """Base of every resource spec."""

    kind: ClassVar[str]
    attributes: ClassVar[tuple[str, ...]] = ("id",)
    # Fields whose references are satisfied by the referenced resource's first
    # step only (security-group rules may point at each other without a cycle).
    late_fields: ClassVar[tuple[str, ...]] = ()


# --------------------------------------------------------------------- network


@dataclass(frozen=True)
class Vpc(Spec):
    kind = "vpc"
    attributes = ("id", "cidr")
    cidr: Cidr
    dns_support: bool = True
    dns_hostnames: bool = True


@dataclass(frozen=True)
class Subnet(Spec):
    kind = "subnet"
    attributes = ("id", "cidr", "az")
    vpc: str = ref("vpc")
    cidr: Cidr
    az: str = "a"
    public_ip_on_launch: bool = False


@dataclass(frozen=True)
class InternetGateway(Spec):
    kind = "internet_gateway"
    vpc: str = ref("vpc")


@dataclass(frozen=True)
class Route:
    destination: Cidr
    gateway: str | None = ref("internet_gateway", default=None)
    nat_gateway: str | None = ref("nat_gateway", default=None)
    peering: str | None = ref("vpc_peering", default=None)


@dataclass(frozen=True)
class RouteTable(Spec):
    kind = "route_table"
    vpc: str = ref("vpc")
    subnets: tuple[str, ...] = refs("subnet")
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Rule:
    protocol: Literal["tcp", "udp", "icmp", "all"] = "tcp"
    port: int | None = None
    from_port: int | None = None
    to_port: int | None = None
    cidr: Cidr | None = None
    source: str | None = ref("security_group", default=None)
    description: str = ""


@dataclass(frozen=True)
class SecurityGroup(Spec):
    kind = "security_group"
    late_fields = ("ingress", "egress")
    vpc: str = ref("vpc")
    description: str = "managed by vpcctl"
    ingress: tuple[Rule, ...] = ()
    # None keeps AWS's default (all traffic out); a list replaces it.
    egress: tuple[Rule, ...] | None = None


@dataclass(frozen=True)
class VpcPeering(Spec):
    """A peering between two VPCs of this account and region, requested and accepted."""

    kind = "vpc_peering"
    vpc: str = ref("vpc")
    peer_vpc: str = ref("vpc")
    # Each side resolves the other side's private DNS host names to private IPs.
    allow_remote_dns: bool = True


@dataclass(frozen=True)
class VpcEndpoint(Spec):
    kind = "vpc_endpoint"
    attributes = ("id", "dns_name", "zone_id")
    vpc: str = ref("vpc")
    service: str
    type: Literal["interface", "gateway"] = "interface"
    subnets: tuple[str, ...] = refs("subnet")
    security_groups: tuple[str, ...] = refs("security_group")
    route_tables: tuple[str, ...] = refs("route_table")
    private_dns: bool = True


# -------------------------------------------------------------------- compute


@dataclass(frozen=True)
class Instance(Spec):
    """An EC2 instance; without `ami`, the latest Amazon Linux 2023 (from AWS's public SSM parameter)."""

    kind = "instance"
    attributes = ("id", "private_ip", "public_ip")
    subnet: str = ref("subnet")
    security_groups: tuple[str, ...] = refs("security_group")
    instance_type: str = "t3.micro"
    ami: str | None = None
    associate_public_ip: bool = False
    user_data: str = ""
    key_name: str | None = None


# ------------------------------------------------------------------ iam, logs


@dataclass(frozen=True)
class IamRole(Spec):
    kind = "iam_role"
    attributes = ("arn", "name")
    service: str = "ecs-tasks.amazonaws.com"
    managed_policies: tuple[str, ...] = ()
    description: str = "managed by vpcctl"
    policy: str | None = None  # an inline policy, a JSON document (kept as the role's policy "vpcctl")


@dataclass(frozen=True)
class LogGroup(Spec):
    kind = "log_group"
    attributes = ("name", "arn")
    retention_days: int = 7


# ------------------------------------------------------------------------ ecr


@dataclass(frozen=True)
class EcrPullThroughCache(Spec):
    """An ECR pull-through cache rule: images of `upstream` pulled as `${<id>.uri}/<repository>:<tag>`
    come from this account's private registry, which the ECR endpoints serve."""

    kind = "ecr_pull_through_cache"
    attributes = ("id", "prefix", "uri", "repositories")
    upstream: Literal["public.ecr.aws"] = "public.ecr.aws"
    # Pull each image the tasks name through the rule once at `up`, before the services start:
    # the first pull needs a way to the internet, which tasks behind the endpoints lack.
    warm: bool = True


# ------------------------------------------------------------------------ ecs


@dataclass(frozen=True)
class EcsCluster(Spec):
    kind = "ecs_cluster"
    attributes = ("name", "arn")


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    port: int | None = None
    essential: bool = True
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskDefinition(Spec):
    kind = "task_definition"
    attributes = ("arn", "family")
    containers: tuple[Container, ...] = ()
    cpu: int = 256
    memory: int = 512
    execution_role: str | None = ref("iam_role", default=None)
    task_role: str | None = ref("iam_role", default=None)
    log_group: str | None = ref("log_group", default=None)


@dataclass(frozen=True)
class ServiceLoadBalancer:
    target_group: str = ref("target_group")
    container: str
    port: int = 80


@dataclass(frozen=True)
class EcsService(Spec):
    kind = "ecs_service"
    attributes = ("name", "arn")
    cluster: str = ref("ecs_cluster")
    task_definition: str = ref("task_definition")
    desired_count: int = 1
    subnets: tuple[str, ...] = refs("subnet")
    security_groups: tuple[str, ...] = refs("security_group")
    assign_public_ip: bool = False
    minimum_healthy_percent: int = 50
    maximum_percent: int = 200
    load_balancers: tuple[ServiceLoadBalancer, ...] = ()


# ------------------------------------------------------------ load balancing


@dataclass(frozen=True)
class LoadBalancer(Spec):
    kind = "load_balancer"
    attributes = ("arn", "dns_name", "zone_id")
    type: Literal["application", "network"] = "application"
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    subnets: tuple[str, ...] = refs("subnet")
    security_groups: tuple[str, ...] = refs("security_group")


@dataclass(frozen=True)
class HealthCheck:
    protocol: Literal["HTTP", "HTTPS", "TCP"] | None = None
    port: str = "traffic-port"
    path: str | None = None
    interval: int = 30
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str | None = None  # HTTP codes a healthy target answers ("200", "200-299"); None: AWS's default


@dataclass(frozen=True)
class TargetGroup(Spec):
    kind = "target_group"
    attributes = ("arn",)
    late_fields = ("targets", "services")
    vpc: str = ref("vpc")
    protocol: Literal["HTTP", "HTTPS", "TCP", "UDP", "TLS"] = "HTTP"
    port: int = 80
    target_type: Literal["ip", "instance"] = "ip"
    health_check: HealthCheck = HealthCheck()
    # Targets vpcctl keeps registered (and no others), set after what they name exists:
    # IPs or instance ids (`${web-a.private_ip}`, `${web1.id}`), and the private IPs of
    # the RUNNING tasks of ECS services that have no load balancer of their own. Leave
    # both empty for a group whose targets an ECS service registers itself.
    targets: tuple[str, ...] = ()
    services: tuple[str, ...] = refs("ecs_service")


@dataclass(frozen=True)
class Listener(Spec):
    kind = "listener"
    attributes = ("arn",)
    load_balancer: str = ref("load_balancer")
    target_group: str = ref("target_group")
    port: int = 80
    protocol: Literal["HTTP", "HTTPS", "TCP", "TLS", "UDP"] = "HTTP"
    certificate_arn: str | None = None


# ------------------------------------------------------------------------ dns


@dataclass(frozen=True)
class HostedZone(Spec):
    """A Route 53 hosted zone: private, associated with `vpcs`, when they are given."""

    kind = "hosted_zone"
    attributes = ("id", "name")
    name: str
    vpcs: tuple[str, ...] = refs("vpc")
    comment: str = "managed by vpcctl"


@dataclass(frozen=True)
class DnsRecord(Spec):
    """A record in a hosted zone: an alias to a load balancer, or plain values with a TTL."""

    kind = "dns_record"
    attributes = ("id", "name")
    zone: str = ref("hosted_zone")
    name: str  # inside the zone: 'alb.home', or 'alb' for alb.<zone>
    type: Literal["A", "AAAA", "CNAME", "TXT"] = "A"
    alias: str | None = ref("load_balancer", "vpc_endpoint", default=None)
    values: tuple[str, ...] = ()
    ttl: int = 300


# ------------------------------------------------------- nat, elastic ip


@dataclass(frozen=True)
class ElasticIp(Spec):
    """An Elastic IP address (for a NAT gateway)."""

    kind = "elastic_ip"
    attributes = ("id", "public_ip")


@dataclass(frozen=True)
class NatGateway(Spec):
    """A NAT gateway in a (public) subnet; a public one holds an Elastic IP."""

    kind = "nat_gateway"
    attributes = ("id", "public_ip", "private_ip")
    subnet: str = ref("subnet")
    elastic_ip: str | None = ref("elastic_ip", default=None)
    connectivity_type: Literal["public", "private"] = "public"


# ---------------------------------------------------------------- api gateway


@dataclass(frozen=True)
class VpcLink(Spec):
    """A REST API VPC link to one Network Load Balancer."""

    kind = "vpc_link"
    load_balancer: str = ref("load_balancer")
    description: str = "managed by vpcctl"


@dataclass(frozen=True)
class ApiRoute:
    """One method on one path, integrated with an HTTP backend (through a VPC link if given)."""

    uri: str  # http://${nlb.dns_name}/
    method: str = "GET"
    path: str = "/"
    vpc_link: str | None = ref("vpc_link", default=None)
    integration: Literal["HTTP_PROXY", "HTTP"] = "HTTP_PROXY"
    backend_method: str | None = None  # the method sent to the backend; default: the route's


@dataclass(frozen=True)
class RestApi(Spec):
    """An API Gateway REST API with its routes, resource policy and one deployed stage."""

    kind = "rest_api"
    attributes = ("id", "domain", "url")
    endpoint_type: Literal["PRIVATE", "REGIONAL", "EDGE"] = "PRIVATE"
    vpc_endpoints: tuple[str, ...] = refs("vpc_endpoint")  # execute-api endpoints a PRIVATE API is bound to
    policy: str | None = None  # resource policy, a JSON document
    routes: tuple[ApiRoute, ...] = ()
    stage: str = "prod"
    description: str = "managed by vpcctl"


# ----------------------------------------------------------- route 53 resolver


@dataclass(frozen=True)
class ResolverEndpoint(Spec):
    """A Route 53 Resolver endpoint: one IP address in each subnet."""

    kind = "resolver_endpoint"
    attributes = ("id", "ips")
    direction: Literal["INBOUND", "OUTBOUND"]
    subnets: tuple[str, ...] = refs("subnet")
    security_groups: tuple[str, ...] = refs("security_group")


@dataclass(frozen=True)
class ResolverRule(Spec):
    """A FORWARD rule: queries for `domain` from the associated VPCs go out through `endpoint`."""

    kind = "resolver_rule"
    domain: str
    endpoint: str = ref("resolver_endpoint")  # an OUTBOUND endpoint
    target_ips: tuple[str, ...] = ()  # addresses, or `${inbound.ips}`
    vpcs: tuple[str, ...] = refs("vpc")


# ---------------------------------------------------------------------- flows


@dataclass(frozen=True)
class Flow:
    """A connection the scenario promises: `client` ('internet', an instance or an ECS
    service) reaches `to` (a load balancer, instance, endpoint or a DNS name) on a port."""

    client: str
    to: str
    port: int
    protocol: Literal["tcp", "udp"] = "tcp"


FLOW_CLIENTS = ("instance", "ecs_service")
FLOW_DESTINATIONS = ("load_balancer", "instance", "vpc_endpoint", "resolver_endpoint")


SPECS: dict[str, type[Spec]] = {
    cls.kind: cls
    for cls in (
        Vpc,
        Subnet,
        InternetGateway,
        RouteTable,
        SecurityGroup,
        VpcPeering,
        VpcEndpoint,
        Instance,
        IamRole,
        LogGroup,
        EcrPullThroughCache,
        EcsCluster,
        TaskDefinition,
        EcsService,
        LoadBalancer,
        TargetGroup,
        Listener,
        HostedZone,
        DnsRecord,
        ElasticIp,
        NatGateway,
        VpcLink,
        RestApi,
        ResolverEndpoint,
        ResolverRule,
    )
}


@dataclass(frozen=True)
class Resource:
    """One entry of a scenario: a logical id, its kind and its spec."""

    id: str
    spec: Spec
    depends_on: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.spec.kind


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    description: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    description: str
    region: str
    parameters: dict[str, Parameter]
    values: dict[str, Any]  # parameter values after --set
    resources: dict[str, Resource]
    outputs: dict[str, str]
    lines: dict[str, int]  # logical id -> line, for messages
    flows: tuple[Flow, ...] = ()
    # Every key path's line (for checks that need the run's region, such as zone letters).
    key_lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)
    # The step graph (step id -> the steps it waits for), built once when the file is read.
    steps: dict[str, set[str]] = field(default_factory=dict, compare=False)


# ------------------------------------------------------------------ references

KeyPath = tuple[str | int, ...]


def ref_fields(obj: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, tuple[str, ...], str, str]]:
    """Every reference in a spec: (key path, allowed kinds, referenced id, top field name)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        kinds = f.metadata.get("ref")
        top = path[0] if path else f.name
        if kinds:
            if isinstance(value, tuple):
                for i, item in enumerate(value):
                    yield (*path, f.name, i), kinds, item, str(top)
            elif value is not None:
                yield (*path, f.name), kinds, value, str(top)
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    yield from ref_fields(item, (*path, f.name, i))
        elif dataclasses.is_dataclass(value):
            yield from ref_fields(value, (*path, f.name))


def runtime_values(obj: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str, str]]:
    """Every ${id.attr} in a spec's strings: (key path, id, attribute)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            sub = (*path, f.name, i) if isinstance(value, tuple) else (*path, f.name)
            if isinstance(item, str):
                for lid, attr in RUNTIME.findall(item):
                    yield sub, lid, attr
            elif dataclasses.is_dataclass(item):
                yield from runtime_values(item, sub)


RULES = "/rules"  # suffix of the second step of kinds with late fields


def has_late_step(resource: Resource) -> bool:
    """Whether the resource has a second step for its late fields (rules, targets)."""
    spec = resource.spec
    return any(getattr(spec, name) for name in type(spec).late_fields)


def final_step(resource: Resource) -> str:
    """The step after which a resource is complete."""
    return resource.id + RULES if has_late_step(resource) else resource.id
