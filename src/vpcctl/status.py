"""The ground every layer shares: step statuses, events with typed data, and the cancel flag.

A status is a name, a code and (on a result) a reason, as stacker models them. Events
carry structured data (ids, states, counts, reasons); the renderer writes the words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vpcctl.errors import Interrupted


@dataclass(frozen=True)
class Status:
    name: str
    code: int

    def __str__(self) -> str:
        return self.name


PENDING = "pending"
RUNNING = "running"
WAITING = "waiting"
CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DELETED = "deleted"
ABSENT = "absent"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"

# Codes order the statuses as stacker does: not yet started < in progress < finished.
STATUSES: dict[str, Status] = {
    s.name: s
    for s in (
        Status(PENDING, 0),
        Status(RUNNING, 1),
        Status(WAITING, 1),
        Status(CREATED, 2),
        Status(UPDATED, 2),
        Status(UNCHANGED, 2),
        Status(DELETED, 2),
        Status(ABSENT, 2),
        Status(SKIPPED, 3),
        Status(CANCELLED, 3),
        Status(FAILED, 4),
    )
}
DONE = {CREATED, UPDATED, UNCHANGED, DELETED, ABSENT}


@dataclass
class Event:
    """Something the engine or a step reports. Renderers read these only.

    `data` holds the facts (ids, states, counts, reasons, changes) for renderers and JSON;
    `detail` is a short summary of them for plain lines."""

    step: str
    status: str
    detail: str = ""
    kind: str = ""
    resource_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


Emit = Callable[[Event], None]


class Cancel:
    """Shared stop flag; sleeps through it wake at once when it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> None:
        if self._event.wait(seconds):
            raise Interrupted("interrupted")


def change_text(change: dict[str, Any]) -> str:
    """A change (attribute, before, after) in the words `plan`, `up` and `status` show:
    'create', '+ingress tcp/22 0.0.0.0/0', 'desired_count: 2 → 3', 'cidr: a → b (replace)'."""
    action, attribute = change["action"], change["attribute"]
    before, after = change.get("before"), change.get("after")
    if action in ("create", "delete"):
        return action
    if change.get("member"):
        return f"+{attribute} {shown(after)}" if before is None else f"-{attribute} {shown(before)}"
    text = f"{attribute}: {shown(before)} → {shown(after)}"
    return f"{text} (replace)" if action == "replace" else text


def shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)
