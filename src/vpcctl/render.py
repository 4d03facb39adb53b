"""Rendering: reads engine events and reports, prints them. Nothing here calls AWS."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from vpcctl.status import (
    ABSENT,
    CANCELLED,
    CREATED,
    DELETED,
    FAILED,
    RUNNING,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    Event,
    change_text,
    shown,
)

STYLES = {
    CREATED: "green",
    UPDATED: "yellow",
    UNCHANGED: "dim",
    DELETED: "green",
    ABSENT: "dim",
    FAILED: "bold red",
    SKIPPED: "red",
    CANCELLED: "red",
    RUNNING: "cyan",
    "waiting": "cyan",
    "pending": "dim",
}


class Renderer:
    """Base: a renderer is called with every event, then closed."""

    def __call__(self, event: Event) -> None: ...

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: Any) -> None: ...


class Quiet(Renderer):
    pass


class Lines(Renderer):
    """Plain timestamped lines, for logs and pipes."""

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.status == RUNNING and not self.verbose:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        kind = f" ({event.kind})" if event.kind else ""
        parts = [stamp, f"{event.step}{kind}", event.status]
        if event.resource_id:
            parts.append(event.resource_id)
        if event.detail:
            parts.append(event.detail)
        with self._lock:
            print("  ".join(parts), file=self.stream, flush=True)


class Live(Renderer):
    """A live table on a terminal: one row per step, updated as events arrive."""

    def __init__(self, title: str, steps: list[tuple[str, str]]) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive

        self.title = title
        self.rows: dict[str, dict[str, str]] = {
            step: {"kind": kind, "status": "pending", "id": "", "detail": ""} for step, kind in steps
        }
        self._lock = threading.Lock()
        self.console = Console(stderr=True)
        self.live = RichLive(self._table(), console=self.console, refresh_per_second=8, transient=False)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", expand=False)
        for column in ("step", "kind", "status", "id", "detail"):
            table.add_column(column, overflow="fold")
        for step, row in self.rows.items():
            style = STYLES.get(row["status"], "")
            table.add_row(
                step, row["kind"], f"[{style}]{row['status']}[/]" if style else row["status"], row["id"], row["detail"]
            )
        return table

    def __call__(self, event: Event) -> None:
        with self._lock:
            row = self.rows.setdefault(event.step, {"kind": event.kind, "status": "", "id": "", "detail": ""})
            row["status"] = event.status
            if event.resource_id:
                row["id"] = event.resource_id
            if event.detail or event.status in ("running", "waiting"):
                row["detail"] = event.detail  # a finished step keeps its last word (tasks, targets)
            if event.kind:
                row["kind"] = event.kind
            self.live.update(self._table())

    def __enter__(self) -> Live:
        self.live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.stop()


class Collect(Renderer):
    """Keeps events for --output json; prints nothing while running."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)


def table(title: str, columns: list[str], rows: list[list[str]], stream: IO[str] | None = None) -> None:
    """A rich table on a terminal; plain aligned columns (never wrapped) for pipes and logs."""
    stream = stream or sys.stdout
    if not stream.isatty():
        widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
        print(title, file=stream)
        for row in [columns, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=stream)
        return
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*[str(c) for c in row])
    Console(file=stream).print(out)


def emit_json(data: Any, stream: IO[str] | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str), file=stream or sys.stdout)


def calls_table(calls: dict[str, int], seconds: float, stream: IO[str] | None = None) -> None:
    rows = [[op, str(n)] for op, n in sorted(calls.items())]
    rows.append(["total", str(sum(calls.values()))])
    table(f"AWS API calls ({seconds:.2f} s)", ["operation", "calls"], rows, stream or sys.stderr)


# ----------------------------------------------------------------- plan, drift

PLAN_MARKS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "unchanged": "="}
PLAN_ACTIONS = ("create", "update", "replace", "delete", "unchanged")


def changes_text(changes: list[dict[str, Any]], create_details: bool = True) -> str:
    """A resource's changes on one line; a create lists every attribute it will set."""
    if changes and changes[0]["action"] == "create":
        after = changes[0].get("after") or {}
        return (
            ", ".join(f"{k}={shown(v)}" for k, v in after.items() if v not in (None, (), [], ""))
            if create_details
            else "create"
        )
    return ", ".join(change_text(c) for c in changes)


def plan_summary(resources: list[dict[str, Any]]) -> dict[str, int]:
    return {action: sum(1 for r in resources if r["action"] == action) for action in PLAN_ACTIONS}


def plan(title: str, resources: list[dict[str, Any]], stream: IO[str] | None = None) -> None:
    """One line per resource (what `up` would do to it), then a summary line."""
    stream = stream or sys.stdout
    rows = [
        [PLAN_MARKS[r["action"]], r["action"], r["logical_id"], r["kind"], r["id"] or "-", changes_text(r["changes"])]
        for r in resources
    ]
    table(title, ["", "action", "logical id", "kind", "id", "changes"], rows, stream)
    print(plan_line(resources), file=stream)


def plan_line(resources: list[dict[str, Any]]) -> str:
    counts = plan_summary(resources)
    if not any(counts[a] for a in PLAN_ACTIONS[:-1]):
        return f"no changes: {counts['unchanged']} resources as the scenario says"
    return (
        f"plan: {counts['create']} to create, {counts['update']} to update, {counts['replace']} to replace, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged"
    )


def drift_text(drift: list[dict[str, Any]]) -> str:
    """'drift: +ingress tcp/22 0.0.0.0/0, -ingress tcp/8081 sec-alb' (empty when none)."""
    if not drift or drift[0]["action"] in ("create", "delete"):
        return ""
    return "drift: " + changes_text(drift)


def unmanaged(resources: list[dict[str, Any]], pruned: bool, stream: IO[str] | None = None) -> None:
    """Resources tagged for the deployment that the scenario no longer has."""
    if not resources:
        return
    title = (
        "deleted, not in the scenario (--prune)" if pruned else "kept, not in the scenario (delete them with --prune)"
    )
    table(
        title,
        ["logical id", "kind", "id"],
        [[r["logical_id"], r["kind"], r["id"]] for r in resources],
        stream or sys.stderr,
    )


def _usd(value: float) -> str:
    return f"{value:,.2f}"


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def cost_table(estimate: Any, alternatives: list[Any] | None = None, stream: IO[str] | None = None) -> None:
    """`vpcctl cost`: one row per billed dimension, the total, and the NAT comparison."""
    stream = stream or sys.stdout
    usage = estimate.usage
    rows = [
        [
            line.resource,
            line.dimension,
            f"{_quantity(line.quantity)} {line.unit}",
            f"{line.rate:g}",
            _usd(line.monthly),
        ]
        for line in estimate.lines
    ]
    rows.append(["total", "", "", "", _usd(estimate.total)])
    title = (
        f"{estimate.scenario} ({estimate.region}): USD for {_quantity(usage.hours)} hours, "
        f"{_quantity(usage.gb)} GB processed per resource; prices: {estimate.source}"
    )
    table(title, ["resource", "billed for", "quantity", "USD per unit", "USD"], rows, stream)
    if estimate.free:
        import textwrap

        print(
            textwrap.fill(
                f"not billed: {', '.join(estimate.free)}", 100, subsequent_indent="  ", break_on_hyphens=False
            ),
            file=stream,
        )
    for note in estimate.notes:
        print(f"note: {note}", file=stream)
    if alternatives:
        base = alternatives[0].estimate.total
        compare_rows = [
            [a.name, _usd(a.estimate.total), _usd(a.estimate.total - base), ", ".join(a.replaced) or "-"]
            for a in alternatives
        ]
        table("interface endpoints or NAT gateways", ["design", "USD", "difference", "replaces"], compare_rows, stream)
        for note in alternatives[-1].estimate.notes:
            print(f"note: {note}", file=stream)
