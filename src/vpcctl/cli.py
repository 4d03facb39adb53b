"""Command line: parse, call the library, render. No boto3 here (it loads lazily)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from vpcctl import errors
from vpcctl.errors import BadInput, VpcctlError

EXIT_CODES = """\b
Exit codes:
  0    done
  1    AWS refused a call, a step failed, or `check` found an error
  2    bad input (nothing in AWS was touched)
  3    timed out waiting for readiness (what exists stays; run `up` again)
  4    teardown could not remove everything (what is left is listed)
  5    changes pending: `plan --detailed-exitcode` (0 then means no changes), or
       `status` found the deployment differs from the scenario (drift)
  6    `status`: the deployment exists but does not serve (it wins over 5)
  7    nothing of the deployment is in this region (the message says where it is)
  8    another run holds the deployment's lock (past --lock-timeout)
  130  interrupted"""


@dataclass
class Settings:
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    output: str = "table"
    quiet: bool = False
    verbose: bool = False
    stats: bool = False
    parallelism: int = 8

    @property
    def endpoint(self) -> str | None:
        """--endpoint-url, else the SDK's AWS_ENDPOINT_URL, else the sandbox's with --sandbox."""
        endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        if self.sandbox and not self.endpoint_url:
            from vpcctl import sandbox

            box = self.running_sandbox()
            endpoint = box.endpoint if box else sandbox.endpoint()  # none: sandbox.endpoint() says so
        return endpoint

    def running_sandbox(self) -> Any:
        """The running sandbox (None if none), asked once per command: asking is a request to it."""
        if "_box" not in vars(self):
            from vpcctl import sandbox

            self._box = sandbox.current()
        return self._box

    @property
    def local(self) -> bool:
        # The emulator accepts any key: never send real credentials (or a profile) to it.
        return self.sandbox or _is_loopback(self.endpoint)

    def resolve_region(self, scenario_region: str | None) -> str:
        from vpcctl.aws import profile_region, resolve_region

        return resolve_region(self.region, scenario_region, None if self.local else profile_region(self.profile))

    def aws(self, scenario_region: str | None, region: str | None = None) -> Any:
        from vpcctl.aws import Aws

        region = region or self.resolve_region(scenario_region)
        local = self.local
        return Aws(region, None if local else self.profile, self.endpoint, static_credentials=local)

    @property
    def poll_interval(self) -> float:
        """Seconds between polls once a wait has begun: about one second of AWS's time at the
        sandbox's pace (within 0.1-0.5 s), 0.5 s against another emulator, 5 s on AWS."""
        configured = _seconds_setting("VPCCTL_POLL_INTERVAL")
        if configured is not None:
            return configured
        if not self.local:
            return 5.0
        pace = self.pace
        return min(0.5, max(0.1, pace)) if pace else 0.5

    @property
    def pace(self) -> float:
        """Seconds here per second AWS takes: the sandbox's time scale, 0 for another emulator;
        VPCCTL_PACE sets it (0: poll from the start, as against an emulator that never waits)."""
        configured = _seconds_setting("VPCCTL_PACE")
        if configured is not None:
            return configured
        if self.sandbox and not self.endpoint_url:
            box = self.running_sandbox()
            return box.time_scale if box else 0.0
        return 0.0 if self.local else 1.0


def _seconds_setting(name: str) -> float | None:
    """A number of seconds, 0 or more, from the environment (unset or empty: None)."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses nan
        raise BadInput(f"{name}={text}: expected a number of seconds, 0 or more")
    return value


def _is_loopback(endpoint: str | None) -> bool:
    return bool(endpoint) and any(h in str(endpoint) for h in ("://127.", "://localhost", "://[::1]"))


class Group(click.Group):
    """Turns vpcctl errors into one line, a hint and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VpcctlError as exc:
            _fail(exc)
        except KeyboardInterrupt:
            _fail(errors.Interrupted("interrupted"))
        except Exception as exc:
            if not type(exc).__module__.startswith(("botocore", "boto3")):
                raise
            from vpcctl.aws import translate  # an AWS error no command caught: one line, no traceback

            _fail(translate(exc))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they are defined


def _fail(exc: VpcctlError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(exc.exit_code)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Global options are accepted before or after the command, as with the AWS CLI."""
    if value is not None and value is not False and param.name:
        setattr(ctx.ensure_object(Settings), param.name, value)


GLOBAL_OPTIONS = [
    click.option(
        "--region",
        callback=_remember,
        expose_value=False,
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, then the scenario's; never guessed).",
    ),
    click.option("--profile", callback=_remember, expose_value=False, help="AWS profile (default: AWS_PROFILE)."),
    click.option(
        "--endpoint-url",
        callback=_remember,
        expose_value=False,
        help="Send AWS calls here (default: AWS_ENDPOINT_URL).",
    ),
    click.option(
        "--sandbox",
        is_flag=True,
        envvar="VPCCTL_SANDBOX",
        callback=_remember,
        expose_value=False,
        help="Use the local sandbox (see `vpcctl sandbox`); also VPCCTL_SANDBOX=1.",
    ),
    click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        callback=_remember,
        expose_value=False,
        help="table (default), or json: nothing but JSON on stdout.",
    ),
    click.option(
        "-q", "--quiet", is_flag=True, callback=_remember, expose_value=False, help="Print only results and errors."
    ),
    click.option(
        "-v",
        "--verbose",
        is_flag=True,
        callback=_remember,
        expose_value=False,
        help="Print every step as it starts, whole ids, and a failed step's traceback.",
    ),
    click.option(
        "--stats",
        is_flag=True,
        callback=_remember,
        expose_value=False,
        help="Print the AWS API calls made, by operation, and the wall time.",
    ),
    click.option(
        "--parallelism",
        type=click.IntRange(1, 32),
        callback=_remember,
        expose_value=False,
        help="Steps run side by side at most (default 8).",
    ),
]


def global_options(f: Any) -> Any:
    for option in reversed(GLOBAL_OPTIONS):
        f = option(f)
    return f


@click.group(cls=Group, epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vpcctl")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Build AWS network topologies from scenario files, wait until they serve,
    show them, and remove every trace of them again."""
    ctx.ensure_object(Settings)


def name_option(f: Any) -> Any:
    return click.option(
        "--name",
        "deployment",
        help="Deployment name (default: the scenario's name); deploy one scenario twice under two names.",
    )(f)


def timeout_option(default: float, help: str) -> Any:
    return click.option(
        "--timeout", type=click.FloatRange(min=1), default=default, show_default=True, metavar="SECONDS", help=help
    )


def lock_timeout_option(f: Any) -> Any:
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=300,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait while another run holds the deployment's lock; then exit 8.",
    )(f)


# What a command reads before its resources, after the lock: the tag index.
TAG_INDEX = ("resourcegroupstaggingapi",)


@contextmanager
def _locked(settings: Settings, ctx: Any, command: str, timeout: float) -> Iterator[None]:
    """The deployment's lock in AWS around a command that changes it (read-only commands take none)."""
    from vpcctl import lock

    shown: set[str] = set()

    def waiting(holder: Any) -> None:
        if holder.token not in shown and settings.output != "json" and not settings.quiet:
            click.echo(f"waiting for the lock of '{ctx.deployment}': held by {holder.describe()}", err=True)
        shown.add(holder.token)

    def taking_over(holder: Any) -> None:
        click.echo(f"warning: taking over the stale lock of '{ctx.deployment}' from {holder.describe()}", err=True)

    options = {"timeout": timeout, "poll": max(settings.poll_interval, 0.05), "sleep": ctx.cancel.sleep}
    ssm = ctx.client("ssm")
    _prepare(ctx, TAG_INDEX, scenario_kinds=command != "teardown")  # while the lock's requests wait on AWS
    with lock.held(
        ssm,
        ctx.deployment,
        command,
        ctx.region,
        on_wait=waiting,
        on_takeover=taking_over,
        **options,
    ):
        yield


sets_option = click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a scenario parameter (repeatable)."
)


def _print_failures(report: Any, verbose: bool = False) -> None:
    """Each failed step with its hint; the traceback of a fault of vpcctl itself always,
    of an AWS error only with -v."""
    for step, result in report.failed.items():
        click.echo(f"{step}: {result.status}: {result.detail}", err=True)
        error = result.error
        if error and error.hint:
            click.echo(f"  hint: {error.hint}", err=True)
        if error and error.trace and (error.defect or verbose):
            import textwrap

            click.echo(textwrap.indent(error.trace.rstrip(), "  "), err=True)


def _renderer(settings: Settings, title: str, steps: list[tuple[str, str]]) -> Any:
    from vpcctl import render

    if settings.output == "json":
        return render.Collect()
    if settings.quiet:
        return render.Quiet()
    # NO_COLOR only removes colour (rich reads it); CI logs and pipes get plain lines.
    if sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb":
        return render.Live(title, steps, verbose=settings.verbose)
    return render.Lines(verbose=settings.verbose)


def _context(settings: Settings, deployment: str, scenario: Any, emit: Any, region: str | None, **options: Any) -> Any:
    from vpcctl import deploy

    aws = settings.aws(region)
    if scenario is not None and aws.region != scenario.region:
        from vpcctl.scenario import check_region

        check_region(scenario, aws.region)  # the zone letters must exist in the region the run uses
    options.setdefault("pace", settings.pace)
    return deploy.context(aws, deployment, scenario, emit, poll_interval=settings.poll_interval, **options)


def _prepare(ctx: Any, first: tuple[str, ...], scenario_kinds: bool = True) -> None:
    """Make the clients of `first` (what the command reads next) and of the scenario's kinds
    in the background, while the command's first requests wait on AWS. (Teardown reads only
    the kinds the tag index finds: it makes those clients as it needs them.)"""
    from vpcctl import deploy
    from vpcctl.resources import handler

    kinds = deploy.scenario_kinds(ctx.scenario) if scenario_kinds and ctx.scenario is not None else []
    ctx.aws.prepare([*first, *(handler(kind).service for kind in kinds)])


def _load(scenario_name: str, sets: tuple[str, ...] = ()) -> Any:
    from vpcctl import scenario

    return scenario.load(scenario_name, scenario.parse_sets(sets))


def _deployment(explicit: str | None, scenario: Any | None) -> str:
    from vpcctl.deploy import check_deployment_name

    name = explicit if explicit is not None else (scenario.name if scenario else None)
    if name is None:
        raise BadInput("give a SCENARIO or --name DEPLOYMENT")
    return check_deployment_name(name)


def _stats(settings: Settings, report: Any) -> None:
    if settings.stats:
        from vpcctl import render

        render.calls_table(report.calls, report.seconds)


# ---------------------------------------------------------------- commands


@cli.command("list")
@global_options
@click.option("--deployed", is_flag=True, help="List the deployments in the region instead, with resource counts.")
@click.option("--all-regions", is_flag=True, help="With --deployed: every region the account has enabled.")
@click.pass_obj
def list_(settings: Settings, deployed: bool, all_regions: bool) -> None:
    """Scenarios on hand: ./scenarios, then the ones shipped with vpcctl (or, with
    --deployed, what is deployed in the region)."""
    from vpcctl import render, scenario

    if all_regions and not deployed:
        raise BadInput("--all-regions goes with --deployed")
    if deployed:
        _list_deployed(settings, all_regions)
        return

    rows = []
    for name, file in scenario.available().items():
        try:
            loaded = scenario.load(str(file))
            rows.append(
                {
                    "name": name,
                    "resources": len(loaded.resources),
                    "description": loaded.description.splitlines()[0] if loaded.description else "",
                    "file": str(file),
                }
            )
        except VpcctlError as exc:
            rows.append({"name": name, "resources": 0, "description": f"invalid: {exc}", "file": str(file)})
    if settings.output == "json":
        render.emit_json(rows)
    else:
        render.table(
            "scenarios",
            ["name", "resources", "description"],
            [[r["name"], str(r["resources"]), r["description"]] for r in rows],
        )


def _list_deployed(settings: Settings, all_regions: bool) -> None:
    from vpcctl import regions, render
    from vpcctl.aws import resolve_region

    if all_regions:
        # Any region answers which regions are enabled; the deployments are then read in each.
        base = resolve_region(settings.region, None, required=False) or "us-east-1"
        found = regions.all_regions(settings.aws(None, base), lambda r: settings.aws(None, r), settings.parallelism)
        where = "all regions"
    else:
        aws = settings.aws(None)
        found = regions.deployments(aws, settings.parallelism)
        where = aws.region
    if settings.output == "json":
        render.emit_json([vars(d) for d in found])
        return
    rows = [
        [d.name, d.scenario, d.region, str(d.resources), ", ".join(f"{k} {v}" for k, v in d.kinds.items())]
        for d in found
    ]
    render.table(f"deployments ({where})", ["deployment", "scenario", "region", "resources", "by kind"], rows)


def _plan(settings: Settings, loaded: Any, name: str, detailed_exitcode: bool) -> None:
    """Read AWS, write nothing: print what `up` would do; exit 5 with --detailed-exitcode
    when it would change anything."""
    from vpcctl import deploy, render

    ctx = _context(settings, name, loaded, render.Quiet(), loaded.region)
    _prepare(ctx, TAG_INDEX)
    planned = deploy.plan(loaded, ctx, settings.parallelism)
    resources = [r.as_dict() for r in planned.resources]
    if settings.output == "json":
        render.emit_json(
            {
                "deployment": name,
                "scenario": loaded.name,
                "region": ctx.region,
                "resources": resources,
                "summary": render.plan_summary(resources),
                "changes": planned.has_changes,
                "calls": planned.calls,
            }
        )
    elif settings.quiet:
        click.echo(render.plan_line(resources))
    else:
        render.plan(f"vpcctl plan {loaded.name} (deployment {name}, {ctx.region})", resources)
    _stats(settings, planned)
    if detailed_exitcode and planned.has_changes:
        sys.exit(errors.CHANGES)


DETAILED_EXITCODE = click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to change, 5 when there are changes (2 stays bad input).",
)


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@name_option
@DETAILED_EXITCODE
@click.pass_obj
def plan(
    settings: Settings, scenario_name: str, sets: tuple[str, ...], deployment: str | None, detailed_exitcode: bool
) -> None:
    """What `up` would do, resource by resource and attribute by attribute: create,
    update (before → after), replace, unchanged, or delete (tagged for the deployment,
    no longer in the scenario). Reads AWS, writes nothing."""
    loaded = _load(scenario_name, sets)
    _plan(settings, loaded, _deployment(deployment, loaded), detailed_exitcode)


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@name_option
@timeout_option(1800, "Bound on all readiness waits together; past it, exit 3 and keep what exists.")
@click.option("--no-wait", is_flag=True, help="Do not wait for tasks, targets, endpoints and load balancers.")
@click.option("--skip-check", is_flag=True, help="Start even when `vpcctl check` reports an error.")
@click.option("--dry-run", is_flag=True, help="Only show what would change, as `vpcctl plan` does.")
@click.option(
    "--prune",
    is_flag=True,
    help="Once the rest converged, delete resources tagged for the deployment that the scenario no longer has.",
)
@DETAILED_EXITCODE
@lock_timeout_option
@click.pass_obj
def up(
    settings: Settings,
    scenario_name: str,
    sets: tuple[str, ...],
    deployment: str | None,
    timeout: float,
    no_wait: bool,
    skip_check: bool,
    dry_run: bool,
    prune: bool,
    detailed_exitcode: bool,
    lock_timeout: float,
) -> None:
    """Create the scenario's resources, or converge them to the file, and wait until
    they serve: every ECS task RUNNING and every target healthy.

    Resources tagged for the deployment that the scenario no longer has are listed and
    kept; --prune deletes them (in teardown's order) after the rest converged."""
    from vpcctl import deploy, render
    from vpcctl.status import CREATED, UNCHANGED, UPDATED

    loaded = _load(scenario_name, sets)
    name = _deployment(deployment, loaded)
    if dry_run:
        _plan(settings, loaded, name, detailed_exitcode)
        return
    steps = [(s, loaded.resources[s.removesuffix("/rules")].kind) for s in deploy.steps_of(loaded)]
    view = _renderer(settings, f"vpcctl up {loaded.name} (deployment {name})", steps)
    # The region (and the zones in it) are input too: refused before check's findings are shown.
    ctx = _context(settings, name, loaded, view, loaded.region, wait=not no_wait, wait_timeout=timeout)
    _preflight(loaded, settings.quiet, skip_check)
    with _locked(settings, ctx, "up", lock_timeout), view:
        report = deploy.up(loaded, ctx, settings.parallelism, prune=prune)
    summary = {s: report.count(s) for s in (CREATED, UPDATED, UNCHANGED)}
    extra = [{"logical_id": f.logical_id, "kind": f.kind, "id": f.id} for f in report.unmanaged]
    if settings.output == "json":
        render.emit_json(
            {
                "deployment": name,
                "scenario": loaded.name,
                "region": ctx.region,
                "steps": {
                    s: {"status": r.status, "id": r.resource_id, "detail": r.detail, "seconds": round(r.seconds, 2)}
                    for s, r in report.results.items()
                },
                "changes": {lid: [c.as_dict() for c in cs] for lid, cs in report.changes.items() if cs},
                "summary": summary,
                "not_in_scenario": extra,
                "pruned": {s: r.status for s, r in report.pruned.items()},
                "calls": report.calls,
                "seconds": round(report.seconds, 2),
            }
        )
    else:
        render.unmanaged(extra, pruned=bool(report.pruned))
    _stats(settings, report)
    if report.failed:
        _fail_run(report, settings.verbose)
    if settings.output != "json" and not settings.quiet:
        click.echo(
            f"{name}: {summary[CREATED]} created, {summary[UPDATED]} updated, "
            f"{summary[UNCHANGED]} unchanged in {report.seconds:.1f} s ({ctx.region})"
        )


def _preflight(loaded: Any, quiet: bool, skip_check: bool) -> None:
    """`up` says every warning `check` finds (one line each, on stderr; -q hides them) and
    refuses a scenario that `check` says cannot work, before any AWS call (--skip-check:
    the errors are said as one line each too, and `up` goes on)."""
    from vpcctl import netcheck

    findings = netcheck.check(loaded)
    errors_found = [f for f in findings if f.severity == "error"]
    if not quiet:
        for finding in findings:
            if finding.severity == "warning" or skip_check:
                click.echo(
                    _wrapped(f"{finding.severity}: {finding.rule} {finding.resource}: {finding.message}"), err=True
                )
    if skip_check:
        return
    for finding in errors_found:
        click.echo(f"{finding.rule} {finding.resource}: {finding.message}", err=True)
        click.echo(f"  fix: {finding.fix}", err=True)
    if errors_found:
        raise BadInput(
            f"{len(errors_found)} network check errors: this scenario would not work on AWS",
            hint="fix them (see `vpcctl check`), or start anyway with --skip-check",
        )


def _wrapped(text: str) -> str:
    """A long message wrapped at the terminal's width (COLUMNS off a terminal, else 100)."""
    import shutil
    import textwrap

    width = shutil.get_terminal_size((100, 24)).columns
    return textwrap.fill(text, width, subsequent_indent="  ", break_on_hyphens=False)


def _fail_run(report: Any, verbose: bool = False) -> None:
    """Name every step that did not finish, then exit 3 when only waits ran out, else 1."""
    _print_failures(report, verbose)
    message = f"{len(report.failed)} of {len(report.results)} steps did not finish"
    failures = [r for r in report.failed.values() if r.status == "failed"]
    if failures and all(isinstance(r.error, errors.TimedOut) for r in failures):
        raise errors.TimedOut(message, hint="what exists stays; run `up` again to go on waiting")
    raise errors.StepFailed(message, hint="fix the cause and run `up` again; finished steps are kept")


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@click.option("--live", is_flag=True, help="Also check what the deployment actually has in AWS.")
@name_option
@click.pass_obj
def check(settings: Settings, scenario_name: str, sets: tuple[str, ...], live: bool, deployment: str | None) -> None:
    """Network preflight, offline: what will not work on AWS, why, and the fix.

    Makes no AWS call, unless --live also reads what the deployment has in AWS (each
    service's path to its registry, the load balancer's path to each target).
    Exits 1 when a finding is an error, 0 with warnings only."""
    from vpcctl import netcheck

    loaded = _load(scenario_name, sets)
    if deployment is not None:
        _deployment(deployment, loaded)  # `check` refuses the names `up` refuses
    findings = netcheck.check(loaded)
    if live:
        from vpcctl import diagnose, render

        ctx = _context(settings, _deployment(deployment, loaded), loaded, render.Quiet(), loaded.region)
        findings += diagnose.live_findings(ctx)
    if settings.output == "json" or findings:
        from vpcctl import render  # imported here: a clean check prints its one line without it

        if settings.output == "json":
            render.emit_json(netcheck.report(loaded, findings))
        else:
            render.findings(f"{loaded.name}: {netcheck.summary(findings)}", findings)
    elif not settings.quiet:
        click.echo(f"{loaded.name}: no findings ({len(netcheck.RULES)} rules checked)")
    netcheck.fail_on_errors(loaded, findings)


def _status_once(settings: Settings, name: str, loaded: Any) -> tuple[Any, list[Any], list[Any] | None]:
    """One look: (context, rows, problems); problems is None when nothing of it is in the region."""
    from vpcctl import deploy, render

    ctx = _context(settings, name, loaded, render.Quiet(), loaded.region if loaded else None)
    _prepare(ctx, TAG_INDEX)
    rows = deploy.status(ctx, loaded, settings.parallelism)
    if not deploy.deployed(rows):
        return ctx, rows, None
    problems = deploy.readiness(ctx, loaded, reread=False) if loaded else deploy.observed_problems(rows)
    return ctx, rows, problems


def _not_here(ctx: Any, name: str) -> errors.NotHere:
    from vpcctl import regions

    elsewhere = sorted(r for r in regions.global_regions(ctx.aws, name) if r != ctx.region)
    where = f"; it lives in {', '.join(elsewhere)}" if elsewhere else ""
    return errors.NotHere(
        f"nothing is deployed as '{name}' in {ctx.region}{where}",
        hint=f"see what is deployed: vpcctl list --deployed{' --all-regions' if elsewhere else ''}",
    )


def _status_code(rows: list[Any], problems: list[Any]) -> int:
    """Not serving (6) before drift (5): a deployment that does not serve is the news."""
    if problems:
        return errors.NOT_SERVING
    return errors.CHANGES if any(r.drifted for r in rows) else errors.OK


@cli.command()
@global_options
@click.argument("scenario_name", metavar="[SCENARIO]", required=False)
@sets_option
@name_option
@click.option("--watch", is_flag=True, help="Refresh the view until Ctrl-C (on a terminal).")
@click.pass_obj
def status(
    settings: Settings, scenario_name: str | None, sets: tuple[str, ...], deployment: str | None, watch: bool
) -> None:
    """Whether the deployment serves, and every part of it: each resource with its AWS id
    and state; each ECS service's tasks (status, IP, zone, health, stop reason) and recent
    events; each target group's targets (state, AWS's reason, whose they are); then a
    verdict: serving, or what does not serve and what to change. With a SCENARIO, also
    each resource's drift from it (what `up` would change).

    \b
    Exits 0 serving; 6 the deployment exists but does not serve; 5 it serves but
    drifted (is missing or has something the scenario no longer has); 7 nothing of it
    is in the region. When several apply: 7, then 6, then 5."""
    from vpcctl import render

    loaded = _load(scenario_name, sets) if scenario_name else None
    name = _deployment(deployment, loaded)
    if watch:
        sys.exit(_watch(settings, name, loaded))
    ctx, rows, problems = _status_once(settings, name, loaded)
    if settings.output == "json":
        render.emit_json(
            {
                "deployment": name,
                "region": ctx.region,
                "deployed": problems is not None,
                "serving": problems == [],
                "problems": [vars(p) for p in problems or []],
                "resources": [vars(r) for r in rows if problems is not None],
            }
        )
    if problems is None:
        raise _not_here(ctx, name)
    if settings.quiet and settings.output != "json":
        click.echo(render.verdict_lines(problems)[0])
    elif settings.output != "json":
        render.status(f"{name} ({ctx.region})", rows, problems, settings.verbose)
    if settings.stats:
        render.calls_table(dict(ctx.aws.calls), 0.0)
    code = _status_code(rows, problems)
    if code:
        sys.exit(code)


def _watch(settings: Settings, name: str, loaded: Any) -> int:
    """status, refreshed in place until Ctrl-C; then the exit code of the last look."""
    import time

    from rich.console import Console
    from rich.live import Live

    from vpcctl import render

    code = errors.OK
    with Live(console=Console(), auto_refresh=False, vertical_overflow="visible") as live:
        try:
            while True:
                ctx, rows, problems = _status_once(settings, name, loaded)
                if problems is None:
                    raise _not_here(ctx, name)
                code = _status_code(rows, problems)
                title = f"{name} ({ctx.region}) at {time.strftime('%H:%M:%S')}; Ctrl-C to stop"
                live.update(render.status_view(title, rows, problems, settings.verbose), refresh=True)
                ctx.cancel.sleep(max(settings.poll_interval, 1.0))
        except (KeyboardInterrupt, errors.Interrupted):
            return code  # Ctrl-C is how a watch ends


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@name_option
@timeout_option(900, "How long to wait; past it, exit 3.")
@click.pass_obj
def wait(settings: Settings, scenario_name: str, sets: tuple[str, ...], deployment: str | None, timeout: float) -> None:
    """Block until the deployment serves (exit 0) or the timeout (exit 3), for shell
    scripts and CI: the readiness gate `up` ends with (every task RUNNING, every target
    healthy, endpoints available), asked again and again. Changes nothing."""
    from vpcctl import deploy, render

    loaded = _load(scenario_name, sets)
    name = _deployment(deployment, loaded)
    ctx = _context(settings, name, loaded, render.Quiet(), loaded.region)
    problems = deploy.wait(ctx, loaded, timeout)
    if problems:
        for line in render.verdict_lines(problems)[1:]:
            click.echo(line, err=True)
        raise errors.TimedOut(
            f"{name} does not serve after {timeout:.0f} s", hint=f"see: vpcctl status {scenario_name}"
        )
    if not settings.quiet:
        click.echo(f"{name}: serving ({ctx.region})")


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@click.argument("key", required=False)
@sets_option
@name_option
@click.pass_obj
def output(
    settings: Settings, scenario_name: str, key: str | None, sets: tuple[str, ...], deployment: str | None
) -> None:
    """The scenario's outputs (DNS names, URLs), for shell use: one value, or KEY=VALUE
    lines; with -o json, a JSON object (or, with KEY, a JSON value). Give the --set
    parameters `up` was given, so that outputs built from them (https://...) match."""
    from vpcctl import deploy, render

    loaded = _load(scenario_name, sets)
    name = _deployment(deployment, loaded)
    if key is not None and key not in loaded.outputs:
        raise BadInput(f"the scenario has no output '{key}'", hint="outputs: " + ", ".join(loaded.outputs))
    ctx = _context(settings, name, loaded, render.Quiet(), loaded.region)
    values = deploy.outputs(ctx, loaded, settings.parallelism)
    if key is not None:
        if values[key] is None:
            raise VpcctlError(
                f"output '{key}' is not known: the deployment is not (fully) up", hint=f"run: vpcctl up {scenario_name}"
            )
        if settings.output == "json":
            render.emit_json(values[key])
        else:
            click.echo(values[key])
    elif settings.output == "json":
        render.emit_json(values)
    else:
        for k, v in values.items():
            click.echo(f"{k}={'' if v is None else v}")


@cli.command()
@global_options
@click.argument("scenario_name", metavar="[SCENARIO]", required=False)
@name_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@timeout_option(600, "How long to keep retrying a deletion AWS refuses while something still uses the resource.")
@lock_timeout_option
@click.pass_obj
def teardown(
    settings: Settings,
    scenario_name: str | None,
    deployment: str | None,
    yes: bool,
    timeout: float,
    lock_timeout: float,
) -> None:
    """Delete everything tagged for the deployment, then check that nothing is left.

    Works from the ownership tags alone: the scenario file may have changed or be gone
    (use --name)."""
    from vpcctl import deploy, render

    loaded = _load(scenario_name) if scenario_name else None
    name = _deployment(deployment, loaded)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("teardown deletes resources: confirm with --yes when not on a terminal")
        click.confirm(f"Delete every resource of deployment '{name}'?", abort=True, err=True)
    from vpcctl import regions

    view = _renderer(settings, f"vpcctl teardown {name}", [])
    ctx = _context(settings, name, loaded, view, loaded.region if loaded else None, delete_timeout=timeout)
    with _locked(settings, ctx, "teardown", lock_timeout):
        with view:
            report = deploy.teardown(ctx, settings.parallelism)
        if not report.count("deleted"):  # what teardown read tells whether it lives elsewhere
            regions.refuse_if_elsewhere(ctx, settings.parallelism)
    left = [{"kind": f.kind, "logical_id": f.logical_id, "id": f.id, "state": f.state} for f in report.leftovers]
    if settings.output == "json":
        render.emit_json(
            {
                "deployment": name,
                "region": ctx.region,
                "steps": {
                    s: {"status": r.status, "id": r.resource_id, "detail": r.detail} for s, r in report.results.items()
                },
                "left": left,
                "calls": report.calls,
                "seconds": round(report.seconds, 2),
            }
        )
    _stats(settings, report)
    _print_failures(report, settings.verbose)
    if left:
        if settings.output != "json":
            render.table(
                "still there",
                ["kind", "logical id", "id", "state"],
                [[x["kind"], x["logical_id"], x["id"], x["state"]] for x in left],
                sys.stderr,
            )
        raise errors.Leftovers(
            f"{len(left)} resources of '{name}' are still there", hint="run teardown again, or remove what holds them"
        )
    if settings.output != "json" and not settings.quiet:
        click.echo(f"{name}: {report.count('deleted')} deleted; nothing tagged for it is left ({ctx.region})")


@cli.command()
@global_options
@name_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def unlock(settings: Settings, deployment: str | None, yes: bool) -> None:
    """Remove a deployment's lock by hand (after a run that holds it died).

    `up` and `teardown` take the lock themselves and take over a lock whose lease
    ran out; unlock is for when waiting for the lease is not an option."""
    from vpcctl import lock

    if deployment is None:
        raise BadInput("give --name DEPLOYMENT")
    name = _deployment(deployment, None)
    aws = settings.aws(None)
    ssm = aws.client("ssm")
    holder = lock.current(ssm, name)
    if holder is None:
        click.echo(f"{name}: no lock is held ({aws.region})")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("unlock removes another run's lock: confirm with --yes when not on a terminal")
        click.confirm(f"Remove the lock held by {holder.describe()}?", abort=True, err=True)
    lock.remove(ssm, name)
    click.echo(f"{name}: removed the lock held by {holder.describe()} ({aws.region})")


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@click.option(
    "--hours", type=click.FloatRange(min=0), default=730, show_default=True, help="Hours the deployment stands."
)
@click.option(
    "--gb",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="GB per month processed by each endpoint, NAT gateway and load balancer.",
)
@click.option(
    "--requests",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    metavar="MILLIONS",
    help="API Gateway requests per month, in millions.",
)
@click.option("--log-gb", type=click.FloatRange(min=0), default=0, show_default=True, help="GB of logs per log group.")
@click.option("--compare", type=click.Choice(["nat"]), help="Also price the interface endpoints replaced by NAT.")
@click.option("--live", is_flag=True, help="Read prices from the AWS Price List API (bundled table as fallback).")
@click.pass_obj
def cost(
    settings: Settings,
    scenario_name: str,
    sets: tuple[str, ...],
    hours: float,
    gb: float,
    requests: float,
    log_gb: float,
    compare: str | None,
    live: bool,
) -> None:
    """What the scenario costs per month: each billed dimension of each resource,
    its unit price and the total, in USD. Makes no AWS call without --live.

    Prices are AWS On-Demand list prices from a bundled table (see `--output json`'s
    prices_as_of); data transfer between AZs and to the internet is not included."""
    from vpcctl import cost as costing
    from vpcctl import render

    loaded = _load(scenario_name, sets)
    region = settings.resolve_region(loaded.region)
    usage = costing.Usage(hours=hours, gb=gb, requests_million=requests, log_gb=log_gb)
    notes: list[str] = []
    if live:
        keys = costing.price_keys(loaded, usage, bool(compare))
        book, notes = costing.read_live(settings.aws(None, region), region, keys)
    else:
        book = costing.PriceBook(region)
    estimate = costing.estimate(loaded, usage, book)
    estimate.notes += notes
    if live:
        estimate.source = "AWS Price List API, bundled table where noted"
    alternatives = costing.compare_nat(loaded, usage, book) if compare else None
    if settings.output == "json":
        render.emit_json(costing.report(estimate, alternatives))
        return
    render.cost_table(estimate, alternatives)


@cli.command()
@global_options
@click.argument("scenario_name", metavar="SCENARIO")
@sets_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid and DOT are text; SVG needs Graphviz's `dot` on the PATH.",
)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, writable=True), help="Write here, not to stdout.")
@click.option("--live", is_flag=True, help="Add each resource's AWS id and state, read from the deployment.")
@name_option
@click.pass_obj
def graph(
    settings: Settings,
    scenario_name: str,
    sets: tuple[str, ...],
    fmt: str,
    out_file: str | None,
    live: bool,
    deployment: str | None,
) -> None:
    """The scenario's topology and its network flows as a diagram: VPCs, subnets by
    zone, gateways, endpoints, load balancers -> target groups -> services, DNS.

    The same scenario always gives the same text, so a diagram can be committed and
    diffed. Makes no AWS call without --live."""
    from vpcctl import diagram as drawing
    from vpcctl import netcheck

    loaded = _load(scenario_name, sets)
    picture = drawing.from_scenario(loaded, drawing.flows_of(netcheck.flows(loaded)))
    if live:
        from vpcctl import deploy, render

        ctx = _context(settings, _deployment(deployment, loaded), loaded, render.Quiet(), loaded.region)
        rows = deploy.status(ctx, loaded, settings.parallelism)
        picture = drawing.with_live(picture, {r.logical_id: (r.id, r.state) for r in rows})
    text = drawing.to_dot(picture) if fmt in ("dot", "svg") else drawing.to_mermaid(picture)
    data = drawing.svg(text) if fmt == "svg" else text.encode()
    if out_file:
        with open(out_file, "wb") as handle:
            handle.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


# ---------------------------------------------------------------- sandbox


@cli.group(cls=Group)
def sandbox() -> None:
    """A local AWS emulator on 127.0.0.1 for trying vpcctl without an account.

    Start it, then add --sandbox (or set VPCCTL_SANDBOX=1) to other commands."""


@sandbox.command("start")
@click.option("--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 (default: a free one).")
@click.option(
    "--time-scale",
    type=click.FloatRange(0, 10),
    default=None,
    help="AWS's typical delays multiplied by this (0 = instant).",
)
def sandbox_start(port: int | None, time_scale: float | None) -> None:
    """Start the sandbox in the background (does nothing if one runs)."""
    from vpcctl import sandbox as box

    scale = box.DEFAULT_TIME_SCALE if time_scale is None else time_scale
    running, started = box.start(port, scale)
    verb = "started" if started else "already running"
    click.echo(f"sandbox {verb} on {running.endpoint} (pid {running.pid}, time scale {running.time_scale})")


@sandbox.command("stop")
def sandbox_stop() -> None:
    """Stop the sandbox; everything in it is forgotten."""
    from vpcctl import sandbox as box

    stopped = box.stop()
    click.echo(f"sandbox stopped (pid {stopped.pid})" if stopped else "no sandbox was running")


@sandbox.command("status")
def sandbox_status() -> None:
    """Say whether the sandbox runs, and where."""
    from vpcctl import sandbox as box

    running = box.current()
    if running is None:
        click.echo("no sandbox is running")
        sys.exit(1)
    click.echo(f"sandbox running on {running.endpoint} (pid {running.pid}, time scale {running.time_scale})")
    faults = box.emulation_errors(running)
    if faults is not None:
        click.echo(f"emulation errors: {faults}" + (f" (tracebacks in {running.log})" if faults else ""))


def main() -> None:
    cli(prog_name="vpcctl")
