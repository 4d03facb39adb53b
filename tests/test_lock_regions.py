"""The deployment lock in AWS, and regions: the order they come from, global roles per
region, teardown in the wrong region, and `list --deployed` across regions."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from conftest import REGION, count_api_calls
from vpcctl import deploy, lock, scenario
from vpcctl.cli import Settings, cli
from vpcctl.errors import LOCKED, NOT_HERE, LockHeld

OTHER = "us-east-1"
MINI = """\
scenario: mini
region: ap-northeast-1
resources:
  vpc:
    kind: vpc
    cidr: 10.20.0.0/16
  subnet:
    kind: subnet
    vpc: vpc
    cidr: 10.20.0.0/24
    az: a
  sg:
    kind: security_group
    vpc: vpc
    description: nothing in
  logs:
    kind: log_group
    retention_days: 7
  role:
    kind: iam_role
    managed_policies:
      - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
"""


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    return path


def ssm(region: str = REGION) -> Any:
    return boto3.client("ssm", region_name=region)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def up_in(path: Path, deployment: str, region: str, make_ctx: Callable[..., Any]) -> Any:
    loaded = scenario.load(str(path))
    ctx = make_ctx(loaded, deployment=deployment)
    if region != REGION:
        from vpcctl.aws import Aws

        ctx = deploy.context(Aws(region), deployment, loaded, lambda e: None, poll_interval=0, wait_timeout=60)
    return deploy.up(loaded, ctx)


# ------------------------------------------------------------------------ lock


def test_the_lock_is_exclusive_and_names_its_holder(moto_module: None) -> None:
    first = lock.acquire(ssm(), "lk-one", "up", REGION)
    with pytest.raises(LockHeld) as refused:
        lock.acquire(ssm(), "lk-one", "teardown", REGION, timeout=0)
    assert refused.value.exit_code == LOCKED == 8
    assert lock.who_am_i() in refused.value.message and "(up, since" in refused.value.message
    first.release()
    assert lock.current(ssm(), "lk-one") is None and lock.generations(ssm(), "lk-one") == []


def test_a_waiting_run_gets_the_lock_once_it_is_released(moto_module: None) -> None:
    first = lock.acquire(ssm(), "lk-wait", "up", REGION)
    seen: list[Any] = []

    def sleep(_: float) -> None:
        first.release()  # the other run finishes while this one waits

    second = lock.acquire(ssm(), "lk-wait", "up", REGION, timeout=60, sleep=sleep, on_wait=seen.append)
    assert [h.token for h in seen] == [first.holder.token]
    assert lock.current(ssm(), "lk-wait").token == second.holder.token  # type: ignore[union-attr]
    assert lock.generations(ssm(), "lk-wait") == [lock.parameter("lk-wait")]
    second.release()


def test_a_stale_lock_is_taken_over_with_a_warning(moto_module: None) -> None:
    dead = lock.acquire(ssm(), "lk-stale", "up", REGION, lease=10, clock=lambda: 1000.0)
    dead._stop.set()  # its holder died: nobody renews the lease
    warned: list[Any] = []
    taker = lock.acquire(ssm(), "lk-stale", "up", REGION, timeout=0, clock=lambda: 1011.0, on_takeover=warned.append)
    assert [h.token for h in warned] == [dead.holder.token]
    assert lock.current(ssm(), "lk-stale").token == taker.holder.token  # type: ignore[union-attr]
    taker.release()


def test_a_lock_whose_process_is_gone_on_this_machine_is_stale_at_once(moto_module: None) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = lock.acquire(ssm(), "lk-killed", "up", REGION)
    dead._stop.set()
    dead.holder.pid = gone.pid  # as if the run that took it had been killed
    dead._write()
    warned: list[Any] = []
    taker = lock.acquire(ssm(), "lk-killed", "teardown", REGION, timeout=0, on_takeover=warned.append)
    assert [h.pid for h in warned] == [gone.pid] and taker.holder.generation == dead.holder.generation + 1
    taker.release()
    # A live holder on this machine is not stale, lease or no lease.
    alive = lock.acquire(ssm(), "lk-alive", "up", REGION)
    with pytest.raises(LockHeld):
        lock.acquire(ssm(), "lk-alive", "up", REGION, timeout=0)
    alive.release()


def test_a_free_lock_is_taken_and_released_in_two_requests(moto_module: None, monkeypatch) -> None:
    operations = count_api_calls(monkeypatch)
    with lock.held(ssm(), "lk-cheap", "up", REGION):
        assert lock.current(ssm(), "lk-cheap").generation == 1  # type: ignore[union-attr]
        operations.clear()
    assert operations == ["DeleteParameter"] and lock.current(ssm(), "lk-cheap") is None
    operations.clear()
    lock.acquire(ssm(), "lk-cheap", "up", REGION).release()
    assert operations == ["PutParameter", "DeleteParameter"]


def test_a_takeover_that_lost_to_a_fresh_lock_holds_nothing(moto_module: None, monkeypatch) -> None:
    dead = lock.acquire(ssm(), "lk-late", "up", REGION, lease=10, clock=lambda: 1000.0)
    dead._stop.set()
    real_current = lock.current
    fresh: list[Any] = []

    def current(client: Any, deployment: str) -> Any:
        held = real_current(client, deployment)
        if not fresh:  # after this run saw the stale lock, it is released and taken afresh
            dead.release()
            fresh.append(lock.acquire(ssm(), "lk-late", "up", REGION))
        return held

    monkeypatch.setattr(lock, "current", current)
    with pytest.raises(LockHeld) as refused:
        lock.acquire(ssm(), "lk-late", "teardown", REGION, timeout=0, clock=lambda: 1011.0)
    assert "(up, since" in refused.value.message
    # What the late run created is off the chain, and gone; the fresh holder holds the lock.
    assert lock.generations(ssm(), "lk-late") == [lock.parameter("lk-late")]
    assert real_current(ssm(), "lk-late").token == fresh[0].holder.token  # type: ignore[union-attr]
    fresh[0].release()


def test_a_lock_not_written_by_vpcctl_is_taken_over_with_a_warning(moto_module: None) -> None:
    ssm().put_parameter(Name=lock.parameter("lk-odd"), Value="not json", Type="String")
    warned: list[Any] = []
    taker = lock.acquire(ssm(), "lk-odd", "up", REGION, timeout=0, on_takeover=warned.append)
    assert [h.who for h in warned] == ["unknown holder ('not json')"] and taker.holder.generation == 2
    assert lock.current(ssm(), "lk-odd").token == taker.holder.token  # type: ignore[union-attr]
    taker.release()
    assert lock.generations(ssm(), "lk-odd") == []


def test_of_two_runs_taking_over_one_stale_lock_only_one_wins(moto_module: None, monkeypatch) -> None:
    dead = lock.acquire(ssm(), "lk-race", "up", REGION, lease=10, clock=lambda: 1000.0)
    dead._stop.set()
    both_read = threading.Barrier(2)
    real_current = lock.current
    first_look: set[int] = set()

    def current(client: Any, deployment: str) -> Any:
        held = real_current(client, deployment)
        if threading.get_ident() not in first_look:  # both see the stale lock before either writes
            first_look.add(threading.get_ident())
            both_read.wait(timeout=10)
        return held

    monkeypatch.setattr(lock, "current", current)
    outcomes: list[Any] = []

    def take() -> None:
        try:
            outcomes.append(lock.acquire(boto3.client("ssm", region_name=REGION), "lk-race", "up", REGION, timeout=0))
        except LockHeld as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if isinstance(o, lock.Lock)]
    assert len(outcomes) == 2 and len(winners) == 1, outcomes
    winners[0].release()


def test_two_ups_at_once_one_waits_then_finds_everything_unchanged(moto_module, mini, make_ctx) -> None:
    loaded = scenario.load(str(mini))
    start = threading.Barrier(2)
    first_done = threading.Event()
    reports: dict[str, Any] = {}

    def one_up(who: str) -> None:
        ctx = make_ctx(loaded, deployment="lk-twice")
        start.wait(timeout=10)
        wait = lambda _: first_done.wait(timeout=30)  # noqa: E731  (woken when the other run is done)
        with lock.held(boto3.client("ssm", region_name=REGION), "lk-twice", "up", REGION, sleep=wait):
            reports[who] = deploy.up(loaded, ctx)
        first_done.set()

    threads = [threading.Thread(target=one_up, args=(w,)) for w in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted({r.status for r in report.results.values()} for report in reports.values())
    assert statuses == [{"created"}, {"unchanged"}], statuses
    vpcs = boto3.client("ec2", region_name=REGION).describe_vpcs(
        Filters=[{"Name": "tag:vpcctl:deployment", "Values": ["lk-twice"]}]
    )["Vpcs"]
    assert len(vpcs) == 1


def test_up_exits_5_naming_the_holder_and_touches_nothing(moto_module, mini) -> None:
    held = lock.acquire(ssm(), "lk-cli", "teardown", REGION)
    result = run("up", str(mini), "--name", "lk-cli", "--lock-timeout", "0")
    assert result.exit_code == LOCKED == 8, result.output
    assert "deployment 'lk-cli' is locked by" in result.output and "teardown" in result.output
    assert "vpcctl unlock --name lk-cli" in result.output
    vpcs = boto3.client("ec2", region_name=REGION).describe_vpcs(
        Filters=[{"Name": "tag:vpcctl:deployment", "Values": ["lk-cli"]}]
    )["Vpcs"]
    assert vpcs == []
    held.release()


def test_read_only_commands_take_no_lock(moto_module, mini, monkeypatch) -> None:
    held = lock.acquire(ssm(), "lk-read", "up", REGION)
    operations = count_api_calls(monkeypatch, with_service=True)
    for args in (("status", str(mini), "--name", "lk-read"), ("output", str(mini), "--name", "lk-read")):
        result = run(*args)
        # Nothing is deployed (status: 7); neither command waits for the lock.
        assert result.exit_code in (0, 1, NOT_HERE) and "locked" not in result.output, result.output
    assert operations and not [op for op in operations if op.startswith("ssm:")]
    held.release()


def test_unlock_removes_the_lock_by_hand(moto_module) -> None:
    lock.acquire(ssm(), "lk-gone", "up", REGION)._stop.set()
    result = run("--region", REGION, "unlock", "--name", "lk-gone", "--yes")
    assert result.exit_code == 0 and "removed the lock held by" in result.output
    assert lock.current(ssm(), "lk-gone") is None
    again = run("--region", REGION, "unlock", "--name", "lk-gone", "--yes")
    assert again.exit_code == 0 and "no lock is held" in again.output


def test_teardown_leaves_no_lock_behind(moto_module, mini) -> None:
    assert run("up", str(mini), "--name", "lk-down").exit_code == 0
    assert lock.generations(ssm(), "lk-down") == []  # released: deleted
    result = run("teardown", str(mini), "--name", "lk-down", "--yes")
    assert result.exit_code == 0, result.output
    assert lock.generations(ssm(), "lk-down") == []


# --------------------------------------------------------------------- regions


def test_one_name_in_two_regions_never_shares_a_role(moto_module, mini, make_ctx) -> None:
    tokyo = up_in(mini, "twin", REGION, make_ctx)
    virginia = up_in(mini, "twin", OTHER, make_ctx)
    assert tokyo.results["role"].status == virginia.results["role"].status == "created"
    assert tokyo.results["role"].resource_id != virginia.results["role"].resource_id
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=tokyo.results["role"].resource_id)["Role"]
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
    assert REGION in role["RoleName"] and tags["vpcctl:region"] == REGION
    result = run("--region", OTHER, "teardown", "--name", "twin", "--yes")
    assert result.exit_code == 0, result.output
    assert iam.get_role(RoleName=tokyo.results["role"].resource_id)["Role"]["Arn"] == role["Arn"]
    assert run("--region", REGION, "teardown", "--name", "twin", "--yes").exit_code == 0


def test_teardown_in_the_wrong_region_deletes_nothing_and_says_where(moto_module, mini, make_ctx) -> None:
    report = up_in(mini, "far", REGION, make_ctx)
    result = run("--region", OTHER, "teardown", "--name", "far", "--yes")
    assert result.exit_code == NOT_HERE == 7, result.output
    assert f"nothing of deployment 'far' is in {OTHER}; it lives in {REGION}" in result.output
    boto3.client("iam").get_role(RoleName=report.results["role"].resource_id)
    vpc_id = report.results["vpc"].resource_id
    assert boto3.client("ec2", region_name=REGION).describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert run("--region", REGION, "teardown", "--name", "far", "--yes").exit_code == 0


def test_list_deployed_counts_live_resources_only_and_spans_regions(moto_module, mini, make_ctx, monkeypatch) -> None:
    # The account's enabled regions, cut to three: every region moto knows costs seconds here.
    monkeypatch.setattr("vpcctl.regions.enabled_regions", lambda aws: [REGION, "eu-west-1", OTHER])
    up_in(mini, "listed", REGION, make_ctx)
    up_in(mini, "listed", OTHER, make_ctx)
    result = run("--region", REGION, "list", "--deployed", "-o", "json")
    assert result.exit_code == 0, result.output
    mine = [d for d in json.loads(result.stdout) if d["name"] == "listed"]
    assert len(mine) == 1 and mine[0]["resources"] == len(scenario.load(str(mini)).resources)
    assert mine[0]["region"] == REGION and mine[0]["kinds"]["iam_role"] == 1
    everywhere = run("list", "--deployed", "--all-regions", "-o", "json")
    assert everywhere.exit_code == 0, everywhere.output
    assert {d["region"] for d in json.loads(everywhere.stdout) if d["name"] == "listed"} == {REGION, OTHER}
    assert run("--region", OTHER, "teardown", "--name", "listed", "--yes").exit_code == 0
    after = run("--region", OTHER, "list", "--deployed", "-o", "json")
    assert [d for d in json.loads(after.stdout) if d["name"] == "listed"] == []
    assert run("--region", REGION, "teardown", "--name", "listed", "--yes").exit_code == 0


# ------------------------------------------------------------- region order


def test_region_order_with_the_profile(monkeypatch, tmp_path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = eu-west-2\n[default]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    settings = Settings(profile="work")
    assert settings.resolve_region("ap-northeast-1") == "eu-west-2"  # the profile before the scenario
    assert Settings().resolve_region("ap-northeast-1") == "sa-east-1"  # the default profile's region
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert settings.resolve_region("ap-northeast-1") == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert settings.resolve_region("ap-northeast-1") == "us-west-2"
    assert Settings(region="ca-central-1", profile="work").resolve_region("ap-northeast-1") == "ca-central-1"


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ("status", "--name", "fp-x"), "no region: give --region"),
        ({}, ("teardown", "--name", "fp-x", "--yes"), "no region: give --region"),
        ({}, ("list", "--deployed"), "no region: give --region"),
        ({"AWS_PROFILE": "nobody"}, ("status", "--name", "fp-x"), "The config profile (nobody) could not be found"),
        (
            {"AWS_REGION": "mars-north-1"},
            ("status", "--name", "fp-x"),
            "unknown region 'mars-north-1' (from AWS_REGION)",
        ),
        ({"AWS_RETRY_MODE": "eager"}, ("--region", REGION, "status", "--name", "fp-x"), "AWS_RETRY_MODE=eager"),
        ({"AWS_MAX_ATTEMPTS": "many"}, ("--region", REGION, "status", "--name", "fp-x"), "AWS_MAX_ATTEMPTS=many"),
        ({"AWS_MAX_ATTEMPTS": "0"}, ("--region", REGION, "status", "--name", "fp-x"), "AWS_MAX_ATTEMPTS=0"),
        (
            {},
            ("--region", "ca-central-1", "up", "fargate-privatelink"),
            "'c' is not an Availability Zone of ca-central-1",
        ),
    ],
)
def test_environment_and_region_mistakes_exit_2(monkeypatch, env, args, message) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.splitlines()) <= 2


def test_zone_letters_are_checked_against_the_region_the_run_uses() -> None:
    result = run("--region", "ca-central-1", "up", "fargate-privatelink")
    assert "fargate-privatelink.yaml:" in result.output and "resources.public-subnet2.az" in result.output


def test_a_dead_endpoint_is_one_line_not_a_traceback(monkeypatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run("--endpoint-url", "http://127.0.0.1:9", "--region", REGION, "list", "--deployed")
    assert result.exit_code == 1, result.output
    assert "Could not connect to the endpoint URL" in result.output and "Traceback" not in result.output
    assert "vpcctl sandbox start" in result.output


def test_aws_endpoint_url_to_the_sandbox_needs_no_credentials(sandbox_home, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox_home)
    result = run("--region", REGION, "unlock", "--name", "nobody-here", "--yes")
    assert result.exit_code == 0, result.output
    assert "no lock is held" in result.output and "no AWS credentials" not in result.output


def test_a_lock_whose_holder_cannot_be_read_is_waited_for_then_refused(moto_module: None, monkeypatch) -> None:
    """A create refused while no read shows a holder is tried again once at once (the lock was
    released between the two requests), then after a short wait each time, up to the timeout."""
    held = lock.acquire(ssm(), "lk-unread", "up", REGION)
    monkeypatch.setattr(lock, "current", lambda client, deployment: None)
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        assert len(waits) < 100, "no end to the waits"
        now[0] += seconds

    with pytest.raises(LockHeld) as refused:
        lock.acquire(ssm(), "lk-unread", "teardown", REGION, timeout=3, clock=lambda: now[0], sleep=sleep)
    assert "its holder cannot be read" in refused.value.message and refused.value.exit_code == LOCKED
    assert waits and all(0 < w <= 1.0 for w in waits) and sum(waits) >= 3
    monkeypatch.undo()
    held.release()
