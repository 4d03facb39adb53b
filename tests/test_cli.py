"""The CLI through click's CliRunner, against the sandbox server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from vpcctl import graph, scenario
from vpcctl.cli import cli


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def deployed(sandbox_home: str):
    """fargate-privatelink deployed under a deployment name of the test's own; torn down after."""
    names = []

    def deploy(name: str, *extra: str):
        result = run("--sandbox", "up", "fargate-privatelink", "--name", name, *extra)
        assert result.exit_code == 0, result.output
        names.append(name)
        return result

    yield deploy
    for name in names:
        run("--sandbox", "teardown", "--name", name, "--yes")


def test_help_lists_commands_and_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in ("up", "status", "teardown", "sandbox", "130  interrupted", "4    teardown could not"):
        assert word in result.output


def test_list_shows_shipped_scenarios() -> None:
    result = run("--output", "json", "list")
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.output)}
    assert "fargate-privatelink" in names


def test_up_json_is_nothing_but_json(deployed) -> None:
    result = deployed("cli-json", "--output", "json")
    data = json.loads(result.stdout)
    assert data["deployment"] == "cli-json"
    assert data["summary"]["created"] == len(data["steps"])
    assert data["steps"]["vpc"]["id"].startswith("vpc-")


def test_global_options_work_after_the_command(deployed) -> None:
    deployed("cli-after")
    result = run("status", "fargate-privatelink", "--name", "cli-after", "--sandbox", "-o", "json")
    assert result.exit_code == 0, result.output
    rows = {r["logical_id"]: r for r in json.loads(result.stdout)["resources"]}
    assert rows["alb"]["state"] == "active"
    assert rows["ecr-api"]["id"].startswith("vpce-")


def test_status_output_and_stats(deployed) -> None:
    deployed("cli-status")
    status = run("--sandbox", "status", "fargate-privatelink", "--name", "cli-status")
    assert status.exit_code == 0
    assert "private-subnet1" in status.output and "subnet-" in status.output
    dns = run("--sandbox", "output", "fargate-privatelink", "alb_dns", "--name", "cli-status")
    assert dns.exit_code == 0 and dns.output.strip().endswith(".elb.amazonaws.com")
    again = run("--sandbox", "--stats", "up", "fargate-privatelink", "--name", "cli-status")
    assert again.exit_code == 0
    steps = len(graph.build(scenario.load("fargate-privatelink")))
    assert f"0 created, 0 updated, {steps} unchanged" in again.output
    assert "ec2:DescribeSubnets" in again.output and "total" in again.output


def test_a_step_that_fails_by_a_fault_of_vpcctl_prints_its_traceback(sandbox_home, monkeypatch, tmp_path) -> None:
    """A defect in a step is one failed step with the traceback (no -v needed); an AWS refusal
    shows its traceback only with -v."""
    from botocore.exceptions import ClientError

    path = tmp_path / "logs-only.yaml"
    path.write_text(
        "scenario: logs-only\nregion: ap-northeast-1\nresources:\n  app-logs:\n    kind: log_group\n"
        "    retention_days: 7\n"
    )

    from vpcctl.resources.logs import LogGroupHandler

    def broken(*args, **kwargs):
        raise KeyError("retentionInDays")

    monkeypatch.setattr(LogGroupHandler, "apply", broken)
    result = run("--sandbox", "up", str(path))
    assert result.exit_code == 1
    assert "KeyError: 'retentionInDays'" in result.output
    assert "Traceback (most recent call last)" in result.output and "in broken" in result.output

    def refused(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "CreateLogGroup")

    monkeypatch.setattr(LogGroupHandler, "apply", refused)
    quiet = run("--sandbox", "up", str(path))
    assert quiet.exit_code == 1 and "AccessDeniedException" in quiet.output
    assert "Traceback" not in quiet.output
    verbose = run("--sandbox", "-v", "up", str(path))
    assert verbose.exit_code == 1 and "Traceback (most recent call last)" in verbose.output
    assert "1 of 1 steps did not finish" in verbose.output


def test_output_of_an_unknown_key_exits_2(sandbox_home) -> None:
    result = run("--sandbox", "output", "fargate-privatelink", "nope")
    assert result.exit_code == 2
    assert "the scenario has no output 'nope'" in result.output


def test_output_before_up_says_what_to_do(sandbox_home) -> None:
    result = run("--sandbox", "output", "fargate-privatelink", "alb_dns", "--name", "never-up")
    assert result.exit_code == 1
    assert "not known" in result.output and "vpcctl up" in result.output


def test_teardown_needs_yes_off_a_terminal(sandbox_home) -> None:
    result = run("--sandbox", "teardown", "fargate-privatelink")
    assert result.exit_code == 2
    assert "--yes" in result.output


def test_teardown_by_name_alone_leaves_nothing(deployed) -> None:
    deployed("cli-gone")
    # With no scenario to say where it lives, the region comes from --region (never a guess).
    result = run("--sandbox", "--region", "ap-northeast-1", "teardown", "--name", "cli-gone", "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["left"] == []
    assert {s["status"] for s in data["steps"].values()} == {"deleted"}
    status = run("--sandbox", "--region", "ap-northeast-1", "status", "--name", "cli-gone", "-o", "json")
    assert json.loads(status.stdout)["resources"] == []


def test_sandbox_flag_without_a_sandbox(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VPCCTL_HOME", str(tmp_path))
    result = run("--sandbox", "status", "fargate-privatelink")
    assert result.exit_code == 1
    assert "no sandbox is running" in result.output and "vpcctl sandbox start" in result.output


def test_unreachable_endpoint_is_one_clear_line(monkeypatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run("--endpoint-url", "http://127.0.0.1:9", "status", "fargate-privatelink")
    assert result.exit_code == 1
    assert result.output.startswith("error: Could not connect to the endpoint URL")


def test_pace_and_poll_interval_follow_the_aws_endpoint_unless_set(monkeypatch) -> None:
    from vpcctl.cli import Settings

    for var in ("VPCCTL_PACE", "VPCCTL_POLL_INTERVAL"):
        monkeypatch.delenv(var, raising=False)
    aws, emulator = Settings(), Settings(endpoint_url="http://127.0.0.1:4566")
    assert (aws.pace, aws.poll_interval) == (1.0, 5.0)  # AWS's own pace: the first poll near its typical time
    assert (emulator.pace, emulator.poll_interval) == (0.0, 0.5)
    monkeypatch.setenv("VPCCTL_PACE", "0.25")
    monkeypatch.setenv("VPCCTL_POLL_INTERVAL", "2")
    assert (aws.pace, aws.poll_interval) == (0.25, 2.0)


@pytest.mark.parametrize(
    ("name", "value"), [("VPCCTL_PACE", "abc"), ("VPCCTL_POLL_INTERVAL", "-1"), ("VPCCTL_PACE", "nan")]
)
def test_a_bad_pace_or_poll_interval_is_one_line_and_exit_2(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    result = run("--endpoint-url", "http://127.0.0.1:9", "up", "fargate-privatelink")
    assert result.exit_code == 2, result.output
    assert f"{name}={value}: expected a number of seconds, 0 or more" in result.stderr
    assert "Traceback" not in result.output
