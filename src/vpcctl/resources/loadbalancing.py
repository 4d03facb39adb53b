"""Elastic Load Balancing v2: load balancers, target groups, listeners."""

from __future__ import annotations

from typing import Any

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.resources.base import Context, Found, Handler, Outcome, absent_ok, exists, outcome
from vpcctl.resources.ecs import chunks, task_private_ip
from vpcctl.resources.network import immutable

NAME_LIMIT = 32  # load balancer and target group names


def owned(ctx: Context, items: list[dict[str, Any]], arn_key: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Keep the items tagged for the deployment; ELB returns tags only by DescribeTags, 20 ARNs a call."""
    elb = ctx.client("elbv2")
    by_arn = {item[arn_key]: item for item in items}
    out = []
    for batch in chunks(list(by_arn), 20):
        for description in elb.describe_tags(ResourceArns=batch)["TagDescriptions"]:
            tags = tagging.to_dict(description.get("Tags"))
            if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
                out.append((by_arn[description["ResourceArn"]], tags))
    return out


# -------------------------------------------------------------- load balancer


class LoadBalancerHandler(Handler):
    kind = "load_balancer"
    service = "elbv2"

    def discover(self, ctx: Context) -> list[Found]:
        pages = ctx.client("elbv2").get_paginator("describe_load_balancers").paginate()
        items = [lb for page in pages for lb in page["LoadBalancers"]]
        return [self._found(tags[tagging.LOGICAL_ID], lb, tags) for lb, tags in owned(ctx, items, "LoadBalancerArn")]

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

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.LoadBalancer, found: Found | None) -> Outcome:
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
            return outcome(True, self._found(resource.id, lb), [])
        for field, have, want in (("type", found.raw["Type"], spec.type), ("scheme", found.raw["Scheme"], spec.scheme)):
            if have != want:
                raise immutable(resource.id, field, have, want)
        changes = []
        have_subnets = sorted(z["SubnetId"] for z in found.raw.get("AvailabilityZones") or [])
        if have_subnets != subnets:
            elb.set_subnets(LoadBalancerArn=found.id, Subnets=subnets)
            changes.append("subnets")
        if sorted(found.raw.get("SecurityGroups") or []) != groups:
            elb.set_security_groups(LoadBalancerArn=found.id, SecurityGroups=groups)
            changes.append("security groups")
        return outcome(False, found, changes)

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


class TargetGroupHandler(Handler):
    kind = "target_group"
    service = "elbv2"

    def discover(self, ctx: Context) -> list[Found]:
        pages = ctx.client("elbv2").get_paginator("describe_target_groups").paginate()
        items = [tg for page in pages for tg in page["TargetGroups"]]
        return [self._found(tags[tagging.LOGICAL_ID], tg, tags) for tg, tags in owned(ctx, items, "TargetGroupArn")]

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

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.TargetGroup, found: Found | None) -> Outcome:
        elb = ctx.client("elbv2")
        health = self._health_check(spec)
        vpc_id = ctx.id_of(spec.vpc)
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            tg = elb.create_target_group(
                Name=name,
                Protocol=spec.protocol,
                Port=spec.port,
                VpcId=vpc_id,
                TargetType=spec.target_type,
                Tags=tagging.as_list(ctx.tags(resource.id, name)),
                **health,
            )["TargetGroups"][0]
            return outcome(True, self._found(resource.id, tg), [])
        for field, have, want in (
            ("protocol", found.raw["Protocol"], spec.protocol),
            ("port", found.raw["Port"], spec.port),
            ("target_type", found.raw["TargetType"], spec.target_type),
            ("vpc", found.raw["VpcId"], vpc_id),
        ):
            if have != want:
                raise immutable(resource.id, field, have, want)
        differing = {k: v for k, v in health.items() if found.raw.get(k) != v}
        if differing:
            tg = elb.modify_target_group(TargetGroupArn=found.id, **differing)["TargetGroups"][0]
            found = self._found(resource.id, tg, found.tags)
        return outcome(False, found, [f"health check {k}" for k in sorted(differing)])

    def ensure_late(self, ctx: Context, resource: model.Resource, spec: model.TargetGroup, found: Found) -> Outcome:
        """Keep exactly the scenario's targets registered: the listed ones and the IPs of the
        services' RUNNING tasks (a task that is gone is deregistered, a new one registered)."""
        elb = ctx.client("elbv2")
        want = set(spec.targets) | service_task_ips(ctx, spec.services)
        have = registered_targets(ctx, found.id)
        missing, extra = sorted(want - have), sorted(have - want)
        if missing:
            elb.register_targets(TargetGroupArn=found.id, Targets=[{"Id": t} for t in missing])
        if extra:
            elb.deregister_targets(TargetGroupArn=found.id, Targets=[{"Id": t} for t in extra])
        found.state = f"{found.raw.get('TargetType')} {found.raw.get('Protocol')}:{found.raw.get('Port')}"
        found.state += f", {len(want)} targets"
        return outcome(False, found, [f"+target {t}" for t in missing] + [f"-target {t}" for t in extra])

    def delete(self, ctx: Context, found: Found) -> bool:
        elb = ctx.client("elbv2")
        if not exists(lambda: elb.describe_target_groups(TargetGroupArns=[found.id])["TargetGroups"]):
            return False
        return absent_ok(
            lambda: ctx.until_deletable(found.logical_id, lambda: elb.delete_target_group(TargetGroupArn=found.id))
        )


# ------------------------------------------------------------------- listener


class ListenerHandler(Handler):
    kind = "listener"
    service = "elbv2"

    def discover(self, ctx: Context) -> list[Found]:
        elb = ctx.client("elbv2")
        items = []
        for lb in ctx.inventory.all("load_balancer").values():
            pages = elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb.id)
            items += [listener for page in pages for listener in page["Listeners"]]
        return [self._found(tags[tagging.LOGICAL_ID], item, tags) for item, tags in owned(ctx, items, "ListenerArn")]

    def _found(self, lid: str, listener: dict[str, Any], tags: dict[str, str] | None = None) -> Found:
        state = f"{listener.get('Protocol')}:{listener.get('Port')}"
        return Found(
            self.kind, lid, listener["ListenerArn"], state, {"arn": listener["ListenerArn"]}, listener, tags or {}
        )

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.Listener, found: Found | None) -> Outcome:
        elb = ctx.client("elbv2")
        wanted: dict[str, Any] = {
            "Protocol": spec.protocol,
            "Port": spec.port,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": ctx.attr(spec.target_group, "arn")}],
        }
        if spec.certificate_arn:
            wanted["Certificates"] = [{"CertificateArn": spec.certificate_arn}]
        if found is None:
            listener = elb.create_listener(
                LoadBalancerArn=ctx.attr(spec.load_balancer, "arn"),
                Tags=tagging.as_list(ctx.tags(resource.id)),
                **wanted,
            )["Listeners"][0]
            return outcome(True, self._found(resource.id, listener), [])
        have = {
            "Protocol": found.raw.get("Protocol"),
            "Port": found.raw.get("Port"),
            "DefaultActions": [
                {"Type": a["Type"], "TargetGroupArn": a.get("TargetGroupArn")}
                for a in found.raw.get("DefaultActions", [])
            ],
        }
        if spec.certificate_arn:
            have["Certificates"] = [
                {"CertificateArn": c["CertificateArn"]} for c in found.raw.get("Certificates") or []
            ]
        changed = {k: v for k, v in wanted.items() if have.get(k) != v}
        if changed:
            listener = elb.modify_listener(ListenerArn=found.id, **changed)["Listeners"][0]
            found = self._found(resource.id, listener, found.tags)
        return outcome(False, found, sorted(changed))

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
    ecs = ctx.client("ecs")
    ips: set[str] = set()
    for lid in services:
        service = ctx.inventory.get("ecs_service", lid)
        if service is None:
            continue
        cluster = service.raw["clusterArn"]
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, serviceName=service.attributes["name"], desiredStatus="RUNNING"
        )
        arns = [arn for page in pages for arn in page["taskArns"]]
        for batch in chunks(arns, 100):
            for task in ecs.describe_tasks(cluster=cluster, tasks=batch)["tasks"]:
                ip = task_private_ip(task)
                if task.get("lastStatus") == "RUNNING" and ip:
                    ips.add(ip)
    return ips


def wait_targets_healthy(ctx: Context, step: str, target_group_arn: str) -> None:
    """Every registered target healthy; a missing security-group rule ends the wait at once."""
    from vpcctl import diagnose
    from vpcctl.errors import NotReady

    elb = ctx.client("elbv2")

    def check() -> tuple[bool, str]:
        descriptions = elb.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
        live = [d for d in descriptions if d["TargetHealth"]["State"] not in ("draining", "unused")]
        shown = []
        for d in live:
            target, health = d["Target"], d["TargetHealth"]
            reason = health.get("Reason")
            shown.append(f"{target['Id']}:{target.get('Port')} {health['State']}" + (f" ({reason})" if reason else ""))
            if health["State"] == "unhealthy" and reason in ("Target.Timeout", "Target.ResponseCodeMismatch"):
                group = elb.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"][0]
                address, groups = target_address(ctx, target["Id"], group["VpcId"])
                gaps = diagnose.lb_gaps(ctx, group, address, groups) if reason == "Target.Timeout" else []
                hint = "; ".join(gaps) or diagnose.TARGET_HINTS.get(str(reason))
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
