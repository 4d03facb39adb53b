"""ECS on Fargate: clusters, task definitions, services."""

from __future__ import annotations

import hashlib
import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from vpcctl import images, model
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady
from vpcctl.resources import ecr, kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.kit import Change, chunks

# -------------------------------------------------------------------- cluster


class EcsHandler(Handler):
    """ECS kinds: tags read with include=TAGS, set with TagResource/UntagResource by ARN."""

    service = "ecs"


class EcsClusterHandler(EcsHandler):
    kind = "ecs_cluster"
    tagged_as = ("ecs:cluster",)
    reads_index = True

    def discover(self, ctx: Context) -> list[Found]:
        ecs = ctx.client("ecs")
        wanted = kit.wanted_ids(ctx, self.kind)
        if wanted is None:
            names = kit.listed(ctx, "ecs", "list_clusters", "clusterArns")
        else:
            # The scenario's clusters by name (a name AWS does not know is a MISSING failure, not
            # an error); the other clusters tagged for the deployment, from the tag index.
            names = [ctx.name(lid) for lid in wanted]
            names += [arn for arn in kit.indexed_arns(ctx, "ecs:cluster") if arn.rsplit("/", 1)[-1] not in names]
        clusters = {
            c["clusterArn"]: c
            for batch in chunks(names, 100)
            for c in ecs.describe_clusters(clusters=batch, include=["TAGS"])["clusters"]
            if c["status"] != "INACTIVE"
        }
        return kit.owned(ctx, clusters.values(), kit.inline("clusterArn", "tags"), "clusterArn", self._found)

    def _found(self, lid: str, cluster: dict[str, Any], tags: dict[str, str]) -> Found:
        attributes = {"name": cluster["clusterName"], "arn": cluster["clusterArn"]}
        return Found(self.kind, lid, cluster["clusterArn"], cluster["status"], attributes, cluster, tags)

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"name": ctx.name(resource.id)}

    def diff(self, ctx: Context, resource: model.Resource, spec: model.EcsCluster, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, name=ctx.name(resource.id))]
        return kit.own_tag_changes(ctx, resource.id, found, ctx.name(resource.id))

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.EcsCluster, found: Found | None, changes: list[Change]
    ) -> Found:
        if found is None:
            name = ctx.name(resource.id)
            cluster = ctx.client("ecs").create_cluster(
                clusterName=name, tags=tagging.as_lower_list(ctx.tags(resource.id, name))
            )["cluster"]
            return self._found(resource.id, cluster, ctx.tags(resource.id, name))
        kit.write_tags(ctx, "ecs", found.id, changes)
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        ecs = ctx.client("ecs")
        clusters = ecs.describe_clusters(clusters=[found.id])["clusters"]
        if not clusters or clusters[0]["status"] == "INACTIVE":
            return False  # AWS lists a deleted cluster as INACTIVE for a while
        return absent_ok(lambda: ctx.until_deletable(found.logical_id, lambda: ecs.delete_cluster(cluster=found.id)))


# ------------------------------------------------------------ task definition


class TaskDefinitionHandler(EcsHandler):
    kind = "task_definition"
    tagged_as = ("ecs:task-definition",)
    reads_index = True
    renews = ("arn",)  # any change is a new revision, with a new ARN

    def discover(self, ctx: Context) -> list[Found]:
        """The latest revision of each active family, from the tag index: its ARN and tags, no
        containers (diff reads those only when the digest tag says they may differ)."""
        ecs = ctx.client("ecs")
        # The family name narrows the listing (families carry no tags); the tags decide.
        families = kit.listed(
            ctx, "ecs", "list_task_definition_families", "families", familyPrefix=f"{ctx.deployment}-", status="ACTIVE"
        )
        latest: dict[str, dict[str, Any]] = {}
        for arn in kit.tag_index(ctx):
            if tagging.arn_type(arn) == "ecs:task-definition":
                family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
                if family in families and int(revision) > latest.get(family, {}).get("revision", 0):
                    latest[family] = {"taskDefinitionArn": arn, "family": family, "revision": int(revision)}
        # A family the index does not hold yet (a revision registered moments ago): read it.
        for family in (f for f in families if f not in latest):
            answer = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
            if answer["taskDefinition"].get("status") != "INACTIVE":  # deregistered: AWS keeps listing it
                latest[family] = {**answer["taskDefinition"], "tags": tagging.to_dict(answer.get("tags"))}
        definitions = list(latest.values())
        index = kit.tag_index(ctx)
        tags = {d["taskDefinitionArn"]: d.get("tags") or index.get(d["taskDefinitionArn"], {}) for d in definitions}
        return kit.owned(ctx, definitions, lambda _: tags, "taskDefinitionArn", self._found)

    def _found(self, lid: str, definition: dict[str, Any], tags: dict[str, str]) -> Found:
        arn = definition["taskDefinitionArn"]
        attributes = {"arn": arn, "family": definition["family"]}
        return Found(self.kind, lid, arn, f"revision {definition['revision']}", attributes, definition, tags)

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"family": ctx.name(resource.id)}

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.TaskDefinition, found: Found | None
    ) -> list[Change]:
        family = ctx.name(resource.id)
        wanted = self._definition(ctx, family, spec)
        if found is None:
            return [kit.create(ctx, spec, family=family)]
        # The digest names its revision: a revision made out of band with the tags copied (as
        # the console does) carries another revision's digest, and so is read and compared.
        own = f"{_digest(wanted)}@{found.raw.get('revision')}"
        content = [] if found.tags.get(tagging.DEFINITION) == own else self._content_changes(ctx, found, wanted)
        want_tags = ctx.tags(resource.id, family)
        if content:  # a new revision gets a digest of its own
            have_tags = {k: v for k, v in found.tags.items() if k != tagging.DEFINITION}
        else:
            have_tags, want_tags = found.tags, {**want_tags, tagging.DEFINITION: own}
        return content + kit.tag_changes(have_tags, want_tags)

    @staticmethod
    def _content_changes(ctx: Context, found: Found, wanted: dict[str, Any]) -> list[Change]:
        """What differs in the registered revision itself (discovery reads only its ARN and tags)."""
        if "containerDefinitions" not in found.raw:
            answer = ctx.client("ecs").describe_task_definition(taskDefinition=found.id)
            found.raw = {**found.raw, **answer["taskDefinition"]}
        have, want = _comparable(found.raw), _comparable(wanted)
        changes = []
        for key in ("cpu", "memory", "executionRoleArn", "taskRoleArn", "networkMode"):
            changes += kit.updated(key, have[key], want[key])
        have_containers = {c["name"]: c for c in have["containers"]}
        for container in want["containers"]:
            before = have_containers.pop(container["name"], None)
            if before is None:
                changes.append(Change("container", None, container["name"], member=True))
                continue
            for key, value in container.items():
                changes += kit.updated(f"container {container['name']} {key}", before[key], value)
        return changes + [Change("container", name, None, member=True) for name in have_containers]

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.TaskDefinition,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        family = ctx.name(resource.id)
        if found is not None and all(c.attribute.startswith("tag ") for c in changes):
            kit.write_tags(ctx, "ecs", found.id, changes)
            return found
        ecs = ctx.client("ecs")
        definition = self._definition(ctx, family, spec)
        tags = ctx.tags(resource.id, family)
        registered = ecs.register_task_definition(**definition, tags=tagging.as_lower_list(tags))["taskDefinition"]
        # Its revision is known only now: the digest that names it is a tag of its own.
        digest = {tagging.DEFINITION: f"{_digest(definition)}@{registered['revision']}"}
        ecs.tag_resource(resourceArn=registered["taskDefinitionArn"], tags=tagging.as_lower_list(digest))
        return self._found(resource.id, registered, {**tags, **digest})

    @staticmethod
    def _definition(ctx: Context, family: str, spec: model.TaskDefinition) -> dict[str, Any]:
        containers = []
        for c in spec.containers:
            container: dict[str, Any] = {"name": c.name, "image": c.image, "essential": c.essential}
            if c.port is not None:
                # awsvpc: the host port is the container port, so only the container port is given.
                container["portMappings"] = [{"containerPort": c.port, "protocol": "tcp"}]
            if c.command:
                container["command"] = list(c.command)
            if spec.log_group:
                container["logConfiguration"] = {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": ctx.attr(spec.log_group, "name"),
                        "awslogs-region": ctx.region,
                        "awslogs-stream-prefix": c.name,
                    },
                }
            containers.append(container)
        definition: dict[str, Any] = {
            "family": family,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": str(spec.cpu),
            "memory": str(spec.memory),
            "containerDefinitions": containers,
        }
        if spec.execution_role:
            definition["executionRoleArn"] = ctx.attr(spec.execution_role, "arn")
        if spec.task_role:
            definition["taskRoleArn"] = ctx.attr(spec.task_role, "arn")
        return definition

    def delete(self, ctx: Context, found: Found) -> bool:
        ecs = ctx.client("ecs")
        family = found.attributes["family"]
        listed = kit.listed(
            ctx, "ecs", "list_task_definitions", "taskDefinitionArns", familyPrefix=family, status="ACTIVE"
        )
        arns = [a for a in listed if a.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family]
        for arn in arns:
            absent_ok(lambda a=arn: ecs.deregister_task_definition(taskDefinition=a))
        return bool(arns)


def _digest(definition: dict[str, Any]) -> str:
    """A digest of the parts of a task definition vpcctl sets."""
    return hashlib.sha256(json.dumps(_comparable(definition), sort_keys=True).encode()).hexdigest()[:32]


def _comparable(definition: dict[str, Any]) -> dict[str, Any]:
    """The parts of a task definition vpcctl sets, in a form AWS's echo and our request share."""
    containers = []
    for c in definition.get("containerDefinitions", []):
        containers.append(
            {
                "name": c["name"],
                "image": c["image"],
                "essential": c.get("essential", True),
                "ports": sorted(p["containerPort"] for p in c.get("portMappings") or []),
                "command": list(c.get("command") or []),
                "log": (c.get("logConfiguration") or {}).get("options", {}),
            }
        )
    return {
        "cpu": str(definition.get("cpu")),
        "memory": str(definition.get("memory")),
        "executionRoleArn": definition.get("executionRoleArn"),
        "taskRoleArn": definition.get("taskRoleArn"),
        "networkMode": definition.get("networkMode"),
        "containers": sorted(containers, key=lambda c: c["name"]),
    }


# -------------------------------------------------------------------- service


# Scenario attribute -> how to read it from ECS's settings (ours and AWS's echo alike).
SERVICE_SETTINGS: dict[str, tuple[str, Any]] = {
    "task_definition": ("taskDefinition", lambda s: s["taskDefinition"]),
    "desired_count": ("desiredCount", lambda s: s["desiredCount"]),
    "subnets": ("networkConfiguration", lambda s: s["networkConfiguration"]["awsvpcConfiguration"]["subnets"]),
    "security_groups": (
        "networkConfiguration",
        lambda s: s["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
    ),
    "assign_public_ip": (
        "networkConfiguration",
        lambda s: s["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"],
    ),
    "minimum_healthy_percent": (
        "deploymentConfiguration",
        lambda s: s["deploymentConfiguration"]["minimumHealthyPercent"],
    ),
    "maximum_percent": ("deploymentConfiguration", lambda s: s["deploymentConfiguration"]["maximumPercent"]),
    "load_balancers": ("loadBalancers", lambda s: s["loadBalancers"]),
}


class EcsServiceHandler(EcsHandler):
    kind = "ecs_service"
    tagged_as = ("ecs:service",)
    reads_index = True
    renews = ("tasks",)  # a change rolls the service onto new tasks, with new IPs

    def discover(self, ctx: Context) -> list[Found]:
        ecs = ctx.client("ecs")
        services = []
        for cluster in ctx.inventory.all("ecs_cluster").values():
            for batch in chunks(self._names_in(ctx, cluster), 10):
                started = time.monotonic()
                described = ecs.describe_services(cluster=cluster.id, services=batch, include=["TAGS"])["services"]
                services += [svc for svc in described if svc["status"] != "INACTIVE"]
                # What ECS says now serves the readiness look of a service this run leaves untouched.
                service_reads(ctx).seed({(svc["clusterArn"], svc["serviceArn"]): svc for svc in described}, started)
        return kit.owned(ctx, services, kit.inline("serviceArn", "tags"), "serviceArn", self._found)

    def _names_in(self, ctx: Context, cluster: Found) -> list[str]:
        """The services to describe in a cluster: all it lists, or (by name) the scenario's
        services in it and the others the tag index lists for the deployment there."""
        wanted = kit.wanted_ids(ctx, self.kind)
        if wanted is None:
            return kit.listed(ctx, "ecs", "list_services", "serviceArns", cluster=cluster.id)
        assert ctx.scenario is not None
        names = [lid for lid in wanted if ctx.scenario.resources[lid].spec.cluster == cluster.logical_id]  # type: ignore[attr-defined]
        for arn in kit.indexed_arns(ctx, "ecs:service"):
            # service/<cluster>/<name>; an ARN of the old format (service/<name>) names no cluster.
            path = arn.split(":", 5)[-1].split("/")
            if path[-1] not in names and (len(path) < 3 or path[1] == cluster.attributes["name"]):
                names.append(arn)
        return names

    def _found(self, lid: str, svc: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        state = f"{svc.get('status')} {svc.get('runningCount', 0)}/{svc.get('desiredCount', 0)} running"
        return Found(
            self.kind,
            lid,
            svc["serviceArn"],
            state,
            {"name": svc["serviceName"], "arn": svc["serviceArn"]},
            svc,
            tags or {},
        )

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        return {"name": resource.id}

    def diff(self, ctx: Context, resource: model.Resource, spec: model.EcsService, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec, name=resource.id)]
        have, want = self._current(found.raw), self._settings(ctx, spec)
        changes = []
        for attribute, (key, read) in SERVICE_SETTINGS.items():
            before, after = read(have), read(want)
            if attribute == "task_definition":
                before, after = short_arn(before), short_arn(after)
            elif attribute in ("subnets", "security_groups"):
                before, after = [ctx.logical_id_of(i) for i in before], [ctx.logical_id_of(i) for i in after]
            changes += kit.updated(attribute, before, after, payload=key)
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.EcsService, found: Found | None, changes: list[Change]
    ) -> Found:
        wanted = self._settings(ctx, spec)
        if found is None:
            svc = ctx.create(
                "ecs",
                "CreateService",
                cluster=ctx.attr(spec.cluster, "arn"),
                serviceName=resource.id,
                launchType="FARGATE",
                tags=tagging.as_lower_list(ctx.tags(resource.id)),
                propagateTags="SERVICE",
                enableECSManagedTags=True,
                **wanted,
            )["service"]
            return self._found(resource.id, svc, ctx.tags(resource.id))
        keys = {c.payload for c in changes if c.payload in wanted}
        if keys:
            svc = ctx.client("ecs").update_service(
                cluster=found.raw["clusterArn"], service=found.id, **{k: wanted[k] for k in sorted(keys)}
            )["service"]
            found = self._found(resource.id, svc, found.tags)
        kit.write_tags(ctx, "ecs", found.id, changes)
        return found

    @staticmethod
    def _settings(ctx: Context, spec: model.EcsService) -> dict[str, Any]:
        return {
            "taskDefinition": ctx.attr(spec.task_definition, "arn"),
            "desiredCount": spec.desired_count,
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": sorted(ctx.ids_of(spec.subnets)),
                    "securityGroups": sorted(ctx.ids_of(spec.security_groups)),
                    "assignPublicIp": "ENABLED" if spec.assign_public_ip else "DISABLED",
                }
            },
            "deploymentConfiguration": {
                "minimumHealthyPercent": spec.minimum_healthy_percent,
                "maximumPercent": spec.maximum_percent,
            },
            "loadBalancers": [
                {
                    "targetGroupArn": ctx.attr(lb.target_group, "arn"),
                    "containerName": lb.container,
                    "containerPort": lb.port,
                }
                for lb in spec.load_balancers
            ],
        }

    @staticmethod
    def _current(svc: dict[str, Any]) -> dict[str, Any]:
        network = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        deployment = svc.get("deploymentConfiguration") or {}
        return {
            "taskDefinition": svc.get("taskDefinition"),
            "desiredCount": svc.get("desiredCount"),
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": sorted(network.get("subnets") or []),
                    "securityGroups": sorted(network.get("securityGroups") or []),
                    "assignPublicIp": network.get("assignPublicIp", "DISABLED"),
                }
            },
            "deploymentConfiguration": {
                "minimumHealthyPercent": deployment.get("minimumHealthyPercent"),
                "maximumPercent": deployment.get("maximumPercent"),
            },
            "loadBalancers": [
                {
                    "targetGroupArn": lb.get("targetGroupArn"),
                    "containerName": lb.get("containerName"),
                    "containerPort": lb.get("containerPort"),
                }
                for lb in svc.get("loadBalancers") or []
            ],
        }

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Serving means every task RUNNING and every target of the service's groups healthy:
        what ECS vouches for when it says the service is steady (ecs_vouches); else read in detail."""
        spec: model.EcsService = resource.spec  # type: ignore[assignment]
        # Stops since this run made the service count (the wait may begin after a settle).
        since = datetime.now(UTC) - timedelta(seconds=5 + ctx.age(resource.id))
        watch = ServiceWatch(ctx, found, spec, since, made_now=ctx.age(resource.id) > 0)
        try:
            ctx.poll(resource.id, "serving", watch.check)
        finally:
            watch.done()
        return self._found(resource.id, watch.svc or found.raw, found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        ecs = ctx.client("ecs")
        cluster = found.raw["clusterArn"]

        def remove() -> None:
            # Scale to zero first so tasks drain from their target groups.
            ecs.update_service(cluster=cluster, service=found.id, desiredCount=0)
            ecs.delete_service(cluster=cluster, service=found.id, force=True)

        deleted = absent_ok(remove)
        if deleted:
            ctx.progress(found.logical_id, "waiting for the service to become INACTIVE")
            ctx.wait_for("ecs", "services_inactive", cluster=cluster, services=[found.id])
        return deleted


# The event ECS adds when a service has reached its steady state (newest events first).
STEADY_STATE = "has reached a steady state"
# How ECS's stoppedReason begins for a task it stopped because its target failed the checks.
ELB_FAILURE = "Task failed ELB health checks"


def ecs_vouches(svc: dict[str, Any], desired: int, definition: str, target_groups: set[str] | None = None) -> bool:
    """ECS itself says the service serves: as many tasks running as desired, none pending, one
    deployment (PRIMARY, the wanted definition) whose rollout is COMPLETED, and the newest event
    the steady-state one; and it serves the wanted target groups. Behind a load balancer ECS counts
    a task healthy only once the load balancer reports its target healthy, and stops a task whose
    target fails (docs/sandbox.md)."""
    deployments = svc.get("deployments") or []
    events = svc.get("events") or []
    groups = {lb.get("targetGroupArn") for lb in svc.get("loadBalancers") or []}
    return (
        (target_groups is None or groups == target_groups)
        and svc.get("status") == "ACTIVE"
        and svc.get("desiredCount") == desired
        and svc.get("runningCount") == desired
        and svc.get("pendingCount") == 0
        and len(deployments) == 1
        and deployments[0].get("status") == "PRIMARY"
        and deployments[0].get("rolloutState") == "COMPLETED"
        and deployments[0].get("taskDefinition") == definition
        and bool(events)
        and STEADY_STATE in events[0].get("message", "")
    )


def service_reads(ctx: Context) -> Any:
    """The run's shared read of services, by (cluster ARN, service ARN): up to 10 a call."""

    def read(keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        ecs, out = ctx.client("ecs"), {}
        for cluster in sorted({c for c, _ in keys}):
            for batch in chunks(sorted(a for c, a in keys if c == cluster), 10):
                for svc in ecs.describe_services(cluster=cluster, services=batch)["services"]:
                    out[(cluster, svc["serviceArn"])] = svc
        return out

    return ctx.snapshot("ecs services", read, lambda: [(f.raw["clusterArn"], f.id) for f in _services(ctx)])


def _services(ctx: Context) -> list[Found]:
    """The services this run knows (discovered or made): a batched read takes them all."""
    return [f for f in ctx.inventory.all("ecs_service").values() if "clusterArn" in f.raw]


def task_reads(ctx: Context) -> Any:
    """The run's shared read of tasks, by (cluster ARN, service name): listed per cluster (RUNNING
    and recently STOPPED), described up to 100 a call, told apart by their group."""

    def read(keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        ecs = ctx.client("ecs")
        out: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in keys}
        for cluster in sorted({c for c, _ in keys}):
            arns: list[str] = []
            for status in ("RUNNING", "STOPPED"):
                arns += kit.listed(ctx, "ecs", "list_tasks", "taskArns", cluster=cluster, desiredStatus=status)
            for batch in chunks(arns, 100):
                for task in ecs.describe_tasks(cluster=cluster, tasks=batch)["tasks"]:
                    key = (cluster, str(task.get("group") or "").removeprefix("service:"))
                    if key in out:
                        out[key].append(task)
        return out

    return ctx.snapshot(
        "ecs tasks", read, lambda: [(f.raw["clusterArn"], f.attributes["name"]) for f in _services(ctx)]
    )


class ServiceWatch:
    """One look per poll: what ECS says of the service (one batched read for every wait due at
    once); only when ECS does not vouch for it, its tasks and targets, failing at once on what
    will not fix itself."""

    def __init__(
        self, ctx: Context, found: Found, spec: model.EcsService, since: datetime, made_now: bool = True
    ) -> None:
        self.ctx = ctx
        self.cluster = found.raw["clusterArn"]
        self.arn = found.id
        self.name = found.attributes["name"]
        self.spec = spec
        self.since = since
        # A service this run did not make: tasks already stopped at the first look were
        # launched before this run's changes (the cache it warmed, a rule it added), and
        # their stops say nothing about them; the scheduler's next tasks do.
        self.stale: set[str] = set()
        self.looked = made_now  # a service made now has no stale stops to set aside
        self.target_groups = [ctx.attr(lb.target_group, "arn") for lb in spec.load_balancers]
        self.svc: dict[str, Any] | None = None  # the service as last read
        self.logical_id = found.logical_id
        self.asked: float | None = None  # the moment the reads of the current look must follow
        self.seen_tasks = False
        # A service this run made: once ECS vouches for it, its tasks and targets are read once
        # more, to show them and to check ECS's word against the load balancer's.
        self.confirm = made_now
        self.services, self.tasks_read = service_reads(ctx), task_reads(ctx)

    def tasks(self) -> list[dict[str, Any]]:
        assert self.asked is not None  # check() sets it before it reads
        key = (self.cluster, self.name)
        newer = math.nextafter(self.tasks_read.taken(key), math.inf) if self.seen_tasks else -math.inf
        self.seen_tasks = True
        return list(self.tasks_read.get(key, after=max(self.asked, newer)) or [])

    def done(self) -> None:
        self.services.release((self.cluster, self.arn))
        self.tasks_read.release((self.cluster, self.name))

    def check(self) -> tuple[bool, str]:
        # Fresh reads only. The first look takes a read begun after the service's step made its
        # calls (in one look at everything: after that look began); each later look, a read newer
        # than the one before, begun within the last poll interval (so looks that come due
        # together, from threads or one after another, share it).
        key = (self.cluster, self.arn)
        if self.asked is None:
            first = self.ctx.looks_since or self.ctx.applied_at.get(self.logical_id)
            self.asked = time.monotonic() if first is None else first
        else:
            newer = math.nextafter(self.services.taken(key), math.inf)
            self.asked = max(newer, time.monotonic() - self.ctx.poll_interval)
        svc = self.services.get(key, after=self.asked)
        if svc is None:
            return False, "not listed by ECS yet"
        self.svc = svc
        definition = self.ctx.attr(self.spec.task_definition, "arn")
        desired = self.spec.desired_count
        if ecs_vouches(svc, desired, definition, set(self.target_groups)) and not self.confirm:
            return True, f"{desired}/{desired} tasks running, steady (ECS: targets healthy)"
        done, state = self._detailed(definition)
        if done:
            self.confirm = False
        return done, state

    def _detailed(self, definition: str) -> tuple[bool, str]:
        tasks = self.tasks()
        self._fail_on_stopped(tasks)
        running = [t for t in tasks if t.get("lastStatus") == "RUNNING" and t.get("taskDefinitionArn") == definition]
        live = [t for t in tasks if t.get("lastStatus") != "STOPPED"]
        shown = [
            f"{t['taskArn'].rsplit('/', 1)[-1][:8]} {t.get('lastStatus')} {task_private_ip(t) or '-'}" for t in live
        ]
        targets_ok, target_states = self._targets({task_private_ip(t) for t in running})
        state = f"tasks {len(running)}/{self.spec.desired_count} running: {', '.join(shown) or 'none yet'}"
        if target_states:
            state += f"; targets: {', '.join(target_states)}"
        return len(running) >= self.spec.desired_count and targets_ok, state

    def _fail_on_stopped(self, tasks: list[dict[str, Any]]) -> None:
        explain = self.ctx.explain
        if not self.looked:
            self.stale = {t["taskArn"] for t in tasks if t.get("lastStatus") == "STOPPED"}
            self.looked = True
        for task in tasks:
            if task["taskArn"] in self.stale:
                continue
            stopped_at = task.get("stoppedAt")
            reason = task.get("stoppedReason") or ""
            if task.get("lastStatus") != "STOPPED" or not stopped_at or stopped_at < self.since:
                continue
            if task.get("stopCode") == "UserInitiated" or reason.startswith(
                ("Scaling activity", "Task replaced", "Service deleted")
            ):
                continue
            if reason.startswith(ELB_FAILURE):
                self._fail_on_failed_checks(task, reason)
                continue  # the scheduler replaces it; a missing rule is named above
            hint = None
            if explain is not None and reason.startswith(explain.PULL_FAILURES):
                subnet = next(
                    (
                        d["value"]
                        for a in task.get("attachments", [])
                        for d in a.get("details", [])
                        if d["name"] == "subnetId"
                    ),
                    self.ctx.id_of(self.spec.subnets[0]),
                )
                gaps = explain.pull_gaps(
                    self.ctx,
                    subnet,
                    self.spec.assign_public_ip,
                    set(self.ctx.ids_of(self.spec.security_groups)),
                    self._uses_awslogs(),
                )
                hint = "; ".join(gaps) if gaps else self._registry_hint(task)
            elif "Essential container" in reason:
                hint = "the container exits by itself: read its logs (log group of the task definition)"
            task_id = task["taskArn"].rsplit("/", 1)[-1][:8]
            raise NotReady(f"task {task_id} stopped: {reason}", hint=hint)

    def _fail_on_failed_checks(self, task: dict[str, Any], reason: str) -> None:
        """A task ECS stopped because its target failed the load balancer's checks: when a rule
        is missing on the way to it, what an unhealthy target with Target.Timeout would say."""
        group = reason.partition("(target-group ")[2].rstrip(")")
        ip = task_private_ip(task)
        if group in self.target_groups and ip:
            self._fail_on_unhealthy(group, ip, "Target.Timeout")

    def _registry_hint(self, task: dict[str, Any]) -> str | None:
        """With a complete network path, a pull fails on the image: one the ECR endpoints do not serve,
        or one that is not in the registry."""
        ecs = self.ctx.client("ecs")
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        containers = definition["containerDefinitions"]
        public = [
            c["image"] for c in containers if not images.registry_of(c["image"]).through_endpoints(self.ctx.region)
        ]
        for image in [] if public else [c["image"] for c in containers]:
            prefix = ecr.cold_image(self.ctx, image)
            if prefix is not None:
                return images.first_pull_hint(image, prefix)
        return images.pull_hint((public or [containers[0]["image"]])[0], self.ctx.region) if containers else None

    def _uses_awslogs(self) -> bool:
        scenario = self.ctx.scenario
        if scenario is None:
            return False
        definition = scenario.resources[self.spec.task_definition].spec
        return bool(getattr(definition, "log_group", None))

    def _targets(self, running_ips: set[str | None]) -> tuple[bool, list[str]]:

        if not self.target_groups:
            return True, []
        elb = self.ctx.client("elbv2")
        ok, states = True, []
        for arn in self.target_groups:
            descriptions = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            healthy = 0
            for d in descriptions:
                target, health = d["Target"], d["TargetHealth"]
                if target["Id"] not in running_ips:
                    continue  # draining or from an old task
                reason = health.get("Reason")
                states.append(
                    f"{target['Id']}:{target.get('Port')} {health['State']}" + (f" ({reason})" if reason else "")
                )
                if health["State"] == "healthy":
                    healthy += 1
                elif health["State"] == "unhealthy":
                    self._fail_on_unhealthy(arn, target["Id"], reason or "")
            ok = ok and healthy >= self.spec.desired_count
        return ok, states

    def _fail_on_unhealthy(self, arn: str, ip: str, reason: str) -> None:
        explain = self.ctx.explain
        if explain is None:
            return
        if reason == "Target.Timeout":
            group = self.ctx.client("elbv2").describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
            gaps = explain.lb_gaps(self.ctx, group, ip, set(self.ctx.ids_of(self.spec.security_groups)))
            if gaps:  # a missing rule will not fix itself; a slow start might
                raise NotReady(f"target {ip} is unhealthy: Target.Timeout", hint="; ".join(gaps))
        elif reason == "Target.ResponseCodeMismatch":
            raise NotReady(f"target {ip} is unhealthy: {reason}", hint=explain.TARGET_HINTS[reason])


def task_private_ip(task: dict[str, Any]) -> str | None:
    """A Fargate task's private IP: from its ElasticNetworkInterface attachment."""
    for attachment in task.get("attachments") or []:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details") or []:
            if detail.get("name") == "privateIPv4Address":
                return str(detail["value"])
    return None


def short_arn(arn: Any) -> Any:
    """'arn:aws:ecs:...:task-definition/dev-web:3' -> 'dev-web:3' (a value not known yet stays)."""
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and arn.startswith("arn:") else arn


def service_tasks(
    ctx: Context, cluster: str, name: str, desired: tuple[str, ...] = ("RUNNING", "STOPPED")
) -> list[dict[str, Any]]:
    """The service's tasks AWS lists with these desired statuses (by default all it still
    lists: RUNNING and recently STOPPED), described (DescribeTasks takes up to 100 at once)."""
    ecs = ctx.client("ecs")
    arns: list[str] = []
    for status in desired:
        arns += kit.listed(
            ctx, "ecs", "list_tasks", "taskArns", cluster=cluster, serviceName=name, desiredStatus=status
        )
    return [t for batch in chunks(arns, 100) for t in ecs.describe_tasks(cluster=cluster, tasks=batch)["tasks"]]


def describe_service_tasks(ctx: Context, service: Found, after: float) -> list[dict[str, Any]]:
    """The service's tasks AWS still lists (RUNNING and recently STOPPED), for `status`:
    ids, states, address, zone, health, times, and the essential container's stop. From the
    run's shared read of tasks (one per cluster for every service), begun after `after`."""
    tasks = task_reads(ctx).get((service.raw["clusterArn"], service.attributes["name"]), after=after) or []
    essential = _essential_containers(ctx, {t["taskDefinitionArn"] for t in tasks})
    return [_task_facts(t, essential.get(t["taskDefinitionArn"], set())) for t in tasks]


def _essential_containers(ctx: Context, definitions: set[str]) -> dict[str, set[str]]:
    ecs = ctx.client("ecs")
    out = {}
    for arn in definitions:
        containers = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"]
        out[arn] = {c["name"] for c in containers if c.get("essential", True)}
    return out


def _task_facts(task: dict[str, Any], essential: set[str]) -> dict[str, Any]:
    container = next((c for c in task.get("containers") or [] if c.get("name") in essential), {})
    return {
        "id": task["taskArn"].rsplit("/", 1)[-1],
        "last_status": task.get("lastStatus"),
        "desired_status": task.get("desiredStatus"),
        "ip": task_private_ip(task),
        "zone": task.get("availabilityZone"),
        "health": task.get("healthStatus", "UNKNOWN"),
        "started_at": task.get("startedAt"),
        "stopped_at": task.get("stoppedAt"),
        "stopped_reason": task.get("stoppedReason"),
        "stop_code": task.get("stopCode"),
        "exit_code": container.get("exitCode"),
        "task_definition": short_arn(task.get("taskDefinitionArn")),
    }


def service_events(service: Found, limit: int = 5) -> list[dict[str, Any]]:
    """The service's most recent events (AWS lists the newest first)."""
    return [{"at": e.get("createdAt"), "message": e.get("message", "")} for e in service.raw.get("events", [])[:limit]]
