"""Whole listings: every page of an operation, through botocore's paginator when it has one."""

from __future__ import annotations

from typing import Any


def listed(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item under `key` of the operation's answer, all pages of it."""
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key) or []]
    return list(getattr(client, operation)(**params).get(key) or [])
