"""The operations behind the commands: up, status, outputs, teardown."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vpcctl import engine, graph, model
from vpcctl.aws import translate
from vpcctl.engine import DELETED, DONE, StepResult
from vpcctl.errors import BadInput
from vpcctl.resources import handler, handlers
from vpcctl.resources.base import Context, Found


def check_deployment_name(name: str) -> str:
    from vpcctl import constraints

    problem = constraints.name_problem(name)
    if problem:
        raise BadInput(f"deployment name {name!r} {problem}", hint=constraints.NAME_RULE)
    return name


@dataclass
class RunReport:
    results: dict[str, StepResult]
    calls: dict[str, int]
    seconds: float
    leftovers: list[Found] = field(default_factory=list)

    @property
    def failed(self) -> dict[str, StepResult]:
        return {s: r for s, r in self.results.items() if r.status not in DONE}

    def count(self, status: str) -> int:
        return sum(1 for r in self.results.values() if r.status == status)


def discover(ctx: Context, kinds: list[str], parallelism: int = 8) -> dict[str, dict[str, Found]]:
    """Read what the deployment owns: one batch read per kind, kinds side by side."""
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            return dict(zip(kinds, pool.map(ctx.inventory.all, kinds), strict=True))
    except Exception as exc:
        raise translate(exc) from exc


def scenario_kinds(scenario: model.Scenario) -> list[str]:
    used = {r.kind for r in scenario.resources.values()}
    return [k for k in handlers() if k in used]


def up(
    scenario: model.Scenario,
    ctx: Context,
    parallelism: int = 8,
) -> RunReport:
    start = time.monotonic()
    steps = graph.build(scenario)
    discover(ctx, scenario_kinds(scenario), parallelism)

    created: set[str] = set()

    def action(step_id: str) -> StepResult:
        lid = step_id.removesuffix(graph.RULES)
        resource = scenario.resources[lid]
        kind = handler(resource.kind)
        late = type(resource.spec).late_fields
        found = ctx.inventory.get(resource.kind, lid)
        if step_id.endswith(graph.RULES):
            assert found is not None  # the group's own step put it there
            result = kind.ensure_late(ctx, resource, ctx.resolve(resource.spec), found)
            if lid in created:  # the rules of a resource made in this run are part of its creation
                result.status = engine.CREATED
        else:
            result = kind.ensure(ctx, resource, resolve_except(ctx, resource.spec, late), found)
            if result.status == engine.CREATED:
                created.add(lid)
        if ctx.wait and step_id == graph.final_step(resource):
            result.found = kind.wait_ready(ctx, resource, result.found)
        ctx.inventory.put(result.found)
        ctx.record(result.found)
        return StepResult(result.status, result.detail, result.found.id)

    kinds = {s: scenario.resources[s.removesuffix(graph.RULES)].kind for s in steps}
    results = engine.run(steps, action, ctx.emit, parallelism, kinds, ctx.cancel, translate)
    return RunReport(results, dict(ctx.aws.calls), time.monotonic() - start)


def resolve_except(ctx: Context, spec: Any, skip: tuple[str, ...]) -> Any:
    """Resolve run-time values in every field but the late ones (their sources may not exist yet)."""
    if not skip:
        return ctx.resolve(spec)
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    resolved = {k: (v if k in skip else ctx.resolve(v)) for k, v in values.items()}
    return dataclasses.replace(spec, **resolved)


@dataclass
class Row:
    logical_id: str
    kind: str
    id: str
    state: str
    note: str = ""


def status(ctx: Context, scenario: model.Scenario | None, parallelism: int = 8) -> list[Row]:
    kinds = scenario_kinds(scenario) if scenario else list(handlers())
    found = discover(ctx, kinds, parallelism)
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    if scenario:
        for lid, resource in scenario.resources.items():
            f = found[resource.kind].get(lid)
            seen.add((resource.kind, lid))
            rows.append(Row(lid, resource.kind, f.id if f else "-", f.state if f else "absent"))
    for kind in kinds:
        for lid, f in found[kind].items():
            if (kind, lid) not in seen:
                rows.append(Row(lid, kind, f.id, f.state, "not in the scenario" if scenario else ""))
    return rows


def outputs(ctx: Context, scenario: model.Scenario, parallelism: int = 8) -> dict[str, str | None]:
    """The scenario's outputs, from what exists now (None where a value is not known yet)."""
    for by_lid in discover(ctx, scenario_kinds(scenario), parallelism).values():
        for f in by_lid.values():
            ctx.record(f)
    out: dict[str, str | None] = {}
    for key, text in scenario.outputs.items():
        try:
            out[key] = ctx.resolve(text)
        except KeyError:
            out[key] = None
    return out


def teardown(ctx: Context, parallelism: int = 8) -> RunReport:
    """Delete everything tagged for the deployment, in an order AWS accepts, then sweep."""
    start = time.monotonic()
    kinds = list(handlers())
    found = discover(ctx, kinds, parallelism)
    order = graph.teardown_order()
    step_of: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for kind in kinds:
        for lid in found[kind]:
            step = lid if lid not in taken else f"{kind}:{lid}"
            taken.add(step)
            step_of[(kind, lid)] = step
    steps: dict[str, set[str]] = {}
    items: dict[str, Found] = {}
    for (kind, lid), step in step_of.items():
        items[step] = found[kind][lid]
        steps[step] = {step_of[(k, other)] for k in order[kind] for other in found.get(k, {})}

    def action(step: str) -> StepResult:
        item = items[step]
        deleted = handler(item.kind).delete(ctx, item)
        return StepResult(DELETED if deleted else engine.ABSENT, "", item.id)

    kinds_of = {step: item.kind for step, item in items.items()}
    results = engine.run(steps, action, ctx.emit, parallelism, kinds_of, ctx.cancel, translate)
    leftovers = sweep(ctx, parallelism)
    return RunReport(results, dict(ctx.aws.calls), time.monotonic() - start, leftovers)


def sweep(ctx: Context, parallelism: int = 8) -> list[Found]:
    """Look again, with fresh reads, for anything still tagged for the deployment."""
    fresh = Context(ctx.aws, ctx.deployment, ctx.scenario, ctx.emit, ctx.cancel)
    found = discover(fresh, list(handlers()), parallelism)
    return [f for kind, by_lid in found.items() for f in by_lid.values() if not handler(kind).is_gone(f)]
