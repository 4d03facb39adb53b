"""A large scenario made to measure: `subnets` subnets and `services` Fargate services, each
service with its own task definition, target group and listener on one internal ALB.

At 100 subnets and 50 services it has 315 resources. Its no-op `up` must read each kind in
as many requests as at 4 subnets and 2 services (benchmarks/bench.py prints both;
tests/test_fixed_costs.py checks the relation on small sizes).

Run `python benchmarks/synthetic.py 100 50 > big.yaml` to see one.
"""

from __future__ import annotations

import sys

ZONES = "acd"  # ap-northeast-1's zone letters


def scenario_text(subnets: int = 100, services: int = 50, name: str = "synthetic") -> str:
    """The scenario's YAML. Subnets alternate between two route tables; service i runs in subnet i."""
    assert subnets >= 2 and services >= 1
    lines = [
        f"scenario: {name}",
        f"description: {subnets} subnets, {services} services behind one internal ALB (a benchmark's scenario)",
        "region: ap-northeast-1",
        "resources:",
        "  vpc: {kind: vpc, cidr: 10.0.0.0/16, dns_support: true, dns_hostnames: true}",
    ]
    names = [f"subnet{i:03d}" for i in range(subnets)]
    for i, subnet in enumerate(names):
        lines.append(f"  {subnet}: {{kind: subnet, vpc: vpc, cidr: 10.0.{i}.0/24, az: {ZONES[i % len(ZONES)]}}}")
    for table in ("rt-even", "rt-odd"):
        members = names[0::2] if table == "rt-even" else names[1::2]
        lines.append(f"  {table}: {{kind: route_table, vpc: vpc, subnets: [{', '.join(members)}]}}")
    lines += [
        "  sec-alb:",
        "    kind: security_group",
        "    vpc: vpc",
        "    description: HTTP from the VPC to the ALB",
        "    ingress: [{protocol: tcp, from_port: 8000, to_port: 8999, cidr: 10.0.0.0/16}]",
        "  sec-tasks:",
        "    kind: security_group",
        "    vpc: vpc",
        "    description: HTTP to the tasks from the ALB",
        "    ingress: [{protocol: tcp, port: 80, source: sec-alb}]",
        "  sec-endpoints:",
        "    kind: security_group",
        "    vpc: vpc",
        "    description: HTTPS to the endpoints from the tasks",
        "    ingress: [{protocol: tcp, port: 443, source: sec-tasks}]",
    ]
    for service in ("ecr.api", "ecr.dkr", "logs"):
        lines.append(
            f"  {service.replace('.', '-')}: {{kind: vpc_endpoint, vpc: vpc, service: {service}, "
            f"subnets: [{names[0]}, {names[1]}], security_groups: [sec-endpoints], private_dns: true}}"
        )
    lines += [
        "  s3: {kind: vpc_endpoint, vpc: vpc, service: s3, type: gateway, route_tables: [rt-even, rt-odd]}",
        "  ecr-public: {kind: ecr_pull_through_cache, upstream: public.ecr.aws}",
        "  execution-role:",
        "    kind: iam_role",
        "    service: ecs-tasks.amazonaws.com",
        "    managed_policies: [arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy]",
        "    policy: |",
        '      {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",',
        '       "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],',
        '       "Resource": "${ecr-public.repositories}"}]}',
        "  logs-group: {kind: log_group, retention_days: 7}",
        "  cluster: {kind: ecs_cluster}",
        "  alb:",
        "    kind: load_balancer",
        "    type: application",
        "    scheme: internal",
        f"    subnets: [{names[0]}, {names[1]}]",
        "    security_groups: [sec-alb]",
    ]
    for i in range(services):
        lines += [
            f"  task{i:02d}:",
            "    kind: task_definition",
            "    cpu: 256",
            "    memory: 512",
            "    execution_role: execution-role",
            "    log_group: logs-group",
            "    containers: [{name: web, image: '${ecr-public.uri}/nginx/nginx:stable', port: 80}]",
            f"  tg{i:02d}: {{kind: target_group, vpc: vpc, protocol: HTTP, port: 80, target_type: ip}}",
            f"  listener{i:02d}: {{kind: listener, load_balancer: alb, port: {8000 + i}, protocol: HTTP, "
            f"target_group: tg{i:02d}}}",
            f"  service{i:02d}:",
            "    kind: ecs_service",
            "    cluster: cluster",
            f"    task_definition: task{i:02d}",
            "    desired_count: 1",
            f"    subnets: [{names[i % subnets]}]",
            "    security_groups: [sec-tasks]",
            f"    load_balancers: [{{target_group: tg{i:02d}, container: web, port: 80}}]",
            f"    depends_on: [listener{i:02d}, ecr-api, ecr-dkr, logs, s3]",
        ]
    return "\n".join(lines) + "\n"


def resource_count(subnets: int, services: int) -> int:
    # vpc, 2 route tables, 3 groups, 4 endpoints, cache rule, role, log group, cluster, ALB
    return 15 + subnets + 4 * services


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]] or [100, 50]
    sys.stdout.write(scenario_text(*args))
