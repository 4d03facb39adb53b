"""Fixed costs, as request counts (never times): what a command reads does not grow with the
deployment, teardown with nothing deployed reads only the kinds that can exist, and the
commands that need no AWS load no AWS SDK."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vpcctl import deploy, scenario
from vpcctl.resources import handlers

ROOT = Path(__file__).resolve().parents[1]


def synthetic() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic", ROOT / "benchmarks" / "synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_commands_without_aws_load_no_sdk() -> None:
    probe = (
        "import sys\n"
        "from vpcctl import cli\n"
        "for args in (['--help'], ['check', 'fargate-privatelink'], ['list']):\n"
        "    try:\n"
        "        cli.cli(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (args, exc.code)\n"
        "    loaded = sorted(m for m in sys.modules if m == 'boto3' or m.startswith(('boto3.', 'botocore.')))\n"
        "    assert not loaded, (args, loaded)\n"
    )
    run_probe(probe)


def run_probe(code: str) -> None:
    """Run code in a fresh interpreter (nothing imported yet): its asserts must hold."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr


def test_the_engine_loads_no_failure_explanation_and_no_registry_client() -> None:
    """`check`'s rules load for a failure to explain (or `up`'s preflight), the registry's
    HTTP client for a first pull: neither with the engine and its resource kinds."""
    probe = (
        "import sys\n"
        "from vpcctl import cli, deploy\n"
        "deploy.handlers()\n"
        "loaded = [m for m in ('requests', 'vpcctl.netcheck') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    run_probe(probe)


def test_teardown_with_nothing_deployed_reads_each_possible_kind_once(moto_module: None, make_ctx: Any) -> None:
    ctx = make_ctx(deployment="nothing-here")
    report = deploy.teardown(ctx)
    assert report.results == {} and report.leftovers == []
    calls = Counter(report.calls)
    assert calls["resourcegroupstaggingapi:GetResources"] == 1
    # Only the kinds the tag index cannot see are read; none is read twice (no sweep of nothing).
    assert max(calls.values()) == 1
    assert calls["ssm:GetParameter"] == 1  # no record that a run was about to create (aws/marker.py)
    assert sum(calls.values()) <= 5, calls
    indexed = {k for k, h in handlers().items() if h.tagged_as}
    assert {"vpc_endpoint", "elastic_ip", "rest_api", "vpc_link", "resolver_endpoint", "resolver_rule"} <= indexed
    listings = ("DescribeVpcEndpoints", "DescribeAddresses", "GetRestApis", "GetVpcLinks", "ListResolver")
    assert not [op for op in calls if op.split(":")[1].startswith(listings)], calls


@pytest.fixture(scope="module")
def two_sizes(moto_module: None, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Any]:
    """The synthetic scenario at two sizes, each made once (no waits: only requests count)."""
    from conftest import REGION, no_sleep
    from vpcctl.aws import Aws

    made = {}
    for size in (1, 3):
        path = tmp_path_factory.mktemp("synthetic") / f"size{size}.yaml"
        path.write_text(synthetic().scenario_text(subnets=4 * size, services=2 * size, name=f"syn{size}"))
        loaded = scenario.load(str(path))

        def context(loaded: Any = loaded, **options: Any) -> Any:
            options = {"poll_interval": 0, "sleep": no_sleep, "pace": 0, "wait": False, **options}
            return deploy.context(Aws(REGION), loaded.name, loaded, lambda e: None, **options)

        cold = deploy.up(loaded, context())
        assert not cold.failed, cold.failed
        made[size] = (loaded, context, cold)
    return made


def test_no_op_reads_do_not_grow_with_subnets_and_services(two_sizes: dict[int, Any]) -> None:
    small, large = (two_sizes[size] for size in (1, 3))
    assert len(large[0].resources) > len(small[0].resources) + 20
    plans = {size: deploy.plan(loaded, context()) for size, (loaded, context, _) in two_sizes.items()}
    assert not any(p.has_changes for p in plans.values())
    # The same reads, kind by kind; only the tag index pages (moto: about 24 resources a page).
    index = "resourcegroupstaggingapi:GetResources"
    reads = {size: {op: n for op, n in p.calls.items() if op != index} for size, p in plans.items()}
    assert reads[3] == reads[1]
    assert plans[3].calls[index] < len(large[0].resources) / 10


def test_a_plan_asks_the_tag_index_only_for_what_its_reads_by_name_cannot_tell(two_sizes: dict[int, Any]) -> None:
    """The scenario's EC2 items are read by their own tag filters, so their pages are not asked
    for; the index holds the kinds whose reads take from it (ECS, ELB, log groups)."""
    from vpcctl.aws import tags as tagging

    loaded, context, _ = two_sizes[3]
    ctx = context()
    assert not deploy.plan(loaded, ctx).has_changes
    held = {tagging.arn_type(arn) for arn in ctx.tag_index}
    assert {"ecs:service", "ecs:task-definition", "elasticloadbalancing:targetgroup", "logs:log-group"} <= held
    assert not held & {"ec2:vpc", "ec2:subnet", "ec2:route-table", "ec2:security-group", "ec2:vpc-endpoint"}


def test_the_sandbox_filters_the_tag_index_by_the_type_each_arn_embeds(two_sizes: dict[int, Any]) -> None:
    import boto3

    from conftest import REGION
    from vpcctl.aws import tags as tagging

    pages = boto3.client("resourcegroupstaggingapi", region_name=REGION).get_paginator("get_resources")
    deployment = two_sizes[3][0].name

    def arns(*types: str) -> set[str]:
        mine = [{"Key": tagging.DEPLOYMENT, "Values": [deployment]}]
        listed = pages.paginate(TagFilters=mine, ResourceTypeFilters=list(types))
        return {m["ResourceARN"] for page in listed for m in page["ResourceTagMappingList"]}

    groups = arns("logs:log-group")
    assert groups and all(":log-group:" in arn for arn in groups)
    assert arns("logs:loggroup") == set()  # moto's own name for the type is not the ARN's
    assert arns("logs") == groups
    listeners = arns("elasticloadbalancing:listener")  # a type the sandbox adds to moto's index
    assert len(listeners) == 6 and all(":listener/" in arn for arn in listeners)
    assert listeners < arns("elasticloadbalancing")


def test_other_deployments_load_balancers_cost_no_tag_read(two_sizes: dict[int, Any]) -> None:
    """Both sizes share the account: what each plan reads of ELB tags is only its own (from the
    tag index), not the other's load balancers and target groups, whose names it cannot have given."""
    for loaded, context, _ in two_sizes.values():
        assert deploy.plan(loaded, context()).calls.get("elbv2:DescribeTags", 0) == 0


@pytest.mark.parametrize("deployment", ["syn1", "a", "team-payments-staging-eu", "x" * 40, "ends-with-dash-" * 3])
def test_every_name_vpcctl_gives_could_be_its_own(deployment: str) -> None:
    from vpcctl.resources.base import physical_name
    from vpcctl.resources.loadbalancing import NAME_LIMIT

    ctx = deploy.context(None, deployment, None, lambda e: None)  # type: ignore[arg-type]
    for lid in ("alb", "web-tg", "a-very-long-logical-id-of-a-target-group"):
        for limit in (NAME_LIMIT, 64, 255):
            assert ctx.could_be_ours(physical_name(deployment, lid, limit), limit)
    assert not ctx.could_be_ours("other-alb", NAME_LIMIT) or deployment.startswith("other")


def test_a_run_records_its_deployment_once_before_it_creates(two_sizes: dict[int, Any]) -> None:
    for loaded, context, cold in two_sizes.values():
        assert cold.count("created") > 10 and cold.calls["ssm:PutParameter"] == 1
        assert deploy.plan(loaded, context()).calls.get("ssm:PutParameter", 0) == 0


def test_cold_up_associates_route_tables_in_one_read_each(two_sizes: dict[int, Any]) -> None:
    small, large = (two_sizes[size][2] for size in (1, 3))
    # Two route tables at either size: one association read each, whatever their subnets.
    assert small.calls["ec2:DescribeRouteTables"] == large.calls["ec2:DescribeRouteTables"]


def test_a_no_op_up_reads_readiness_as_often_at_either_size(two_sizes: dict[int, Any]) -> None:
    """ECS's steady state vouches for each service: the gate reads services in batches of ten,
    and tasks and targets not at all, however many services there are."""
    readiness = ("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "elbv2:DescribeTargetHealth")
    reads = {}
    for size, (loaded, context, _) in two_sizes.items():
        settled = deploy.up(loaded, context(wait=True))  # until every service serves
        assert not settled.failed, settled.failed
        again = deploy.up(loaded, context(wait=True))
        assert not again.failed and again.count("unchanged") == len(again.results)
        assert "ssm:PutParameter" not in again.calls  # creates nothing, records nothing
        # Nothing changed: the gate takes what discovery read of the services (as many reads as plan's).
        assert again.calls["ecs:DescribeServices"] == deploy.plan(loaded, context()).calls["ecs:DescribeServices"]
        reads[size] = {op: again.calls.get(op, 0) for op in readiness}
    assert reads[3] == reads[1]
    detailed = ("ecs:ListTasks", "ecs:DescribeTasks", "elbv2:DescribeTargetHealth")
    assert not any(reads[1][op] for op in detailed), reads


def test_status_reads_the_deployment_once(two_sizes: dict[int, Any]) -> None:
    """status's verdict takes what its plan read: no kind is discovered twice."""
    loaded, context, _ = two_sizes[3]
    planned = deploy.plan(loaded, context()).calls
    ctx = context()
    rows = deploy.status(ctx, loaded)
    deploy.readiness(ctx, loaded, reread=False)
    looked = ctx.aws.calls
    assert rows and all(looked[op] == n for op, n in planned.items()), (planned, dict(looked))


def test_a_lagging_tag_index_cannot_make_teardown_miss_a_resource(
    two_sizes: dict[int, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vpcctl.aws import marker
    from vpcctl.resources import kit

    loaded, context, _ = two_sizes[1]
    ssm = context().client("ssm")
    # `up` recorded, before its first create, the kinds it would create.
    assert marker.recorded_kinds(ssm, loaded.name) == set(deploy.scenario_kinds(loaded))
    # The index lists nothing yet, during the whole teardown (how soon AWS's does is not documented).
    monkeypatch.setattr(kit, "tag_index", lambda ctx, types=None: {})
    # Without the record (removed by hand), only the kinds read directly are found; the sweep,
    # which reads every kind itself, reports the rest.
    marker.remove(ssm, loaded.name)
    report = deploy.teardown(context())
    assert report.results, "the kinds read directly (the role) were found and deleted"
    left = {f.kind for f in report.leftovers}
    assert {"vpc", "subnet", "ecs_service"} <= left, left
    # With the record, teardown reads the recorded kinds directly: everything goes, and the record with it.
    marker.write(ssm, loaded.name, loaded.name, context().region, deploy.scenario_kinds(loaded))
    again = deploy.teardown(context())
    assert again.leftovers == [] and again.count("deleted") > 0
    assert marker.recorded_kinds(ssm, loaded.name) is None


def test_teardown_given_the_scenario_and_no_record_deletes_everything(two_sizes: dict[int, Any]) -> None:
    """A deployment without a record (made before records, or the record removed by hand):
    teardown given its scenario asks the index for every kind, since it reads none directly."""
    from vpcctl.aws import marker

    loaded, context, _ = two_sizes[3]
    marker.remove(context().client("ssm"), loaded.name)
    report = deploy.teardown(context())
    assert not report.failed and report.leftovers == [] and report.count("deleted") > 0
    after = deploy.plan(loaded, context())
    assert {r.action for r in after.resources} == {"create"}, [r.as_dict() for r in after.resources]


def test_the_deployment_record_adds_kinds_and_reads_a_foreign_value_as_any_kind(
    moto_module: None, make_ctx: Any
) -> None:
    from vpcctl.aws import marker

    ssm = make_ctx(deployment="record-only").client("ssm")
    assert marker.recorded_kinds(ssm, "record-only") is None
    marker.write(ssm, "record-only", "s", "ap-northeast-1", ["vpc", "subnet"])
    marker.write(ssm, "record-only", "s", "ap-northeast-1", ["ecs_service"])
    assert marker.recorded_kinds(ssm, "record-only") == {"vpc", "subnet", "ecs_service"}
    ssm.put_parameter(Name=marker.name("record-only"), Value="not json", Type="String", Overwrite=True)
    assert marker.recorded_kinds(ssm, "record-only") == {"*"}
    marker.remove(ssm, "record-only")
    marker.remove(ssm, "record-only")  # absent is fine
    assert marker.recorded_kinds(ssm, "record-only") is None
