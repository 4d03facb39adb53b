"""A record that a deployment may hold resources, so teardown need not trust the tag index.

How soon the Resource Groups Tagging API lists a resource just made is not documented, so a
teardown moments after a run's first creates could find nothing through it and end with
"nothing left". Before its first create a run writes `/vpcctl/deployments/<deployment>` (an
SSM standard parameter, free); a teardown that finds the record reads every kind directly,
and deletes the record once nothing is left. One request on a run that creates, one on a
teardown; none on a no-op `up`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from vpcctl.aws import error_code

ROOT = "/vpcctl/deployments"


def name(deployment: str) -> str:
    return f"{ROOT}/{deployment}"


def write(ssm: Any, deployment: str, scenario: str, region: str) -> None:
    """Record (again) that the deployment may hold resources."""
    value = json.dumps({"scenario": scenario, "region": region, "since": int(time.time())})
    ssm.put_parameter(Name=name(deployment), Value=value, Type="String", Overwrite=True)


def exists(ssm: Any, deployment: str) -> bool:
    try:
        ssm.get_parameter(Name=name(deployment))
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return False
        raise
    return True


def remove(ssm: Any, deployment: str) -> None:
    """Nothing of the deployment is left: forget the record (absent is fine)."""
    try:
        ssm.delete_parameter(Name=name(deployment))
    except Exception as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
