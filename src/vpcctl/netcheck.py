"""Offline network preflight: what in a scenario will not work on AWS, why, and the fix.

``check(scenario)`` reasons over the validated model only: no AWS call, no I/O, so
``up`` can run it before touching anything. Each rule is one small function
registered with ``@rule(id, summary)``; it yields findings and ``check`` stamps
them with the rule's id. A new resource kind gets its rules by adding functions,
not by editing the ones here.

The network reasoning (security groups, routes, endpoints, DNS, hop by hop) is the
network model's (``vpcctl.network``): the rules here ask it over the snapshot of the
scenario's specs and turn each broken hop into a finding with its rule id and fix.
`check --live` and the sandbox ask the same model over AWS's and the emulator's state.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from vpcctl import images, model, network
from vpcctl.errors import FAILED, VpcctlError
from vpcctl.network import evaluate, from_specs

ERROR: Literal["error"] = "error"
WARNING: Literal["warning"] = "warning"
ANYWHERE = "0.0.0.0/0"
DEFAULT_SG = network.DEFAULT_GROUP


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Literal["error", "warning"]
    resource: str  # logical id
    message: str  # what goes wrong on AWS, and why
    fix: str  # the concrete change to the scenario


class CheckFailed(VpcctlError):
    """`vpcctl check` found at least one error-level finding: exit code 1, as for a
    failed step, since AWS would refuse or the deployment would never serve."""

    exit_code = FAILED


RuleFn = Callable[["Net"], Iterable[Finding]]


@dataclass(frozen=True)
class CheckRule:
    id: str
    summary: str
    fn: RuleFn


RULES: list[CheckRule] = []


def rule(rule_id: str, summary: str) -> Callable[[RuleFn], RuleFn]:
    """Register a rule. Ids are stable: scripts and JSON consumers match on them."""

    def register(fn: RuleFn) -> RuleFn:
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"rule id {rule_id} registered twice")
        RULES.append(CheckRule(rule_id, summary, fn))
        return fn

    return register


def error(resource: str, message: str, fix: str) -> Finding:
    return Finding("", ERROR, resource, message, fix)


def warning(resource: str, message: str, fix: str) -> Finding:
    return Finding("", WARNING, resource, message, fix)


def check(scenario: model.Scenario) -> list[Finding]:
    """Every finding of every rule, in rule order. Pure: reads the scenario only."""
    net = Net(scenario)
    return [dataclasses.replace(f, rule=r.id) for r in RULES for f in r.fn(net)]


def errors_in(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def summary(findings: list[Finding]) -> str:
    """'1 error, 2 warnings'."""
    bad, rest = len(errors_in(findings)), len(findings) - len(errors_in(findings))
    return f"{bad} error{'' if bad == 1 else 's'}, {rest} warning{'' if rest == 1 else 's'}"


def report(scenario: model.Scenario, findings: list[Finding]) -> dict[str, Any]:
    """The JSON document of `vpcctl check --output json`: findings, and every flow with its hops."""
    return {
        "scenario": scenario.name,
        "file": scenario.file,
        "errors": len(errors_in(findings)),
        "warnings": len(findings) - len(errors_in(findings)),
        "rules": [r.id for r in RULES],
        "findings": [dataclasses.asdict(f) for f in findings],
        "flows": [r.as_dict() for r in flows(scenario)],
    }


def fail_on_errors(scenario: model.Scenario, findings: list[Finding]) -> None:
    bad = errors_in(findings)
    if bad:
        raise CheckFailed(
            f"{scenario.name}: {summary(findings)}; AWS would refuse it or it would not serve",
            hint="apply each finding's fix to the scenario, then run check again",
        )


# ------------------------------------------------------------ the look-ups


class Net:
    """Look-ups over one scenario that the rules share, and its network model."""

    def __init__(self, scenario: model.Scenario) -> None:
        self.scenario = scenario
        self.res = scenario.resources
        self.network = from_specs.build(scenario)

    def of(self, kind: str) -> list[tuple[str, Any]]:
        return [(lid, r.spec) for lid, r in self.res.items() if r.kind == kind]

    def spec(self, lid: str) -> Any:
        return self.res[lid].spec

    def route_table(self, subnet: str) -> str | None:
        """None: the VPC's main route table, which vpcctl leaves with its local route only."""
        table = self.network.route_table(subnet)
        return table.id if table else None

    def to_igw(self, subnet: str) -> bool:
        route = self.network.default_route(subnet)
        return bool(route and route.kind == "igw")

    def table_name(self, subnet: str) -> str:
        return self.network.table_name(subnet)

    def vpc_of(self, subnets: Iterable[str]) -> str | None:
        return next((self.spec(s).vpc for s in subnets), None)

    def zone(self, subnet: str) -> str:
        az = self.spec(subnet).az
        return az if az.startswith(self.scenario.region) else f"{self.scenario.region}{az}"

    def endpoints(self, vpc: str, service: str) -> list[tuple[str, model.VpcEndpoint]]:
        return [(lid, e) for lid, e in self.of("vpc_endpoint") if e.vpc == vpc and short_service(e.service) == service]

    def load_balancers_of(self, target_group: str) -> list[str]:
        """Load balancers that send to a target group, through their listeners."""
        lbs = [ls.load_balancer for _, ls in self.of("listener") if ls.target_group == target_group]
        return list(dict.fromkeys(lbs))

    @cached_property
    def registry(self) -> dict[str, list[network.Result]]:
        """Service -> its tasks' flows to ecr.api, ecr.dkr, logs and S3, from the model."""
        out = {}
        for sid, svc in services(self):
            tasks = evaluate.host_party(self.network.hosts[sid])
            out[sid] = network.registry_results(self.network, tasks, bool(self.spec(svc.task_definition).log_group))
        return out

    @cached_property
    def targets(self) -> list[tuple[Any, Any, network.Result]]:
        return network.all_target_results(self.network)

    @cached_property
    def declared(self) -> list[network.Result]:
        return [network.flow(self.network, f.client, f.to, f.protocol, f.port) for f in self.scenario.flows]


def flows(scenario: model.Scenario) -> list[network.Result]:
    """Every flow over the scenario's model: the declared ones, then those vpcctl derives
    (each service to its registry, each load balancer to every target, the Resolver's clients)."""
    net = Net(scenario)
    derived = [r for results in net.registry.values() for r in results] + [r for _, _, r in net.targets]
    return net.declared + derived + network.resolver_results(net.network)


def short_service(service: str) -> str:
    return from_specs.short_service(service)


refs_to = from_specs.refs_to


def groups(names: tuple[str, ...]) -> tuple[str, ...]:
    """AWS attaches the VPC's default group to an ENI that names none."""
    return names or (DEFAULT_SG,)


def _network(cidr: str | None) -> ipaddress.IPv4Network | None:
    if not cidr or model.RUNTIME.search(cidr):
        return None
    return ipaddress.IPv4Network(cidr)


def group_names(names: tuple[str, ...]) -> str:
    return ", ".join("the VPC's default security group" if g == DEFAULT_SG else g for g in names)


def services(net: Net) -> list[tuple[str, model.EcsService]]:
    return net.of("ecs_service")


def _port(value: Any) -> int | None:
    """A health-check port: a number (maybe as a string); None for 'traffic-port' or a run-time value."""
    text = str(value)
    return int(text) if text.isdigit() else None


def internet_path(net: Net, svc: model.EcsService, subnet: str) -> tuple[bool, str]:
    """Whether tasks in the subnet reach public addresses, and if not, why not (the model's answer)."""
    return evaluate.leaves(net.network, subnet, svc.assign_public_ip)


@dataclass(frozen=True)
class Attachment:
    """One load balancer in front of one ECS service, through one target group."""

    service: str
    spec: model.EcsService
    target_group: str
    tg: model.TargetGroup
    lb: str
    port: int  # the containerPort ECS registers: the traffic port


def attachments(net: Net) -> Iterator[Attachment]:
    for sid, svc in services(net):
        for entry in svc.load_balancers:
            for lb in net.load_balancers_of(entry.target_group):
                yield Attachment(sid, svc, entry.target_group, net.spec(entry.target_group), lb, entry.port)


def registry_rule(hop: network.Hop) -> str:
    """The rule a broken hop of a task's registry flow falls under (for live findings and hints)."""
    if hop.kind == "route":
        return "pull-path"
    return "task-egress-443" if hop.public else "endpoint-sg-443"


def target_rule(result: network.Result, hop: network.Hop) -> str:
    """The rule a broken hop from a load balancer to a target falls under."""
    if result.label == "target health-check":
        return "health-check-port"
    return "lb-egress" if hop.kind == "egress" else "target-ingress"


def flow_rules(result: network.Result) -> set[str]:
    """The rules a broken declared flow falls under: `flow`, and the Resolver's where it broke there."""
    rules = {"flow"} if result.broken else set()
    for hop in result.broken:
        if hop.kind == "dns-loop":
            rules.add("resolver-rule-loop")
        elif hop.kind in ("egress", "ingress") and hop.port == network.DNS:
            rules.add("resolver-sg-53")
    return rules


def _sg_findings(hops: Iterable[network.Hop], outcome: str, resource: str | None = None) -> Iterator[Finding]:
    for hop in hops:
        if hop.kind in ("egress", "ingress") and not hop.ok:
            yield error(resource or hop.holder, f"{hop.detail}: {outcome}", hop.fix)


def _unique(findings: Iterable[Finding]) -> Iterator[Finding]:
    seen = set()
    for f in findings:
        if f not in seen:
            seen.add(f)
            yield f


# -------------------------------------------------------------------- rules


@rule("pull-path", "every Fargate task's subnet has a way to its image registry (and CloudWatch Logs)")
def pull_path(net: Net) -> Iterator[Finding]:
    for sid, results in net.registry.items():
        svc = net.spec(sid)
        by_subnet: dict[str, list[tuple[str, network.Hop]]] = {}
        for result in results:
            for hop in result.broken:
                if hop.kind == "route":
                    by_subnet.setdefault(hop.where, []).append((result.destination, hop))
        uses_endpoints = any(net.endpoints(net.vpc_of(svc.subnets) or "", s) for s in network.REGISTRY)
        for subnet in svc.subnets:
            if subnet in by_subnet:
                yield _pull_finding(net, sid, subnet, by_subnet[subnet], uses_endpoints)


def _pull_finding(
    net: Net, sid: str, subnet: str, gaps: list[tuple[str, network.Hop]], uses_endpoints: bool
) -> Finding:
    why = gaps[0][1].reason[0]
    missing = ", ".join(h.reason[1] for _, h in gaps)
    if any(service != "logs" for service, _ in gaps):
        what = f"cannot pull their image: {why}, and {missing}"
        then = "on AWS they stay PENDING, then stop with CannotPullContainerError"
    else:
        what = f"cannot send their awslogs output: {why}, and {missing}"
        then = "on AWS they stop with ResourceInitializationError (failed to validate logger args)"
    table = net.table_name(subnet)
    fixes = [f"set assign_public_ip: true on {sid}"] if net.to_igw(subnet) else []
    if uses_endpoints:
        # The scenario chose PrivateLink: complete it rather than suggest another design.
        fixes.append("; ".join(h.reason[2] for _, h in gaps))
    else:
        fixes.append(f"route 0.0.0.0/0 in {table} to a NAT gateway")
        interface = ", ".join(service for service, _ in gaps if service != "s3")
        s3 = f" and an s3 gateway endpoint on {table}" if any(service == "s3" for service, _ in gaps) else ""
        fixes.append(f"add interface endpoints {interface} in {subnet}{s3}")
    return error(sid, f"tasks of {sid} in {subnet} {what}; {then}", ", or ".join(fixes))


@rule("image-registry", "tasks that reach registries only through the ECR endpoints use a private ECR image")
def image_registry(net: Net) -> Iterator[Finding]:
    for sid, svc in services(net):
        # Only where the endpoints are the way out: with no way at all, pull-path says so.
        vpc = net.vpc_of(svc.subnets)
        offline = [s for s in svc.subnets if not internet_path(net, svc, s)[0]]
        if not offline or not vpc or not net.endpoints(vpc, "ecr.dkr"):
            continue
        region = net.scenario.region
        for container in net.spec(svc.task_definition).containers:
            image = container.image
            if _through_cache(net, image) or images.registry_of(image).through_endpoints(region):
                continue
            if model.RUNTIME.search(image):
                continue  # known only at run time
            caches = [lid for lid, _ in net.of("ecr_pull_through_cache")]
            via = f"${{{caches[0]}.uri}}/<repository>:<tag>" if caches else "a kind: ecr_pull_through_cache resource"
            yield error(
                sid,
                f"tasks of {sid} in {', '.join(offline)} reach a registry only through the ECR endpoints, which "
                f"serve this account's private ECR in {region}; image {image} (container {container.name}) is on "
                f"{images.registry_of(image).host}: on AWS the tasks stop with CannotPullContainerError",
                f"pull it through an ECR pull-through cache rule ({via}), push it to ECR in {region} and use "
                f"<account>.dkr.ecr.{region}.amazonaws.com/<repo>:<tag>, or give the subnet a NAT route",
            )


def _through_cache(net: Net, image: str) -> str | None:
    """The pull-through cache rule an image names as `${<rule>.uri}/...`, if any."""
    match = model.RUNTIME.match(image)
    named = match.group(1) if match and match.group(2) == "uri" else None
    return named if named in net.res and net.res[named].kind == "ecr_pull_through_cache" else None


@rule("pull-through-permissions", "tasks pulling through a cache rule have an execution role allowed the first pull")
def pull_through_permissions(net: Net) -> Iterator[Finding]:
    for lid, task in net.of("task_definition"):
        rules = [r for r in (_through_cache(net, c.image) for c in task.containers) if r]
        if not rules:
            continue
        role = task.execution_role
        allowed = _allowed_actions(net.spec(role).policy) if role else []
        missing = [a for a in images.FIRST_PULL_ACTIONS if not any(fnmatch.fnmatchcase(a, p) for p in allowed)]
        if missing:
            yield error(
                lid,
                f"task definition {lid} pulls through cache rule {rules[0]}, but "
                f"{f'execution role {role}' if role else 'it has no execution role, which'} may not "
                f"{' and '.join(missing)}: on AWS the first pull creates the cache's repository and imports the "
                "image, and without them the tasks stop with CannotPullContainerError",
                f"allow {', '.join(images.FIRST_PULL_ACTIONS)} on ${{{rules[0]}.repositories}} in "
                f"{role or 'an execution role'}'s policy",
            )


def _allowed_actions(policy: str | None) -> list[str]:
    """The actions an inline policy allows (its statements' resources are not evaluated)."""
    if not policy:
        return []
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return []
    out: list[str] = []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") == "Allow":
            action = statement.get("Action", [])
            out += [action] if isinstance(action, str) else list(action)
    return out


@rule(
    "pull-through-first-pull",
    "tasks without a way to the internet pull through a cache rule that vpcctl warms (warm: true)",
)
def pull_through_first_pull(net: Net) -> Iterator[Finding]:
    for sid, svc in services(net):
        offline = [s for s in svc.subnets if not internet_path(net, svc, s)[0]]
        task = net.spec(svc.task_definition)
        cold = [r for r in (_through_cache(net, c.image) for c in task.containers) if r and not net.spec(r).warm]
        if offline and cold:
            yield error(
                sid,
                f"tasks of {sid} in {', '.join(offline)} pull through cache rule {cold[0]} over the ECR endpoints "
                f"only, and {cold[0]} has warm: false: AWS documents that the first pull of an image through a "
                "cache rule over interface endpoints needs a route to the internet from the VPC (later pulls come "
                "from the cache); on a fresh account the tasks stop with CannotPullContainerError",
                f"set warm: true on {cold[0]} (up then pulls each image through the rule once, before the service "
                "starts), or give the subnets a NAT route for the first deployment; if the cache already holds "
                "the images, check --live says so",
            )


@rule("health-check-answer", "the health check asks the image for a port and path it answers with a matching code")
def health_check_answer(net: Net) -> Iterator[Finding]:
    for a in attachments(net):
        check = a.tg.health_check
        protocol = check.protocol or ("TCP" if a.tg.protocol in ("TCP", "UDP", "TLS") else a.tg.protocol)
        container = next(
            (c for c in net.spec(a.spec.task_definition).containers if c.name == a.spec.load_balancers[0].container),
            None,
        )
        if container is None:
            continue  # port-mismatch names the missing container
        port = _port(check.port) or a.port
        path = check.path or "/"
        code = images.answer(container.image, container.command, container.port, port, path)
        where = f"{a.target_group}'s {protocol} health check on port {port}" + (
            f" at {path}" if protocol in ("HTTP", "HTTPS") else ""
        )
        if code is None:
            yield error(
                a.target_group,
                f"{where}: nothing in container {container.name} ({container.image}) listens there; on AWS the "
                f"targets of {a.service} stay unhealthy (Target.FailedHealthChecks)",
                f"check a port the container listens on (its port is {container.port})",
            )
        elif protocol in ("HTTP", "HTTPS") and not images.matches(check.matcher or "200", code):
            yield error(
                a.target_group,
                f"{where}: {container.image} answers {code}, outside the matcher {check.matcher or '200'}; on AWS "
                f"the targets of {a.service} stay unhealthy (Target.ResponseCodeMismatch)",
                f"point health_check.path at a page {container.image} serves with 200 (such as /), "
                "or set health_check.matcher",
            )


@rule("endpoint-sg-443", "the interface endpoints tasks use admit HTTPS from them, and the tasks may send it")
def endpoint_sg_443(net: Net) -> Iterator[Finding]:
    for results in net.registry.values():
        for result in results:
            outcome = f"calls to {result.destination} time out and the tasks stop before running"
            hops = [h for h in result.broken if h.holder in net.res and net.res[h.holder].kind == "vpc_endpoint"]
            hops += [h for h in result.broken if h.kind == "egress" and not h.public]
            yield from _unique(_sg_findings(hops, outcome))


@rule("task-egress-443", "tasks may send HTTPS to the registry's public addresses when their path needs it")
def task_egress_443(net: Net) -> Iterator[Finding]:
    for sid, results in net.registry.items():
        broken = [h for r in results for h in r.broken if h.kind == "egress" and h.public]
        if broken:
            svc = net.spec(sid)
            outward = [s for s in svc.subnets if evaluate.leaves(net.network, s, svc.assign_public_ip)[0]] or [
                s for s in svc.subnets if net.route_table(s)
            ]
            yield error(
                sid,
                f"egress of {group_names(groups(svc.security_groups))} (tasks of {sid}) sends no TCP 443 to "
                f"0.0.0.0/0, so tasks in {', '.join(outward)} cannot fetch image layers from S3 or reach the "
                "registry; on AWS they stop with CannotPullContainerError",
                broken[0].fix,
            )


@rule("endpoint-private-dns", "interface endpoints with private DNS are in a VPC with DNS support and hostnames")
def endpoint_private_dns(net: Net) -> Iterator[Finding]:
    for eid, endpoint in net.of("vpc_endpoint"):
        if endpoint.type != "interface" or not endpoint.private_dns:
            continue
        vpc = net.spec(endpoint.vpc)
        off = [name for name, on in (("dns_support", vpc.dns_support), ("dns_hostnames", vpc.dns_hostnames)) if not on]
        if off:
            yield error(
                eid,
                f"AWS refuses to create endpoint {eid}: 'Enabling private DNS requires both enableDnsSupport and "
                f"enableDnsHostnames VPC attributes set to true' (VPC {endpoint.vpc} has {' and '.join(off)} off)",
                f"set {' and '.join(f'{n}: true' for n in off)} on VPC {endpoint.vpc}",
            )


@rule("port-mismatch", "target group port, the service's containerPort and the container's port agree")
def port_mismatch(net: Net) -> Iterator[Finding]:
    for sid, svc in services(net):
        task = net.spec(svc.task_definition)
        for entry in svc.load_balancers:
            container = next((c for c in task.containers if c.name == entry.container), None)
            if container is None:
                names = ", ".join(c.name for c in task.containers)
                yield error(
                    sid,
                    f"ECS refuses to create {sid}: its load balancer names container '{entry.container}', "
                    f"which task definition {svc.task_definition} does not have",
                    f"set container to one of: {names}",
                )
                continue
            if container.port != entry.port:
                yield error(
                    sid,
                    f"ECS refuses to create {sid}: container {container.name} of {svc.task_definition} has no "
                    f"container port {entry.port} (its port is {container.port})",
                    f"make the service's load balancer port and container {container.name}'s port the same",
                )
            tg = net.spec(entry.target_group)
            if tg.port != entry.port:
                yield warning(
                    entry.target_group,
                    f"target group {entry.target_group} says port {tg.port}, but ECS registers the tasks of {sid} "
                    f"on {entry.port}: traffic and a traffic-port health check go to {entry.port}, and security "
                    f"group rules written for {tg.port} do nothing",
                    f"set port: {entry.port} on {entry.target_group}",
                )


@rule("target-group-listener", "every target group a service uses is behind a listener")
def target_group_listener(net: Net) -> Iterator[Finding]:
    for sid, svc in services(net):
        for entry in svc.load_balancers:
            if not net.load_balancers_of(entry.target_group):
                yield error(
                    sid,
                    f"ECS refuses to create {sid}: target group {entry.target_group} does not have an associated "
                    "load balancer (no listener forwards to it)",
                    f"add a listener with target_group: {entry.target_group} on a load balancer",
                )


@rule("awsvpc-ip-target", "Fargate (awsvpc) services sit behind target groups of type ip")
def awsvpc_ip_target(net: Net) -> Iterator[Finding]:
    for sid, svc in services(net):
        for entry in svc.load_balancers:
            if net.spec(entry.target_group).target_type != "ip":
                yield error(
                    sid,
                    f"ECS refuses to create {sid}: target group {entry.target_group} has target type instance, "
                    "which is incompatible with the awsvpc network mode of Fargate tasks",
                    f"set target_type: ip on {entry.target_group}",
                )


def _target_hops(net: Net, kind: str, direction: str) -> Iterator[tuple[Any, network.Hop]]:
    for lb, _, result in net.targets:
        if result.label == f"target {kind}":
            for hop in result.broken:
                if hop.kind == direction:
                    yield lb, hop


TIMEOUT = "targets go unhealthy (Target.Timeout) and requests get HTTP 504"
HEALTH_TIMEOUT = "health checks time out, targets go unhealthy (Target.Timeout) and ECS keeps replacing the tasks"


@rule("lb-egress", "the load balancer's security groups send the traffic port to the targets")
def lb_egress(net: Net) -> Iterator[Finding]:
    hops = [h for _, h in _target_hops(net, "traffic", "egress")]
    yield from _unique(_sg_findings(hops, "requests time out (HTTP 504) and health checks fail"))


@rule("target-ingress", "the targets' security groups admit the traffic port from the load balancer")
def target_ingress(net: Net) -> Iterator[Finding]:
    yield from _unique(_sg_findings([h for _, h in _target_hops(net, "traffic", "ingress")], TIMEOUT))


@rule("health-check-port", "a separate health-check port is open from the load balancer to the targets")
def health_check_port(net: Net) -> Iterator[Finding]:
    hops = [h for direction in ("egress", "ingress") for _, h in _target_hops(net, "health-check", direction)]
    yield from _unique(_sg_findings(hops, HEALTH_TIMEOUT))


@rule("alb-two-azs", "an Application Load Balancer spans at least two Availability Zones")
def alb_two_azs(net: Net) -> Iterator[Finding]:
    for lid, lb in net.of("load_balancer"):
        zones = {net.zone(s) for s in lb.subnets}
        if lb.type == "application" and len(zones) < 2:
            yield error(
                lid,
                f"AWS refuses to create {lid}: an Application Load Balancer needs subnets in at least two "
                f"Availability Zones; it has {', '.join(lb.subnets) or 'none'} in {', '.join(sorted(zones)) or 'none'}",
                f"add a subnet in another Availability Zone to {lid}'s subnets",
            )


@rule("internet-facing-igw", "an internet-facing load balancer sits in subnets routed to an internet gateway")
def internet_facing_igw(net: Net) -> Iterator[Finding]:
    for lid, lb in net.of("load_balancer"):
        if lb.scheme != "internet-facing":
            continue
        vpc = net.vpc_of(lb.subnets)
        has_igw = any(g.vpc == vpc for _, g in net.of("internet_gateway"))
        for subnet in lb.subnets:
            if net.to_igw(subnet):
                continue
            outcome = (
                f"AWS creates {lid}, but its node in {subnet} cannot answer clients on the internet "
                "(connections to that address time out)"
                if has_igw
                else f"AWS refuses to create {lid}: VPC {vpc} has no internet gateway"
            )
            yield error(
                lid,
                f"{lid} is internet-facing but {subnet} has no 0.0.0.0/0 route to an internet gateway "
                f"({net.table_name(subnet)}): {outcome}",
                f"put {lid} in public subnets, route 0.0.0.0/0 in {net.table_name(subnet)} to an internet gateway, "
                "or make it scheme: internal",
            )


# ------------------------------------------------- NAT gateways and peering
# These kinds may not be in the model yet; each rule finds nothing until they are.


@rule("nat-public-subnet", "a NAT gateway sits in a subnet routed to an internet gateway")
def nat_public_subnet(net: Net) -> Iterator[Finding]:
    for lid, nat in net.of("nat_gateway"):
        if getattr(nat, "connectivity_type", "public") == "private":
            continue  # a private NAT never goes to the internet
        for subnet in refs_to(nat, "subnet"):
            if not net.to_igw(subnet):
                yield error(
                    lid,
                    f"NAT gateway {lid} is in {subnet}, which has no 0.0.0.0/0 route to an internet gateway "
                    f"({net.table_name(subnet)}): traffic routed to it goes nowhere, and tasks that pull "
                    "through it stop with CannotPullContainerError",
                    f"put {lid} in a public subnet, or route 0.0.0.0/0 in {net.table_name(subnet)} to an internet "
                    "gateway",
                )


def peerings(net: Net) -> Iterator[tuple[str, str, str]]:
    """(peering, requester VPC, accepter VPC) for peerings between two VPCs of the scenario."""
    for lid, spec in net.of("vpc_peering"):
        vpcs = refs_to(spec, "vpc")
        if len(vpcs) == 2:  # a peer outside the scenario cannot be reasoned about
            yield lid, vpcs[0], vpcs[1]


@rule("peering-overlap", "peered VPCs do not overlap")
def peering_overlap(net: Net) -> Iterator[Finding]:
    for lid, a, b in peerings(net):
        cidr_a, cidr_b = (ipaddress.IPv4Network(net.spec(v).cidr) for v in (a, b))
        if cidr_a.overlaps(cidr_b):
            yield error(
                lid,
                f"VPCs {a} ({cidr_a}) and {b} ({cidr_b}) overlap: AWS fails peering {lid} "
                "(overlapping IPv4 address range) and no route between them can be made",
                f"give {b} a CIDR that does not overlap {cidr_a}",
            )


@rule("peering-routes", "both sides of a peering route the other VPC's CIDR through it")
def peering_routes(net: Net) -> Iterator[Finding]:
    for lid, a, b in peerings(net):
        for here, there in ((a, b), (b, a)):
            if not _routes_through(net, lid, here, there):
                yield error(
                    lid,
                    f"no route table in {here} sends {net.spec(there).cidr} ({there}) through peering {lid}: "
                    f"packets from {here} never reach {there}, so connections across the peering time out "
                    "whichever side opens them",
                    f"add a route {{destination: {net.spec(there).cidr}, peering: {lid}}} to {here}'s route "
                    "tables of the subnets that talk across",
                )


def _routes_through(net: Net, peering: str, vpc: str, peer: str) -> bool:
    target = ipaddress.IPv4Network(net.spec(peer).cidr)
    for _, table in net.of("route_table"):
        if table.vpc != vpc:
            continue
        for route in table.routes:
            destination = _network(route.destination)
            if route.peering == peering and destination is not None and destination.overlaps(target):
                return True
    return False


# ------------------------------------------- API Gateway, VPC links, Resolver
# Source-condition keys that name where a call comes from, in lower case as IAM compares them.
SOURCE_KEYS = ("aws:sourcevpc", "aws:sourcevpce")


def private_apis(net: Net) -> Iterator[tuple[str, model.RestApi]]:
    for lid, api in net.of("rest_api"):
        if api.endpoint_type == "PRIVATE":
            yield lid, api


@rule("execute-api-endpoint", "a private REST API is bound to an execute-api interface endpoint")
def execute_api_endpoint(net: Net) -> Iterator[Finding]:
    everywhere = [lid for lid, e in net.of("vpc_endpoint") if short_service(e.service) == "execute-api"]
    for lid, api in private_apis(net):
        if not everywhere:
            yield error(
                lid,
                f"private API {lid} can be called only through an execute-api interface endpoint, and the "
                "scenario has none: every call fails (the name does not resolve, or 403 Forbidden)",
                "add a vpc_endpoint with service: execute-api (interface, private_dns: true) in the clients' VPC",
            )
            continue
        if not api.vpc_endpoints:
            yield error(
                lid,
                f"private API {lid} is bound to no VPC endpoint: AWS generates no endpoint-specific name and no "
                "alias for it, so the peer's resolver has nothing to point at",
                f"set vpc_endpoints: [{everywhere[0]}] on {lid}",
            )
        for endpoint in api.vpc_endpoints:
            spec = net.spec(endpoint)
            if short_service(spec.service) != "execute-api" or spec.type != "interface":
                yield error(
                    lid,
                    f"AWS refuses to bind private API {lid} to {endpoint}: it is a {spec.type} endpoint for "
                    f"{short_service(spec.service)}, not an execute-api interface endpoint",
                    f"bind {lid} to {everywhere[0]}",
                )


@rule("private-api-policy", "a private REST API has a resource policy that allows calls only through its endpoint")
def private_api_policy(net: Net) -> Iterator[Finding]:
    for lid, api in private_apis(net):
        if not api.policy:
            yield error(
                lid,
                f"private API {lid} has no resource policy: AWS denies every call to a private API without "
                "one (403 Forbidden, 'User: anonymous is not authorized to perform: execute-api:Invoke')",
                'add a policy that allows execute-api:Invoke on "execute-api:/*" with condition '
                '{"StringEquals": {"aws:SourceVpce": "${<endpoint>.id}"}}',
            )
            continue
        try:
            document = json.loads(api.policy)
        except json.JSONDecodeError as exc:
            yield error(lid, f"the resource policy of {lid} is not JSON ({exc}): AWS refuses it", "fix the JSON")
            continue
        yield from _policy_findings(lid, document)


def _policy_findings(lid: str, document: Any) -> Iterator[Finding]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        for operator, pairs in (statement.get("Condition") or {}).items():
            for key, values in (pairs or {}).items():
                if key.lower() not in SOURCE_KEYS:
                    continue
                listed = values if isinstance(values, list) else [values]
                if "Not" in operator:
                    yield error(
                        lid,
                        f"the resource policy of {lid} allows execute-api:Invoke where {key} is NOT "
                        f"{', '.join(map(str, listed))} ({operator} on an Allow): that grants every other "
                        "VPC and endpoint, and denies only the one named",
                        "use StringEquals with aws:SourceVpce (the execute-api endpoint's id) on the Allow",
                    )
                if any(_network_like(str(v)) for v in listed):
                    yield error(
                        lid,
                        f"the resource policy of {lid} compares {key} with a CIDR "
                        f"({', '.join(map(str, listed))}), but {key} holds a VPC or endpoint id: the condition "
                        "never matches as meant",
                        'name the endpoint: {"StringEquals": {"aws:SourceVpce": "${<endpoint>.id}"}}, or a VPC '
                        "id with aws:SourceVpc (aws:SourceIp does not apply to calls through an endpoint)",
                    )


def _network_like(value: str) -> bool:
    try:
        ipaddress.IPv4Network(value, strict=False)
        return True
    except ValueError:
        return False


@rule("vpc-link-nlb", "a REST API VPC link targets a Network Load Balancer")
def vpc_link_nlb(net: Net) -> Iterator[Finding]:
    for lid, link in net.of("vpc_link"):
        lb = net.spec(link.load_balancer)
        if lb.type != "network":
            yield error(
                lid,
                f"AWS refuses VPC link {lid}: a REST API VPC link targets a Network Load Balancer, and "
                f"{link.load_balancer} is an {lb.type} load balancer",
                f"point {lid} at a load_balancer with type: network (the article's NLB), listening for the ALB "
                "if you need one behind it",
            )


@rule("resolver-sg-53", "an inbound Resolver endpoint admits DNS on TCP and UDP 53 from its clients")
def resolver_sg_53(net: Net) -> Iterator[Finding]:
    for result in network.resolver_results(net.network):
        inbound = next(lid for lid, _ in net.of("resolver_endpoint") if result.destination.endswith(f" {lid}"))
        outcome = (
            "its DNS queries time out and the API's name does not resolve there"
            if any(h.kind == "ingress" for h in result.broken)
            else "forwarded queries time out"
        )
        yield from _unique(_sg_findings(result.broken, outcome, inbound))


@rule("resolver-rule-loop", "a Resolver forwarding rule is not associated with the VPC it forwards to")
def resolver_rule_loop(net: Net) -> Iterator[Finding]:
    for lid, rule_spec in net.of("resolver_rule"):
        for target in net.network.resolver_rules[lid].targets:
            vpc = net.network.resolver_endpoints[target].vpc if target in net.network.resolver_endpoints else None
            if vpc in rule_spec.vpcs:
                yield error(
                    lid,
                    f"rule {lid} forwards {rule_spec.domain} to {target} in VPC {vpc} and is associated with {vpc} "
                    "too: the inbound endpoint's own lookups are forwarded again, the queries loop and the name "
                    "never resolves",
                    f"associate {lid} only with the client VPCs: remove {vpc} from its vpcs",
                )


@rule("vpc-link-nlb-groups", "the NLB behind a REST API VPC link has no security groups")
def vpc_link_nlb_groups(net: Net) -> Iterator[Finding]:
    for lid, link in net.of("vpc_link"):
        lb = net.spec(link.load_balancer)
        if lb.type == "network" and lb.security_groups:
            yield error(
                link.load_balancer,
                f"{link.load_balancer} has security groups and VPC link {lid} sends to it: AWS evaluates them on "
                "the link's PrivateLink traffic, whose source addresses belong to API Gateway and cannot be named "
                "in a rule, so the API's requests are dropped (504 from the API) unless that evaluation is turned "
                "off on the load balancer",
                f"remove security_groups from {link.load_balancer} (a REST VPC link needs none)",
            )


@rule("flow", "every flow the scenario declares reaches its destination, hop by hop")
def declared_flows(net: Net) -> Iterator[Finding]:
    for flow_spec, result in zip(net.scenario.flows, net.declared, strict=True):
        if not result.ok:
            hop = result.broken[0]
            yield error(flow_spec.client, result.text(), hop.fix)


@rule("open-ingress", "only an internet-facing load balancer admits 0.0.0.0/0")
def open_ingress(net: Net) -> Iterator[Finding]:
    users: dict[str, list[str]] = {}
    for lid, r in net.res.items():
        if r.kind == "load_balancer" and r.spec.scheme == "internet-facing":  # type: ignore[attr-defined]
            continue
        for group in refs_to(r.spec, "security_group") if r.kind != "security_group" else []:
            users.setdefault(group, []).append(lid)
    for gid, group in net.of("security_group"):
        open_rules = [r for r in group.ingress if r.cidr == ANYWHERE]
        if open_rules and gid in users:
            ports = ", ".join(f"{r.protocol}/{r.port if r.port is not None else 'all'}" for r in open_rules)
            yield warning(
                gid,
                f"{gid} admits {ports} from 0.0.0.0/0 and is attached to {', '.join(users[gid])}: anyone on the "
                "internet who finds a path reaches them directly, not only through the load balancer",
                f"admit only the load balancer's group or the clients' CIDR in {gid}",
            )


@rule("listener-certificate", "an HTTPS or TLS listener has a certificate, and only those do")
def listener_certificate(net: Net) -> Iterator[Finding]:
    for lid, listener in net.of("listener"):
        secure = listener.protocol in ("HTTPS", "TLS")
        if secure and not listener.certificate_arn:
            yield error(
                lid,
                f"AWS refuses listener {lid}: an {listener.protocol} listener needs a certificate "
                "(CertificateNotFound)",
                f"set certificate_arn on {lid} (an ACM certificate in {net.scenario.region}), or use HTTP",
            )
        if listener.certificate_arn and not secure:
            yield warning(
                lid,
                f"listener {lid} has a certificate but speaks {listener.protocol}: clients are served in clear "
                "text and the certificate is unused",
                f"set protocol: HTTPS and port: 443 on {lid}",
            )
