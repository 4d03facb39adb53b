"""`vpcctl cost`: monthly cost per resource from the bundled prices, the NAT comparison,
and the Price List API read with --live."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from conftest import scenario_text
from vpcctl import cost, prices, scenario
from vpcctl.cli import cli


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --live, cost is offline: any attempt to reach AWS fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("cost created an AWS client")

    monkeypatch.setattr("vpcctl.aws.Aws.__init__", refuse)


def run_cost(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["cost", *args, "--output", "json"])
    assert result.exit_code == 0, result.output
    return result.exit_code, json.loads(result.stdout)


def lines_of(doc: dict, resource: str) -> list[dict]:
    return [line for line in doc["lines"] if line["resource"] == resource]


def test_fargate_privatelink_prices_endpoints_per_az_alb_and_tasks(no_aws: None) -> None:
    _, doc = run_cost("fargate-privatelink")
    loaded = scenario.load("fargate-privatelink")
    table = prices.PRICES[loaded.region]
    interface = [lid for lid, r in loaded.resources.items() if r.kind == "vpc_endpoint" and r.spec.type == "interface"]
    assert len(interface) == 3
    for lid in interface:
        (hours,) = lines_of(doc, lid)
        zones = {loaded.resources[s].spec.az for s in loaded.resources[lid].spec.subnets}
        assert hours["quantity"] == len(zones) * cost.HOURS_PER_MONTH
        assert hours["rate"] == table["interface_endpoint_hour"].usd
    assert {line["price_key"] for line in lines_of(doc, "alb")} >= {"alb_hour", "public_ipv4_hour"}
    assert {line["price_key"] for line in lines_of(doc, "web-service")} == {"fargate_vcpu_hour", "fargate_gb_hour"}
    assert "s3" in doc["free"]  # a gateway endpoint costs nothing
    assert doc["total"] == pytest.approx(sum(line["monthly"] for line in doc["lines"]), abs=0.01)
    assert doc["prices_as_of"] == prices.PRICES_AS_OF
    assert doc["currency"] == "USD"


def test_quantities_follow_the_scenario_and_the_usage(no_aws: None) -> None:
    _, base = run_cost("fargate-privatelink")
    _, more = run_cost("fargate-privatelink", "--set", "desired_count=6")
    _, half = run_cost("fargate-privatelink", "--hours", "365")
    _, traffic = run_cost("fargate-privatelink", "--gb", "100")

    def monthly(doc: dict, resource: str) -> float:
        return sum(line["monthly"] for line in lines_of(doc, resource))

    assert monthly(more, "web-service") == pytest.approx(3 * monthly(base, "web-service"))
    assert half["total"] == pytest.approx(base["total"] / 2, abs=0.01)
    per_gb = [line for line in lines_of(traffic, "ecr-api") if line["price_key"] == "interface_endpoint_gb"]
    assert per_gb and per_gb[0]["quantity"] == 100
    assert traffic["total"] > base["total"]


def test_an_endpoint_in_two_zones_bills_two_az_hours(no_aws: None, tmp_path: Path) -> None:
    text = scenario_text().replace(
        "    service: ecr.api\n    subnets: [private-subnet1]",
        "    service: ecr.api\n    subnets: [private-subnet1, private-subnet2]",
    )
    text = text.replace(
        "  public-subnet2:",
        "  private-subnet2:\n    kind: subnet\n    vpc: vpc\n    cidr: 10.0.2.0/24\n    az: c\n  public-subnet2:",
    )
    path = tmp_path / "two-zones.yaml"
    path.write_text(text)
    _, doc = run_cost(str(path))
    (hours,) = lines_of(doc, "ecr-api")
    assert hours["quantity"] == 2 * cost.HOURS_PER_MONTH


def test_compare_nat_replaces_the_interface_endpoints(no_aws: None) -> None:
    _, doc = run_cost("fargate-privatelink", "--compare", "nat", "--gb", "50")
    as_is, single = doc["compare"]  # its endpoints are in one zone: one NAT is the only alternative
    assert as_is["total"] == doc["total"]
    assert single["replaced"] == ["ecr-api", "ecr-dkr", "logs"]
    loaded = scenario.load("fargate-privatelink")
    table = prices.PRICES[loaded.region]
    endpoints = sum(line["monthly"] for r in single["replaced"] for line in lines_of(doc, r))
    nat = cost.HOURS_PER_MONTH * (table["nat_gateway_hour"].usd + table["public_ipv4_hour"].usd)
    nat += 3 * 50 * table["nat_gateway_gb"].usd  # the NAT carries what the three endpoints carried
    assert single["total"] == pytest.approx(doc["total"] - endpoints + nat, abs=0.02)


def test_compare_nat_offers_one_nat_per_zone_when_endpoints_span_zones(no_aws: None) -> None:
    _, doc = run_cost("closed-vpc-apigw", "--compare", "nat")
    names = [c["name"] for c in doc["compare"]]
    assert names[1] == "one NAT gateway" and names[2].startswith("one NAT gateway per AZ (2)")
    assert doc["compare"][2]["total"] > doc["compare"][1]["total"]


def test_compare_nat_keeps_the_endpoint_a_private_api_needs(no_aws: None) -> None:
    _, doc = run_cost("closed-vpc-apigw", "--compare", "nat")
    replaced = doc["compare"][1]["replaced"]
    loaded = scenario.load("closed-vpc-apigw")
    execute_api = [
        lid for lid, r in loaded.resources.items() if r.kind == "vpc_endpoint" and "execute-api" in r.spec.service
    ]
    assert execute_api and not set(execute_api) & set(replaced)


def test_table_output_has_a_total_and_the_comparison(no_aws: None) -> None:
    result = CliRunner().invoke(cli, ["cost", "fargate-privatelink", "--compare", "nat"])
    assert result.exit_code == 0, result.output
    assert "total" in result.stdout
    assert "one NAT gateway" in result.stdout
    assert "not billed:" in result.stdout


def test_a_region_without_bundled_prices_is_bad_input(no_aws: None) -> None:
    result = CliRunner().invoke(cli, ["cost", "fargate-privatelink", "--region", "eu-west-1"])
    assert result.exit_code == 2
    assert "no bundled prices for region eu-west-1" in result.output
    assert "--live" in result.output


def test_an_instance_type_without_a_price_is_bad_input(no_aws: None) -> None:
    result = CliRunner().invoke(cli, ["cost", "alb-ip-targets", "--set", "instance_type=x2iedn.32xlarge"])
    assert result.exit_code == 2
    assert "no price for x2iedn.32xlarge in ap-northeast-1" in result.output


def _product(usd: str) -> str:
    return json.dumps(
        {"terms": {"OnDemand": {"T": {"priceDimensions": {"D": {"beginRange": "0", "pricePerUnit": {"USD": usd}}}}}}}
    )


def test_live_rates_read_the_price_list_with_the_region_prefix() -> None:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"})  # keys go in sorted order
    stub.add_response(
        "get_products",
        {"PriceList": [_product("0.099")], "FormatVersion": "aws_v1"},
        {
            "ServiceCode": "AmazonEC2",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "ap-northeast-1"},
                {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "APN1-NatGateway-Hours"},
            ],
            "MaxResults": 10,
        },
    )
    with stub:
        rates, notes = cost.live_rates(
            client, "ap-northeast-1", {"nat_gateway_hour", "resolver_eni_hour", "nat_gateway_gb"}
        )
    assert rates["nat_gateway_hour"].usd == 0.099
    assert "nat_gateway_gb" not in rates and any("NatGateway-Bytes" in n for n in notes)
    assert any(n.startswith("resolver_eni_hour") for n in notes)


def test_live_falls_back_to_the_table_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = CliRunner().invoke(
        cli, ["cost", "fargate-privatelink", "--live", "--endpoint-url", "http://127.0.0.1:9", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert any("could not read the AWS Price List API" in n for n in doc["notes"])
    _, offline = run_cost("fargate-privatelink")
    assert doc["total"] == offline["total"]
