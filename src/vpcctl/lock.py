"""A per-deployment lock held in AWS, so two runs never change one deployment at once.

The lock is an SSM Parameter Store parameter in the deployment's region, created with
`Overwrite=False`: Parameter Store creates it, or refuses with
`ParameterAlreadyExists` when it exists ("The parameter already exists. You can't
create duplicate parameters."), so exactly one of two runs racing for it wins. It
needs nothing created beforehand (no table, no bucket) and costs nothing (standard
parameters are free). See docs/locking.md for the choice and its limits.

A free lock is no parameter at all. A run takes it by creating
`/vpcctl/locks/<deployment>/holder` (who, where, when, until when: the lease), renews the
lease while it runs and deletes the parameter when done: two requests when nobody else
holds it. A lock whose lease ran out (its holder died) is taken over by a new generation,
`.../after-<token of the stale holder>`, again created with `Overwrite=False`, so of two
runs taking over one stale lock only one creates it. The lock's holder is the end of the
chain from `holder` through the `after-` parameters; whoever releases deletes the chain.
"""

from __future__ import annotations

import getpass
import hashlib
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
FIRST = "holder"  # the parameter a run creates to take a free lock
AFTER = "after-"  # + the token of the stale holder a run took the lock over from
LEASE_SECONDS = 15 * 60.0  # renewed every third of it while the run lives
DEFAULT_TIMEOUT = 300.0


def path(deployment: str) -> str:
    return f"{ROOT}/{deployment}"


def parameter(deployment: str, after: str = "") -> str:
    """The parameter of the generation that took over from the holder with token `after`
    (the first generation, of a free lock, without)."""
    return f"{path(deployment)}/{AFTER}{after}" if after else f"{path(deployment)}/{FIRST}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass
class Holder:
    """What a lock parameter says: who holds it, for what, since and until when."""

    generation: int  # 1 for the run that found the lock free, +1 for each takeover since
    who: str
    command: str
    region: str
    acquired: float
    expires: float
    token: str
    # Where the holder runs: host, boot and process namespace, and its pid. A holder on
    # this very machine whose process is gone (killed) has left a stale lock at once.
    machine: str = ""
    pid: int = 0
    after: str = ""  # the token of the stale holder this one took over from ("" for the first)

    def name(self, deployment: str) -> str:
        return parameter(deployment, self.after)

    def is_stale(self, now: float) -> bool:
        if self.expires <= now:
            return True
        return bool(self.machine) and self.machine == this_machine() and not processes.alive(self.pid)

    def describe(self) -> str:
        return f"{self.who} ({self.command}, since {_iso(self.acquired)}, lease until {_iso(self.expires)})"

    def value(self) -> str:
        fields = {k: v for k, v in vars(self).items() if k != "after"}
        return json.dumps({**fields, "acquired_at": _iso(self.acquired), "expires_at": _iso(self.expires)})

    @classmethod
    def parse(cls, after: str, text: str) -> Holder:
        try:
            data = json.loads(text)
            return cls(
                int(data["generation"]),
                str(data["who"]),
                str(data["command"]),
                str(data["region"]),
                float(data["acquired"]),
                float(data["expires"]),
                str(data["token"]),
                str(data.get("machine", "")),
                int(data.get("pid", 0)),
                after,
            )
        except (ValueError, KeyError, TypeError):
            # Not written by vpcctl (or damaged): held by someone unknown, already past its
            # lease, so it is taken over with a warning. Its token comes from its text, so every
            # run names the generation that takes over from it alike.
            token = "unknown-" + hashlib.sha256(text.encode()).hexdigest()[:32]
            return cls(1, f"unknown holder ({text[:40]!r})", "?", "?", 0.0, 0.0, token, after=after)


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

    def __init__(
        self, ssm: Any, deployment: str, holder: Holder, chain: list[str], lease: float, clock: Callable[[], float]
    ) -> None:
        self.ssm, self.deployment, self.holder = ssm, deployment, holder
        self.chain = chain  # the parameters from the first generation to this holder's
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
            Name=self.holder.name(self.deployment),
            Value=self.holder.value(),
            Type="String",
            Overwrite=True,  # only the holder writes its own generation
        )

    def release(self) -> None:
        """Delete the lock: the first generation first, which frees it at once (the later ones
        are reached only through it), then the generations since."""
        self._stop.set()
        if self._renewer.is_alive():
            self._renewer.join()
        first, *later = self.chain
        try:
            self.ssm.delete_parameter(Name=first)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ParameterNotFound":  # removed by hand (`vpcctl unlock`)
                raise
        _delete(self.ssm, later)


def _parameters(ssm: Any, deployment: str) -> dict[str, str]:
    """Name -> value of every parameter of the deployment's lock."""
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path(deployment), Recursive=False)
    return {item["Name"]: item["Value"] for page in pages for item in page["Parameters"]}


def chain(ssm: Any, deployment: str) -> list[Holder]:
    """The generations from the first to the current holder ([] when the lock is free).
    A parameter off the chain (left by a run that lost a race) holds nothing."""
    found = _parameters(ssm, deployment)
    out: list[Holder] = []
    after = ""
    while parameter(deployment, after) in found and len(out) <= len(found):
        out.append(Holder.parse(after, found[parameter(deployment, after)]))
        after = out[-1].token
    return out


def current(ssm: Any, deployment: str) -> Holder | None:
    """The holder of the deployment's lock, or None when it is free."""
    held = chain(ssm, deployment)
    return held[-1] if held else None


def generations(ssm: Any, deployment: str) -> list[str]:
    return sorted(_parameters(ssm, deployment))


def _delete(ssm: Any, names: list[str]) -> None:
    for start in range(0, len(names), 10):  # DeleteParameters takes at most 10 names
        ssm.delete_parameters(Names=names[start : start + 10])


def remove(ssm: Any, deployment: str) -> int:
    """Delete every parameter of the lock (`vpcctl unlock`); returns how many there were."""
    names = generations(ssm, deployment)
    _delete(ssm, sorted(names, key=lambda n: n != parameter(deployment)))  # the first generation first
    return len(names)


def _create(ssm: Any, deployment: str, holder: Holder) -> bool:
    """Create a generation; False when it exists (another run created it first)."""
    try:
        ssm.put_parameter(
            Name=holder.name(deployment),
            Value=holder.value(),
            Type="String",
            Overwrite=False,  # the atomic step: one run creates this generation, others are refused
            Description=f"vpcctl lock of deployment {deployment}",
        )
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ParameterAlreadyExists":
            return False
        raise
    return True


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

    def mine(generation: int, after: str) -> Holder:
        now = clock()
        token = uuid.uuid4().hex
        return Holder(
            generation, who_am_i(), command, region, now, now + lease, token, this_machine(), os.getpid(), after
        )

    def taken(holder: Holder, names: list[str]) -> Lock:
        lock = Lock(ssm, deployment, holder, names, lease, clock)
        lock.start_renewing()
        return lock

    held: Holder | None = None
    unread = 0  # creates refused in a row while no holder could be read
    while True:
        if held is None:  # free, as far as this run knows: take it in one request
            first = mine(1, "")
            if _create(ssm, deployment, first):
                return taken(first, [first.name(deployment)])
        held = current(ssm, deployment)
        now = clock()
        if held is None:
            # Released between the two requests (try again at once), or again and again: a
            # read that does not show the parameter the create met. Then wait, as for a holder.
            unread += 1
            if unread > 1:
                if now >= deadline:
                    raise LockHeld(
                        f"deployment '{deployment}' is locked, but its holder cannot be read",
                        hint=f"run again; if it stays so: vpcctl unlock --name {deployment}",
                    )
                sleep(min(max(poll, 0.05), 1.0, max(deadline - now, 0.05)))
            continue
        unread = 0
        if not held.is_stale(now):
            if now >= deadline:
                raise LockHeld(
                    f"deployment '{deployment}' is locked by {held.describe()}",
                    hint=f"wait and run again, or, if that run is gone: vpcctl unlock --name {deployment}",
                )
            on_wait(held)
            sleep(min(max(poll, 0.05), max(deadline - now, 0.05)))
            continue
        on_takeover(held)
        successor = mine(held.generation + 1, held.token)
        if not _create(ssm, deployment, successor):
            continue  # another run took it over first: look again
        generations_now = chain(ssm, deployment)
        if generations_now and generations_now[-1].token == successor.token:
            return taken(successor, [h.name(deployment) for h in generations_now])
        # Off the chain: the stale lock was released and the lock taken afresh between this
        # run's read and its create. What it created holds nothing; look again.
        _delete(ssm, [successor.name(deployment)])


@contextmanager
def held(ssm: Any, deployment: str, command: str, region: str, **options: Any) -> Iterator[Lock]:
    """The lock for the length of a block; released (deleted) however the block ends."""
    lock = acquire(ssm, deployment, command, region, **options)
    try:
        yield lock
    finally:
        lock.release()
