"""What every resource kind implements, and the run context they share."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import botocore.exceptions
from botocore import xform_name
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
    wait_fixed,
)

from vpcctl import model
from vpcctl.aws import Aws, error_code, is_not_found, with_token
from vpcctl.aws import tags as tagging
from vpcctl.errors import TimedOut, VpcctlError
from vpcctl.status import CREATED, UNCHANGED, UPDATED, WAITING, Cancel, Emit, Event, change_text


class _NotYet(Exception):
    """A polled condition does not hold yet."""


@dataclass
class Found:
    """A resource found in AWS and owned by the deployment."""

    kind: str
    logical_id: str
    id: str  # the AWS id or ARN people recognise
    state: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


CREATE = "create"
UPDATE = "update"
REPLACE = "replace"
DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One difference between AWS and the scenario: the attribute, its value in AWS
    (`before`) and the value wanted (`after`).

    A member of a set (a rule, a route, a target) is added with before=None and removed
    with after=None. A missing resource is one `create` change whose `after` holds every
    attribute it will set. `payload` carries what `apply` needs and is never shown."""

    attribute: str
    before: Any = None
    after: Any = None
    action: str = UPDATE
    member: bool = False
    payload: Any = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return change_text(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "attribute": self.attribute,
            "before": self.before,
            "after": self.after,
            "member": self.member,
        }


@dataclass
class Outcome:
    status: str  # created / updated / unchanged
    found: Found
    changes: list[Change] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return ", ".join(str(c) for c in self.changes)


class Explainer(Protocol):
    """Turns a failure AWS reports into what to change, by reading the live network.
    The orchestrator hands one in; resource kinds only call it."""

    PULL_FAILURES: tuple[str, ...]
    TARGET_HINTS: dict[str, str]

    def pull_gaps(
        self, ctx: Context, subnet_id: str, public_ip: bool, task_groups: set[str], uses_awslogs: bool
    ) -> list[str]: ...

    def lb_gaps(
        self, ctx: Context, target_group: dict[str, Any], target_ip: str, target_groups: set[str]
    ) -> list[str]: ...


# Codes with which AWS refuses a delete while something still uses the resource.
BLOCKED_CODES = {
    "DependencyViolation",
    "ResourceInUse",
    "ResourceInUseException",
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "DeleteConflict",
    "ConflictException",
}


class Context:
    """Everything a step needs: clients, names, tags, resolved values, events."""

    def __init__(
        self,
        aws: Aws,
        deployment: str,
        scenario: model.Scenario | None,
        emit: Emit,
        cancel: Cancel | None = None,
        sleep: Callable[[float], None] | None = None,
        wait_timeout: float = 900.0,
        delete_timeout: float = 600.0,
        poll_interval: float = 5.0,
        wait: bool = True,
        planning: bool = False,
        explain: Explainer | None = None,
        kinds: dict[str, Handler] | None = None,
        pace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        by_name: bool = True,
    ) -> None:
        self.aws = aws
        self.deployment = deployment
        self.scenario = scenario
        self.scenario_name = scenario.name if scenario else ""
        self.emit = emit
        self.cancel = cancel or Cancel()
        self.sleep = sleep or self.cancel.sleep
        self.wait_timeout = wait_timeout
        self.delete_timeout = delete_timeout
        self.poll_interval = poll_interval
        self.pace = pace  # seconds here per second AWS takes (the sandbox's time scale; 0: no waiting)
        self.clock = clock  # what settle and made_at read (tests inject the sandbox's fake clock)
        self.wait = wait  # False: `up --no-wait` skips readiness waits
        self.deadline = time.monotonic() + wait_timeout  # all readiness waits of a run share it
        # Planning: values of resources not made yet read as "(known after <logical id>)".
        self.planning = planning
        # Discovery reads the scenario's own items by their names where a kind can (kit.wanted_ids);
        # False: every item is listed (teardown's sweep, the last word on what is left).
        self.by_name = by_name and scenario is not None
        self.explain = explain
        self.inventory = Inventory(self, kinds or {})
        self.attrs: dict[str, dict[str, Any]] = {}
        self.made_at: dict[str, float] = {}  # logical id -> when this run created it (on self.clock)
        # When what this run deleted typically lets go of what it held (its interfaces), on self.clock.
        self.releases: list[float] = []
        self.tag_index: dict[str, dict[str, str]] | None = None  # ARN -> tags, read once (kit.tag_index)
        self.index_types: list[str] | None = None  # what that read asked for (its ResourceTypeFilters)
        self.index_lock = threading.Lock()
        self._attr_lock = threading.Lock()
        self.snapshots: dict[str, Snapshot] = {}  # batched reads the readiness waits share
        self.looks_since: float | None = None  # set: one look at everything, reads from then on serve
        self.read_since: float | None = None  # when the last plan began to read (status looks once after it)
        self._applying = 0  # steps started and not yet applied (see until_quiet)
        self.applied_at: dict[str, float] = {}  # logical id -> when its last step made its calls (monotonic)
        self._quiet = threading.Condition()
        # Called once, before this run's first create (deploy: record that the deployment may hold resources).
        self.before_first_create: Callable[[], None] | None = None
        self._create_lock = threading.Lock()
        self._creating = False

    @property
    def region(self) -> str:
        return self.aws.region

    def about_to_create(self) -> None:
        """Before a create call: the first one of the run calls before_first_create (the others
        wait for it, so none creates before it is done; if it fails, so does that create, and
        the next create tries it again)."""
        with self._create_lock:
            if not self._creating and self.before_first_create is not None:
                self.before_first_create()
            self._creating = True

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def name(self, logical_id: str, limit: int = 255) -> str:
        return physical_name(self.deployment, logical_id, limit)

    def could_be_ours(self, name: str, limit: int = 255) -> bool:
        """Whether a name is one `name()` can give: what does not start so is another's."""
        return name.startswith(name_prefix(self.deployment, limit))

    def tags(self, logical_id: str, name: str | None = None) -> dict[str, str]:
        return tagging.ownership(self.deployment, self.scenario_name, logical_id, name or self.name(logical_id))

    def record(self, found: Found) -> None:
        with self._attr_lock:
            self.attrs[found.logical_id] = {"id": found.id, **found.attributes}

    def id_of(self, logical_id: str) -> str:
        return str(self.attr(logical_id, "id"))

    def attr(self, logical_id: str, name: str) -> Any:
        try:
            return self.attrs[logical_id][name]
        except KeyError:
            if self.planning:
                return known_after(logical_id)
            raise KeyError(f"{logical_id}.{name} is not known yet") from None

    def logical_id_of(self, aws_id: str) -> str:
        """The logical id of a resource of this run by its AWS id; the id itself if none."""
        with self._attr_lock:
            for lid, attrs in self.attrs.items():
                if aws_id in (attrs.get("id"), attrs.get("arn")):
                    return lid
        return aws_id

    def ids_of(self, logical_ids: Iterable[str]) -> list[str]:
        return [self.id_of(lid) for lid in logical_ids]

    def resolve(self, spec: Any) -> Any:
        """Replace ${id.attr} in every string of a spec with the value known now."""
        if isinstance(spec, str):
            return model.RUNTIME.sub(lambda m: str(self.attr(m.group(1), m.group(2))), spec)
        if isinstance(spec, tuple):
            return tuple(self.resolve(item) for item in spec)
        if dataclasses.is_dataclass(spec) and not isinstance(spec, type):
            changes = {f.name: self.resolve(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
            return dataclasses.replace(spec, **changes)
        return spec

    def progress(self, step: str, detail: str, **data: Any) -> None:
        self.emit(Event(step, WAITING, detail, data=data))

    def wait_for(self, service: str, waiter: str, timeout: float | None = None, **params: Any) -> None:
        """A botocore waiter, polling at this run's interval until the deadline."""
        delay = self.poll_interval
        seconds = self.remaining(timeout)
        attempts = max(2, int(seconds / max(delay, 0.05)))
        try:
            self.client(service).get_waiter(waiter).wait(
                **params, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
            )
        except botocore.exceptions.WaiterError as exc:
            if "Max attempts exceeded" in str(exc):
                raise TimedOut(
                    f"{waiter.replace('_', ' ')}: not yet after {seconds:.0f} s",
                    hint="what exists stays; run `up` again to go on waiting",
                ) from None
            raise

    def remaining(self, timeout: float | None = None) -> float:
        """Seconds left for a wait: its own bound, within the run's shared deadline."""
        left = max(0.0, self.deadline - time.monotonic())
        return min(timeout, left) if timeout else left

    def snapshot(
        self, name: str, read: Callable[[set[Any]], dict[Any, Any]], known: Callable[[], Iterable[Any]] = tuple
    ) -> Snapshot:
        """The run's shared batched read called `name` (made on first use); each read also takes
        the keys known() gives (what a wait about to ask will want)."""
        with self._attr_lock:
            if name not in self.snapshots:
                self.snapshots[name] = Snapshot(read, before_read=self.until_quiet, known=known)
            return self.snapshots[name]

    def step_started(self) -> None:
        with self._quiet:
            self._applying += 1

    def step_applied(self, logical_id: str, untouched: bool = False) -> None:
        """A step made its calls. `untouched`: it changed nothing, nor did any step it follows,
        so any read of this run tells its state (-inf: discovery's read serves its first look)."""
        with self._quiet:
            self.applied_at[logical_id] = float("-inf") if untouched else time.monotonic()
            self._applying -= 1
            if self._applying <= 0:
                self._quiet.notify_all()

    def until_quiet(self) -> None:
        """Until no step that has started is still making its calls (at most one poll interval,
        and at least a moment): waits that come due together then share one read."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._applying <= 0, timeout=max(self.poll_interval, 0.2))

    @contextlib.contextmanager
    def once(self) -> Iterator[None]:
        """Within it, each readiness wait takes one look: the shared deadline is now, so a
        poll stops after its first try (`status` asks what serves without waiting)."""
        deadline, self.deadline = self.deadline, time.monotonic()
        try:
            yield
        finally:
            self.deadline = deadline

    def poll(self, step: str, what: str, check: Callable[[], tuple[bool, str]], timeout: float | None = None) -> str:
        """Poll check() until it answers (True, state), reporting each state as progress.

        For the conditions no botocore waiter covers (endpoint available, VPC link
        AVAILABLE, every target healthy). check() raises NotReady for a state that will
        not fix itself; the deadline raises TimedOut. Returns the last state.
        """
        deadline = self.remaining(timeout)
        last = {"state": ""}

        def attempt() -> str:
            done, state = check()
            if state != last["state"]:
                self.progress(step, f"{what}: {state}", what=what, state=state)
            last["state"] = state
            if not done:
                raise _NotYet(state)
            return state

        try:
            return retry(
                retry=retry_if_exception_type(_NotYet),
                stop=stop_after_delay(deadline),
                wait=self._backoff(),
                sleep=self.sleep,
                reraise=True,
            )(attempt)()
        except _NotYet:
            raise TimedOut(
                f"{step}: {what} still '{last['state']}' after {deadline:.0f} s",
                hint="what exists stays; run `up` again to go on waiting",
            ) from None

    def settle(self, logical_id: str, typical: float) -> None:
        """Sleep until a resource this run made is typically ready: `typical` seconds of
        AWS's after its create, at this run's pace. Polls before then would only cost
        requests; after it, polls come at the short poll interval."""
        if logical_id not in self.made_at:
            return
        left = min(self.made_at[logical_id] + typical * self.pace - self.clock(), self.remaining())
        if left > 0:
            self.sleep(left)

    def age(self, logical_id: str) -> float:
        """Seconds since this run made the resource (0 for one it did not make)."""
        made = self.made_at.get(logical_id)
        return 0.0 if made is None else self.clock() - made

    def expect_release(self, deleted_at: float, typical: float) -> None:
        """A resource deleted at `deleted_at` typically holds its subnets and groups `typical`
        seconds of AWS's longer: a delete they refuse is tried again then, not before."""
        with self._attr_lock:
            self.releases.append(deleted_at + typical * self.pace)

    def _until_released(self) -> Any:
        """The wait after a refused delete: until the next release still to come, at least one
        short interval (without one to come: the interval), and not past the delete's deadline."""

        def wait(state: RetryCallState) -> float:
            now = self.clock()
            due = max(self.poll_interval, min((t - now for t in self.releases if t > now), default=0.0))
            return min(due, max(0.0, self.delete_timeout - (state.seconds_since_start or 0.0)))  # a last try at the end

        return wait

    def _backoff(self) -> Any:
        """The short poll interval, unchanged: what is polled is seen ready (or deletable)
        within one interval of becoming so (the first poll comes near the typical time, see settle)."""
        return wait_fixed(self.poll_interval)

    def until_deletable(self, step: str, fn: Callable[[], Any], blockers: Callable[[], list[str]] | None = None) -> Any:
        """Retry a delete AWS refuses because something still uses the resource, naming what
        blocks it (blockers() may also clear leftovers AWS itself created); gives up at the deadline."""
        held: dict[str, list[str]] = {"by": []}

        def report(state: RetryCallState) -> None:
            code = error_code(state.outcome.exception()) if state.outcome else ""
            held["by"] = blockers() if blockers else []
            self.progress(step, f"{code}: held by {', '.join(held['by'])}" if held["by"] else f"{code}: retrying")

        try:
            return retry(
                retry=retry_if_exception(lambda e: error_code(e) in BLOCKED_CODES),
                stop=stop_after_delay(self.delete_timeout),
                wait=self._until_released(),
                sleep=self.sleep,
                before_sleep=report,
                reraise=True,
            )(fn)()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in BLOCKED_CODES and held["by"]:
                raise VpcctlError(
                    f"{error_code(exc)}: still held by {', '.join(held['by'])}",
                    hint="remove what holds it (it is not part of this deployment), then run teardown again",
                ) from None
            raise

    def create(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """A create call, with an idempotency token when the operation takes one."""
        client = self.client(service)
        method = getattr(client, xform_name(operation))
        return method(**with_token(client, operation, params))


def immutable(logical_id: str, field: str, have: Any, want: Any) -> VpcctlError:
    return VpcctlError(
        f"{logical_id}: {field} is {have} in AWS but {want} in the scenario, and AWS cannot change it in place",
        hint=f"run `vpcctl teardown` and `up` again, or set {field} back to {have}",
    )


def refuse_replace(logical_id: str, changes: list[Change]) -> None:
    """`up` does not replace a resource by itself: a replace is refused, naming the attribute."""
    for change in changes:
        if change.action == "replace":
            raise immutable(logical_id, change.attribute, change.before, change.after)


def known_after(logical_id: str) -> str:
    return f"(known after {logical_id})"


HASHED = 8  # what a shortened name ends with: '-' and 7 hex digits of its hash


def physical_name(deployment: str, logical_id: str, limit: int = 255) -> str:
    """'<deployment>-<logical id>', shortened with a stable hash where AWS limits names."""
    name = f"{deployment}-{logical_id}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[: HASHED - 1]
    return f"{name[: limit - HASHED].rstrip('-')}-{digest}"


def name_prefix(deployment: str, limit: int = 255) -> str:
    """What every physical_name(deployment, ..., limit) starts with, shortened or not."""
    return f"{deployment}-"[: limit - HASHED].rstrip("-")


class Snapshot:
    """A batched read shared by waits that run side by side (thread-safe), by key.

    Freshness: get(key, after) is served only by a read that started after `after` (a wait
    passes the moment it began to look, which is after its own step finished): a read begun
    earlier may predate what the step did. One read runs at a time; the keys asked for while
    it runs, or while it gathers (before_read), are read together by the next one, with every
    key known() gives (a wait whose step is done but which has not asked yet), so every wait
    that is due at that moment is served by one batched read."""

    def __init__(
        self,
        read: Callable[[set[Any]], dict[Any, Any]],
        before_read: Callable[[], None],
        known: Callable[[], Iterable[Any]] = tuple,
    ) -> None:
        self._read = read
        self._before_read = before_read
        self._known = known
        self._cond = threading.Condition()
        self._wanted: set[Any] = set()  # keys of the waits still looking
        self._values: dict[Any, tuple[float, Any]] = {}  # key -> (when its read started, value)
        self._reading = False

    def want(self, keys: Iterable[Any]) -> None:
        """Read these keys with the next read too (a caller that asks for them one by one)."""
        with self._cond:
            self._wanted.update(keys)

    def seed(self, values: dict[Any, Any], started: float) -> None:
        """Values another read of the same thing took, begun at `started` (discovery's): a
        wait whose step changed nothing may take them (a newer value is kept)."""
        with self._cond:
            for key, value in values.items():
                if self._values.get(key, (float("-inf"), None))[0] < started:
                    self._values[key] = (started, value)

    def release(self, key: Any) -> None:
        """The wait for this key is over: later reads leave it out."""
        with self._cond:
            self._wanted.discard(key)

    def taken(self, key: Any) -> float:
        """When the read that gave key's current value started (-inf: not read yet)."""
        with self._cond:
            return self._values.get(key, (float("-inf"), None))[0]

    def get(self, key: Any, after: float) -> Any:
        """The value of `key` from a read that started after `after` (None: the read has none)."""
        with self._cond:
            self._wanted.add(key)
            while True:
                taken, value = self._values.get(key, (float("-inf"), None))
                if taken >= after:
                    return value
                if not self._reading:
                    break
                self._cond.wait()
            self._reading = True
        try:
            self._before_read()
            with self._cond:
                keys, started = set(self._wanted), time.monotonic()
            keys.update(self._known())
            values = self._read(keys)
            with self._cond:
                self._values.update({k: (started, values.get(k)) for k in keys})
        finally:
            with self._cond:
                self._reading = False
                self._cond.notify_all()
        return values.get(key)


class Inventory:
    """What the deployment owns, discovered once per kind (one batch read per kind)."""

    def __init__(self, ctx: Context, kinds: dict[str, Handler]) -> None:
        self.ctx = ctx
        self.kinds = kinds
        self._found: dict[str, dict[str, Found]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, kind: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(kind, threading.Lock())

    def all(self, kind: str) -> dict[str, Found]:
        with self._lock(kind):
            if kind not in self._found:
                found = self.kinds[kind].discover(self.ctx)
                self._found[kind] = {f.logical_id: f for f in found}
            return self._found[kind]

    def get(self, kind: str, logical_id: str) -> Found | None:
        return self.all(kind).get(logical_id)

    def put(self, found: Found) -> None:
        with self._lock(found.kind):
            self._found.setdefault(found.kind, {})[found.logical_id] = found

    def forget(self, kind: str) -> None:
        with self._lock(kind):
            self._found.pop(kind, None)


class Handler:
    """One resource kind: discover, diff, apply, wait, delete.

    `diff` reads and compares; `apply` makes the changes; neither waits (readiness is
    `wait_ready`, a step of its own). Kinds with late fields (rules, targets) diff and
    apply those in a second step (`diff_late`, `apply_late`)."""

    kind: ClassVar[str]
    service: ClassVar[str]
    # The service and resource type of its items' ARNs ("ec2:subnet", tags.arn_type), by which
    # the tag index shows whether any exist; a kind with none is always read directly (kit.present).
    tagged_as: ClassVar[tuple[str, ...]] = ()
    # Whether its reads take ARNs or tags from the tag index even for the scenario's own items
    # (the index is then asked for its types in every run, kit.index_types).
    reads_index: ClassVar[bool] = False

    def discover(self, ctx: Context) -> list[Found]:
        """Everything of this kind tagged for the deployment, in as few calls as AWS allows."""
        raise NotImplementedError

    def diff(self, ctx: Context, resource: model.Resource, spec: Any, found: Found | None) -> list[Change]:
        """What differs between AWS and the spec; one `create` change when it is missing."""
        raise NotImplementedError

    def apply(
        self, ctx: Context, resource: model.Resource, spec: Any, found: Found | None, changes: list[Change]
    ) -> Found:
        """Make the changes diff found; return the resource as it is now."""
        raise NotImplementedError

    def diff_late(self, ctx: Context, resource: model.Resource, spec: Any, found: Found | None) -> list[Change]:
        return []

    def apply_late(
        self, ctx: Context, resource: model.Resource, spec: Any, found: Found, changes: list[Change]
    ) -> Found:
        return found

    def known_attributes(self, ctx: Context, resource: model.Resource) -> dict[str, Any]:
        """Attributes known before the resource exists (names vpcctl chooses)."""
        return {}

    def ensure(self, ctx: Context, resource: model.Resource, spec: Any, found: Found | None) -> Outcome:
        """Create when missing, converge what differs when present: apply(diff(...))."""
        changes = self.diff(ctx, resource, spec, found)
        if not changes:
            assert found is not None
            return Outcome(UNCHANGED, found, [])
        refuse_replace(resource.id, changes)
        new = self.apply(ctx, resource, spec, found, changes)
        return Outcome(CREATED if found is None else UPDATED, new, changes)

    def ensure_late(self, ctx: Context, resource: model.Resource, spec: Any, found: Found) -> Outcome:
        changes = self.diff_late(ctx, resource, spec, found)
        if not changes:
            return Outcome(UNCHANGED, found, [])
        return Outcome(UPDATED, self.apply_late(ctx, resource, spec, found, changes), changes)

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Block until the resource is usable by what depends on it (after ensure, unless
        --no-wait). Use ctx.wait_for (a botocore waiter) or the kit's waits; return the fresh Found."""
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        """Delete the resource: True when deleted, False when it was already gone."""
        raise NotImplementedError

    def is_gone(self, found: Found) -> bool:
        """Whether AWS lists it only as a deleted/terminated/inactive ghost."""
        return False


def retry_while_not_found(
    fn: Callable[[], Any],
    deadline: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    worth_waiting: Callable[[], bool] = lambda: True,
) -> Any:
    """AWS is eventually consistent: a resource just created can answer NotFound. `worth_waiting`
    says whether what is not found yet can still come (a failed peering never will)."""

    def not_found_yet(exc: BaseException) -> bool:
        return isinstance(exc, botocore.exceptions.ClientError) and is_not_found(exc) and worth_waiting()

    return retry(
        retry=retry_if_exception(not_found_yet),
        stop=stop_after_delay(deadline),
        wait=wait_exponential_jitter(multiplier=0.5, max=5),
        sleep=sleep,
        reraise=True,
    )(fn)()


def exists(fn: Callable[[], Any]) -> bool:
    """Whether a describe call finds the resource (NotFound means no)."""
    try:
        return bool(fn())
    except botocore.exceptions.ClientError as exc:
        if is_not_found(exc):
            return False
        raise


def absent_ok(fn: Callable[[], Any]) -> bool:
    """Run a delete call; True when it deleted, False when the resource was already gone."""
    try:
        fn()
        return True
    except botocore.exceptions.ClientError as exc:
        if is_not_found(exc):
            return False
        raise
