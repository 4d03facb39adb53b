"""How long AWS takes, per kind: the typical seconds from a create to ready (and from a
delete to gone), and the critical path those durations give a scenario's own graph.

One table for all: the sandbox's delay profile, the first poll of a wait, and the
benchmark's bound read the same numbers.
"""

from __future__ import annotations

import functools
from typing import Any

from vpcctl import model

# AWS's typical durations, in seconds (the sandbox multiplies them by its time scale).
SECONDS = {
    "load_balancer": 150.0,  # provisioning -> active
    "endpoint": 90.0,  # pending -> available
    "nat_gateway": 100.0,
    "vpc_link": 180.0,  # PENDING -> AVAILABLE
    "resolver_endpoint": 90.0,  # CREATING -> OPERATIONAL
    "task_provisioning": 20.0,  # PROVISIONING -> PENDING (ENI attached)
    "task_pending": 25.0,  # PENDING -> RUNNING (image pulled), or STOPPED when it cannot be
    "task_stopping": 20.0,  # desired STOPPED -> STOPPED
    "task_replacement": 15.0,  # a service replaces a stopped task after this
    "nlb_health": 120.0,  # an NLB target's first passing checks
    "deregistration": 30.0,  # draining -> gone
    "lb_eni_release": 60.0,  # a deleted load balancer's network interfaces linger in its subnets
}

# Kind -> seconds from its create to ready (kinds not listed are usable at once).
READY = {
    "load_balancer": SECONDS["load_balancer"],
    "vpc_endpoint": SECONDS["endpoint"],
    "nat_gateway": SECONDS["nat_gateway"],
    "vpc_link": SECONDS["vpc_link"],
    "resolver_endpoint": SECONDS["resolver_endpoint"],
    "ecs_service": SECONDS["task_provisioning"] + SECONDS["task_pending"],  # every task RUNNING
}

# Kind -> seconds from its delete to gone, as far as what it holds is concerned.
GONE = {
    "ecs_service": SECONDS["task_stopping"],  # tasks release their interfaces
    "load_balancer": SECONDS["lb_eni_release"],  # its interfaces block subnets and groups
}

NETWORK_PROTOCOLS = ("TCP", "UDP", "TLS", "TCP_UDP")

# Edges along which AWS needs the referenced resource only to exist (an id, an ARN, a DNS
# name), though it is still provisioning: (dependent kind, referenced kind). Every other
# edge waits for its source to be ready, which is also what a pair AWS does not document
# gets. docs/readiness.md gives the AWS source of each pair. (vpc_link, load_balancer) is
# not one: AWS takes CreateVpcLink on an NLB still provisioning, then fails the link.
EXISTS_ENOUGH: set[tuple[str, str]] = {
    ("listener", "load_balancer"),  # CreateListener has no error for a load balancer not active yet
    ("route_table", "vpc_peering"),  # a route to a peering pending acceptance is a blackhole until active
    ("rest_api", "vpc_link"),  # "Deploying an API will wait if the status is PENDING"
    ("ecs_service", "listener"),  # ECS needs the target group attached to a load balancer
    ("ecs_service", "target_group"),
}


def needs_ready(kind: str, referenced: str) -> bool:
    """Whether a `kind` resource can be made only once the `referenced` one is ready."""
    return (kind, referenced) not in EXISTS_ENOUGH


def ready_seconds(kind: str) -> float:
    """Typical seconds from create to ready; 0 for a kind that is usable at once."""
    return READY.get(kind, 0.0)


def typical_ready(resource: model.Resource, scenario: model.Scenario | None) -> float:
    """Typical seconds from a resource's create to the end of its readiness wait: for an ECS
    service, its tasks RUNNING and then its targets' first passing check; for a listener
    that waits for the targets its group holds, that first check."""
    seconds = ready_seconds(resource.kind)
    if scenario is None:
        return seconds
    res = scenario.resources
    spec: Any = resource.spec
    groups: list[str] = []
    if resource.kind == "ecs_service":
        groups = [lb.target_group for lb in spec.load_balancers]
        groups += [lid for lid, r in res.items() if r.kind == "target_group" and resource.id in r.spec.services]  # type: ignore[attr-defined]
    elif resource.kind == "listener":
        group = res[spec.target_group].spec
        groups = [spec.target_group] if group.targets or group.services else []  # type: ignore[attr-defined]
    checks = [first_health_check(res[g].spec) for g in groups if g in res]  # type: ignore[arg-type]
    return seconds + max(checks, default=0.0)


def first_health_check(group: model.TargetGroup) -> float:
    """Seconds from registration (on an active load balancer) to a target's first healthy answer."""
    return SECONDS["nlb_health"] if group.protocol in NETWORK_PROTOCOLS else float(group.health_check.interval)


def references(resource: model.Resource, with_order: bool = True) -> set[str]:
    """Logical ids a resource needs to be created (references, run-time values, depends_on).
    Late fields (rules, registered targets) are set afterwards and are left out."""
    spec = resource.spec
    late = type(spec).late_fields
    found = {target for _, _, target, top in model.ref_fields(spec) if top not in late}
    found |= {target for path, target, _ in model.runtime_values(spec) if path[0] not in late}
    # depends_on orders creates (the scenario's choice); AWS enforces no deletion order by it.
    return (found | (set(resource.depends_on) if with_order else set())) - {resource.id}


def up_critical_path(scenario: model.Scenario) -> float:
    """Seconds from nothing to serving (every task RUNNING and every target healthy) at
    AWS's typical durations, along AWS's own graph: a resource is created once what it
    names exists (or is ready, where AWS needs that), and creates take no time."""
    res = scenario.resources

    @functools.cache
    def created(lid: str) -> float:
        resource = res[lid]
        times = [
            ready(d) if needs_ready(resource.kind, res[d].kind) else created(d)
            for d in references(resource)
            if d in res
        ]
        return max(times, default=0.0)

    @functools.cache
    def ready(lid: str) -> float:
        return created(lid) + ready_seconds(res[lid].kind)

    bound = max((ready(lid) for lid in res), default=0.0)
    for lid, resource in res.items():
        if resource.kind == "target_group":
            bound = max(bound, _healthy(scenario, lid, created, ready))
    return bound


def _healthy(scenario: model.Scenario, group_id: str, created: Any, ready: Any) -> float:
    """When a group's targets first pass: registered, and checked by an active load balancer."""
    res = scenario.resources
    group: model.TargetGroup = res[group_id].spec  # type: ignore[assignment]
    balancers = [
        ready(r.spec.load_balancer)  # type: ignore[attr-defined]
        for r in res.values()
        if r.kind == "listener" and r.spec.target_group == group_id  # type: ignore[attr-defined]
    ]
    registered = [
        ready(r.id)
        for r in res.values()
        if r.kind == "ecs_service" and any(lb.target_group == group_id for lb in r.spec.load_balancers)  # type: ignore[attr-defined]
    ]
    registered += [ready(s) for s in group.services]
    if group.targets:
        registered.append(created(group_id))
    if not balancers or not registered:
        return 0.0
    return max(*balancers, *registered) + first_health_check(group)


def teardown_critical_path(scenario: model.Scenario, extra_order: dict[str, set[str]] | None = None) -> float:
    """Seconds from a full deployment to nothing: a resource goes once everything that names
    it is gone (and the kinds AWS makes wait, `extra_order`); deletes of kinds not in GONE take no time."""
    res = scenario.resources
    named_by: dict[str, set[str]] = {lid: set() for lid in res}
    for lid, resource in res.items():
        for target in references(resource, with_order=False):
            if target in res:
                named_by[target].add(lid)
    for lid, resource in res.items():
        for before in (extra_order or {}).get(resource.kind, set()):
            named_by[lid] |= {other for other, r in res.items() if r.kind == before}

    @functools.cache
    def gone(lid: str) -> float:
        start = max((gone(other) for other in named_by[lid]), default=0.0)
        return start + GONE.get(res[lid].kind, 0.0)

    return max((gone(lid) for lid in res), default=0.0)
