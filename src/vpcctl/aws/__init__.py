"""One boto3 session, one lazily created client per service, API call counting."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.exceptions
import botocore.loaders
from botocore.config import Config

from vpcctl.errors import AwsError, BadInput, VpcctlError

# AWS's service models, read from disk once per process and shared by every session.
SERVICE_MODELS = botocore.loaders.create_loader()

# Members through which AWS create calls accept an idempotency token.
TOKEN_MEMBERS = ("ClientToken", "clientToken", "CallerReference", "CreatorRequestId")


RETRY_MODES = ("legacy", "standard", "adaptive")

# Operations that only read: a lost answer to one of them changes nothing.
READS = ("Describe", "List", "Get", "Search", "Lookup")


def resolve_region(
    flag: str | None, scenario_region: str | None, profile_region: str | None = None, *, required: bool = True
) -> str:
    """--region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then the scenario's own.

    No silent default: without any of them a command that needs a region stops (exit 2).
    """
    from vpcctl import constraints

    sources = [
        ("--region", flag),
        ("AWS_REGION", os.environ.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION")),
        ("the profile's region", profile_region),
        ("the scenario's region", scenario_region),
    ]
    for source, region in sources:
        if region:
            if region not in constraints.known_regions():
                raise BadInput(
                    f"unknown region '{region}' (from {source})",
                    hint="for example ap-northeast-1, us-east-1, eu-west-1",
                )
            return region
    if not required:
        return ""
    raise BadInput(
        "no region: give --region (or set AWS_REGION, or a region in the AWS profile)",
        hint="a deployment lives in one region; vpcctl does not guess one",
    )


def profile_region(profile: str | None) -> str | None:
    """The region the AWS config file gives the profile (--profile, AWS_PROFILE or default)."""
    import botocore.session

    try:
        return botocore.session.Session(profile=profile).get_scoped_config().get("region")
    except botocore.exceptions.ProfileNotFound as exc:
        raise BadInput(str(exc), hint="check --profile / AWS_PROFILE against ~/.aws/config") from None


def retry_settings(retry_mode: str | None, max_attempts: int | None) -> dict[str, Any]:
    """botocore's retry mode and attempts, from the arguments or the SDK's variables, checked."""
    mode = retry_mode or os.environ.get("AWS_RETRY_MODE") or "standard"
    if mode not in RETRY_MODES:
        raise BadInput(f"AWS_RETRY_MODE={mode}: expected one of {', '.join(RETRY_MODES)}")
    attempts_text = str(max_attempts) if max_attempts else os.environ.get("AWS_MAX_ATTEMPTS") or "8"
    if not attempts_text.isdigit() or int(attempts_text) < 1:
        raise BadInput(f"AWS_MAX_ATTEMPTS={attempts_text}: expected a whole number of at least 1")
    return {"mode": mode, "max_attempts": int(attempts_text)}


class Aws:
    """Clients for one account and region, shared by every thread of a run."""

    def __init__(
        self,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
        static_credentials: bool = False,
    ) -> None:
        dummy = {"aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"} if static_credentials else {}
        retries = retry_settings(retry_mode, max_attempts)
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region, **dummy)
        except botocore.exceptions.ProfileNotFound as exc:
            raise BadInput(str(exc), hint="check --profile / AWS_PROFILE against ~/.aws/config") from None
        self.session._session.register_component("data_loader", SERVICE_MODELS)
        self.region = region
        self.endpoint_url = endpoint_url
        self.config = Config(
            # botocore's own retries for throttling and transient errors; the SDK's
            # variables still choose, as they do for the AWS CLI.
            retries=retries,  # type: ignore[arg-type]
            user_agent_extra="vpcctl",
            connect_timeout=10,
            read_timeout=60,
        )
        self.calls: Counter[str] = Counter()
        self.started = time.monotonic()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self.session.events.register("before-call", self._count)
        self.session.events.register("needs-retry", self._note_ambiguous)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _note_ambiguous(self, operation: Any, response: Any = None, caught_exception: Any = None, **_: Any) -> None:
        """A change whose answer never came (timeout, reset) or came as a 5xx may have been
        made all the same: botocore retries it, and the retry can make it twice or meet
        "already exists". Throttling is not ambiguous: AWS did nothing."""
        watching = getattr(self._local, "ambiguous", None)
        if watching is None or operation.name.startswith(READS):
            return
        status = response[0].status_code if response else 0
        if caught_exception is not None or status >= 500:
            watching.append(operation.name)

    @contextmanager
    def ambiguity(self) -> Iterator[list[str]]:
        """The changes of this thread, inside the block, whose first answer was lost or a 5xx."""
        outer = getattr(self._local, "ambiguous", None)
        self._local.ambiguous = seen = []
        try:
            yield seen
        finally:
            self._local.ambiguous = outer
            if outer is not None:
                outer.extend(seen)

    def client(self, service: str) -> Any:
        made = self._clients.get(service)  # no wait while another thread makes another client
        if made is not None:
            return made
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            if service not in self._clients:
                self._clients[service] = self.session.client(
                    service, endpoint_url=self.endpoint_url, config=self.config
                )
            return self._clients[service]

    @property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]


def with_token(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Add a fresh idempotency token if the operation takes one.

    The token is made once per creation; botocore resends the same parameters on
    every retry of the call, so a retry after a lost response creates nothing twice.
    """
    members = client.meta.service_model.operation_model(operation).input_shape.members
    for name in TOKEN_MEMBERS:
        if name in members and name not in params:
            return {**params, name: uuid.uuid4().hex}
    return params


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return "NotFound" in code or code in (
        "NoSuchEntity",
        "ResourceNotFoundException",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
        "NoSuchHostedZone",
        "NotFoundException",
        "ServiceNotActiveException",
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "ListenerNotFound",
    )


def translate(exc: BaseException) -> VpcctlError:
    """Turn a botocore error into one of ours, keeping AWS's own code and words."""
    if isinstance(exc, VpcctlError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return AwsError(
            str(err.get("Code", "Error")),
            str(err.get("Message", "")),
            exc.operation_name,
            hint=HINTS.get(f"{exc.operation_name}:{err.get('Code', '')}") or HINTS.get(str(err.get("Code", ""))),
        )
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return VpcctlError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --sandbox",
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return VpcctlError(str(exc), hint="is the endpoint up? for the sandbox: vpcctl sandbox start")
    if isinstance(exc, botocore.exceptions.WaiterError):
        reason = (exc.last_response or {}).get("Error", {}).get("Message") or exc.kwargs.get("reason", str(exc))
        return VpcctlError(f"{exc.kwargs.get('name', 'waiter')}: {reason}")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return VpcctlError(str(exc))
    return VpcctlError(f"{type(exc).__name__}: {exc}")


HINTS = {
    "UnauthorizedOperation": "the credentials in use lack this permission",
    "AccessDenied": "the credentials in use lack this permission",
    "AccessDeniedException": "the credentials in use lack this permission",
    "VpcLimitExceeded": "the account is at its VPC quota; remove a VPC or raise the quota",
    "DependencyViolation": "something outside the deployment still uses this resource",
    # By operation and code: what AWS refuses, in the scenario's terms.
    "CreateService:InvalidParameterException": "a service's load_balancers entry must name a container of its "
    "task definition and one of that container's ports",
    "UpdateService:InvalidParameterException": "a service's load_balancers entry must name a container of its "
    "task definition and one of that container's ports",
    "CreateLoadBalancer:ValidationError": "an Application Load Balancer needs subnets in at least two "
    "Availability Zones: add a subnet in another zone",
    "CreateLoadBalancer:InvalidConfigurationRequest": "give a load balancer at most one subnet per Availability Zone",
    "CreateListener:UnsupportedCertificate": "an HTTPS/TLS listener needs an ACM certificate that is ISSUED: finish "
    "its DNS validation (a requested certificate stays PENDING_VALIDATION until then), or import one",
    "ModifyListener:UnsupportedCertificate": "an HTTPS/TLS listener needs an ACM certificate that is ISSUED: finish "
    "its DNS validation (a requested certificate stays PENDING_VALIDATION until then), or import one",
    "CreateListener:CertificateNotFound": "certificate_arn must name an ACM certificate in the deployment's region",
    "CreateVpcEndpoint:InvalidParameter": "interface endpoints with private DNS need dns_support and dns_hostnames "
    "true on their VPC",
    "ModifyVpcEndpoint:InvalidParameter": "interface endpoints with private DNS need dns_support and dns_hostnames "
    "true on their VPC",
    "CreateRoute:InvalidParameterValue": "a route inside the VPC's own CIDR cannot go to a gateway or peering (the "
    "local route serves it): route only other networks' CIDRs, which must not overlap this VPC's",
    "InternalError": "AWS failed on its side: run the command again (in the sandbox, a fault of the emulator: "
    "its log has the traceback; vpcctl sandbox status counts them)",
}
