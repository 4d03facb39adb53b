"""A per-deployment lock held in AWS, so two runs never change one deployment at once.

The lock is an SSM Parameter Store parameter in the deployment's region, created with
`Overwrite=False`: Parameter Store creates it, or refuses with
`ParameterAlreadyExists` when it exists ("The parameter already exists. You can't
create duplicate parameters."), so exactly one of two runs racing for it wins. It
needs nothing created beforehand (no table, no bucket) and costs nothing (standard
parameters are free). See docs/locking.md for the choice and its limits.

A lock is a generation: `/vpcctl/locks/<deployment>/<generation>`, holding who,
where, when and until when (the lease). Its holder renews the lease while it runs and
releases it when done by marking it released. The next run creates the next
generation, again with `Overwrite=False`; so does a run that takes over a lock whose
lease ran out (its holder died), and of two runs taking over one stale lock at once
only one creates the next generation. Older generations are deleted by the winner.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions

from vpcctl import processes
from vpcctl.aws import error_code
from vpcctl.errors import LockHeld

ROOT = "/vpcctl/locks"
LEASE_SECONDS = 15 * 60.0  # renewed every third of it while the run lives
DEFAULT_TIMEOUT = 300.0


def path(deployment: str) -> str:
    return f"{ROOT}/{deployment}"


def parameter(deployment: str, generation: int) -> str:
    return f"{path(deployment)}/{generation:010d}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass
class Holder:
    """What a lock parameter says: who holds it, for what, since and until when."""

    generation: int
    who: str
    command: str
    region: str
    acquired: float
    expires: float
    token: str
    released: bool = False
    # Where the holder runs: host, boot and process namespace, and its pid. A holder on
    # this very machine whose process is gone (killed) has left a stale lock at once.
    machine: str = ""
    pid: int = 0

    def is_stale(self, now: float) -> bool:
        if self.released or self.expires <= now:
            return True
        return bool(self.machine) and self.machine == this_machine() and not processes.alive(self.pid)

    def describe(self) -> str:
        return f"{self.who} ({self.command}, since {_iso(self.acquired)}, lease until {_iso(self.expires)})"

    def value(self) -> str:
        fields = {k: v for k, v in vars(self).items() if k != "generation"}
        return json.dumps({**fields, "acquired_at": _iso(self.acquired), "expires_at": _iso(self.expires)})

    @classmethod
    def parse(cls, generation: int, text: str) -> Holder:
        try:
            data = json.loads(text)
            return cls(
                generation,
                str(data["who"]),
                str(data["command"]),
                str(data["region"]),
                float(data["acquired"]),
                float(data["expires"]),
                str(data["token"]),
                bool(data.get("released", False)),
                str(data.get("machine", "")),
                int(data.get("pid", 0)),
            )
        except (ValueError, KeyError, TypeError):
            # Not written by vpcctl (or damaged): treat it as held by someone unknown,
            # already past its lease, so it is taken over with a warning.
            return cls(generation, f"unknown holder ({text[:40]!r})", "?", "?", 0.0, 0.0, "")


def this_machine() -> str:
    """Host name, boot id and pid namespace: equal only for processes whose pids can be
    checked from here (empty where the system does not say, and then no pid is checked)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{socket.gethostname()}/{boot}/{namespace}"


def who_am_i() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class Lock:
    """A lock this process holds; renews its lease until released."""

    def __init__(self, ssm: Any, deployment: str, holder: Holder, lease: float, clock: Callable[[], float]) -> None:
        self.ssm, self.deployment, self.holder = ssm, deployment, holder
        self.lease, self.clock = lease, clock
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_released, daemon=True, name="vpcctl-lock")

    def start_renewing(self) -> None:
        self._renewer.start()

    def _renew_until_released(self) -> None:
        while not self._stop.wait(self.lease / 3):
            self.holder.expires = self.clock() + self.lease
            self._write()

    def _write(self) -> None:
        self.ssm.put_parameter(
            Name=parameter(self.deployment, self.holder.generation),
            Value=self.holder.value(),
            Type="String",
            Overwrite=True,  # only the holder writes its own generation
        )

    def release(self, forget: bool = False) -> None:
        """Mark the lock released; with forget (after a teardown), delete it altogether."""
        self._stop.set()
        if self._renewer.is_alive():
            self._renewer.join()
        if forget:
            remove(self.ssm, self.deployment)
            return
        self.holder.released = True
        self._write()


def _parameters(ssm: Any, deployment: str) -> list[dict[str, Any]]:
    """Every parameter of the deployment's lock, one per generation."""
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path(deployment), Recursive=False)
    return [item for page in pages for item in page["Parameters"]]


def current(ssm: Any, deployment: str) -> Holder | None:
    """The newest generation of the deployment's lock, or None when there is none."""
    newest: tuple[int, str] | None = None
    for item in _parameters(ssm, deployment):
        tail = item["Name"].rsplit("/", 1)[-1]
        if tail.isdigit() and (newest is None or int(tail) > newest[0]):
            newest = (int(tail), item["Value"])
    return Holder.parse(*newest) if newest else None


def generations(ssm: Any, deployment: str) -> list[str]:
    return [item["Name"] for item in _parameters(ssm, deployment)]


def remove(ssm: Any, deployment: str) -> int:
    """Delete every generation of the lock (`vpcctl unlock`); returns how many there were."""
    names = generations(ssm, deployment)
    for start in range(0, len(names), 10):  # DeleteParameters takes at most 10 names
        ssm.delete_parameters(Names=names[start : start + 10])
    return len(names)


def acquire(
    ssm: Any,
    deployment: str,
    command: str,
    region: str,
    timeout: float = DEFAULT_TIMEOUT,
    lease: float = LEASE_SECONDS,
    poll: float = 5.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[Holder], None] = lambda holder: None,
    on_takeover: Callable[[Holder], None] = lambda holder: None,
) -> Lock:
    """Take the deployment's lock, waiting up to `timeout` seconds while another run holds it."""
    deadline = clock() + timeout
    while True:
        held = current(ssm, deployment)
        now = clock()
        if held is not None and not held.is_stale(now):
            if now >= deadline:
                raise LockHeld(
                    f"deployment '{deployment}' is locked by {held.describe()}",
                    hint=f"wait and run again, or, if that run is gone: vpcctl unlock --name {deployment}",
                )
            on_wait(held)
            sleep(min(max(poll, 0.05), max(deadline - now, 0.05)))
            continue
        if held is not None and not held.released:
            on_takeover(held)
        generation = (held.generation if held else 0) + 1
        token = uuid.uuid4().hex
        mine = Holder(
            generation, who_am_i(), command, region, now, now + lease, token, False, this_machine(), os.getpid()
        )
        try:
            ssm.put_parameter(
                Name=parameter(deployment, mine.generation),
                Value=mine.value(),
                Type="String",
                Overwrite=False,  # the atomic step: one run creates this generation, others are refused
                Description=f"vpcctl lock of deployment {deployment}",
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ParameterAlreadyExists":
                continue  # another run took this generation first: look again
            raise
        _forget_older(ssm, deployment, mine.generation)
        lock = Lock(ssm, deployment, mine, lease, clock)
        lock.start_renewing()
        return lock


def _forget_older(ssm: Any, deployment: str, generation: int) -> None:
    older = [name for name in generations(ssm, deployment) if int(name.rsplit("/", 1)[-1]) < generation]
    for start in range(0, len(older), 10):
        ssm.delete_parameters(Names=older[start : start + 10])


@contextmanager
def held(ssm: Any, deployment: str, command: str, region: str, forget: bool = False, **options: Any) -> Iterator[Lock]:
    """The lock for the length of a block; released (or, with forget, deleted) however the block ends."""
    lock = acquire(ssm, deployment, command, region, **options)
    try:
        yield lock
    finally:
        lock.release(forget=forget)
