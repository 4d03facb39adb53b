"""Faults of the emulation itself (a bug in the sandbox, not an AWS refusal) never pass silently.

In-process (the tests) they raise where they happen. In the sandbox server they are
written with their traceback to the sandbox's log, counted in a file next to it (which
`vpcctl sandbox status` reads), and the call is answered as AWS answers its own faults:
`InternalError`, HTTP 500.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Services whose wire protocol is JSON (the others here speak XML).
_JSON_SERVICES = ("moto.ecs", "moto.ecr", "moto.apigateway", "moto.route53resolver", "moto.logs", "moto.acm")


class Faults:
    def __init__(self) -> None:
        self.raise_them = True  # in-process: a fault fails the caller, and so the test
        self.count_file: Path | None = None
        self.count = 0
        self._lock = threading.Lock()

    def serve(self, count_file: Path) -> None:
        """Server mode: log, count and answer InternalError instead of raising the fault itself."""
        self.raise_them = False
        self.count_file = count_file
        self.count = 0
        count_file.write_text("0")

    def record(self, where: str, exc: BaseException) -> None:
        with self._lock:
            self.count += 1
            print(f"sandbox emulation error #{self.count} in {where}:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            sys.stderr.flush()
            if self.count_file is not None:
                self.count_file.write_text(str(self.count))


FAULTS = Faults()


def guarded(hook: Callable[..., Any], owner: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an emulation hook. AWS errors it raises on purpose (DependencyViolation, ...) go
    through as they are; anything else is a fault of the sandbox."""
    from moto.core.exceptions import ServiceException
    from werkzeug.exceptions import HTTPException

    try:
        return hook(owner, *args, **kwargs)
    except (ServiceException, HTTPException):
        raise
    except Exception as exc:
        if FAULTS.raise_them:
            raise
        FAULTS.record(getattr(hook, "__qualname__", repr(hook)), exc)
        raise internal_error(type(owner).__module__, exc) from exc


def internal_error(module: str, exc: BaseException) -> Exception:
    """AWS's answer to a fault on its side, in the wire format of the service."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.exceptions import _RESTError as XmlRESTError

    message = f"We encountered an internal error. Please try again. ({type(exc).__name__} in the sandbox)"
    error = (JsonRESTError if module.startswith(_JSON_SERVICES) else XmlRESTError)("InternalError", message)
    error.code = 500
    return error


def read_count(count_file: Path) -> int | None:
    try:
        return int(count_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return None
