"""Wall time and AWS API calls per command, against the emulator on 127.0.0.1.

Run with `make bench`. Prints two tables; asserts nothing:
- each command once on the bare emulator (time scale 0: nothing takes AWS's time), and with
  --synthetic `up` and `plan` of a generated scenario at 27 and at 315 resources (benchmarks/synthetic.py);
- `up` and `teardown` of each shipped scenario on the sandbox at a time scale, next to the
  critical path of AWS's own dependency graph at the sandbox's durations (vpcctl.pace):
  `up / critical path` and `teardown / deletion critical path`. Each ratio is given twice: of the
  command's wall time, and of its run (from its first read to its end, as `--stats` reports it:
  without the interpreter's start, the imports and the lock), which a loaded machine disturbs less.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import vpcctl

STATS_LINE = re.compile(r"^(\w[\w-]*:\w+|total)\s+(\d+)$")
RUN_LINE = re.compile(r"AWS API calls \((\d+\.\d+) s\)")
PACED_SCENARIOS = ("fargate-privatelink", "alb-fargate-sg", "closed-vpc-apigw")


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, int], int]:
    """Wall seconds, calls by operation (and `total`; `run ms`: the command's own run), exit code."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vpcctl", *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    calls = {}
    for line in done.stderr.splitlines():
        timed = RUN_LINE.search(line)
        if timed:
            calls["run ms"] = round(float(timed.group(1)) * 1000)
        match = STATS_LINE.match(line.strip())
        if match:
            calls[match.group(1)] = int(match.group(2))
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
    return seconds, calls, done.returncode


def warm(scenario: str, env: dict[str, str]) -> None:
    """Warm the emulator (it loads AWS's managed policies on first use); nothing is deployed yet."""
    subprocess.run([sys.executable, "-m", "vpcctl", "--sandbox", "status", scenario], env=env, capture_output=True)


def sandbox_env() -> dict[str, str]:
    env = {**os.environ, "VPCCTL_HOME": tempfile.mkdtemp(prefix="vpcctl-bench-"), "NO_COLOR": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    # Commands start as installed, from bytecode (pip compiles at install; an editable install does not).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(str(Path(vpcctl.__file__).parent), quiet=1)
    return env


STARTS = 7  # start-up times are the best of this many runs (one run swings with the machine's load)


def start_sandbox(env: dict[str, str], time_scale: float) -> None:
    subprocess.run(
        [sys.executable, "-m", "vpcctl", "sandbox", "start", "--time-scale", str(time_scale)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_sandbox(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "vpcctl", "sandbox", "stop"], env=env, stdout=subprocess.DEVNULL, check=False)


def paced(scenarios: list[str], time_scale: float, parallelism: int | None) -> None:
    """up and teardown of each scenario at the sandbox's pace, against AWS's own critical paths."""
    from vpcctl import graph, pace, scenario

    extra = ["--parallelism", str(parallelism)] if parallelism else []
    print(f"\nsandbox time scale {time_scale}" + (f", --parallelism {parallelism}" if parallelism else ""))
    head = f"{'scenario':<22} {'up s':>7} {'run s':>6} {'bound s':>8} {'up/cp':>6} {'run/cp':>7} {'calls':>6}"
    print(f"{head} {'down s':>7} {'run s':>6} {'bound s':>8} {'down/cp':>8} {'run/cp':>7} {'calls':>6} {'exit':>5}")
    for name in scenarios:
        loaded = scenario.load(name)
        up_bound = pace.up_critical_path(loaded) * time_scale
        down_bound = pace.teardown_critical_path(loaded, graph.EXTRA_TEARDOWN_ORDER) * time_scale
        env = sandbox_env()
        start_sandbox(env, time_scale)
        try:
            warm(name, env)
            up_s, up_calls, up_code = run(["--sandbox", "--stats", "-q", "up", name, *extra], env)
            down_s, down_calls, down_code = run(["--sandbox", "--stats", "-q", "teardown", name, "--yes", *extra], env)
        finally:
            stop_sandbox(env)
        up_run, down_run = up_calls.get("run ms", 0) / 1000, down_calls.get("run ms", 0) / 1000
        line = f"{name:<22} {up_s:>7.1f} {up_run:>6.1f} {up_bound:>8.1f} {ratio(up_s, up_bound):>6}"
        line += f" {ratio(up_run, up_bound):>7} {up_calls.get('total', 0):>6}"
        down = f"{down_s:>7.1f} {down_run:>6.1f} {down_bound:>8.1f} {ratio(down_s, down_bound):>8}"
        down += f" {ratio(down_run, down_bound):>7} {down_calls.get('total', 0):>6}"
        print(f"{line} {down} {max(up_code, down_code):>5}", flush=True)


def ratio(seconds: float, bound: float) -> str:
    return f"{seconds / bound:.2f}" if bound else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", default="fargate-privatelink")
    parser.add_argument("--by-operation", action="store_true", help="also list the calls of each command")
    parser.add_argument("--time-scale", type=float, default=0.25, help="the sandbox's pace for the ratio table")
    parser.add_argument("--paced", nargs="*", default=list(PACED_SCENARIOS), help="scenarios of the ratio table")
    parser.add_argument("--parallelism", type=int, help="pass --parallelism to up and teardown of the ratio table")
    parser.add_argument("--only-paced", action="store_true", help="skip the bare-emulator table")
    parser.add_argument(
        "--synthetic", action="store_true", help="also up a generated 315-resource scenario (and a 27-resource one)"
    )
    args = parser.parse_args()
    if not args.only_paced:
        bare(args)
    if args.paced:
        paced(args.paced, args.time_scale, args.parallelism)
    return 0


def synthetic_rows(env: dict[str, str]) -> list[tuple[str, float, dict[str, int], int]]:
    """The generated scenario at 4 subnets / 2 services and at 100 / 50 (315 resources): a
    no-op `up` must read each kind in as many requests at either size."""
    from synthetic import resource_count, scenario_text

    rows = []
    folder = tempfile.mkdtemp(prefix="vpcctl-synthetic-")
    for subnets, services in ((4, 2), (100, 50)):
        name = f"syn-{subnets}x{services}"
        path = os.path.join(folder, f"{name}.yaml")
        with open(path, "w", encoding="utf-8") as out:
            out.write(scenario_text(subnets, services, name))
        size = resource_count(subnets, services)
        for label, command in (("up", "cold"), ("up", "no change"), ("plan", "no change")):
            seconds, calls, code = run(command_line([label, path]), env)
            rows.append((f"{label} {size} ({command})", seconds, calls, code))
    return rows


def best_start(arguments: list[str], env: dict[str, str]) -> float:
    """Start-to-exit seconds of `python ARGUMENTS`, the best of STARTS runs."""
    best = float("inf")
    for _ in range(STARTS):
        start = time.perf_counter()
        subprocess.run([sys.executable, *arguments], env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def reference_seconds(env: dict[str, str]) -> float:
    """The machine's speed at the time of the table: starting Python and importing botocore
    (what every command that talks to AWS pays first). A shared machine can run the same
    command half as fast an hour later."""
    return best_start(["-c", "import botocore.session"], env)


def command_line(command: list[str]) -> list[str]:
    return ["--sandbox", "--stats", "-q", *command]


def start_up(label: str, command: list[str], env: dict[str, str]) -> tuple[str, float, dict[str, int], int]:
    """A command's start-to-exit time, the best of STARTS runs."""
    return f"{label} (best of {STARTS})", best_start(["-m", "vpcctl", *command], env), {}, 0


def bare(args: argparse.Namespace) -> None:
    env = sandbox_env()
    before = reference_seconds(env)
    # Commands that need no AWS first, before the emulator takes a core.
    rows = [
        start_up(label, command, env)
        for label, command in (("--help", ["--help"]), ("check", ["check", args.scenario]))
    ]
    start_sandbox(env, 0)
    try:
        warm(args.scenario, env)
        for label, command in (
            ("teardown (none)", ["teardown", args.scenario, "--yes"]),
            ("plan (empty)", ["plan", args.scenario]),
            ("up (cold)", ["up", args.scenario]),
            ("up (no change)", ["up", args.scenario]),
            # plan reads what a no-op up reads, and nothing more: its count is at most up's.
            ("plan (no change)", ["plan", args.scenario]),
            ("status", ["status", args.scenario]),
            ("teardown", ["teardown", args.scenario, "--yes"]),
        ):
            seconds, calls, code = run(command_line(command), env)
            if label.endswith("(no change)"):
                # A no-op can run again unchanged: its wall time is the best of STARTS, as start-ups are.
                seconds = min([seconds] + [run(command_line(command), env)[0] for _ in range(STARTS - 1)])
                label = f"{label.removesuffix(')')}, best of {STARTS})"
            rows.append((label, seconds, calls, code))
        if args.synthetic:
            rows += synthetic_rows(env)
    finally:
        stop_sandbox(env)
    speed = f"{before:.2f} s before the commands, {reference_seconds(env):.2f} s after"
    print(f"this machine: starting Python and importing botocore takes {speed} (wall times scale with it)")
    print(f"{'command':<28} {'wall s':>7} {'API calls':>10} {'exit':>5}")
    for label, seconds, calls, code in rows:
        total = calls.get("total", 0)
        print(f"{label:<28} {seconds:>7.2f} {total:>10} {code:>5}")
    if args.by_operation:
        for label, _, calls, _ in rows:
            for op, n in sorted(calls.items()):
                if op not in ("total", "run ms"):
                    print(f"  {label:<18} {op:<40} {n}")


if __name__ == "__main__":
    raise SystemExit(main())
