"""Wall time and AWS API calls per command, against the bare emulator on 127.0.0.1.

Run with `make bench`. Prints one table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

STATS_LINE = re.compile(r"^(\w[\w-]*:\w+|total)\s+(\d+)$")


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, int], int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vpcctl", *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    calls = {}
    for line in done.stderr.splitlines():
        match = STATS_LINE.match(line.strip())
        if match:
            calls[match.group(1)] = int(match.group(2))
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
    return seconds, calls, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", default="fargate-privatelink")
    parser.add_argument("--by-operation", action="store_true", help="also list the calls of each command")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="vpcctl-bench-")
    env = {**os.environ, "VPCCTL_HOME": home, "NO_COLOR": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    subprocess.run(
        [sys.executable, "-m", "vpcctl", "sandbox", "start", "--time-scale", "0"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    rows = []
    try:
        # Warm the emulator (it loads AWS's managed policies on first use) so cold `up` measures vpcctl.
        run(["--sandbox", "status", args.scenario], env)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vpcctl", "--help"], env=env, capture_output=True, check=True)
        rows.append(("vpcctl --help", time.perf_counter() - start, {}, 0))
        for label, command in (
            ("plan (empty)", ["plan", args.scenario]),
            ("up (cold)", ["up", args.scenario]),
            ("up (no change)", ["up", args.scenario]),
            # plan reads what a no-op up reads, and nothing more: its count is at most up's.
            ("plan (no change)", ["plan", args.scenario]),
            ("status", ["status", args.scenario]),
            ("teardown", ["teardown", args.scenario, "--yes"]),
        ):
            seconds, calls, code = run(["--sandbox", "--stats", "-q", *command], env)
            rows.append((label, seconds, calls, code))
    finally:
        subprocess.run(
            [sys.executable, "-m", "vpcctl", "sandbox", "stop"], env=env, stdout=subprocess.DEVNULL, check=False
        )
    print(f"{'command':<16} {'wall s':>7} {'API calls':>10} {'exit':>5}")
    for label, seconds, calls, code in rows:
        total = calls.get("total", 0)
        print(f"{label:<16} {seconds:>7.2f} {total:>10} {code:>5}")
    if args.by_operation:
        for label, _, calls, _ in rows:
            for op, n in sorted(calls.items()):
                if op != "total":
                    print(f"  {label:<16} {op:<40} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
