"""Corrections to moto where it answers differently from AWS in ways vpcctl relies on.

Applied inside the sandbox server and by the tests that run moto in-process.
Each one is listed in docs/moto-gaps.md.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    _ecs_create_service_keeps_deployment_configuration()
    _ec2_modify_vpc_endpoint_sets_private_dns()
    _ecs_inactive_services_refuse_changes()
    _ecs_list_tasks_filters_by_service()
    _ecs_list_task_definition_families_by_status()
    _ec2_revoke_ignores_rule_descriptions()
    _ec2_group_rules_change_one_request_at_a_time()
    _apigateway_integrations_keep_connection_id()
    _route53resolver_update_resolver_rule()
    _ssm_put_parameter_is_atomic()
    _ec2_interfaces_always_have_a_private_dns_name()
    _ec2_client_token_is_idempotent()
    _apigateway_delete_unknown_api_is_not_found()


def _ecs_create_service_keeps_deployment_configuration() -> None:
    """moto drops CreateService's deploymentConfiguration (AWS stores it; default 100/200)."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    @functools.wraps(original)
    def create_service(self: Any) -> Any:
        result = original(self)
        service = result.result["service"]
        service.deployment_configuration = self._get_param("deploymentConfiguration") or {
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
        return result

    EC2ContainerServiceResponse.create_service = create_service  # type: ignore[method-assign]


def _ec2_modify_vpc_endpoint_sets_private_dns() -> None:
    """moto's ModifyVpcEndpoint ignores PrivateDnsEnabled (AWS applies it)."""
    from moto.ec2.responses.vpcs import VPCs

    original = VPCs.modify_vpc_endpoint

    @functools.wraps(original)
    def modify_vpc_endpoint(self: Any) -> Any:
        result = original(self)
        private_dns = self._get_param("PrivateDnsEnabled")
        if private_dns is not None:
            endpoint = self.ec2_backend.describe_vpc_endpoints(vpc_end_point_ids=[self._get_param("VpcEndpointId")])[0]
            endpoint.private_dns_enabled = str(private_dns).lower() == "true"
        return result

    VPCs.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]


def _ecs_inactive_services_refuse_changes() -> None:
    """AWS answers ServiceNotActiveException to UpdateService/DeleteService on a deleted
    (INACTIVE) service; moto changes it anyway."""
    from moto.ecs.exceptions import ECSException
    from moto.ecs.models import EC2ContainerServiceBackend

    class ServiceNotActiveException(ECSException):
        def __init__(self) -> None:
            super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")

    for name in ("update_service", "delete_service"):
        original = getattr(EC2ContainerServiceBackend, name)

        def guarded(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            if _name == "update_service":
                props = args[0]
                cluster, service = props.get("cluster", "default"), props["service"].split("/")[-1]
            else:
                cluster = kwargs.get("cluster_name", args[0] if args else "default")
                service = kwargs.get("service_name", args[1] if len(args) > 1 else "").split("/")[-1]
            if self._get_service(cluster, service).status == "INACTIVE":
                raise ServiceNotActiveException()
            return _original(self, *args, **kwargs)

        setattr(EC2ContainerServiceBackend, name, functools.wraps(original)(guarded))


def _ecs_list_tasks_filters_by_service() -> None:
    """moto's ListTasks ignores serviceName; AWS returns only that service's tasks."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.list_tasks

    @functools.wraps(original)
    def list_tasks(
        self: Any,
        cluster_str: str | None = None,
        container_instance: str | None = None,
        family: str | None = None,
        started_by: str | None = None,
        service_name: str | None = None,
        desiredStatus: str | None = None,
    ) -> Any:
        tasks = original(self, cluster_str, container_instance, family, started_by, service_name, desiredStatus)
        if service_name:
            group = f"service:{service_name.split('/')[-1]}"
            tasks = [t for t in tasks if t.group == group]
        return tasks

    EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]


def _ecs_list_task_definition_families_by_status() -> None:
    """moto's ListTaskDefinitionFamilies ignores status; AWS returns, for ACTIVE, only the
    families with an ACTIVE revision and, for INACTIVE, only those without one."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.list_task_definition_families

    @functools.wraps(original)
    def list_task_definition_families(self: Any) -> Any:
        result = original(self)
        status = self._get_param("status")
        if status in ("ACTIVE", "INACTIVE"):
            revisions = self.ecs_backend.task_definitions
            active = {f for f in result.result["families"] if any(d.status == "ACTIVE" for d in revisions[f].values())}
            keep = active if status == "ACTIVE" else set(result.result["families"]) - active
            result.result["families"] = [f for f in result.result["families"] if f in keep]
        return result

    EC2ContainerServiceResponse.list_task_definition_families = list_task_definition_families  # type: ignore[method-assign]


def _ec2_revoke_ignores_rule_descriptions() -> None:
    """AWS matches a revoked group-to-group rule without its description; moto requires it."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    original = SecurityGroupRule.__eq__

    def without_description(rule: Any) -> Any:
        # A copy: the rules themselves are shared by every request thread.
        bare = copy.copy(rule)
        bare.source_group = {k: v for k, v in rule.source_group.items() if k != "Description"}
        return bare

    def same_rule(self: Any, other: Any) -> bool:
        if not isinstance(other, SecurityGroupRule):
            return NotImplemented
        return bool(original(without_description(self), without_description(other)))

    SecurityGroupRule.__eq__ = same_rule  # type: ignore[method-assign,assignment]


def _ec2_group_rules_change_one_request_at_a_time() -> None:
    """moto's revoke finds a rule's index in a group's rule list and then reads the list
    again, while another request may have replaced the list: two revokes on one group at
    once can fail with IndexError (an internal error). AWS answers each revoke on its own:
    the rule is removed, or `InvalidPermission.NotFound`."""
    import threading

    from moto.ec2.models.security_groups import SecurityGroupBackend

    guard = threading.RLock()
    for name in (
        "authorize_security_group_ingress",
        "authorize_security_group_egress",
        "revoke_security_group_ingress",
        "revoke_security_group_egress",
    ):
        original = getattr(SecurityGroupBackend, name)

        def one_at_a_time(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with guard:
                return _original(self, *args, **kwargs)

        setattr(SecurityGroupBackend, name, functools.wraps(original)(one_at_a_time))


def _apigateway_integrations_keep_connection_id() -> None:
    """moto's PutIntegration drops connectionId (the VPC link); AWS stores and returns it."""
    from moto.apigateway.models import Integration
    from moto.apigateway.responses import APIGatewayResponse

    original = APIGatewayResponse.put_integration

    @functools.wraps(original)
    def put_integration(self: Any) -> Any:
        result = original(self)
        parts = self.path.split("/")
        method = self.backend.get_method(parts[2], parts[4], parts[6])
        if method.method_integration is not None:
            method.method_integration.connection_id = self._get_param("connectionId")
        return result

    original_json = Integration.to_json

    def to_json(self: Any) -> dict[str, Any]:
        out = original_json(self)
        if getattr(self, "connection_id", None):
            out["connectionId"] = self.connection_id
        return out

    APIGatewayResponse.put_integration = put_integration  # type: ignore[method-assign]
    Integration.to_json = to_json  # type: ignore[method-assign]


def _route53resolver_update_resolver_rule() -> None:
    """moto lacks UpdateResolverRule (new target IPs, endpoint or name for a rule)."""
    import json

    from moto.route53resolver.responses import Route53ResolverResponse

    def update_resolver_rule(self: Any) -> str:
        rule = self.route53resolver_backend.get_resolver_rule(self._get_param("ResolverRuleId"))
        config = self._get_param("Config") or {}
        if "TargetIps" in config:
            rule.target_ips = config["TargetIps"]
        if "ResolverEndpointId" in config:
            rule.resolver_endpoint_id = config["ResolverEndpointId"]
        if "Name" in config:
            rule.name = config["Name"]
        return json.dumps({"ResolverRule": rule.description()})

    Route53ResolverResponse.update_resolver_rule = update_resolver_rule  # type: ignore[attr-defined]


def _ssm_put_parameter_is_atomic() -> None:
    """moto checks whether a parameter exists and then stores it, with nothing between
    two requests: two concurrent PutParameter(Overwrite=False) calls can both succeed.
    On AWS one creates the parameter and the other gets ParameterAlreadyExists ("You
    can't create duplicate parameters"), which vpcctl's deployment lock relies on."""
    import threading

    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.put_parameter
    guard = threading.Lock()

    @functools.wraps(original)
    def put_parameter(self: Any, *args: Any, **kwargs: Any) -> Any:
        with guard:
            return original(self, *args, **kwargs)

    SimpleSystemManagerBackend.put_parameter = put_parameter  # type: ignore[method-assign]


def _ec2_interfaces_always_have_a_private_dns_name() -> None:
    """AWS gives every network interface a private DNS name; moto only in VPCs with DNS
    hostnames on, and its ECS tasks then fail on the missing attribute."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.utils import generate_dns_from_ip

    original = NetworkInterface.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if not getattr(self, "private_dns_name", None):
            self.private_dns_name = generate_dns_from_ip(self.private_ip_address)

    NetworkInterface.__init__ = init  # type: ignore[method-assign]


# EC2 creates whose ClientToken moto ignores; AWS answers a repeat with the first result.
EC2_TOKEN_OPERATIONS = (
    ("moto.ec2.responses.vpcs", "VPCs", "create_vpc_endpoint"),
    ("moto.ec2.responses.route_tables", "RouteTables", "create_route_table"),
    ("moto.ec2.responses.nat_gateways", "NatGateways", "create_nat_gateway"),
)


def _ec2_client_token_is_idempotent() -> None:
    """A create repeated with the same ClientToken and parameters makes nothing new and answers
    with the same resource; with other parameters it is refused (IdempotentParameterMismatch)."""
    import importlib

    from moto.ec2.exceptions import EC2ClientError

    made: dict[tuple[str, str, str, str], tuple[str, Any]] = {}

    for module_name, class_name, method in EC2_TOKEN_OPERATIONS:
        cls = getattr(importlib.import_module(module_name), class_name)
        original = getattr(cls, method)

        def create(self: Any, _original: Any = original, _method: str = method) -> Any:
            token = self._get_param("ClientToken")
            if not token:
                return _original(self)
            key = (self.current_account, self.region, _method, token)
            asked = repr(sorted((k, v) for k, v in self.querystring.items() if k != "ClientToken"))
            if key in made:
                first, answer = made[key]
                if first != asked:
                    raise EC2ClientError(
                        "IdempotentParameterMismatch",
                        "The client token you have provided is associated with a resource that has "
                        "different parameters.",
                    )
                return answer
            answer = _original(self)
            made[key] = (asked, answer)
            return answer

        setattr(cls, method, functools.wraps(original)(create))


def _apigateway_delete_unknown_api_is_not_found() -> None:
    """moto's DeleteRestApi of an unknown id fails with a KeyError (AWS: NotFoundException)."""
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.delete_rest_api

    @functools.wraps(original)
    def delete_rest_api(self: Any, function_id: str) -> Any:
        self.get_rest_api(function_id)  # raises AWS's NotFoundException
        return original(self, function_id)

    APIGatewayBackend.delete_rest_api = delete_rest_api  # type: ignore[method-assign]
