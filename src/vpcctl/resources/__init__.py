"""Resource kinds, one module per AWS family; each kind has one handler."""

from __future__ import annotations

from functools import cache

from vpcctl.resources.base import Handler


@cache
def handlers() -> dict[str, Handler]:
    from vpcctl.resources import (
        apigateway,
        compute,
        dns,
        ecr,
        ecs,
        endpoints,
        iam,
        loadbalancing,
        logs,
        nat,
        network,
        resolver,
    )

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
        ecr.EcrPullThroughCacheHandler,
        ecs.EcsClusterHandler,
        ecs.TaskDefinitionHandler,
        ecs.EcsServiceHandler,
        loadbalancing.LoadBalancerHandler,
        loadbalancing.TargetGroupHandler,
        loadbalancing.ListenerHandler,
        dns.HostedZoneHandler,
        dns.DnsRecordHandler,
        nat.ElasticIpHandler,
        nat.NatGatewayHandler,
        apigateway.VpcLinkHandler,
        apigateway.RestApiHandler,
        resolver.ResolverEndpointHandler,
        resolver.ResolverRuleHandler,
    ]
    return {cls.kind: cls() for cls in classes}


def handler(kind: str) -> Handler:
    return handlers()[kind]
