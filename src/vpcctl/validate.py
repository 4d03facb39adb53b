"""AWS's value constraints applied to a parsed scenario, before any AWS call.

Each check names the key path of the offending value; `Located.error` turns it into
file, line and key. The limits themselves live in `constraints` with their sources.
A string that still holds a run-time value (`${web.private_ip}`) is checked by AWS
when it is known: only its literal parts could be wrong, and they rarely are.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

from vpcctl import constraints as aws
from vpcctl import model
from vpcctl.errors import ScenarioError
from vpcctl.yamlpos import Located
from vpcctl.yamlpos import Path as KeyPath

Check = Callable[["Checker", KeyPath, Any], None]

# Short names (ecr.api) or full ones (com.amazonaws.ap-northeast-1.ecr.api).
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*")


def is_runtime(value: Any) -> bool:
    return isinstance(value, str) and bool(model.RUNTIME.search(value))


class Checker:
    """The checks of one scenario: each kind's fields, then relations between resources."""

    def __init__(self, doc: Located, scenario: model.Scenario) -> None:
        self.doc = doc
        self.scenario = scenario
        self.res = scenario.resources

    def fail(self, path: KeyPath, message: str, hint: str | None = None) -> ScenarioError:
        return self.doc.error(path, message, hint)

    def run(self) -> None:
        check_region(self.doc, self.scenario, self.scenario.region, ("region",))
        for lid, resource in self.res.items():
            path: KeyPath = ("resources", lid)
            check = KIND_CHECKS.get(resource.kind)
            if check:
                check(self, path, resource.spec)

    # --------------------------------------------------------------- helpers

    def range(self, path: KeyPath, value: int | None, bounds: tuple[int, int], what: str) -> None:
        if value is not None and not aws.in_range(value, bounds):
            raise self.fail(path, f"{value} is not a valid {what} ({bounds[0]}-{bounds[1]})")

    def port(self, path: KeyPath, value: int | None) -> None:
        self.range(path, value, aws.PORT, "port")

    def pattern(self, path: KeyPath, value: str | None, regex: Any, what: str) -> None:
        if value is None or is_runtime(value):
            return
        if not regex.fullmatch(value):
            raise self.fail(path, f"{value!r} is not a valid {what}")

    def cidr_size(self, path: KeyPath, cidr: str, bounds: tuple[int, int], what: str) -> None:
        prefix = ipaddress.IPv4Network(cidr).prefixlen
        if not aws.in_range(prefix, bounds):
            raise self.fail(path, f"{cidr}: AWS allows a {what} between /{bounds[0]} and /{bounds[1]}, not /{prefix}")

    def ipv4(self, path: KeyPath, value: str) -> None:
        if is_runtime(value):
            return
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise self.fail(path, f"{value!r} is not an IPv4 address") from None

    def dns_name(self, path: KeyPath, value: str) -> None:
        if not is_runtime(value) and not aws.is_dns_name(value):
            raise self.fail(path, f"{value!r} is not a valid DNS name (labels of 1-63 letters, digits or '-')")


def check_region(doc: Located, scenario: model.Scenario, region: str, path: KeyPath) -> None:
    """The Region exists, and every subnet's zone letter is one the Region has."""
    if region not in aws.known_regions():
        raise doc.error(path, f"unknown region '{region}'", hint="for example ap-northeast-1, us-east-1, eu-west-1")
    letters = aws.az_letters(region)
    for lid, resource in scenario.resources.items():
        spec = resource.spec
        if not isinstance(spec, model.Subnet):
            continue
        letter = spec.az.removeprefix(region) if spec.az.startswith(region) else spec.az
        if len(letter) != 1 or letter not in letters:
            raise doc.error(
                ("resources", lid, "az"),
                f"'{spec.az}' is not an Availability Zone of {region}",
                hint=f"{region} has zones {', '.join(letters)}",
            )


# ------------------------------------------------------------------- per kind


def _vpc(c: Checker, path: KeyPath, spec: model.Vpc) -> None:
    c.cidr_size((*path, "cidr"), spec.cidr, aws.VPC_PREFIX, "VPC CIDR")


def _subnet(c: Checker, path: KeyPath, spec: model.Subnet) -> None:
    c.cidr_size((*path, "cidr"), spec.cidr, aws.SUBNET_PREFIX, "subnet CIDR")


def _rule(c: Checker, path: KeyPath, rule: model.Rule) -> None:
    ports = {"port": rule.port, "from_port": rule.from_port, "to_port": rule.to_port}
    given = {k: v for k, v in ports.items() if v is not None}
    if rule.protocol == "all":
        if given:
            raise c.fail((*path, next(iter(given))), "protocol 'all' covers every port: give no port")
    elif rule.protocol == "icmp":
        for key, value in given.items():
            c.range((*path, key), value, aws.ICMP, "ICMP type or code")
    else:
        for key, value in given.items():
            c.port((*path, key), value)
        if not given:
            raise c.fail(path, f"a {rule.protocol} rule needs 'port', or 'from_port' and 'to_port'")
        if rule.port is not None and (rule.from_port is not None or rule.to_port is not None):
            raise c.fail((*path, "port"), "give 'port', or 'from_port' and 'to_port', not both")
        if rule.port is None and (rule.from_port is None or rule.to_port is None):
            raise c.fail(path, "a port range needs both 'from_port' and 'to_port'")
        if rule.from_port is not None and rule.to_port is not None and rule.from_port > rule.to_port:
            raise c.fail((*path, "to_port"), f"to_port {rule.to_port} is below from_port {rule.from_port}")
    if (rule.cidr is None) == (rule.source is None):
        raise c.fail(path, "a rule needs exactly one of 'cidr' and 'source'")
    c.pattern(
        (*path, "description"),
        rule.description,
        aws.SG_DESCRIPTION,
        "rule description (AWS allows 255 of a-z A-Z 0-9 space ._-:/()#,@[]+=&;{}!$*)",
    )


def _security_group(c: Checker, path: KeyPath, spec: model.SecurityGroup) -> None:
    c.pattern(
        (*path, "description"),
        spec.description,
        aws.SG_DESCRIPTION,
        "security group description (AWS allows 255 of a-z A-Z 0-9 space ._-:/()#,@[]+=&;{}!$*)",
    )
    for key in ("ingress", "egress"):
        for i, rule in enumerate(getattr(spec, key) or ()):
            _rule(c, (*path, key, i), rule)


def _route_table(c: Checker, path: KeyPath, spec: model.RouteTable) -> None:
    for i, route in enumerate(spec.routes):
        targets = [t for t in (route.gateway, route.nat_gateway, route.peering) if t]
        if len(targets) != 1:
            raise c.fail((*path, "routes", i), "a route needs exactly one of 'gateway', 'nat_gateway', 'peering'")


def _endpoint(c: Checker, path: KeyPath, spec: model.VpcEndpoint) -> None:
    c.pattern((*path, "service"), spec.service, _SERVICE, "endpoint service (such as ecr.api or s3)")
    if spec.type == "gateway" and (spec.subnets or spec.security_groups):
        raise c.fail((*path, "type"), "a gateway endpoint takes route_tables, not subnets or security_groups")
    if spec.type == "interface" and spec.route_tables:
        raise c.fail((*path, "route_tables"), "an interface endpoint takes subnets, not route_tables")


def _instance(c: Checker, path: KeyPath, spec: model.Instance) -> None:
    c.pattern((*path, "instance_type"), spec.instance_type, aws.INSTANCE_TYPE, "instance type (such as t3.micro)")
    c.pattern((*path, "ami"), spec.ami or None, aws.AMI_ID, "AMI id (ami- and 8 or 17 hex digits)")
    if len(spec.user_data.encode()) > aws.USER_DATA_BYTES:
        raise c.fail((*path, "user_data"), f"user data is limited to {aws.USER_DATA_BYTES // 1024} KB")


def _json_policy(c: Checker, path: KeyPath, text: str | None) -> None:
    """A policy document: JSON, an object with a Statement (IAM and API Gateway alike)."""
    if text is None:
        return
    try:
        policy = json.loads(text)
    except json.JSONDecodeError as exc:
        raise c.fail(path, f"the policy is not JSON: {exc.msg} (line {exc.lineno} of the policy)") from None
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise c.fail(path, "the policy is a JSON object with a 'Statement'")


def _iam_role(c: Checker, path: KeyPath, spec: model.IamRole) -> None:
    c.pattern(
        (*path, "service"), spec.service, aws.SERVICE_PRINCIPAL, "service principal (such as ecs-tasks.amazonaws.com)"
    )
    for i, arn in enumerate(spec.managed_policies):
        c.pattern((*path, "managed_policies", i), arn, aws.POLICY_ARN, "managed policy ARN")
    c.pattern(
        (*path, "description"), spec.description, aws.IAM_DESCRIPTION, "role description (1000 printable characters)"
    )
    _json_policy(c, (*path, "policy"), spec.policy)


def _log_group(c: Checker, path: KeyPath, spec: model.LogGroup) -> None:
    if spec.retention_days not in aws.LOG_RETENTION_DAYS:
        raise c.fail(
            (*path, "retention_days"),
            f"{spec.retention_days} days is not a retention CloudWatch Logs offers",
            hint="one of " + ", ".join(map(str, aws.LOG_RETENTION_DAYS)),
        )


def _task_definition(c: Checker, path: KeyPath, spec: model.TaskDefinition) -> None:
    if spec.cpu not in aws.FARGATE_MEMORY:
        raise c.fail(
            (*path, "cpu"),
            f"{spec.cpu} is not a Fargate cpu value",
            hint="one of " + ", ".join(map(str, aws.FARGATE_MEMORY)),
        )
    if spec.memory not in aws.FARGATE_MEMORY[spec.cpu]:
        allowed = aws.FARGATE_MEMORY[spec.cpu]
        raise c.fail(
            (*path, "memory"),
            f"Fargate does not run cpu {spec.cpu} with memory {spec.memory}",
            hint=f"with cpu {spec.cpu}: memory {allowed[0]}-{allowed[-1]} ({', '.join(map(str, allowed[:4]))}, ...)",
        )
    if not spec.containers:
        raise c.fail(path, "a task definition needs at least one container")
    names: set[str] = set()
    for i, container in enumerate(spec.containers):
        where = (*path, "containers", i)
        c.pattern((*where, "name"), container.name, aws.ECS_NAME, "container name (letters, digits, '_' and '-')")
        if container.name in names:
            raise c.fail((*where, "name"), f"two containers are named '{container.name}'")
        names.add(container.name)
        c.pattern((*where, "image"), container.image, aws.ECS_IMAGE, "container image")
        c.port((*where, "port"), container.port)
    if not any(container.essential for container in spec.containers):
        raise c.fail((*path, "containers"), "at least one container must be essential")


def _ecs_service(c: Checker, path: KeyPath, spec: model.EcsService) -> None:
    if spec.desired_count < 0:
        raise c.fail((*path, "desired_count"), f"desired_count {spec.desired_count} is below 0")
    c.range(
        (*path, "minimum_healthy_percent"), spec.minimum_healthy_percent, aws.HEALTHY_PERCENT, "minimum healthy percent"
    )
    c.range((*path, "maximum_percent"), spec.maximum_percent, aws.MAXIMUM_PERCENT, "maximum percent")
    task = c.res[spec.task_definition].spec
    assert isinstance(task, model.TaskDefinition)
    containers = {ct.name: ct for ct in task.containers}
    for i, lb in enumerate(spec.load_balancers):
        where = (*path, "load_balancers", i)
        if lb.container not in containers:
            raise c.fail(
                (*where, "container"),
                f"task definition '{spec.task_definition}' has no container '{lb.container}'",
                hint="containers: " + ", ".join(containers),
            )
        c.port((*where, "port"), lb.port)


def _health_check(c: Checker, path: KeyPath, hc: model.HealthCheck, protocol: str) -> None:
    if hc.path is not None and not is_runtime(hc.path):
        if (hc.protocol or protocol) not in ("HTTP", "HTTPS"):
            raise c.fail((*path, "path"), "a health-check path needs an HTTP or HTTPS health check")
        c.pattern(
            (*path, "path"),
            hc.path,
            aws.HEALTH_CHECK_PATH,
            "health-check path (it starts with '/', 1024 characters at most)",
        )
    custom_port = hc.port != "traffic-port" and not is_runtime(hc.port)
    if custom_port and (not hc.port.isdigit() or not aws.in_range(int(hc.port), aws.PORT)):
        raise c.fail((*path, "port"), f"{hc.port!r} is not 'traffic-port' or a port (1-65535)")
    c.range((*path, "interval"), hc.interval, aws.HEALTH_CHECK_INTERVAL, "health-check interval")
    c.range((*path, "healthy_threshold"), hc.healthy_threshold, aws.HEALTH_CHECK_THRESHOLD, "healthy threshold")
    c.range((*path, "unhealthy_threshold"), hc.unhealthy_threshold, aws.HEALTH_CHECK_THRESHOLD, "unhealthy threshold")


def _target_group(c: Checker, path: KeyPath, spec: model.TargetGroup) -> None:
    c.port((*path, "port"), spec.port)
    _health_check(c, (*path, "health_check"), spec.health_check, spec.protocol)


def _listener(c: Checker, path: KeyPath, spec: model.Listener) -> None:
    c.port((*path, "port"), spec.port)
    lb = c.res[spec.load_balancer].spec
    assert isinstance(lb, model.LoadBalancer)
    allowed = aws.LISTENER_PROTOCOLS[lb.type]
    if spec.protocol not in allowed:
        raise c.fail(
            (*path, "protocol"),
            f"{'an' if lb.type == 'application' else 'a'} {lb.type} load balancer has no {spec.protocol} listeners",
            hint="protocols: " + ", ".join(allowed),
        )
    if spec.protocol in aws.NEEDS_CERTIFICATE and not spec.certificate_arn:
        raise c.fail(
            (*path, "certificate_arn"),
            f"an {spec.protocol} listener needs a certificate",
            hint="set certificate_arn to an ACM certificate ARN, or use HTTP",
        )
    c.pattern(
        (*path, "certificate_arn"), spec.certificate_arn or None, aws.CERTIFICATE_ARN, "certificate ARN (ACM or IAM)"
    )


def _hosted_zone(c: Checker, path: KeyPath, spec: model.HostedZone) -> None:
    c.dns_name((*path, "name"), spec.name)


def _dns_record(c: Checker, path: KeyPath, spec: model.DnsRecord) -> None:
    c.dns_name((*path, "name"), spec.name)
    if (spec.alias is None) == (not spec.values):
        raise c.fail(path, "a record needs either 'alias' or 'values'")
    c.range((*path, "ttl"), spec.ttl, aws.TTL, "TTL")
    if spec.type == "A":
        for i, value in enumerate(spec.values):
            c.ipv4((*path, "values", i), value)


def _nat_gateway(c: Checker, path: KeyPath, spec: model.NatGateway) -> None:
    if spec.connectivity_type == "public" and not spec.elastic_ip:
        raise c.fail((*path, "elastic_ip"), "a public NAT gateway needs an elastic_ip")
    if spec.connectivity_type == "private" and spec.elastic_ip:
        raise c.fail((*path, "elastic_ip"), "a private NAT gateway takes no elastic_ip")


def _rest_api(c: Checker, path: KeyPath, spec: model.RestApi) -> None:
    c.pattern((*path, "stage"), spec.stage, aws.STAGE_NAME, "stage name (128 letters, digits, '-' or '_')")
    _json_policy(c, (*path, "policy"), spec.policy)
    for i, route in enumerate(spec.routes):
        where = (*path, "routes", i)
        for key in ("method", "backend_method"):
            method = getattr(route, key)
            if method is not None and method not in aws.HTTP_METHODS:
                raise c.fail((*where, key), f"'{method}' is not an HTTP method", hint=", ".join(aws.HTTP_METHODS))
        if not route.path.startswith("/"):
            raise c.fail((*where, "path"), f"the path '{route.path}' must start with '/'")
        if not route.uri.startswith(("http://", "https://")):
            raise c.fail((*where, "uri"), f"the uri '{route.uri}' must start with http:// or https://")


def _resolver_endpoint(c: Checker, path: KeyPath, spec: model.ResolverEndpoint) -> None:
    if len(spec.subnets) < aws.RESOLVER_MIN_IPS:
        raise c.fail((*path, "subnets"), f"a Resolver endpoint needs at least {aws.RESOLVER_MIN_IPS} subnets")


def _resolver_rule(c: Checker, path: KeyPath, spec: model.ResolverRule) -> None:
    c.dns_name((*path, "domain"), spec.domain)
    for i, ip in enumerate(spec.target_ips):
        c.ipv4((*path, "target_ips", i), ip)


KIND_CHECKS: dict[str, Check] = {
    "vpc": _vpc,
    "subnet": _subnet,
    "security_group": _security_group,
    "route_table": _route_table,
    "vpc_endpoint": _endpoint,
    "instance": _instance,
    "iam_role": _iam_role,
    "log_group": _log_group,
    "task_definition": _task_definition,
    "ecs_service": _ecs_service,
    "target_group": _target_group,
    "listener": _listener,
    "hosted_zone": _hosted_zone,
    "dns_record": _dns_record,
    "nat_gateway": _nat_gateway,
    "rest_api": _rest_api,
    "resolver_endpoint": _resolver_endpoint,
    "resolver_rule": _resolver_rule,
}


def values(doc: Located, scenario: model.Scenario) -> None:
    Checker(doc, scenario).run()
