"""The kit's pure parts: tag comparison and the words of a change."""

from __future__ import annotations

from vpcctl.resources import kit
from vpcctl.resources.kit import Change


def test_tag_diff_sets_what_differs_and_unsets_only_vpcctl_keys() -> None:
    have = {"vpcctl:deployment": "dev", "vpcctl:stale": "x", "Name": "old", "team": "theirs", "aws:cloudformation": "y"}
    want = {"vpcctl:deployment": "dev", "vpcctl:logical-id": "vpc", "Name": "dev-vpc"}
    assert kit.tag_diff(have, want) == ({"vpcctl:logical-id": "vpc", "Name": "dev-vpc"}, ["vpcctl:stale"])
    assert kit.tag_diff(want, want) == ({}, [])


def test_tag_changes_round_trip_through_tags_of() -> None:
    changes = kit.tag_changes({"Name": "old", "vpcctl:stale": "x"}, {"Name": "new"})
    assert [str(c) for c in changes] == ["tag Name: old → new", "tag vpcctl:stale: x → (none)"]
    assert kit.tags_of(changes) == ({"Name": "new"}, ["vpcctl:stale"])


def test_members_add_then_remove_and_updated_only_when_different() -> None:
    names = {"subnet-1": "a", "subnet-3": "c"}
    changes = kit.members("subnet", ["subnet-1", "subnet-2"], ["subnet-2", "subnet-3"], names.__getitem__)
    assert [str(c) for c in changes] == ["+subnet c", "-subnet a"]
    assert kit.added(changes, "subnet") == ["subnet-3"] and kit.removed(changes, "subnet") == ["subnet-1"]
    assert kit.updated("port", 80, 80) == []
    assert [str(c) for c in kit.replaced("cidr", "10.0.1.0/24", "10.0.2.0/24")] == [
        "cidr: 10.0.1.0/24 → 10.0.2.0/24 (replace)"
    ]
    assert str(Change("", None, {"cidr": "10.0.0.0/16"}, kit.CREATE)) == "create"
