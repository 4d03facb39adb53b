"""The live view of `up` fits the terminal it runs in: every step's row, and every task
and target of the step being waited on, at 80 and 120 columns, nothing cut."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console

from vpcctl import deploy, render, scenario
from vpcctl.status import CREATED, FAILED, RUNNING, WAITING, Event

TASKS = [("f676c596-4ad1-4c6e-9b1f-0a2b3c4d5e6f", "10.6.11.5"), ("6217a047-1b2c-4d3e-8f90-a1b2c3d4e5f6", "10.6.10.5")]
SERVING = "serving: tasks 2/2 running: {}; targets: {}".format(
    ", ".join(f"{t[:8]} RUNNING {ip}" for t, ip in TASKS),
    ", ".join(f"{ip}:80 initial (Elb.RegistrationInProgress)" for _, ip in TASKS),
)
LONG_ARN = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/alb-fargate-sg-web-tg/1ff5cdd31bae1234"


def waiting_on_the_service(width: int, height: int, verbose: bool = False) -> tuple[list[str], list[str]]:
    """The view of `up alb-fargate-sg` while its service is waited on: (lines, step ids)."""
    loaded = scenario.load("alb-fargate-sg")
    steps = [(s, loaded.resources[s.removesuffix("/rules")].kind) for s in deploy.steps_of(loaded)]
    console = Console(file=io.StringIO(), width=width, height=height, force_terminal=True, color_system=None)
    view = render.Live("vpcctl up alb-fargate-sg (deployment alb-fargate-sg)", steps, console, verbose)
    for step, kind in steps:
        view(Event(step, RUNNING, kind=kind))
        if kind == "ecs_service":
            view(Event(step, WAITING, SERVING, data={"state": SERVING}))
        else:
            view(Event(step, CREATED, "create", kind, LONG_ARN, {"seconds": 1.5}))
    console.print(view.view())
    return console.file.getvalue().splitlines(), [s for s, _ in steps]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "height"), [(80, 30), (120, 40)])
def test_every_step_task_and_target_fits(width: int, height: int) -> None:
    lines, steps = waiting_on_the_service(width, height)
    assert all(cell_len(line) <= width for line in lines), max(lines, key=cell_len)
    assert len(lines) < height  # every row visible, and a line left for the cursor
    starts = [line.split(" ", 1)[0] for line in lines]
    assert [s for s in starts if s in steps] == steps  # every step's row, in order
    text = "\n".join(lines)
    for task, ip in TASKS:
        assert f"{task[:8]} RUNNING {ip}" in text
        assert f"{ip}:80" in text
    assert text.count("initial (Elb.RegistrationInProgress)") == len(TASKS)  # whole, never cut
    assert f"{len(steps) - 1} done, 1 waiting, 0 failed, 0 pending" in text
    assert "1.5s" in text  # each finished step's time
    assert ("kind" in lines[1]) == (width >= 100)  # the kind column only where it fits


def test_ids_are_abbreviated_but_whole_with_verbose() -> None:
    short, _ = waiting_on_the_service(80, 30)
    whole, _ = waiting_on_the_service(200, 40, verbose=True)
    assert LONG_ARN not in "\n".join(short) and "…" in "\n".join(short)
    assert LONG_ARN in "\n".join(whole)


def test_a_finished_step_keeps_only_its_final_word_and_a_failed_one_its_reason() -> None:
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    view = render.Live("up", [("alb", "load_balancer"), ("nat", "nat_gateway")], console)
    view(Event("alb", WAITING, "load balancer provisioning"))
    view(Event("alb", CREATED, "create", "load_balancer", "arn:aws:x:y:z:loadbalancer/app/lb/0123456789abcdef"))
    view(Event("nat", FAILED, "NAT gateway failed: Elastic IP address is in use", data={"seconds": 2.0}))
    console.print(view.view())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "provisioning" not in text and "lb/0123456789abcdef" in text
    assert "Elastic IP address is in use" in text
    assert "1 done, 0 waiting, 1 failed, 0 pending" in text
