"""The parallel walk over a step graph. It records a status per step and emits
events; it never prints."""

from __future__ import annotations

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
) -> dict[str, StepResult]:
    """Run every step once its dependencies are done; dependents of a failure are skipped.

    A step whose result carries a wait is done in two parts: its calls (on one of
    `parallelism` workers), then its wait (off them). A dependent in `exists_only[step]`
    needs only the first part (an id, an ARN, a DNS name); every other one waits for both."""
    kinds = kinds or {}
    cancel = cancel or Cancel()
    exists_only = exists_only or {}
    nodes: dict[str, set[str]] = {}
    for step, deps in graph.items():
        nodes[step] = {d if d in exists_only.get(step, ()) else d + READY for d in deps}
        nodes[step + READY] = {step}
    sorter = TopologicalSorter(nodes)
    sorter.prepare()
    applied: dict[str, StepResult] = {}
    results: dict[str, StepResult] = {}

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

    def finish(step: str, result: StepResult) -> None:
        results[step] = result
        data = {"seconds": round(result.seconds, 2), **result.data}
        emit(Event(step, result.status, result.detail, kinds.get(step, ""), result.resource_id, data))

    def blocker(step: str) -> str | None:
        for dep in graph.get(step, ()):
            done = applied[dep] if dep in exists_only.get(step, ()) else results.get(dep)
            if done is None or done.status not in DONE:
                return dep
        return None

    with (
        ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="step") as pool,
        ThreadPoolExecutor(max_workers=max(1, len(graph)), thread_name_prefix="wait") as waits,
    ):
        running: dict[Future[StepResult], str] = {}
        try:
            while sorter.is_active():
                for node in sorter.get_ready():
                    if node.endswith(READY):
                        step = node.removesuffix(READY)
                        first = applied[step]
                        if first.wait is None or first.status not in DONE:
                            finish(step, first)
                            sorter.done(node)
                        else:
                            running[waits.submit(guarded, first.wait)] = node
                        continue
                    blocked = blocker(node)
                    if blocked:
                        applied[node] = StepResult(SKIPPED, f"{blocked} did not finish")
                        sorter.done(node)
                        continue
                    emit(Event(node, RUNNING, kind=kinds.get(node, "")))
                    running[pool.submit(guarded, lambda n=node: action(n))] = node
                if not running:
                    continue
                # A short timeout keeps the main thread responsive to Ctrl-C.
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    node = running.pop(future)
                    if node.endswith(READY):
                        step = node.removesuffix(READY)
                        result = future.result()
                        result.seconds += applied[step].seconds
                        finish(step, result)
                    else:
                        applied[node] = future.result()
                    sorter.done(node)
        except KeyboardInterrupt:
            cancel.set()
            for future in running:
                future.cancel()
            wait(running)  # let calls already sent finish, so nothing is half-recorded
            raise Interrupted("interrupted; steps already started were let finish") from None
    return results
