"""AWS's service models for botocore, parsed once per install and kept in the user's cache.

Every client botocore creates first reads its service's JSON model (EC2's is 4 MiB, the
endpoint table 1.2 MiB) and parses it into ordered dicts: about 0.25 s of a command that
talks to nine services. botocore's loader takes a file loader of our choosing; this one
keeps each parsed file as a marshal file (the format of Python's own bytecode cache),
which loads about eight times faster. Its name holds the source's path, size and mtime,
botocore's version and Python's, so an upgrade, an AWS_DATA_PATH override or an edited
model is parsed afresh. botocore's list of the services it has models for is kept beside
them (CachedLoader). A file unused for 30 days goes when another is written. A cache that
cannot be read or written is only slower.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import marshal
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

# Source files botocore reads, in the order its own JSON loader tries them.
OPENERS = ((".json", open), (".json.gz", gzip.open))


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/vpcctl/botocore-VERSION (default ~/.cache), one folder per botocore."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    python = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return root / "vpcctl" / f"botocore-{botocore.__version__}-{python}"


class CachedJSONFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's JSON file loader, with each parsed file kept in a marshal cache."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder

    def load_file(self, file_path: str) -> Any:
        for extension, opener in OPENERS:
            source = file_path + extension
            try:
                stat = os.stat(source)
            except OSError:
                continue
            key = hashlib.sha1(f"{os.path.abspath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
            cached = self.directory() / f"{Path(file_path).name}-{key[:20]}.marshal"
            data = _read(cached)
            if data is None:
                with opener(source, "rb") as raw:
                    # Plain dicts keep the file's order, as botocore's OrderedDicts do; marshal takes no subclass.
                    data = json.loads(raw.read().decode("utf-8"))
                _write(cached, data)
            return data
        return None

    def directory(self) -> Path:
        """Where its files are kept (the user's cache unless given one)."""
        if self.folder is None:
            self.folder = cache_folder()
        return self.folder


# A cached file no command has read for this long is removed when the next one is written
# (an old botocore's, or a deleted virtualenv's: each install's files are keyed apart).
UNUSED_FOR = 30 * 24 * 3600


def _read(path: Path) -> Any:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):  # absent, unreadable or torn: parse the source again
        return None
    with contextlib.suppress(OSError):  # a read-only cache is used as it is
        os.utime(path)  # read now: kept (the mtime says when it was last used)
    return data


def _prune(root: Path, keep: Path) -> None:
    """Remove the cached files of root's botocore-* folders unused for UNUSED_FOR, and the
    folders left empty."""
    old = time.time() - UNUSED_FOR
    for folder in [f for f in root.glob("botocore-*") if f.is_dir()]:
        for cached in [*folder.glob("*.marshal"), *folder.glob(".tmp-*")]:  # .tmp-: a write cut short
            with contextlib.suppress(OSError):  # another command may prune or read it at once
                if cached != keep and cached.stat().st_mtime < old:
                    cached.unlink()
        with contextlib.suppress(OSError):  # not empty: kept
            if folder != keep.parent:
                folder.rmdir()


def _write(path: Path, data: Any) -> None:
    """Write whole or not at all: another process may be reading or writing the same file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as out:
            try:
                out.write(marshal.dumps(data))
                out.close()
                os.replace(out.name, path)
            except OSError:
                os.unlink(out.name)
                raise
        _prune(path.parent.parent, path)  # a write is rare: a new install, or an upgrade
    except OSError:
        return  # a read-only or full disk: the models still load, only slower


class CachedLoader(botocore.loaders.Loader):
    """botocore's loader, with its list of the services that have a model of a type kept in
    the cache too. botocore makes that list (to refuse an unknown service) by a stat of
    every version folder of its data (about 450 services): some 12 ms a type, three types
    a command. Kept only while botocore's own folder is all it searches (no AWS_DATA_PATH,
    no ~/.aws/models): that folder changes only with botocore, whose version and folder the
    cache's name holds."""

    @botocore.loaders.instance_cache
    def list_available_services(self, type_name: str) -> list[str]:
        listing = self._listing_file(type_name)
        services = _read(listing) if listing else None
        if not isinstance(services, list):
            services = super().list_available_services(type_name)
            if listing:
                _write(listing, services)
        return services

    def _listing_file(self, type_name: str) -> Path | None:
        searched = [path for path in self.search_paths if os.path.isdir(path)]
        if searched != [self.BUILTIN_DATA_PATH] or not isinstance(self.file_loader, CachedJSONFileLoader):
            return None
        stat = os.stat(self.BUILTIN_DATA_PATH)
        key = hashlib.sha1(f"{os.path.abspath(self.BUILTIN_DATA_PATH)}\0{stat.st_mtime_ns}".encode()).hexdigest()
        return self.file_loader.directory() / f"services-{type_name}-{key[:20]}.marshal"


def create_loader(folder: Path | None = None) -> botocore.loaders.Loader:
    """botocore's loader (AWS_DATA_PATH and ~/.aws/models searched as botocore does), cached."""
    data_path = os.environ.get("AWS_DATA_PATH")
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
    return CachedLoader(extra_search_paths=extra, file_loader=CachedJSONFileLoader(folder))
