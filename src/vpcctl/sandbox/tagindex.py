"""The Resource Groups Tagging API's GetResources in the sandbox: the types AWS lists and moto
leaves out (VPC endpoints, Elastic IPs, ELB listeners, API Gateway REST APIs and VPC links,
Route 53 Resolver endpoints and rules), with their tags and ARNs as AWS writes them.

GetResources "supports all resource types" (Services that support the Resource Groups Tagging
API); the ARN of each type is the one its service's authorization reference gives. They go
through moto's own filters (TagFilters, ResourceARNList) and pages.

ResourceTypeFilters match the type as the ARN embeds it ("The string for each service name and
resource type is the same as that embedded in a resource's ARN", GetResources), for moto's own
types too: moto calls a log group "logs:loggroup", its ARN says "log-group".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from vpcctl.aws.tags import arn_type


def install() -> None:
    from moto.core.resource_tagging import make_tag_matcher, match_resource_type
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

    original = ResourceGroupsTaggingAPIBackend._get_resources_generator

    def generator(
        self: Any,
        tag_filters: list[dict[str, Any]] | None = None,
        resource_type_filters: list[str] | None = None,
        resource_arn_list: list[str] | None = None,
    ) -> Iterator[Any]:
        matches = make_tag_matcher(tag_filters)
        added = (
            resource
            for resource in missing_from_moto(self.account_id, self.region_name)
            # moto lists only tagged resources of the types it covers; so do these
            if resource.tags and matches(resource.tags) and (not resource_arn_list or resource.arn in resource_arn_list)
        )
        for resource in itertools.chain(original(self, tag_filters, None, resource_arn_list), added):
            if match_resource_type(arn_type(resource.arn, resource.resource_type), resource_type_filters):
                yield resource

    ResourceGroupsTaggingAPIBackend._get_resources_generator = generator


def missing_from_moto(account: str, region: str) -> Iterator[Any]:
    """Every resource of the types moto's index leaves out, as a TaggedResource."""
    yield from _ec2(account, region)
    yield from _elbv2(account, region)
    yield from _apigateway(account, region)
    yield from _route53resolver(account, region)


def _tagged(arn: str, tags: dict[str, str], resource_type: str) -> Any:
    from moto.core.resource_tagging import TaggedResource

    return TaggedResource(arn=arn, tags=dict(tags or {}), resource_type=resource_type)


def _ec2(account: str, region: str) -> Iterator[Any]:
    from moto.ec2.models import ec2_backends

    if account not in ec2_backends or region not in ec2_backends[account]:
        return
    ec2 = ec2_backends[account][region]
    prefix = f"arn:{ec2.partition}:ec2:{region}:{account}"
    for endpoint in list(ec2.vpc_end_points.values()):
        if endpoint.state != "deleted":  # moto keeps deleted endpoints; their tags go with them
            yield _tagged(f"{prefix}:vpc-endpoint/{endpoint.id}", ec2.tags.get(endpoint.id, {}), "ec2:vpc-endpoint")
    for address in list(ec2.addresses):
        if address.allocation_id:  # only VPC addresses have an allocation id, and an ARN by it
            tags = ec2.tags.get(address.allocation_id, {})
            yield _tagged(f"{prefix}:elastic-ip/{address.allocation_id}", tags, "ec2:elastic-ip")


def _elbv2(account: str, region: str) -> Iterator[Any]:
    from moto.elbv2.models import elbv2_backends

    if account not in elbv2_backends or region not in elbv2_backends[account]:
        return
    backend = elbv2_backends[account][region]
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            tags = backend.tagging_service.get_tag_dict_for_resource(listener.arn)
            yield _tagged(listener.arn, tags, "elasticloadbalancing:listener")


def _apigateway(account: str, region: str) -> Iterator[Any]:
    from moto.apigateway.models import apigateway_backends

    if account not in apigateway_backends or region not in apigateway_backends[account]:
        return
    backend = apigateway_backends[account][region]
    prefix = f"arn:{backend.partition}:apigateway:{region}::"  # API Gateway's ARNs name no account
    for api in list(backend.apis.values()):
        yield _tagged(f"{prefix}/restapis/{api.id}", api.tags, "apigateway:restapis")
    for link in list(backend.vpc_links.values()):
        yield _tagged(f"{prefix}/vpclinks/{link.id}", link.tags, "apigateway:vpclinks")


def _route53resolver(account: str, region: str) -> Iterator[Any]:
    from moto.route53resolver.models import route53resolver_backends

    if account not in route53resolver_backends or region not in route53resolver_backends[account]:
        return
    backend = route53resolver_backends[account][region]
    for kind, items in (
        ("resolver-endpoint", backend.resolver_endpoints),
        ("resolver-rule", backend.resolver_rules),
    ):
        for item in list(items.values()):
            tags = backend.tagger.get_tag_dict_for_resource(item.arn)
            yield _tagged(item.arn, tags, f"route53resolver:{kind}")
