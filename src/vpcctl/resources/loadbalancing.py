"""Elastic Load Balancing v2: load balancers, target groups, listeners."""

from __future__ import annotations

from typing import Any

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok, exists, known_after
from vpcctl.resources.ecs import service_tasks, task_private_ip
from vpcctl.resources.kit import Change

NAME_LIMIT = 32  # load balancer and target group names


def elb_tags(ctx: Context, arns: list[str]) -> dict[str, dict[str, str]]:
    """Tags of up to 20 ELB resources: ELB lists them only through DescribeTags."""
    answer = ctx.client("elbv2").describe_tags(ResourceArns=arns)
    return {d["ResourceArn"]: tagging.to_dict(d.get("Tags")) for d in answer["TagDescriptions"]}


def discover_elb(ctx: Context, items: list[dict[str, Any]], arn_key: str, make: Any) -> list[Found]:
    tags = kit.indexed(ctx, arn_key, kit.batched(arn_key, 20, lambda arns: elb_tags(ctx, arns)))
    return kit.owned(ctx, items, tags, arn_key, make)


class ElbHandler(Handler):
    service = "elbv2"
    reads_index = True


# -------------------------------------------------------------- load balancer


class LoadBalancerHandler(ElbHandler):
    kind = "load_balancer"
    tagged_as = ("elasticloadbalancing:loadbalancer",)

    def discover(self, ctx: Context) -> list[Found]:
        items = kit.listed(ctx, "elbv2", "describe_load_balancers", "LoadBalancers")
        # Only names vpcctl can have given: the account's other load balancers cost no tag read.
        items = [lb for lb in items if ctx.could_be_ours(lb["LoadBalancerName"], NAME_LIMIT)]
        return discover_elb(ctx, items, "LoadBalancerArn", self._found)

    def _found(self, lid: str, lb: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        return Found(
            self.kind,
            lid,
            lb["LoadBalancerArn"],
            lb.get("State", {}).get("Code", ""),
            {
                "arn": lb["LoadBalancerArn"],
                "dns_name": lb.get("DNSName", ""),
                "zone_id": lb.get("CanonicalHostedZoneId", ""),
            },
            lb,
            tags or {},
        )

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.LoadBalancer, found: Found | None
    ) -> list[Change]:
        name = ctx.name(resource.id, NAME_LIMIT)
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        changes = kit.replaced("type", found.raw["Type"], spec.type) + kit.replaced(
            "scheme", found.raw["Scheme"], spec.scheme
        )
        have_subnets = [z["SubnetId"] for z in found.raw.get("AvailabilityZones") or []]
        changes += kit.members("subnet", have_subnets, ctx.ids_of(spec.subnets), ctx.logical_id_of)
        have_groups = found.raw.get("SecurityGroups") or []
        changes += kit.members("security_group", have_groups, ctx.ids_of(spec.security_groups), ctx.logical_id_of)
        return changes + kit.own_tag_changes(ctx, resource.id, found, name)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.LoadBalancer,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        elb = ctx.client("elbv2")
        subnets = sorted(ctx.ids_of(spec.subnets))
        groups = sorted(ctx.ids_of(spec.security_groups))
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            params: dict[str, Any] = {
                "Name": name,
                "Subnets": subnets,
                "Scheme": spec.scheme,
                "Type": spec.type,
                "IpAddressType": "ipv4",
                "Tags": tagging.as_list(ctx.tags(resource.id, name)),
            }
            if groups:
                params["SecurityGroups"] = groups
            lb = elb.create_load_balancer(**params)["LoadBalancers"][0]
            return self._found(resource.id, lb, ctx.tags(resource.id, name))
        if any(c.attribute == "subnet" for c in changes):
            elb.set_subnets(LoadBalancerArn=found.id, Subnets=subnets)
        if any(c.attribute == "security_group" for c in changes):
            elb.set_security_groups(LoadBalancerArn=found.id, SecurityGroups=groups)
        kit.write_tags(ctx, "elbv2", found.id, changes)
        return found

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        if found.state != "active":
            ctx.progress(resource.id, f"load balancer {found.state or 'provisioning'}")
            ctx.wait_for("elbv2", "load_balancer_available", LoadBalancerArns=[found.id])
            lb = ctx.client("elbv2").describe_load_balancers(LoadBalancerArns=[found.id])["LoadBalancers"][0]
            found = self._found(resource.id, lb, found.tags)
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        elb = ctx.client("elbv2")
        # DeleteLoadBalancer succeeds for a load balancer that is gone: ask first.
        if not exists(lambda: elb.describe_load_balancers(LoadBalancerArns=[found.id])["LoadBalancers"]):
            return False
        deleted = absent_ok(lambda: elb.delete_load_balancer(LoadBalancerArn=found.id))
        ctx.progress(found.logical_id, "waiting for the load balancer to be deleted")
        ctx.wait_for("elbv2", "load_balancers_deleted", LoadBalancerArns=[found.id])
        return deleted


# --------------------------------------------------------------- target group


# Scenario attribute of a health check -> ELB's parameter.
HEALTH_CHECK = {
    "protocol": "HealthCheckProtocol",
    "port": "HealthCheckPort",
    "interval": "HealthCheckIntervalSeconds",
    "healthy_threshold": "HealthyThresholdCount",
    "unhealthy_threshold": "UnhealthyThresholdCount",
    "path": "HealthCheckPath",
    "matcher": "Matcher",
}


class TargetGroupHandler(ElbHandler):
    kind = "target_group"
    tagged_as = ("elasticloadbalancing:targetgroup",)

    def discover(self, ctx: Context) -> list[Found]:
        items = kit.listed(ctx, "elbv2", "describe_target_groups", "TargetGroups")
        items = [tg for tg in items if ctx.could_be_ours(tg["TargetGroupName"], NAME_LIMIT)]
        return discover_elb(ctx, items, "TargetGroupArn", self._found)

    def _found(self, lid: str, tg: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        state = f"{tg.get('TargetType')} {tg.get('Protocol')}:{tg.get('Port')}"
        return Found(self.kind, lid, tg["TargetGroupArn"], state, {"arn": tg["TargetGroupArn"]}, tg, tags or {})

    @staticmethod
    def _health_check(spec: model.TargetGroup) -> dict[str, Any]:
        check = spec.health_check
        protocol = check.protocol or ("TCP" if spec.protocol in ("TCP", "UDP", "TLS") else spec.protocol)
        params: dict[str, Any] = {
            "HealthCheckProtocol": protocol,
            "HealthCheckPort": check.port,
            "HealthCheckIntervalSeconds": check.interval,
            "HealthyThresholdCount": check.healthy_threshold,
            "UnhealthyThresholdCount": check.unhealthy_threshold,
        }
        if protocol in ("HTTP", "HTTPS"):
            params["HealthCheckPath"] = check.path or "/"
            if check.matcher:
                params["Matcher"] = {"HttpCode": check.matcher}
        return params

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.TargetGroup, found: Found | None
    ) -> list[Change]:
        name = ctx.name(resource.id, NAME_LIMIT)
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        changes = []
        for field, have, want in (
            ("protocol", found.raw["Protocol"], spec.protocol),
            ("port", found.raw["Port"], spec.port),
            ("target_type", found.raw["TargetType"], spec.target_type),
            ("vpc", found.raw["VpcId"], ctx.id_of(spec.vpc)),
        ):
            changes += kit.replaced(field, have, want)
        for field, key in HEALTH_CHECK.items():
            want = self._health_check(spec).get(key)
            if want is not None:
                changes += kit.updated(f"health_check {field}", found.raw.get(key), want, payload=key)
        return changes + kit.own_tag_changes(ctx, resource.id, found, name)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.TargetGroup,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        elb = ctx.client("elbv2")
        health = self._health_check(spec)
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            tg = elb.create_target_group(
                Name=name,
                Protocol=spec.protocol,
                Port=spec.port,
                VpcId=ctx.id_of(spec.vpc),
                TargetType=spec.target_type,
                Tags=tagging.as_list(ctx.tags(resource.id, name)),
                **health,
            )["TargetGroups"][0]
            return self._found(resource.id, tg, ctx.tags(resource.id, name))
        differing = {c.payload: health[c.payload] for c in changes if c.payload in health}
        if differing:
            tg = elb.modify_target_group(TargetGroupArn=found.id, **differing)["TargetGroups"][0]
            found = self._found(resource.id, tg, found.tags)
        kit.write_tags(ctx, "elbv2", found.id, changes)
        return found

    def diff_late(
        self, ctx: Context, resource: model.Resource, spec: model.TargetGroup, found: Found | None
    ) -> list[Change]:
        """Exactly the scenario's targets registered: the listed ones and the IPs of the
        services' RUNNING tasks (a dead task's IP goes, a new task's IP comes)."""
        have = registered_targets(ctx, found.id) if found else set()
        rolling = [s for s in spec.services if ctx.attrs.get(s, {}).get("tasks") == known_after(s)]
        if rolling:  # planning: those services' tasks are replaced first, their IPs unknown yet
            return [Change("target", sorted(have), known_after(rolling[0]))]
        want = set(spec.targets) | service_task_ips(ctx, spec.services)
        return kit.members("target", have, want)

    def apply_late(
        self, ctx: Context, resource: model.Resource, spec: model.TargetGroup, found: Found, changes: list[Change]
    ) -> Found:
        elb = ctx.client("elbv2")
        missing, extra = kit.added(changes, "target"), kit.removed(changes, "target")
        if missing:
            elb.register_targets(TargetGroupArn=found.id, Targets=[{"Id": t} for t in missing])
        if extra:
            elb.deregister_targets(TargetGroupArn=found.id, Targets=[{"Id": t} for t in extra])
        found.state = f"{found.raw.get('TargetType')} {found.raw.get('Protocol')}:{found.raw.get('Port')}"
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        elb = ctx.client("elbv2")
        if not exists(lambda: elb.describe_target_groups(TargetGroupArns=[found.id])["TargetGroups"]):
            return False
        return absent_ok(
            lambda: ctx.until_deletable(found.logical_id, lambda: elb.delete_target_group(TargetGroupArn=found.id))
        )


# ------------------------------------------------------------------- listener


class ListenerHandler(ElbHandler):
    kind = "listener"
    # Read per load balancer; tagged in CreateListener, so the tag index holds their tags.
    tagged_as = ("elasticloadbalancing:listener",)

    def discover(self, ctx: Context) -> list[Found]:
        items = []
        for lb in ctx.inventory.all("load_balancer").values():
            items += kit.listed(ctx, "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=lb.id)
        return discover_elb(ctx, items, "ListenerArn", self._found)

    def _found(self, lid: str, listener: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        state = f"{listener.get('Protocol')}:{listener.get('Port')}"
        return Found(
            self.kind, lid, listener["ListenerArn"], state, {"arn": listener["ListenerArn"]}, listener, tags or {}
        )

    @staticmethod
    def _wanted(ctx: Context, spec: model.Listener) -> dict[str, Any]:
        wanted: dict[str, Any] = {
            "Protocol": spec.protocol,
            "Port": spec.port,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": ctx.attr(spec.target_group, "arn")}],
        }
        if spec.certificate_arn:
            wanted["Certificates"] = [{"CertificateArn": spec.certificate_arn}]
        return wanted

    def diff(self, ctx: Context, resource: model.Resource, spec: model.Listener, found: Found | None) -> list[Change]:
        if found is None:
            return [kit.create(ctx, spec)]
        raw = found.raw
        forwards = [a.get("TargetGroupArn") for a in raw.get("DefaultActions", []) if a["Type"] == "forward"]
        changes = kit.updated("protocol", raw.get("Protocol"), spec.protocol, payload="Protocol")
        changes += kit.updated("port", raw.get("Port"), spec.port, payload="Port")
        want_group = ctx.attr(spec.target_group, "arn")
        if forwards != [want_group] or len(raw.get("DefaultActions", [])) != 1:
            before = ", ".join(ctx.logical_id_of(str(f)) for f in forwards) or None
            changes.append(Change("target_group", before, spec.target_group, payload="DefaultActions"))
        if spec.certificate_arn:
            have = [c["CertificateArn"] for c in raw.get("Certificates") or []]
            changes += kit.updated("certificate_arn", have, [spec.certificate_arn], payload="Certificates")
        return changes + kit.own_tag_changes(ctx, resource.id, found)

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.Listener, found: Found | None, changes: list[Change]
    ) -> Found:
        elb = ctx.client("elbv2")
        wanted = self._wanted(ctx, spec)
        if found is None:
            listener = elb.create_listener(
                LoadBalancerArn=ctx.attr(spec.load_balancer, "arn"),
                Tags=tagging.as_list(ctx.tags(resource.id)),
                **wanted,
            )["Listeners"][0]
            return self._found(resource.id, listener, ctx.tags(resource.id))
        changed = {c.payload: wanted[c.payload] for c in changes if c.payload in wanted}
        if changed:
            listener = elb.modify_listener(ListenerArn=found.id, **changed)["Listeners"][0]
            found = self._found(resource.id, listener, found.tags)
        kit.write_tags(ctx, "elbv2", found.id, changes)
        return found

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Targets vpcctl registers itself are checked once a listener sends traffic to them
        (before, AWS reports them unused); an ECS service waits for its own targets."""
        group = ctx.scenario.resources[resource.spec.target_group] if ctx.scenario else None  # type: ignore[attr-defined]
        spec = group.spec if group else None
        if isinstance(spec, model.TargetGroup) and (spec.targets or spec.services):
            wait_targets_healthy(ctx, resource.id, ctx.attr(group.id, "arn"))  # type: ignore[union-attr]
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        return absent_ok(lambda: ctx.client("elbv2").delete_listener(ListenerArn=found.id))


# ------------------------------------------------------ targets a group holds


def registered_targets(ctx: Context, target_group_arn: str) -> set[str]:
    """Ids of the targets registered now; draining ones are on their way out already."""
    answer = ctx.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    return {
        d["Target"]["Id"]
        for d in answer["TargetHealthDescriptions"]
        if d.get("TargetHealth", {}).get("State") != "draining"
    }


def service_task_ips(ctx: Context, services: tuple[str, ...]) -> set[str]:
    """Private IPs of the RUNNING tasks of these ECS services (logical ids)."""
    ips: set[str] = set()
    for lid in services:
        service = ctx.inventory.get("ecs_service", lid)
        if service is None:
            continue
        for task in service_tasks(ctx, service.raw["clusterArn"], service.attributes["name"], ("RUNNING",)):
            ip = task_private_ip(task)
            if task.get("lastStatus") == "RUNNING" and ip:
                ips.add(ip)
    return ips


def wait_targets_healthy(ctx: Context, step: str, target_group_arn: str) -> None:
    """Every registered target healthy; a missing security-group rule ends the wait at once."""
    explain = ctx.explain
    elb = ctx.client("elbv2")

    def check() -> tuple[bool, str]:
        descriptions = elb.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
        live = [d for d in descriptions if d["TargetHealth"]["State"] not in ("draining", "unused")]
        shown = []
        for d in live:
            target, health = d["Target"], d["TargetHealth"]
            reason = health.get("Reason")
            shown.append(f"{target['Id']}:{target.get('Port')} {health['State']}" + (f" ({reason})" if reason else ""))
            if (
                explain is not None
                and health["State"] == "unhealthy"
                and reason in ("Target.Timeout", "Target.ResponseCodeMismatch")
            ):
                group = elb.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"][0]
                address, groups = target_address(ctx, target["Id"], group["VpcId"])
                gaps = explain.lb_gaps(ctx, group, address, groups) if reason == "Target.Timeout" else []
                hint = "; ".join(gaps) or explain.TARGET_HINTS.get(str(reason))
                if gaps or reason == "Target.ResponseCodeMismatch":
                    raise NotReady(f"target {target['Id']} is unhealthy: {reason}", hint=hint)
        healthy = bool(live) and all(d["TargetHealth"]["State"] == "healthy" for d in live)
        return healthy, "targets: " + (", ".join(shown) or "none registered")

    ctx.poll(step, "serving", check)


def target_address(ctx: Context, target_id: str, vpc_id: str) -> tuple[str, set[str]]:
    """A target's private IP and security groups (an instance by id, or an IP's network interface)."""
    ec2 = ctx.client("ec2")
    if target_id.startswith("i-"):
        reservations = ec2.describe_instances(InstanceIds=[target_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        # Groups belong to the network interfaces; the instance lists those of its primary one.
        groups = {g["GroupId"] for g in instance.get("SecurityGroups") or []}
        groups |= {g["GroupId"] for i in instance.get("NetworkInterfaces") or [] for g in i.get("Groups") or []}
        return instance.get("PrivateIpAddress", ""), groups
    interfaces = ec2.describe_network_interfaces(
        Filters=[
            {"Name": "addresses.private-ip-address", "Values": [target_id]},
            {"Name": "vpc-id", "Values": [vpc_id]},
        ]
    )["NetworkInterfaces"]
    return target_id, {g["GroupId"] for i in interfaces for g in i.get("Groups") or []}


def describe_targets(ctx: Context, target_group_arn: str) -> list[dict[str, Any]]:
    """Every target of a group with its health, for `status`: address, zone, state, AWS's reason."""
    answer = ctx.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
    return [
        {
            "id": d["Target"]["Id"],
            "port": d["Target"].get("Port"),
            "zone": d["Target"].get("AvailabilityZone"),
            "state": d["TargetHealth"].get("State"),
            "reason": d["TargetHealth"].get("Reason"),
            "description": d["TargetHealth"].get("Description"),
        }
        for d in answer["TargetHealthDescriptions"]
    ]
