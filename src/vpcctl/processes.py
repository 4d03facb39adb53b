"""Processes on this machine: whether one still runs (a lock's holder, the sandbox server)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process with this pid exists here; one of another user's exists too.
    No pid (0 or less) is no process: signal 0 to it would reach a whole process group."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
