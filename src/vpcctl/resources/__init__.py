"""Resource kinds, one module per AWS family; each kind has one handler."""

from __future__ import annotations

from functools import cache

from vpcctl.resources.base import Handler


@cache
def handlers() -> dict[str, Handler]:
    from vpcctl.resources import compute, dns, ecs, endpoints, iam, loadbalancing, logs, network

    classes: list[type[Handler]] = [
        network.VpcHandler,
        network.SubnetHandler,
        network.InternetGatewayHandler,
        network.RouteTableHandler,
        network.SecurityGroupHandler,
        network.VpcPeeringHandler,
        endpoints.VpcEndpointHandler,
        compute.InstanceHandler,
        iam.IamRoleHandler,
        logs.LogGroupHandler,
        ecs.EcsClusterHandler,
        ecs.TaskDefinitionHandler,
        ecs.EcsServiceHandler,
        loadbalancing.LoadBalancerHandler,
        loadbalancing.TargetGroupHandler,
        loadbalancing.ListenerHandler,
        dns.HostedZoneHandler,
        dns.DnsRecordHandler,
    ]
    return {cls.kind: cls() for cls in classes}


def handler(kind: str) -> Handler:
    return handlers()[kind]
