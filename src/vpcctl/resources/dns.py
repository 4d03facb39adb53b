"""Route 53: hosted zones (private ones associated with VPCs) and their records.

Route 53 records carry no tags. Each record vpcctl writes gets an ownership
record next to it, a TXT record at `_vpcctl-<type>.<name>` holding the
deployment and logical id (the way external-dns marks what it owns), written in
the same atomic change. Discovery reads those; teardown deletes only records
that have one, so records someone else put in the zone are never touched.
"""

from __future__ import annotations

import uuid
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import tags as tagging
from vpcctl.errors import VpcctlError
from vpcctl.resources import kit
from vpcctl.resources.base import Context, Found, Handler, absent_ok
from vpcctl.resources.ecs import chunks
from vpcctl.resources.kit import Change

TAG_BATCH = 10  # ListTagsForResources takes at most 10 zones a call
OWNER_PREFIX = "_vpcctl-"


def zone_id(raw_id: str) -> str:
    """'/hostedzone/Z123' -> 'Z123'."""
    return raw_id.rsplit("/", 1)[-1]


def fqdn(name: str) -> str:
    """A DNS name as Route 53 lists it: lower case, ending with a dot."""
    return name.lower().rstrip(".") + "."


def caller_reference(ctx: Context, logical_id: str) -> str:
    """Unique per creation; its prefix names the owner, so a zone created by a run that
    died before tagging it is still found again."""
    return f"{reference_prefix(ctx)}{logical_id}/{uuid.uuid4().hex}"


def reference_prefix(ctx: Context) -> str:
    """Route 53 is global: the region is part of the owner, as for IAM roles, so one
    deployment name in two regions never shares (or takes over) a zone."""
    return f"vpcctl/{ctx.deployment}/{ctx.region}/"


def zone_owner_tags(ctx: Context, logical_id: str) -> dict[str, str]:
    return {**ctx.tags(logical_id), tagging.REGION: ctx.region}


# ---------------------------------------------------------------- hosted zone


class HostedZoneHandler(Handler):
    kind = "hosted_zone"
    # Read directly (no tagged_as): CreateHostedZone takes no tags (a zone is tagged after it),
    # and moto's tag index leaves Route 53 out.
    service = "route53"

    def discover(self, ctx: Context) -> list[Found]:
        r53 = ctx.client("route53")
        zones = kit.listed(ctx, "route53", "list_hosted_zones", "HostedZones")
        for zone in zones:
            zone["ZoneId"] = zone_id(zone["Id"])
        tags = kit.batched("ZoneId", TAG_BATCH, lambda ids: zone_tags(ctx, ids))(zones) if zones else {}
        found = []
        for zone in zones:
            zone_tag_set = tags.get(zone["ZoneId"], {})
            lid = self._owner(ctx, zone, zone_tag_set)
            if not lid:
                continue
            vpcs = r53.get_hosted_zone(Id=zone["ZoneId"]).get("VPCs") or []
            region = zone_tag_set.get(tagging.REGION)
            # A zone tagged before zones carried their region is ours only if its VPCs are here.
            if region is None and any(v.get("VPCRegion") != ctx.region for v in vpcs):
                continue
            found.append(self._found(lid, zone, vpcs, zone_tag_set))
        return found

    @staticmethod
    def _owner(ctx: Context, zone: dict[str, Any], tags: dict[str, str]) -> str | None:
        """The logical id of a zone the deployment owns in this region: by its tags, else by its
        CallerReference (CreateHostedZone takes no tags: a run may have died before tagging it)."""
        if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
            return tags[tagging.LOGICAL_ID] if tags.get(tagging.REGION, ctx.region) == ctx.region else None
        reference = str(zone.get("CallerReference", ""))
        if reference.startswith(reference_prefix(ctx)):
            return reference.removeprefix(reference_prefix(ctx)).split("/", 1)[0]
        return None

    def _found(self, lid: str, zone: dict[str, Any], vpcs: list[dict[str, Any]], tags: dict[str, str]) -> Found:
        zid = zone_id(zone["Id"])
        private = bool((zone.get("Config") or {}).get("PrivateZone"))
        state = f"private, {len(vpcs)} VPCs" if private else "public"
        raw = {**zone, "VPCs": vpcs}
        return Found(self.kind, lid, zid, state, {"name": zone["Name"].rstrip(".")}, raw, tags)

    def diff(self, ctx: Context, resource: model.Resource, spec: model.HostedZone, found: Found | None) -> list[Change]:
        want_vpcs = ctx.ids_of(spec.vpcs)
        if found is None:
            return [kit.create(ctx, spec, private=bool(want_vpcs))]
        private = bool((found.raw.get("Config") or {}).get("PrivateZone"))
        changes = kit.replaced("name", fqdn(found.raw["Name"]), fqdn(spec.name))
        changes += kit.replaced("private", private, bool(want_vpcs))
        have_vpcs = [v["VPCId"] for v in found.raw.get("VPCs") or []]
        changes += kit.members("vpc", have_vpcs, want_vpcs, ctx.logical_id_of)
        return changes + kit.tag_changes(found.tags, zone_owner_tags(ctx, resource.id))

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.HostedZone, found: Found | None, changes: list[Change]
    ) -> Found:
        want_vpcs = ctx.ids_of(spec.vpcs)
        if found is None:
            found = self._create(ctx, resource.id, spec, want_vpcs)
            changes = kit.members("vpc", want_vpcs[:1], want_vpcs)
            changes += kit.tag_changes({}, zone_owner_tags(ctx, resource.id))
        kit.write_tags(ctx, "route53", found.id, changes)
        found.tags = zone_owner_tags(ctx, resource.id)
        self._converge_vpcs(ctx, found, changes, want_vpcs)
        return found

    def _create(self, ctx: Context, lid: str, spec: model.HostedZone, vpcs: list[str]) -> Found:
        params: dict[str, Any] = {
            "Name": spec.name,
            "CallerReference": caller_reference(ctx, lid),
            "HostedZoneConfig": {"Comment": spec.comment, "PrivateZone": bool(vpcs)},
        }
        if vpcs:  # a private zone is created with its first VPC
            params["VPC"] = {"VPCRegion": ctx.region, "VPCId": vpcs[0]}
        answer = ctx.create("route53", "CreateHostedZone", **params)
        associated = [{"VPCRegion": ctx.region, "VPCId": vpcs[0]}] if vpcs else []
        found = self._found(lid, answer["HostedZone"], associated, {})
        found.raw["ChangeId"] = answer["ChangeInfo"]["Id"]
        return found

    @staticmethod
    def _converge_vpcs(ctx: Context, found: Found, changes: list[Change], want: list[str]) -> None:
        """Associate the missing VPCs before removing extra ones: a private zone keeps at least one."""
        r53 = ctx.client("route53")
        for vpc in kit.added(changes, "vpc"):
            answer = r53.associate_vpc_with_hosted_zone(
                HostedZoneId=found.id, VPC={"VPCRegion": ctx.region, "VPCId": vpc}
            )
            found.raw["ChangeId"] = answer["ChangeInfo"]["Id"]
        for vpc in kit.removed(changes, "vpc"):
            answer = r53.disassociate_vpc_from_hosted_zone(
                HostedZoneId=found.id, VPC={"VPCRegion": ctx.region, "VPCId": vpc}
            )
            found.raw["ChangeId"] = answer["ChangeInfo"]["Id"]
        found.raw["VPCs"] = [{"VPCRegion": ctx.region, "VPCId": v} for v in want]
        if want:
            found.state = f"private, {len(want)} VPCs"

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        wait_in_sync(ctx, resource.id, found)
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        # Records vpcctl made are deleted first (they refer to the zone); anything else
        # in it makes AWS refuse with HostedZoneNotEmpty, and the zone is reported left.
        return absent_ok(lambda: ctx.client("route53").delete_hosted_zone(Id=found.id))


def zone_tags(ctx: Context, zone_ids: list[str]) -> dict[str, dict[str, str]]:
    r53 = ctx.client("route53")
    out = {}
    for batch in chunks(zone_ids, TAG_BATCH):
        answer = r53.list_tags_for_resources(ResourceType="hostedzone", ResourceIds=batch)
        for tag_set in answer["ResourceTagSets"]:
            out[zone_id(tag_set["ResourceId"])] = tagging.to_dict(tag_set.get("Tags"))
    return out


def wait_in_sync(ctx: Context, lid: str, found: Found) -> None:
    """Route 53 applies a change everywhere within about a minute (PENDING -> INSYNC)."""
    change = found.raw.pop("ChangeId", None)
    if change:
        ctx.progress(lid, "waiting for Route 53 to apply the change")
        ctx.wait_for("route53", "resource_record_sets_changed", Id=change)


# --------------------------------------------------------------------- record


class DnsRecordHandler(Handler):
    kind = "dns_record"
    # Read directly (no tagged_as): records take no tags: their owner TXT records name them, inside the zones.
    service = "route53"

    def discover(self, ctx: Context) -> list[Found]:
        """One paginated listing per zone the deployment owns."""
        found = []
        for zone in ctx.inventory.all("hosted_zone").values():
            records = list_records(ctx, zone.id)
            for owner in records.values():
                tags = owner_tags(owner)
                if tagging.owned_by(tags, ctx.deployment) and tagging.LOGICAL_ID in tags:
                    name, kind = owned_name(owner)
                    found.append(self._found(tags[tagging.LOGICAL_ID], zone.id, name, kind, records, tags))
        return found

    def _found(
        self,
        lid: str,
        zone: str,
        name: str,
        record_type: str,
        records: dict[tuple[str, str], dict[str, Any]],
        tags: dict[str, str],
    ) -> Found:
        record = records.get((name, record_type))
        owner = records.get((owner_name(name, record_type), "TXT"))
        state = describe_target(record) if record else "missing"
        raw = {"zone": zone, "record": record, "owner": owner}
        shown = name.rstrip(".")
        return Found(self.kind, lid, f"{shown} {record_type}", state, {"name": shown}, raw, tags)

    def diff(self, ctx: Context, resource: model.Resource, spec: model.DnsRecord, found: Found | None) -> list[Change]:
        name = record_name(spec.name, ctx.attr(spec.zone, "name"))
        want = self._wanted(ctx, spec, name)
        if found is None:
            return [kit.create(ctx, spec, name=name.rstrip("."))]
        changes = kit.replaced("zone", found.raw["zone"], ctx.id_of(spec.zone))
        if self._renamed(found, want):  # its ownership record moves with it
            return [*changes, Change("name", found.id, f"{want['Name'].rstrip('.')} {want['Type']}")]
        if not self._same(found, "record", want):
            record = found.raw.get("record")
            changes += kit.updated("target", describe_target(record) if record else None, describe_target(want))
        if not self._same(found, "owner", owner_record(ctx, resource.id, name, spec.type)):
            changes.append(Change("ownership record", "different" if found.raw.get("owner") else None, "vpcctl's"))
        return changes

    def apply(
        self, ctx: Context, resource: model.Resource, spec: model.DnsRecord, found: Found | None, changes: list[Change]
    ) -> Found:
        zone = ctx.id_of(spec.zone)
        name = record_name(spec.name, ctx.attr(spec.zone, "name"))
        want = self._wanted(ctx, spec, name)
        owner = owner_record(ctx, resource.id, name, spec.type)
        upserts = [r for r, key in ((want, "record"), (owner, "owner")) if not self._same(found, key, r)]
        batch = [{"Action": "UPSERT", "ResourceRecordSet": r} for r in upserts]
        batch += [{"Action": "DELETE", "ResourceRecordSet": r} for r in self._renamed(found, want)]
        answer = ctx.client("route53").change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Comment": f"vpcctl {ctx.deployment} {resource.id}", "Changes": batch}
        )
        new = self._new(resource.id, zone, want, owner)
        new.raw["ChangeId"] = answer["ChangeInfo"]["Id"]
        return new

    @staticmethod
    def _same(found: Found | None, key: str, record: dict[str, Any]) -> bool:
        return found is not None and comparable(found.raw.get(key)) == comparable(record)

    @staticmethod
    def _renamed(found: Found | None, want: dict[str, Any]) -> list[dict[str, Any]]:
        """The old record and its ownership record, when the scenario moved the record to a new name or type."""
        if found is None or found.id == f"{want['Name'].rstrip('.')} {want['Type']}":
            return []
        return [r for r in (found.raw.get("record"), found.raw.get("owner")) if r]

    def _new(self, lid: str, zone: str, record: dict[str, Any], owner: dict[str, Any]) -> Found:
        records = {(record["Name"], record["Type"]): record, (owner["Name"], "TXT"): owner}
        return self._found(lid, zone, record["Name"], record["Type"], records, {})

    @staticmethod
    def _wanted(ctx: Context, spec: model.DnsRecord, name: str) -> dict[str, Any]:
        if bool(spec.alias) == bool(spec.values):
            raise VpcctlError(f"a dns_record needs either alias or values, not {'both' if spec.alias else 'neither'}")
        record: dict[str, Any] = {"Name": name, "Type": spec.type}
        if spec.alias:
            record["AliasTarget"] = {
                "HostedZoneId": ctx.attr(spec.alias, "zone_id"),
                "DNSName": fqdn(ctx.attr(spec.alias, "dns_name")),
                "EvaluateTargetHealth": False,
            }
        else:
            record["TTL"] = spec.ttl
            record["ResourceRecords"] = [{"Value": v} for v in spec.values]
        return record

    def wait_ready(self, ctx: Context, resource: model.Resource, found: Found) -> Found:
        wait_in_sync(ctx, resource.id, found)
        return found

    def delete(self, ctx: Context, found: Found) -> bool:
        """Delete the record and its ownership record as they are now (AWS wants exact values)."""
        zone = found.raw["zone"]
        name, record_type = found.id.rsplit(" ", 1)
        present = [
            r
            for r in (
                current_record(ctx, zone, fqdn(name), record_type),
                current_record(ctx, zone, owner_name(fqdn(name), record_type), "TXT"),
            )
            if r is not None
        ]
        if not present:
            return False
        changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in present]
        return absent_ok(
            lambda: ctx.client("route53").change_resource_record_sets(
                HostedZoneId=zone, ChangeBatch={"Changes": changes}
            )
        )


def record_name(name: str, zone_name: str) -> str:
    """'alb.home' or 'alb' in zone 'home' -> 'alb.home.'."""
    name, zone = fqdn(name), fqdn(zone_name)
    if name == zone or name.endswith("." + zone):
        return name
    return name.rstrip(".") + "." + zone


def owner_name(name: str, record_type: str) -> str:
    return f"{OWNER_PREFIX}{record_type.lower()}.{name}"


def owned_name(owner: dict[str, Any]) -> tuple[str, str]:
    """The (name, type) an ownership record stands for."""
    label, _, name = owner["Name"].partition(".")
    return name, label.removeprefix(OWNER_PREFIX).upper()


def owner_record(ctx: Context, lid: str, name: str, record_type: str) -> dict[str, Any]:
    tags = ctx.tags(lid, name.rstrip("."))
    text = ",".join(f"{k}={v}" for k, v in tags.items() if k != "Name")
    return {
        "Name": owner_name(name, record_type),
        "Type": "TXT",
        "TTL": 300,
        "ResourceRecords": [{"Value": f'"{text}"'}],
    }


def owner_tags(record: dict[str, Any]) -> dict[str, str]:
    """The tags an ownership record holds ({} for any other record)."""
    if record["Type"] != "TXT" or not record["Name"].startswith(OWNER_PREFIX):
        return {}
    text = "".join(r["Value"].strip('"') for r in record.get("ResourceRecords") or [])
    pairs = (item.partition("=") for item in text.split(","))
    return {k: v for k, sep, v in pairs if sep}


def list_records(ctx: Context, zone: str) -> dict[tuple[str, str], dict[str, Any]]:
    records = kit.listed(ctx, "route53", "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone)
    return {(fqdn(r["Name"]), r["Type"]): r for r in records}


def current_record(ctx: Context, zone: str, name: str, record_type: str) -> dict[str, Any] | None:
    try:
        answer = ctx.client("route53").list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=name, StartRecordType=record_type, MaxItems="1"
        )
    except botocore.exceptions.ClientError as exc:
        if "NoSuchHostedZone" in str(exc):
            return None
        raise
    for record in answer["ResourceRecordSets"]:
        if fqdn(record["Name"]) == name and record["Type"] == record_type:
            return dict(record)
    return None


def comparable(record: dict[str, Any] | None) -> Any:
    """What vpcctl sets in a record, in a form AWS's listing and our request share."""
    if not record:
        return None
    alias = record.get("AliasTarget")
    if alias:
        target = (
            alias["HostedZoneId"],
            fqdn(alias["DNSName"]).removeprefix("dualstack."),
            alias["EvaluateTargetHealth"],
        )
        return (fqdn(record["Name"]), record["Type"], target)
    values = sorted(r["Value"] for r in record.get("ResourceRecords") or [])
    return (fqdn(record["Name"]), record["Type"], record.get("TTL"), tuple(values))


def describe_target(record: dict[str, Any]) -> str:
    alias = record.get("AliasTarget")
    if alias:
        return f"alias {alias['DNSName'].rstrip('.')}"
    return ", ".join(r["Value"] for r in record.get("ResourceRecords") or [])
