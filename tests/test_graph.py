"""`vpcctl graph`: the topology as Mermaid, DOT and SVG, offline and deterministic."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from click.testing import CliRunner

from conftest import scenario_text
from vpcctl import scenario
from vpcctl.cli import cli

SHIPPED = sorted(scenario.available())
NODE = re.compile(r'^\s*(n_[A-Za-z0-9_]+)(\[\(|\(\(|\[|\(|\{)"')
SUBGRAPH = re.compile(r'^\s*subgraph (n_[A-Za-z0-9_]+)\["')
EDGE = re.compile(r'^\s*(n_[A-Za-z0-9_]+) (-->|-\.->|==>|-\.-x)(\|"[^"]*"\|)? (n_[A-Za-z0-9_]+)$')


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """graph is offline: any attempt to reach AWS fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("graph created an AWS client")

    monkeypatch.setattr("vpcctl.aws.Aws.__init__", refuse)


def draw(*args: str) -> str:
    result = CliRunner().invoke(cli, ["graph", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def parse_mermaid(text: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(node ids, subgraph ids, edges); fails on a line that is none of the known forms."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes: list[str] = []
    subgraphs: list[str] = []
    edges: list[tuple[str, str]] = []
    depth = 0
    for line in lines[1:]:
        if line.strip().startswith("%%") or line.strip().startswith("linkStyle"):
            continue
        if match := SUBGRAPH.match(line):
            subgraphs.append(match.group(1))
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0
        elif match := EDGE.match(line):
            edges.append((match.group(1), match.group(4)))
        elif match := NODE.match(line):
            nodes.append(match.group(1))
        else:
            raise AssertionError(f"not a Mermaid flowchart line: {line!r}")
    assert depth == 0
    return nodes, subgraphs, edges


@pytest.mark.parametrize("name", SHIPPED)
def test_mermaid_declares_each_node_once_and_edges_join_declared_nodes(name: str) -> None:
    nodes, subgraphs, edges = parse_mermaid(draw(name))
    assert len(nodes) == len(set(nodes))
    assert len(subgraphs) == len(set(subgraphs))
    assert not set(nodes) & set(subgraphs)
    assert edges
    for source, target in edges:
        assert source in nodes and target in nodes, (source, target)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_same_scenario_gives_the_same_text(name: str) -> None:
    assert draw(name) == draw(name)
    assert draw(name, "--format", "dot") == draw(name, "--format", "dot")


def test_text_is_the_same_in_another_process() -> None:
    """No per-process hashing or set order leaks into the output."""
    here = draw("closed-vpc-apigw", "--format", "dot")
    other = subprocess.run(
        [sys.executable, "-m", "vpcctl", "graph", "closed-vpc-apigw", "--format", "dot"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert other.stdout == here


def test_the_picture_holds_the_topology() -> None:
    text = draw("fargate-privatelink")
    loaded = scenario.load("fargate-privatelink")
    for lid, resource in loaded.resources.items():
        if resource.kind in ("subnet", "vpc_endpoint", "load_balancer", "target_group", "ecs_service"):
            assert f"{lid}<br/>" in text, lid
    assert "ap-northeast-1a" in text and "ap-northeast-1c" in text  # subnets grouped by zone
    assert '-->|"listener http HTTP:80"|' in text  # load balancer -> target group, through the listener
    assert "subnet 10.0.0.0/24<br/>public" in text and "subnet 10.0.1.0/24<br/>private" in text


def test_peering_zones_and_resolver_are_drawn() -> None:
    text = draw("closed-vpc-apigw")
    for part in ("VPC vpc 10.1.0.0/16", "VPC peer 10.4.0.0/16", "Resolver inbound endpoint", "forward ", "VPC link"):
        assert part in text, part


def test_svg_through_graphviz() -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    result = CliRunner().invoke(cli, ["graph", "fargate-privatelink", "--format", "svg"])
    assert result.exit_code == 0, result.output
    root = ElementTree.fromstring(result.stdout_bytes)
    assert root.tag.endswith("svg")


def test_svg_without_graphviz_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli, ["graph", "fargate-privatelink", "--format", "svg"])
    assert result.exit_code == 2
    assert "needs Graphviz's `dot`" in result.output
    assert "apt-get install graphviz" in result.output


def test_out_writes_the_file(tmp_path) -> None:
    path = tmp_path / "topology.mmd"
    result = CliRunner().invoke(cli, ["graph", "fargate-privatelink", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert path.read_text() == draw("fargate-privatelink")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_flow_the_model_reports_is_drawn(name: str) -> None:
    from vpcctl import diagram, netcheck

    loaded = scenario.load(name)
    flows = diagram.flows_of(netcheck.flows(loaded))
    text = draw(name)
    drawn = [line for line in text.splitlines() if " ==>" in line or " -.-x" in line]
    assert flows and len(drawn) == len({(f.source, f.target, f.label) for f in flows if f.source != f.target})
    assert all(f.reachable for f in flows)  # the shipped scenarios serve
    assert " -.-x" not in text


def test_a_broken_flow_is_drawn_red_with_its_code(tmp_path) -> None:
    text = scenario_text()
    start, end = text.index("  ecr-api:\n"), text.index("  ecr-dkr:\n")
    text = text[:start] + text[end:]
    text = text.replace("depends_on: [http, ecr-api, ecr-dkr, logs, s3]", "depends_on: [http, ecr-dkr, logs, s3]")
    path = tmp_path / "no-ecr-api.yaml"
    path.write_text(text)
    mermaid = draw(str(path))
    broken = [line for line in mermaid.splitlines() if " -.-x" in line]
    assert len(broken) == 1
    assert "tcp/443 → ecr.api ✗ NO_ROUTE_TO_DESTINATION" in broken[0]
    edges = [line for line in mermaid.splitlines() if EDGE.match(line)]
    assert f"  linkStyle {edges.index(broken[0])} stroke:#d00,color:#d00" in mermaid
    dot = draw(str(path), "--format", "dot")
    assert any("NO_ROUTE_TO_DESTINATION" in line and "color=red" in line for line in dot.splitlines())
