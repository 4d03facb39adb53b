"""The sandbox's server process: moto on 127.0.0.1, plus AWS-like behaviour."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vpcctl-sandbox")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument("--faults", help="count the sandbox's own emulation errors in this file")
    args = parser.parse_args(argv)
    # AWS-managed policies (AmazonECSTaskExecutionRolePolicy) exist in every account.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.server import ThreadedMotoServer

    from vpcctl.sandbox import behaviour, faults

    behaviour.install(args.time_scale)
    _no_rescans_per_request()
    if args.faults:
        # A running sandbox answers its own faults as AWS does (InternalError, 500), and logs them.
        faults.FAULTS.serve(Path(args.faults))

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"sandbox listening on http://127.0.0.1:{args.port} (time scale {args.time_scale})", flush=True)
    stopped.wait()
    server.stop()


def _no_rescans_per_request() -> None:
    """Speed, not behaviour: for every request moto's server lists its own package folder
    (a stat per service, to match a host name) and inspects the response class for its
    methods. Both are fixed once the server runs (every patch is applied before it starts),
    so each is done once: a request costs about a quarter less."""
    import functools

    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


if __name__ == "__main__":
    main()
