"""A corpus of broken scenarios and command lines: every one exits 2 with one line naming
the file, line and key (or the --set / --name), no traceback, and no AWS call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import count_api_calls, scenario_text
from vpcctl import scenario
from vpcctl.cli import cli

FP, ALB, CLOSED, PEERING = "fargate-privatelink", "alb-fargate-sg", "closed-vpc-apigw", "internal-alb-peering"


@pytest.fixture(autouse=True)
def count_aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A counting hook on every botocore API call and every client vpcctl creates."""
    calls = count_api_calls(monkeypatch)
    real_client = __import__("vpcctl.aws", fromlist=["Aws"]).Aws.client

    def client(self: object, service: str) -> object:
        calls.append(f"client:{service}")
        return real_client(self, service)

    monkeypatch.setattr("vpcctl.aws.Aws.client", client)
    return calls


@dataclass(frozen=True)
class Case:
    id: str
    message: str
    key: str = ""  # the key path (or --set / --name) the error names
    old: str = ""  # a variant of `base`: `old` replaced by `new`
    new: str = ""
    marker: str | None = None  # the error's line is the first line of the file holding this
    base: str = FP
    raw: bytes | None = None  # or a file of exactly these bytes
    line: int | None = None  # the line, for raw files
    args: tuple[str, ...] = ()
    command: str = "up"
    after: str = ""  # the marker is looked for below the first line holding this


def after(case: Case, text: str) -> Case:
    return Case(**{**vars(case), "after": text})


def V(id: str, old: str, new: str, key: str, message: str, marker: str | None = None, base: str = FP) -> Case:
    return Case(id, message, key, old, new, new.strip().splitlines()[0] if marker is None else marker, base)


def R(id: str, raw: bytes | str, line: int | None, message: str, key: str = "") -> Case:
    data = raw.encode() if isinstance(raw, str) else raw
    return Case(id, message, key, raw=data, line=line)


def A(id: str, args: tuple[str, ...], message: str, key: str = "", command: str = "up") -> Case:
    return Case(id, message, key, args=args, command=command)


MINI = "scenario: mini\nresources:\n  vpc:\n    kind: vpc\n    cidr: 10.0.0.0/16\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
SG_RULE = "      - {protocol: tcp, port: 80, cidr: 0.0.0.0/0, description: HTTP from anywhere}\n"
TASK = "    cpu: 256\n    memory: 512\n"
HC = "    health_check:\n      path: /\n"
POLICY_START = '      {\n        "Version": "2012-10-17",\n'

CASES = [
    # ------------------------------------------------------ YAML, encodings, bytes
    R("unclosed quote", "scenario: 'mini\nresources: {}\n", 3, "not valid YAML"),
    R("list item without a space", MINI + "    routes:\n      - a\n      -b: 1\n", 8, "not valid YAML"),
    R("unclosed bracket", "scenario: mini\nresources: [a, b\n", 3, "not valid YAML"),
    R("unclosed brace", "scenario: mini\nresources:\n  vpc: {kind: vpc\n", 4, "not valid YAML"),
    R("tab indentation", "scenario: mini\nresources:\n\tvpc: {}\n", 3, "not valid YAML"),
    R("two documents", MINI + "---\nscenario: other\n", 6, "not valid YAML"),
    R("undefined alias", MINI + "    dns_support: *nope\n", 6, "not valid YAML"),
    R("NUL byte", MINI.replace("10.0.0.0/16", "10.0.0.0/16\x00"), 5, "a NUL byte"),
    R("control character", MINI.replace("kind: vpc", "kind: vpc\x07"), 4, "not allowed"),
    R("UTF-16 LE with BOM", "\ufeff".encode("utf-16-le") + MINI.encode("utf-16-le"), 1, "the file is UTF-16"),
    R("UTF-16 BE with BOM", "\ufeff".encode("utf-16-be") + MINI.encode("utf-16-be"), 1, "the file is UTF-16"),
    R("UTF-32 with BOM", "\ufeff".encode("utf-32-le") + MINI.encode("utf-32-le"), 1, "the file is UTF-32"),
    R("Latin-1 byte", MINI.encode() + b"description: caf\xe9\n", 6, "not UTF-8"),
    R("binary garbage", b"\x89PNG\r\n\x1a\n\xff\xd8\xff\xe0" + bytes(range(128, 256)), 1, "not UTF-8"),
    R("binary with NUL", b"\x7fELF\x02\x01\x01\x00\x00\x00", 1, "a NUL byte"),
    R(
        "CloudFormation !Ref",
        MINI + "    dns_support: !Ref Enabled\n",
        6,
        "the tag '!Ref'",
        "resources.vpc.dns_support",
    ),
    R("CloudFormation !Sub", MINI.replace("10.0.0.0/16", "!Sub '${Cidr}'"), 5, "the tag '!Sub'", "resources.vpc.cidr"),
    R(
        "python object tag",
        MINI + "    dns_support: !!python/object/apply:os.system [echo hi]\n",
        6,
        "python/object/apply:os.system",
        "resources.vpc.dns_support",
    ),
    R("python name tag", MINI + "    dns_support: !!python/name:os.system\n", 6, "python/name:os.system"),
    R("binary tag", MINI + "    dns_support: !!binary aGVsbG8=\n", 6, "tag:yaml.org,2002:binary"),
    R("tagged mapping", "scenario: mini\nresources: !!python/object:dict {}\n", 2, "python/object:dict", "resources"),
    R("alias bomb", BOMB + MINI, None, "aliases expand too far"),
    R("recursive alias", MINI + "    dns_support: &loop [*loop]\n", 6, "recursive alias", "resources.vpc.dns_support"),
    R("nested too deeply", "scenario: mini\nresources: " + "[" * 80 + "]" * 80 + "\n", 2, "nested more than"),
    R("duplicate key", MINI + "    cidr: 10.1.0.0/16\n", 6, "duplicate key 'cidr'", "resources.vpc.cidr"),
    R("complex key", MINI + "    ? [a, b]\n    : c\n", 6, "keys must be plain names"),
    R("empty file", "", 1, "the file is empty"),
    R("only comments", "# nothing here\n", 1, "the file is empty"),
    R("a list at the top", "- scenario: mini\n", 1, "a scenario is a mapping"),
    R("a scalar at the top", "just words\n", 1, "a scenario is a mapping"),
    # -------------------------------------------------------------- structure
    R("unknown top key", MINI + "outputz: {}\n", 6, "unknown key 'outputz'", "outputz"),
    R("no scenario name", MINI.replace("scenario: mini\n", ""), 1, "'scenario' is required"),
    R("scenario name with ../", MINI.replace("mini", "../etc"), 1, "scenario name '../etc'", "scenario"),
    R("scenario name in unicode", MINI.replace("mini", "szenario-ü"), 1, "is not usable", "scenario"),
    R("scenario name with _", MINI.replace("mini", "my_scenario"), 1, "is not usable", "scenario"),
    R("scenario name in capitals", MINI.replace("mini", "Mini"), 1, "is not usable", "scenario"),
    R("scenario name too long", MINI.replace("mini", "m" * 25), 1, "is not usable", "scenario"),
    R("scenario name ending in -", MINI.replace("mini", "mini-"), 1, "is not usable", "scenario"),
    R("scenario name a number", MINI.replace("mini", "42"), 1, "'scenario' is required"),
    R("no resources", "scenario: mini\nresources: {}\n", 2, "'resources' must map", "resources"),
    R("resources a list", "scenario: mini\nresources: [vpc]\n", 2, "'resources' must map", "resources"),
    R("region a number", MINI + "region: 42\n", 6, "'region' must be a Region name", "region"),
    R("unknown region", MINI + "region: ap-northeast-9\n", 6, "unknown region 'ap-northeast-9'", "region"),
    R("region typo", MINI + "region: us-east1\n", 6, "unknown region 'us-east1'", "region"),
    V("unknown kind", "    kind: log_group\n", "    kind: log_bucket\n", "resources.web-logs.kind", "unknown kind"),
    V("logical id with _", "  web-logs:\n", "  web_logs:\n", "resources.web_logs", "must start with a letter"),
    V("logical id starting with a digit", "  web-logs:\n", "  9logs:\n", "resources.9logs", "must start with a letter"),
    V("target group id ending in -", "  web-tg:\n", "  web-tg-:\n", "resources.web-tg-", "ends in '-'"),
    V("logical id with --", "  web-logs:\n", "  web--logs:\n", "resources.web--logs", "holds '--'"),
    V(
        "unknown key",
        "    retention_days: 7\n",
        "    retention_days: 7\n    retension: 3\n",
        "retension",
        "unknown key",
        marker="    retension:",
    ),
    V(
        "string for a number",
        TASK,
        "    cpu: quarter\n    memory: 512\n",
        "resources.web.cpu",
        "expected a whole number",
    ),
    V("boolean for a number", TASK, "    cpu: true\n    memory: 512\n", "resources.web.cpu", "expected a whole number"),
    V(
        "number for a boolean",
        "    dns_support: true\n",
        "    dns_support: 1\n",
        "dns_support",
        "expected true or false",
    ),
    V("missing required", "    service: ecr.api\n", "", "resources.ecr-api", "'service' is required", "  ecr-api:"),
    V(
        "dangling reference",
        "    security_groups: [sec-alb]\n",
        "    security_groups: [sec-nope]\n",
        "",
        "refers to nothing",
    ),
    V(
        "wrong kind referenced",
        "    security_groups: [sec-alb]\n",
        "    security_groups: [vpc]\n",
        "resources.alb.security_groups[0]",
        "'vpc' is a vpc, expected a security_group",
    ),
    V(
        "depends_on cycle",
        "    cidr: 10.0.0.0/16\n",
        "    cidr: 10.0.0.0/16\n    depends_on: [web-service]\n",
        "",
        "cycle:",
        marker="  vpc:",
    ),
    V(
        "depends_on itself",
        "    retention_days: 7\n",
        "    retention_days: 7\n    depends_on: [web-logs]\n",
        "",
        "cycle:",
        marker="  web-logs:",
    ),
    V(
        "depends_on nothing",
        "    retention_days: 7\n",
        "    retention_days: 7\n    depends_on: [nothing]\n",
        "depends_on[0]",
        "'nothing' refers to nothing",
        marker="    depends_on: [nothing]",
    ),
    V(
        "unknown parameter",
        "        image: ${params.image}\n",
        "        image: ${params.imag}\n",
        "image",
        "unknown parameter",
    ),
    V("unclosed ${", "        image: ${params.image}\n", "        image: ${params.image\n", "image", "holds a '${'"),
    V(
        "unclosed run-time value",
        "  url: http://${alb.dns_name}/\n",
        "  url: http://${alb.dns_name/\n",
        "url",
        "holds a '${'",
    ),
    V(
        "unknown attribute",
        "  url: http://${alb.dns_name}/\n",
        "  url: http://${alb.dns}/\n",
        "outputs.url",
        "no attribute",
    ),
    V(
        "parameter without default",
        "  desired_count:\n    default: 2\n",
        "  desired_count:\n    deflt: 2\n",
        "parameters.desired_count",
        "needs a 'default'",
        marker="  desired_count:",
    ),
    V(
        "parameter name with -",
        "  desired_count:\n",
        "  desired-count:\n",
        "parameters.desired-count",
        "parameter name",
    ),
    V(
        "outputs a list",
        "outputs:\n  alb_dns: ${alb.dns_name}\n  url: http://${alb.dns_name}/\n  curl: curl -s http://${alb.dns_name}/\n",
        "outputs:\n  - x\n",
        "outputs",
        "must map names",
    ),
    # ------------------------------------------------------------ network values
    V("VPC /8", "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.0/8\n", "resources.vpc.cidr", "not /8"),
    V("VPC /29", "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.0/29\n", "resources.vpc.cidr", "not /29"),
    V("subnet /29", "    cidr: 10.0.3.0/24\n", "    cidr: 10.0.3.0/29\n", "public-subnet2.cidr", "not /29"),
    V("subnet /32", "    cidr: 10.0.3.0/24\n", "    cidr: 10.0.3.7/32\n", "public-subnet2.cidr", "not /32"),
    V("malformed CIDR", "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.300/16\n", "vpc.cidr", "not a valid IPv4 CIDR"),
    V("host bits set", "    cidr: 10.0.0.0/16\n", "    cidr: 10.0.0.1/16\n", "vpc.cidr", "has host bits set"),
    V(
        "subnet outside its VPC",
        "    cidr: 10.0.3.0/24\n",
        "    cidr: 10.9.3.0/24\n",
        "public-subnet2.cidr",
        "not inside",
    ),
    V("overlapping subnets", "    cidr: 10.0.3.0/24\n", "    cidr: 10.0.1.128/25\n", "public-subnet2.cidr", "overlaps"),
    V("zone letter b in Tokyo", "    az: c\n", "    az: b\n", "public-subnet2.az", "not an Availability Zone"),
    V("zone letter z", "    az: c\n", "    az: z\n", "public-subnet2.az", "not an Availability Zone"),
    V("zone of another region", "    az: c\n", "    az: us-east-1a\n", "public-subnet2.az", "of ap-northeast-1"),
    V("two zone letters", "    az: c\n", "    az: ac\n", "public-subnet2.az", "not an Availability Zone"),
    V("rule port 0", SG_RULE, SG_RULE.replace("port: 80", "port: 0"), "ingress[0].port", "not a valid port"),
    V("rule port 70000", SG_RULE, SG_RULE.replace("port: 80", "port: 70000"), "ingress[0].port", "not a valid port"),
    V(
        "rule range upside down",
        SG_RULE,
        SG_RULE.replace("port: 80", "from_port: 90, to_port: 80"),
        "ingress[0].to_port",
        "below from_port",
    ),
    V("rule range half", SG_RULE, SG_RULE.replace("port: 80", "from_port: 80"), "ingress[0]", "both 'from_port'"),
    V("rule without a port", SG_RULE, SG_RULE.replace("port: 80, ", ""), "ingress[0]", "needs 'port'"),
    V("all traffic with a port", SG_RULE, SG_RULE.replace("tcp", "all"), "ingress[0].port", "give no port"),
    V("icmp type 300", SG_RULE, SG_RULE.replace("tcp, port: 80", "icmp, from_port: 300"), "from_port", "ICMP"),
    V("rule without a source", SG_RULE, SG_RULE.replace("cidr: 0.0.0.0/0, ", ""), "ingress[0]", "exactly one of"),
    V(
        "rule with two sources",
        SG_RULE,
        SG_RULE.replace("cidr:", "source: sec-alb, cidr:"),
        "ingress[0]",
        "exactly one of",
    ),
    V(
        "group description in unicode",
        "    description: HTTP from anywhere to the ALB\n",
        "    description: HTTP von überall\n",
        "sec-alb.description",
        "not a valid security group description",
    ),
    V(
        "group description with an apostrophe",
        "    description: HTTP from anywhere to the ALB\n",
        "    description: the ALB's group\n",
        "sec-alb.description",
        "not a valid security group description",
    ),
    V(
        "rule description with a quote",
        SG_RULE,
        SG_RULE.replace("description: HTTP from anywhere", 'description: "say \\"hi\\""'),
        "ingress[0].description",
        "not a valid rule description",
    ),
    V(
        "route without a target",
        "        gateway: igw\n",
        "",
        "routes[0]",
        "exactly one of",
        marker="      - destination",
    ),
    V(
        "endpoint service with spaces",
        "    service: ecr.api\n",
        "    service: ecr api\n",
        "service",
        "endpoint service",
    ),
    V(
        "gateway endpoint with subnets",
        "    type: gateway\n",
        "    type: gateway\n    subnets: [private-subnet1]\n",
        "resources.s3.type",
        "gateway endpoint takes route_tables",
        marker="    type: gateway",
    ),
    # ------------------------------------------------------------ compute values
    V(
        "desired_count -1",
        "    desired_count: ${params.desired_count}\n",
        "    desired_count: -1\n",
        "desired_count",
        "below 0",
    ),
    V(
        "minimum healthy 150",
        "    minimum_healthy_percent: 50\n",
        "    minimum_healthy_percent: 150\n",
        "minimum_healthy_percent",
        "not a valid minimum healthy percent",
    ),
    V("maximum 50", "    maximum_percent: 200\n", "    maximum_percent: 50\n", "maximum_percent", "maximum percent"),
    V("Fargate cpu 300", TASK, "    cpu: 300\n    memory: 512\n", "resources.web.cpu", "not a Fargate cpu value"),
    V(
        "cpu 256 with 4096 MiB",
        TASK,
        "    cpu: 256\n    memory: 4096\n",
        "web.memory",
        "cpu 256 with memory 4096",
        marker="    memory:",
    ),
    V(
        "cpu 1024 with 1536 MiB",
        TASK,
        "    cpu: 1024\n    memory: 1536\n",
        "web.memory",
        "cpu 1024 with memory 1536",
        marker="    memory:",
    ),
    V(
        "cpu 4096 with 4096 MiB",
        TASK,
        "    cpu: 4096\n    memory: 4096\n",
        "web.memory",
        "cpu 4096 with memory 4096",
        marker="    memory:",
    ),
    V(
        "container port 0",
        "        port: ${params.container_port}\n",
        "        port: 0\n",
        "containers[0].port",
        "port",
    ),
    V("container name with spaces", "      - name: web\n", "      - name: web server\n", "containers[0].name", "name"),
    V(
        "two containers of one name",
        "      - name: web\n",
        "      - {name: web, image: busybox}\n      - name: web\n",
        "containers[1].name",
        "two containers are named 'web'",
        marker="      - name: web",
    ),
    V(
        "empty image",
        "        image: ${params.image}\n",
        '        image: ""\n',
        "containers[0].image",
        "container image",
    ),
    V(
        "image with spaces",
        "        image: ${params.image}\n",
        "        image: nginx latest\n",
        "image",
        "container image",
    ),
    V(
        "service names a container the task does not have",
        "{target_group: web-tg, container: web, port:",
        "{target_group: web-tg, container: app, port:",
        "load_balancers[0].container",
        "has no container 'app'",
    ),
    V(
        "instance type",
        "    instance_type: ${params.instance_type}\n",
        "    instance_type: big\n",
        "instance_type",
        "instance type",
        base=CLOSED,
    ),
    V(
        "AMI id",
        "    instance_type: ${params.instance_type}\n",
        "    instance_type: t3.micro\n    ami: ubuntu\n",
        "resources.client.ami",
        "AMI id",
        marker="    ami: ubuntu",
        base=CLOSED,
    ),
    V(
        "managed policy not an ARN",
        "      - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n",
        "      - AmazonECSTaskExecutionRolePolicy\n",
        "managed_policies[0]",
        "managed policy ARN",
    ),
    V(
        "service principal",
        "    service: ecs-tasks.amazonaws.com\n",
        "    service: ecs-tasks\n",
        "ecsTaskExecutionRole.service",
        "service principal",
    ),
    V("log retention 10", "    retention_days: 7\n", "    retention_days: 10\n", "retention_days", "not a retention"),
    V("log retention 0", "    retention_days: 7\n", "    retention_days: 0\n", "retention_days", "not a retention"),
    # ------------------------------------------------------ load balancing values
    V(
        "health check path without /",
        HC,
        "    health_check:\n      path: health\n",
        "health_check.path",
        "starts with '/'",
        marker="      path: health",
    ),
    V(
        "health check path with a space",
        HC,
        "    health_check:\n      path: /a b\n",
        "health_check.path",
        "path",
        marker="      path: /a b",
    ),
    V(
        "health check interval 1",
        HC,
        HC + "      interval: 1\n",
        "health_check.interval",
        "not a valid health-check interval",
        marker="      interval: 1",
    ),
    V(
        "healthy threshold 11",
        HC,
        HC + "      healthy_threshold: 11\n",
        "health_check.healthy_threshold",
        "healthy threshold",
        marker="      healthy_threshold: 11",
    ),
    V(
        "health check port",
        HC,
        HC + "      port: web\n",
        "health_check.port",
        "'traffic-port' or a port",
        marker="      port: web",
    ),
    V(
        "target group port 0",
        "    protocol: HTTP\n    port: ${params.container_port}\n",
        "    protocol: HTTP\n    port: 0\n",
        "web-tg.port",
        "not a valid port",
        marker="    port: 0",
    ),
    V(
        "listener port 99999",
        "    port: 80\n    protocol: HTTP\n",
        "    port: 99999\n    protocol: HTTP\n",
        "http.port",
        "port",
    ),
    V(
        "HTTPS listener without a certificate",
        "    port: 80\n    protocol: HTTP\n",
        "    port: 443\n    protocol: HTTPS\n",
        "resources.http.certificate_arn",
        "needs a certificate",
        marker="  http:",
    ),
    V(
        "certificate that is not an ARN",
        "    port: 80\n    protocol: HTTP\n",
        "    port: 443\n    protocol: HTTPS\n    certificate_arn: my-cert\n",
        "http.certificate_arn",
        "certificate ARN",
        marker="    certificate_arn: my-cert",
    ),
    V(
        "TCP listener on an ALB",
        "    port: 80\n    protocol: HTTP\n",
        "    port: 80\n    protocol: TCP\n",
        "protocol",
        "no TCP",
        marker="    protocol: TCP",
    ),
    # -------------------------------------------------- API Gateway, DNS, Resolver
    V(
        "role policy that is not JSON",
        POLICY_START,
        "      {\n        Version: 2012-10-17,\n",
        "resources.ecsTaskExecutionRole.policy",
        "the policy is not JSON",
        marker="    policy: |",
        base=CLOSED,
    ),
    after(
        V(
            "API policy that is not JSON",
            '            "Principal": "*",\n',
            "            Principal: everyone,\n",
            "resources.api.policy",
            "the policy is not JSON",
            marker="    policy: |",
            base=CLOSED,
        ),
        "  api:",
    ),
    after(
        V(
            "API policy without a statement",
            '        "Statement": [\n          {\n            "Effect": "Allow",\n            "Principal"',
            '        "Statements": [\n          {\n            "Effect": "Allow",\n            "Principal"',
            "resources.api.policy",
            "with a 'Statement'",
            marker="    policy: |",
            base=CLOSED,
        ),
        "  api:",
    ),
    V(
        "API route path without /",
        "{method: GET, path: /,",
        "{method: GET, path: api,",
        "path",
        "start with '/'",
        base=CLOSED,
    ),
    V(
        "API method",
        "{method: GET, path: /,",
        "{method: FETCH, path: /,",
        "routes[0].method",
        "not an HTTP",
        base=CLOSED,
    ),
    V("API uri", 'uri: "http://${nlb.dns_name}/"', 'uri: "${nlb.dns_name}/"', "routes[0].uri", "http://", base=CLOSED),
    V(
        "stage name",
        "    stage: ${params.stage}\n",
        "    stage: prod/v1\n",
        "resources.api.stage",
        "stage name",
        base=CLOSED,
    ),
    V(
        "resolver endpoint in one subnet",
        "    direction: INBOUND\n    subnets: [private-1a, private-1c]\n",
        "    direction: INBOUND\n    subnets: [private-1a]\n",
        "resolver-inbound.subnets",
        "at least 2 subnets",
        marker="    subnets: [private-1a]",
        base=CLOSED,
    ),
    V(
        "public NAT without an address",
        "    elastic_ip: nat-eip\n",
        "",
        "resources.nat",
        "needs an elastic_ip",
        marker="  nat:",
        base=ALB,
    ),
    # ------------------------------------------------------ --set, --name, --region
    A("--set a negative count", ("--set", "desired_count=-1"), "(from --set desired_count=-1)", "desired_count"),
    A("--set a word for a count", ("--set", "desired_count=two"), "--set desired_count=two: expected a whole number"),
    A("--set port 99999", ("--set", "container_port=99999"), "(from --set container_port=99999)", "port"),
    A("--set an empty image", ("--set", "image="), "(from --set image=)", "containers[0].image"),
    A("--set an image with a newline", ("--set", "image=nginx\n"), "--set image: a value is one line"),
    A("--set an unknown parameter", ("--set", "nope=1"), "--set nope: the scenario has no parameter 'nope'"),
    A("--set without =", ("--set", "novalue"), "--set novalue: expected key=value"),
    A("--set twice", ("--set", "image=a", "--set", "image=b"), "--set image: given twice"),
    A("--set an unclosed ${", ("--set", "image=${params.x"), "holds a '${'"),
    A("--name empty", ("--name", ""), "deployment name '' is empty"),
    A("--name with a newline", ("--name", "fp\n"), "deployment name 'fp\\n' is not usable"),
    A("--name with _", ("--name", "Bad_Name"), "deployment name 'Bad_Name' is not usable"),
    A("--name in unicode", ("--name", "prüfung"), "is not usable"),
    A("--name too long", ("--name", "a" * 25), "is not usable"),
    A("check --name refuses it too", ("--name", "fp\n"), "is not usable", command="check"),
    A("teardown --name refuses it too", ("--name", "-x", "--yes"), "is not usable", command="teardown"),
    A("status --name refuses it too", ("--name", "a b"), "is not usable", command="status"),
    A("--region typo", ("--region", "ap-northeast-9"), "unknown region 'ap-northeast-9'"),
]


def make_file(tmp_path: Path, case: Case) -> tuple[Path, int | None]:
    if case.raw is not None:
        path = tmp_path / "broken.yaml"
        path.write_bytes(case.raw)
        return path, case.line
    text = scenario_text(case.base)
    if case.old:
        assert case.old in text, f"{case.id}: {case.old!r} is not in {case.base}"
        text = text.replace(case.old, case.new, 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    if case.marker is None:
        return path, None
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if case.after in line) if case.after else 0
    for number, line in enumerate(lines[start:], start + 1):
        if line.startswith(case.marker) or (case.marker.strip() and case.marker.strip() in line):
            return path, number
    raise AssertionError(f"{case.id}: {case.marker!r} not in the file")


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--endpoint-url", "http://127.0.0.1:9", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_input_exits_2_with_file_line_and_key(tmp_path: Path, case: Case, count_aws_calls: list[str]) -> None:
    if case.args:
        target = [] if case.command in ("teardown", "status") else [FP]
        code, output = run([case.command, *target, *case.args])
    else:
        path, line = make_file(tmp_path, case)
        code, output = run([case.command, str(path)])
        where = f"{path}:{line}:" if line else f"{path}:"
        assert where in output, output
    assert code == 2, output
    assert case.message in output, output
    assert case.key in output, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and len(output.splitlines()) <= 2, output
    assert count_aws_calls == []


def test_the_corpus_covers_every_class() -> None:
    assert len(CASES) >= 90
    assert len({c.id for c in CASES}) == len(CASES)


# ------------------------------------------------------------------- paths


def test_a_directory_is_not_a_scenario(tmp_path: Path, count_aws_calls: list[str]) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    code, output = run(["up", str(folder)])
    assert code == 2 and f"{folder} is a directory" in output
    assert count_aws_calls == []


def test_an_unreadable_file_is_named(tmp_path: Path, count_aws_calls: list[str]) -> None:
    # /proc/self/mem is a file every process has and none can read from its start
    # (this works as root too, where file modes do not stop a read).
    path = tmp_path / "unreadable.yaml"
    if Path("/proc/self/mem").exists():
        path.symlink_to("/proc/self/mem")
    else:
        path.write_text(MINI)
        path.chmod(0)
    code, output = run(["up", str(path)])
    assert code == 2 and f"{path}: cannot be read" in output, output
    assert "Traceback" not in output and count_aws_calls == []


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(8 * 1024 * 1024)  # sparse: no disk used
    code, output = run(["up", str(path)])
    assert code == 2 and "not a scenario file" in output


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    code, output = run(["up", str(tmp_path / "gone.yaml")])
    assert code == 2 and "no scenario file at" in output


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + scenario_text().encode())
    code, output = run(["check", str(path)])
    assert code == 0, output


def test_an_alias_within_the_bound_is_fine(tmp_path: Path) -> None:
    # Anchors and aliases are ordinary YAML: a repeated list of subnets is not a bomb.
    text = scenario_text().replace(
        "    subnets: [public-subnet1, public-subnet2]\n    routes:",
        "    subnets: &public [public-subnet1, public-subnet2]\n    routes:",
    )
    text = text.replace(
        "    subnets: [public-subnet1, public-subnet2]\n    security_groups: [sec-alb]\n",
        "    subnets: *public\n    security_groups: [sec-alb]\n",
    )
    path = tmp_path / "alias.yaml"
    path.write_text(text)
    assert "*public" in text
    code, output = run(["check", str(path)])
    assert code == 0, output


# ------------------------------------------------- open doors in shipped scenarios


def groups_of_targets(loaded) -> dict[str, set[str]]:
    """Security group -> the tasks, instances and endpoints that use it."""
    users: dict[str, set[str]] = {}
    for lid, resource in loaded.resources.items():
        if resource.kind in ("instance", "ecs_service", "vpc_endpoint"):
            for group in resource.spec.security_groups:
                users.setdefault(group, set()).add(lid)
    return users


@pytest.mark.parametrize("name", sorted(scenario.available()))
@pytest.mark.parametrize("sets", [{}, {"ssh_cidr": "203.0.113.7/32"}], ids=["defaults", "with ssh"])
def test_no_shipped_scenario_admits_the_internet_to_a_task_an_instance_or_an_endpoint(name, sets) -> None:
    loaded = scenario.load(name, {k: v for k, v in sets.items() if k in scenario.load(name).parameters})
    for group, users in groups_of_targets(loaded).items():
        spec = loaded.resources[group].spec
        open_rules = [r for r in spec.ingress if r.cidr == "0.0.0.0/0"]
        # Internet-facing load balancers may take 0.0.0.0/0; what sits behind them never does
        # (a bastion takes ssh only from the address it was given).
        assert open_rules == [], (name, group, users)


def test_a_bastion_needs_the_address_it_is_reached_from() -> None:
    for name in ("alb-ip-targets", "internal-alb-peering"):
        without = scenario.load(name)
        assert not [r for r in without.resources.values() if "bastion" in r.id or r.id == "step-server"]
        assert "ssh_cidr" in without.parameters and without.parameters["ssh_cidr"].default == ""
        with_ssh = scenario.load(name, {"ssh_cidr": "203.0.113.7/32"})
        assert len(with_ssh.resources) > len(without.resources)
        assert set(with_ssh.outputs) > set(without.outputs)  # the bastion's outputs come with it


def test_alb_ip_targets_admit_only_the_load_balancer() -> None:
    loaded = scenario.load("alb-ip-targets")
    targets = loaded.resources["klein-targets-sg"].spec
    assert [(r.port, r.source, r.cidr) for r in targets.ingress] == [(80, "klein-alb-sg", None)]
    for lid in ("web-a", "web-b", "publicIpOn", "publicIpOn2"):
        assert loaded.resources[lid].spec.security_groups == ("klein-targets-sg",)
    for lid in ("klein-alb-by-ip", "toPublicServices"):
        assert loaded.resources[lid].spec.security_groups == ("klein-alb-sg",)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            {"ssh_cidr": "my laptop"},
            "is not a valid IPv4 CIDR (Expected 4 octets in 'my laptop') (from --set ssh_cidr=",
        ),
        ({"ssh_cidr": "10.0.0.1/24"}, "has host bits set"),
    ],
)
def test_a_bad_ssh_address_is_refused(sets, message) -> None:
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    code, output = run(["up", "alb-ip-targets", *args])
    assert code == 2 and message in output, output


def test_when_may_not_leave_out_what_others_need(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        MINI.replace("    kind: vpc\n", "    kind: vpc\n    when: ''\n")
        + "  sn:\n    kind: subnet\n    vpc: vpc\n    cidr: 10.0.0.0/24\n"
    )
    code, output = run(["up", str(path)])
    assert code == 2 and "resources.sn.vpc: 'vpc' is left out by its 'when'" in output, output
