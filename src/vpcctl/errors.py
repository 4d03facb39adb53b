"""One error tree: every error carries the exit code the CLI returns and a hint."""

from __future__ import annotations

OK = 0
FAILED = 1
BAD_INPUT = 2
TIMED_OUT = 3
LEFTOVERS = 4
CHANGES = 5  # plan --detailed-exitcode: changes pending; status: drift
NOT_SERVING = 6  # status: the deployment exists but does not serve
NOT_HERE = 7
LOCKED = 8
INTERRUPTED = 130


class VpcctlError(Exception):
    """Base of every error vpcctl reports to a person."""

    exit_code = FAILED
    trace: str | None = None  # where an exception that was not ours came from (a step's failure)
    defect: bool = False  # not AWS's answer nor bad input: a fault of vpcctl itself

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class BadInput(VpcctlError):
    """The input is wrong; nothing in AWS was touched."""

    exit_code = BAD_INPUT


class ScenarioError(BadInput):
    """A scenario file is invalid. Names the file, the line and the key path."""

    def __init__(self, file: str, line: int | None, path: str, message: str, hint: str | None = None):
        where = f"{file}:{line}" if line else file
        key = f" {path}:" if path else ""
        super().__init__(f"{where}:{key} {message}", hint)
        self.file, self.line, self.path, self.detail = file, line, path, message


class AwsError(VpcctlError):
    """AWS refused a call. Keeps AWS's own code and message."""

    def __init__(self, code: str, message: str, operation: str = "", hint: str | None = None):
        where = f" ({operation})" if operation else ""
        super().__init__(f"{code}{where}: {message}", hint)
        self.code = code
        self.operation = operation


class StepFailed(VpcctlError):
    """One or more steps of a run failed; the run report says which."""


class NotReady(VpcctlError):
    """A resource will not become ready without a change (a task that cannot pull, ...)."""


class TimedOut(VpcctlError):
    """Waiting for readiness ran past its deadline; what exists stays."""

    exit_code = TIMED_OUT


class Leftovers(VpcctlError):
    """Teardown could not remove everything."""

    exit_code = LEFTOVERS


class LockHeld(VpcctlError):
    """Another run holds the deployment's lock, past --lock-timeout."""

    exit_code = LOCKED


class NotHere(VpcctlError):
    """Nothing of the deployment is in this region; it lives in another (nothing was touched)."""

    exit_code = NOT_HERE


class Interrupted(VpcctlError):
    """The user pressed Ctrl-C."""

    exit_code = INTERRUPTED


class SandboxError(VpcctlError):
    """The local sandbox could not be started, found or stopped."""
