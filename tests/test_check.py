"""`vpcctl check`: the offline network preflight, over shipped scenarios and broken variants of them."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import scenario_text, write_variant
from vpcctl import model, netcheck, scenario
from vpcctl.cli import cli


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """check is offline: any attempt to reach AWS fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("check created an AWS client")

    monkeypatch.setattr("vpcctl.aws.Aws.__init__", refuse)


def run_check(target: str | Path, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["check", str(target), "--output", "json", *extra])
    return result.exit_code, json.loads(result.stdout)


def variant(tmp_path: Path, *pairs: tuple[str, str]) -> Path:
    """fargate-privatelink with several pieces of text replaced (write_variant does one)."""
    text = scenario_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "variant.yaml"
    path.write_text(text)
    return path


def findings_of(data: dict, rule: str) -> list[dict]:
    return [f for f in data["findings"] if f["rule"] == rule]


# --------------------------------------------------------------- shipped


@pytest.mark.parametrize("name", sorted(scenario.available()))
def test_shipped_scenarios_have_no_error(name: str) -> None:
    started = time.perf_counter()
    code, data = run_check(name)
    elapsed = time.perf_counter() - started
    print(f"check {name}: {elapsed * 1000:.1f} ms")  # measured, not asserted (-s shows it)
    assert data["errors"] == 0, data["findings"]
    assert code == 0


def test_public_image_behind_the_ecr_endpoints_is_an_error_naming_the_cache_rule() -> None:
    # The shipped scenario pulls through its cache rule; a public URI cannot be pulled there on AWS.
    code, data = run_check("fargate-privatelink", "--set", "image=public.ecr.aws/nginx/nginx:stable")
    assert code == 1
    [finding] = data["findings"]
    assert (finding["rule"], finding["severity"]) == ("image-registry", "error")
    assert "public.ecr.aws" in finding["message"] and "CannotPullContainerError" in finding["message"]
    assert "${ecr-public.uri}/<repository>:<tag>" in finding["fix"] and "NAT route" in finding["fix"]


def test_private_ecr_image_in_region_has_no_finding() -> None:
    image = "image=123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web:1"
    code, data = run_check("fargate-privatelink", "--set", image)
    assert (code, data["findings"]) == (0, [])


def test_shipped_privatelink_scenarios_have_no_finding_as_up_warms_their_cache() -> None:
    for name in ("fargate-privatelink", "closed-vpc-apigw"):
        code, data = run_check(name)
        assert (code, data["findings"]) == (0, []), name


def test_table_output_and_no_findings_line() -> None:
    image = "image=123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web:1"
    result = CliRunner().invoke(cli, ["check", "fargate-privatelink", "--set", image])
    assert result.exit_code == 0
    assert "fargate-privatelink: no findings" in result.output
    result = CliRunner().invoke(cli, ["check", "fargate-privatelink", "--set", "image=nginx:stable"])
    assert "fargate-privatelink: 1 error, 0 warnings" in result.output
    assert "image-registry" in result.output


# ------------------------------------------------------- broken variants

TASK_SG_INGRESS = (
    '      - {protocol: tcp, port: "${params.container_port}", source: sec-alb, description: HTTP from the ALB}\n'
)
ENDPOINT_INGRESS = "      - {protocol: tcp, port: 443, source: sec-web-via-alb, description: HTTPS from the tasks}\n"
ALB_INGRESS = "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n"

# (case id, replacements, rule expected, resource expected, exit code, words the finding must hold)
CASES = [
    (
        "the cache rule's warm-up turned off, tasks without internet",
        [("    warm: true\n", "    warm: false\n")],
        "pull-through-first-pull",
        "web-service",
        1,
        ["private-subnet1", "ecr-public has warm: false", "CannotPullContainerError", "warm: true", "NAT route"],
    ),
    (
        "no ecr.api endpoint (the article's table)",
        [("    service: ecr.api\n", "    service: sts\n")],
        "pull-path",
        "web-service",
        1,
        ["private-subnet1", "no ecr.api endpoint", "CannotPullContainerError", "interface endpoint for ecr.api"],
    ),
    (
        "no path to the registry at all, no public IP",
        [
            ("    service: ecr.api\n", "    service: sts\n"),
            ("    service: ecr.dkr\n", "    service: ssm\n"),
            ("    service: logs\n", "    service: ssmmessages\n"),
            ("    route_tables: [private-rt]\n", "    route_tables: [public-rt]\n"),
        ],
        "pull-path",
        "web-service",
        1,
        ["no route to an internet gateway or NAT", "NAT gateway", "ecr.api, ecr.dkr, logs"],
    ),
    (
        "public subnet but no public IP (alb-ip-targets' article)",
        [
            (
                "    subnets: [private-subnet1]\n    security_groups: [sec-web",
                "    subnets: [public-subnet1]\n    security_groups: [sec-web",
            )
        ],
        "pull-path",
        "web-service",
        1,
        [
            "assign_public_ip is false",
            "set assign_public_ip: true on web-service",
            "no s3 gateway endpoint on public-rt",
        ],
    ),
    (
        "no logs endpoint while the task logs with awslogs",
        [("    service: logs\n", "    service: ssmmessages\n")],
        "pull-path",
        "web-service",
        1,
        ["no logs endpoint", "ResourceInitializationError"],
    ),
    (
        "no s3 gateway endpoint on the tasks' route table",
        [("    route_tables: [private-rt]\n", "    route_tables: [public-rt]\n")],
        "pull-path",
        "web-service",
        1,
        ["no s3 gateway endpoint on private-rt", "route_tables: [private-rt]"],
    ),
    (
        "endpoint private DNS off",
        [
            (
                "    private_dns: true\n  ecr-dkr:\n",
                "    private_dns: false\n  ecr-dkr:\n",
            )
        ],
        "pull-path",
        "web-service",
        1,
        ["ecr-api (ecr.api) has private DNS off", "set private_dns: true on ecr-api"],
    ),
    (
        "endpoint SG without 443 from the tasks",
        [(ENDPOINT_INGRESS, ENDPOINT_INGRESS.replace("port: 443", "port: 8443"))],
        "endpoint-sg-443",
        "ecr-api",
        1,
        ["sec-endpoints", "no TCP 443 from sec-web-via-alb", "source: sec-web-via-alb"],
    ),
    (
        "task SG egress without 443",
        [(TASK_SG_INGRESS, TASK_SG_INGRESS + "    egress:\n      - {protocol: tcp, port: 80, cidr: 10.0.0.0/16}\n")],
        "endpoint-sg-443",
        "web-service",
        1,
        ["egress of sec-web-via-alb", "no TCP 443 to endpoint ecr-dkr", "egress {protocol: tcp, port: 443"],
    ),
    (
        "task SG egress without 443 to S3 (the gateway endpoint's public addresses)",
        [
            (
                TASK_SG_INGRESS,
                TASK_SG_INGRESS + "    egress:\n      - {protocol: tcp, port: 443, source: sec-endpoints}\n",
            )
        ],
        "task-egress-443",
        "web-service",
        1,
        ["sends no TCP 443 to 0.0.0.0/0", "image layers from S3", "cidr: 0.0.0.0/0"],
    ),
    (
        "private DNS without DNS hostnames",
        [("    dns_hostnames: true\n", "    dns_hostnames: false\n")],
        "endpoint-private-dns",
        "ecr-api",
        1,
        ["enableDnsHostnames", "dns_hostnames: true"],
    ),
    (
        "service containerPort differs from the container's port",
        [
            (
                '{target_group: web-tg, container: web, port: "${params.container_port}"}',
                "{target_group: web-tg, container: web, port: 8080}",
            )
        ],
        "port-mismatch",
        "web-service",
        1,
        ["no container port 8080", "its port is 80"],
    ),
    (
        "target group port differs (a warning: ECS registers the containerPort)",
        [("    port: ${params.container_port}\n    target_type: ip", "    port: 8080\n    target_type: ip")],
        "port-mismatch",
        "web-tg",
        0,
        ["says port 8080", "registers the tasks of web-service on 80"],
    ),
    (
        "target group behind no listener",
        [
            (
                "  http:\n    kind: listener\n",
                "  other-tg:\n    kind: target_group\n    vpc: vpc\n  http:\n    kind: listener\n",
            ),
            ("    target_group: web-tg\n\n", "    target_group: other-tg\n\n"),
        ],
        "target-group-listener",
        "web-service",
        1,
        ["does not have an associated load balancer", "target_group: web-tg"],
    ),
    (
        "target group of type instance",
        [("    target_type: ip", "    target_type: instance")],
        "awsvpc-ip-target",
        "web-service",
        1,
        ["awsvpc", "target_type: ip"],
    ),
    (
        "ALB SG egress limited to something else (the article's missing outbound rule)",
        [(ALB_INGRESS, ALB_INGRESS + "    egress:\n      - {protocol: tcp, port: 443, cidr: 0.0.0.0/0}\n")],
        "lb-egress",
        "alb",
        1,
        [
            "egress of sec-alb",
            "no TCP 80 to tasks of web-service (sec-web-via-alb",
            "egress {protocol: tcp, port: 80, source: sec-web-via-alb}",
        ],
    ),
    (
        "task SG admits the wrong source",
        [(TASK_SG_INGRESS, TASK_SG_INGRESS.replace("source: sec-alb", "source: sec-endpoints"))],
        "target-ingress",
        "web-service",
        1,
        ["no TCP 80 from sec-alb", "Target.Timeout", "ingress {protocol: tcp, port: 80, source: sec-alb}"],
    ),
    (
        "task SG without the separate health-check port",
        [("    health_check:\n      path: /\n", '    health_check:\n      path: /\n      port: "8081"\n')],
        "health-check-port",
        "web-service",
        1,
        ["no TCP 8081 from sec-alb", "health checks time out", "port: 8081, source: sec-alb"],
    ),
    (
        "ALB SG egress without the separate health-check port",
        [
            ("    health_check:\n      path: /\n", '    health_check:\n      path: /\n      port: "8081"\n'),
            (ALB_INGRESS, ALB_INGRESS + "    egress:\n      - {protocol: tcp, port: 80, source: sec-web-via-alb}\n"),
            (TASK_SG_INGRESS, TASK_SG_INGRESS + "      - {protocol: tcp, port: 8081, source: sec-alb}\n"),
        ],
        "health-check-port",
        "alb",
        1,
        ["egress of sec-alb", "no TCP 8081"],
    ),
    (
        "ALB in one Availability Zone",
        [("    cidr: 10.0.3.0/24\n    az: c\n", "    cidr: 10.0.3.0/24\n    az: a\n")],
        "alb-two-azs",
        "alb",
        1,
        ["at least two", "ap-northeast-1a"],
    ),
    (
        "internet-facing ALB in a subnet with no internet gateway route",
        [
            (
                "    subnets: [public-subnet1, public-subnet2]\n    security_groups: [sec-alb]",
                "    subnets: [public-subnet1, private-subnet1]\n    security_groups: [sec-alb]",
            )
        ],
        "internet-facing-igw",
        "alb",
        1,
        ["private-subnet1 has no 0.0.0.0/0 route to an internet gateway", "scheme: internal"],
    ),
    (
        "health check at a path nginx does not serve",
        [("    health_check:\n      path: /\n", "    health_check:\n      path: /health\n")],
        "health-check-answer",
        "web-tg",
        1,
        ["at /health", "answers 404, outside the matcher 200", "Target.ResponseCodeMismatch", "health_check.matcher"],
    ),
    (
        "execution role may not make the cache's first pull",
        [('"Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]', '"Action": ["ecr:CreateRepository"]')],
        "pull-through-permissions",
        "web",
        1,
        ["cache rule ecr-public", "may not ecr:BatchImportUpstreamImage", "${ecr-public.repositories}"],
    ),
]


@pytest.mark.parametrize(
    ("pairs", "rule", "resource", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_variant_is_reported(tmp_path, pairs, rule, resource, code, words) -> None:
    exit_code, data = run_check(variant(tmp_path, *pairs))
    found = [f for f in findings_of(data, rule) if f["resource"] == resource]
    assert found, data["findings"]
    text = " ".join(f"{f['message']} | {f['fix']}" for f in found)
    for word in words:
        assert word in text, text
    assert exit_code == code, data["findings"]
    assert data["errors"] == len([f for f in data["findings"] if f["severity"] == "error"])


def test_every_rule_has_a_broken_variant() -> None:
    # image-registry is tested with a public image above; the NAT and peering rules below.
    covered = {c[2] for c in CASES} | {"image-registry", "nat-public-subnet", "peering-overlap", "peering-routes"}
    # The API Gateway, Resolver and listener rules are tested on closed-vpc-apigw and alb-fargate-sg below.
    covered |= {"execute-api-endpoint", "private-api-policy", "vpc-link-nlb", "resolver-sg-53", "listener-certificate"}
    # The flows, the Resolver loop, the NLB's groups and open ingress are tested under "flows" below.
    covered |= {"flow", "resolver-rule-loop", "vpc-link-nlb-groups", "open-ingress"}
    assert covered == {r.id for r in netcheck.RULES}


# --------------------------------------------------------- good variants


@pytest.mark.parametrize(
    "pairs",
    [
        # A public subnet with a public IP pulls through the internet gateway.
        [
            (
                "    subnets: [private-subnet1]\n    security_groups: [sec-web",
                "    subnets: [public-subnet1]\n    security_groups: [sec-web",
            ),
            ("    assign_public_ip: false\n", "    assign_public_ip: true\n"),
        ],
        # An ALB egress limited to exactly the tasks' group and port is enough.
        [(ALB_INGRESS, ALB_INGRESS + "    egress:\n      - {protocol: tcp, port: 80, source: sec-web-via-alb}\n")],
        # Task egress limited to HTTPS out and HTTP inside the VPC is enough.
        [
            (
                TASK_SG_INGRESS,
                TASK_SG_INGRESS + "    egress:\n      - {protocol: tcp, port: 443, cidr: 0.0.0.0/0}\n"
                "      - {protocol: tcp, port: 80, cidr: 10.0.0.0/16}\n",
            )
        ],
        # Endpoint ingress by the tasks' subnet CIDR instead of their group.
        [(ENDPOINT_INGRESS, "      - {protocol: tcp, port: 443, cidr: 10.0.0.0/16}\n")],
        # A separate health-check port opened on the task group, where nginx answers it.
        [
            ("    health_check:\n      path: /\n", '    health_check:\n      path: /\n      port: "8081"\n'),
            (
                "        port: ${params.container_port}\n",
                "        port: ${params.container_port}\n        command:\n          - sh\n          - -c\n"
                "          - >-\n            echo 'server { listen 8081; location = / { return 200 ok; } }'"
                " > /etc/nginx/conf.d/health.conf && exec nginx -g 'daemon off;'\n",
            ),
            (
                TASK_SG_INGRESS,
                TASK_SG_INGRESS + "      - {protocol: tcp, from_port: 8000, to_port: 8100, source: sec-alb}\n",
            ),
        ],
    ],
    ids=["public-ip", "alb-egress-exact", "task-egress-https", "endpoint-by-cidr", "health-port-open"],
)
def test_fixed_variants_have_no_error(tmp_path, pairs) -> None:
    exit_code, data = run_check(variant(tmp_path, *pairs))
    assert data["errors"] == 0, data["findings"]
    assert exit_code == 0


# ----------------------------------------------------------- the command


def test_error_exit_names_the_count_and_json_stays_clean(tmp_path) -> None:
    path = write_variant(tmp_path, "    service: ecr.api\n", "    service: sts\n")
    result = CliRunner().invoke(cli, ["check", str(path), "-o", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # nothing but JSON on stdout
    assert data["scenario"] == "fargate-privatelink"
    assert set(data["findings"][0]) == {"rule", "severity", "resource", "message", "fix"}
    assert "error(s)" not in result.stderr and "1 error, " in result.stderr


@pytest.mark.parametrize("columns", [60, 100])
def test_plain_output_on_error_wraps_at_the_terminal_width(tmp_path, columns: int) -> None:
    path = write_variant(tmp_path, "    dns_hostnames: true\n", "    dns_hostnames: false\n")
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    assert "error: endpoint-private-dns" in result.stdout and "  fix: " in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    errors = len(netcheck.errors_in(netcheck.check(scenario.load(str(path)))))
    assert errors >= 3 and result.stderr.startswith(f"error: fargate-privatelink: {errors} errors")


def test_set_is_applied_before_checking() -> None:
    image = "image=123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web:1"  # an image assumed to answer on its port
    code, data = run_check("fargate-privatelink", "--set", "container_port=8080", "--set", image)
    # The tasks' group admits the container port from the ALB, so the new port stays consistent.
    assert data["errors"] == 0, data["findings"]
    assert code == 0


def test_nginx_on_a_port_it_does_not_listen_on_fails_its_health_check() -> None:
    code, data = run_check("fargate-privatelink", "--set", "container_port=8080")
    [finding] = findings_of(data, "health-check-answer")
    assert "port 8080" in finding["message"] and "Target.FailedHealthChecks" in finding["message"]
    assert code == 1


def test_bad_scenario_is_bad_input(tmp_path) -> None:
    path = write_variant(tmp_path, "    security_groups: [sec-alb]\n", "    security_groups: [sec-nope]\n")
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2


def test_check_is_pure_and_fast() -> None:
    loaded = scenario.load("fargate-privatelink")
    started = time.perf_counter()
    for _ in range(100):
        findings = netcheck.check(loaded)
    per_run = (time.perf_counter() - started) / 100
    print(f"netcheck.check: {per_run * 1000:.2f} ms per run")  # measured, not asserted
    assert findings == netcheck.check(loaded)


def test_rule_ids_are_unique_and_registration_refuses_a_duplicate() -> None:
    ids = [r.id for r in netcheck.RULES]
    assert len(ids) == len(set(ids))
    with pytest.raises(ValueError):
        netcheck.rule(ids[0], "again")(lambda net: [])


# ------------------------------------------------------ stand-in specs
# The rules find peerings and NAT gateways through the model's ref metadata, not field
# names, so stand-in specs of another shape exercise that independently of model.py.


@dataclasses.dataclass(frozen=True)
class StandInPeering(model.Spec):
    kind = "vpc_peering"
    vpc: str = model.ref("vpc")
    peer_vpc: str = model.ref("vpc")


@dataclasses.dataclass(frozen=True)
class StandInNat(model.Spec):
    kind = "nat_gateway"
    subnet: str = model.ref("subnet")


def with_resources(base: model.Scenario, **specs: model.Spec) -> model.Scenario:
    added = {lid: model.Resource(lid, spec) for lid, spec in specs.items()}
    return dataclasses.replace(base, resources={**base.resources, **added})


def rules_of(findings: list[netcheck.Finding]) -> list[str]:
    return [f.rule for f in findings if f.severity == "error"]


def peered(bar_cidr: str, *routes: tuple[str, str]) -> model.Scenario:
    """fargate-privatelink plus a VPC 'bar' peered with it; routes are (vpc, destination)."""
    base = scenario.load("fargate-privatelink")
    specs: dict[str, model.Spec] = {
        "bar": model.Vpc(cidr=bar_cidr),
        "bar-subnet": model.Subnet(vpc="bar", cidr=bar_cidr.replace("0.0/16", "1.0/24")),
        "pcx": StandInPeering(vpc="vpc", peer_vpc="bar"),
    }
    for i, (vpc, destination) in enumerate(routes):
        subnets = ("bar-subnet",) if vpc == "bar" else ()
        specs[f"rt{i}"] = model.RouteTable(vpc=vpc, subnets=subnets, routes=(model.Route(destination, peering="pcx"),))
    return with_resources(base, **specs)


def test_peering_with_routes_both_ways_is_clean() -> None:
    findings = netcheck.check(peered("10.3.0.0/16", ("vpc", "10.3.0.0/16"), ("bar", "10.0.0.0/16")))
    assert rules_of(findings) == []


def test_peering_route_missing_on_one_side() -> None:
    findings = netcheck.check(peered("10.3.0.0/16", ("vpc", "10.3.0.0/16")))
    found = [f for f in findings if f.rule == "peering-routes"]
    assert len(found) == 1 and found[0].resource == "pcx"
    assert "no route table in bar sends 10.0.0.0/16" in found[0].message
    assert "{destination: 10.0.0.0/16, peering: pcx}" in found[0].fix


def test_peered_vpcs_must_not_overlap() -> None:
    findings = netcheck.check(peered("10.0.0.0/16", ("vpc", "10.0.0.0/16"), ("bar", "10.0.0.0/16")))
    assert "peering-overlap" in rules_of(findings)


def test_nat_route_counts_as_a_pull_path_and_the_nat_needs_a_public_subnet() -> None:
    base = scenario.load("fargate-privatelink")
    rt = base.resources["private-rt"].spec
    nat_route = (model.Route("0.0.0.0/0", nat_gateway="nat"),)
    no_endpoints = {lid: r for lid, r in base.resources.items() if r.kind != "vpc_endpoint"}
    base = dataclasses.replace(base, resources=no_endpoints)
    routed = with_resources(base, **{"private-rt": dataclasses.replace(rt, routes=nat_route)})
    good = with_resources(routed, nat=StandInNat(subnet="public-subnet1"))
    assert rules_of(netcheck.check(good)) == []
    assert "pull-path" in rules_of(netcheck.check(base))
    bad = netcheck.check(with_resources(routed, nat=StandInNat(subnet="private-subnet1")))
    assert rules_of(bad) == ["nat-public-subnet"]


# ------------------------------------------------ closed-vpc-apigw, alb-fargate-sg

CLOSED = "closed-vpc-apigw"
SOURCE_VPCE = '"Condition": {"StringEquals": {"aws:SourceVpce": "${execute-api.id}"}}'
ARTICLE_CONDITION = '"Condition": {"StringNotEquals": {"aws:sourceVpc": ["10.0.0.0/8"]}}'


def closed_variant(tmp_path: Path, old: str, new: str) -> Path:
    return write_variant(tmp_path, old, new, name=CLOSED)


def test_the_articles_policy_grants_everyone_else(tmp_path) -> None:
    code, data = run_check(closed_variant(tmp_path, SOURCE_VPCE, ARTICLE_CONDITION))
    found = findings_of(data, "private-api-policy")
    assert code == 1 and len(found) == 2, found
    assert "grants every other VPC" in found[0]["message"]
    assert "CIDR" in found[1]["message"] and "aws:SourceVpce" in found[1]["fix"]


def test_a_private_api_needs_a_policy_and_a_bound_execute_api_endpoint() -> None:
    base = scenario.load(CLOSED)
    api = base.resources["api"].spec
    bare = with_resources(base, api=dataclasses.replace(api, policy=None, vpc_endpoints=()))
    assert sorted(rules_of(netcheck.check(bare))) == ["execute-api-endpoint", "private-api-policy"]
    wrong = with_resources(base, api=dataclasses.replace(api, vpc_endpoints=("ecr-api",)))
    assert rules_of(netcheck.check(wrong)) == ["execute-api-endpoint"]


def test_a_vpc_link_must_target_an_nlb(tmp_path) -> None:
    # An ALB has no TCP listeners (refused as bad input), so its listener becomes HTTP too.
    path = closed_variant(tmp_path, "    type: network\n", "    type: application\n")
    path.write_text(
        path.read_text().replace(
            "    protocol: TCP\n    port: 80\n    target_group: nlb-tg",
            "    protocol: HTTP\n    port: 80\n    target_group: nlb-tg",
        )
    )
    code, data = run_check(path)
    assert code == 1
    assert [f["resource"] for f in findings_of(data, "vpc-link-nlb")] == ["vpc-link"]


def test_the_inbound_resolver_must_admit_udp_and_tcp_53(tmp_path) -> None:
    udp_from_peer = "      - {protocol: udp, port: 53, cidr: 10.4.0.0/16, description: DNS from the peer VPC}\n"
    code, data = run_check(closed_variant(tmp_path, udp_from_peer, ""))
    found = findings_of(data, "resolver-sg-53")
    assert code == 1 and len(found) == 1, found
    assert "UDP 53" in found[0]["message"] and "protocol: udp, port: 53, cidr: 10.4.0.0/24" in found[0]["fix"]


def test_the_outbound_resolver_must_send_53(tmp_path) -> None:
    tcp_out = "      - {protocol: tcp, port: 53, cidr: 10.1.0.0/16, description: DNS to the inbound endpoint}\n"
    code, data = run_check(closed_variant(tmp_path, tcp_out, ""))
    found = findings_of(data, "resolver-sg-53")
    assert code == 1 and len(found) == 1 and "sends no TCP 53" in found[0]["message"], found


def test_alb_fargate_sg_failure_points(tmp_path) -> None:
    """The article's three: a port set in one place only, no ALB egress, no health-check port on the tasks."""
    name = "alb-fargate-sg"
    cases = [
        (
            "        port: ${params.container_port}     # (3)",
            "        port: 8080     # (3)",
            "port-mismatch",
        ),
        (
            '      - {protocol: tcp, port: "${params.container_port}", source: task-sg, description: traffic to the '
            "tasks}\n",
            "",
            "lb-egress",
        ),
        (
            '      - {protocol: tcp, port: "${params.health_check_port}", source: alb-sg, description: health checks '
            "from the ALB}\n",
            "",
            "health-check-port",
        ),
    ]
    for i, (old, new, rule_id) in enumerate(cases):
        code, data = run_check(write_variant(tmp_path, old, new, name=name, file=f"v{i}.yaml"))
        assert code == 1, rule_id
        assert findings_of(data, rule_id), (rule_id, data["findings"])


def test_an_https_listener_needs_its_certificate() -> None:
    # Without a certificate AWS refuses the listener: bad input, before any check runs.
    result = CliRunner().invoke(cli, ["check", "alb-fargate-sg", "--set", "listener_protocol=HTTPS"])
    assert result.exit_code == 2 and "needs a certificate" in result.output
    code, data = run_check(
        "alb-fargate-sg",
        "--set",
        "listener_protocol=HTTPS",
        "--set",
        "listener_port=443",
        "--set",
        "certificate_arn=arn:aws:acm:ap-northeast-1:123456789012:certificate/abc",
    )
    assert code == 0, data["findings"]


# ---------------------------------------------------------------- flows


@pytest.mark.parametrize("name", sorted(scenario.available()))
def test_every_declared_flow_of_a_shipped_scenario_is_reachable(name: str) -> None:
    code, data = run_check(name)
    assert code == 0
    declared = [f for f in data["flows"] if f["kind"] == "declared"]
    assert declared and all(f["reachable"] for f in declared), declared
    assert all(f["hops"] and all(h["ok"] for h in f["hops"]) for f in declared)
    assert all(f["reachable"] for f in data["flows"]), [f for f in data["flows"] if not f["reachable"]]


def test_a_broken_flow_names_the_hop_code_and_fix(tmp_path) -> None:
    bar = "      - {protocol: tcp, port: 80, cidr: 10.3.0.0/16, description: HTTP from bar}\n"
    code, data = run_check(write_variant(tmp_path, bar, "", name="internal-alb-peering"))
    found = findings_of(data, "flow")
    assert code == 1 and {f["resource"] for f in found} == {"client"}
    assert found[0]["message"].startswith(
        "client → foo-internal-alb:80 — breaks at foo-alb-sg (ENI_SG_RULES_MISMATCH): foo-alb-sg (load balancer "
        "foo-internal-alb) admits no TCP 80 from bar-client-sg or 10.3.1.0/24; add ingress"
    )
    broken = [f for f in data["flows"] if not f["reachable"]]
    assert {f["destination"] for f in broken} == {"foo-internal-alb", "alb.home"}
    assert [h["code"] for h in broken[0]["hops"] if not h["ok"]] == ["ENI_SG_RULES_MISMATCH"]


def test_a_zone_not_associated_with_the_client_vpc_does_not_resolve(tmp_path) -> None:
    code, data = run_check(
        write_variant(tmp_path, "    vpcs: [foo, bar]\n", "    vpcs: [foo]\n", "internal-alb-peering")
    )
    found = findings_of(data, "flow")
    assert code == 1 and len(found) == 1
    assert "alb.home:80 — breaks at bar (DNS_NOT_RESOLVED)" in found[0]["message"]
    assert found[0]["fix"].startswith("associate home with bar")


def test_a_client_vpc_without_a_peering_has_no_route(tmp_path) -> None:
    text = scenario_text("internal-alb-peering")
    text = text.replace("peering: foo-bar}", "gateway: bar-igw}").replace(
        "  foo-bar:\n    kind: vpc_peering\n", "  x:\n    kind: vpc_peering\n"
    )
    text = text.replace("    peer_vpc: foo\n", "    peer_vpc: bar\n", 1)
    path = tmp_path / "v.yaml"
    path.write_text(text)
    code, data = run_check(path)
    messages = [f["message"] for f in findings_of(data, "flow")]
    assert code == 1 and messages, data["findings"]
    assert all("(NO_ROUTE_TO_DESTINATION): no peering connects bar and foo" in m for m in messages), messages


def test_internet_clients_need_the_listener_port_open_on_the_alb(tmp_path) -> None:
    code, data = run_check(variant(tmp_path, (ALB_INGRESS, "      - {protocol: tcp, port: 80, cidr: 10.0.0.0/16}\n")))
    found = findings_of(data, "flow")
    assert code == 1 and len(found) == 1
    assert "internet → alb:80 — breaks at sec-alb (ENI_SG_RULES_MISMATCH)" in found[0]["message"]
    assert "port: 80, cidr: 0.0.0.0/0" in found[0]["fix"]


def test_a_declared_port_without_a_listener(tmp_path) -> None:
    path = write_variant(
        tmp_path, "  - {client: internet, to: alb, port: 80}", "  - {client: internet, to: alb, port: 8080}"
    )
    code, data = run_check(path)
    assert (
        code == 1
        and "(ELBV2_LISTENERS_MISMATCH): alb has no listener on port 8080" in findings_of(data, "flow")[0]["message"]
    )


def test_a_forwarding_rule_associated_with_the_vpc_it_forwards_to_loops(tmp_path) -> None:
    code, data = run_check(write_variant(tmp_path, "    vpcs: [peer]\n", "    vpcs: [peer, vpc]\n", name=CLOSED))
    assert code == 1 and [f["resource"] for f in findings_of(data, "resolver-rule-loop")] == ["api-forwarding"]
    assert "(DNS_NOT_RESOLVED)" in findings_of(data, "flow")[0]["message"]


def test_an_nlb_behind_a_vpc_link_has_no_security_groups(tmp_path) -> None:
    old = "    scheme: internal\n    subnets: [private-1a, private-1c]\n"
    code, data = run_check(write_variant(tmp_path, old, old + "    security_groups: [task-sg]\n", name=CLOSED))
    found = findings_of(data, "vpc-link-nlb-groups")
    assert code == 1 and [f["resource"] for f in found] == ["nlb"] and "PrivateLink" in found[0]["message"]


def test_open_ingress_to_anything_but_an_internet_facing_lb_is_a_warning(tmp_path) -> None:
    code, data = run_check(
        variant(
            tmp_path, (ENDPOINT_INGRESS, ENDPOINT_INGRESS + "      - {protocol: tcp, port: 443, cidr: 0.0.0.0/0}\n")
        )
    )
    found = findings_of(data, "open-ingress")
    assert code == 0 and [(f["resource"], f["severity"]) for f in found] == [("sec-endpoints", "warning")]
    assert "ecr-api" in found[0]["message"]
    assert not findings_of(run_check("fargate-privatelink")[1], "open-ingress")  # sec-alb fronts an internet-facing ALB


@pytest.mark.parametrize(
    ("flows", "words"),
    [
        ("flows: {client: internet}\n", "'flows' must be a list"),
        ("flows:\n  - {client: internet, to: alb}\n", "'port' is required"),
        ("flows:\n  - {client: nobody, to: alb, port: 80}\n", "'nobody' refers to nothing"),
        ("flows:\n  - {client: sec-alb, to: alb, port: 80}\n", "'sec-alb' is a security_group"),
        ("flows:\n  - {client: internet, to: alb, port: 80, via: x}\n", "unknown key 'via'"),
        ("flows:\n  - {client: internet, to: alb, port: 70000}\n", "not between 1 and 65535"),
    ],
)
def test_bad_flows_are_bad_input_with_file_and_line(tmp_path, flows: str, words: str) -> None:
    text = scenario_text().replace("flows:\n  - {client: internet, to: alb, port: 80}\n", flows)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2 and words in result.output, result.output
    assert "bad.yaml:" in result.output
