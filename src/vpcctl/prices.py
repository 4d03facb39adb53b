"""The bundled price table of `vpcctl cost`: AWS On-Demand list prices in USD.

Compiled on PRICES_AS_OF from the AWS pricing pages named in SOURCES (Linux/x86 for
Fargate and EC2). Prices change; `vpcctl cost --live` reads the AWS Price List API
instead and falls back to this table, saying so, when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-12-01"

SOURCES = {
    "interface_endpoint": "https://aws.amazon.com/privatelink/pricing/",
    "nat_gateway": "https://aws.amazon.com/vpc/pricing/",
    "public_ipv4": "https://aws.amazon.com/vpc/pricing/",
    "load_balancer": "https://aws.amazon.com/elasticloadbalancing/pricing/",
    "fargate": "https://aws.amazon.com/fargate/pricing/",
    "ec2": "https://aws.amazon.com/ec2/pricing/on-demand/",
    "resolver_endpoint": "https://aws.amazon.com/route53/pricing/",
    "hosted_zone": "https://aws.amazon.com/route53/pricing/",
    "rest_api": "https://aws.amazon.com/api-gateway/pricing/",
    "logs": "https://aws.amazon.com/cloudwatch/pricing/",
}


@dataclass(frozen=True)
class Rate:
    usd: float
    unit: str  # what one unit is: 'hour', 'GB', 'LCU-hour', 'vCPU-hour', 'month', ...


# One dimension each: the key names what is billed, the unit how it is counted.
PRICES: dict[str, dict[str, Rate]] = {
    "us-east-1": {
        "interface_endpoint_hour": Rate(0.01, "AZ-hour"),
        "interface_endpoint_gb": Rate(0.01, "GB"),
        "nat_gateway_hour": Rate(0.045, "hour"),
        "nat_gateway_gb": Rate(0.045, "GB"),
        "public_ipv4_hour": Rate(0.005, "address-hour"),
        "alb_hour": Rate(0.0225, "hour"),
        "alb_lcu_hour": Rate(0.008, "LCU-hour"),
        "nlb_hour": Rate(0.0225, "hour"),
        "nlb_lcu_hour": Rate(0.006, "NLCU-hour"),
        "fargate_vcpu_hour": Rate(0.04048, "vCPU-hour"),
        "fargate_gb_hour": Rate(0.004445, "GB-hour"),
        "resolver_eni_hour": Rate(0.125, "ENI-hour"),
        "hosted_zone_month": Rate(0.50, "zone-month"),
        "rest_api_million": Rate(3.50, "million requests"),
        "logs_ingest_gb": Rate(0.50, "GB"),
        "ec2:t3.nano": Rate(0.0052, "hour"),
        "ec2:t3.micro": Rate(0.0104, "hour"),
        "ec2:t3.small": Rate(0.0208, "hour"),
        "ec2:t3.medium": Rate(0.0416, "hour"),
        "ec2:t2.micro": Rate(0.0116, "hour"),
    },
    "ap-northeast-1": {
        "interface_endpoint_hour": Rate(0.014, "AZ-hour"),
        "interface_endpoint_gb": Rate(0.01, "GB"),
        "nat_gateway_hour": Rate(0.062, "hour"),
        "nat_gateway_gb": Rate(0.062, "GB"),
        "public_ipv4_hour": Rate(0.005, "address-hour"),
        "alb_hour": Rate(0.0243, "hour"),
        "alb_lcu_hour": Rate(0.008, "LCU-hour"),
        "nlb_hour": Rate(0.0243, "hour"),
        "nlb_lcu_hour": Rate(0.006, "NLCU-hour"),
        "fargate_vcpu_hour": Rate(0.05056, "vCPU-hour"),
        "fargate_gb_hour": Rate(0.00553, "GB-hour"),
        "resolver_eni_hour": Rate(0.125, "ENI-hour"),
        "hosted_zone_month": Rate(0.50, "zone-month"),
        "rest_api_million": Rate(4.25, "million requests"),
        "logs_ingest_gb": Rate(0.76, "GB"),
        "ec2:t3.nano": Rate(0.0068, "hour"),
        "ec2:t3.micro": Rate(0.0136, "hour"),
        "ec2:t3.small": Rate(0.0272, "hour"),
        "ec2:t3.medium": Rate(0.0544, "hour"),
        "ec2:t2.micro": Rate(0.0152, "hour"),
    },
}
