"""`plan` on an empty account: every resource a create, and nothing but reads sent."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conftest import REGION
from vpcctl import deploy, scenario
from vpcctl.aws import Aws

READS = ("Describe", "List", "Get")


def test_plan_on_an_empty_account_creates_everything_and_only_reads(mocked: None) -> None:
    loaded = scenario.load("fargate-privatelink")
    aws = Aws(REGION)
    sent: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:  # every request, by operation, as botocore sends it
        sent[model.name] += 1

    aws.session.events.register("before-call", count)
    planned = deploy.plan(loaded, deploy.context(aws, loaded.name, loaded, lambda e: None))

    assert {r.logical_id: r.action for r in planned.resources} == {lid: "create" for lid in loaded.resources}
    assert sent and all(op.startswith(READS) for op in sent), sent
    assert planned.has_changes
