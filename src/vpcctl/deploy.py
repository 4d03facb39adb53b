"""The one orchestrator: plan, up, status, outputs, teardown, sweep. The CLI parses and renders."""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

from vpcctl import diagnose, engine, graph, model, pace
from vpcctl.aws import Aws, marker, translate
from vpcctl.engine import DELETED, DONE, StepResult
from vpcctl.errors import BadInput, NotReady, TimedOut
from vpcctl.resources import handler, handlers, kit
from vpcctl.resources.base import Context, Found, known_after
from vpcctl.resources.kit import CREATE, DELETE, REPLACE, Change
from vpcctl.status import Emit, Event


def check_deployment_name(name: str) -> str:
    from vpcctl import constraints

    problem = constraints.name_problem(name)
    if problem:
        raise BadInput(f"deployment name {name!r} {problem}", hint=constraints.NAME_RULE)
    return name


def context(aws: Aws, deployment: str, scenario: model.Scenario | None, emit: Emit, **options: Any) -> Context:
    """The run context of one command: clients, names, the resource kinds, and the
    explanations of failures (read from the live network)."""
    ctx = Context(aws, deployment, scenario, emit, explain=diagnose, kinds=handlers(), **options)  # type: ignore[arg-type]
    kinds = scenario_kinds(scenario) if scenario else []
    ctx.before_first_create = lambda: marker.write(ctx.client("ssm"), deployment, ctx.scenario_name, ctx.region, kinds)
    return ctx


@dataclass
class RunReport:
    results: dict[str, StepResult]
    calls: dict[str, int]
    seconds: float
    leftovers: list[Found] = field(default_factory=list)
    changes: dict[str, list[Change]] = field(default_factory=dict)  # logical id -> what up changed
    unmanaged: list[Found] = field(default_factory=list)  # tagged for the deployment, not in the scenario
    pruned: dict[str, StepResult] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, StepResult]:
        every = {**self.results, **self.pruned}
        return {s: r for s, r in every.items() if r.status not in DONE}

    def count(self, status: str) -> int:
        return sum(1 for r in self.results.values() if r.status == status)


def discover(ctx: Context, kinds: list[str], parallelism: int = 8) -> dict[str, dict[str, Found]]:
    """Read what the deployment owns: one batch read per kind, kinds side by side."""
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            return dict(zip(kinds, pool.map(ctx.inventory.all, kinds), strict=True))
    except Exception as exc:
        raise translate(exc) from exc


def record_all(ctx: Context, found: dict[str, dict[str, Found]]) -> dict[str, dict[str, Found]]:
    """Make what was found known to the run (ids and attributes references resolve to)."""
    for by_lid in found.values():
        for f in by_lid.values():
            ctx.record(f)
    return found


def owned_kinds(ctx: Context, scenario: model.Scenario | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The kinds to read for what the deployment owns: the scenario's own and the `extra` ones
    ("*": all), whatever the tag index says (it may lag a resource just made), and every other
    kind that can hold something of the deployment (one tag index read decides, kit.present)."""
    wanted = (set(scenario_kinds(scenario)) if scenario else set()) | set(extra)
    if "*" in wanted:
        return list(handlers())
    return kit.present(ctx, handlers(), read_directly=wanted)


def scenario_kinds(scenario: model.Scenario) -> list[str]:
    used = {r.kind for r in scenario.resources.values()}
    return [k for k in handlers() if k in used]


def unmanaged(scenario: model.Scenario, found: dict[str, dict[str, Found]]) -> list[Found]:
    """What is tagged for the deployment but no longer in the scenario."""
    res = scenario.resources
    return [f for by_lid in found.values() for lid, f in by_lid.items() if lid not in res or res[lid].kind != f.kind]


def steps_of(scenario: model.Scenario) -> dict[str, set[str]]:
    return scenario.steps or graph.build(scenario)


# ----------------------------------------------------------------------- plan


@dataclass
class ResourcePlan:
    """What `up` would do to one resource."""

    logical_id: str
    kind: str
    id: str  # the AWS id, "" for one to create
    changes: list[Change]

    @property
    def action(self) -> str:
        if not self.changes:
            return "unchanged"
        first = self.changes[0].action
        if first in (CREATE, DELETE):
            return first
        return REPLACE if any(c.action == REPLACE for c in self.changes) else "update"

    def as_dict(self) -> dict[str, Any]:
        return {
            "logical_id": self.logical_id,
            "kind": self.kind,
            "id": self.id,
            "action": self.action,
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass
class Plan:
    resources: list[ResourcePlan]
    calls: dict[str, int]
    seconds: float

    def count(self, action: str) -> int:
        return sum(1 for r in self.resources if r.action == action)

    @property
    def has_changes(self) -> bool:
        return any(r.changes for r in self.resources)

    def of(self, logical_id: str) -> ResourcePlan:
        return next(r for r in self.resources if r.logical_id == logical_id and r.action != DELETE)


def plan(scenario: model.Scenario, ctx: Context, parallelism: int = 8) -> Plan:
    """What `up` would change, attribute by attribute. Reads AWS, writes nothing.

    Resources are diffed in the order `up` would run them; a value that only a create or
    a new revision will give (an id, an ARN) reads as "(known after <logical id>)"."""
    start = ctx.read_since = time.monotonic()
    ctx.planning = True
    found = record_all(ctx, discover(ctx, owned_kinds(ctx, scenario), parallelism))
    changes: dict[str, list[Change]] = {lid: [] for lid in scenario.resources}
    try:
        for step_id in TopologicalSorter(steps_of(scenario)).static_order():
            lid = step_id.removesuffix(graph.RULES)
            resource = scenario.resources[lid]
            kind = handler(resource.kind)
            current = found[resource.kind].get(lid)
            if step_id.endswith(graph.RULES):
                if current is not None:  # the rules of a resource to create are part of its create
                    changes[lid] += kind.diff_late(ctx, resource, ctx.resolve(resource.spec), current)
                continue
            spec = resolve_except(ctx, resource.spec, type(resource.spec).late_fields)
            changes[lid] = kind.diff(ctx, resource, spec, current)
            _foresee(ctx, kind, resource, changes[lid])
    except Exception as exc:
        raise translate(exc) from exc
    rows = [
        ResourcePlan(lid, r.kind, f.id if (f := found[r.kind].get(lid)) else "", changes[lid])
        for lid, r in scenario.resources.items()
    ]
    rows += [
        ResourcePlan(f.logical_id, f.kind, f.id, [Change("", f.id, None, DELETE)]) for f in unmanaged(scenario, found)
    ]
    return Plan(rows, dict(ctx.aws.calls), time.monotonic() - start)


def _foresee(ctx: Context, kind: Any, resource: model.Resource, changes: list[Change]) -> None:
    """What dependents will see of a resource once `up` has applied these changes."""
    if changes and changes[0].action == CREATE:
        renewed = {name: known_after(resource.id) for name in getattr(kind, "renews", ())}
        ctx.attrs[resource.id] = {**renewed, **kind.known_attributes(ctx, resource)}
    elif changes and any(not c.attribute.startswith("tag ") for c in changes):
        for name in getattr(kind, "renews", ()):
            ctx.attrs.setdefault(resource.id, {})[name] = known_after(resource.id)


# ------------------------------------------------------------------------- up


def up(scenario: model.Scenario, ctx: Context, parallelism: int = 8, prune: bool = False) -> RunReport:
    """Converge AWS to the scenario: each step applies its resource's diff, then (for its
    last step, unless --no-wait) waits until it serves. Resources tagged for the deployment
    that the scenario no longer has are listed and kept; with prune, deleted afterwards."""
    start = time.monotonic()
    steps = steps_of(scenario)
    kinds = {s: scenario.resources[s.removesuffix(graph.RULES)].kind for s in steps}
    found: dict[str, dict[str, Found]] = {}
    created: set[str] = set()
    untouched: set[str] = set()  # steps that changed nothing, nor did any step they follow
    changes: dict[str, list[Change]] = {lid: [] for lid in scenario.resources}

    def read(kind: str) -> StepResult:
        """Discover one kind; its steps start once this is done, not once every kind is read."""
        found[kind] = dict(ctx.inventory.all(kind))
        for lid, f in found[kind].items():
            if lid in scenario.resources and scenario.resources[lid].kind == kind:
                ctx.record(f)
        return StepResult(engine.UNCHANGED)

    exists_only = graph.exists_only(scenario, steps)

    def typical_wait(step: str) -> float:
        resource = scenario.resources[step.removesuffix(graph.RULES)]
        return pace.typical_ready(resource, scenario) if step == graph.final_step(resource) else 0.0

    tail = _path_to_end(steps, typical_wait, exists_only)
    # Each kind's read just before its first step; kinds only the tag index names last.
    reads = {read_step(k): k for k in owned_kinds(ctx, scenario)}
    first = {kind: max(t for s, t in tail.items() if kinds[s] == kind) for kind in set(kinds.values())}
    tail |= {step: first.get(kind, -1.0) + 0.5 for step, kind in reads.items()}

    def action(step_id: str) -> StepResult:
        if step_id in reads:
            return read(reads[step_id])
        try:
            return apply_step(step_id)
        finally:
            ctx.step_applied(step_id.removesuffix(graph.RULES), untouched=step_id in untouched)

    def submitted(event: Event) -> None:
        if event.status == engine.RUNNING:
            ctx.step_started()  # from when a step is handed to a worker until its calls are made
        ctx.emit(event)

    def apply_step(step_id: str) -> StepResult:
        lid = step_id.removesuffix(graph.RULES)
        resource = scenario.resources[lid]
        kind = handler(resource.kind)
        late = type(resource.spec).late_fields
        current = ctx.inventory.get(resource.kind, lid)
        if step_id.endswith(graph.RULES):
            assert current is not None  # the resource's own step put it there
            result = kit.ensure_late(ctx, kind, resource, ctx.resolve(resource.spec), current)
            if lid in created:  # the rules of a resource made in this run are part of its creation
                result.status = engine.CREATED
            else:
                changes[lid] += result.changes
        else:
            result = kit.ensure(ctx, kind, resource, resolve_except(ctx, resource.spec, late), current)
            changes[lid] = list(result.changes)
            if result.status == engine.CREATED:
                created.add(lid)
                ctx.made_at[lid] = ctx.clock()
        if result.status == engine.UNCHANGED and steps[step_id] <= untouched:
            untouched.add(step_id)
        ctx.inventory.put(result.found)
        ctx.record(result.found)
        shown = [] if lid in created and step_id.endswith(graph.RULES) else result.changes
        data = {"changes": [c.as_dict() for c in shown], "state": result.found.state}
        applied = StepResult(result.status, result.detail, result.found.id, data=data)
        if ctx.wait and step_id == graph.final_step(resource):
            applied.wait = lambda: ready(resource, kind, result.found, applied)
        return applied

    def ready(resource: model.Resource, kind: Any, found: Found, applied: StepResult) -> StepResult:
        """The rest of a resource's last step: wait until it serves (no worker held)."""
        ctx.settle(resource.id, pace.typical_ready(resource, scenario))  # the first poll near AWS's typical time
        found = kind.wait_ready(ctx, resource, found)
        ctx.inventory.put(found)
        ctx.record(found)
        data = {**applied.data, "state": found.state}
        return StepResult(applied.status, applied.detail, found.id, data=data)

    run_graph = {step: set() for step in reads} | {s: deps | {read_step(kinds[s])} for s, deps in steps.items()}
    run_graph = _longest_first(run_graph, tail)
    results = engine.run(
        run_graph, action, submitted, parallelism, kinds, ctx.cancel, translate, exists_only, quiet=set(reads)
    )
    extra = unmanaged(scenario, found)  # every kind was read: the reads end no later than the run
    report = RunReport(results, {}, 0.0, changes=changes, unmanaged=extra)
    if prune and extra and not report.failed:
        report.pruned = delete(ctx, extra, parallelism)
    report.calls, report.seconds = dict(ctx.aws.calls), time.monotonic() - start
    return report


def read_step(kind: str) -> str:
    """The run's own step that discovers a kind (a NUL first: no logical id starts so)."""
    return f"\0read {kind}"


def _longest_first(steps: dict[str, set[str]], tail: dict[str, float]) -> dict[str, set[str]]:
    """The steps in the order the engine should start them: the longest way to the end first."""
    return {step: steps[step] for step in sorted(steps, key=lambda step: -tail[step])}


def _path_to_end(
    steps: dict[str, set[str]], seconds: Callable[[str], float], exists_only: dict[str, set[str]] | None = None
) -> dict[str, float]:
    """Step -> AWS's typical seconds from its start to the end of the longest chain through
    it (its own wait, `seconds`, counts toward a dependent unless that needs it only to
    exist): the engine starts first what lies on the longest path."""
    exists_only = exists_only or {}
    dependents: dict[str, set[str]] = {step: set() for step in steps}
    for step, deps in steps.items():
        for dep in deps:
            dependents[dep].add(step)
    tail: dict[str, float] = {}
    for step in reversed(list(TopologicalSorter(steps).static_order())):
        own = seconds(step)
        after = [(0.0 if step in exists_only.get(d, ()) else own) + tail[d] for d in dependents[step]]
        tail[step] = max([own, *after])
    return tail


def resolve_except(ctx: Context, spec: Any, skip: tuple[str, ...]) -> Any:
    """Resolve run-time values in every field but the late ones (their sources may not exist yet)."""
    if not skip:
        return ctx.resolve(spec)
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    resolved = {k: (v if k in skip else ctx.resolve(v)) for k, v in values.items()}
    return dataclasses.replace(spec, **resolved)


# --------------------------------------------------------------------- status


@dataclass
class Row:
    logical_id: str
    kind: str
    id: str
    state: str
    note: str = ""
    drift: list[dict[str, Any]] = field(default_factory=list)  # changes `up` would make
    tasks: list[dict[str, Any]] = field(default_factory=list)  # an ECS service's tasks
    events: list[dict[str, Any]] = field(default_factory=list)  # an ECS service's recent events
    targets: list[dict[str, Any]] = field(default_factory=list)  # a target group's targets

    @property
    def drifted(self) -> bool:
        return bool(self.drift)


@dataclass
class Problem:
    """Why a resource does not serve, with what to change (the hint `up` gives)."""

    logical_id: str
    reason: str
    hint: str | None = None


def status(ctx: Context, scenario: model.Scenario | None, parallelism: int = 8) -> list[Row]:
    """Every resource with its id and state; with a scenario, each one's drift from it
    (what `up` would change) and what is tagged for the deployment but not in it."""
    if scenario is None:
        found = discover(ctx, owned_kinds(ctx), parallelism)
        return [Row(lid, kind, f.id, f.state) for kind, by_lid in found.items() for lid, f in by_lid.items()]
    planned = plan(scenario, ctx, parallelism)
    rows = []
    for item in planned.resources:
        f = ctx.inventory.get(item.kind, item.logical_id)
        drift = [c.as_dict() for c in item.changes]
        if item.action == CREATE:
            rows.append(Row(item.logical_id, item.kind, "-", "absent", "", drift))
        elif item.action == DELETE:
            rows.append(Row(item.logical_id, item.kind, item.id, f.state if f else "", "not in the scenario", drift))
        else:
            rows.append(Row(item.logical_id, item.kind, item.id, f.state if f else "", "", drift))
    _add_details(ctx, rows)
    return rows


def _add_details(ctx: Context, rows: list[Row]) -> None:
    """Each service's tasks and events; each target group's targets, and whose they are."""
    from vpcctl.resources import ecs, loadbalancing

    owners: dict[str, str] = {}  # address -> "task <id>" / "instance <logical id>"
    services = [ctx.inventory.get(r.kind, r.logical_id) for r in rows if r.kind == "ecs_service"]
    ecs.task_reads(ctx).want((f.raw["clusterArn"], f.attributes["name"]) for f in services if f is not None)
    now = time.monotonic()  # one read of every service's tasks, from now
    for row in rows:
        found = ctx.inventory.get(row.kind, row.logical_id)
        if row.kind == "ecs_service" and found is not None:
            row.tasks = ecs.describe_service_tasks(ctx, found, after=now)
            row.events = ecs.service_events(found)
            owners |= {t["ip"]: f"task {t['id']}" for t in row.tasks if t["last_status"] == "RUNNING" and t["ip"]}
        elif row.kind == "instance" and found is not None:
            owners[found.id] = f"instance {row.logical_id}"
    for row in rows:
        found = ctx.inventory.get(row.kind, row.logical_id)
        if row.kind == "target_group" and found is not None:
            row.targets = [
                {**t, "of_deployment": owners.get(t["id"], "")} for t in loadbalancing.describe_targets(ctx, found.id)
            ]


def deployed(rows: list[Row]) -> bool:
    """Anything of the deployment exists (a scenario's resources all absent is nothing)."""
    return any(r.state != "absent" for r in rows)


def readiness(ctx: Context, scenario: model.Scenario, reread: bool = True) -> list[Problem]:
    """Run once the readiness gate `up` ends each resource's steps with (tasks RUNNING,
    targets healthy, endpoints available, ...), on what exists now: [] when it all serves.
    A state that will not fix itself comes with `up`'s hint; one still on its way with its
    current state. reread=False: what this look's plan just read serves (status)."""
    ctx.planning = False  # status plans first: here only what exists counts
    kinds = scenario_kinds(scenario)
    if reread or ctx.read_since is None:
        began = time.monotonic()  # reads from now on are this look's (discovery's services too)
        for kind in kinds:
            ctx.inventory.forget(kind)  # fresh reads each time (`wait` asks again and again)
        found = discover(ctx, kinds)
    else:
        began, found = ctx.read_since, {kind: ctx.inventory.all(kind) for kind in kinds}
    record_all(ctx, found)  # what exists, not what the plan foresaw
    seen: list[Event] = []
    emit, ctx.emit = ctx.emit, seen.append
    problems = []
    _look_at_services_together(ctx, scenario, began)
    try:
        for lid, resource in scenario.resources.items():
            found = ctx.inventory.get(resource.kind, lid)
            if found is None:
                problems.append(Problem(lid, "absent", f"run: vpcctl up {scenario.name}"))
                continue
            try:
                with ctx.once():
                    handler(resource.kind).wait_ready(ctx, resource, found)
            except NotReady as exc:
                problems.append(Problem(lid, exc.message, exc.hint))
            except TimedOut:
                states = [e.data.get("state") or e.detail for e in seen if e.step == lid]
                problems.append(Problem(lid, f"not yet: {states[-1] if states else found.state}"))
    except Exception as exc:
        raise translate(exc) from exc
    finally:
        ctx.emit, ctx.looks_since = emit, None
    return problems


def _look_at_services_together(ctx: Context, scenario: model.Scenario, since: float) -> None:
    """One look at every service: the first read (of services, of tasks) is of them all, and
    serves every service's look (reads begun since `since` are fresh for this gate)."""
    from vpcctl.resources import ecs

    services = [
        ctx.inventory.get("ecs_service", lid) for lid, r in scenario.resources.items() if r.kind == "ecs_service"
    ]
    present = [f for f in services if f is not None]
    ecs.service_reads(ctx).want((f.raw["clusterArn"], f.id) for f in present)
    ecs.task_reads(ctx).want((f.raw["clusterArn"], f.attributes["name"]) for f in present)
    ctx.looks_since = since


def observed_problems(rows: list[Row]) -> list[Problem]:
    """Without a scenario: what the tasks and targets themselves say is not serving."""
    problems = []
    for row in rows:
        counts = re.search(r"(\d+)/(\d+) running", row.state) if row.kind == "ecs_service" else None
        if counts and int(counts[1]) < int(counts[2]):
            problems.append(Problem(row.logical_id, f"tasks: {row.state}"))
        for t in row.targets:
            if t["state"] not in ("healthy", "draining"):
                why = f" ({t['reason']})" if t["reason"] else ""
                hint = diagnose.TARGET_HINTS.get(t["reason"] or "")
                problems.append(Problem(row.logical_id, f"target {t['id']}:{t['port']} {t['state']}{why}", hint))
    return problems


def wait(ctx: Context, scenario: model.Scenario, timeout: float) -> list[Problem]:
    """Ask the readiness gate again until everything serves or the timeout: [] or what
    still does not serve. Changes nothing."""
    from tenacity import retry, retry_if_result, stop_after_delay, wait_exponential_jitter

    interval = ctx.poll_interval
    ask = retry(
        retry=retry_if_result(bool),
        stop=stop_after_delay(timeout),
        wait=wait_exponential_jitter(multiplier=interval, max=interval * 6, jitter=interval / 2),
        sleep=ctx.sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
    )(readiness)
    return ask(ctx, scenario)


def outputs(ctx: Context, scenario: model.Scenario, parallelism: int = 8) -> dict[str, str | None]:
    """The scenario's outputs, from what exists now (None where a value is not known yet)."""
    record_all(ctx, discover(ctx, scenario_kinds(scenario), parallelism))
    out: dict[str, str | None] = {}
    for key, text in scenario.outputs.items():
        try:
            out[key] = ctx.resolve(text)
        except KeyError:
            out[key] = None
    return out


# ------------------------------------------------------------------- teardown


def delete(ctx: Context, items: Iterable[Found], parallelism: int = 8) -> dict[str, StepResult]:
    """Delete these resources in an order AWS accepts (a kind before the kinds it refers to)."""
    by_kind: dict[str, list[Found]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    deletion = _Deletion(ctx, list(by_kind))
    for kind_items in by_kind.values():
        for item in kind_items:  # step ids fixed now, in the order given
            deletion.step_id(item)
    run_graph = deletion.graph()
    action = deletion.action(lambda kind: by_kind[kind])
    return engine.run(
        run_graph, action, ctx.emit, parallelism, deletion.kinds, ctx.cancel, translate, quiet=set(run_graph)
    )


def delete_step(kind: str) -> str:
    """The run's own step that fans out into the deletes of a kind's resources."""
    return f"\0delete {kind}"


def sweep_step(kind: str) -> str:
    """The run's own step that reads a kind again after teardown's deletes."""
    return f"\0sweep {kind}"


class _Deletion:
    """The deletes of some kinds as steps: one step per kind that, once it may go (the kinds
    that must be gone first are), fans out into one step per resource."""

    def __init__(self, ctx: Context, kinds: list[str]) -> None:
        self.ctx = ctx
        self.order = graph.teardown_order()
        self.deleted = kinds
        self.kinds = {delete_step(k): k for k in kinds}
        self._ids: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def graph(self) -> dict[str, set[str]]:
        return {delete_step(k): {delete_step(o) for o in self.order[k] if o in self.deleted} for k in self.deleted}

    def step_id(self, item: Found) -> str:
        """The logical id, or kind:logical id where another kind took it first."""
        with self._lock:
            key = (item.kind, item.logical_id)
            if key not in self._ids:
                taken = item.logical_id in self._ids.values()
                self._ids[key] = f"{item.kind}:{item.logical_id}" if taken else item.logical_id
            return self._ids[key]

    def action(self, items_of: Callable[[str], list[Found]]) -> Callable[[str], StepResult]:
        """A kind's step: one part per resource of it, each deleting that resource."""

        def fan_out(step: str) -> StepResult:
            parts = {self.step_id(f): functools.partial(self.delete_one, f) for f in items_of(self.kinds[step])}
            return StepResult(engine.UNCHANGED, parts=parts)

        return fan_out

    def delete_one(self, item: Found) -> StepResult:
        asked = self.ctx.clock()  # a kind in GONE waits in its delete until it is gone: counted from before
        deleted = kit.delete(self.ctx, handler(item.kind), item)
        if deleted and item.kind in pace.GONE:
            self.ctx.expect_release(asked, pace.GONE[item.kind])  # deletes it blocks are tried again then
        return StepResult(DELETED if deleted else engine.ABSENT, "", item.id)


def teardown(ctx: Context, parallelism: int = 8) -> RunReport:
    """Delete everything tagged for the deployment, in an order AWS accepts, then sweep.

    One run: a kind's deletes start once it and the kinds that must be gone first are read
    (and those deleted), not once every kind is read; each kind is swept once its own deletes
    and those of the kinds it refers to are done (its read lists them: a listener's, the load
    balancers'), and every read is done (nothing found, nothing swept)."""
    start = time.monotonic()
    ssm = ctx.client("ssm")
    # The kinds a run recorded it would create are read directly (the index may lag them).
    recorded = marker.recorded_kinds(ssm, ctx.deployment)
    owned = owned_kinds(ctx, extra=recorded or ())
    order, refers = graph.teardown_order(), graph.kind_dependencies()
    deletion = _Deletion(ctx, owned)
    fresh = context(ctx.aws, ctx.deployment, ctx.scenario, ctx.emit, cancel=ctx.cancel, by_name=False)
    found: dict[str, dict[str, Found]] = {}
    left: dict[str, list[Found]] = {}
    reads = {read_step(k): k for k in owned}
    sweeps = {sweep_step(k): k for k in handlers()}

    def read(kind: str) -> StepResult:
        found[kind] = dict(ctx.inventory.all(kind))
        return StepResult(engine.UNCHANGED)

    def sweep_kind(kind: str) -> StepResult:
        """Not through the tag index: how soon it lists a resource just made is not documented,
        and the sweep is the last word on "nothing left"."""
        if any(found.values()):  # nothing found, nothing deleted: a sweep would only read the same again
            left[kind] = [f for f in fresh.inventory.all(kind).values() if not handler(kind).is_gone(f)]
        return StepResult(engine.UNCHANGED)

    fan_out = deletion.action(lambda kind: list(found[kind].values()))

    def action(step: str) -> StepResult:
        if step in reads:
            return read(reads[step])
        if step in sweeps:
            return sweep_kind(sweeps[step])
        return fan_out(step)

    deletes = deletion.graph()
    # The slow deletions first (a load balancer's interfaces hold its subnets): each kind's
    # read just before its deletes, the sweeps after every delete that is ready.
    tail = _path_to_end(deletes, lambda step: pace.GONE.get(deletion.kinds[step], 0.0))
    tail |= {read_step(deletion.kinds[step]): t + 0.5 for step, t in tail.items()}
    run_graph = {step: set() for step in reads} | {
        s: deps | {read_step(deletion.kinds[s])} for s, deps in deletes.items()
    }
    run_graph = _longest_first(run_graph, tail)
    for step, kind in sweeps.items():
        after = {delete_step(k) for k in (order[kind] | refers[kind] | {kind}) if k in owned}
        run_graph[step] = set(reads) | after
    results = engine.run(
        run_graph, action, ctx.emit, parallelism, deletion.kinds, ctx.cancel, translate, quiet=set(run_graph)
    )
    leftovers = [f for kind in handlers() for f in left.get(kind, [])]
    if recorded is not None and not leftovers:
        marker.remove(ssm, ctx.deployment)
    return RunReport(results, dict(ctx.aws.calls), time.monotonic() - start, leftovers)


def sweep(ctx: Context, parallelism: int = 8) -> list[Found]:
    """Look again, with fresh reads of every kind, for anything still tagged for the deployment.
    Not through the tag index: how soon it lists a resource just made is not documented, and
    the sweep is the last word on "nothing left" (it runs only after something was deleted)."""
    fresh = context(ctx.aws, ctx.deployment, ctx.scenario, ctx.emit, cancel=ctx.cancel, by_name=False)
    found = discover(fresh, list(handlers()), parallelism)
    return [f for kind, by_lid in found.items() for f in by_lid.values() if not handler(kind).is_gone(f)]
