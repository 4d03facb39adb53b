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
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import is_not_found
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady
from vpcctl.resources.base import Context, Found, Handler, Outcome, absent_ok, outcome
from vpcctl.resources.network import immutable

NAME_LIMIT = 64
ENDPOINT_TROUBLE = ("ACTION_NEEDED",)
SEPARATORS = re.compile(r"[,\s]+")


def owned(ctx: Context, items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(logical id, item, tags) for the items named and tagged for the deployment."""
    client = ctx.client("route53resolver")
    prefix = f"{ctx.deployment}-"
    out = []
    for item in items:
        if not str(item.get("Name", "")).startswith(prefix):
            continue
        tags = tagging.to_dict(client.list_tags_for_resource(ResourceArn=item["Arn"]).get("Tags"))
        if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
            out.append((tags[tagging.LOGICAL_ID], item, tags))
    return out


def wait_until_gone(ctx: Context, lid: str, what: str, read: Callable[[], dict[str, Any]]) -> None:
    def gone() -> tuple[bool, str]:
        try:
            return False, str(read().get("Status", ""))
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return True, "gone"
            raise

    ctx.poll(lid, what, gone, timeout=ctx.delete_timeout)


# ------------------------------------------------------------------ endpoint


class ResolverEndpointHandler(Handler):
    kind = "resolver_endpoint"
    service = "route53resolver"

    def discover(self, ctx: Context) -> list[Found]:
        client = ctx.client("route53resolver")
        pages = client.get_paginator("list_resolver_endpoints").paginate()
        items = [e for page in pages for e in page["ResolverEndpoints"]]
        return [self._found(lid, item, endpoint_ips(ctx, item["Id"]), tags) for lid, item, tags in owned(ctx, items)]

    def _found(self, lid: str, item: dict[str, Any], ips: list[dict[str, Any]], tags: dict[str, str]) -> Found:
        addresses = [ip["Ip"] for ip in ips if ip.get("Ip")]
        state = f"{item['Direction'].lower()} {item['Status']}"
        raw = {**item, "IpAddresses": ips}
        return Found(self.kind, lid, item["Id"], state, {"ips": " ".join(addresses)}, raw, tags)

    def ensure(
        self, ctx: Context, resource: model.Resource, spec: model.ResolverEndpoint, found: Found | None
    ) -> Outcome:
        subnets = ctx.ids_of(spec.subnets)
        groups = sorted(ctx.ids_of(spec.security_groups))
        if found is None:
            name = ctx.name(resource.id, NAME_LIMIT)
            item = ctx.create(
                "route53resolver",
                "CreateResolverEndpoint",
                Name=name,
                Direction=spec.direction,
                SecurityGroupIds=groups,
                IpAddresses=[{"SubnetId": s} for s in subnets],
                Tags=tagging.as_list(ctx.tags(resource.id, name)),
            )["ResolverEndpoint"]
            return outcome(True, self._found(resource.id, item, [], {}), [])
        for field, have, want in (
            ("direction", found.raw["Direction"], spec.direction),
            ("security_groups", sorted(found.raw.get("SecurityGroupIds") or []), groups),
        ):
            if have != want:
                raise immutable(resource.id, field, have, want)
        return outcome(False, found, self._converge_subnets(ctx, found, subnets))

    @staticmethod
    def _converge_subnets(ctx: Context, found: Found, subnets: list[str]) -> list[str]:
        """One address per subnet: add the missing subnets first, an endpoint keeps at least two."""
        client = ctx.client("route53resolver")
        have = {ip["SubnetId"]: ip for ip in found.raw.get("IpAddresses") or []}
        changes = []
        for subnet in [s for s in subnets if s not in have]:
            client.associate_resolver_endpoint_ip_address(ResolverEndpointId=found.id, IpAddress={"SubnetId": subnet})
            changes.append(f"+subnet {subnet}")
        for subnet, ip in have.items():
            if subnet not in subnets:
                client.disassociate_resolver_endpoint_ip_address(
                    ResolverEndpointId=found.id, IpAddress={"IpId": ip["IpId"]}
                )
                changes.append(f"-subnet {subnet}")
        return changes

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """CREATING (or UPDATING) for about 90 s on AWS; ACTION_NEEDED ends the wait with AWS's message."""
        client = ctx.client("route53resolver")
        latest = {"item": found.raw}

        def check() -> tuple[bool, str]:
            item = client.get_resolver_endpoint(ResolverEndpointId=found.id)["ResolverEndpoint"]
            latest["item"] = item
            if item["Status"] in ENDPOINT_TROUBLE:
                raise NotReady(f"resolver endpoint {found.id} is {item['Status']}: {item.get('StatusMessage', '')}")
            return item["Status"] == "OPERATIONAL", item["Status"]

        ctx.poll(resource.id, "resolver endpoint", check)
        return self._found(resource.id, latest["item"], endpoint_ips(ctx, found.id), found.tags)

    def delete(self, ctx: Context, found: Found) -> bool:
        client = ctx.client("route53resolver")
        deleted = absent_ok(
            lambda: ctx.until_deletable(
                found.logical_id, lambda: client.delete_resolver_endpoint(ResolverEndpointId=found.id)
            )
        )
        # Its network interfaces stay in the subnets until it is gone.
        wait_until_gone(
            ctx,
            found.logical_id,
            "resolver endpoint",
            lambda: client.get_resolver_endpoint(ResolverEndpointId=found.id)["ResolverEndpoint"],
        )
        return deleted


def endpoint_ips(ctx: Context, endpoint_id: str) -> list[dict[str, Any]]:
    pages = (
        ctx.client("route53resolver")
        .get_paginator("list_resolver_endpoint_ip_addresses")
        .paginate(ResolverEndpointId=endpoint_id)
    )
    return [ip for page in pages for ip in page["IpAddresses"]]


# ---------------------------------------------------------------------- rule


class ResolverRuleHandler(Handler):
    kind = "resolver_rule"
    service = "route53resolver"

    def discover(self, ctx: Context) -> list[Found]:
        client = ctx.client("route53resolver")
        rules = [r for page in client.get_paginator("list_resolver_rules").paginate() for r in page["ResolverRules"]]
        mine = owned(ctx, rules)
        if not mine:
            return []
        pages = client.get_paginator("list_resolver_rule_associations").paginate()
        associations = [a for page in pages for a in page["ResolverRuleAssociations"]]
        return [
            self._found(lid, rule, [a for a in associations if a["ResolverRuleId"] == rule["Id"]], tags)
            for lid, rule, tags in mine
        ]

    def _found(self, lid: str, rule: dict[str, Any], associations: list[dict[str, Any]], tags: dict[str, str]) -> Found:
        live = [a for a in associations if a.get("Status") != "DELETING"]
        state = f"{rule['RuleType']} {rule['DomainName'].rstrip('.')}, {len(live)} VPCs"
        raw = {**rule, "Associations": associations}
        return Found(self.kind, lid, rule["Id"], state, {}, raw, tags)

    def ensure(self, ctx: Context, resource: model.Resource, spec: model.ResolverRule, found: Found | None) -> Outcome:
        client = ctx.client("route53resolver")
        targets = [{"Ip": ip, "Port": 53} for ip in target_ips(spec.target_ips)]
        endpoint = ctx.id_of(spec.endpoint)
        created = found is None
        changes: list[str] = []
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
            found = self._found(resource.id, rule, [], {})
        else:
            have_domain = found.raw["DomainName"].rstrip(".").lower()
            if have_domain != spec.domain.rstrip(".").lower():
                raise immutable(resource.id, "domain", have_domain, spec.domain)
            have = sorted((t["Ip"], t.get("Port", 53)) for t in found.raw.get("TargetIps") or [])
            if have != sorted((t["Ip"], t["Port"]) for t in targets) or found.raw["ResolverEndpointId"] != endpoint:
                rule = client.update_resolver_rule(
                    ResolverRuleId=found.id, Config={"TargetIps": targets, "ResolverEndpointId": endpoint}
                )["ResolverRule"]
                found.raw.update(rule)
                changes.append("targets")
        changes += self._converge_vpcs(ctx, found, ctx.ids_of(spec.vpcs))
        return outcome(created, found, [] if created else changes)

    @staticmethod
    def _converge_vpcs(ctx: Context, found: Found, vpcs: list[str]) -> list[str]:
        client = ctx.client("route53resolver")
        have = {a["VPCId"]: a for a in found.raw.get("Associations") or [] if a.get("Status") != "DELETING"}
        changes = []
        for vpc in [v for v in vpcs if v not in have]:
            association = client.associate_resolver_rule(
                ResolverRuleId=found.id, VPCId=vpc, Name=f"{found.raw.get('Name', '')}-{vpc}"[:NAME_LIMIT]
            )["ResolverRuleAssociation"]
            found.raw.setdefault("Associations", []).append(association)
            changes.append(f"+vpc {vpc}")
        for vpc in [v for v in have if v not in vpcs]:
            client.disassociate_resolver_rule(ResolverRuleId=found.id, VPCId=vpc)
            found.raw["Associations"] = [a for a in found.raw["Associations"] if a["VPCId"] != vpc]
            changes.append(f"-vpc {vpc}")
        domain = found.raw["DomainName"].rstrip(".")
        found.state = f"{found.raw['RuleType']} {domain}, {len(vpcs)} VPCs"
        return changes

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        """Each association CREATING -> COMPLETE; FAILED ends the wait with AWS's message."""
        client = ctx.client("route53resolver")
        pending = [a["Id"] for a in found.raw.get("Associations") or [] if a.get("Status") != "COMPLETE"]

        def check() -> tuple[bool, str]:
            states = []
            for association_id in pending:
                association = client.get_resolver_rule_association(ResolverRuleAssociationId=association_id)[
                    "ResolverRuleAssociation"
                ]
                if association["Status"] == "FAILED":
                    raise NotReady(
                        f"resolver rule {found.id} could not be associated with {association['VPCId']}: "
                        f"{association.get('StatusMessage', '')}"
                    )
                states.append(association["Status"])
            done = all(s == "COMPLETE" for s in states)
            return done, "associated" if done else ", ".join(sorted(set(states)))

        if pending:
            ctx.poll(resource.id, "resolver rule association", check)
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
            wait_until_gone(
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
