"""`vpcctl graph`: the topology of a scenario as a picture, in Mermaid or Graphviz DOT.

A `Diagram` is drawn from the validated scenario alone: VPCs as clusters, their
subnets grouped by Availability Zone, gateways, endpoints, load balancers with their
listeners and target groups, what the groups send to, hosted zones, Resolver
endpoints and rules, and the network flows with what breaks them. The text renderers
sort everything, so one scenario always gives the same bytes (a diagram can be
committed and diffed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vpcctl import model

ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Node:
    id: str  # the logical id, or a name of its own for what is not in the scenario ('internet')
    label: tuple[str, ...]  # lines: the name first, then what it is
    shape: str = "box"  # box | round | cylinder | diamond | cloud
    cluster: str | None = None  # the id of the cluster it is drawn in


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    parent: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "solid"  # solid | dotted (an association, not traffic) | flow | broken


@dataclass
class Diagram:
    title: str
    clusters: dict[str, Cluster] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def nodes_in(self, cluster: str | None) -> list[Node]:
        """The nodes drawn directly in a cluster (None: in none), by id."""
        return sorted((n for n in self.nodes.values() if n.cluster == cluster), key=lambda n: n.id)

    def children(self, cluster: str | None) -> list[str]:
        """The ids of the clusters drawn directly in a cluster (None: at the top), sorted."""
        return sorted(c.id for c in self.clusters.values() if c.parent == cluster)

    def link(self, source: str, target: str, label: str = "", style: str = "solid") -> None:
        edge = Edge(source, target, label, style)
        if edge not in self.edges:
            self.edges.append(edge)


@dataclass(frozen=True)
class Flow:
    """A network flow to draw: from one node to another, on a protocol and port, and
    whether it gets there (with the explanation code of the hop that breaks it)."""

    source: str
    target: str
    label: str  # 'tcp/443 → ecr.dkr'
    reachable: bool = True
    code: str = ""  # 'ENI_SG_RULES_MISMATCH', ... when it does not


# ------------------------------------------------------------- from specs


def from_scenario(scenario: model.Scenario, flows: Iterable[Flow] = ()) -> Diagram:
    """The diagram of one scenario: placement, structure, then the flows on top."""
    diagram = Diagram(scenario.name)
    specs = {lid: r.spec for lid, r in scenario.resources.items()}
    public = _public_subnets(specs)
    for lid, spec in specs.items():
        if isinstance(spec, model.Vpc):
            diagram.clusters[lid] = Cluster(lid, f"VPC {lid} {spec.cidr}")
    for lid, spec in specs.items():
        if isinstance(spec, model.Subnet):
            zone = f"{spec.vpc}/{spec.az}"
            name = spec.az if spec.az.startswith(scenario.region) else f"{scenario.region}{spec.az}"
            diagram.clusters.setdefault(zone, Cluster(zone, name, parent=spec.vpc))
            side = "public" if lid in public else "private"
            diagram.add(Node(lid, (lid, f"subnet {spec.cidr}", side), "box", zone))
    for lid, spec in specs.items():
        _place(diagram, specs, lid, spec)
    for lid, spec in specs.items():
        _connect(diagram, specs, lid, spec)
    for flow in flows:
        source, target = _flow_end(diagram, specs, flow.source), _flow_end(diagram, specs, flow.target)
        if source and target and source != target:
            label = flow.label if flow.reachable else f"{flow.label} ✗ {flow.code}".strip()
            diagram.link(source, target, label, "flow" if flow.reachable else "broken")
    return diagram


def flows_of(results: Iterable[Any]) -> list[Flow]:
    """Flows to draw from the network model's results (declared and derived), one per
    source, destination and port; a flow is broken when any of its results is."""
    merged: dict[tuple[str, str, str], Flow] = {}
    for result in results:
        label = f"{result.protocol}/{result.port}"
        if result.label == "registry":
            label += f" → {result.destination}"
        elif result.label == "target health-check":
            label += " health check"
        key = (result.source_id, result.destination_id, label)
        broken = result.broken
        flow = Flow(result.source_id, result.destination_id, label, not broken, broken[0].code if broken else "")
        if key not in merged or not flow.reachable:
            merged[key] = flow
    return list(merged.values())


def _flow_end(diagram: Diagram, specs: dict[str, Any], thing: str) -> str | None:
    """The node a flow starts or ends at: a resource, the internet, AWS's public side of a
    service, or a whole VPC (drawn at its first subnet)."""
    if thing in diagram.nodes:
        return thing
    if thing == "internet":
        diagram.add(Node("internet", ("internet",), "cloud"))
        return thing
    if thing.startswith("aws:"):
        diagram.add(Node(thing, (f"AWS {thing.removeprefix('aws:')}", "public endpoint"), "cloud"))
        return thing
    if thing.startswith("vpc:"):
        vpc = thing.removeprefix("vpc:")
        return next(
            (lid for lid in sorted(specs) if isinstance(specs[lid], model.Subnet) and specs[lid].vpc == vpc), None
        )
    named = model.RUNTIME.search(thing)  # a DNS name known at run time: `${api.domain}`
    if named and named.group(1) in diagram.nodes:
        return named.group(1)
    return None


def _public_subnets(specs: dict[str, Any]) -> set[str]:
    """Subnets whose route table sends 0.0.0.0/0 to an internet gateway."""
    out: set[str] = set()
    for spec in specs.values():
        if isinstance(spec, model.RouteTable) and any(r.destination == ANYWHERE and r.gateway for r in spec.routes):
            out.update(spec.subnets)
    return out


def _vpc_of(specs: dict[str, Any], spec: Any) -> str | None:
    """The VPC a resource sits in: its own `vpc`, or that of its first subnet."""
    if getattr(spec, "vpc", None):
        return str(spec.vpc)
    subnets = getattr(spec, "subnets", ()) or ((spec.subnet,) if getattr(spec, "subnet", None) else ())
    return specs[subnets[0]].vpc if subnets else None


def _place(diagram: Diagram, specs: dict[str, Any], lid: str, spec: Any) -> None:
    """One node per network resource, in the cluster it lives in."""
    vpc = _vpc_of(specs, spec)
    if isinstance(spec, model.InternetGateway):
        diagram.add(Node(lid, (lid, "internet gateway"), "diamond", spec.vpc))
        diagram.add(Node("internet", ("internet",), "cloud"))
    elif isinstance(spec, model.NatGateway):
        zone = f"{specs[spec.subnet].vpc}/{specs[spec.subnet].az}"
        diagram.add(Node(lid, (lid, f"NAT gateway ({spec.connectivity_type})"), "diamond", zone))
    elif isinstance(spec, model.VpcPeering):
        diagram.add(Node(lid, (lid, f"peering {spec.vpc} ↔ {spec.peer_vpc}"), "diamond"))
    elif isinstance(spec, model.VpcEndpoint):
        service = spec.service.split(".", 3)[-1] if spec.service.startswith("com.amazonaws.") else spec.service
        detail = "gateway endpoint" if spec.type == "gateway" else "interface endpoint"
        dns = ", private DNS" if spec.type == "interface" and spec.private_dns else ""
        diagram.add(Node(lid, (lid, f"{detail} {service}{dns}"), "round", vpc))
    elif isinstance(spec, model.Instance):
        zone = f"{specs[spec.subnet].vpc}/{specs[spec.subnet].az}"
        diagram.add(Node(lid, (lid, f"EC2 {spec.instance_type}"), "box", zone))
    elif isinstance(spec, model.EcsService):
        tasks = f"Fargate × {spec.desired_count}"
        diagram.add(Node(lid, (lid, tasks, ", ".join(spec.subnets)), "round", vpc))
    elif isinstance(spec, model.LoadBalancer):
        kind = "ALB" if spec.type == "application" else "NLB"
        diagram.add(Node(lid, (lid, f"{kind} {spec.scheme}", ", ".join(spec.subnets)), "box", vpc))
    elif isinstance(spec, model.TargetGroup):
        diagram.add(Node(lid, (lid, f"target group {spec.protocol}:{spec.port} ({spec.target_type})"), "box", vpc))
    elif isinstance(spec, model.ResolverEndpoint):
        ips = f"{len(spec.subnets)} IPs"
        diagram.add(Node(lid, (lid, f"Resolver {spec.direction.lower()} endpoint", ips), "round", vpc))
    elif isinstance(spec, model.ResolverRule):
        diagram.add(Node(lid, (lid, f"forward {spec.domain}"), "box"))
    elif isinstance(spec, model.HostedZone):
        kind = "private hosted zone" if spec.vpcs else "public hosted zone"
        diagram.add(Node(lid, (lid, f"{kind} {spec.name}"), "cylinder"))
    elif isinstance(spec, model.RestApi):
        diagram.add(Node(lid, (lid, f"REST API ({spec.endpoint_type})", f"stage {spec.stage}"), "box"))
    elif isinstance(spec, model.VpcLink):
        diagram.add(Node(lid, (lid, "VPC link"), "diamond"))


def _connect(diagram: Diagram, specs: dict[str, Any], lid: str, spec: Any) -> None:
    """The structural edges: routes, listeners, targets, aliases, associations."""
    if isinstance(spec, model.RouteTable):
        for subnet in spec.subnets:
            for route in spec.routes:
                target = route.gateway or route.nat_gateway or route.peering
                if target:
                    diagram.link(subnet, target, f"route {route.destination}")
    elif isinstance(spec, model.InternetGateway):
        diagram.link(lid, "internet")
    elif isinstance(spec, model.NatGateway):
        diagram.link(lid, spec.subnet, "in", "dotted")
    elif isinstance(spec, model.VpcEndpoint) and spec.type == "gateway":
        for table in spec.route_tables:
            for subnet in specs[table].subnets:
                diagram.link(subnet, lid, "prefix-list route")
    elif isinstance(spec, model.Listener):
        diagram.link(spec.load_balancer, spec.target_group, f"listener {lid} {spec.protocol}:{spec.port}")
    elif isinstance(spec, model.EcsService):
        for entry in spec.load_balancers:
            diagram.link(entry.target_group, lid, f"{entry.container}:{entry.port}")
    elif isinstance(spec, model.TargetGroup):
        for service in spec.services:
            diagram.link(lid, service, "task IPs")
        for target in spec.targets:
            named = model.RUNTIME.search(target)
            if named and named.group(1) in specs:
                diagram.link(lid, named.group(1), "target")
    elif isinstance(spec, model.DnsRecord):
        if spec.alias:
            diagram.link(spec.zone, spec.alias, f"{spec.type} {spec.name} (alias)")
    elif isinstance(spec, model.HostedZone):
        for vpc in spec.vpcs:
            _associate(diagram, lid, vpc)
    elif isinstance(spec, model.VpcLink):
        diagram.link(lid, spec.load_balancer)
    elif isinstance(spec, model.RestApi):
        for endpoint in spec.vpc_endpoints:
            diagram.link(endpoint, lid, "invoke")
        for route in spec.routes:
            if route.vpc_link:
                diagram.link(lid, route.vpc_link, f"{route.method} {route.path}")
    elif isinstance(spec, model.ResolverRule):
        diagram.link(lid, spec.endpoint, "out through")
        for ip in spec.target_ips:
            named = model.RUNTIME.search(ip)
            if named and named.group(1) in specs:
                diagram.link(spec.endpoint, named.group(1), "udp/53, tcp/53")
        for vpc in spec.vpcs:
            _associate(diagram, lid, vpc)


def _associate(diagram: Diagram, lid: str, vpc: str) -> None:
    """An association with a VPC, drawn to the VPC's first subnet (Mermaid has no edges to a cluster)."""
    anchor = next((n.id for n in sorted(diagram.nodes.values(), key=lambda n: n.id) if _in_vpc(diagram, n, vpc)), None)
    if anchor:
        diagram.link(lid, anchor, f"associated with {vpc}", "dotted")


def _in_vpc(diagram: Diagram, node: Node, vpc: str) -> bool:
    cluster = diagram.clusters.get(node.cluster or "")
    return cluster is not None and (cluster.id == vpc or cluster.parent == vpc) and "subnet" in " ".join(node.label)


# ------------------------------------------------------------- renderers


def _key(value: str) -> str:
    """A node or cluster id both formats accept: letters and digits kept, anything else
    written as _XX (its code in hex), so two logical ids never share a key."""
    return "n_" + "".join(c if c.isascii() and c.isalnum() else f"_{ord(c):02x}" for c in value)


MERMAID_SHAPES = {
    "box": '["{}"]',
    "round": '("{}")',
    "cylinder": '[("{}")]',
    "diamond": '{{"{}"}}',
    "cloud": '(("{}"))',
}
MERMAID_ARROWS = {"solid": "-->", "dotted": "-.->", "flow": "==>", "broken": "-.-x"}


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(diagram: Diagram) -> str:
    lines = ["flowchart LR", f"  %% {diagram.title}: generated by vpcctl graph"]

    def draw(cluster: str | None, indent: str) -> None:
        for node in diagram.nodes_in(cluster):
            label = "<br/>".join(_mermaid_text(part) for part in node.label)
            lines.append(f"{indent}{_key(node.id)}{MERMAID_SHAPES[node.shape].format(label)}")
        for child in diagram.children(cluster):
            lines.append(
                f'{indent}subgraph {_key("cluster " + child)}["{_mermaid_text(diagram.clusters[child].label)}"]'
            )
            draw(child, indent + "  ")
            lines.append(f"{indent}end")

    draw(None, "  ")
    broken: list[int] = []
    for index, edge in enumerate(_sorted_edges(diagram)):
        arrow = MERMAID_ARROWS[edge.style]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {_key(edge.source)} {arrow}{label} {_key(edge.target)}")
        if edge.style == "broken":
            broken.append(index)
    if broken:
        lines.append(f"  linkStyle {','.join(map(str, broken))} stroke:#d00,color:#d00")
    return "\n".join(lines) + "\n"


def _sorted_edges(diagram: Diagram) -> list[Edge]:
    return sorted(diagram.edges, key=lambda e: (e.source, e.target, e.label, e.style))


DOT_SHAPES = {"box": "box", "round": "box", "cylinder": "cylinder", "diamond": "diamond", "cloud": "ellipse"}
DOT_EDGES = {
    "solid": "",
    "dotted": ", style=dotted",
    "flow": ", color=darkgreen, penwidth=2",
    "broken": ", color=red, fontcolor=red, style=dashed, penwidth=2",
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(diagram: Diagram) -> str:
    lines = [
        f'digraph "{_dot_text(diagram.title)}" {{',
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]

    def draw(cluster: str | None, indent: str) -> None:
        for node in diagram.nodes_in(cluster):
            label = "\\n".join(_dot_text(part) for part in node.label)
            rounded = ', style="rounded"' if node.shape == "round" else ""
            lines.append(f'{indent}{_key(node.id)} [label="{label}", shape={DOT_SHAPES[node.shape]}{rounded}];')
        for child in diagram.children(cluster):
            lines.append(f"{indent}subgraph cluster_{_key(child)} {{")
            lines.append(f'{indent}  label="{_dot_text(diagram.clusters[child].label)}";')
            draw(child, indent + "  ")
            lines.append(f"{indent}}}")

    draw(None, "  ")
    for edge in _sorted_edges(diagram):
        label = f'label="{_dot_text(edge.label)}"' if edge.label else 'label=""'
        lines.append(f"  {_key(edge.source)} -> {_key(edge.target)} [{label}{DOT_EDGES[edge.style]}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def with_live(diagram: Diagram, found: dict[str, tuple[str, str]]) -> Diagram:
    """The same diagram with each node's AWS id and state (logical id -> (id, state))."""
    out = Diagram(diagram.title, dict(diagram.clusters), {}, list(diagram.edges))
    for node in diagram.nodes.values():
        if node.id in found:
            aws_id, state = found[node.id]
            extra = tuple(part for part in (aws_id, state) if part)
            node = Node(node.id, node.label + extra, node.shape, node.cluster)
        out.nodes[node.id] = node
    return out


def svg(dot_text: str) -> bytes:
    """Render DOT to SVG with Graphviz's `dot`."""
    import shutil
    import subprocess

    from vpcctl.errors import BadInput

    dot = shutil.which("dot")
    if dot is None:
        raise BadInput(
            "--format svg needs Graphviz's `dot`, which is not on the PATH",
            hint="install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), "
            "or use --format dot | mermaid",
        )
    done = subprocess.run([dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise BadInput(f"dot could not render the diagram: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
