"""The parallel walk over a step graph. It records a status per step and emits
events; it never prints."""

from __future__ import annotations

import heapq
import itertools
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

from vpcctl.errors import Interrupted, VpcctlError

# The statuses, events and cancel flag live at the ground; the engine re-exports them.
from vpcctl.status import (  # noqa: F401
    ABSENT,
    CANCELLED,
    CREATED,
    DELETED,
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    Cancel,
    Emit,
    Event,
)


@dataclass
class StepResult:
    status: str
    detail: str = ""
    resource_id: str = ""
    error: VpcctlError | None = None
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    # What is left of the step once its calls are made: waiting until it is ready. Run off
    # the bounded pool, so --parallelism bounds API work, not waits; returns the step's result.
    wait: Callable[[], StepResult] | None = field(default=None, repr=False, compare=False)
    # Steps this one fans out into, known only once it ran (a kind's deletes, once the kind is
    # read): step id -> its action. Each runs on the pool and is reported as a step of its own;
    # this one is done when they all are.
    parts: dict[str, Callable[[], StepResult]] = field(default_factory=dict, repr=False, compare=False)


READY = "\0ready"  # the engine's own node for the end of a step's wait


def run(
    graph: dict[str, set[str]],
    action: Callable[[str], StepResult],
    emit: Emit,
    parallelism: int = 8,
    kinds: dict[str, str] | None = None,
    cancel: Cancel | None = None,
    translate: Callable[[BaseException], VpcctlError] | None = None,
    exists_only: dict[str, set[str]] | None = None,
    quiet: set[str] | None = None,
) -> dict[str, StepResult]:
    """Run every step once its dependencies are done; dependents of a failure are skipped.

    A step whose result carries a wait is done in two parts: its calls (on one of
    `parallelism` workers), then its wait (off them). A dependent in `exists_only[step]`
    needs only the first part (an id, an ARN, a DNS name); every other one waits for both.

    Ready steps start in the order of `graph` (callers put first what lies on the longest
    path), at most `parallelism` at a time.

    `quiet` steps are the run's own work (reading a kind, fanning out into its parts): they
    emit nothing, are left out of the results and run once their dependencies finished,
    however those did. A quiet step that fails ends the run as Ctrl-C does (no new step
    starts, those under way are let finish) and its error is raised."""
    kinds = kinds or {}
    cancel = cancel or Cancel()
    exists_only = exists_only or {}
    quiet = quiet or set()
    nodes: dict[str, set[str]] = {}
    for step, deps in graph.items():
        nodes[step] = {d if d in exists_only.get(step, ()) else d + READY for d in deps}
        nodes[step + READY] = {step}
    sorter = TopologicalSorter(nodes)
    sorter.prepare()
    applied: dict[str, StepResult] = {}
    results: dict[str, StepResult] = {}
    parts_of: dict[str, list[str]] = {}  # a step that fanned out -> its parts
    parts_left: dict[str, int] = {}
    stop: VpcctlError | None = None  # the failure of a quiet step, which ends the run
    rank = {step: position for position, step in enumerate(graph)}
    queue: list[tuple[int, int, str, str, Callable[[], StepResult]]] = []  # ready, in graph order
    in_pool = 0
    arrival = itertools.count()  # first come first among equals

    def guarded(fn: Callable[[], StepResult]) -> StepResult:
        start = time.monotonic()
        try:
            result = fn()
        except Interrupted as exc:
            result = StepResult(CANCELLED, str(exc))
        except Exception as exc:  # every failure becomes a step result
            error = translate(exc) if translate else VpcctlError(str(exc))
            if not isinstance(exc, VpcctlError):
                error.trace = traceback.format_exc()
                error.defect = not type(exc).__module__.startswith(("botocore", "boto3"))
            result = StepResult(FAILED, str(error), error=error)
        result.seconds = time.monotonic() - start
        return result

    def finish(step: str, result: StepResult, kind: str) -> None:
        results[step] = result
        data = {"seconds": round(result.seconds, 2), **result.data}
        emit(Event(step, result.status, result.detail, kind, result.resource_id, data))

    def blocker(step: str) -> str | None:
        for dep in graph.get(step, ()):
            if dep in parts_of:  # its parts stand for it
                failed = [p for p in parts_of[dep] if results[p].status not in DONE]
                if failed:
                    return failed[0]
            elif dep not in quiet:  # a quiet one ran (or the run is ending)
                done = applied[dep] if dep in exists_only.get(step, ()) else results.get(dep)
                if done is None or done.status not in DONE:
                    return dep
        return None

    with (
        ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="step") as pool,
        ThreadPoolExecutor(max_workers=max(1, len(graph)), thread_name_prefix="wait") as waits,
    ):
        running: dict[Future[StepResult], tuple[str, str]] = {}  # -> (node, part of it or "")

        def queued(node: str, part: str, fn: Callable[[], StepResult]) -> None:
            heapq.heappush(queue, (rank[node], next(arrival), node, part, fn))

        def dispatch() -> None:
            """Hand the first of the ready steps to the workers that are free."""
            nonlocal in_pool
            while queue and in_pool < max(1, parallelism):
                _, _, node, part, fn = heapq.heappop(queue)
                if part or node not in quiet:
                    emit(Event(part or node, RUNNING, kind=kinds.get(part or node, kinds.get(node, ""))))
                running[pool.submit(guarded, fn)] = (node, part)
                in_pool += 1

        def start(node: str) -> None:
            if node.endswith(READY):
                step = node.removesuffix(READY)
                first = applied[step]
                if first.wait is None or first.status not in DONE:
                    if step not in quiet:
                        finish(step, first, kinds.get(step, ""))
                    sorter.done(node)
                else:
                    running[waits.submit(guarded, first.wait)] = (node, "")
                return
            if node not in quiet:
                blocked = blocker(node)
                if blocked:
                    applied[node] = StepResult(SKIPPED, f"{blocked} did not finish")
                    sorter.done(node)
                    return
            queued(node, "", lambda: action(node))

        def fan_out(node: str, parts: dict[str, Callable[[], StepResult]]) -> None:
            """Run a step's parts; the step is done once they all are."""
            parts_of[node] = list(parts)
            kind = kinds.get(node, "")
            blocked = blocker(node)
            for part, fn in parts.items():
                if blocked:
                    finish(part, StepResult(SKIPPED, f"{blocked} did not finish"), kind)
                    continue
                queued(node, part, fn)
            parts_left[node] = 0 if blocked else len(parts)
            if not parts_left[node]:
                sorter.done(node)

        try:
            while sorter.is_active():
                if stop is None:
                    while ready := sorter.get_ready():  # a step without a wait readies its dependents at once
                        for node in ready:
                            start(node)
                    dispatch()
                elif not running:
                    break
                if not running:
                    continue
                # A short timeout keeps the main thread responsive to Ctrl-C.
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    node, part = running.pop(future)
                    result = future.result()
                    if not node.endswith(READY):
                        in_pool -= 1
                    if part:
                        finish(part, result, kinds.get(node, ""))
                        parts_left[node] -= 1
                        if not parts_left[node]:
                            sorter.done(node)
                    elif node.endswith(READY):
                        step = node.removesuffix(READY)
                        result.seconds += applied[step].seconds
                        if step not in quiet:
                            finish(step, result, kinds.get(step, ""))
                        sorter.done(node)
                    elif node in quiet and result.status not in DONE:
                        applied[node] = result
                        if stop is None:  # stop starting steps; wake the waits under way
                            stop = result.error or Interrupted(result.detail)
                            cancel.set()
                    else:
                        applied[node] = result
                        if result.parts and stop is None:
                            fan_out(node, result.parts)
                        else:
                            sorter.done(node)
        except KeyboardInterrupt:
            cancel.set()
            for future in running:
                future.cancel()
            wait(running)  # let calls already sent finish, so nothing is half-recorded
            raise Interrupted("interrupted; steps already started were let finish") from None
    if stop is not None:
        raise stop
    return results
