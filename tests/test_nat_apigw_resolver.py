"""NAT gateways and Elastic IPs, API Gateway REST APIs and VPC links, Route 53 Resolver
endpoints and rules, against moto with the sandbox's behaviour: each kind ensured twice
(changed, then unchanged) and deleted twice; alb-fargate-sg and closed-vpc-apigw up, up
again, status and teardown in AWS's order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from graphlib import TopologicalSorter
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import changed_steps, write_variant
from vpcctl import deploy, graph
from vpcctl.cli import cli
from vpcctl.engine import CREATED, UPDATED
from vpcctl.resources import handler, handlers, kit

ALB = "alb-fargate-sg"
CLOSED = "closed-vpc-apigw"
NEW_KINDS = ("elastic_ip", "nat_gateway", "vpc_link", "rest_api", "resolver_endpoint", "resolver_rule")
_names = itertools.count(1)


def new_name() -> str:
    return f"n{next(_names)}"


@pytest.fixture
def fresh(up_scenario):
    def up(path: str = CLOSED, deployment: str | None = None, **options: Any):
        return up_scenario(path, deployment, **options)

    return up


# ------------------------------------------------------------ whole scenarios


@pytest.mark.parametrize("name", [ALB, CLOSED])
def test_up_twice_status_and_teardown_leave_nothing(fresh, make_ctx, name: str) -> None:
    deployment = new_name()
    loaded, _, first = fresh(name, deployment)
    assert not first.failed, {s: r.detail for s, r in first.failed.items()}
    assert {r.status for r in first.results.values()} == {CREATED}
    # The tag index holds each of these kinds the scenario made, and no other: they are read only then.
    made = {r.kind for r in loaded.resources.values()} & set(NEW_KINDS)
    assert set(kit.present(make_ctx(None, deployment=deployment), {k: handler(k) for k in NEW_KINDS})) == made

    _, _, second = fresh(name, deployment)
    assert changed_steps(second) == {}
    creates = {op: n for op, n in second.calls.items() if ":Create" in op or ":Allocate" in op or ":Put" in op}
    assert creates == {}

    rows = deploy.status(make_ctx(loaded, deployment=deployment, delete_timeout=30), loaded)
    assert len(rows) == len(loaded.resources)
    assert all(r.state != "absent" and not r.note for r in rows), rows

    gone = deploy.teardown(make_ctx(loaded, deployment=deployment, delete_timeout=30))
    assert not gone.failed, {s: r.detail for s, r in gone.failed.items()}
    assert gone.leftovers == []
    assert deploy.status(make_ctx(None, deployment=deployment), None) == []


def test_closed_vpc_outputs_name_the_api_and_the_resolver(fresh, make_ctx) -> None:
    deployment = new_name()
    loaded, ctx, _ = fresh(CLOSED, deployment)
    out = deploy.outputs(make_ctx(loaded, deployment=deployment, delete_timeout=30), loaded)
    api_id = ctx.id_of("api")
    assert out["api_url"] == f"https://{api_id}.execute-api.ap-northeast-1.amazonaws.com/prod/"
    assert out["curl"] == f"curl -s {out['api_url']}"
    ips = (out["resolver_ips"] or "").split()
    assert len(ips) == 2 and ips[0].startswith("10.1.1.") and ips[1].startswith("10.1.2.")

    apigw = ctx.client("apigateway")
    api = apigw.get_rest_api(restApiId=api_id)
    endpoint = ctx.id_of("execute-api")
    assert api["endpointConfiguration"] == {"types": ["PRIVATE"], "vpcEndpointIds": [endpoint]}
    statement = json.loads(api["policy"].replace('\\"', '"'))["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceVpce": endpoint}}
    root = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"][0]
    integration = root["resourceMethods"]["GET"]["methodIntegration"]
    assert integration["type"] == "HTTP_PROXY" and integration["connectionType"] == "VPC_LINK"
    assert integration["connectionId"] == ctx.id_of("vpc-link")
    assert integration["uri"] == f"http://{ctx.attr('nlb', 'dns_name')}/"

    resolver = ctx.client("route53resolver")
    rule = resolver.get_resolver_rule(ResolverRuleId=ctx.id_of("api-forwarding"))["ResolverRule"]
    assert rule["DomainName"].rstrip(".") == f"{api_id}.execute-api.ap-northeast-1.amazonaws.com"
    assert sorted(t["Ip"] for t in rule["TargetIps"]) == sorted(ips)
    associations = resolver.list_resolver_rule_associations()["ResolverRuleAssociations"]
    assert [a["VPCId"] for a in associations if a["ResolverRuleId"] == rule["Id"]] == [ctx.id_of("peer")]

    zone = ctx.id_of("api-zone")
    records = ctx.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    alias = next(r for r in records if r["Type"] == "A")
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == ctx.attr("execute-api", "dns_name")
    deploy.teardown(make_ctx(loaded, deployment=deployment, delete_timeout=30))


# ---------------------------------------------------------- every new kind

# (scenario, text to change, new text, the step that must report it, part of its detail)
CHANGES = [
    (
        CLOSED,
        '"aws:SourceVpce": "${execute-api.id}"}',
        '"aws:SourceVpce": ["${execute-api.id}"]}',
        "api",
        "policy",
    ),
    (CLOSED, "    stage: ${params.stage}\n", "    stage: v2\n", "api", "stage v2: (none) → vpcctl "),
    (
        CLOSED,
        '      - {method: GET, path: /, uri: "http://${nlb.dns_name}/", vpc_link: vpc-link, integration: HTTP_PROXY}\n',
        '      - {method: GET, path: /, uri: "http://${nlb.dns_name}/", vpc_link: vpc-link, integration: HTTP_PROXY}\n'
        '      - {method: GET, path: /items/all, uri: "http://${nlb.dns_name}/items", vpc_link: vpc-link}\n',
        "api",
        "+route GET /items/all",
    ),
    (
        CLOSED,
        '    target_ips: ["${resolver-inbound.ips}"]\n',
        '    target_ips: ["10.1.1.53"]\n',
        "api-forwarding",
        "→ [10.1.1.53]",
    ),
    (CLOSED, "    vpcs: [peer]\n", "    vpcs: []\n", "api-forwarding", "-vpc"),
]


@pytest.mark.parametrize(("name", "old", "new", "step", "detail"), CHANGES, ids=[f"{c[3]}-{c[4]}" for c in CHANGES])
def test_a_change_is_converged_once(fresh, make_ctx, tmp_path, name, old, new, step, detail) -> None:
    deployment = new_name()
    loaded, _, _ = fresh(name, deployment)
    try:
        variant = write_variant(tmp_path, old, new, name=name)
        _, _, changed = fresh(str(variant), deployment)
        assert changed.results[step].status == UPDATED, changed.results[step]
        assert detail in changed.results[step].detail
        _, _, again = fresh(str(variant), deployment)
        assert changed_steps(again) == {}, changed_steps(again)
    finally:  # AWS (and moto) allow only a few Resolver endpoints per region
        deploy.teardown(make_ctx(loaded, deployment=deployment, delete_timeout=30))


def test_an_immutable_change_fails_its_step(fresh, tmp_path) -> None:
    deployment = new_name()
    fresh(ALB, deployment)
    variant = write_variant(tmp_path, "    subnet: public-1a\n", "    subnet: public-1c\n", name=ALB)
    _, _, report = fresh(str(variant), deployment)
    assert report.results["nat"].status == "failed"
    assert "subnet is" in report.results["nat"].detail


@pytest.mark.parametrize("name", [ALB, CLOSED])
def test_every_new_kind_is_deleted_then_already_absent(fresh, make_ctx, name: str) -> None:
    deployment = new_name()
    loaded, _, _ = fresh(name, deployment)
    ctx = make_ctx(loaded, deployment=deployment, delete_timeout=30)
    found = deploy.discover(ctx, list(handlers()))
    used = {r.kind for r in loaded.resources.values()}
    for kind in TopologicalSorter(graph.teardown_order()).static_order():
        for item in found[kind].values():
            assert handler(kind).delete(ctx, item) is True, item
            assert handler(kind).delete(ctx, item) is False, item
        if kind in used and kind in NEW_KINDS:
            assert found[kind], kind
    assert deploy.sweep(make_ctx(loaded, deployment=deployment, delete_timeout=30)) == []


# ------------------------------------------------- AWS's deletion refusals


def test_aws_refuses_deleting_what_is_in_use(fresh, make_ctx) -> None:
    """The sandbox enforces the order teardown follows: NAT before its EIP, link before its NLB."""
    import botocore.exceptions

    deployment = new_name()
    loaded, ctx, _ = fresh(ALB, deployment)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ctx.client("ec2").release_address(AllocationId=ctx.id_of("nat-eip"))
    assert refused.value.response["Error"]["Code"] == "InvalidIPAddress.InUse"
    deploy.teardown(make_ctx(loaded, deployment=deployment, delete_timeout=30))

    deployment = new_name()
    loaded, ctx, _ = fresh(CLOSED, deployment)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        ctx.client("elbv2").delete_load_balancer(LoadBalancerArn=ctx.attr("nlb", "arn"))
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
    deploy.teardown(make_ctx(loaded, deployment=deployment, delete_timeout=30))


# ------------------------------------------------------- through the CLI


def run_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--sandbox", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("name", [CLOSED, ALB])
def test_cli_up_up_status_output_teardown_in_the_sandbox(sandbox_home: str, name: str) -> None:
    deployment = f"sbx-{name[:6]}"
    first = run_json("up", name, "--name", deployment)
    assert first["summary"]["created"] == len(first["steps"])
    second = run_json("up", name, "--name", deployment)
    assert second["summary"]["unchanged"] == len(second["steps"])
    rows = run_json("status", name, "--name", deployment)["resources"]
    assert rows and all(r["state"] != "absent" for r in rows)
    states = {r["logical_id"]: r["state"] for r in rows}
    if name == CLOSED:
        assert states["vpc-link"] == "AVAILABLE"
        assert states["resolver-inbound"] == "inbound OPERATIONAL"
        url = CliRunner().invoke(cli, ["--sandbox", "output", name, "api_url", "--name", deployment])
        assert url.exit_code == 0 and url.output.strip().startswith("https://")
    else:
        assert states["nat"] == "available"
    gone = run_json("teardown", name, "--name", deployment, "--yes")
    assert gone["left"] == []


# ------------------------------------------------------- sandbox readiness


@pytest.fixture
def slow_world(moto_module) -> Iterator[list[float]]:
    """The sandbox at AWS's own pace, on a clock the test moves."""
    from vpcctl.sandbox.behaviour import WORLD

    now = [0.0]
    saved = (WORLD.time_scale, WORLD.clock)
    WORLD.time_scale, WORLD.clock = 1.0, lambda: now[0]
    try:
        yield now
    finally:
        WORLD.time_scale, WORLD.clock = saved


def test_nat_vpc_link_and_resolver_endpoint_take_aws_time(slow_world, make_ctx) -> None:
    ctx = make_ctx()
    ec2, apigw, resolver = ctx.client("ec2"), ctx.client("apigateway"), ctx.client("route53resolver")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"ap-northeast-1{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ac")
    ]
    group = ec2.create_security_group(GroupName="dns", Description="dns", VpcId=vpc)["GroupId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
    nlb = ctx.client("elbv2").create_load_balancer(Name="n", Subnets=subnets, Type="network", Scheme="internal")
    endpoint = resolver.create_resolver_endpoint(
        CreatorRequestId="r",
        SecurityGroupIds=[group],
        Direction="INBOUND",
        IpAddresses=[{"SubnetId": s} for s in subnets],
    )["ResolverEndpoint"]["Id"]

    def states() -> tuple[str, str]:
        return (
            ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"],
            resolver.get_resolver_endpoint(ResolverEndpointId=endpoint)["ResolverEndpoint"]["Status"],
        )

    assert states() == ("pending", "CREATING")
    slow_world[0] = 95.0
    assert states() == ("pending", "OPERATIONAL")
    slow_world[0] = 105.0
    assert states() == ("available", "OPERATIONAL")
    # A VPC link is made on an active NLB (on one still provisioning it fails: test_sandbox_strict).
    slow_world[0] = 150.0
    link = apigw.create_vpc_link(name="l", targetArns=[nlb["LoadBalancers"][0]["LoadBalancerArn"]])["id"]
    slow_world[0] = 325.0
    assert apigw.get_vpc_link(vpcLinkId=link)["status"] == "PENDING"
    slow_world[0] = 335.0
    assert apigw.get_vpc_link(vpcLinkId=link)["status"] == "AVAILABLE"
    apigw.delete_vpc_link(vpcLinkId=link)
    resolver.delete_resolver_endpoint(ResolverEndpointId=endpoint)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    ec2.release_address(AllocationId=eip)


def test_a_failed_vpc_link_ends_the_wait_with_its_reason(moto_module, make_ctx) -> None:
    from moto.apigateway.models import apigateway_backends

    from vpcctl import model
    from vpcctl.errors import NotReady
    from vpcctl.resources.base import Found

    ctx = make_ctx()
    link = ctx.client("apigateway").create_vpc_link(name="broken", targetArns=["arn:aws:elasticloadbalancing:x"])
    backend = apigateway_backends["123456789012"]["ap-northeast-1"]
    backend.vpc_links[link["id"]].status = "FAILED"
    resource = model.Resource("vpc-link", model.VpcLink(load_balancer="nlb"))
    with pytest.raises(NotReady, match="FAILED"):
        handler("vpc_link").wait_ready(ctx, resource, Found("vpc_link", "vpc-link", link["id"], "PENDING"))
