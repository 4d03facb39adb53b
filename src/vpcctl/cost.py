"""`vpcctl cost`: what a scenario costs per month, resource by resource.

Reads the validated scenario only (no AWS call unless prices are read live): each
billed resource gives one line per billed dimension — hours, Availability Zones,
GB processed, vCPU- and GB-hours — priced from `prices.PRICES` or from the AWS Price
List API. `compare_nat` prices the same scenario with its interface endpoints
replaced by NAT gateways, the choice the Fargate-behind-PrivateLink article is about.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vpcctl import model, prices
from vpcctl.errors import BadInput

HOURS_PER_MONTH = 730  # AWS's own figure for monthly estimates
# A private API can be called only through its execute-api endpoint: a NAT gateway does not replace it.
NOT_REPLACEABLE_BY_NAT = ("execute-api",)


@dataclass(frozen=True)
class Usage:
    """How much the deployment is used in the period priced."""

    hours: float = HOURS_PER_MONTH
    gb: float = 0.0  # GB processed per month by each resource that bills for data processed
    requests_million: float = 0.0  # API requests per month, in millions
    log_gb: float = 0.0  # GB of logs ingested per month by each log group


@dataclass(frozen=True)
class Line:
    resource: str  # logical id
    kind: str
    dimension: str  # what is billed: 'endpoint hours (2 AZs)', 'GB processed', ...
    quantity: float
    unit: str
    rate: float  # USD per unit
    price_key: str

    @property
    def monthly(self) -> float:
        return self.quantity * self.rate


@dataclass
class Estimate:
    scenario: str
    region: str
    usage: Usage
    lines: list[Line]
    free: list[str]  # logical ids of resources AWS does not bill for
    notes: list[str] = field(default_factory=list)
    source: str = f"bundled table ({prices.PRICES_AS_OF})"

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def by_resource(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.resource] = out.get(line.resource, 0.0) + line.monthly
        return out


class PriceBook:
    """The rates of one region: the bundled table, with live prices laid over it."""

    def __init__(self, region: str, live: dict[str, prices.Rate] | None = None) -> None:
        if region not in prices.PRICES and live is None:
            known = ", ".join(sorted(prices.PRICES))
            raise BadInput(
                f"no bundled prices for region {region} (the table has {known})",
                hint="run with --live to read the AWS Price List API, or --region one of those",
            )
        self.region = region
        self.rates = {**prices.PRICES.get(region, {}), **(live or {})}

    def rate(self, key: str) -> prices.Rate:
        if key not in self.rates:
            raise BadInput(
                f"no price for {key.removeprefix('ec2:')} in {self.region}",
                hint="run with --live to read the AWS Price List API",
            )
        return self.rates[key]


def estimate(scenario: model.Scenario, usage: Usage, book: PriceBook) -> Estimate:
    """Every billed line of every resource of the scenario."""
    lines: list[Line] = []
    free: list[str] = []
    for lid, resource in scenario.resources.items():
        found = list(_lines(scenario, lid, resource.spec, usage, book))
        if found:
            lines += found
        else:
            free.append(lid)
    return Estimate(scenario.name, book.region, usage, lines, free)


def _line(book: PriceBook, lid: str, spec: model.Spec, key: str, dimension: str, quantity: float) -> Line:
    rate = book.rate(key)
    return Line(lid, spec.kind, dimension, quantity, rate.unit, rate.usd, key)


def _zones(scenario: model.Scenario, subnets: tuple[str, ...]) -> set[str]:
    return {_spec(scenario, s).az for s in subnets}


def _spec(scenario: model.Scenario, lid: str) -> Any:
    return scenario.resources[lid].spec


def _lines(scenario: model.Scenario, lid: str, spec: model.Spec, usage: Usage, book: PriceBook) -> Iterator[Line]:
    hours = usage.hours
    if isinstance(spec, model.VpcEndpoint) and spec.type == "interface":
        zones = len(_zones(scenario, spec.subnets)) or 1
        yield _line(book, lid, spec, "interface_endpoint_hour", f"endpoint hours × {zones} AZ", zones * hours)
        if usage.gb:
            yield _line(book, lid, spec, "interface_endpoint_gb", "data processed", usage.gb)
    elif isinstance(spec, model.NatGateway):
        yield _line(book, lid, spec, "nat_gateway_hour", "gateway hours", hours)
        if usage.gb:
            yield _line(book, lid, spec, "nat_gateway_gb", "data processed", usage.gb)
    elif isinstance(spec, model.ElasticIp):
        yield _line(book, lid, spec, "public_ipv4_hour", "public IPv4 address", hours)
    elif isinstance(spec, model.LoadBalancer):
        yield from _load_balancer_lines(scenario, lid, spec, usage, book)
    elif isinstance(spec, model.EcsService):
        yield from _service_lines(scenario, lid, spec, usage, book)
    elif isinstance(spec, model.Instance):
        yield _line(book, lid, spec, f"ec2:{spec.instance_type}", f"{spec.instance_type} hours", hours)
        if spec.associate_public_ip:
            yield _line(book, lid, spec, "public_ipv4_hour", "public IPv4 address", hours)
    elif isinstance(spec, model.ResolverEndpoint):
        enis = len(spec.subnets)
        yield _line(book, lid, spec, "resolver_eni_hour", f"ENI hours × {enis} IP addresses", enis * hours)
    elif isinstance(spec, model.HostedZone):
        # Route 53 bills a hosted zone per month begun, not prorated.
        yield _line(book, lid, spec, "hosted_zone_month", "hosted zone", math.ceil(hours / HOURS_PER_MONTH))
    elif isinstance(spec, model.RestApi):
        yield _line(book, lid, spec, "rest_api_million", "requests", usage.requests_million)
    elif isinstance(spec, model.LogGroup) and usage.log_gb:
        yield _line(book, lid, spec, "logs_ingest_gb", "log data ingested", usage.log_gb)


def _load_balancer_lines(
    scenario: model.Scenario, lid: str, spec: model.LoadBalancer, usage: Usage, book: PriceBook
) -> Iterator[Line]:
    family = "alb" if spec.type == "application" else "nlb"
    yield _line(book, lid, spec, f"{family}_hour", "load balancer hours", usage.hours)
    if usage.gb:
        # Processed bytes: 1 GB in an hour is one (N)LCU for that hour, so a month's GB are its LCU-hours.
        yield _line(book, lid, spec, f"{family}_lcu_hour", "capacity units (processed bytes)", usage.gb)
    if spec.scheme == "internet-facing":
        zones = len(_zones(scenario, spec.subnets)) or 1
        yield _line(book, lid, spec, "public_ipv4_hour", f"public IPv4 × {zones} AZ", zones * usage.hours)


def _service_lines(
    scenario: model.Scenario, lid: str, spec: model.EcsService, usage: Usage, book: PriceBook
) -> Iterator[Line]:
    definition = _spec(scenario, spec.task_definition)
    tasks = int(spec.desired_count)
    vcpu, memory = int(definition.cpu) / 1024, int(definition.memory) / 1024
    yield _line(book, lid, spec, "fargate_vcpu_hour", f"{tasks} tasks × {vcpu:g} vCPU", tasks * vcpu * usage.hours)
    yield _line(book, lid, spec, "fargate_gb_hour", f"{tasks} tasks × {memory:g} GB", tasks * memory * usage.hours)
    if spec.assign_public_ip:
        yield _line(book, lid, spec, "public_ipv4_hour", f"public IPv4 × {tasks} tasks", tasks * usage.hours)


# ------------------------------------------------------------ NAT instead


@dataclass(frozen=True)
class Alternative:
    name: str  # 'interface endpoints (as in the scenario)', 'one NAT gateway', ...
    estimate: Estimate
    replaced: list[str]  # endpoints a NAT gateway takes over


def compare_nat(scenario: model.Scenario, usage: Usage, book: PriceBook) -> list[Alternative]:
    """The scenario as it is, then with its interface endpoints replaced by one NAT
    gateway, then by one NAT gateway per Availability Zone of the endpoints."""
    as_is = estimate(scenario, usage, book)
    endpoints = {
        lid: r.spec
        for lid, r in scenario.resources.items()
        if isinstance(r.spec, model.VpcEndpoint)
        and r.spec.type == "interface"
        and _short(r.spec.service) not in NOT_REPLACEABLE_BY_NAT
    }
    if not endpoints:
        return [Alternative("as in the scenario", as_is, [])]
    zones = sorted({z for spec in endpoints.values() for z in _zones(scenario, spec.subnets)}) or ["a"]
    out = [Alternative("interface endpoints (as in the scenario)", as_is, [])]
    designs = [("one NAT gateway", 1)]
    if len(zones) > 1:  # one per zone keeps a zone's outage from cutting the others off
        designs.append((f"one NAT gateway per AZ ({len(zones)})", len(zones)))
    for name, count in designs:
        kept = [line for line in as_is.lines if line.resource not in endpoints]
        # The NAT gateways carry together what the endpoints carried.
        nat_usage = dataclasses.replace(usage, gb=usage.gb * len(endpoints) / count)
        added = [line for i in range(count) for line in _nat_lines(f"nat-{i + 1}", nat_usage, book)]
        alternative = Estimate(scenario.name, book.region, usage, kept + added, as_is.free)
        alternative.notes.append(
            "a NAT gateway needs a public subnet with an internet gateway route and a 0.0.0.0/0 route from the "
            "tasks' subnets; the s3 gateway endpoint stays (it is free)"
        )
        out.append(Alternative(name, alternative, sorted(endpoints)))
    return out


def _nat_lines(name: str, usage: Usage, book: PriceBook) -> list[Line]:
    nat, eip = model.NatGateway(subnet="public"), model.ElasticIp()
    lines = [_line(book, name, nat, "nat_gateway_hour", "gateway hours", usage.hours)]
    if usage.gb:
        lines.append(_line(book, name, nat, "nat_gateway_gb", "data processed", usage.gb))
    lines.append(_line(book, f"{name}-eip", eip, "public_ipv4_hour", "public IPv4 address", usage.hours))
    return lines


def _short(service: str) -> str:
    return service.split(".", 3)[-1] if service.startswith("com.amazonaws.") else service


# ------------------------------------------------------------ live prices

# Region -> the prefix of its usage types in the Price List (us-east-1 has none).
USAGE_PREFIX = {
    "us-east-1": "",
    "us-east-2": "USE2-",
    "us-west-1": "USW1-",
    "us-west-2": "USW2-",
    "eu-west-1": "EU-",
    "eu-central-1": "EUC1-",
    "ap-northeast-1": "APN1-",
    "ap-southeast-1": "APS1-",
    "ap-southeast-2": "APS2-",
}
# Price key -> (service code, usage type without its region prefix, product family or None).
LIVE_PRODUCTS = {
    "interface_endpoint_hour": ("AmazonVPC", "VpcEndpoint-Hours", None),
    "interface_endpoint_gb": ("AmazonVPC", "VpcEndpoint-Bytes", None),
    "nat_gateway_hour": ("AmazonEC2", "NatGateway-Hours", None),
    "nat_gateway_gb": ("AmazonEC2", "NatGateway-Bytes", None),
    "public_ipv4_hour": ("AmazonVPC", "PublicIPv4:InUseAddress", None),
    "alb_hour": ("AWSELB", "LoadBalancerUsage", "Load Balancer-Application"),
    "alb_lcu_hour": ("AWSELB", "LCUUsage", "Load Balancer-Application"),
    "nlb_hour": ("AWSELB", "LoadBalancerUsage", "Load Balancer-Network"),
    "nlb_lcu_hour": ("AWSELB", "LCUUsage", "Load Balancer-Network"),
    "fargate_vcpu_hour": ("AmazonECS", "Fargate-vCPU-Hours:perCPU", None),
    "fargate_gb_hour": ("AmazonECS", "Fargate-GB-Hours", None),
}


# EC2 instance hours: Linux, shared tenancy, no pre-installed software, On-Demand capacity.
EC2_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def _product(key: str) -> tuple[str, str, dict[str, str]] | None:
    """(service code, usage type without its region prefix, further attribute filters) of a price key."""
    if key.startswith("ec2:"):
        return "AmazonEC2", f"BoxUsage:{key.removeprefix('ec2:')}", EC2_FILTERS
    if key in LIVE_PRODUCTS:
        service, usage_type, family = LIVE_PRODUCTS[key]
        return service, usage_type, {"productFamily": family} if family else {}
    return None


def _unit(key: str) -> str:
    rate = prices.PRICES["us-east-1"].get(key)
    return rate.unit if rate else "hour"


def live_rates(pricing: Any, region: str, keys: set[str]) -> tuple[dict[str, prices.Rate], list[str]]:
    """Read the On-Demand USD rate of each key from the Price List API (GetProducts).

    Returns the rates found and a note for each key that kept the bundled price."""
    found: dict[str, prices.Rate] = {}
    notes: list[str] = []
    prefix = USAGE_PREFIX.get(region)
    for key in sorted(keys):
        product = _product(key)
        if product is None or prefix is None:
            notes.append(f"{key}: not in the Price List look-ups for {region}; bundled price ({prices.PRICES_AS_OF})")
            continue
        service, usage_type, attributes = product
        filters = [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "usagetype", "Value": prefix + usage_type},
            *({"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in attributes.items()),
        ]
        usd = _first_usd(pricing.get_products(ServiceCode=service, Filters=filters, MaxResults=10))
        if usd is None:
            notes.append(f"{key}: the Price List has no {prefix + usage_type} in {region}; bundled price kept")
        else:
            found[key] = prices.Rate(usd, _unit(key))
    return found, notes


def _first_usd(response: dict[str, Any]) -> float | None:
    """The lowest-tier On-Demand USD price of the first product (PriceList items are JSON strings)."""
    for item in response.get("PriceList") or []:
        product = json.loads(item) if isinstance(item, str) else item
        for term in (product.get("terms") or {}).get("OnDemand", {}).values():
            dimensions = sorted(
                term.get("priceDimensions", {}).values(), key=lambda d: float(d.get("beginRange", "0") or 0)
            )
            for dimension in dimensions:
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None:
                    return float(usd)
    return None


def report(estimate_: Estimate, alternatives: list[Alternative] | None = None) -> dict[str, Any]:
    """The JSON document of `vpcctl cost --output json`."""
    doc: dict[str, Any] = {
        "scenario": estimate_.scenario,
        "region": estimate_.region,
        "currency": "USD",
        "prices_as_of": prices.PRICES_AS_OF,
        "price_source": estimate_.source,
        "usage": dataclasses.asdict(estimate_.usage),
        "lines": [{**dataclasses.asdict(line), "monthly": round(line.monthly, 4)} for line in estimate_.lines],
        "by_resource": {k: round(v, 4) for k, v in estimate_.by_resource().items()},
        "free": estimate_.free,
        "total": round(estimate_.total, 2),
        "notes": estimate_.notes,
    }
    if alternatives is not None:
        doc["compare"] = [
            {"name": a.name, "total": round(a.estimate.total, 2), "replaced": a.replaced, "notes": a.estimate.notes}
            for a in alternatives
        ]
    return doc


# The Price List API answers in these regions only; us-east-1 is the one AWS documents first.
PRICING_API_REGION = "us-east-1"


def read_live(aws: Any, region: str, keys: set[str]) -> tuple[PriceBook, list[str]]:
    """The book with live prices laid over it, and notes; on any failure the bundled
    book and a note saying why (cost estimates should not fail for want of a price feed)."""
    import botocore.exceptions

    book = PriceBook(region) if region in prices.PRICES else PriceBook(region, {})
    try:
        client = aws.session.client(
            "pricing", region_name=PRICING_API_REGION, endpoint_url=aws.endpoint_url, config=aws.config
        )
        rates, notes = live_rates(client, book.region, keys)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        return book, [f"could not read the AWS Price List API ({exc}); bundled prices ({prices.PRICES_AS_OF}) used"]
    return PriceBook(book.region, rates), notes


def price_keys(scenario: model.Scenario, usage: Usage, compare: bool) -> set[str]:
    """The prices an estimate of this scenario needs (the same in every region)."""
    keys = {line.price_key for line in estimate(scenario, usage, PriceBook("us-east-1")).lines}
    return keys | ({"nat_gateway_hour", "nat_gateway_gb", "public_ipv4_hour"} if compare else set())
