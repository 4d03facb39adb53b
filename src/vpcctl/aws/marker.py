"""A record that a deployment may hold resources, so teardown need not trust the tag index.

How soon the Resource Groups Tagging API lists a resource just made is not documented, so a
teardown moments after a run's first creates could find nothing through it and end with
"nothing left". Before its first create a run writes `/vpcctl/deployments/<deployment>` (an
SSM standard parameter, free) with the kinds it may create, added to those recorded before;
a teardown that finds the record reads those kinds directly, whatever the index says, and
deletes the record once nothing is left. Two requests on a run that creates, one on a
teardown; none on a no-op `up`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from vpcctl.aws import error_code

ROOT = "/vpcctl/deployments"


def name(deployment: str) -> str:
    return f"{ROOT}/{deployment}"


def write(ssm: Any, deployment: str, scenario: str, region: str, kinds: Iterable[str]) -> None:
    """Record that the deployment may hold resources of these kinds (and of those recorded before)."""
    before = recorded_kinds(ssm, deployment) or set()
    value = {"scenario": scenario, "region": region, "since": int(time.time()), "kinds": sorted(before | set(kinds))}
    ssm.put_parameter(Name=name(deployment), Value=json.dumps(value), Type="String", Overwrite=True)


def recorded_kinds(ssm: Any, deployment: str) -> set[str] | None:
    """The kinds a run recorded it may have created (None: no record)."""
    try:
        text = ssm.get_parameter(Name=name(deployment))["Parameter"]["Value"]
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    try:
        kinds = json.loads(text).get("kinds")
    except (ValueError, AttributeError):
        kinds = None
    # A record vpcctl did not write as it does now: any kind may be there.
    return {str(k) for k in kinds} if isinstance(kinds, list) else {"*"}


def remove(ssm: Any, deployment: str) -> None:
    """Nothing of the deployment is left: forget the record (absent is fine)."""
    try:
        ssm.delete_parameter(Name=name(deployment))
    except Exception as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
