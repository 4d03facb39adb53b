"""One model of the network: a neutral snapshot (`snapshot`), the flows evaluated hop by hop
over it (`evaluate`), and the adapters that fill it from the scenario's specs, from AWS
describe results and from the emulator's backends. Ground layer: imports only `model` (and
`from_aws` the AWS layer's listing helper)."""

from vpcctl.network.evaluate import (
    DNS,
    HTTPS,
    NO_LISTENER,
    NO_ROUTE,
    NOT_RESOLVED,
    REGISTRY,
    SG_MISMATCH,
    Hop,
    Party,
    Result,
    admits,
    all_target_results,
    connect,
    flow,
    registry_results,
    resolver_results,
)
from vpcctl.network.snapshot import ANYWHERE, DEFAULT_GROUP, Network, Permission, flatten

__all__ = [
    "ANYWHERE",
    "DEFAULT_GROUP",
    "DNS",
    "HTTPS",
    "NOT_RESOLVED",
    "NO_LISTENER",
    "NO_ROUTE",
    "REGISTRY",
    "SG_MISMATCH",
    "Hop",
    "Network",
    "Party",
    "Permission",
    "Result",
    "admits",
    "all_target_results",
    "connect",
    "flatten",
    "flow",
    "registry_results",
    "resolver_results",
]
