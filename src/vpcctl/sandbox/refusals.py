"""Calls AWS refuses and moto accepts: refused here at the call, with AWS's error code and
message, so `up` reports them as the step that failed. Each is listed in docs/sandbox.md.
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Callable
from typing import Any


def install() -> None:
    _ecs_service_container_port()
    _alb_two_zones()
    _peering_overlap_fails()
    _routes_do_not_shadow_local()
    _listener_certificate_issued()
    _endpoint_private_dns_needs_vpc_dns()
    _routes_need_their_target()
    _service_groups_need_a_load_balancer()
    _aliases_need_a_ready_target()
    _resolver_rules_need_an_operational_endpoint()


def _before(cls: Any, name: str, check: Callable[[Any, dict[str, Any]], None]) -> None:
    """Run check(backend, arguments by name) before a moto method; it raises AWS's error."""
    from vpcctl.sandbox.behaviour import _wrap

    signature = inspect.signature(getattr(cls, name))

    def hook(backend: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(backend, *args, **kwargs)
        bound.apply_defaults()
        check(backend, dict(bound.arguments))

    _wrap(cls, name, before=hook)


# ---------------------------------------------------------------------- ecs


def _ecs_service_container_port() -> None:
    """CreateService/UpdateService: a load balancer's container and port must be in the task definition."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    def check(backend: Any, task_definition: str | None, load_balancers: list[dict[str, Any]] | None) -> None:
        if not task_definition or not load_balancers:
            return
        containers = {c["name"]: c for c in backend.describe_task_definition(task_definition).container_definitions}
        for lb in load_balancers:
            name, port = lb.get("containerName"), lb.get("containerPort")
            if name not in containers:
                raise InvalidParameterException(f"The container {name} does not exist in the task definition.")
            ports = {m.get("containerPort") for m in containers[name].get("portMappings") or []}
            if port is not None and int(port) not in {int(p) for p in ports if p is not None}:
                raise InvalidParameterException(f"The container {name} did not have a container port {port} defined.")

    def on_create(backend: Any, args: dict[str, Any]) -> None:
        check(backend, args.get("task_definition_str"), args.get("load_balancers"))

    def on_update(backend: Any, args: dict[str, Any]) -> None:
        props = args.get("service_properties") or {}  # UpdateService's parameters, in snake case
        if not props.get("load_balancers") and not props.get("task_definition"):
            return
        service = backend._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
        check(
            backend,
            props.get("task_definition") or service.task_definition,
            props.get("load_balancers") or service.load_balancers,
        )

    _before(EC2ContainerServiceBackend, "create_service", on_create)
    _before(EC2ContainerServiceBackend, "update_service", on_update)


# ----------------------------------------------------------- load balancing


def _alb_two_zones() -> None:
    """An Application Load Balancer needs subnets in at least two Availability Zones, one per zone."""
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    def check(backend: Any, args: dict[str, Any]) -> None:
        if (args.get("loadbalancer_type") or "application") != "application":
            return
        ids = list(args.get("subnet_ids") or []) + [m["SubnetId"] for m in args.get("subnet_mappings") or []]
        subnets = [backend.ec2_backend.get_subnet(s) for s in ids]
        zones = [s.availability_zone for s in subnets if s is not None]
        if len(zones) != len(set(zones)):
            raise ELBClientError(
                "InvalidConfigurationRequest",
                "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
            )
        if len(set(zones)) < 2:
            raise ELBClientError(
                "ValidationError", "At least two subnets in two different Availability Zones must be specified"
            )

    _before(ELBv2Backend, "create_load_balancer", check)


def _listener_certificate_issued() -> None:
    """HTTPS/TLS listeners take only ACM certificates that are ISSUED (UnsupportedCertificate otherwise)."""
    from moto.acm.models import CertBundle, acm_backends
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    def check_arn(backend: Any, arn: str | None) -> None:
        if not arn or ":acm:" not in arn:
            return
        certificates = acm_backends[backend.account_id][backend.region_name]._certificates
        certificate = certificates.get(arn)
        if certificate is None:
            raise ELBClientError("CertificateNotFound", f"Certificate '{arn}' not found")
        if certificate.status != "ISSUED":
            raise ELBClientError(
                "UnsupportedCertificate",
                f"The certificate '{arn}' must have a fully-qualified domain name, a supported signature, "
                "and a supported key size.",
            )

    def on_create(backend: Any, args: dict[str, Any]) -> None:
        check_arn(backend, args.get("certificate"))

    def on_modify(backend: Any, args: dict[str, Any]) -> None:
        for certificate in args.get("certificates") or []:
            check_arn(backend, certificate.get("CertificateArn"))

    _before(ELBv2Backend, "create_listener", on_create)
    _before(ELBv2Backend, "modify_listener", on_modify)

    # Nobody answers DNS validation in the sandbox: a requested certificate stays
    # PENDING_VALIDATION (moto issues it by itself after a minute). Import one to use HTTPS.
    original_check = CertBundle.check

    def check(self: Any) -> None:
        status = self.status
        original_check(self)
        if status == "PENDING_VALIDATION" and self.status == "ISSUED":
            self.status = "PENDING_VALIDATION"

    CertBundle.check = check  # type: ignore[method-assign]


# -------------------------------------------------------------------- ec2


def _peering_overlap_fails() -> None:
    """A peering request between overlapping VPCs goes to `failed` (and cannot be accepted)."""
    from moto.ec2.models import EC2Backend

    def fail_if_overlapping(backend: Any, pcx: Any, *args: Any, **kwargs: Any) -> None:
        mine = [ipaddress.ip_network(c["cidr_block"]) for c in pcx.vpc.get_cidr_block_association_set()]
        theirs = [ipaddress.ip_network(c["cidr_block"]) for c in pcx.peer_vpc.get_cidr_block_association_set()]
        if any(a.overlaps(b) for a in mine for b in theirs):
            pcx._status.code = "failed"
            pcx._status.message = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"

    from vpcctl.sandbox.behaviour import _wrap

    _wrap(EC2Backend, "create_vpc_peering_connection", after=fail_if_overlapping)


def _routes_do_not_shadow_local() -> None:
    """A route whose destination lies inside the VPC's CIDR may target only a network interface or an
    instance; moto replaces the local route instead."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    def check(backend: Any, args: dict[str, Any]) -> None:
        destination = args.get("destination_cidr_block")
        if not destination or args.get("local") or args.get("interface_id") or args.get("instance_id"):
            return
        table = backend.get_route_table(args["route_table_id"])
        vpc = backend.get_vpc(table.vpc_id)
        wanted = ipaddress.ip_network(destination, strict=False)
        blocks = [ipaddress.ip_network(c["cidr_block"]) for c in vpc.get_cidr_block_association_set()]
        if any(wanted.version == b.version and wanted.subnet_of(b) for b in blocks):  # type: ignore[arg-type]
            raise EC2ClientError(
                "InvalidParameterValue",
                "Route target is not supported. This route only supports interface and instance targets.",
            )

    _before(EC2Backend, "create_route", check)
    _before(EC2Backend, "replace_route", check)


def _endpoint_private_dns_needs_vpc_dns() -> None:
    """Private DNS on an interface endpoint needs the VPC's DNS support and DNS hostnames."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    def refuse(vpc: Any) -> None:
        if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
            raise EC2ClientError(
                "InvalidParameter",
                "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set "
                f"to true for {vpc.id}",
            )

    def on_create(backend: Any, args: dict[str, Any]) -> None:
        interface = (args.get("endpoint_type") or "Gateway").lower() == "interface"
        if interface and args.get("private_dns_enabled") is not False:
            refuse(backend.get_vpc(args["vpc_id"]))

    _before(EC2Backend, "create_vpc_endpoint", on_create)

    from moto.ec2.responses.vpcs import VPCs

    original = VPCs.modify_vpc_endpoint

    def modify_vpc_endpoint(self: Any) -> Any:
        if str(self._get_param("PrivateDnsEnabled")).lower() == "true":
            endpoint = self.ec2_backend.describe_vpc_endpoints(vpc_end_point_ids=[self._get_param("VpcEndpointId")])[0]
            refuse(self.ec2_backend.get_vpc(endpoint.vpc_id))
        return original(self)

    VPCs.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]


# ------------------------------------------- references to what is still provisioning
# Each pair is in docs/readiness.md; what AWS does not document is refused (docs/moto-gaps.md).

PEERING_ROUTABLE = ("pending-acceptance", "provisioning", "active")


def _routes_need_their_target() -> None:
    """CreateRoute/ReplaceRoute: a NAT gateway must be `available` (AWS answers a pending one
    InvalidNatGatewayID.NotFound); a peering may still be pending acceptance (the route is a
    blackhole until it is active), but not failed, rejected, expired or deleted."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    def check(backend: Any, args: dict[str, Any]) -> None:
        nat_id = args.get("nat_gateway_id")
        if nat_id:
            found = backend.describe_nat_gateways(None, [nat_id])  # brings its state up to date
            if not found or found[0].state != "available":
                raise EC2ClientError("InvalidNatGatewayID.NotFound", f"The natGateway ID '{nat_id}' does not exist")
        pcx_id = args.get("vpc_peering_connection_id")
        if pcx_id and backend.get_vpc_peering_connection(pcx_id)._status.code not in PEERING_ROUTABLE:
            raise EC2ClientError(
                "InvalidVpcPeeringConnectionID.NotFound", f"The vpcPeeringConnection ID '{pcx_id}' does not exist"
            )

    _before(EC2Backend, "create_route", check)
    _before(EC2Backend, "replace_route", check)


def _service_groups_need_a_load_balancer() -> None:
    """CreateService/UpdateService: each target group must be attached to a load balancer (by a
    listener or a rule), though that load balancer may still be provisioning."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    from vpcctl.sandbox.behaviour import _elbv2

    def check(backend: Any, load_balancers: list[dict[str, Any]] | None) -> None:
        groups = _elbv2(backend).target_groups
        for lb in load_balancers or []:
            arn = lb.get("targetGroupArn")
            if arn and arn in groups and not groups[arn].load_balancer_arns:
                raise InvalidParameterException(
                    f"The target group with targetGroupArn {arn} does not have an associated load balancer."
                )

    _before(EC2ContainerServiceBackend, "create_service", lambda b, args: check(b, args.get("load_balancers")))
    _before(
        EC2ContainerServiceBackend,
        "update_service",
        lambda b, args: check(b, (args.get("service_properties") or {}).get("load_balancers")),
    )


def load_balancer_active(lb: Any) -> bool:
    lb.activate()  # brings provisioning -> active up to date with the sandbox's clock
    return bool(lb.state == "active")


def _aliases_need_a_ready_target() -> None:
    """ChangeResourceRecordSets: an alias to a load balancer still provisioning, or to an interface
    endpoint still pending, is refused (AWS does not document it: strict)."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    def not_ready(account: str, name: str) -> bool:
        name = name.rstrip(".").removeprefix("dualstack.").lower()
        for backend in elbv2_backends[account].values():
            for lb in backend.load_balancers.values():
                if lb.dns_name.lower() == name:
                    return not load_balancer_active(lb)
        for backend in ec2_backends[account].values():
            endpoints = backend.describe_vpc_endpoints(None)  # brings pending -> available up to date
            for endpoint in endpoints:
                names = [e.get("dns_name", "").lower() for e in endpoint.dns_entries or []]
                if name in names:
                    return bool(endpoint.state != "available")
        return False

    def check(backend: Any, args: dict[str, Any]) -> None:
        for change in args.get("change_list") or []:
            record = change.get("ResourceRecordSet") or {}
            alias = record.get("AliasTarget") or {}
            if (
                change.get("Action") in ("CREATE", "UPSERT")
                and alias
                and not_ready(backend.account_id, alias["DNSName"])
            ):
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"Tried to create an alias that targets {alias['DNSName']}, type {record.get('Type')} in zone "
                    f"{alias.get('HostedZoneId')}, but that target was not found",
                )

    _before(Route53Backend, "change_resource_record_sets", check)


def _resolver_rules_need_an_operational_endpoint() -> None:
    """CreateResolverRule/UpdateResolverRule with an outbound endpoint that is not OPERATIONAL yet."""
    from moto.core.exceptions import JsonRESTError
    from moto.route53resolver.models import Route53ResolverBackend

    def check(backend: Any, endpoint_id: str | None) -> None:
        if not endpoint_id:
            return
        backend.list_resolver_endpoints(None)  # brings CREATING -> OPERATIONAL up to date
        endpoint = backend.resolver_endpoints.get(endpoint_id)
        if endpoint is not None and endpoint.status != "OPERATIONAL":
            message = f"The resolver endpoint {endpoint_id} is {endpoint.status}, not OPERATIONAL"
            raise JsonRESTError("ResourceUnavailableException", message)

    _before(Route53ResolverBackend, "create_resolver_rule", lambda b, args: check(b, args.get("resolver_endpoint_id")))
