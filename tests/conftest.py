"""Shared fixtures: moto in-process for library tests, the sandbox server for CLI and end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# AWS-managed policies (AmazonECSTaskExecutionRolePolicy) exist in every real account.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

REGION = "ap-northeast-1"
ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No real credentials, profile, endpoint or region from the developer's shell."""
    for var in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "VPCCTL_SANDBOX",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("VPCCTL_POLL_INTERVAL", "0")
    monkeypatch.setenv("VPCCTL_PACE", "0")  # in-process moto has no delays: no first poll at AWS's typical time


@pytest.fixture
def mocked() -> Iterator[None]:
    """moto in-process, with the sandbox's corrections applied."""
    from moto import mock_aws

    from vpcctl.sandbox import behaviour

    behaviour.install(time_scale=0.0)  # AWS-like behaviour, with every delay at zero
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def moto_module() -> Iterator[None]:
    """One moto for a whole module (loading AWS's managed policies takes a second), with the
    sandbox's behaviour at time scale 0; each test uses a deployment of its own."""
    from moto import mock_aws

    from vpcctl.sandbox import behaviour

    behaviour.install(time_scale=0.0)
    with mock_aws():
        yield


@pytest.fixture
def up_scenario(moto_module: None, make_ctx: Callable[..., Any]) -> Callable[..., Any]:
    """`up` of a scenario (name or path) under a deployment name: (scenario, context, report)."""
    from vpcctl import deploy, scenario

    def up(
        path: str, deployment: str | None = None, sets: dict[str, str] | None = None, **options: Any
    ) -> tuple[Any, Any, Any]:
        loaded = scenario.load(str(path), sets)
        ctx = make_ctx(loaded, deployment=deployment, **options)
        return loaded, ctx, deploy.up(loaded, ctx)

    return up


def changed_steps(report: Any) -> dict[str, str]:
    """Steps of a run that did something (anything but unchanged)."""
    return {s: r.status for s, r in report.results.items() if r.status != "unchanged"}


def running_task_ips(ecs: Any, cluster: str, services: tuple[str, ...]) -> dict[str, str | None]:
    """Task ARN -> private IP of the RUNNING tasks of these services, read from ECS."""
    from vpcctl.resources.ecs import task_private_ip

    out = {}
    for service in services:
        arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []:
            if task["lastStatus"] == "RUNNING":
                out[task["taskArn"]] = task_private_ip(task)
    return out


def count_api_calls(monkeypatch: pytest.MonkeyPatch, with_service: bool = False) -> list[str]:
    """Every botocore API call's operation name from now on, in order (for the test's own
    counts); with_service: as "<service>:<operation>"."""
    import botocore.client

    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(f"{self.meta.service_model.service_name}:{operation}" if with_service else operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return calls


def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def make_ctx() -> Callable[..., Any]:
    """A run context against whatever endpoint is in force (moto in-process by default)."""
    from vpcctl import deploy
    from vpcctl.aws import Aws

    def make(
        scenario: Any = None,
        deployment: str | None = None,
        events: list | None = None,
        endpoint: str | None = None,
        **options: Any,
    ) -> Any:
        aws = Aws(REGION, endpoint_url=endpoint, static_credentials=endpoint is not None)
        sink = events.append if events is not None else (lambda e: None)
        name = deployment or (scenario.name if scenario else "test")
        options.setdefault("poll_interval", 0)
        options.setdefault("wait_timeout", 60)  # a wait that cannot end fails the test instead of hanging it
        options.setdefault("sleep", no_sleep)
        options.setdefault("pace", 0)  # polls from the start; a test that shapes them sets pace and clock
        return deploy.context(aws, name, scenario, sink, **options)

    return make


@pytest.fixture(scope="session")
def sandbox_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One sandbox server for the session, on 127.0.0.1, with delays scaled to nothing."""
    from vpcctl import sandbox

    home = tmp_path_factory.mktemp("vpcctl-home")
    old = os.environ.get("VPCCTL_HOME")
    os.environ["VPCCTL_HOME"] = str(home)
    box, _ = sandbox.start(time_scale=0.0)
    try:
        yield box.endpoint
    finally:
        sandbox.stop()
        if old is None:
            os.environ.pop("VPCCTL_HOME", None)
        else:
            os.environ["VPCCTL_HOME"] = old


@pytest.fixture
def sandbox_home(sandbox_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Commands in this test find the session's sandbox through VPCCTL_HOME."""
    monkeypatch.setenv("VPCCTL_HOME", os.environ["VPCCTL_HOME"])
    return sandbox_endpoint


def scenario_text(name: str = "fargate-privatelink") -> str:
    return (SCENARIOS / f"{name}.yaml").read_text()


def write_variant(
    tmp_path: Path, old: str, new: str, name: str = "fargate-privatelink", file: str = "variant.yaml"
) -> Path:
    """A copy of a shipped scenario with one piece of text replaced."""
    text = scenario_text(name)
    assert old in text, f"{old!r} not in {name}"
    path = tmp_path / file
    path.write_text(text.replace(old, new, 1))
    return path
