"""Scenario validation: every error names file, line and key, exits 2, and touches nothing in AWS."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import scenario_text, write_variant
from vpcctl import graph, scenario
from vpcctl.cli import cli


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach AWS fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an AWS client was created for bad input")

    monkeypatch.setattr("vpcctl.aws.Aws.__init__", refuse)


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def run_up(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--endpoint-url", "http://127.0.0.1:9", "up", str(path)])
    return result.exit_code, result.output


CASES = [
    # (name, old text, new text, line marker in the new file, expected message part)
    (
        "dangling reference",
        "    security_groups: [sec-alb]\n",
        "    security_groups: [sec-nope]\n",
        "[sec-nope]",
        "resources.alb.security_groups[0]: 'sec-nope' refers to nothing",
    ),
    (
        "wrong kind referenced",
        "    security_groups: [sec-alb]\n",
        "    security_groups: [public-subnet1]\n",
        "[public-subnet1]\n",
        "'public-subnet1' is a subnet, expected a security_group",
    ),
    (
        "subnet outside its vpc",
        "    cidr: 10.0.3.0/24\n",
        "    cidr: 10.9.3.0/24\n",
        "10.9.3.0/24",
        "resources.public-subnet2.cidr: 10.9.3.0/24 is not inside VPC 'vpc' (10.0.0.0/16)",
    ),
    (
        "overlapping subnets",
        "    cidr: 10.0.3.0/24\n",
        "    cidr: 10.0.1.128/25\n",
        "10.0.1.128/25",
        "overlaps subnet 'private-subnet1' (10.0.1.0/24)",
    ),
    (
        "malformed cidr",
        "    cidr: 10.0.0.0/16\n",
        "    cidr: 10.0.0.300/16\n",
        "10.0.0.300/16",
        "resources.vpc.cidr: '10.0.0.300/16' is not a valid IPv4 CIDR",
    ),
    ("host bits set", "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.1/16\n", "10.0.0.1/16", "has host bits set"),
    (
        "unknown key",
        "    retention_days: 7\n",
        "    retention_days: 7\n    retension: 3\n",
        "retension",
        "resources.web-logs.retension: unknown key 'retension'",
    ),
    (
        "wrong type",
        "    retention_days: 7\n",
        "    retention_days: seven\n",
        "retention_days: seven",
        "resources.web-logs.retention_days: expected a whole number, got str 'seven'",
    ),
    (
        "bad choice",
        "    scheme: internet-facing\n",
        "    scheme: public\n",
        "scheme: public",
        "resources.alb.scheme: 'public' is not one of: internet-facing, internal",
    ),
    ("missing required", "    service: ecr.api\n", "", "  ecr-api:", "resources.ecr-api: 'service' is required"),
    (
        "unknown kind",
        "    kind: log_group\n",
        "    kind: log_bucket\n",
        "log_bucket",
        "resources.web-logs.kind: unknown kind 'log_bucket'",
    ),
    (
        "duplicate id",
        "  cluster:\n    kind: ecs_cluster\n",
        "  cluster:\n    kind: ecs_cluster\n  cluster:\n    kind: ecs_cluster\n",
        "  cluster:\n    kind: ecs_cluster\n  cluster",
        "duplicate key 'cluster'",
    ),
    (
        "unknown run-time value",
        "  url: http://${alb.dns_name}/\n",
        "  url: http://${alb.dns}/\n",
        "${alb.dns}",
        "outputs.url: a load_balancer has no attribute 'dns'",
    ),
    (
        "unknown parameter",
        "        image: ${params.image}\n",
        "        image: ${params.imag}\n",
        "params.imag}",
        "unknown parameter 'imag'",
    ),
    (
        "cycle",
        "    execution_role: ecsTaskExecutionRole\n",
        "    execution_role: ecsTaskExecutionRole\n",
        "  vpc:\n",
        "cycle:",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "marker", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_exits_2_naming_file_line_and_key(tmp_path, name, old, new, marker, message) -> None:
    if name == "cycle":
        # vpc -> depends on the service, which needs the vpc's subnets.
        path = write_variant(
            tmp_path, "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.0/16\n    depends_on: [web-service]\n"
        )
    else:
        path = write_variant(tmp_path, old, new)
    code, output = run_up(path)
    assert code == 2, output
    assert message in output
    if name == "duplicate id":
        expected_line = line_of(path, "kind: ecs_cluster") + 1
    elif name == "missing required":
        expected_line = line_of(path, marker)
    elif name == "cycle":
        expected_line = None
    else:
        expected_line = line_of(path, marker.splitlines()[0] if "\n" in marker else marker)
    if expected_line is not None:
        assert f"{path}:{expected_line}:" in output, output
    else:
        assert f"{path}:" in output
    assert output.count("\n") <= 3  # one line a person can act on, and a hint


def test_cycle_names_the_loop(tmp_path) -> None:
    path = write_variant(tmp_path, "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.0/16\n    depends_on: [web-service]\n")
    code, output = run_up(path)
    assert code == 2
    assert "cycle:" in output and "vpc" in output and "web-service" in output


def test_security_groups_may_refer_to_each_other_without_a_cycle(tmp_path) -> None:
    # The ALB's group sends to the tasks' group, which admits the ALB's group: no cycle.
    path = write_variant(
        tmp_path,
        "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n",
        "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n"
        "    egress:\n      - {protocol: tcp, port: 80, source: sec-web-via-alb}\n",
    )
    loaded = scenario.load(str(path))
    assert "sec-alb" in loaded.resources


def test_invalid_yaml(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("scenario: x\nresources:\n  vpc: {kind: vpc\n")
    code, output = run_up(path)
    assert code == 2
    assert f"{path}:" in output and "not valid YAML" in output


def test_set_overrides_a_parameter_with_its_type() -> None:
    loaded = scenario.load("fargate-privatelink", {"desired_count": "3", "image": "repo/app:1"})
    service = loaded.resources["web-service"].spec
    assert service.desired_count == 3
    assert loaded.resources["web"].spec.containers[0].image == "repo/app:1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope=1"], "--set nope: the scenario has no parameter 'nope'"),
        (["--set", "desired_count=two"], "--set desired_count=two: expected a whole number"),
        (["--set", "novalue"], "--set novalue: expected key=value"),
        (["--name", "Bad_Name"], "deployment name 'Bad_Name' is not usable"),
    ],
)
def test_bad_command_line_input_exits_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["up", "fargate-privatelink", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unknown_scenario_exits_2() -> None:
    result = CliRunner().invoke(cli, ["up", "no-such-scenario"])
    assert result.exit_code == 2
    assert "unknown scenario 'no-such-scenario'" in result.output
    assert "fargate-privatelink" in result.output  # the hint lists what exists


def test_shipped_scenarios_are_valid() -> None:
    names = scenario.available()
    assert "fargate-privatelink" in names
    for name in names:
        scenario.load(name)


def test_the_privatelink_scenario_has_the_endpoint_the_article_forgot() -> None:
    loaded = scenario.load("fargate-privatelink")
    services = {r.spec.service for r in loaded.resources.values() if r.kind == "vpc_endpoint"}
    assert services == {"ecr.api", "ecr.dkr", "logs", "s3"}
    assert scenario_text().count("kind: vpc_endpoint") == 4


def test_edges_need_their_source_ready_unless_aws_accepts_it_provisioning() -> None:
    """The listener and the API need only the ARN of what they name, a route only the id of a
    peering pending acceptance; a VPC link fails on an NLB not active yet, and the service needs
    its endpoints ready (its tasks pull through them); pairs AWS does not document stay ready edges."""
    edges = graph.edge_kinds(scenario.load("closed-vpc-apigw"))
    assert edges["nlb-tcp-80"]["nlb"] == graph.EXISTS
    assert edges["vpc-link"]["nlb"] == graph.READY
    assert edges["private-rt"]["peering"] == edges["peer-rt"]["peering"] == graph.EXISTS
    assert edges["api"]["vpc-link"] == graph.EXISTS
    assert edges["web-service"]["nlb-tcp-80"] == graph.EXISTS
    assert edges["web-service"]["ecr-api"] == graph.READY
    assert {k for by_dep in edges.values() for k in by_dep.values()} == {graph.EXISTS, graph.READY}
