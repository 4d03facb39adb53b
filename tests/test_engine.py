"""The step engine: order, parallelism, failures and interruption."""

from __future__ import annotations

import threading
import time

import pytest

from vpcctl import engine
from vpcctl.engine import CREATED, FAILED, SKIPPED, Event, StepResult
from vpcctl.errors import Interrupted, VpcctlError


def test_steps_run_after_their_dependencies_and_side_by_side() -> None:
    graph = {"vpc": set(), "a": {"vpc"}, "b": {"vpc"}, "c": {"a", "b"}}
    started: list[str] = []
    both_running = threading.Barrier(2, timeout=5)

    def action(step: str) -> StepResult:
        started.append(step)
        if step in ("a", "b"):
            both_running.wait()  # fails unless a and b run at the same time
        return StepResult(CREATED)

    results = engine.run(graph, action, lambda e: None, parallelism=4)
    assert started[0] == "vpc" and started[-1] == "c"
    assert {r.status for r in results.values()} == {CREATED}


def test_a_failure_skips_its_dependents_only() -> None:
    graph = {"vpc": set(), "subnet": {"vpc"}, "service": {"subnet"}, "log": set()}
    events: list[Event] = []

    def action(step: str) -> StepResult:
        if step == "subnet":
            raise VpcctlError("InvalidSubnet.Range: The CIDR '10.9.0.0/24' is invalid.")
        return StepResult(CREATED)

    results = engine.run(graph, action, events.append, parallelism=2)
    assert results["subnet"].status == FAILED
    assert "InvalidSubnet.Range" in results["subnet"].detail
    assert results["service"].status == SKIPPED
    assert results["service"].detail == "subnet did not finish"
    assert results["log"].status == CREATED
    assert [e.status for e in events if e.step == "service"] == [SKIPPED]


def test_a_failure_keeps_where_it_came_from() -> None:
    """A step that fails by a fault of vpcctl (not AWS's answer) keeps its traceback, marked as a defect."""
    from vpcctl.aws import translate

    def action(step: str) -> StepResult:
        if step == "broken":
            return [][0]
        raise VpcctlError("refused")

    results = engine.run({"broken": set(), "refused": set()}, action, lambda e: None, 2, translate=translate)
    broken, refused = results["broken"].error, results["refused"].error
    assert broken is not None and broken.defect
    assert broken.trace is not None and "IndexError" in broken.trace and "in action" in broken.trace
    assert results["broken"].detail == "IndexError: list index out of range"
    assert refused is not None and not refused.defect and refused.trace is None


def test_parallelism_bounds_the_steps_in_flight() -> None:
    graph = {f"s{i}": set() for i in range(8)}
    lock = threading.Lock()
    in_flight = peak = 0

    def action(step: str) -> StepResult:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return StepResult(CREATED)

    engine.run(graph, action, lambda e: None, parallelism=3)
    assert peak <= 3


def test_ctrl_c_lets_started_steps_finish_and_raises_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = {"a": set(), "b": {"a"}}
    finished: list[str] = []
    release = threading.Event()

    def action(step: str) -> StepResult:
        release.wait(5)
        finished.append(step)
        return StepResult(CREATED)

    real_wait = engine.wait
    calls = 0

    def interrupting_wait(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            release.set()
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(engine, "wait", interrupting_wait)
    with pytest.raises(Interrupted) as raised:
        engine.run(graph, action, lambda e: None)
    assert raised.value.exit_code == 130
    assert finished == ["a"]  # the step in flight finished; 'b' never started


def test_cancel_wakes_a_sleeping_step() -> None:
    cancel = engine.Cancel()
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(Interrupted):
        cancel.sleep(30)


def test_waits_hold_no_worker_and_exist_edges_skip_the_wait() -> None:
    """Eight waits in flight on one worker: every wait starts before any ends (they share no
    pool slot), and a dependent that needs only its source to exist starts during its wait."""
    sources = [f"lb{i}" for i in range(8)]
    graph: dict[str, set[str]] = {s: set() for s in sources}
    graph["listener"] = {"lb0"}  # needs lb0 to exist
    graph["service"] = {"lb1"}  # needs lb1 ready
    all_waiting = threading.Barrier(len(sources) + 1, timeout=5)  # the waits and the listener
    order: list[str] = []

    def wait_of(step: str) -> StepResult:
        all_waiting.wait()  # fails unless every wait and the listener are under way together
        order.append(f"{step} ready")
        return StepResult(CREATED)

    def action(step: str) -> StepResult:
        order.append(step)
        if step == "listener":
            all_waiting.wait()
        result = StepResult(CREATED)
        if step in sources:
            result.wait = lambda: wait_of(step)
        return result

    results = engine.run(graph, action, lambda e: None, parallelism=1, exists_only={"listener": {"lb0"}})
    assert {r.status for r in results.values()} == {CREATED}
    assert order.index("listener") < order.index("lb0 ready")
    assert order.index("service") > order.index("lb1 ready")


def test_a_failed_wait_fails_its_step_and_skips_what_needs_it_ready() -> None:
    graph = {"lb": set(), "listener": {"lb"}, "service": {"lb"}}

    def action(step: str) -> StepResult:
        result = StepResult(CREATED)
        if step == "lb":
            result.wait = lambda: (_ for _ in ()).throw(VpcctlError("load balancer failed"))
        return result

    results = engine.run(graph, action, lambda e: None, exists_only={"listener": {"lb"}})
    assert results["lb"].status == FAILED and "load balancer failed" in results["lb"].detail
    assert results["listener"].status == CREATED
    assert results["service"].status == SKIPPED


def test_ready_steps_start_in_the_graphs_order() -> None:
    graph = {"slow-chain": set(), "after-slow": {"slow-chain"}, "b": set(), "a": set()}
    started: list[str] = []

    def action(step: str) -> StepResult:
        started.append(step)
        return StepResult(CREATED)

    engine.run(graph, action, lambda e: None, parallelism=1)
    # after-slow, ready once slow-chain is done, goes before b and a, which were ready first
    assert started == ["slow-chain", "after-slow", "b", "a"]


def test_quiet_steps_fan_out_into_parts_reported_as_steps() -> None:
    """A quiet step emits nothing and is not a result; its parts are; what depends on it
    waits for every part, and a failed part skips the parts that needed it, by name."""
    graph = {"read": set(), "groups": {"read"}, "vpcs": {"groups"}}
    events: list[Event] = []
    deleted: list[str] = []

    def delete(name: str) -> StepResult:
        if name == "sg-b":
            raise VpcctlError("DependencyViolation: sg-b is in use")
        deleted.append(name)
        return StepResult(engine.DELETED)

    def action(step: str) -> StepResult:
        names = {"read": [], "groups": ["sg-a", "sg-b"], "vpcs": ["vpc"]}[step]
        return StepResult(engine.UNCHANGED, parts={n: lambda n=n: delete(n) for n in names})

    results = engine.run(graph, action, events.append, kinds={"groups": "security_group"}, quiet=set(graph))
    assert set(results) == {"sg-a", "sg-b", "vpc"}
    assert results["sg-b"].status == FAILED and results["vpc"].status == SKIPPED
    assert results["vpc"].detail == "sg-b did not finish"
    assert deleted == ["sg-a"]
    assert {e.step for e in events} == {"sg-a", "sg-b", "vpc"}
    assert {e.kind for e in events if e.step.startswith("sg-")} == {"security_group"}


def test_a_failed_quiet_step_ends_the_run_with_its_error() -> None:
    """No step starts after it; the wait under way is woken (Ctrl-C's way) and the error raised."""
    graph = {"read vpc": set(), "read subnet": set(), "vpc": {"read vpc"}, "subnet": {"read subnet", "vpc"}}
    started: list[str] = []
    cancel = engine.Cancel()

    def action(step: str) -> StepResult:
        started.append(step)
        if step == "read subnet":
            raise VpcctlError("AccessDenied: ec2:DescribeSubnets")
        result = StepResult(CREATED)
        if step == "vpc":
            result.wait = lambda: (cancel.sleep(30), StepResult(CREATED))[1]
        return result

    order = {"read vpc": set(), "vpc": {"read vpc"}, **graph}  # vpc's wait is under way when the read fails
    with pytest.raises(VpcctlError, match="AccessDenied") as raised:
        engine.run(order, action, lambda e: None, parallelism=1, cancel=cancel, quiet={"read vpc", "read subnet"})
    assert not isinstance(raised.value, Interrupted)
    assert "subnet" not in started and cancel.is_set
