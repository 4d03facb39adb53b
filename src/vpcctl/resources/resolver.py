"""Route 53 Resolver: inbound and outbound endpoints, and forwarding rules.

An inbound endpoint gives a VPC's resolver addresses other networks can query
(one IP per subnet); an outbound endpoint sends the queries that a FORWARD rule
matches to other resolvers. Both take about a minute and a half to become
OPERATIONAL. A rule is associated with VPCs; teardown disassociates it, deletes
it, and only then deletes the outbound endpoint it uses (AWS refuses otherwise).

Resolver lists carry no tags: candidates are picked by their name (which starts
with the deployment's name) and confirmed by their tags, one call each.
"""

from __future__ import annotations

import re
from typing import Any

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.kit import Change

NAME_LIMIT = 64
ENDPOINT_TROUBLE = ("ACTION_NEEDED",)
SEPARATORS = re.compile(r"[,\s]+")


def discover_named(ctx: Context, operation: str, key: str, make: Any) -> list[Found]:
    """Resolver lists carry no tags: the name (starting with the deployment's) narrows the
    listing, one ListTagsForResource per candidate decides."""
    client = ctx.client("route53resolver")
    prefix = f"{ctx.deployment}-"
    items = [i for i in kit.listed(ctx, "route53resolver", operation, key) if str(i.get("Name", "")).startswith(prefix)]
    tags = kit.each("Arn", lambda arn: tagging.to_dict(client.list_tags_for_resource(ResourceArn=arn).get("Tags")))
    return kit.owned(ctx, items, tags, "Arn", make)


# ------------------------------------------------------------------ endpoint


class ResolverEndpointHandler(Handler):
    kind = "resolver_endpoint"
    tagged_as = ("route53resolver:resolver-endpoint",)  # CreateResolverEndpoint takes its tags
    service = "route53resolver"

    def discover(self, ctx: Context) -> list[Found]:
        return discover_named(
            ctx,
            "list_resolver_endpoints",
            "ResolverEndpoints",
            lambda lid, item, tags: self._found(lid, item, endpoint_ips(ctx, item["Id"]), tags),
        )

    def _found(self, lid: str, item: dict[str, Any], ips: list[dict[str, Any]], tags: dict[str, str]) -> Found:
        addresses = [ip["Ip"] for ip in ips if ip.get("Ip")]
        state = f"{item['Direction'].lower()} {item['Status']}"
        raw = {**item, "IpAddresses": ips}
        return Found(self.kind, lid, item["Id"], state, {"ips": " ".join(addresses)}, raw, tags)

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.ResolverEndpoint, found: Found | None
    ) -> list[Change]:
        name = ctx.name(resource.id, NAME_LIMIT)
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        changes = kit.replaced("direction", found.raw["Direction"], spec.direction)
        groups = [ctx.logical_id_of(g) for g in sorted(found.raw.get("SecurityGroupIds") or [])]
        changes += kit.replaced("security_groups", groups, sorted(spec.security_groups))
        have = [ip["SubnetId"] for ip in found.raw.get("IpAddresses") or []]
        changes += kit.members("subnet", have, ctx.ids_of(spec.subnets), ctx.logical_id_of)
        return changes + kit.own_tag_changes(ctx, resource.id, found, name)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.ResolverEndpoint,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            item = ctx.create(
                "route53resolver",
                "CreateResolverEndpoint",
                Name=name,
                Direction=spec.direction,
                SecurityGroupIds=sorted(ctx.ids_of(spec.security_groups)),
                IpAddresses=[{"SubnetId": s} for s in ctx.ids_of(spec.subnets)],
                Tags=tagging.as_list(ctx.tags(resource.id, name)),
            )["ResolverEndpoint"]
            return self._found(resource.id, item, [], ctx.tags(resource.id, name))
        self._converge_subnets(ctx, found, changes)
        kit.write_tags(ctx, "route53resolver", found.raw["Arn"], changes)
        return found

    @staticmethod
    def _converge_subnets(ctx: Context, found: Found, changes: list[Change]) -> None:
        """One address per subnet: add the missing subnets first, an endpoint keeps at least two."""
        client = ctx.client("route53resolver")
        have = {ip["SubnetId"]: ip for ip in found.raw.get("IpAddresses") or []}
        for subnet in kit.added(changes, "subnet"):
            client.associate_resolver_endpoint_ip_address(ResolverEndpointId=found.id, IpAddress={"SubnetId": subnet})
        for subnet in kit.removed(changes, "subnet"):
            client.disassociate_resolver_endpoint_ip_address(
                ResolverEndpointId=found.id, IpAddress={"IpId": have[subnet]["IpId"]}
            )

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """CREATING (or UPDATING) for about 90 s on AWS; ACTION_NEEDED ends the wait with AWS's message."""
        client = ctx.client("route53resolver")
        item = kit.wait_status(
            ctx,
            resource.id,
            f"resolver endpoint {found.id}",
            lambda: client.get_resolver_endpoint(ResolverEndpointId=found.id)["ResolverEndpoint"],
            lambda item: item["Status"],
            ready={"OPERATIONAL"},
            failed=ENDPOINT_TROUBLE,
            reason=lambda item: str(item.get("StatusMessage", "")),
        )
        return self._found(resource.id, item, endpoint_ips(ctx, found.id), found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        client = ctx.client("route53resolver")
        deleted = absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id, lambda: client.delete_resolver_endpoint(ResolverEndpointId=found.id)
            )
        )
        # Its network interfaces stay in the subnets until it is gone.
        kit.wait_gone(
            ctx,
            found.logical_id,
            "resolver endpoint",
            lambda: client.get_resolver_endpoint(ResolverEndpointId=found.id)["ResolverEndpoint"],
        )
        return deleted


def endpoint_ips(ctx: Context, endpoint_id: str) -> list[dict[str, Any]]:
    return kit.listed(
        ctx, "route53resolver", "list_resolver_endpoint_ip_addresses", "IpAddresses", ResolverEndpointId=endpoint_id
    )


# ---------------------------------------------------------------------- rule


class ResolverRuleHandler(Handler):
    kind = "resolver_rule"
    tagged_as = ("route53resolver:resolver-rule",)  # CreateResolverRule takes its tags
    service = "route53resolver"

    def discover(self, ctx: Context) -> list[Found]:
        mine = discover_named(
            ctx, "list_resolver_rules", "ResolverRules", lambda lid, rule, tags: self._found(lid, rule, [], tags)
        )
        if not mine:
            return []
        associations = kit.listed(ctx, "route53resolver", "list_resolver_rule_associations", "ResolverRuleAssociations")
        for f in mine:
            rule = {k: v for k, v in f.raw.items() if k != "Associations"}
            own = [a for a in associations if a["ResolverRuleId"] == f.id]
            fresh = self._found(f.logical_id, rule, own, f.tags)
            f.state, f.raw = fresh.state, fresh.raw
        return mine

    def _found(self, lid: str, rule: dict[str, Any], associations: list[dict[str, Any]], tags: dict[str, str]) -> Found:
        live = [a for a in associations if a.get("Status") != "DELETING"]
        state = f"{rule['RuleType']} {rule['DomainName'].rstrip('.')}, {len(live)} VPCs"
        raw = {**rule, "Associations": associations}
        return Found(self.kind, lid, rule["Id"], state, {}, raw, tags)

    def diff(
        self, ctx: Context, resource: model.Resource, spec: model.ResolverRule, found: Found | None
    ) -> list[Change]:
        name = ctx.name(resource.id, NAME_LIMIT)
        if found is None:
            return [kit.create(ctx, spec, name=name)]
        have_domain = found.raw["DomainName"].rstrip(".").lower()
        changes = kit.replaced("domain", have_domain, spec.domain.rstrip(".").lower())
        have_ips = sorted(t["Ip"] for t in found.raw.get("TargetIps") or [])
        changes += kit.updated("target_ips", have_ips, sorted(target_ips(spec.target_ips)))
        changes += kit.updated(
            "endpoint", ctx.logical_id_of(found.raw["ResolverEndpointId"]), spec.endpoint, payload="endpoint"
        )
        live = [a["VPCId"] for a in found.raw.get("Associations") or [] if a.get("Status") != "DELETING"]
        changes += kit.members("vpc", live, ctx.ids_of(spec.vpcs), ctx.logical_id_of)
        return changes + kit.own_tag_changes(ctx, resource.id, found, name)

    def apply(
        self,
        ctx: Context,
        resource: model.Resource,
        spec: model.ResolverRule,
        found: Found | None,
        changes: list[Change],
    ) -> Found:
        client = ctx.client("route53resolver")
        targets = [{"Ip": ip, "Port": 53} for ip in target_ips(spec.target_ips)]
        endpoint = ctx.id_of(spec.endpoint)
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            rule = ctx.create(
                "route53resolver",
                "CreateResolverRule",
                Name=name,
                RuleType="FORWARD",
                DomainName=spec.domain,
                TargetIps=targets,
                ResolverEndpointId=endpoint,
                Tags=tagging.as_list(ctx.tags(resource.id, name)),
            )["ResolverRule"]
            found = self._found(resource.id, rule, [], ctx.tags(resource.id, name))
            changes = kit.members("vpc", (), ctx.ids_of(spec.vpcs))
        elif kit.named(changes, "target_ips") or kit.named(changes, "endpoint"):
            rule = client.update_resolver_rule(
                ResolverRuleId=found.id, Config={"TargetIps": targets, "ResolverEndpointId": endpoint}
            )["ResolverRule"]
            found.raw.update(rule)
        self._converge_vpcs(ctx, found, changes, ctx.ids_of(spec.vpcs))
        kit.write_tags(ctx, "route53resolver", found.raw["Arn"], changes)
        return found

    @staticmethod
    def _converge_vpcs(ctx: Context, found: Found, changes: list[Change], vpcs: list[str]) -> None:
        client = ctx.client("route53resolver")
        for vpc in kit.added(changes, "vpc"):
            association = client.associate_resolver_rule(
                ResolverRuleId=found.id, VPCId=vpc, Name=f"{found.raw.get('Name', '')}-{vpc}"[:NAME_LIMIT]
            )["ResolverRuleAssociation"]
            found.raw.setdefault("Associations", []).append(association)
        for vpc in kit.removed(changes, "vpc"):
            client.disassociate_resolver_rule(ResolverRuleId=found.id, VPCId=vpc)
            found.raw["Associations"] = [a for a in found.raw["Associations"] if a["VPCId"] != vpc]
        domain = found.raw["DomainName"].rstrip(".")
        found.state = f"{found.raw['RuleType']} {domain}, {len(vpcs)} VPCs"

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Each association CREATING -> COMPLETE; FAILED ends the wait with AWS's message."""
        client = ctx.client("route53resolver")
        for association in found.raw.get("Associations") or []:
            if association.get("Status") == "COMPLETE":
                continue
            kit.wait_status(
                ctx,
                resource.id,
                f"resolver rule association with {association['VPCId']}",
                lambda a=association: client.get_resolver_rule_association(ResolverRuleAssociationId=a["Id"])[
                    "ResolverRuleAssociation"
                ],
                lambda item: item["Status"],
                ready={"COMPLETE"},
                failed={"FAILED"},
                reason=lambda item: str(item.get("StatusMessage", "")),
            )
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        """Disassociate from every VPC (AWS refuses to delete an associated rule), then delete."""
        client = ctx.client("route53resolver")
        for association in found.raw.get("Associations") or []:
            if association.get("Status") == "DELETING":
                continue
            absent_ok(
                lambda a=association: client.disassociate_resolver_rule(ResolverRuleId=found.id, VPCId=a["VPCId"])
            )
        for association in found.raw.get("Associations") or []:
            kit.wait_gone(
                ctx,
                found.logical_id,
                "resolver rule association",
                lambda a=association: client.get_resolver_rule_association(ResolverRuleAssociationId=a["Id"])[
                    "ResolverRuleAssociation"
                ],
            )
        return absent_ok(
            lambda: ctx.until_deletable(found.logical_id, lambda: client.delete_resolver_rule(ResolverRuleId=found.id))
        )


def target_ips(values: tuple[str, ...]) -> list[str]:
    """Target IPs, each entry one address or a list (`${inbound.ips}` resolves to 'ip ip')."""
    return [ip for value in values for ip in SEPARATORS.split(value.strip()) if ip]
