"""What every resource kind is built from: changes, discovery by ownership tags, waits
for a status or until gone, and tags compared as pure functions.

No kind writes its own discovery loop, poller or tag comparison: it says where its
items are listed, where their tags are, and which status means what.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import botocore.exceptions

from vpcctl import model
from vpcctl.aws import error_code, is_not_found, pages
from vpcctl.aws import tags as tagging
from vpcctl.errors import NotReady
from vpcctl.resources import base
from vpcctl.resources.base import Context, Found, Handler, Outcome

# Changes live with Found and Outcome in base; the kit hands them on to the kinds.
CREATE, UPDATE, REPLACE, DELETE = base.CREATE, base.UPDATE, base.REPLACE, base.DELETE
Change = base.Change


def create(ctx: Context, spec: Any, **extra: Any) -> Change:
    """The one change of a resource that is missing: every attribute the spec sets."""
    return Change("", None, {**spec_values(spec), **extra}, CREATE)


def spec_values(spec: Any) -> dict[str, Any]:
    """A resolved spec as plain values (run-time values not known yet show as such)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return fields if value is spec else {k: v for k, v in fields.items() if v not in (None, "", [])}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return plain(spec)


def updated(attribute: str, before: Any, after: Any, payload: Any = None) -> list[Change]:
    """[a change] when the value in AWS differs from the wanted one, else []."""
    return [] if before == after else [Change(attribute, before, after, payload=payload)]


def replaced(attribute: str, before: Any, after: Any) -> list[Change]:
    """[a replace] when an attribute AWS cannot change in place differs, else []."""
    return [] if before == after else [Change(attribute, before, after, REPLACE)]


def members(
    attribute: str, have: Iterable[Any], want: Iterable[Any], label: Callable[[Any], str] = str
) -> list[Change]:
    """Additions, then removals, of the members of a set (rules, routes, targets, policies)."""
    have, want = set(have), set(want)
    added = [Change(attribute, None, label(m), member=True, payload=m) for m in sorted(want - have, key=str)]
    removed = [Change(attribute, label(m), None, member=True, payload=m) for m in sorted(have - want, key=str)]
    return added + removed


def added(changes: list[Change], attribute: str) -> list[Any]:
    return [c.payload for c in changes if c.attribute == attribute and c.member and c.before is None]


def removed(changes: list[Change], attribute: str) -> list[Any]:
    return [c.payload for c in changes if c.attribute == attribute and c.member and c.after is None]


def named(changes: list[Change], attribute: str) -> Change | None:
    return next((c for c in changes if c.attribute == attribute and not c.member), None)


def is_create(changes: list[Change]) -> bool:
    return bool(changes) and changes[0].action == CREATE


# ----------------------------------------------------------------------- tags


def tag_diff(have: dict[str, str], want: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, tag keys to unset). Only vpcctl's own keys are ever unset: tags
    others put on a resource (AWS's, a person's) are theirs."""
    to_set = {k: v for k, v in want.items() if have.get(k) != v}
    to_unset = sorted(k for k in have if k.startswith("vpcctl:") and k not in want)
    return to_set, to_unset


def tag_changes(have: dict[str, str], want: dict[str, str]) -> list[Change]:
    to_set, to_unset = tag_diff(have, want)
    changes = [Change(f"tag {k}", have.get(k), v, payload=k) for k, v in to_set.items()]
    return changes + [Change(f"tag {k}", have[k], None, payload=k) for k in to_unset]


def own_tag_changes(ctx: Context, logical_id: str, found: Found, name: str | None = None) -> list[Change]:
    """What brings a found resource's tags to the ones the deployment gives it (ctx.tags)."""
    return tag_changes(found.tags, ctx.tags(logical_id, name))


def tags_of(changes: list[Change]) -> tuple[dict[str, str], list[str]]:
    """The tag changes of a change list, as (to set, to unset)."""
    tag = [c for c in changes if c.attribute.startswith("tag ")]
    return {c.payload: c.after for c in tag if c.after is not None}, [c.payload for c in tag if c.after is None]


@dataclasses.dataclass(frozen=True)
class TagCalls:
    """How one service sets and unsets tags: its operations, their parameters, the shape of its tags."""

    tag: str  # the operation that sets tags
    untag: str  # the operation that unsets tag keys
    target: str  # the parameter naming the resource (an id, an ARN, a role name)
    tags: str  # the parameter of the tags to set
    keys: str  # the parameter of the keys to unset
    tag_format: Callable[[dict[str, str]], Any] = tagging.as_list  # [{Key, Value}], [{key, value}] or {k: v}
    key_format: Callable[[list[str]], Any] = list
    many: bool = False  # the target goes in a list (the call takes several resources)


TAG_CALLS: dict[str, TagCalls] = {
    "ec2": TagCalls("create_tags", "delete_tags", "Resources", "Tags", "Tags", key_format=tagging.keys_only, many=True),
    "elbv2": TagCalls("add_tags", "remove_tags", "ResourceArns", "Tags", "TagKeys", many=True),
    "ecs": TagCalls("tag_resource", "untag_resource", "resourceArn", "tags", "tagKeys", tagging.as_lower_list),
    "logs": TagCalls("tag_resource", "untag_resource", "resourceArn", "tags", "tagKeys", dict),
    "iam": TagCalls("tag_role", "untag_role", "RoleName", "Tags", "TagKeys"),
    "apigateway": TagCalls("tag_resource", "untag_resource", "resourceArn", "tags", "tagKeys", dict),
    "route53resolver": TagCalls("tag_resource", "untag_resource", "ResourceArn", "Tags", "TagKeys"),
}


def _route53(ctx: Context, target: str, to_set: dict[str, str], to_unset: list[str]) -> None:
    """Route 53 sets and unsets a hosted zone's tags in one call."""
    params: dict[str, Any] = {}
    if to_set:
        params["AddTags"] = tagging.as_list(to_set)
    if to_unset:
        params["RemoveTagKeys"] = to_unset
    ctx.client("route53").change_tags_for_resource(ResourceType="hostedzone", ResourceId=target, **params)


def _tag_calls(ctx: Context, service: str, target: str, to_set: dict[str, str], to_unset: list[str]) -> None:
    calls = TAG_CALLS[service]
    client = ctx.client(service)
    resource = {calls.target: [target] if calls.many else target}
    if to_set:
        getattr(client, calls.tag)(**resource, **{calls.tags: calls.tag_format(to_set)})
    if to_unset:
        getattr(client, calls.untag)(**resource, **{calls.keys: calls.key_format(to_unset)})


def write_tags(ctx: Context, service: str, target: str, changes: list[Change]) -> None:
    """Apply the tag changes of a change list through the service's own tag calls."""
    to_set, to_unset = tags_of(changes)
    if not (to_set or to_unset):
        return
    if service == "route53":
        _route53(ctx, target, to_set, to_unset)
    else:
        _tag_calls(ctx, service, target, to_set, to_unset)


# ------------------------------------------------------------------ discovery

TagSource = Callable[[list[dict[str, Any]]], dict[str, dict[str, str]]]


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# Services whose type names in ResourceTypeFilters AWS does not document (docs/moto-gaps.md):
# asked for by service, so that no guessed name can hide an item.
BY_SERVICE = frozenset({"apigateway"})
# Types a kind's items may carry (tagged_as) that AWS documents for no ARN GetResources lists:
# matched, never asked for (an unknown filter value could be refused).
NEVER_ASKED = frozenset({"ec2:eip-allocation"})


def every_type(ctx: Context) -> list[str]:
    """Every kind's service: what a run asks the index for unless told which kinds it reads directly."""
    return sorted({t.split(":")[0] for h in ctx.inventory.kinds.values() for t in h.tagged_as})


def index_types(ctx: Context, read_directly: Iterable[str]) -> list[str]:
    """What a run asks the tag index for, as ResourceTypeFilters takes it.

    The kinds it reads whatever the index says (a scenario's, a deployment record's) need not
    be asked for: it asks by type ("ec2:subnet", as the ARN embeds it) for the other kinds,
    which the index decides on (kit.present), and for those whose reads take from it
    (Handler.reads_index). Told of no such kind, it asks for every kind by service."""
    direct = set(read_directly)
    if not direct:
        return every_type(ctx)
    kinds = ctx.inventory.kinds
    asked = {t for kind, h in kinds.items() if kind not in direct or h.reads_index for t in h.tagged_as}
    return sorted({t.split(":")[0] if t.split(":")[0] in BY_SERVICE else t for t in asked - NEVER_ASKED})


def covers(asked: Iterable[str], types: Iterable[str]) -> bool:
    """Whether an index read of `asked` holds every item of `types` (a service holds its types)."""
    held = set(asked)
    return all(t in held or t.split(":")[0] in held for t in types)


def tag_index(ctx: Context, types: list[str] | None = None) -> dict[str, dict[str, str]]:
    """ARN -> tags of what the Resource Groups Tagging API holds tagged for the deployment in
    the region: one paginated read per run, shared by every kind. `types`: what it must hold
    (index_types; by default what the run asked for first, or every kind). A run that asks
    for more than its read holds reads again, for both."""
    with ctx.index_lock:
        if types is None:
            types = ctx.index_types if ctx.index_types is not None else every_type(ctx)
        held = ctx.index_types if ctx.tag_index is not None else None  # a reset index holds nothing
        if held is None or not covers(held, types):
            ctx.index_types = sorted({*types, *(held or ())})
            ctx.tag_index = _read_index(ctx, ctx.index_types)
        return ctx.tag_index


def _read_index(ctx: Context, types: list[str]) -> dict[str, dict[str, str]]:
    if not types:  # no filter would list every type: a run that needs none reads nothing
        return {}
    pages = (
        ctx.client("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(
            TagFilters=[{"Key": tagging.DEPLOYMENT, "Values": [ctx.deployment]}],
            ResourcesPerPage=100,
            ResourceTypeFilters=types,
        )
    )
    # Keyed as the services' own reads give ARNs (CloudWatch Logs may end one with ':*').
    return {
        item["ResourceARN"].removesuffix(":*"): tagging.to_dict(item.get("Tags"))
        for page in pages
        for item in page.get("ResourceTagMappingList") or []
    }


def present(ctx: Context, kinds: dict[str, Handler], read_directly: Iterable[str] = ()) -> list[str]:
    """The kinds that can hold something of the deployment: those whose types the tag index
    lists, every kind read directly (the index does not cover it, or misses what it holds:
    untaggable items, items tagged only after their create), and `read_directly`, which the
    run reads whatever the index says (and so does not ask it for)."""
    direct = set(read_directly)
    held = {tagging.arn_type(arn) for arn in tag_index(ctx, index_types(ctx, direct))}
    return [kind for kind, h in kinds.items() if kind in direct or not h.tagged_as or held & set(h.tagged_as)]


def wanted_ids(ctx: Context, kind: str) -> list[str] | None:
    """The logical ids of the kind the scenario has, when discovery reads them by name
    (ctx.by_name); None when every item of the kind is to be listed."""
    if not ctx.by_name or ctx.scenario is None:
        return None
    return [lid for lid, r in ctx.scenario.resources.items() if r.kind == kind]


def indexed_arns(ctx: Context, of_type: str) -> list[str]:
    """The ARNs of one type (tags.arn_type) the tag index lists for the deployment: what it owns
    beyond the scenario's items, which are read by name whatever the index says."""
    index = tag_index(ctx)
    if ctx.index_types is not None and not covers(ctx.index_types, [of_type]):
        # A kind reading the index without Handler.reads_index would see an index without its items.
        raise RuntimeError(f"{of_type} read from a tag index that was not asked for it")
    return sorted(arn for arn in index if tagging.arn_type(arn) == of_type)


def indexed(ctx: Context, id_key: str, fallback: TagSource) -> TagSource:
    """Tags from the run's tag index; items it does not hold (another deployment's, or one
    made after the index was read) are asked of the service itself."""

    def read(items: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        index = tag_index(ctx)
        known = {str(i[id_key]): index[str(i[id_key])] for i in items if str(i[id_key]) in index}
        rest = [i for i in items if str(i[id_key]) not in known]
        return {**known, **(fallback(rest) if rest else {})}

    return read


def listed(ctx: Context, service: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, through botocore's paginator when the operation has one."""
    return pages.listed(ctx.client(service), operation, key, **params)


def inline(id_key: str, tags_key: str = "Tags") -> TagSource:
    """Tags listed with each item (EC2's [{Key, Value}], API Gateway's {k: v}, ECS's [{key, value}])."""

    def read(items: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        out = {}
        for item in items:
            raw = item.get(tags_key)
            out[str(item[id_key])] = dict(raw) if isinstance(raw, dict) else tagging.to_dict(raw)
        return out

    return read


def batched(id_key: str, size: int, fetch: Callable[[list[str]], dict[str, dict[str, str]]]) -> TagSource:
    """Tags read by a call that takes `size` ids at once (ELB's DescribeTags, Route 53's ListTagsForResources)."""

    def read(items: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        ids = [str(item[id_key]) for item in items]
        out: dict[str, dict[str, str]] = {}
        for i in range(0, len(ids), size):
            out.update(fetch(ids[i : i + size]))
        return out

    return read


def each(id_key: str, fetch: Callable[[str], dict[str, str]]) -> TagSource:
    """Tags read one item at a time, where the service has no batch read (Resolver, CloudWatch
    Logs, IAM); callers narrow the items first (by name prefix or path)."""
    return lambda items: {str(item[id_key]): fetch(str(item[id_key])) for item in items}


def owned(
    ctx: Context,
    items: Iterable[dict[str, Any]],
    tags: TagSource,
    id_key: str,
    make: Callable[[str, dict[str, Any], dict[str, str]], Found],
) -> list[Found]:
    """The items tagged for the deployment, with a logical id, made into Found."""
    items = list(items)
    tag_map = tags(items) if items else {}
    out = []
    for item in items:
        item_tags = tag_map.get(str(item[id_key]), {})
        if tagging.owned_by(item_tags, ctx.deployment) and tagging.LOGICAL_ID in item_tags:
            out.append(make(item_tags[tagging.LOGICAL_ID], item, item_tags))
    return out


# ---------------------------------------------------------------------- waits


def wait_status(
    ctx: Context,
    step: str,
    what: str,
    read: Callable[[], dict[str, Any]],
    status: Callable[[dict[str, Any]], str],
    ready: Iterable[str],
    failed: Iterable[str] = (),
    reason: Callable[[dict[str, Any]], str] = lambda _: "",
    timeout: float | None = None,
    hints: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Poll read() until status() is a ready one; a failed status ends the wait with AWS's
    reason (and what to change, from hints by status). Every poll reports the status and
    AWS's reason. Returns the last item read."""
    ready, failed = set(ready), set(failed)
    latest: dict[str, Any] = {}

    def check() -> tuple[bool, str]:
        item = read()
        latest["item"] = item
        state, why = status(item), reason(item)
        if state in failed:
            raise NotReady(f"{what} {state}: {why}".rstrip(": "), hint=(hints or {}).get(state))
        return state in ready, f"{state} ({why})" if why else state

    ctx.poll(step, what, check, timeout)
    return latest["item"]


def wait_gone(
    ctx: Context,
    step: str,
    what: str,
    read: Callable[[], dict[str, Any] | None],
    status: Callable[[dict[str, Any]], str] = lambda item: str(item.get("Status", "")),
    gone: Iterable[str] = (),
) -> None:
    """Poll until read() answers NotFound or nothing, or the status is a gone one."""
    gone = {g.lower() for g in gone}

    def check() -> tuple[bool, str]:
        try:
            item = read()
        except botocore.exceptions.ClientError as exc:
            if is_not_found(exc):
                return True, "gone"
            raise
        if not item:
            return True, "gone"
        state = status(item)
        return state.lower() in gone, state

    ctx.poll(step, what, check, timeout=ctx.delete_timeout)


# ---------------------------------------------------- ambiguous answers, settled

# Codes with which AWS refuses to make what already exists (or is already attached).
ALREADY_CODES = {
    "EntityAlreadyExists",
    "ResourceAlreadyExistsException",
    "ResourceExistsException",
    "RepositoryAlreadyExistsException",
    "PullThroughCacheRuleAlreadyExistsException",
    "ConflictException",
    "DuplicateTargetGroupName",
    "DuplicateLoadBalancerName",
    "DuplicateListener",
    "InvalidSubnet.Conflict",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "RouteAlreadyExists",
    "Resource.AlreadyAssociated",
    "HostedZoneAlreadyExists",
}
ALREADY_WORDS = ("already exist", "duplicate", "already associated", "already attached")
# Codes with which a delete or detach says its work is done.
GONE_WORDS = ("not attached", "notattached", "already disassociated", "is not associated")
# A retried change can be ambiguous again: settle it at most this many times.
SETTLE_ROUNDS = 4

Attempt = Callable[[Found | None], Outcome]


def already_done(exc: BaseException) -> bool:
    """AWS refused a change because what it makes already exists."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return error_code(exc) in ALREADY_CODES or any(w in message for w in ALREADY_WORDS)


def gone_already(exc: BaseException) -> bool:
    """A delete or detach refused because its work is done (not found, not attached)."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    text = f"{error_code(exc)} {exc.response.get('Error', {}).get('Message', '')}".lower()
    return is_not_found(exc) or any(w in text for w in GONE_WORDS)


def live_twins(ctx: Context, handler: Handler, logical_id: str) -> list[Found]:
    """Every live resource of the kind tagged for this logical id, read fresh from AWS."""
    with ctx.index_lock:
        ctx.tag_index = None  # the index read at the start of the run does not hold what it made
    return [f for f in handler.discover(ctx) if f.logical_id == logical_id and not handler.is_gone(f)]


def created_at(found: Found) -> float:
    """When AWS made it, where AWS says; +inf where it does not."""
    for key in ("CreateTime", "CreationTime", "CreatedTime", "CreateDate", "createdDate", "createdAt"):
        value = found.raw.get(key)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
    return float("inf")


def keep_oldest(ctx: Context, handler: Handler, twins: list[Found], newest: str = "") -> tuple[Found, list[Change]]:
    """Keep the oldest twin and delete the others (a create whose lost answer was retried
    made more than one). Without creation times, the one the retry answered is the newest."""
    ordered = sorted(twins, key=lambda f: (created_at(f), f.id == newest))
    kept, extras = ordered[0], ordered[1:]
    for extra in extras:
        ctx.progress(kept.logical_id, f"deleting duplicate {extra.id} (a retried create made it)")
        delete(ctx, handler, extra)  # settled: its answer may be lost too
    return kept, [Change("duplicate", extra.id, None, DELETE, member=True) for extra in extras]


def settle(ctx: Context, handler: Handler, logical_id: str, found: Found | None, attempt: Attempt) -> Outcome:
    """Run one diff-and-apply so that a lost or 5xx answer leaves neither a failure nor a
    duplicate: a change refused as "already exists" is re-read by the ownership tags and
    converged from there; a create made twice by a retry keeps the oldest and deletes the rest."""
    creating = found is None
    failure: BaseException | None = None
    dropped: list[Change] = []
    for _ in range(SETTLE_ROUNDS):
        with ctx.aws.ambiguity() as ambiguous:
            try:
                outcome = attempt(found)
            except Exception as exc:
                if not (ambiguous or already_done(exc)):
                    raise
                failure = exc
                twins = live_twins(ctx, handler, logical_id)
                if not twins:
                    raise
                found, extra = keep_oldest(ctx, handler, twins)
                dropped += extra
                continue
        twins = live_twins(ctx, handler, logical_id) if creating and ambiguous else []
        if len(twins) > 1:
            found, extra = keep_oldest(ctx, handler, twins, newest=outcome.found.id)
            dropped += extra
            if found.id != outcome.found.id:
                outcome = attempt(found)  # converge the one kept
        return _as_created(Outcome(outcome.status, outcome.found, outcome.changes + dropped), creating)
    assert failure is not None
    raise failure


def _as_created(outcome: Outcome, creating: bool) -> Outcome:
    if creating:
        outcome.status = base.CREATED
    return outcome


def ensure(ctx: Context, handler: Handler, resource: model.Resource, spec: Any, found: Found | None) -> Outcome:
    """handler.ensure, settled against lost answers."""
    if found is None:
        ctx.about_to_create()
    return settle(ctx, handler, resource.id, found, lambda f: handler.ensure(ctx, resource, spec, f))


def ensure_late(ctx: Context, handler: Handler, resource: model.Resource, spec: Any, found: Found) -> Outcome:
    """handler.ensure_late, settled against lost answers."""

    def attempt(current: Found | None) -> Outcome:
        assert current is not None
        return handler.ensure_late(ctx, resource, spec, current)

    return settle(ctx, handler, resource.id, found, attempt)


def delete(ctx: Context, handler: Handler, found: Found) -> bool:
    """handler.delete; when a retried delete or detach meets "not found / not attached", its
    work is done: the resource is read again and what is left of it deleted."""
    current: Found | None = found
    deleted = False
    for _ in range(SETTLE_ROUNDS):
        if current is None:
            return deleted
        with ctx.aws.ambiguity() as ambiguous:
            try:
                return handler.delete(ctx, current) or deleted
            except Exception as exc:
                if not (ambiguous and gone_already(exc)):
                    raise
                deleted = True
                twins = [f for f in live_twins(ctx, handler, found.logical_id) if f.id == found.id]
                current = twins[0] if twins else None
    return handler.delete(ctx, current) if current else deleted
