"""The sandbox refuses and fails where AWS does, and `check` says so first.

Each variant of a shipped scenario runs through two voices: offline `check` (the rule
that reports it, or None where check cannot know) and the sandbox (`up --skip-check`:
the failed step, AWS's error code in it, and a hint). One moto for the module, with the
sandbox's behaviour at time scale 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from conftest import REGION, changed_steps, scenario_text
from vpcctl import deploy, images, pace, scenario
from vpcctl.cli import cli
from vpcctl.engine import CREATED, DELETED, UNCHANGED
from vpcctl.errors import BadInput
from vpcctl.resources import handler
from vpcctl.sandbox import behaviour, faults

PUBLIC_IMAGE = "image=public.ecr.aws/nginx/nginx:stable"
CACHE_ACTIONS = '"Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]'
WARM_OFF = ("    warm: true\n", "    warm: false\n")


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def variant_file(tmp_path: Path, name: str, pairs: list[tuple[str, str]]) -> Path:
    """A shipped scenario with each `old` replaced once (an `old` ending in '*': everywhere)."""
    text = scenario_text(name)
    for old, new in pairs:
        everywhere = old.endswith("*")
        old = old.removesuffix("*")
        assert old in text, old
        text = text.replace(old, new, -1 if everywhere else 1)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def up(*args: str) -> Any:
    return CliRunner().invoke(cli, ["up", *args, "--timeout", "60"])


def teardown(deployment: str) -> Any:
    return CliRunner().invoke(cli, ["teardown", "--name", deployment, "--yes", "--region", REGION])


def check_errors(target: str, *sets: str) -> set[str]:
    result = CliRunner().invoke(cli, ["check", target, "-o", "json", *sets])
    return {f["rule"] for f in json.loads(result.stdout)["findings"] if f["severity"] == "error"}


def pending_certificate(_: Path) -> tuple[str, ...]:
    arn = client("acm").request_certificate(DomainName="app.example.com", ValidationMethod="DNS")["CertificateArn"]
    return ("--set", "listener_protocol=HTTPS", "--set", "listener_port=443", "--set", f"certificate_arn={arn}")


# (id, scenario, text replacements, extra arguments (or a function of tmp_path giving them),
#  the check rule that reports it (None: check cannot know offline), the step that fails,
#  words in the failure, words in its hint)
VARIANTS: list[tuple[str, str, list[tuple[str, str]], Any, str | None, str, list[str], list[str]]] = [
    (
        "container-port",
        "fargate-privatelink",
        [('container: web, port: "${params.container_port}"}', "container: web, port: 8080}")],
        (),
        "port-mismatch",
        "web-service",
        ["InvalidParameterException (CreateService)", "The container web did not have a container port 8080 defined"],
        [],
    ),
    (
        "alb-one-zone",
        "fargate-privatelink",
        [
            (
                "    subnets: [public-subnet1, public-subnet2]\n    security_groups: [sec-alb]",
                "    subnets: [public-subnet1]\n    security_groups: [sec-alb]",
            )
        ],
        (),
        "alb-two-azs",
        "alb",
        ["ValidationError (CreateLoadBalancer)", "At least two subnets in two different Availability Zones"],
        [],
    ),
    (
        "peering-overlap",
        "internal-alb-peering",
        [("cidr: 10.3.*", "cidr: 10.2.")],  # bar's VPC and subnets take foo's addresses
        (),
        "peering-overlap",
        "foo-bar",
        ["peering failed", "overlapping CIDR range"],
        ["must not overlap"],
    ),
    (
        "https-pending-certificate",
        "alb-fargate-sg",
        [],
        pending_certificate,
        None,  # offline, check cannot see a certificate's status in ACM
        "listener",
        ["UnsupportedCertificate (CreateListener)", "must have a fully-qualified domain name"],
        ["ISSUED"],
    ),
    (
        "health-path-404",
        "fargate-privatelink",
        [("    health_check:\n      path: /\n", "    health_check:\n      path: /health\n")],
        (),
        "health-check-answer",
        "web-service",
        ["unhealthy: Target.ResponseCodeMismatch"],
        ["health_check.path"],
    ),
    (
        "endpoint-dns-off",
        "fargate-privatelink",
        [("    dns_hostnames: true\n", "    dns_hostnames: false\n")],
        (),
        "endpoint-private-dns",
        "ecr-api",
        ["InvalidParameter (CreateVpcEndpoint)", "Enabling private DNS requires both enableDnsSupport"],
        ["dns_support", "dns_hostnames"],
    ),
    (
        "public-image-privatelink",
        "fargate-privatelink",
        [],
        ("--set", PUBLIC_IMAGE),
        "image-registry",
        "web-service",
        ["CannotPullContainerError", 'Head "https://public.ecr.aws/v2/nginx/nginx/manifests/stable"'],
        ["pull-through cache rule", "NAT gateway"],
    ),
    (
        "public-image-closed-vpc",
        "closed-vpc-apigw",
        [],
        ("--set", PUBLIC_IMAGE),
        "image-registry",
        "web-service",
        ["CannotPullContainerError", "https://public.ecr.aws/"],
        ["pull-through cache rule", "NAT gateway"],
    ),
    (
        "cache-without-import-permission",
        "fargate-privatelink",
        [(CACHE_ACTIONS, '"Action": ["ecr:CreateRepository"]'), WARM_OFF],  # the tasks make the first pull
        (),
        "pull-through-permissions",
        "web-service",
        ["CannotPullContainerError", "ecr:BatchImportUpstreamImage"],
        ["pull-through-first-pull"],
    ),
    (
        "cold-cache-closed-vpc",
        "closed-vpc-apigw",
        [WARM_OFF],
        (),
        "pull-through-first-pull",
        "web-service",
        ["CannotPullContainerError", "pull through cache rule", "fetches it from public.ecr.aws", "i/o timeout"],
        ["pull-through-first-pull", "warm: true", "NAT route"],
    ),
]


@pytest.fixture(scope="module")
def moto(moto_module: None) -> Iterator[None]:
    yield


def interfaces() -> list[dict[str, Any]]:
    pages = client("ec2").get_paginator("describe_network_interfaces").paginate()
    return [eni for page in pages for eni in page["NetworkInterfaces"]]


def eni_count() -> int:
    return len(interfaces())


@pytest.mark.parametrize(
    ("index", "name", "pairs", "extra", "rule", "step", "words", "hint"),
    [pytest.param(i, *v[1:], id=v[0]) for i, v in enumerate(VARIANTS)],
)
def test_check_and_sandbox_agree_on_a_variant(
    moto, tmp_path, index, name, pairs, extra, rule, step, words, hint
) -> None:
    path = str(variant_file(tmp_path, name, pairs))
    arguments = extra(tmp_path) if callable(extra) else extra
    deployment = f"variant{index}"
    found = check_errors(path, *arguments)
    assert (rule in found) if rule else not found, found  # check's verdict
    enis = eni_count()
    try:
        result = up(path, "--skip-check", "--name", deployment, *arguments)
        assert result.exit_code == 1, result.output  # the sandbox's verdict: AWS refuses or it never serves
        failure = next(line for line in result.stderr.splitlines() if line.startswith(f"{step}: failed: "))
        for word in words:
            assert word in failure, result.stderr
        hint_line = result.stderr.split(failure, 1)[1].splitlines()[1]
        assert hint_line.startswith("  hint: "), result.stderr
        for word in hint:
            assert word in hint_line, hint_line
        leaked = [e for e in interfaces() if e.get("Description") == "moto ECS"]  # a task launch half done
        assert leaked == []
    finally:
        gone = teardown(deployment)
        assert gone.exit_code == 0, gone.output
    assert eni_count() == enis  # nothing leaked, nothing left


def test_endpoint_refusal_leaves_no_interface_and_tasks_start_without_dns_hostnames(moto, tmp_path) -> None:
    # The crash AWS never has: tasks in a VPC with DNS hostnames off still get their ENI (and a private DNS name).
    path = variant_file(
        tmp_path,
        "fargate-privatelink",
        [("    dns_hostnames: true\n", "    dns_hostnames: false\n")]
        + [("    private_dns: true\n", "    private_dns: false\n")] * 3,
    )
    enis = eni_count()
    result = up(str(path), "--skip-check", "--name", "dnsoff", "--no-wait")
    try:
        assert result.exit_code == 0, result.output
        ecs = client("ecs")
        cluster = ecs.list_clusters()["clusterArns"]
        tasks = [t for c in cluster for t in ecs.list_tasks(cluster=c, serviceName="web-service")["taskArns"]]
        assert tasks, "the service started no task"
    finally:
        assert teardown("dnsoff").exit_code == 0
    assert eni_count() == enis


# -------------------------------------------------- the shipped scenarios as shipped


@pytest.mark.parametrize("name", ["fargate-privatelink", "closed-vpc-apigw"])
def test_shipped_privatelink_scenarios_serve_through_the_cache_rule(moto, name) -> None:
    findings = json.loads(CliRunner().invoke(cli, ["check", name, "-o", "json"]).stdout)["findings"]
    assert findings == []  # no image-registry finding; no first-pull finding, as up warms the cache
    deployment = f"ship-{name[:6]}"
    planned = CliRunner().invoke(cli, ["plan", name, "--name", deployment])
    assert "images=[nginx/nginx:stable]" in planned.output, planned.output  # the rule and what up caches
    result = up(name, "--name", deployment)
    try:
        assert result.exit_code == 0, result.output
        assert "+cached image nginx/nginx:stable" in result.output  # the warm-up, reported as a change
        prefix = f"{deployment}/ecr-public"
        rules = client("ecr").describe_pull_through_cache_rules()["pullThroughCacheRules"]
        assert {r["ecrRepositoryPrefix"]: r["upstreamRegistryUrl"] for r in rules}[prefix] == "public.ecr.aws"
        images_ = client("ecr").describe_images(repositoryName=f"{prefix}/nginx/nginx")["imageDetails"]
        assert [d["imageTags"] for d in images_] == [["stable"]]  # the warm-up's pull cached it
        again = up(name, "--name", deployment)
        assert again.exit_code == 0 and "cached image" not in again.output, again.output
    finally:
        assert teardown(deployment).exit_code == 0
    repositories = {r["repositoryName"] for r in client("ecr").describe_repositories()["repositories"]}
    assert not any(r.startswith(f"{deployment}/") for r in repositories)


def test_a_cold_cache_fails_the_first_pull_until_up_warms_it(moto, tmp_path) -> None:
    cold = variant_file(tmp_path, "fargate-privatelink", [WARM_OFF])
    first = up(str(cold), "--skip-check", "--name", "coldwarm")
    try:
        assert first.exit_code == 1, first.output
        assert "web-service: failed: " in first.stderr and "CannotPullContainerError" in first.stderr
        assert "hint: pull-through-first-pull: " in first.stderr
        shipped = tmp_path / "shipped.yaml"
        shipped.write_text(scenario_text("fargate-privatelink"))
        second = up(str(shipped), "--name", "coldwarm")  # warm: true, the default
        assert second.exit_code == 0, second.output
        assert "+cached image nginx/nginx:stable" in second.output  # later pulls come from the cache
    finally:
        assert teardown("coldwarm").exit_code == 0


def test_pull_through_cache_rule_is_ensured_and_deleted_twice(moto, make_ctx, tmp_path) -> None:
    loaded = scenario.load("fargate-privatelink")
    resource = loaded.resources["ecr-public"]
    kind = handler("ecr_pull_through_cache")
    ctx = make_ctx(loaded, deployment="cache2")
    first = kind.ensure(ctx, resource, resource.spec, None)
    assert first.status == CREATED and first.found.attributes["prefix"] == "cache2/ecr-public"
    assert [str(c) for c in first.changes if c.member] == ["+cached image nginx/nginx:stable"]
    assert first.found.attributes["uri"].endswith(f".dkr.ecr.{REGION}.amazonaws.com/cache2/ecr-public")
    found = {f.logical_id: f for f in kind.discover(ctx)}["ecr-public"]
    assert kind.ensure(ctx, resource, resource.spec, found).status == UNCHANGED
    assert kind.delete(ctx, found) is True
    assert kind.delete(ctx, found) is False
    assert kind.discover(ctx) == []


def test_the_registry_api_wants_the_token_and_serves_only_repositories_and_cache_rules(moto) -> None:
    import requests

    from vpcctl.aws import registry
    from vpcctl.errors import AwsError

    with pytest.raises(AwsError, match=r"^NAME_UNKNOWN \(GET manifest") as refused:
        registry.pull_manifest(client("ecr"), None, "no-rule/nginx/nginx", "stable")
    assert "pull-through cache rule's prefix" in (refused.value.hint or "")
    account = client("sts").get_caller_identity()["Account"]
    url = f"https://{account}.dkr.ecr.{REGION}.amazonaws.com/v2/no-rule/nginx/nginx/manifests/stable"
    answer = requests.get(url, timeout=5)  # no token
    assert answer.status_code == 401 and answer.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_cache_prefix_longer_than_ecr_allows_is_bad_input(moto, make_ctx) -> None:
    loaded = scenario.load("fargate-privatelink")
    resource = loaded.resources["ecr-public"]
    ctx = make_ctx(loaded, deployment="a-very-long-deployment-n")
    with pytest.raises(BadInput, match="longer than 30 characters"):
        handler("ecr_pull_through_cache").ensure(ctx, resource, resource.spec, None)


def test_deploy_up_and_teardown_report_the_cache_rule(moto, make_ctx) -> None:
    loaded = scenario.load("fargate-privatelink")
    ctx = make_ctx(loaded, deployment="cachesteps", wait=False)
    report = deploy.up(loaded, ctx)
    assert report.results["ecr-public"].status == CREATED
    again = deploy.up(loaded, make_ctx(loaded, deployment="cachesteps", wait=False))
    assert changed_steps(again) == {}
    gone = deploy.teardown(make_ctx(None, deployment="cachesteps"))
    assert gone.results["ecr-public"].status == DELETED and gone.leftovers == []
    assert "ecr-public" not in deploy.teardown(make_ctx(None, deployment="cachesteps")).results


# ---------------------------------------------------------------- up and check


def test_up_prints_each_check_warning_on_stderr_and_quiet_hides_them(moto, tmp_path) -> None:
    path = variant_file(
        tmp_path,
        "fargate-privatelink",
        [("    protocol: HTTP\n    port: ${params.container_port}\n", "    protocol: HTTP\n    port: 8080\n")],
    )
    loud = up(str(path), "--name", "warned", "--no-wait")
    quiet = up(str(path), "--name", "warned", "--no-wait", "-q")
    try:
        assert loud.exit_code == 0 and quiet.exit_code == 0, loud.output
        warnings = [line for line in loud.stderr.splitlines() if line.startswith("warning: ")]
        rules = {line.split(" ")[1] for line in warnings}
        assert rules == {"port-mismatch"}, loud.stderr
        assert any(line.startswith("warning: port-mismatch web-tg: target group web-tg says") for line in warnings)
        assert "warning:" not in quiet.stderr
    finally:
        assert teardown("warned").exit_code == 0


# ------------------------------------------------------------- direct refusals


def test_refusals_at_the_call(moto) -> None:
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    with pytest.raises(elb.exceptions.ClientError, match="InvalidConfigurationRequest"):
        elb.create_load_balancer(Name="same-zone", Subnets=[a, b])
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    other = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=other)["VpcPeeringConnection"]
    assert pcx["Status"]["Code"] != "failed"  # no overlap: the request waits for acceptance
    with pytest.raises(ec2.exceptions.ClientError, match=r"InvalidParameterValue.*only supports interface"):
        ec2.create_route(
            RouteTableId=table, DestinationCidrBlock="10.9.0.0/16", VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"]
        )
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.logs", VpcEndpointType="Interface", PrivateDnsEnabled=False
    )["VpcEndpoint"]["VpcEndpointId"]
    with pytest.raises(ec2.exceptions.ClientError, match=r"InvalidParameter.*enableDnsHostnames"):
        ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PrivateDnsEnabled=True)


# ------------------------------------------------------------ the image model


@pytest.mark.parametrize(
    ("image", "port", "path", "code"),
    [
        ("public.ecr.aws/nginx/nginx:stable", 80, "/", 200),
        ("nginx:1.27", 80, "/health", 404),
        ("public.ecr.aws/nginx/nginx:stable", 8080, "/", None),
        ("httpd:2.4", 80, "/index.html", 200),
        ("public.ecr.aws/docker/library/httpd:2.4", 80, "/healthz", 404),
        ("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:1", 3000, "/anything", 200),
        ("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:1", 80, "/", None),
    ],
)
def test_what_an_image_answers(image: str, port: int, path: str, code: int | None) -> None:
    assert images.answer(image, (), 3000 if "/app:" in image else 80, port, path) == code


def test_matchers_and_registries() -> None:
    assert images.matches("200", 200) and not images.matches("200", 404)
    assert images.matches("200,404", 404) and images.matches("200-299", 204) and not images.matches("200-299", 301)
    assert images.registry_of("nginx").host == images.DOCKER_HUB
    private = images.registry_of("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/p/nginx/nginx:stable")
    assert private.through_endpoints("ap-northeast-1") and not private.through_endpoints("us-east-1")
    assert images.cache_prefix(private, ["p", "q"]) == "p"


def test_a_matcher_that_accepts_the_answer_keeps_targets_healthy(moto, tmp_path) -> None:
    path = variant_file(
        tmp_path,
        "fargate-privatelink",
        [("    health_check:\n      path: /\n", '    health_check:\n      path: /health\n      matcher: "200,404"\n')],
    )
    assert check_errors(str(path)) == set()
    result = up(str(path), "--name", "matcher")
    try:
        assert result.exit_code == 0, result.output
    finally:
        assert teardown("matcher").exit_code == 0


# ------------------------------------------------------------------- faults


def test_emulation_faults_raise_under_tests(moto, monkeypatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug in the emulation")

    monkeypatch.setattr(behaviour, "release_enis", broken)
    with pytest.raises(RuntimeError, match="a bug in the emulation"):
        client("ec2").describe_network_interfaces()


def test_a_serving_sandbox_logs_counts_and_answers_internal_error(tmp_path, capsys) -> None:
    from werkzeug.exceptions import HTTPException

    box = faults.Faults()
    monkeypatched = faults.FAULTS
    faults.FAULTS = box
    box.serve(tmp_path / "count")
    try:

        def broken(owner: Any) -> None:
            raise KeyError("missing")

        with pytest.raises(HTTPException) as raised:
            faults.guarded(broken, object())
        assert raised.value.code == 500 and "InternalError" in raised.value.get_body()
        assert faults.read_count(tmp_path / "count") == 1
        assert "sandbox emulation error #1" in capsys.readouterr().err
    finally:
        faults.FAULTS = monkeypatched


def test_sandbox_status_says_how_many_emulation_errors(sandbox_home: str) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "status"])
    assert result.exit_code == 0
    assert "emulation errors: 0" in result.output


# --------------------------------------------------------------------- time


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


@pytest.fixture
def clock(moto) -> Iterator[Clock]:
    fake = Clock()
    world = behaviour.install(time_scale=1.0, clock=fake.now)
    yield fake
    world.time_scale, world.clock = 0.0, time.monotonic


def target_states(arn: str) -> list[str]:
    return [
        d["TargetHealth"]["State"]
        for d in client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    ]


def test_time_is_the_sandbox_clock_whoever_polls(clock, make_ctx) -> None:
    loaded = scenario.load("fargate-privatelink")
    try:
        # Tasks run 45 s after the service starts them; one 30 s interval later they pass. A caller
        # that looks for the first time only after 185 s finds them healthy, not "registered just now".
        seldom = deploy.up(loaded, make_ctx(loaded, deployment="seldom", wait=False))
        assert not seldom.failed, seldom.failed
        clock.t += 185
        assert target_states(seldom.results["web-tg"].resource_id) == ["healthy", "healthy"]

        # Health checks start only once the ALB is active (150 s), however early the targets run.
        early = deploy.up(loaded, make_ctx(loaded, deployment="early", wait=False))
        group = early.results["web-tg"].resource_id
        for later, state in ((80, "initial"), (30, "initial"), (75, "healthy")):
            clock.t += later
            assert target_states(group) == [state, state], clock.t
    finally:
        behaviour.WORLD.time_scale = 0.0
        for name in ("seldom", "early"):
            deploy.teardown(make_ctx(None, deployment=name))


def test_references_to_what_is_still_provisioning(clock) -> None:
    """What AWS refuses, accepts or fails while the referenced resource is still coming up
    (docs/readiness.md), on the sandbox's own clock."""
    ec2, elb, apigw, r53 = client("ec2"), client("elbv2"), client("apigateway"), client("route53")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]
        for i, zone in ((1, "a"), (2, "c"))
    ]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0]["SubnetId"], AllocationId=eip)["NatGateway"]["NatGatewayId"]
    nlb = elb.create_load_balancer(Name="pending-nlb", Type="network", Subnets=[s["SubnetId"] for s in subnets])
    nlb = nlb["LoadBalancers"][0]
    other = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=other)["VpcPeeringConnection"]
    zone = r53.create_hosted_zone(Name="pending.example", CallerReference=f"pending-{clock.t}")["HostedZone"]["Id"]

    def alias(name: str) -> None:
        change = {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": name,
                "Type": "A",
                "AliasTarget": {
                    "HostedZoneId": nlb["CanonicalHostedZoneId"],
                    "DNSName": nlb["DNSName"],
                    "EvaluateTargetHealth": False,
                },
            },
        }
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})

    # A pending NAT gateway is not a route target yet; a peering pending acceptance is.
    with pytest.raises(ec2.exceptions.ClientError, match=rf"InvalidNatGatewayID.NotFound.*{nat}"):
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    read = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx["VpcPeeringConnectionId"]])
    assert read["VpcPeeringConnections"][0]["Status"]["Code"] == "pending-acceptance"
    ec2.create_route(
        RouteTableId=table, DestinationCidrBlock="10.6.0.0/16", VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"]
    )
    # A VPC link to a provisioning NLB is taken, then FAILED; an alias to it is refused.
    early = apigw.create_vpc_link(name="early", targetArns=[nlb["LoadBalancerArn"]])
    assert early["status"] == "PENDING"
    link = apigw.get_vpc_link(vpcLinkId=early["id"])
    assert (link["status"], link["statusMessage"]) == ("FAILED", behaviour.NLB_NOT_ACTIVE)
    with pytest.raises(r53.exceptions.ClientError, match=r"InvalidChangeBatch.*target was not found"):
        alias("early.pending.example")
    # A target group no listener attaches to a load balancer cannot take a service.
    group = elb.create_target_group(Name="unattached", Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip")
    group_arn = group["TargetGroups"][0]["TargetGroupArn"]
    with pytest.raises(client("ecs").exceptions.ClientError, match="does not have an associated load balancer"):
        client("ecs").create_service(
            cluster="none",
            serviceName="s",
            taskDefinition="none:1",
            loadBalancers=[{"targetGroupArn": group_arn, "containerName": "web", "containerPort": 80}],
        )

    clock.t += max(pace.SECONDS["nat_gateway"], pace.SECONDS["load_balancer"])
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    alias("late.pending.example")
    late = apigw.create_vpc_link(name="late", targetArns=[nlb["LoadBalancerArn"]])
    clock.t += pace.SECONDS["vpc_link"]
    assert apigw.get_vpc_link(vpcLinkId=late["id"])["status"] == "AVAILABLE"
    for link_id in (early["id"], late["id"]):
        apigw.delete_vpc_link(vpcLinkId=link_id)


def test_a_resolver_rule_needs_an_operational_endpoint(clock) -> None:
    ec2, resolver = client("ec2"), client("route53resolver")
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.5.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "c"))
    ]
    group = ec2.create_security_group(VpcId=vpc, GroupName="resolver", Description="resolver")["GroupId"]
    endpoint = resolver.create_resolver_endpoint(
        CreatorRequestId=f"pending-{clock.t}",
        Direction="OUTBOUND",
        SecurityGroupIds=[group],
        IpAddresses=[{"SubnetId": s} for s in subnets],
    )["ResolverEndpoint"]["Id"]
    rule = {
        "RuleType": "FORWARD",
        "DomainName": "corp.example",
        "ResolverEndpointId": endpoint,
        "TargetIps": [{"Ip": "10.5.1.53", "Port": 53}],
    }
    try:
        with pytest.raises(resolver.exceptions.ClientError, match="ResourceUnavailableException"):
            resolver.create_resolver_rule(CreatorRequestId=f"early-{clock.t}", **rule)
        clock.t += pace.SECONDS["resolver_endpoint"]
        made = resolver.create_resolver_rule(CreatorRequestId=f"late-{clock.t}", **rule)["ResolverRule"]["Id"]
        resolver.delete_resolver_rule(ResolverRuleId=made)
    finally:
        resolver.delete_resolver_endpoint(ResolverEndpointId=endpoint)
