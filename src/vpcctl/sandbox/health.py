"""What a reachable target answers to its load balancer's health check.

The network decides whether the check arrives; this decides what comes back, from the
image the target's task runs (`vpcctl.images`): the status code against the group's
matcher for HTTP(S) checks, or whether anything listens for TCP checks.
"""

from __future__ import annotations

from typing import Any

from vpcctl import images

Verdict = tuple[str, str | None, str | None]


def check_answer(group: Any, ip: str, health_port: int, vpc_id: str) -> Verdict | None:
    """An unhealthy verdict with AWS's reason, or None when the target answers as the check expects."""
    container = _container_at(group, ip, vpc_id)
    if container is None:
        return None  # an instance or an address vpcctl did not start: no image to ask
    image, command, port = container
    protocol = str(group.health_check_protocol or group.protocol).upper()
    path = group.health_check_path or "/"
    code = images.answer(image, command, port, health_port, path)
    if code is None:
        return "unhealthy", "Target.FailedHealthChecks", "Health checks failed"
    if protocol in ("HTTP", "HTTPS"):
        matcher = (getattr(group, "matcher", None) or {}).get("HttpCode") or "200"
        if not images.matches(str(matcher), code):
            return "unhealthy", "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]"
    return None


def _container_at(group: Any, ip: str, vpc_id: str) -> tuple[str, list[str], int | None] | None:
    """(image, command, container port) of the RUNNING task container behind an address."""
    from moto.ecs.models import ecs_backends

    backends = ecs_backends[group.account_id]
    if group.region_name not in backends.keys():  # noqa: SIM118 - "in" alone would create the backend
        return None
    backend = backends[group.region_name]
    for tasks in backend.tasks.values():
        for task in tasks.values():
            if getattr(task, "sandbox_ip", None) != ip or getattr(task, "sandbox_status", "") != "RUNNING":
                continue
            if getattr(task, "sandbox_vpc", vpc_id) != vpc_id:
                continue
            definition = backend.describe_task_definition(task.task_definition_arn)
            registered = int(group.targets.get(ip, {}).get("Port") or group.port or 0)
            containers = definition.container_definitions
            chosen = next((c for c in containers if registered in _ports(c)), containers[0])
            ports = _ports(chosen)
            return chosen.get("image", ""), list(chosen.get("command") or []), (ports[0] if ports else None)
    return None


def _ports(container: dict[str, Any]) -> list[int]:
    return [int(m["containerPort"]) for m in container.get("portMappings") or [] if m.get("containerPort")]
