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


def run(
    graph: dict[str, set[str]],
    action: Callable[[str], StepResult],
    emit: Emit,
    parallelism: int = 8,
    kinds: dict[str, str] | None = None,
    cancel: Cancel | None = None,
    translate: Callable[[BaseException], VpcctlError] | None = None,
) -> dict[str, StepResult]:
    """Run every step once its dependencies are done; dependents of a failure are skipped."""
    kinds = kinds or {}
    cancel = cancel or Cancel()
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    results: dict[str, StepResult] = {}

    def call(step: str) -> StepResult:
        start = time.monotonic()
        try:
            result = action(step)
        except Interrupted as exc:
            result = StepResult(CANCELLED, str(exc))
        except Exception as exc:  # every failure becomes a step result
            error = translate(exc) if translate else VpcctlError(str(exc))
            if not isinstance(exc, VpcctlError) and translate is None:
                error.hint = traceback.format_exc(limit=3)
            result = StepResult(FAILED, str(error), error=error)
        result.seconds = time.monotonic() - start
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="step") as pool:
        running: dict[Future[StepResult], str] = {}
        try:
            while sorter.is_active():
                for step in sorter.get_ready():
                    blocked = [d for d in graph.get(step, ()) if results[d].status not in DONE]
                    if blocked:
                        results[step] = StepResult(SKIPPED, f"{blocked[0]} did not finish")
                        emit(Event(step, SKIPPED, results[step].detail, kinds.get(step, "")))
                        sorter.done(step)
                        continue
                    emit(Event(step, RUNNING, kind=kinds.get(step, "")))
                    running[pool.submit(call, step)] = step
                if not running:
                    continue
                # A short timeout keeps the main thread responsive to Ctrl-C.
                finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    step = running.pop(future)
                    result = results[step] = future.result()
                    emit(
                        Event(
                            step,
                            result.status,
                            result.detail,
                            kinds.get(step, ""),
                            result.resource_id,
                            {"seconds": round(result.seconds, 2), **result.data},
                        )
                    )
                    sorter.done(step)
        except KeyboardInterrupt:
            cancel.set()
            for future in running:
                future.cancel()
            wait(running)  # let calls already sent finish, so nothing is half-recorded
            raise Interrupted("interrupted; steps already started were let finish") from None
    return results
