"""The local sandbox: an AWS emulator (moto) on 127.0.0.1, run in the background."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from vpcctl.errors import SandboxError
from vpcctl.processes import alive

HOST = "127.0.0.1"
DEFAULT_TIME_SCALE = 0.02


def state_dir() -> Path:
    """Where the sandbox's record and log live: $VPCCTL_HOME, else the XDG state directory."""
    home = os.environ.get("VPCCTL_HOME")
    if home:
        return Path(home)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "vpcctl"


def record_file() -> Path:
    return state_dir() / "sandbox.json"


@dataclass
class Sandbox:
    pid: int
    port: int
    time_scale: float
    log: str
    faults: str = ""  # the file where the server counts its own emulation errors

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def responds(endpoint: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def current() -> Sandbox | None:
    """The running sandbox, if the record names a live one."""
    try:
        data = json.loads(record_file().read_text())
        box = Sandbox(**data)
    except (OSError, ValueError, TypeError):
        return None
    return box if alive(box.pid) and responds(box.endpoint) else None


def start(
    port: int | None = None, time_scale: float = DEFAULT_TIME_SCALE, timeout: float = 30.0
) -> tuple[Sandbox, bool]:
    """Start the sandbox unless one runs; returns it and whether it was started now."""
    running = current()
    if running:
        return running, False
    try:
        import moto  # noqa: F401
    except ImportError:
        raise SandboxError(
            "the sandbox needs moto, which is not installed",
            hint="pip install 'vpcctl[sandbox]'",
        ) from None
    port = port or free_port()
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "sandbox.log"
    faults = directory / "sandbox-faults"
    command = [sys.executable, "-m", "vpcctl.sandbox.server", "--port", str(port), "--time-scale", str(time_scale)]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*command, "--faults", str(faults)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell that started it; Ctrl-C there does not reach it
        )
    box = Sandbox(process.pid, port, time_scale, str(log), str(faults))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"the sandbox exited at start (code {process.returncode})", hint=f"see {log}")
        if responds(box.endpoint):
            record_file().write_text(json.dumps(asdict(box)))
            return box, True
        time.sleep(0.1)
    process.terminate()
    raise SandboxError(f"the sandbox did not answer on {box.endpoint} within {timeout:.0f} s", hint=f"see {log}")


def stop(timeout: float = 10.0) -> Sandbox | None:
    """Stop the recorded sandbox; None when none was running."""
    try:
        box = Sandbox(**json.loads(record_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if alive(box.pid):
        os.kill(box.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(box.pid) and time.monotonic() < deadline:
            _reap(box.pid)
            time.sleep(0.05)
        if alive(box.pid):
            os.kill(box.pid, signal.SIGKILL)
            _reap(box.pid)
    record_file().unlink(missing_ok=True)
    return box


def _reap(pid: int) -> None:
    """Collect the exit status when the sandbox is our own child (tests start and stop it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def endpoint() -> str:
    box = current()
    if box is None:
        raise SandboxError("no sandbox is running", hint="start one with: vpcctl sandbox start")
    return box.endpoint


def emulation_errors(box: Sandbox) -> int | None:
    """How many faults of its own the running sandbox has logged (None: it does not say)."""
    from vpcctl.sandbox.faults import read_count

    return read_count(Path(box.faults)) if box.faults else None
