"""YAML loading that remembers where every value came from (line numbers by key path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from vpcctl.errors import ScenarioError

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """('resources', 'web', 'ingress', 0, 'port') -> 'resources.web.ingress[0].port'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Located:
    """A plain Python value tree plus the line of each key path."""

    file: str
    value: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        # Fall back to the nearest enclosing key that has a line.
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: Path, message: str, hint: str | None = None) -> ScenarioError:
        return ScenarioError(self.file, self.line(path), dotted(path), message, hint)


def load(text: str, file: str) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(file, line, "", f"not valid YAML: {problem}") from None
    doc = Located(file, None)
    if node is None:
        raise ScenarioError(file, 1, "", "the file is empty")
    doc.value = _convert(node, (), doc, yaml.SafeLoader(""))
    return doc


def _convert(node: yaml.Node, path: Path, doc: Located, scalars: yaml.SafeLoader) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise doc.error(path, "keys must be plain names")
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                raise ScenarioError(
                    doc.file,
                    key_node.start_mark.line + 1,
                    dotted(child),
                    f"duplicate key '{key}' (first at line {doc.lines[child]})",
                )
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, child, doc, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc, scalars) for i, item in enumerate(node.value)]
    return scalars.construct_object(node)
