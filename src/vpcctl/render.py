"""Rendering: reads engine events and reports, prints them. Nothing here calls AWS."""

from __future__ import annotations

import json
import re
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
    WAITING,
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

    width = 100  # longer lines put a waiting step's facts one a line

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
            parts.append(event.resource_id if self.verbose else short_id(event.resource_id, 40))
        line = "  ".join([*parts, event.detail] if event.detail else parts)
        if len(line) > self.width and kind and not self.verbose:  # the step names the kind well enough
            parts[1] = event.step
            line = "  ".join([*parts, event.detail] if event.detail else parts)
        if len(line) > self.width and not self.verbose:  # one fact a line under the first
            first, *rest = detail_lines(event.detail) or [""]
            line = "\n".join(["  ".join([*parts, first]), *(" " * 10 + r for r in rest)])
        with self._lock:
            print(line, file=self.stream, flush=True)


class Live(Renderer):
    """A live view on a terminal: one row per step with a spinner and elapsed time while it
    runs, the tasks and targets of the step being waited on one per line, and a footer
    that counts done, waiting and failed steps. It fits the terminal's width: ids are
    abbreviated (whole with verbose) and the detail column wraps instead of being cut."""

    def __init__(self, title: str, steps: list[tuple[str, str]], console: Any = None, verbose: bool = False) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive

        self.title = title
        self.verbose = verbose
        self.rows: dict[str, dict[str, Any]] = {step: _live_row(kind) for step, kind in steps}
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.console = console or Console(stderr=True)
        self.live = RichLive(console=self.console, get_renderable=self.view, refresh_per_second=8, transient=False)

    def __call__(self, event: Event) -> None:
        with self._lock:
            row = self.rows.setdefault(event.step, _live_row(event.kind))
            if event.status == RUNNING and row["since"] is None:
                row["since"] = time.monotonic()
            row["status"] = event.status
            if event.kind:
                row["kind"] = event.kind
            if event.resource_id:
                row["id"] = event.resource_id
            if event.status in (RUNNING, WAITING):
                row["detail"] = event.detail
            elif event.status == FAILED or event.status in (SKIPPED, CANCELLED):
                row["detail"] = event.detail  # why it did not finish stays in view
                row["seconds"] = event.data.get("seconds")
            else:  # a finished step keeps only its final word: the status and its id
                row["detail"] = ""
                row["seconds"] = event.data.get("seconds")

    def view(self) -> Any:
        """The whole view as a rich renderable, built afresh at every refresh."""
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        wide = self.console.width >= 100
        now = time.monotonic()
        with self._lock:
            rows = {step: dict(row) for step, row in self.rows.items()}
        # The facts of a waited-on step (its tasks and targets) go under the table, one a
        # line across the whole width, so that no column squeezes them.
        facts = {step: detail_lines(row["detail"]) for step, row in rows.items() if row["status"] in (RUNNING, WAITING)}
        below = [(step, lines[1:]) for step, lines in facts.items() if len(lines) > 1]
        needed = 2 + len(rows) + sum(len(lines) for _, lines in below) + (len(below) if len(below) > 1 else 0)
        # No borders, one space between columns; the header only where the height allows.
        table = Table(
            box=None,
            pad_edge=False,
            expand=False,
            padding=(0, 1, 0, 0),
            header_style="bold",
            show_header=needed + 1 < self.console.height,
        )
        table.add_column("step", overflow="fold")
        if wide:
            table.add_column("kind", overflow="fold", style="dim")
        table.add_column("status", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for step, row in rows.items():
            status = row["status"]
            style = STYLES.get(status, "")
            mark: Any = (
                Spinner("dots", text=Text(status, style=style), style=style)
                if status in (RUNNING, WAITING)
                else Text(status, style=style)
            )
            seconds = (
                row["seconds"]
                if row["seconds"] is not None
                else (now - row["since"] if row["since"] is not None else None)
            )
            detail = facts[step][0] if facts.get(step) else self._detail(row)
            cells = [step, row["kind"]] if wide else [step]
            table.add_row(*cells, mark, _elapsed(seconds), detail)
        parts: list[Any] = [Text(self.title, style="bold"), table]
        for step, lines in below:
            if len(below) > 1:
                parts.append(Text(f"{step}:", style="cyan"))
            parts += [Text(f"  {line}", overflow="fold") for line in lines]
        parts.append(Text(self._footer(rows, now - self.started), style="bold"))
        return Group(*parts)

    def _detail(self, row: dict[str, Any]) -> str:
        ident = row["id"] if self.verbose else short_id(row["id"], 24)
        return ident if row["status"] in DONE_WORDS else row["detail"]

    @staticmethod
    def _footer(rows: dict[str, dict[str, Any]], seconds: float) -> str:
        counts = {word: 0 for word in ("done", "waiting", "failed", "pending")}
        for row in rows.values():
            status = row["status"]
            key = (
                "done"
                if status in DONE_WORDS
                else "waiting"
                if status in (RUNNING, WAITING)
                else "pending"
                if status == "pending"
                else "failed"
            )
            counts[key] += 1
        text = ", ".join(f"{n} {word}" for word, n in counts.items())
        return f"{text}; {_elapsed(seconds)} in all"

    def __enter__(self) -> Live:
        self.live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.stop()


DONE_WORDS = {CREATED, UPDATED, UNCHANGED, DELETED, ABSENT}


def _live_row(kind: str) -> dict[str, Any]:
    return {"kind": kind, "status": "pending", "id": "", "detail": "", "since": None, "seconds": None}


def _elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{seconds:.1f}s"


def detail_lines(detail: str) -> list[str]:
    """A waiting step's state, one fact a line: 'serving: tasks 2/2 running: a, b; targets: c'
    becomes 'serving: tasks 2/2 running', '  a', '  b', 'targets', '  c'."""
    lines: list[str] = []
    for part in detail.split("; "):
        head, sep, items = part.rpartition(": ")
        if sep and (", " in items or head.endswith(("running", "targets"))):
            lines.append(head)
            lines += [f"  {item}" for item in items.split(", ")]
        else:
            lines.append(part)
    return lines


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


def findings(title: str, found: list[Any], stream: IO[str] | None = None) -> None:
    """`check`'s findings: a rich table on a terminal; off one, a block per finding
    wrapped at the terminal's width (COLUMNS, else 100)."""
    stream = stream or sys.stdout
    if stream.isatty():
        table(
            title,
            ["severity", "rule", "resource", "what happens on AWS", "fix"],
            [[f.severity, f.rule, f.resource, f.message, f.fix] for f in found],
            stream,
        )
        return
    import shutil
    import textwrap

    width = shutil.get_terminal_size((100, 24)).columns
    print(title, file=stream)
    for f in found:
        print(f"\n{f.severity}: {f.rule} {f.resource}", file=stream)
        for label, text in (("", f.message), ("fix: ", f.fix)):
            print(
                textwrap.fill(
                    f"{label}{text}", width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
                ),
                file=stream,
            )


def emit_json(data: Any, stream: IO[str] | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=_json_value), file=stream or sys.stdout)


def _json_value(value: Any) -> str:
    """Times as ISO 8601; anything else JSON cannot hold as its text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


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


# --------------------------------------------------------------------- status


def short_id(aws_id: str, limit: int = 30) -> str:
    """An AWS id short enough for a column: an ARN's resource name ('web-tg/6d0ecf8311e5'
    for a target group, 'dev-web' for a service), at most `limit` characters with the
    middle left out ('fargate-privat…ecsTaskExecutionRole'). -v and JSON show ids whole."""
    if aws_id.startswith("arn:"):
        parts = aws_id.split(":", 5)[-1].split("/")
        if len(parts) >= 3 and len(parts[-1]) == 16 and all(c in "0123456789abcdef" for c in parts[-1]):
            aws_id = "/".join(parts[-2:])  # ELB: name/hash
        else:
            aws_id = parts[-1]
    if len(aws_id) <= limit:
        return aws_id
    head = (limit - 1) // 2
    return aws_id[:head] + "…" + aws_id[-(limit - 1 - head) :]


TASK_ID = re.compile(r"\b([0-9a-f]{8})(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b|\b([0-9a-f]{8})[0-9a-f]{24}\b")


def short_task_ids(text: str) -> str:
    """Task ids in AWS's messages cut to their first 8 characters, as the tables show them."""
    return TASK_ID.sub(lambda m: m[1] or m[2], text)


def _clock(value: Any) -> str:
    """A time as HH:MM:SS (AWS gives datetimes; JSON keeps them whole)."""
    if value is None or value == "":
        return "-"
    return value.strftime("%H:%M:%S") if hasattr(value, "strftime") else str(value)


def status_sections(rows: list[Any], verbose: bool = False) -> list[tuple[str, list[str], list[list[str]]]]:
    """The tables of `status`: the resources, each service's tasks and events, each
    target group's targets (title, columns, rows)."""
    ident = (lambda i: i) if verbose else short_id
    resources = [[r.logical_id, r.kind, ident(r.id), r.state, r.note or drift_text(r.drift)] for r in rows]
    columns = ["logical id", "kind", "id", "state", "note"]
    if not any(r[-1] for r in resources):  # no notes: no empty column to widen the table
        columns, resources = columns[:-1], [r[:-1] for r in resources]
    sections = [("resources", columns, resources)]
    for r in sorted(rows, key=lambda r: r.kind != "ecs_service"):  # tasks, then the targets they are
        if r.kind == "ecs_service" and (r.tasks or r.events):
            sections.append(
                (
                    f"tasks of {r.logical_id}",
                    ["task", "last", "desired", "ip", "zone", "health", "started", "stopped", "stop reason"],
                    [
                        [
                            t["id"] if verbose else t["id"][:8],
                            t["last_status"] or "-",
                            t["desired_status"] or "-",
                            t["ip"] or "-",
                            t["zone"] or "-",
                            t["health"] or "-",
                            _clock(t["started_at"]),
                            _clock(t["stopped_at"]),
                            (t["stopped_reason"] or "")
                            + (
                                f" (exit {t['exit_code']})"
                                if t["exit_code"] is not None and t["last_status"] == "STOPPED"
                                else ""
                            ),
                        ]
                        for t in r.tasks
                    ],
                )
            )
            if r.events:
                sections.append(
                    (
                        f"recent events of {r.logical_id}",
                        ["at", "event"],
                        [
                            [_clock(e["at"]), e["message"] if verbose else short_task_ids(e["message"])]
                            for e in r.events
                        ],
                    )
                )
        if r.kind == "target_group" and r.targets:
            sections.append(
                (
                    f"targets of {r.logical_id}",
                    ["target", "zone", "state", "reason", "of the deployment"],
                    [
                        [
                            f"{t['id']}:{t['port']}",
                            t["zone"] or "-",
                            t["state"] or "-",
                            " ".join(x for x in (t["reason"], t["description"]) if x) or "-",
                            _owner(t["of_deployment"], verbose),
                        ]
                        for t in r.targets
                    ],
                )
            )
    return sections


def _owner(owner: str, verbose: bool) -> str:
    if not owner:
        return "no: not a running task or instance of it"
    return owner if verbose or not owner.startswith("task ") else owner[:13]


def verdict_lines(problems: list[Any]) -> list[str]:
    """'serving', or each resource that does not serve, why, and what to change."""
    if not problems:
        return ["verdict: serving"]
    lines = [f"verdict: not serving ({len(problems)} {'resource' if len(problems) == 1 else 'resources'})"]
    for p in problems:
        lines.append(f"  {p.logical_id}: {p.reason}")
        if p.hint:
            lines.append(f"    hint: {p.hint}")
    return lines


def status_view(title: str, rows: list[Any], problems: list[Any], verbose: bool = False) -> Any:
    """The whole of `status` as one rich renderable (for a terminal and --watch)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(title, style="bold")]
    for name, columns, body in status_sections(rows, verbose):
        out = Table(title=name, title_justify="left")
        for column in columns:
            out.add_column(column, overflow="fold")
        for line in body:
            out.add_row(*line)
        parts.append(out)
    style = "green" if not problems else "bold red"
    parts += [Text(line, style=style if i == 0 else "") for i, line in enumerate(verdict_lines(problems))]
    return Group(*parts)


def status(title: str, rows: list[Any], problems: list[Any], verbose: bool = False, stream: IO[str] | None = None):
    """`status` in words: a rich view on a terminal, plain aligned columns for pipes."""
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console

        Console(file=stream).print(status_view(title, rows, problems, verbose))
        return
    print(title, file=stream)
    for name, columns, body in status_sections(rows, verbose):
        print(file=stream)
        table(name, columns, body, stream)
    print(file=stream)
    for line in verdict_lines(problems):
        print(line, file=stream)
