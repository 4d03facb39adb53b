"""Steps start as soon as what they need is known: a kind's steps once that kind is read,
not once every kind is read; the slow deletions first; every guarantee of the reads kept."""

from __future__ import annotations

from typing import Any

from vpcctl import deploy, scenario


def recorded(ctx: Any) -> list[str]:
    """The operations the context sends, in order."""
    sent: list[str] = []
    ctx.aws.session.events.register("before-call", lambda model, **_: sent.append(model.name))
    return sent


def test_up_and_teardown_start_on_the_long_path_before_every_kind_is_read(moto_module: None, make_ctx: Any) -> None:
    loaded = scenario.load("fargate-privatelink")
    ctx = make_ctx(loaded, deployment="early", wait=False)
    sent = recorded(ctx)
    report = deploy.up(loaded, ctx, parallelism=1)
    assert not report.failed and report.unmanaged == []
    # The VPC (on the load balancer's path) is made before the log groups (off it) are read.
    assert sent.index("CreateVpc") < sent.index("DescribeLogGroups")

    ctx = make_ctx(None, deployment="early")
    sent = recorded(ctx)
    gone = deploy.teardown(ctx, parallelism=1)
    assert not gone.failed and gone.leftovers == []
    assert {r.status for r in gone.results.values()} == {"deleted"}
    assert set(gone.results) == set(loaded.resources)
    # The load balancer (its interfaces hold the subnets longest) goes before the log groups are read.
    assert sent.index("DeleteLoadBalancer") < sent.index("DescribeLogGroups")
    # The sweep reads each kind again once its deletes are done: the VPCs after the last one.
    assert sent.count("DescribeVpcs") == 2 and sent.index("DeleteVpc") < len(sent) - sent[::-1].index("DescribeVpcs")
