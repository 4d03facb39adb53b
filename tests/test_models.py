"""The parsed-model cache under botocore's loader: same data, parsed once, never stale."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import botocore
import botocore.loaders
import pytest

from vpcctl.aws import models


def cached_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.marshal"))


def test_a_model_reads_as_botocore_reads_it_and_is_parsed_once(tmp_path: Path) -> None:
    own = botocore.loaders.Loader()
    expected = own.load_service_model("ecs", "service-2")
    first = models.create_loader(tmp_path).load_service_model("ecs", "service-2")
    assert first == expected and list(first["shapes"]) == list(expected["shapes"])  # same data, same order
    written = cached_files(tmp_path)
    assert written and all(p.stat().st_size for p in written)
    files = [p.stat().st_ino for p in written]
    assert models.create_loader(tmp_path).load_service_model("ecs", "service-2") == expected
    assert [p.stat().st_ino for p in cached_files(tmp_path)] == files  # read, not written again (a write replaces)


def test_a_changed_source_is_parsed_again(tmp_path: Path) -> None:
    source = tmp_path / "data" / "thing.json.gz"
    source.parent.mkdir()
    source.write_bytes(gzip.compress(json.dumps({"version": 1}).encode()))
    loader = models.CachedJSONFileLoader(tmp_path / "cache")
    assert loader.load_file(str(tmp_path / "data" / "thing")) == {"version": 1}
    source.write_bytes(gzip.compress(json.dumps({"version": 22}).encode()))  # another size: another key
    assert loader.load_file(str(tmp_path / "data" / "thing")) == {"version": 22}
    assert loader.load_file(str(tmp_path / "data" / "absent")) is None


def test_a_torn_cache_file_is_parsed_again_and_replaced(tmp_path: Path) -> None:
    source = tmp_path / "thing.json"
    source.write_text(json.dumps({"a": [1, 2]}))
    loader = models.CachedJSONFileLoader(tmp_path / "cache")
    loader.load_file(str(tmp_path / "thing"))
    (cached,) = cached_files(tmp_path / "cache")
    cached.write_bytes(cached.read_bytes()[:3])
    assert loader.load_file(str(tmp_path / "thing")) == {"a": [1, 2]}
    assert len(cached.read_bytes()) > 3


def test_a_cache_that_cannot_be_written_only_slows(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    source = tmp_path / "thing.json"
    source.write_text(json.dumps({"b": True}))
    assert models.CachedJSONFileLoader(blocked / "cache").load_file(str(tmp_path / "thing")) == {"b": True}
    assert {p.name for p in tmp_path.iterdir()} == {"a-file", "thing.json"}


def test_the_cache_lives_in_the_user_cache_per_botocore(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = models.cache_folder()
    assert folder.parent == tmp_path / "vpcctl" and botocore.__version__ in folder.name
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as the XDG spec says
    assert models.cache_folder().parent == Path.home() / ".cache" / "vpcctl"


def test_the_list_of_services_is_botocores_and_is_scanned_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    monkeypatch.setattr(botocore.loaders.Loader, "CUSTOMER_DATA_PATH", str(tmp_path / "no-models"))
    expected = botocore.loaders.Loader().list_available_services("paginators-1")
    scans: list[str] = []
    scan = botocore.loaders.Loader.list_available_services
    monkeypatch.setattr(botocore.loaders.Loader, "list_available_services", lambda s, t: scans.append(t) or scan(s, t))

    assert models.create_loader(tmp_path / "cache").list_available_services("paginators-1") == expected
    assert models.create_loader(tmp_path / "cache").list_available_services("paginators-1") == expected
    assert scans == ["paginators-1"]  # the second command reads the first one's list

    (tmp_path / "no-models").mkdir()  # another folder searched: botocore's scan, every time, nothing kept
    for _ in range(2):
        assert models.create_loader(tmp_path / "cache2").list_available_services("paginators-1") == expected
    assert scans == ["paginators-1"] * 3 and not list((tmp_path / "cache2").glob("services-*"))


def test_cached_files_unused_for_a_month_go_when_another_is_written(tmp_path: Path) -> None:
    root = tmp_path / "vpcctl"
    current, older = root / "botocore-9.9.9-py311", root / "botocore-1.0.0-py311"
    older.mkdir(parents=True)
    (older / "service-2-0123.marshal").write_bytes(b"")  # an old botocore's
    (older / ".tmp-cut-short").write_bytes(b"")
    for name in ("used", "unused", "new"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name}))
    loader = models.CachedJSONFileLoader(current)
    loader.load_file(str(tmp_path / "used"))
    loader.load_file(str(tmp_path / "unused"))
    month_ago = time.time() - models.UNUSED_FOR - 60
    for cached in [*cached_files(current), *older.iterdir()]:
        os.utime(cached, (month_ago, month_ago))
    assert loader.load_file(str(tmp_path / "used")) == {"name": "used"}  # a read keeps it

    assert loader.load_file(str(tmp_path / "new")) == {"name": "new"}  # a write prunes
    assert sorted(p.name.split("-")[0] for p in cached_files(current)) == ["new", "used"]
    assert not older.exists()
