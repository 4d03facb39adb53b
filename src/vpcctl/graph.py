"""The step graph: built from references, ordered by graphlib."""

from __future__ import annotations

import dataclasses
import typing
from graphlib import CycleError, TopologicalSorter

from vpcctl import model
from vpcctl.errors import BadInput

if typing.TYPE_CHECKING:
    from vpcctl.yamlpos import Located

RULES = model.RULES
has_late_step = model.has_late_step
final_step = model.final_step


@dataclasses.dataclass(frozen=True)
class Step:
    id: str  # logical id, or logical id + RULES
    resource: str
    late: bool  # the step that applies the kind's late fields


def build(scenario: model.Scenario, doc: Located | None = None) -> dict[str, set[str]]:
    """Step id -> the step ids it waits for. Raises BadInput on a cycle."""
    res = scenario.resources
    deps: dict[str, set[str]] = {}
    for lid, resource in res.items():
        late_fields = type(resource.spec).late_fields
        main: set[str] = deps.setdefault(lid, set())
        late: set[str] | None = None
        if has_late_step(resource):
            late = deps.setdefault(lid + RULES, {lid})
        for _, _, target, top in model.ref_fields(resource.spec):
            if target == lid:
                continue  # a group that admits itself needs only its own id
            if top in late_fields and late is not None:
                late.add(target)
            else:
                main.add(final_step(res[target]))
        for path, target, _ in model.runtime_values(resource.spec):
            if target == lid:
                continue
            if path[0] in late_fields and late is not None:
                late.add(final_step(res[target]))
            else:
                main.add(final_step(res[target]))
        main.update(final_step(res[d]) for d in resource.depends_on)
    try:
        TopologicalSorter(deps).prepare()
    except CycleError as exc:
        cycle = [step.removesuffix(RULES) for step in exc.args[1]]
        message = "cycle: " + " -> ".join(cycle)
        if doc is not None:
            raise doc.error(("resources", cycle[0]), message, hint="break the loop of references") from None
        raise BadInput(message) from None
    return deps


EXISTS, READY = "exists", "ready"


def edge_kinds(scenario: model.Scenario, deps: dict[str, set[str]] | None = None) -> dict[str, dict[str, str]]:
    """Step -> {step it waits for: EXISTS or READY}. An edge needs only its source's calls
    (EXISTS) when AWS accepts the reference while the source is still provisioning
    (vpcctl.pace.EXISTS_ENOUGH); otherwise the source's wait too (READY)."""
    from vpcctl import pace  # here: loading a scenario builds its graph without AWS's timings

    res = scenario.resources
    deps = deps if deps is not None else (scenario.steps or build(scenario))
    out: dict[str, dict[str, str]] = {}
    for step, needed in deps.items():
        lid = step.removesuffix(RULES)
        kind = res[lid].kind
        out[step] = {}
        for dep in needed:
            source = dep.removesuffix(RULES)
            ready = source == lid or pace.needs_ready(kind, res[source].kind)
            out[step][dep] = READY if ready else EXISTS
    return out


def exists_only(scenario: model.Scenario, deps: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Step -> the steps it needs only to exist (for engine.run)."""
    return {step: {d for d, k in edges.items() if k == EXISTS} for step, edges in edge_kinds(scenario, deps).items()}


def steps(scenario: model.Scenario) -> dict[str, Step]:
    out = {}
    for step_id in scenario.steps or build(scenario):
        lid = step_id.removesuffix(RULES)
        out[step_id] = Step(step_id, lid, step_id.endswith(RULES))
    return out


def kind_dependencies() -> dict[str, set[str]]:
    """Kind -> kinds it refers to. Teardown deletes a kind before the kinds it refers to."""
    out: dict[str, set[str]] = {}
    for kind, cls in model.SPECS.items():
        out[kind] = {k for k in _referenced_kinds(cls) if k != kind and k in model.SPECS}
    return out


def _referenced_kinds(cls: type) -> set[str]:
    """Kinds named by the main fields. Late fields are left out: what they set (rules,
    registered targets) goes with the resource and asks no deletion order (a target
    group listing a service's tasks may go before or after that service)."""
    found: set[str] = set()
    hints = typing.get_type_hints(cls)
    late = getattr(cls, "late_fields", ())
    for f in dataclasses.fields(cls):
        if f.name in late:
            continue
        found.update(f.metadata.get("ref", ()))
        for arg in (hints[f.name], *_all_args(hints[f.name])):
            if dataclasses.is_dataclass(arg):
                found |= _referenced_kinds(arg)
    return found


def _all_args(tp: typing.Any) -> list[typing.Any]:
    out = []
    for arg in typing.get_args(tp):
        out.append(arg)
        out.extend(_all_args(arg))
    return out


def teardown_order() -> dict[str, set[str]]:
    """Kind -> kinds that must be gone first (the transposed reference graph)."""
    deps = kind_dependencies()
    transposed: dict[str, set[str]] = {kind: set() for kind in deps}
    for kind, targets in deps.items():
        for target in targets:
            transposed[target].add(kind)
    for kind, before in EXTRA_TEARDOWN_ORDER.items():
        transposed[kind] |= before
    return transposed


# Deletion order AWS enforces that no reference in a spec expresses
# (kind -> kinds that must be gone first).
EXTRA_TEARDOWN_ORDER: dict[str, set[str]] = {
    # An internet gateway cannot be detached while instances in its VPC hold public IPs,
    # nor while a NAT gateway holds an Elastic IP there ("has some mapped public address(es)").
    "internet_gateway": {"instance", "nat_gateway"},
}
