"""One verdict, path by path: offline `check`, the sandbox (`up --skip-check`, in-process
against moto with the sandbox's behaviour) and `check --live` agree on every variant, and
agree with what AWS does (each behaviour cited in docs/sandbox.md).

A variant is one table entry: a shipped scenario, text replacements, and the rules AWS's
behaviour makes true. One moto serves the module; each variant deploys under its own name.
Each variant runs `up --skip-check` (it waits, and fails fast with a hint naming the
rule), then `up --no-wait` where that failed (so what depended on the failed step gets
built), then `check --live`. The sandbox's voice is the first `up` plus, for each declared
flow, whether the sandbox lets the client's requests arrive; the live voice is `check
--live` over what is in the emulator.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import REGION, SCENARIOS, no_sleep
from vpcctl import deploy, diagnose, netcheck, scenario
from vpcctl.cli import cli
from vpcctl.sandbox import behaviour

# The rules about reachability: the ones all three voices can speak to.
VERDICT_RULES = {
    "pull-path",
    "endpoint-sg-443",
    "task-egress-443",
    "lb-egress",
    "target-ingress",
    "health-check-port",
    "resolver-sg-53",
    "resolver-rule-loop",
    "flow",
    "pull-through-first-pull",
}
READINESS = VERDICT_RULES - {"resolver-sg-53", "resolver-rule-loop", "flow"}
HINT_RULE = re.compile(r"(?:^|; )(" + "|".join(sorted(VERDICT_RULES, key=len, reverse=True)) + r"): ")


@dataclass(frozen=True)
class Variant:
    id: str
    scenario: str
    edits: tuple[tuple[str, str], ...]
    expect: frozenset[str]  # the rules AWS's behaviour makes true: empty when it all serves


def v(vid: str, name: str, *edits: tuple[str, str], expect: tuple[str, ...] = ()) -> Variant:
    return Variant(vid, name, edits, frozenset(expect))


FP, AF, AI, IP, CV = (
    "fargate-privatelink",
    "alb-fargate-sg",
    "alb-ip-targets",
    "internal-alb-peering",
    "closed-vpc-apigw",
)
ENDPOINT_443 = "{protocol: tcp, port: 443, source: sec-web-via-alb, description: HTTPS from the tasks}"
TASK_80 = '{protocol: tcp, port: "${params.container_port}", source: sec-alb, description: HTTP from the ALB}'
FP_ALB_80 = "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n"
AF_OUT_TRAFFIC = (
    '      - {protocol: tcp, port: "${params.container_port}", source: task-sg, description: traffic to the tasks}\n'
)
AF_IN_HEALTH = (
    '      - {protocol: tcp, port: "${params.health_check_port}", source: alb-sg, '
    "description: health checks from the ALB}\n"
)
IP_BAR_80 = "      - {protocol: tcp, port: 80, cidr: 10.3.0.0/16, description: HTTP from bar}\n"
IP_WEB = '{protocol: tcp, port: "${params.web_port}", source: foo-alb-sg, description: HTTP from the ALB}'
CV_PEER_UDP = "      - {protocol: udp, port: 53, cidr: 10.4.0.0/16, description: DNS from the peer VPC}\n"
CV_OUT_UDP = "      - {protocol: udp, port: 53, cidr: 10.1.0.0/16, description: DNS to the inbound endpoint}\n"
CV_API_PEER = "      - {protocol: tcp, port: 443, cidr: 10.4.0.0/16, description: HTTPS from the peer VPC}\n"

CORPUS = [
    # The shipped scenarios serve as they are.
    *(v(f"{name} as shipped", name) for name in (FP, AF, AI, IP, CV)),
    # fargate-privatelink: the PrivateLink path to the registry.
    v(
        "tasks outside the endpoint SG's /25",
        FP,
        (ENDPOINT_443, "{protocol: tcp, port: 443, cidr: 10.0.1.128/25}"),
        expect=("endpoint-sg-443",),
    ),
    v("endpoint SG by all traffic from the subnet", FP, (ENDPOINT_443, "{protocol: all, cidr: 10.0.1.0/24}")),
    v(
        "endpoint SG by UDP 443 only",
        FP,
        (ENDPOINT_443, "{protocol: udp, port: 443, source: sec-web-via-alb}"),
        expect=("endpoint-sg-443",),
    ),
    # ECS registers the tasks on the containerPort: the group's own port is only a default.
    v(
        "target group on 8080, tasks registered on 80",
        FP,
        ("    port: ${params.container_port}\n    target_type: ip", "    port: 8080\n    target_type: ip"),
    ),
    # The first pull through the cache rule needs the internet: vpcctl warms the cache unless told not to.
    v(
        "cold cache, warm-up off",
        FP,
        ("    warm: true\n", "    warm: false\n"),
        expect=("pull-through-first-pull",),
    ),
    v("no ecr.api endpoint", FP, ("    service: ecr.api\n", "    service: sts\n"), expect=("pull-path",)),
    v("no logs endpoint (awslogs)", FP, ("    service: logs\n", "    service: ssmmessages\n"), expect=("pull-path",)),
    v(
        "s3 gateway endpoint on the wrong table",
        FP,
        ("    route_tables: [private-rt]\n", "    route_tables: [public-rt]\n"),
        expect=("pull-path",),
    ),
    v(
        "ecr.api endpoint with private DNS off",
        FP,
        ("    private_dns: true\n  ecr-dkr:\n", "    private_dns: false\n  ecr-dkr:\n"),
        expect=("pull-path",),
    ),
    v(
        "task egress only HTTP inside the VPC",
        FP,
        (TASK_80 + "\n", TASK_80 + "\n    egress:\n      - {protocol: tcp, port: 80, cidr: 10.0.0.0/16}\n"),
        expect=("endpoint-sg-443", "task-egress-443"),
    ),
    v(
        "task egress 443 to the endpoints only (not S3)",
        FP,
        (TASK_80 + "\n", TASK_80 + "\n    egress:\n      - {protocol: tcp, port: 443, source: sec-endpoints}\n"),
        expect=("task-egress-443",),
    ),
    v(
        "tasks in a public subnet without a public IP",
        FP,
        (
            "    subnets: [private-subnet1]\n    security_groups: [sec-web",
            "    subnets: [public-subnet1]\n    security_groups: [sec-web",
        ),
        expect=("pull-path",),
    ),
    v(
        "task SG admits the endpoints' group, not the ALB's",
        FP,
        (TASK_80, TASK_80.replace("source: sec-alb", "source: sec-endpoints")),
        expect=("target-ingress",),
    ),
    v(
        "ALB admits 80 from the VPC only (internet clients)",
        FP,
        (FP_ALB_80, "      - {protocol: tcp, port: 80, cidr: 10.0.0.0/16}\n"),
        expect=("flow",),
    ),
    v(
        "declared port without a listener",
        FP,
        ("  - {client: internet, to: alb, port: 80}", "  - {client: internet, to: alb, port: 8080}"),
        expect=("flow",),
    ),
    # alb-fargate-sg: the article's failure points, behind a NAT gateway.
    v("no ALB egress on the traffic port", AF, (AF_OUT_TRAFFIC, ""), expect=("lb-egress",)),
    v("task SG without the health-check port", AF, (AF_IN_HEALTH, ""), expect=("health-check-port",)),
    v(
        "no route to the NAT gateway",
        AF,
        ("    routes:\n      - {destination: 0.0.0.0/0, nat_gateway: nat}\n", "    routes: []\n"),
        expect=("pull-path",),
    ),
    v(
        "the article's tasks without a public IP",
        AI,
        (
            "    security_groups: [klein-targets-sg]\n    assign_public_ip: true\n",
            "    security_groups: [klein-targets-sg]\n    assign_public_ip: false\n",
        ),
        expect=("pull-path",),
    ),
    v(
        "targets admit only the bastion, not the ALBs",
        AI,
        ("      - {protocol: tcp, port: 80, source: klein-alb-sg, description: HTTP from the ALBs}\n", ""),
        expect=("target-ingress",),
    ),
    # internal-alb-peering: the client in bar, across the peering, by name.
    v("ALB SG without bar's CIDR", IP, (IP_BAR_80, ""), expect=("flow",)),
    v("alb.home not associated with bar", IP, ("    vpcs: [foo, bar]\n", "    vpcs: [foo]\n"), expect=("flow",)),
    v(
        "no route from bar to foo",
        IP,
        ("      - {destination: 10.2.0.0/16, peering: foo-bar}   # to foo's internal ALB\n", ""),
        (
            "  bar-private-rt:\n    kind: route_table\n    vpc: bar\n    subnets: [bar-private]\n    routes:\n",
            "  bar-private-rt:\n    kind: route_table\n    vpc: bar\n    subnets: [bar-private]\n    routes: []\n",
        ),
        expect=("flow",),
    ),
    v(
        "no route back from foo to bar",
        IP,
        ("      - {destination: 10.3.0.0/16, peering: foo-bar}   # answers to bar's client\n", ""),
        (
            "    subnets: [foo-private-1a, foo-private-1c]\n    routes:\n",
            "    subnets: [foo-private-1a, foo-private-1c]\n    routes: []\n",
        ),
        expect=("flow",),
    ),
    v(
        "web SG admits its own group, not the ALB's",
        IP,
        (IP_WEB, IP_WEB.replace("source: foo-alb-sg", "source: foo-web-sg")),
        expect=("target-ingress",),
    ),
    v(
        "forwarding rule also on the closed VPC (a loop)",
        CV,
        ("    vpcs: [peer]\n", "    vpcs: [peer, vpc]\n"),
        expect=("flow", "resolver-rule-loop"),
    ),
    v("outbound endpoint sends no UDP 53", CV, (CV_OUT_UDP, ""), expect=("flow", "resolver-sg-53")),
    v("execute-api endpoint without the peer's CIDR", CV, (CV_API_PEER, ""), expect=("flow",)),
    v(
        "tasks admit the peer, not the NLB's subnets",
        CV,
        (
            "      - {protocol: tcp, port: 80, cidr: 10.1.0.0/16, description: HTTP from the VPC}\n",
            "      - {protocol: tcp, port: 80, cidr: 10.4.0.0/16}\n",
        ),
        expect=("target-ingress",),
    ),
    v(
        "endpoint SG admits one of the tasks' two subnets",
        CV,
        (
            "      - {protocol: tcp, port: 443, cidr: 10.1.0.0/16, description: HTTPS from the VPC}\n  execute-api-sg:",
            "      - {protocol: tcp, port: 443, cidr: 10.1.1.0/24}\n  execute-api-sg:",
        ),
        expect=("endpoint-sg-443",),
    ),
]


def load_variant(tmp_path: Any, variant: Variant) -> Any:
    text = (SCENARIOS / f"{variant.scenario}.yaml").read_text()
    for old, new in variant.edits:
        assert old in text, f"{variant.id}: {old!r} not in {variant.scenario}"
        text = text.replace(old, new, 1)
    path = tmp_path / f"{variant.scenario}.yaml"
    path.write_text(text)
    return scenario.load(str(path))


def offline(loaded: Any) -> set[str]:
    return {f.rule for f in netcheck.check(loaded) if f.severity == "error" and f.rule in VERDICT_RULES}


def sandbox(loaded: Any, ctx: Any, report: Any) -> set[str]:
    """The rules the failed steps' hints name, and the rules of declared flows whose requests
    the sandbox does not let arrive."""
    rules = set()
    for result in report.failed.values():
        rules |= set(HINT_RULE.findall(getattr(result.error, "hint", None) or ""))
    for flow in loaded.flows:
        client = "internet" if flow.client == "internet" else ctx.id_of(flow.client)
        to = ctx.id_of(flow.to) if flow.to in loaded.resources else ctx.resolve(flow.to)
        arrived = behaviour.request_arrives(ctx.aws.account_id, ctx.region, client, to, flow.port, flow.protocol)
        rules |= netcheck.flow_rules(arrived)
    return rules


def live(loaded: Any, new_ctx: Callable[..., Any], deployment: str) -> set[str]:
    return {f.rule for f in diagnose.live_findings(new_ctx(loaded, deployment)) if f.rule in VERDICT_RULES}


@pytest.fixture(scope="module")
def aws(moto_module: None) -> Any:
    """One session for the module: botocore loads each service's model once per session."""
    from vpcctl.aws import Aws

    return Aws(REGION)


@pytest.fixture
def new_ctx(aws: Any) -> Callable[..., Any]:
    """A fresh run context (its own inventory) on the module's session."""
    from vpcctl import deploy

    def make(loaded: Any, deployment: str, **options: Any) -> Any:
        options = {"poll_interval": 0, "wait_timeout": 30, "sleep": no_sleep, **options}
        return deploy.context(aws, deployment, loaded, lambda event: None, **options)

    return make


@pytest.fixture
def fresh_state(moto_module: None) -> Iterator[None]:
    """Each variant on an emptied emulator (IAM's managed policies stay: loading them is the
    slow part of starting moto), so the module's moto does not grow with every variant."""
    yield
    from moto.apigateway.models import apigateway_backends
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends
    from moto.logs.models import logs_backends
    from moto.route53.models import route53_backends
    from moto.route53resolver.models import route53resolver_backends

    for backends in (
        ec2_backends,
        elbv2_backends,
        ecs_backends,
        route53_backends,
        route53resolver_backends,
        apigateway_backends,
        logs_backends,
    ):
        for account in backends.values():
            account.reset()


@pytest.fixture(scope="module")
def timings() -> Iterator[list[float]]:
    seconds: list[float] = []
    yield seconds
    print(f"\nagreement corpus: {len(seconds)} variants in {sum(seconds):.1f} s")  # measured, not asserted


@pytest.mark.parametrize("variant", CORPUS, ids=[c.id for c in CORPUS])
def test_three_voices_one_verdict(variant: Variant, tmp_path, fresh_state, new_ctx, timings) -> None:
    started = time.perf_counter()
    loaded = load_variant(tmp_path, variant)
    deployment = f"ag{CORPUS.index(variant)}"
    # `up --skip-check` waits, and fails fast with a hint naming the rule; where it failed,
    # `up --no-wait` builds what depended on the failed step, so the clients' flows and
    # `check --live` see the whole topology.
    ctx = new_ctx(loaded, deployment)
    report = deploy.up(loaded, ctx)
    if report.failed:
        deploy.up(loaded, new_ctx(loaded, deployment, wait=False))
    voices = {
        "check": offline(loaded),
        "sandbox": sandbox(loaded, ctx, report),
        "check --live": live(loaded, new_ctx, deployment),
    }
    timings.append(time.perf_counter() - started)
    assert voices == {voice: set(variant.expect) for voice in voices}, (variant.id, voices, report.failed)
    # up waits for what readiness covers (tasks running, targets healthy), not for the clients.
    assert bool(report.failed) == bool(variant.expect & READINESS), report.failed


def test_every_verdict_rule_and_code_is_in_the_corpus(tmp_path) -> None:
    assert set().union(*(c.expect for c in CORPUS)) == VERDICT_RULES
    assert len(CORPUS) >= 30
    codes = set()
    for i, variant in enumerate(CORPUS):
        (tmp_path / str(i)).mkdir()
        results = netcheck.flows(load_variant(tmp_path / str(i), variant))
        codes |= {hop.code for result in results for hop in result.broken}
    assert codes == {"ENI_SG_RULES_MISMATCH", "NO_ROUTE_TO_DESTINATION", "ELBV2_LISTENERS_MISMATCH", "DNS_NOT_RESOLVED"}


def test_the_slash_25_endpoint_rule_through_the_cli(tmp_path, fresh_state) -> None:
    """The tasks get 10.0.1.4 and .5, outside 10.0.1.128/25: check errors, up --skip-check fails
    fast with CannotPullContainerError and the rule, check --live names the same rule."""
    path = tmp_path / "slash25.yaml"
    path.write_text(
        (SCENARIOS / f"{FP}.yaml").read_text().replace(ENDPOINT_443, "{protocol: tcp, port: 443, cidr: 10.0.1.128/25}")
    )
    runner = CliRunner()
    checked = runner.invoke(cli, ["check", str(path)])
    assert checked.exit_code == 1 and checked.stdout.count("endpoint-sg-443") == 3, checked.output
    up = runner.invoke(cli, ["up", str(path), "--skip-check", "--name", "slash25", "--timeout", "60"])
    assert up.exit_code == 1, up.output
    assert "CannotPullContainerError" in up.output and "endpoint-sg-443: sec-endpoints (endpoint ecr-" in up.output
    again = runner.invoke(cli, ["check", str(path), "--live", "--name", "slash25", "-o", "json"])
    assert again.exit_code == 1
    live_rules = {f["rule"] for f in json.loads(again.stdout)["findings"] if f["message"].endswith("(ecr.api)")}
    assert live_rules == {"endpoint-sg-443"}
