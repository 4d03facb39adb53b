"""Load a scenario file, substitute parameters and validate it before any AWS call."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

from vpcctl import constraints, graph, model, validate, yamlpos
from vpcctl.errors import BadInput, ScenarioError
from vpcctl.yamlpos import Located
from vpcctl.yamlpos import Path as KeyPath

TOP_KEYS = {"scenario", "description", "region", "parameters", "resources", "outputs", "flows"}
PARAM = re.compile(r"\$\{params\.([A-Za-z0-9_]+)\}")
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")
# A scenario file is a few kilobytes; anything far larger is not one.
MAX_FILE_BYTES = 1024 * 1024
LOGICAL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
DEFAULT_REGION = "ap-northeast-1"


# ----------------------------------------------------------------- locating


def scenario_dirs() -> list[Path]:
    """Where scenarios are looked up by name: ./scenarios first, then the packaged ones."""
    dirs = [Path.cwd() / "scenarios"]
    packaged = Path(__file__).parent / "scenarios"  # where a wheel puts them
    if packaged.is_dir():
        dirs.append(packaged)
    else:  # running from a source checkout
        dirs.append(Path(__file__).resolve().parents[2] / "scenarios")
    return dirs


def available() -> dict[str, Path]:
    """Scenario name -> file, the first directory winning."""
    found: dict[str, Path] = {}
    for directory in scenario_dirs():
        if directory.is_dir():
            for file in sorted(directory.glob("*.yaml")):
                found.setdefault(file.stem, file)
    return found


def locate(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if candidate.is_dir():
            raise BadInput(f"{name_or_path} is a directory, not a scenario file")
        if not candidate.is_file():
            raise BadInput(f"no scenario file at {name_or_path}")
        return candidate
    known = available()
    if name_or_path in known:
        return known[name_or_path]
    raise BadInput(
        f"unknown scenario '{name_or_path}'",
        hint="known scenarios: " + ", ".join(sorted(known)) + " (or give a path to a .yaml file)",
    )


def load(name_or_path: str, overrides: dict[str, str] | None = None) -> model.Scenario:
    file = locate(name_or_path)
    try:
        shown = str(file.relative_to(Path.cwd()))
    except ValueError:
        shown = str(file)
    return parse(read(file, shown), shown, overrides or {})


def read(file: Path, shown: str) -> str:
    """A scenario file's text: readable, not too large, UTF-8."""
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(shown, None, "", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(shown, None, "", f"larger than {MAX_FILE_BYTES // 1024} KiB: not a scenario file")
    return yamlpos.decode(data, shown)


def check_region(scenario: model.Scenario, region: str) -> None:
    """The scenario's zones exist in the region a run uses (--region may differ from the file's)."""
    validate.check_region(Located(scenario.file, None, scenario.key_lines), scenario, region, ("region",))


def parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    """--set key=value pairs into a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set {pair}: expected key=value")
        if key.strip() in out:
            raise BadInput(f"--set {key.strip()}: given twice")
        out[key.strip()] = value
    return out


# ------------------------------------------------------------------ parsing


def parse(text: str, file: str, overrides: dict[str, str]) -> model.Scenario:
    doc = yamlpos.load(text, file)
    top = doc.value
    if not isinstance(top, dict):
        raise doc.error((), "a scenario is a mapping with 'scenario' and 'resources'")
    for key in top:
        if key not in TOP_KEYS:
            raise doc.error((key,), f"unknown key '{key}'", hint=f"allowed: {', '.join(sorted(TOP_KEYS))}")
    name = _require_str(doc, top, "scenario")
    problem = constraints.name_problem(name)
    if problem:
        raise doc.error(("scenario",), f"scenario name '{name}' {problem}", hint=constraints.NAME_RULE)
    params = _parameters(doc, top.get("parameters") or {})
    values = _apply_overrides(params, overrides)
    _remember_origins(doc, top, params, overrides)
    raw_resources = top.get("resources")
    if not isinstance(raw_resources, dict) or not raw_resources:
        raise doc.error(("resources",), "'resources' must map logical ids to resources")
    substituted = _substitute(doc, raw_resources, ("resources",), values)
    selected, left_out = _select(doc, substituted)
    resources = {lid: _resource(doc, lid, body) for lid, body in selected.items()}
    outputs_raw = top.get("outputs") or {}
    if not isinstance(outputs_raw, dict):
        raise doc.error(("outputs",), "'outputs' must map names to values")
    outputs = {}
    for key, value in _substitute(doc, outputs_raw, ("outputs",), values).items():
        if isinstance(value, (dict, list)) or value is None:
            raise doc.error(("outputs", key), "an output is one string")
        if not any(lid in left_out for lid, _ in model.RUNTIME.findall(str(value))):
            outputs[key] = str(value)
    region = top.get("region", DEFAULT_REGION)
    if not isinstance(region, str):
        raise doc.error(("region",), "'region' must be a Region name such as ap-northeast-1")
    flows = _flows(doc, _substitute(doc, top.get("flows") or [], ("flows",), values), resources, left_out)
    scenario = model.Scenario(
        name=name,
        file=file,
        description=str(top.get("description", "")).strip(),
        region=region,
        parameters=params,
        values=values,
        resources=resources,
        outputs=outputs,
        lines={lid: doc.lines.get(("resources", lid), 0) for lid in resources},
        flows=flows,
        key_lines=dict(doc.lines),
    )
    _check_references(doc, scenario, left_out)
    _check_runtime_values(doc, scenario)
    validate.values(doc, scenario)
    _check_networks(doc, scenario)
    # Built once here (raising on cycles) and handed on with the scenario.
    return dataclasses.replace(scenario, steps=graph.build(scenario, doc))


def _flows(doc: Located, raw: Any, resources: dict[str, model.Resource], left_out: Any = ()) -> tuple[model.Flow, ...]:
    """`flows:`: a list of {client, to, port, protocol}; clients and destinations that look like
    logical ids must name resources of a kind that can open or answer a connection. A flow
    from or to a resource a `when:` leaves out goes with it."""
    if not isinstance(raw, list):
        raise doc.error(("flows",), "'flows' must be a list of {client, to, port}")
    flows = []
    for i, body in enumerate(raw):
        path: KeyPath = ("flows", i)
        flow = _convert(doc, model.Flow, body, path)
        if flow.client in left_out or flow.to in left_out:
            continue
        if flow.client != "internet":
            _check_flow_end(doc, (*path, "client"), flow.client, resources, model.FLOW_CLIENTS, "internet")
        if "." not in flow.to and "${" not in flow.to:  # a DNS name is free text
            _check_flow_end(doc, (*path, "to"), flow.to, resources, model.FLOW_DESTINATIONS, "a DNS name")
        if not 0 < flow.port < 65536:
            raise doc.error((*path, "port"), f"port {flow.port} is not between 1 and 65535")
        flows.append(flow)
    return tuple(flows)


def _check_flow_end(
    doc: Located, path: KeyPath, lid: str, resources: dict[str, model.Resource], kinds: tuple[str, ...], other: str
) -> None:
    if lid not in resources:
        raise doc.error(path, f"'{lid}' refers to nothing", hint=f"{_ids_of(resources, kinds)}, or {other}")
    if resources[lid].kind not in kinds:
        raise doc.error(
            path, f"'{lid}' is a {resources[lid].kind}, expected a {' or '.join(kinds)}", hint=_ids_of(resources, kinds)
        )


def _require_str(doc: Located, mapping: dict, key: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise doc.error((key,), f"'{key}' is required and must be a string")
    return value


def _parameters(doc: Located, raw: Any) -> dict[str, model.Parameter]:
    if not isinstance(raw, dict):
        raise doc.error(("parameters",), "'parameters' must map names to {default, description}")
    params = {}
    for name, body in raw.items():
        path = ("parameters", name)
        if not PARAM_NAME.fullmatch(name):
            raise doc.error(path, f"parameter name '{name}' must be letters, digits and '_', starting with a letter")
        if not isinstance(body, dict) or "default" not in body:
            raise doc.error(path, f"parameter '{name}' needs a 'default'")
        for key in body:
            if key not in ("default", "description"):
                raise doc.error((*path, key), f"unknown key '{key}'", hint="allowed: default, description")
        params[name] = model.Parameter(name, body["default"], str(body.get("description", "")))
    return params


def _apply_overrides(params: dict[str, model.Parameter], overrides: dict[str, str]) -> dict[str, Any]:
    values = {name: p.default for name, p in params.items()}
    for key, text in overrides.items():
        if key not in params:
            raise BadInput(
                f"--set {key}: the scenario has no parameter '{key}'",
                hint="parameters: " + (", ".join(sorted(params)) or "none"),
            )
        values[key] = _coerce(key, text, params[key].default)
    return values


def _coerce(key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise BadInput(f"--set {key}={text}: expected true or false")
    if isinstance(default, int):
        if not WHOLE_NUMBER.fullmatch(text):
            raise BadInput(f"--set {key}={text}: expected a whole number")
        return int(text)
    if "\x00" in text or "\n" in text:
        raise BadInput(f"--set {key}: a value is one line of text")
    return text


def _remember_origins(doc: Located, top: dict, params: dict[str, model.Parameter], overrides: dict[str, str]) -> None:
    """Mark every key whose value is an overridden parameter, so errors name the --set."""

    def walk(value: Any, path: KeyPath) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))
        elif isinstance(value, str):
            for name in PARAM.findall(value):
                if name in overrides:
                    doc.origins[path] = f"--set {name}={overrides[name]}"

    for section in ("resources", "outputs"):
        walk(top.get(section), (section,))


def _substitute(doc: Located, value: Any, path: KeyPath, values: dict[str, Any]) -> Any:
    """Replace ${params.x}; a string that is only a parameter keeps the parameter's type."""
    if isinstance(value, dict):
        return {k: _substitute(doc, v, (*path, k), values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(doc, v, (*path, i), values) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    for name in PARAM.findall(value):
        if name not in values:
            raise doc.error(path, f"unknown parameter '{name}'", hint="declare it under 'parameters'")
    whole = PARAM.fullmatch(value)
    out = values[whole.group(1)] if whole else PARAM.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(out, str) and "${" in model.RUNTIME.sub("", out):
        raise doc.error(
            path, f"'{out}' holds a '${{' that is not ${{params.NAME}} or ${{ID.ATTRIBUTE}}", hint="close the brace"
        )
    return out


def _select(doc: Located, resources: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Apply `when:` on resources and on list items: an empty, false or zero value leaves them out."""

    def keep(item: Any, path: KeyPath) -> bool:
        return not isinstance(item, dict) or "when" not in item or _truthy(item["when"])

    def strip(value: Any, path: KeyPath) -> Any:
        if isinstance(value, dict):
            return {k: strip(v, (*path, k)) for k, v in value.items() if k != "when"}
        if isinstance(value, list):
            return [strip(v, (*path, i)) for i, v in enumerate(value) if keep(v, (*path, i))]
        return value

    selected, left_out = {}, set()
    for lid, body in resources.items():
        if keep(body, ("resources", lid)):
            selected[lid] = strip(body, ("resources", lid))
        else:
            left_out.add(lid)
    return selected, left_out


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, str) and not value.strip())


def _resource(doc: Located, lid: str, body: Any) -> model.Resource:
    path: KeyPath = ("resources", lid)
    if not LOGICAL_ID.match(lid):
        raise doc.error(path, f"logical id '{lid}' must start with a letter and hold only letters, digits and '-'")
    if lid.endswith("-") or "--" in lid:
        raise doc.error(path, f"logical id '{lid}' ends in '-' or holds '--', which AWS refuses in names")
    if not isinstance(body, dict):
        raise doc.error(path, "a resource is a mapping with a 'kind'")
    kind = body.get("kind")
    if kind not in model.SPECS:
        raise doc.error((*path, "kind"), f"unknown kind '{kind}'", hint="kinds: " + ", ".join(sorted(model.SPECS)))
    fields = {k: v for k, v in body.items() if k not in ("kind", "depends_on")}
    spec = _convert(doc, model.SPECS[kind], fields, path)
    depends = body.get("depends_on") or []
    if isinstance(depends, str):
        depends = [depends]
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise doc.error((*path, "depends_on"), "'depends_on' must be a list of logical ids")
    return model.Resource(lid, spec, tuple(depends))


def _convert(doc: Located, cls: type, raw: Any, path: KeyPath) -> Any:
    """Build a frozen spec from a mapping, checking keys and types."""
    if not isinstance(raw, dict):
        raise doc.error(path, f"expected a mapping, got {_describe(raw)}")
    hints = _field_types(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            allowed = ["kind", "depends_on", *known] if issubclass(cls, model.Spec) else list(known)
            raise doc.error((*path, key), f"unknown key '{key}'", hint="allowed: " + ", ".join(allowed))
    kwargs = {}
    for name, f in known.items():
        if name in raw:
            kwargs[name] = _value(doc, hints[name], raw[name], (*path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise doc.error(path, f"'{name}' is required")
    return cls(**kwargs)


@cache
def _field_types(cls: type) -> dict[str, Any]:
    """A spec class's field types, evaluated once per class (each call of get_type_hints
    evaluates every string annotation again)."""
    return typing.get_type_hints(cls, include_extras=True)


def _value(doc: Located, tp: Any, raw: Any, path: KeyPath) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *marks = typing.get_args(tp)
        value = _value(doc, base, raw, path)
        if "cidr" in marks:
            _check_cidr(doc, value, path)
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw is None:
            return None
        return _value(doc, options[0], raw, path)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if raw not in choices:
            raise doc.error(path, f"'{raw}' is not one of: {', '.join(map(str, choices))}")
        return raw
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if isinstance(raw, (str, dict)) or not isinstance(raw, list):
            raise doc.error(path, f"expected a list, got {_describe(raw)}")
        return tuple(_value(doc, item_type, item, (*path, i)) for i, item in enumerate(raw))
    if dataclasses.is_dataclass(tp):
        return _convert(doc, tp, raw, path)
    if tp is bool:
        if not isinstance(raw, bool):
            raise doc.error(path, f"expected true or false, got {_describe(raw)}")
        return raw
    if tp is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise doc.error(path, f"expected a whole number, got {_describe(raw)}")
        return raw
    if tp is str:
        if isinstance(raw, (dict, list)) or raw is None:
            raise doc.error(path, f"expected a string, got {_describe(raw)}")
        return str(raw)
    raise doc.error(path, f"unsupported type {tp}")  # a bug in a spec, not in the file


def _describe(raw: Any) -> str:
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    if raw is None:
        return "nothing"
    return f"{type(raw).__name__} {raw!r}"


def _check_cidr(doc: Located, value: str | None, path: KeyPath) -> None:
    if value is None or model.RUNTIME.search(value):
        return  # a run-time value is checked when it is resolved
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise doc.error(path, f"'{value}' is not a valid IPv4 CIDR ({exc})") from None


# --------------------------------------------------------------- semantics


# The reference walkers live in the model (the graph reads them too).
ref_fields = model.ref_fields
runtime_values = model.runtime_values


def _check_references(doc: Located, scenario: model.Scenario, left_out: set[str] | None = None) -> None:
    res = scenario.resources
    left_out = left_out or set()
    for lid, resource in res.items():
        base: KeyPath = ("resources", lid)
        for path, kinds, target, _ in ref_fields(resource.spec):
            if target in left_out:
                raise doc.error(
                    (*base, *path), f"'{target}' is left out by its 'when'", hint=f"give {lid} the same 'when'"
                )
            if target not in res:
                raise doc.error((*base, *path), f"'{target}' refers to nothing", hint=_ids_of(res, kinds))
            if res[target].kind not in kinds:
                raise doc.error(
                    (*base, *path),
                    f"'{target}' is a {res[target].kind}, expected a {' or '.join(kinds)}",
                    hint=_ids_of(res, kinds),
                )
        for i, target in enumerate(resource.depends_on):
            if target not in res:
                raise doc.error((*base, "depends_on", i), f"'{target}' refers to nothing")


def _ids_of(res: dict[str, model.Resource], kinds: tuple[str, ...]) -> str:
    ids = [lid for lid, r in res.items() if r.kind in kinds]
    return f"{' or '.join(kinds)} ids in this file: {', '.join(ids) or 'none'}"


def _check_runtime_values(doc: Located, scenario: model.Scenario) -> None:
    res = scenario.resources

    def check(path: KeyPath, lid: str, attr: str) -> None:
        if lid not in res:
            raise doc.error(path, f"'${{{lid}.{attr}}}' refers to nothing")
        allowed = type(res[lid].spec).attributes
        if attr not in allowed:
            raise doc.error(
                path, f"a {res[lid].kind} has no attribute '{attr}'", hint=f"attributes: {', '.join(allowed)}"
            )

    for lid, resource in res.items():
        for path, target, attr in runtime_values(resource.spec):
            check(("resources", lid, *path), target, attr)
    for key, text in scenario.outputs.items():
        for target, attr in model.RUNTIME.findall(text):
            check(("outputs", key), target, attr)


def _check_networks(doc: Located, scenario: model.Scenario) -> None:
    """Subnets inside their VPC and not overlapping each other."""
    res = scenario.resources
    by_vpc: dict[str, list[tuple[str, ipaddress.IPv4Network]]] = {}
    for lid, resource in res.items():
        spec = resource.spec
        if not isinstance(spec, model.Subnet):
            continue
        vpc_cidr = ipaddress.IPv4Network(typing.cast(model.Vpc, res[spec.vpc].spec).cidr)
        cidr = ipaddress.IPv4Network(spec.cidr)
        path = ("resources", lid, "cidr")
        if not cidr.subnet_of(vpc_cidr):
            raise doc.error(path, f"{cidr} is not inside VPC '{spec.vpc}' ({vpc_cidr})")
        for other, other_cidr in by_vpc.get(spec.vpc, []):
            if cidr.overlaps(other_cidr):
                raise doc.error(path, f"{cidr} overlaps subnet '{other}' ({other_cidr})")
        by_vpc.setdefault(spec.vpc, []).append((lid, cidr))
