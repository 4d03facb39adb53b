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
    # Key paths whose value came from the command line: path -> "--set key=value".
    origins: dict[Path, str] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        # Fall back to the nearest enclosing key that has a line.
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: Path, message: str, hint: str | None = None) -> ScenarioError:
        if path in self.origins:
            message = f"{message} (from {self.origins[path]})"
        return ScenarioError(self.file, self.line(path), dotted(path), message, hint)


# A scenario has a few hundred values; anchors and aliases may repeat parts of it, but
# a file that expands past these bounds is an alias bomb, not a scenario.
MAX_VALUES = 50_000
MAX_DEPTH = 64

# Tags a scenario may carry (explicitly or by YAML's own resolution): plain data only.
# Anything else (`!Ref`, `!!python/object`, `!!binary`, ...) is refused by name.
PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}

# libyaml's parser when PyYAML has it: ten times faster on a scenario, with the same lines and
# messages for every file of the broken-input corpus (tests/test_bad_input.py).
COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}


def decode(data: bytes, file: str) -> str:
    """The text of a scenario file, which must be UTF-8 (a UTF-8 byte order mark is dropped)."""
    for bom, encoding in BOMS.items():
        if data.startswith(bom):
            raise ScenarioError(file, 1, "", f"the file is {encoding}; save it as UTF-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ScenarioError(file, data.count(b"\n", 0, nul) + 1, "", "a NUL byte: this is not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise ScenarioError(file, line, "", f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8") from None


def load(text: str, file: str) -> Located:
    try:
        node = yaml.compose(text, Loader=COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or str(exc)
        raise ScenarioError(file, line, "", f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ScenarioError(file, line, "", f"not valid YAML: character #x{exc.character:04x} is not allowed") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, None, "", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(file, None, "", f"not valid YAML: nested more than {MAX_DEPTH} levels deep") from None
    doc = Located(file, None)
    if node is None:
        raise ScenarioError(file, 1, "", "the file is empty")
    doc.value = _Converter(doc).convert(node, ())
    return doc


class _Converter:
    """Node tree -> plain values, with a line per key path, refusing what is not plain data."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.scalars = yaml.SafeLoader("")
        self.count = 0
        self.active: set[int] = set()  # nodes being converted: an alias back to one is a loop

    def convert(self, node: yaml.Node, path: Path) -> Any:
        doc = self.doc
        line = node.start_mark.line + 1
        doc.lines.setdefault(path, line)
        self.count += 1
        if self.count > MAX_VALUES:
            raise ScenarioError(doc.file, line, dotted(path), f"more than {MAX_VALUES} values: aliases expand too far")
        if len(path) > MAX_DEPTH:
            raise ScenarioError(doc.file, line, dotted(path), f"nested more than {MAX_DEPTH} levels deep")
        if node.tag not in PLAIN_TAGS:
            raise ScenarioError(
                doc.file, line, dotted(path), f"the tag '{node.tag}' is not supported: plain values only"
            )
        if id(node) in self.active:
            raise ScenarioError(doc.file, line, dotted(path), "a recursive alias (it contains itself)")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.scalars.construct_object(node)
            except (yaml.YAMLError, ValueError) as exc:
                raise ScenarioError(doc.file, line, dotted(path), f"not a valid value: {exc}") from None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        doc = self.doc
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in PLAIN_TAGS:
                raise ScenarioError(doc.file, key_node.start_mark.line + 1, dotted(path), "keys must be plain names")
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
            out[key] = self.convert(value_node, child)
        return out
