"""AWS-like behaviour layered on moto, for the sandbox (and for tests, in-process).

moto answers at once and never runs anything. Here, state advances with time, read
lazily whenever a caller looks (no background thread): load balancers provision,
endpoints come up, ECS services start tasks with an ENI in their subnets, tasks fail
the way AWS fails them when they cannot reach their registry, targets go from
initial to healthy, or to unhealthy when security groups keep the load balancer out.
Each behaviour and the AWS fact behind it is listed in docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from vpcctl import pace
from vpcctl.sandbox import faults, health, refusals, registries, tagindex

# AWS's typical durations, in seconds; the sandbox multiplies them by its time scale.
SECONDS = pace.SECONDS


class World:
    """The sandbox's clock and time scale."""

    def __init__(self, time_scale: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.time_scale = time_scale
        self.clock = clock
        self.lock = threading.RLock()
        self._instant: float | None = None
        self.memo: dict[Any, Any] | None = None  # what one look computed once (None: not in a look)

    def now(self) -> float:
        return self.clock() if self._instant is None else self._instant

    @contextlib.contextmanager
    def instant(self) -> Iterator[float]:
        """One look at the state happens at one moment: the clock is read once for all of it."""
        with self.lock:
            if self._instant is not None:
                yield self._instant
                return
            self._instant, self.memo = self.clock(), {}
            try:
                yield self._instant
            finally:
                self._instant, self.memo = None, None

    def due(self, since: float, what: str, seconds: float | None = None) -> bool:
        return self.now() >= since + (SECONDS[what] if seconds is None else seconds) * self.time_scale


WORLD = World(0.0)


def install(time_scale: float, clock: Callable[[], float] | None = None) -> World:
    """Apply every behaviour to moto (once) and set the time scale and clock."""
    from vpcctl.sandbox import patches

    patches.apply()
    WORLD.time_scale = time_scale
    if clock is not None:
        WORLD.clock = clock
    _install_once()
    return WORLD


@functools.cache
def _install_once() -> None:
    _requests_one_at_a_time()
    _load_balancers_provision()
    _endpoints_come_up()
    _ecs_services_run_tasks()
    _targets_report_health()
    _deletions_respect_dependencies()
    _nat_vpc_link_resolver_take_time()
    refusals.install()
    registries.install()
    tagindex.install()


def _requests_one_at_a_time() -> None:
    """moto keeps its state in plain dicts that are not safe across threads: a describe that
    iterates them while another thread's create adds to them fails with "dictionary changed
    size during iteration". AWS answers every request whatever runs beside it, so the
    sandbox handles one request at a time, in the server (threaded) as in-process."""
    from moto.core.responses import BaseResponse

    original = BaseResponse._dispatch

    @functools.wraps(original)
    def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
        with WORLD.lock:
            return original(self, *args, **kwargs)

    BaseResponse._dispatch = dispatch  # type: ignore[method-assign]


def _wrap(
    cls: Any, name: str, before: Callable[..., None] | None = None, after: Callable[..., Any] | None = None
) -> None:
    """Run hooks around a moto method; `after` gets the result and may replace it."""
    original = getattr(cls, name)

    @functools.wraps(original)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        with WORLD.lock:
            if before:
                faults.guarded(before, self, *args, **kwargs)
            result = original(self, *args, **kwargs)
            if after:
                replaced = faults.guarded(after, self, result, *args, **kwargs)
                return result if replaced is None else replaced
            return result

    setattr(cls, name, wrapped)


def _emulated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A moto method replaced outright: its faults are handled like those of hooks."""

    @functools.wraps(fn)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return faults.guarded(fn, self, *args, **kwargs)

    return run


# ----------------------------------------------------------- load balancers


def _load_balancers_provision() -> None:
    from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

    def created(backend: Any, lb: Any, *args: Any, **kwargs: Any) -> None:
        lb.state = "provisioning"
        lb.sandbox_created = WORLD.now()

    def activate(lb: Any) -> None:  # moto activates on the first describe; AWS takes minutes
        if lb.state == "provisioning" and WORLD.due(getattr(lb, "sandbox_created", 0.0), "load_balancer"):
            lb.state = "active"

    _wrap(ELBv2Backend, "create_load_balancer", after=created)
    FakeLoadBalancer.activate = _emulated(activate)  # type: ignore[method-assign]


# ---------------------------------------------------------------- endpoints


def _endpoints_come_up() -> None:
    from moto.ec2.models import EC2Backend

    def created(backend: Any, endpoint: Any, *args: Any, **kwargs: Any) -> None:
        endpoint.state = "pending"
        endpoint.sandbox_created = WORLD.now()

    def advance(backend: Any, *args: Any, **kwargs: Any) -> None:
        for endpoint in backend.vpc_end_points.values():
            if endpoint.state == "pending" and WORLD.due(getattr(endpoint, "sandbox_created", 0.0), "endpoint"):
                endpoint.state = "available"

    _wrap(EC2Backend, "create_vpc_endpoint", after=created)
    _wrap(EC2Backend, "describe_vpc_endpoints", before=advance)


# ---------------------------------------------------------------------- ecs


def _ecs_services_run_tasks() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    def reconcile_first(backend: Any, *args: Any, **kwargs: Any) -> None:
        reconcile_ecs(backend)

    def reconcile_after(backend: Any, result: Any, *args: Any, **kwargs: Any) -> None:
        result.sandbox_since = WORLD.now()  # the scheduler acts on the service from now
        reconcile_ecs(backend)

    for name in ("describe_services", "list_tasks", "describe_tasks", "list_services"):
        _wrap(EC2ContainerServiceBackend, name, before=reconcile_first)
    for name in ("create_service", "update_service"):
        _wrap(EC2ContainerServiceBackend, name, after=reconcile_after)

    def stop_service_tasks(backend: Any, service: Any, *args: Any, **kwargs: Any) -> None:
        # A deleted service is DRAINING until its tasks have stopped, then INACTIVE.
        for task in service_tasks(backend, service):
            request_stop(task, "Service deleted", "ServiceSchedulerInitiated")
        service.status = "DRAINING"
        reconcile_ecs(backend)

    _wrap(EC2ContainerServiceBackend, "delete_service", after=stop_service_tasks)

    def stop_task(backend: Any, cluster: str, task_str: str, reason: str) -> Any:
        task = next(
            (
                t
                for tasks in backend.tasks.values()
                for arn, t in tasks.items()
                if arn.endswith(task_str.split("/")[-1])
            ),
            None,
        )
        if task is None or not isinstance(task, SandboxTask):
            return None
        request_stop(task, reason or "Task stopped by user", "UserInitiated")
        reconcile_ecs(backend)
        return task

    original_stop = EC2ContainerServiceBackend.stop_task

    @functools.wraps(original_stop)
    def stop(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        with WORLD.lock:
            stopped = faults.guarded(stop_task, self, cluster_str, task_str, reason)
            return stopped or original_stop(self, cluster_str, task_str, reason)

    EC2ContainerServiceBackend.stop_task = stop  # type: ignore[method-assign]


def _sandbox_task_class() -> type:
    from moto.ecs.models import Task

    class Sandboxed(Task):  # type: ignore[misc]
        """A Fargate task whose status follows the sandbox's clock, not moto's describe counter."""

        @property
        def status(self) -> str:
            return self.sandbox_status

        @status.setter
        def status(self, value: str) -> None:
            self.sandbox_status = value

    return Sandboxed


SandboxTask: type = object  # replaced on first use (moto is imported lazily)


def service_tasks(backend: Any, service: Any) -> list[Any]:
    group = f"service:{service.name}"
    return [t for t in backend.tasks.get(service.cluster_name, {}).values() if t.group == group]


def request_stop(task: Any, reason: str, code: str) -> None:
    if task.desired_status != "STOPPED":
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = code
        task.sandbox_stop_requested = WORLD.now()


def reconcile_ecs(backend: Any) -> None:
    """Bring every service's tasks up to date with the clock, and start or stop tasks."""
    with WORLD.instant():
        for service in list(backend.services.values()):
            for _ in range(REPLAY_LIMIT):
                before = _task_states(backend, service)
                _advance_tasks(backend, service)
                if service.status == "ACTIVE":
                    _schedule(backend, service)
                # At time scale 0 no time passes between a failure and its replacement, so there is
                # no pause to catch up on: one look, one step (else each look replays REPLAY_LIMIT).
                replaying = WORLD.time_scale > 0 and WORLD.now() > getattr(service, "sandbox_next_start", 0.0)
                if _task_states(backend, service) == before or not replaying:
                    break
            _update_counts(backend, service, _targets_healthy(backend, service))
            if service.status == "DRAINING" and service.running_count + service.pending_count == 0:
                service.status = "INACTIVE"


# A caller that looks after a long pause sees every start, failure and replacement that
# happened meanwhile; this bounds the replay of one look.
REPLAY_LIMIT = 50


def _task_states(backend: Any, service: Any) -> list[tuple[str, str]]:
    return [(t.id, t.sandbox_status) for t in service_tasks(backend, service)]


def _advance_tasks(backend: Any, service: Any) -> None:
    for task in service_tasks(backend, service):
        status = task.sandbox_status
        if status == "STOPPED":
            continue
        if task.desired_status == "STOPPED":
            if WORLD.due(task.sandbox_stop_requested, "task_stopping", 0 if status != "RUNNING" else None):
                _stop(backend, service, task)
            continue
        if status == "PROVISIONING" and WORLD.due(task.sandbox_created, "task_provisioning"):
            task.sandbox_status = status = "PENDING"
            task.pull_started_at = _utcnow()
        # When the pull ends on the sandbox's clock, however late a caller looks.
        pulled_at = task.sandbox_created + (SECONDS["task_provisioning"] + SECONDS["task_pending"]) * WORLD.time_scale
        if status == "PENDING" and WORLD.now() >= pulled_at:
            failure = _start_failure(backend, service, task)
            if failure:
                task.desired_status = "STOPPED"
                task.stopped_reason = failure
                task.stop_code = "TaskFailedToStart"
                _stop(backend, service, task)
                service.sandbox_next_start = pulled_at + SECONDS["task_replacement"] * WORLD.time_scale
                _event(
                    service,
                    f"(service {service.name}) was unable to start a task: {failure.split(':')[0]}. (task {task.id})",
                )
            else:
                task.sandbox_status = "RUNNING"
                task.started_at = task.pull_stopped_at = _utcnow()
                _register_task(backend, service, task, pulled_at)


def _schedule(backend: Any, service: Any) -> None:
    live = [t for t in service_tasks(backend, service) if t.desired_status == "RUNNING"]
    current = [t for t in live if t.task_definition_arn == service.task_definition]
    old = [t for t in live if t.task_definition_arn != service.task_definition]
    start_at = max(getattr(service, "sandbox_next_start", 0.0), getattr(service, "sandbox_since", WORLD.now()))
    if WORLD.now() >= start_at:
        started = [_start_task(backend, service, start_at) for _ in range(service.desired_count - len(current))]
        if started:
            ids = " ".join(f"(task {t.id})" for t in started)
            _event(service, f"(service {service.name}) has started {len(started)} tasks: {ids}.")
    for task in current[service.desired_count :]:
        request_stop(task, "Scaling activity initiated by (deployment)", "ServiceSchedulerInitiated")
    running_current = sum(1 for t in current if t.sandbox_status == "RUNNING")
    if old and running_current >= service.desired_count:  # rolling update: new tasks serve, old ones go
        for task in old:
            request_stop(task, "Task replaced by a new deployment", "ServiceSchedulerInitiated")


def _targets_healthy(backend: Any, service: Any) -> bool:
    """ECS watches the load balancer: a task counts as healthy only once each of its targets is,
    and a task whose target fails its health checks is reported (AWS's unhealthy event), then
    stopped and replaced. Whether every RUNNING task's targets are healthy now."""
    if not service.load_balancers:
        return True
    elb, ec2 = _elbv2(backend), _ec2(backend)
    healthy = True
    for task in service_tasks(backend, service):
        if task.sandbox_status != "RUNNING" or task.desired_status != "RUNNING":
            continue
        for lb in service.load_balancers:
            group = elb.target_groups.get(lb.get("targetGroupArn"))
            port = int(lb.get("containerPort") or 0)
            state, _, description = target_health(group, task.sandbox_ip, port, ec2) if group else ("", None, None)
            healthy = healthy and state == "healthy"
            if state == "unhealthy":
                _replace_unhealthy(service, task, group, port, description or "")
    return healthy


def _replace_unhealthy(service: Any, task: Any, group: Any, port: int, description: str) -> None:
    """At the first look that finds the target failing: ECS's event; once ECS reacts (after the
    group's unhealthy threshold of checks; docs/moto-gaps.md), the task is stopped and replaced."""
    failing = task.__dict__.setdefault("sandbox_unhealthy_at", {})
    if group.arn not in failing:
        failing[group.arn] = WORLD.now()
        _event(
            service,
            f"(service {service.name}) (task {task.id}) (port {port}) is unhealthy in "
            f"(target-group {group.arn}) due to (reason {description}).",
        )
        return
    # At time scale 0 no health check interval passes, so ECS never gets to act on it.
    checks = float(group.health_check_interval_seconds or 30) * int(group.unhealthy_threshold_count or 2)
    if WORLD.time_scale > 0 and WORLD.due(failing[group.arn], "task_stopping", checks):
        request_stop(task, f"Task failed ELB health checks in (target-group {group.arn})", "ServiceSchedulerInitiated")
        service.sandbox_next_start = WORLD.now() + SECONDS["task_replacement"] * WORLD.time_scale
        _event(service, f"(service {service.name}) has stopped 1 running tasks: (task {task.id}).")


def _update_counts(backend: Any, service: Any, targets_healthy: bool = True) -> None:
    tasks = [t for t in service_tasks(backend, service) if t.sandbox_status != "STOPPED"]
    service.running_count = sum(1 for t in tasks if t.sandbox_status == "RUNNING")
    service.pending_count = len(tasks) - service.running_count
    for deployment in service.deployments or []:
        deployment["runningCount"] = service.running_count
        deployment["pendingCount"] = service.pending_count
        deployment["desiredCount"] = service.desired_count
        deployment["taskDefinition"] = service.task_definition
    # Behind a load balancer, steady also means every target healthy (ECS waits for the load
    # balancer's report before it counts a task healthy); and no task on its way out.
    serving = [t for t in tasks if t.sandbox_status == "RUNNING" and t.desired_status == "RUNNING"]
    steady = len(serving) == service.desired_count == service.running_count and service.pending_count == 0
    steady = steady and targets_healthy
    for deployment in service.deployments or []:
        deployment["rolloutState"] = "COMPLETED" if steady else "IN_PROGRESS"
    if steady and (not service.events or "steady state" not in service.events[0]["message"]):
        _event(service, f"(service {service.name}) has reached a steady state.")


def _event(service: Any, message: str) -> None:
    import uuid

    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": _utcnow(), "message": message})


def _utcnow() -> Any:
    from moto.core.utils import utcnow

    return utcnow()


def _start_task(backend: Any, service: Any, at: float) -> Any:
    global SandboxTask
    if SandboxTask is object:
        SandboxTask = _sandbox_task_class()
    network = service.network_configuration["awsvpcConfiguration"]
    subnets = network["subnets"]
    ec2 = _ec2(backend)
    live = [t for t in service_tasks(backend, service) if t.sandbox_status != "STOPPED"]
    per_subnet = {s: sum(1 for t in live if t.sandbox_subnet == s) for s in subnets}
    subnet = min(subnets, key=lambda s: per_subnet[s])  # spread over the subnets (and their zones)
    cluster = backend._get_cluster(service.cluster_name)
    definition = backend.describe_task_definition(service.task_definition)
    before = set(ec2.enis)
    try:
        return _launch(backend, service, ec2, cluster, definition, network, subnet, at)
    except Exception:
        for eni_id in set(ec2.enis) - before:  # a launch that fails leaves no interface behind
            ec2.enis.pop(eni_id, None)
        raise


def _launch(
    backend: Any, service: Any, ec2: Any, cluster: Any, definition: Any, network: Any, subnet: str, at: float
) -> Any:
    task = SandboxTask(
        cluster=cluster,
        task_definition=definition,
        container_instance_arn=None,
        resource_requirements=None,
        backend=backend,
        group=f"service:{service.name}",
        launch_type="FARGATE",
        started_by=service.deployments[0]["id"] if service.deployments else "ecs-svc",
        tags=list(service.tags) if service.propagate_tags == "SERVICE" else [],
        networking_configuration={"awsvpcConfiguration": {**network, "subnets": [subnet]}},
        platform_version="1.4.0",
    )
    # moto gives the ENI an address outside the subnet: replace it with one inside.
    moto_eni = task.attachments[0]["details"][1]["value"]
    ec2.enis.pop(moto_eni, None)
    eni = ec2.create_network_interface(
        subnet=subnet,
        private_ip_address=_free_ip(ec2, subnet),
        group_ids=network.get("securityGroups") or [],
        description=f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:attachment/{task.id}",
    )
    eni.status = "in-use"
    details = {d["name"]: d for d in task.attachments[0]["details"]}
    details["networkInterfaceId"]["value"] = eni.id
    details["privateIPv4Address"]["value"] = eni.private_ip_address
    task.attachments[0]["status"] = "ATTACHED"
    task.sandbox_status = "PROVISIONING"
    task.sandbox_created = at
    task.sandbox_subnet = subnet
    task.sandbox_vpc = ec2.get_subnet(subnet).vpc_id
    task.sandbox_eni = eni.id
    task.sandbox_ip = eni.private_ip_address
    task.sandbox_public_ip = network.get("assignPublicIp") == "ENABLED"
    task.desired_status = "RUNNING"
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
    return task


def _free_ip(ec2: Any, subnet_id: str) -> str:
    """The lowest free address of the subnet, after those AWS reserves; an address released
    a moment ago is taken last, as AWS does not hand it straight back."""
    subnet = ec2.get_subnet(subnet_id)
    used = {eni.private_ip_address for eni in ec2.enis.values()} | set(subnet._subnet_ips)
    released = ec2.__dict__.setdefault("sandbox_released_ips", [])
    hosts = [str(ip) for ip in ipaddress.IPv4Network(subnet.cidr_block).hosts()][3:]  # .1-.3 are AWS's
    free = [ip for ip in hosts if ip not in used]
    chosen = ([ip for ip in free if ip not in released] or free)[0]
    subnet.request_ip(chosen, None)  # so moto does not give it to an instance as well
    return chosen


def _release_ip(ec2: Any, subnet_id: str, ip: str) -> None:
    ec2.get_subnet(subnet_id).del_subnet_ip(ip)
    ec2.__dict__.setdefault("sandbox_released_ips", []).append(ip)


def _ec2(backend: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _elbv2(backend: Any) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[backend.account_id][backend.region_name]


def _stop(backend: Any, service: Any, task: Any) -> None:
    task.sandbox_status = "STOPPED"
    task.stopped_at = _utcnow()
    _deregister_task(backend, service, task)
    ec2 = _ec2(backend)
    ec2.enis.pop(task.sandbox_eni, None)  # the ENI goes with the task
    _release_ip(ec2, task.sandbox_subnet, task.sandbox_ip)
    task.attachments[0]["status"] = "DELETED"


def _register_task(backend: Any, service: Any, task: Any, at: float) -> None:
    """ECS registers a task when it reaches RUNNING: `at`, on the sandbox's clock."""
    elb = _elbv2(backend)
    for lb in service.load_balancers or []:
        group = elb.target_groups.get(lb.get("targetGroupArn"))
        if group is not None:
            group.register([{"Id": task.sandbox_ip, "Port": lb.get("containerPort")}])
            group.sandbox_registered[task.sandbox_ip] = at


def _deregister_task(backend: Any, service: Any, task: Any) -> None:
    elb = _elbv2(backend)
    for lb in service.load_balancers or []:
        group = elb.target_groups.get(lb.get("targetGroupArn"))
        if group is not None and task.sandbox_ip in group.targets:
            group.deregister([{"Id": task.sandbox_ip}])


def _start_failure(backend: Any, service: Any, task: Any) -> str | None:
    """Why the task cannot start (AWS's words), or None when the network model says its
    address reaches the registry, S3 and (with awslogs) CloudWatch Logs."""
    from vpcctl import network
    from vpcctl.network import evaluate, from_moto

    ec2 = _ec2(backend)
    definition = backend.describe_task_definition(task.task_definition_arn)
    image = definition.container_definitions[0].get("image", "")
    uses_logs = any(
        (c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in definition.container_definitions
    )
    vpc = ec2.get_subnet(task.sandbox_subnet).vpc_id
    net = from_moto.build(ec2, [vpc])
    online = evaluate.leaves(net, task.sandbox_subnet, task.sandbox_public_ip)[0]
    unreachable = registries.unreachable_registry(image, backend.region_name, online)
    if unreachable:
        return unreachable
    groups = tuple(service.network_configuration["awsvpcConfiguration"].get("securityGroups") or [])
    tasks = network.Party(
        task.id, vpc, (task.sandbox_subnet,), (f"{task.sandbox_ip}/32",), groups, public_ip=task.sandbox_public_ip
    )
    broken = {r.destination for r in network.registry_results(net, tasks, uses_logs) if not r.ok}
    if not broken:
        return registries.missing_image(backend, definition, image, online)
    region = backend.region_name
    if broken == {"logs"}:
        return (
            "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
            f"failed to create Cloudwatch log stream: RequestError: send request failed caused by: Post "
            f'"https://logs.{region}.amazonaws.com/": dial tcp {task.sandbox_ip}:443: i/o timeout'
        )
    host = (
        f"api.ecr.{region}.amazonaws.com"
        if "ecr.api" in broken
        else (
            f"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com"
            if "s3" in broken
            else f"{backend.account_id}.dkr.ecr.{region}.amazonaws.com"
        )
    )
    return (
        f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: "
        f'failed to do request: Head "https://{host}/": dial tcp: i/o timeout'
    )


# ------------------------------------------------------------------ targets


def _targets_report_health() -> None:
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

    original_register = FakeTargetGroup.register
    original_deregister = FakeTargetGroup.deregister

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        with WORLD.lock:
            original_register(self, targets)
            times = self.__dict__.setdefault("sandbox_registered", {})
            for target in targets:
                times[target["Id"]] = WORLD.now()

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        with WORLD.lock:
            original_deregister(self, targets)
            times = self.__dict__.setdefault("sandbox_deregistered", {})
            for target in targets:
                times[target["Id"]] = WORLD.now()

    FakeTargetGroup.register = _emulated(register)  # type: ignore[method-assign]
    FakeTargetGroup.deregister = _emulated(deregister)  # type: ignore[method-assign]

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        port = target.get("Port", self.port)
        state, reason, description = target_health(self, target["Id"], int(port), ec2_backend)
        return FakeHealthStatus(target["Id"], port, self.health_check_port, state, reason, description)

    FakeTargetGroup.health_for = _emulated(health_for)  # type: ignore[method-assign]

    def reconcile_services(backend: Any, *args: Any, **kwargs: Any) -> None:
        from moto.ecs.models import ecs_backends

        reconcile_ecs(ecs_backends[backend.account_id][backend.region_name])

    _wrap(ELBv2Backend, "describe_target_health", before=reconcile_services)


def target_health(group: Any, target_id: str, port: int, ec2: Any) -> tuple[str, str | None, str | None]:
    """initial -> healthy after the health check time, or unhealthy with AWS's reason."""
    registered = getattr(group, "sandbox_registered", {}).get(target_id)
    if target_id not in group.targets:
        gone = getattr(group, "sandbox_deregistered", {}).get(target_id)
        if gone is not None and not WORLD.due(gone, "deregistration"):
            return "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
        return "unused", "Target.NotRegistered", "Target is not registered to the target group"
    lbs = _load_balancers_of(group)
    if not lbs:
        return "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
    interval = float(group.health_check_interval_seconds or 30)
    network = group.protocol in ("TCP", "UDP", "TLS", "TCP_UDP")
    first_check = SECONDS["nlb_health"] if network else interval
    # Health checks start once the target is registered and its load balancer is active.
    checks_from = max([registered or 0.0, *(_active_at(lb) for lb in lbs)])
    if not WORLD.due(checks_from, "nlb_health", first_check):
        return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
    ip = _target_address(ec2, target_id, group.vpc_id)
    if ip is None or not target_reachable(ec2, group, target_id, port):
        return "unhealthy", "Target.Timeout", "Request timed out"
    health_port = port if str(group.health_check_port) in ("traffic-port", "None") else int(group.health_check_port)
    return health.check_answer(group, ip, health_port, group.vpc_id) or ("healthy", None, None)


def _active_at(lb: Any) -> float:
    """When a load balancer is (or will be) active on the sandbox's clock."""
    return float(getattr(lb, "sandbox_created", 0.0)) + SECONDS["load_balancer"] * WORLD.time_scale


def _load_balancers_of(group: Any) -> list[Any]:
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[group.account_id][group.region_name]
    return [
        lb
        for lb in backend.load_balancers.values()
        if any(_forwards_to(listener, group.arn) for listener in lb.listeners.values())
    ]


def _forwards_to(listener: Any, arn: str) -> bool:
    for action in listener.default_actions:
        data = action.data if hasattr(action, "data") else action
        if data.get("TargetGroupArn") == arn:
            return True
        for forward in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if forward.get("TargetGroupArn") == arn:
                return True
    return False


def target_reachable(ec2: Any, group: Any, target_id: str, port: int) -> bool:
    """Whether every load balancer of the group reaches the target on the traffic port and
    the health-check port, in the network model over the emulator's state."""
    from vpcctl import network
    from vpcctl.network import evaluate, from_moto

    key = ("network", group.vpc_id)
    memo = WORLD.memo if WORLD.memo is not None else {}
    net = memo.get(key) or memo.setdefault(key, from_moto.build(ec2, [group.vpc_id], elbv2=_elbv2(ec2)))
    host = net.hosts.get(target_id) or from_moto.interface_host(ec2, target_id, group.vpc_id)
    tg = net.target_groups.get(group.arn)
    if host is None or tg is None:
        return False
    health = tg.health_port or port
    party = evaluate.host_party(host)
    return all(
        not [h for h in network.connect(net, evaluate.lb_party(net, lb), party, "tcp", p) if not h.ok]
        for lb in evaluate.load_balancers_of(net, group.arn)
        for p in {port, health}
    )


def request_arrives(
    account_id: str, region: str, client: str, destination: str, port: int, protocol: str = "tcp"
) -> Any:
    """Whether a client's requests (an instance id, or 'internet') arrive at a destination (a
    load balancer ARN, an endpoint or instance id, or a DNS name), hop by hop over the emulator's
    state: AWS does not say, so the sandbox answers from the same network model as `check`."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends
    from moto.route53.models import route53_backends
    from moto.route53resolver.models import route53resolver_backends

    from vpcctl import network
    from vpcctl.network import from_moto

    ec2 = ec2_backends[account_id][region]
    elb = elbv2_backends[account_id][region]
    vpcs = set()
    if client.startswith("i-"):
        vpcs.add(ec2.get_instance_by_id(client).vpc_id)
    if destination in elb.load_balancers:
        vpcs.add(elb.load_balancers[destination].vpc_id)
    if destination in ec2.vpc_end_points:
        vpcs.add(ec2.vpc_end_points[destination].vpc_id)
    net = from_moto.build(
        ec2,
        vpcs,
        elbv2=elb,
        route53=route53_backends[account_id]["aws"],
        resolver=route53resolver_backends[account_id][region],
    )
    return network.flow(net, client, destination, protocol, port)


def _interface(ec2: Any, ip: str, vpc_id: str) -> Any:
    """The network interface holding an address in a VPC (other VPCs may reuse the address)."""
    return next(
        (eni for eni in ec2.enis.values() if eni.private_ip_address == ip and eni.subnet.vpc_id == vpc_id), None
    )


def _target_address(ec2: Any, target_id: str, vpc_id: str) -> str | None:
    """The IP of a live target: a task's or instance's ENI, or a running instance by id."""
    if target_id.startswith("i-"):
        instance = ec2.get_instance_by_id(target_id)
        return instance.private_ip if instance is not None and instance.state == "running" else None
    return target_id if _interface(ec2, target_id, vpc_id) is not None else None


# ---------------------------------------------------------------- deletions


def _deletions_respect_dependencies() -> None:
    """AWS refuses to delete what something still uses; moto deletes it anyway."""
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend
    from moto.elbv2.models import ELBv2Backend

    def subnet_in_use(ec2: Any, subnet_id: str) -> None:
        release_enis(ec2)
        holders = [eni.id for eni in ec2.enis.values() if getattr(eni.subnet, "id", eni.subnet) == subnet_id]
        if holders:
            raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")

    def group_in_use(ec2: Any, name: str | None = None, group_id: str | None = None) -> None:
        release_enis(ec2)
        if group_id is None:
            return
        used = any(group_id in {g.id for g in eni.group_set} for eni in ec2.enis.values())
        referenced = any(
            rule.source_group.get("GroupId") == group_id
            for groups in ec2.groups.values()
            for group in groups.values()
            if group.id != group_id
            for rule in [*group.ingress_rules, *group.egress_rules]
        )
        if used or referenced:
            raise DependencyViolationError(f"resource {group_id} has a dependent object")

    def vpc_in_use(ec2: Any, vpc_id: str) -> None:
        attached = any(igw.vpc is not None and igw.vpc.id == vpc_id for igw in ec2.internet_gateways.values())
        endpoints = any(e.vpc_id == vpc_id and e.state not in ("deleted",) for e in ec2.vpc_end_points.values())
        groups = any(g.name != "default" for g in ec2.groups.get(vpc_id, {}).values())
        peerings = any(
            p._status.code in ("active", "pending-acceptance", "provisioning") and vpc_id in (p.vpc.id, p.peer_vpc.id)
            for p in getattr(ec2, "vpc_pcxs", {}).values()
        )
        if attached or endpoints or groups or peerings:
            raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")

    _wrap(EC2Backend, "delete_subnet", before=subnet_in_use)
    _wrap(EC2Backend, "delete_security_group", before=group_in_use)
    _wrap(EC2Backend, "delete_vpc", before=vpc_in_use)
    # DescribeNetworkInterfaces reads get_all_network_interfaces
    _wrap(EC2Backend, "get_all_network_interfaces", before=lambda ec2, *a, **k: release_enis(ec2))

    def lb_enis(backend: Any, lb: Any, *args: Any, **kwargs: Any) -> None:
        """A load balancer has a network interface in each of its subnets."""
        ec2 = _ec2(backend)
        lb.sandbox_enis = []
        for subnet in lb.subnets:
            subnet_id = getattr(subnet, "id", subnet)
            eni = ec2.create_network_interface(
                subnet=subnet_id,
                private_ip_address=_free_ip(ec2, subnet_id),
                group_ids=list(lb.security_groups or []),
                description=f"ELB {lb.arn.split(':loadbalancer/')[-1]}",
            )
            eni.status = "in-use"
            lb.sandbox_enis.append(eni.id)

    def linger(backend: Any, arn: str) -> None:
        lb = backend.load_balancers.get(arn)
        if lb is not None:
            ec2 = _ec2(backend)
            for eni_id in getattr(lb, "sandbox_enis", []):
                ec2.__dict__.setdefault("sandbox_releases", {})[eni_id] = WORLD.now()

    _wrap(ELBv2Backend, "create_load_balancer", after=lb_enis)
    _wrap(ELBv2Backend, "delete_load_balancer", before=linger)


def release_enis(ec2: Any) -> None:
    """Bring the owners of network interfaces up to date: stopping tasks release theirs, and
    those of deleted load balancers go some time after the load balancer."""
    from moto.ecs.models import ecs_backends

    # keys(): "in" alone would create a backend for the region; only look where ECS is in use
    if ec2.region_name in ecs_backends[ec2.account_id].keys():  # noqa: SIM118
        reconcile_ecs(ecs_backends[ec2.account_id][ec2.region_name])
    releases = ec2.__dict__.get("sandbox_releases", {})
    for eni_id, since in list(releases.items()):
        if WORLD.due(since, "lb_eni_release"):
            eni = ec2.enis.pop(eni_id, None)
            if eni is not None:
                _release_ip(ec2, eni.subnet.id, eni.private_ip_address)
            releases.pop(eni_id)


# ------------------------------------------- NAT gateways, VPC links, resolvers


def _nat_vpc_link_resolver_take_time() -> None:
    """NAT gateways, VPC links and Resolver endpoints take minutes on AWS (moto: at once),
    and AWS refuses to release an Elastic IP a NAT gateway holds or to delete an NLB a VPC
    link targets (moto does both)."""
    _nat_gateways_provision()
    _vpc_links_provision()
    _resolver_endpoints_provision()


def _nat_gateways_provision() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    def created(backend: Any, nat: Any, *args: Any, **kwargs: Any) -> None:
        nat.state = "pending"
        nat.sandbox_created = WORLD.now()

    def advance(backend: Any, *args: Any, **kwargs: Any) -> None:
        for nat in backend.nat_gateways.values():
            if nat.state == "pending" and WORLD.due(getattr(nat, "sandbox_created", 0.0), "nat_gateway"):
                nat.state = "available"

    def release_interface(backend: Any, nat: Any, *args: Any, **kwargs: Any) -> None:
        """A deleted NAT gateway lets go of its network interface (moto keeps it in the subnet)."""
        eni = getattr(nat, "_eni", None)
        if eni is not None:
            for address in list(backend.addresses):
                if address.eni is eni:
                    address.eni, address.association_id = None, None
            backend.enis.pop(eni.id, None)

    def address_in_use(backend: Any, address: str | None = None, allocation_id: str | None = None) -> None:
        for nat in backend.nat_gateways.values():
            held = [a.get("allocationId") for a in nat.address_set]
            if nat.state != "deleted" and allocation_id in held:
                raise EC2ClientError(
                    "InvalidIPAddress.InUse", f"Address {allocation_id} is in use by NAT gateway {nat.id}."
                )

    _wrap(EC2Backend, "create_nat_gateway", after=created)
    _wrap(EC2Backend, "describe_nat_gateways", before=advance)
    _wrap(EC2Backend, "delete_nat_gateway", after=release_interface)
    _wrap(EC2Backend, "release_address", before=address_in_use)


# CreateVpcLink's statusMessage for a network load balancer not active yet.
NLB_NOT_ACTIVE = (
    "NLB is not in active state. If you recently created this NLB, please wait for it to become active and try again."
)


def _vpc_links_provision() -> None:
    from moto.apigateway.models import APIGatewayBackend, VpcLink, apigateway_backends
    from moto.elbv2.exceptions import ResourceInUseError
    from moto.elbv2.models import ELBv2Backend

    def created(backend: Any, link: Any, *args: Any, **kwargs: Any) -> None:
        link.status = "PENDING"
        link.sandbox_created = WORLD.now()
        balancers = _elbv2(backend).load_balancers
        if any(arn in balancers and not refusals.load_balancer_active(balancers[arn]) for arn in link.target_arns):
            # AWS takes the call, then fails the link (docs/readiness.md).
            link.sandbox_failure = NLB_NOT_ACTIVE

    def advance(backend: Any, *args: Any, **kwargs: Any) -> None:
        for link in backend.vpc_links.values():
            if link.status == "PENDING" and getattr(link, "sandbox_failure", None):
                link.status, link.status_message = "FAILED", link.sandbox_failure
            elif link.status == "PENDING" and WORLD.due(getattr(link, "sandbox_created", 0.0), "vpc_link"):
                link.status = "AVAILABLE"

    original_json = VpcLink.to_json

    def to_json(self: Any) -> dict[str, Any]:
        message = getattr(self, "status_message", None)
        return {**original_json(self), **({"statusMessage": message} if message else {})}

    VpcLink.to_json = to_json  # type: ignore[method-assign]

    def lb_in_use(backend: Any, arn: str) -> None:
        links = apigateway_backends[backend.account_id][backend.region_name].vpc_links.values()
        if any(arn in (link.target_arns or []) for link in links):
            raise ResourceInUseError(
                f"Load balancer '{arn}' cannot be deleted because it is currently associated with another service"
            )

    _wrap(APIGatewayBackend, "create_vpc_link", after=created)
    _wrap(APIGatewayBackend, "get_vpc_link", before=advance)
    _wrap(APIGatewayBackend, "get_vpc_links", before=advance)
    _wrap(ELBv2Backend, "delete_load_balancer", before=lb_in_use)


def _resolver_endpoints_provision() -> None:
    from moto.route53resolver.models import Route53ResolverBackend

    def created(backend: Any, endpoint: Any, *args: Any, **kwargs: Any) -> None:
        endpoint.status = "CREATING"
        endpoint.status_message = "Creating the Resolver Endpoint"
        endpoint.sandbox_created = WORLD.now()

    def advance(backend: Any, *args: Any, **kwargs: Any) -> None:
        for endpoint in backend.resolver_endpoints.values():
            if endpoint.status == "CREATING" and WORLD.due(endpoint.sandbox_created, "resolver_endpoint"):
                endpoint.status = "OPERATIONAL"
                endpoint.status_message = "This Resolver Endpoint is operational."

    _wrap(Route53ResolverBackend, "create_resolver_endpoint", after=created)
    for name in ("get_resolver_endpoint", "list_resolver_endpoints"):
        _wrap(Route53ResolverBackend, name, before=advance)
