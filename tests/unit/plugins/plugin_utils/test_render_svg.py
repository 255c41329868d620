# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flow diagram SVG (plugins/plugin_utils/render_svg.py): structure, geometry, escaping, size.

The sample builders here (``endpoint``, ``flow``, ``example_flows``, ``large_flows``) are reused by
test_render_html.py and test_render_html_chromium.py (loaded by path).
"""

from __future__ import annotations

import collections
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_svg as S

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> R&D \'quoted\' \u017dlu\u0165ou\u010dk\u00fd \u65e5\u672c'


def endpoint(name, kind, component=None, members=(), addresses=()):
    return {"name": name, "kind": kind, "component": component, "members": list(members),
            "addresses": list(addresses)}


def flow(rows, source, destination, protocol, ports, **extra):
    """Append one flow row (the plan's grouped-matrix shape) to ``rows`` and return it."""
    row = {
        "id": "F%03d" % (len(rows) + 1), "catalog_ids": ["cat-%03d" % len(rows)],
        "description": "flow %d from %s to %s" % (len(rows) + 1, source["name"], destination["name"]),
        "requirement": "mandatory", "features": [], "protocol": protocol, "ports": list(ports), "unresolved": None,
        "cast": "unicast", "source": source, "destination": destination, "enforced": True,
        "enforced_on": list(destination["members"] or source["members"]), "note": None,
    }
    row.update(extra)
    rows.append(row)
    return row


CML = endpoint("safeq_cml", "safeq", "cml", ["cml-prg-1", "cml-prg-2", "cml-prg-3"],
               ["10.10.1.11", "10.10.1.12", "10.10.1.13"])
ORS = endpoint("safeq_ors", "safeq", "ors", ["ors-brn-1", "ors-brn-2", "ors-ova-1", "ors-lon-1"],
               ["10.20.1.21", "10.20.1.22", "10.30.1.21", "10.40.1.21"])
CRS = endpoint("safeq_crs", "safeq", "crs", ["crs-prg-1"], ["10.10.1.31"])
WORKSTATIONS = endpoint("workstation_networks", "network", None, [],
                        ["10.110.0.0/16", "10.120.0.0/16", "10.130.0.0/16", "10.140.0.0/16"])
PRINTERS = endpoint("printer_networks", "network", None, [],
                    ["10.111.0.0/20", "10.121.0.0/20", "10.131.0.0/20", "10.141.0.0/20"])
LDAP = endpoint("ldap_servers", "external", None, [], ["10.10.0.10", "10.10.0.11"])
DATABASE = endpoint("database_servers", "external", None, [], ["10.10.2.50"])
SMTP = endpoint("smtp_servers", "external", None, [], ["10.10.0.25"])
MDNS = endpoint("mdns_multicast", "multicast", None, [], ["224.0.0.251"])
PAYMENT = endpoint("payment_system", "external", None, [], ["10.10.3.5"])


def example_flows():
    """The example customer: 16 flows, 14 edges, 11 nodes (printer_networks on both sides)."""
    rows = []
    flow(rows, WORKSTATIONS, CML, "tcp", [80, 443, 9443])
    flow(rows, WORKSTATIONS, ORS, "tcp", [80, 443, 515, 631, 9100])
    flow(rows, PRINTERS, ORS, "tcp", [4096, 5012])
    flow(rows, PRINTERS, ORS, "udp", [161])  # same edge as the previous flow
    flow(rows, ORS, PRINTERS, "udp", [161])
    flow(rows, CML, CML, "tcp", [4111, 6020, "44441-44443"], catalog_ids=["is-cluster-db-sync-4111"])
    flow(rows, ORS, CML, "tcp", [443, 4099])
    flow(rows, CRS, CML, "tcp", [443])
    flow(rows, CML, LDAP, "tcp", [389, 636])
    flow(rows, CML, LDAP, "tcp", [3268, 3269])  # same edge, ports merged
    flow(rows, CML, DATABASE, "tcp", [], unresolved="databaseTcpPort: port is dynamic, see description")
    flow(rows, CML, SMTP, "tcp", [25, 587], enforced=False, enforced_on=[])
    flow(rows, ORS, MDNS, "udp", [5353], cast="multicast")
    flow(rows, WORKSTATIONS, DATABASE, "tcp", [1433], enforced=False, enforced_on=[])  # client -> external
    flow(rows, PAYMENT, CML, "tcp", [8443])  # external source: right column, arrow to the left
    flow(rows, CML, ORS, "tcp", ["5555"], requirement="optional")
    return rows


def large_flows(sites=40, per_site=48, cml_hosts=80, total=250, networks_per_site=8):
    """2,000 SafeQ hosts (40 ORS sites of 48 + 80 CML) and 250 flows."""
    rows = []
    cml = endpoint("safeq_cml", "safeq", "cml", ["cml-%02d" % i for i in range(cml_hosts)],
                   ["10.10.%d.%d" % (i // 200, i % 200 + 10) for i in range(cml_hosts)])
    for site in range(sites):
        ors = endpoint("safeq_ors_site%02d" % site, "safeq", "ors",
                       ["ors-%02d-%02d" % (site, i) for i in range(per_site)],
                       ["10.%d.1.%d" % (20 + site, i + 10) for i in range(per_site)])
        workstations = endpoint("workstations_site%02d" % site, "network", None, [],
                                ["10.%d.%d.0/24" % (100 + site, i) for i in range(networks_per_site)])
        printers = endpoint("printers_site%02d" % site, "network", None, [],
                            ["10.%d.%d.0/24" % (150 + site, i) for i in range(networks_per_site)])
        flow(rows, workstations, ors, "tcp", [80, 443, 515, 631, 9100, "5000-5010"])
        flow(rows, printers, ors, "tcp", [4096, 5012])
        flow(rows, printers, ors, "udp", [161])
        flow(rows, ors, printers, "udp", [161])
        flow(rows, ors, cml, "tcp", [443, 4099])
        flow(rows, ors, ors, "tcp", [7800])
    flow(rows, cml, cml, "tcp", [4111, 6020])
    flow(rows, cml, LDAP, "tcp", [389, 636])
    flow(rows, cml, MDNS, "udp", [5353], cast="multicast")
    while len(rows) < total:
        flow(rows, cml, DATABASE if len(rows) % 2 else SMTP, "tcp", [10000 + len(rows)])
    return rows


# ---- parsing helpers ----------------------------------------------------------------------------

def parse(svg):
    return ET.fromstring(svg)


Node = collections.namedtuple("Node", "name side rect lines")


def nodes_of(root):
    """{node id: Node(name, side, rect attributes, text lines)}."""
    result = {}
    for group in root.iter(SVG + "g"):
        if "node" in (group.get("class") or "").split():
            texts = [t.text for t in group.iter(SVG + "text")]
            rect = group.find(SVG + "rect")
            result[group.get("id")] = Node(texts[0], group.get("data-side"), rect.attrib, texts)
    return result


def names_by_id(root):
    return {node_id: node.name for node_id, node in nodes_of(root).items()}


def edges_of(root):
    return [p for p in root.iter(SVG + "path") if p.get("class") == "edge"]


def labels_of(root):
    """{edge id: label text}."""
    return {g.get("data-edge"): g.find(SVG + "text").text for g in root.iter(SVG + "g")
            if g.get("class") == "edge-label"}


def endpoints_xy(path):
    numbers = [int(n) for n in re.findall(r"-?\d+", path.get("d"))]
    return (numbers[0], numbers[1]), (numbers[-2], numbers[-1])


def on_border(point, rect):
    x, y = point
    left, top = int(rect["x"]), int(rect["y"])
    right, bottom = left + int(rect["width"]), top + int(rect["height"])
    return x in (left, right) and top <= y <= bottom


# ---- tests ----------------------------------------------------------------------------------------

def test_example_nodes_and_edges():
    root = parse(S.flow_diagram_svg(example_flows()))
    nodes = nodes_of(root)
    names = sorted((node.name, node.side) for node in nodes.values())
    assert names == sorted([
        ("workstation_networks", "L"), ("printer_networks", "L"), ("printer_networks", "R"),
        ("safeq_cml", "M"), ("safeq_ors", "M"), ("safeq_crs", "M"),
        ("ldap_servers", "R"), ("database_servers", "R"), ("smtp_servers", "R"), ("mdns_multicast", "R"),
        ("payment_system", "R"),
    ])
    edges = edges_of(root)
    by_id = names_by_id(root)
    pairs = sorted((by_id[p.get("data-source")], by_id[p.get("data-target")]) for p in edges)
    assert len(pairs) == len(set(pairs)) == 14  # 16 flows, two pairs aggregate two flows each
    assert ("printer_networks", "safeq_ors") in pairs and ("safeq_ors", "printer_networks") in pairs
    assert ("safeq_cml", "safeq_cml") in pairs and ("payment_system", "safeq_cml") in pairs
    labels = labels_of(root)
    text_of = {(by_id[p.get("data-source")], by_id[p.get("data-target")]): labels[p.get("id")] for p in edges}
    assert text_of[("printer_networks", "safeq_ors")] == "tcp 4096,5012; udp 161"
    assert text_of[("safeq_cml", "ldap_servers")] == "tcp 389,636,3268-3269"
    assert text_of[("safeq_cml", "database_servers")] == "tcp ?"
    assert text_of[("safeq_cml", "safeq_cml")] == "\u21ba tcp 4111,6020,44441-44443"
    assert text_of[("safeq_cml", "safeq_ors")] == "\u21ba tcp 5555"


def test_columns_by_kind_and_role():
    root = parse(S.flow_diagram_svg(example_flows()))
    x_by_side = {}
    for node in nodes_of(root).values():
        x_by_side.setdefault(node.side, set()).add(int(node.rect["x"]))
    assert all(len(xs) == 1 for xs in x_by_side.values())
    assert max(x_by_side["L"]) < min(x_by_side["M"]) < min(x_by_side["R"])
    lines = {node.name: node.lines for node in nodes_of(root).values()}
    assert lines["safeq_cml"][1:] == ["3 hosts: cml-prg-1 +2 more", "10.10.1.11, 10.10.1.12 +1 more"]
    assert lines["ldap_servers"][1:] == ["external server", "10.10.0.10, 10.10.0.11"]


def test_every_edge_runs_from_its_source_to_its_destination():
    root = parse(S.flow_diagram_svg(example_flows()))
    nodes = nodes_of(root)
    for path in edges_of(root):
        start, end = endpoints_xy(path)
        assert on_border(start, nodes[path.get("data-source")].rect), path.get("id")
        assert on_border(end, nodes[path.get("data-target")].rect), path.get("id")
        assert path.get("marker-end", "").startswith("url(#sqf-arrow-")  # arrow at the destination end


def test_edge_styles():
    root = parse(S.flow_diagram_svg(example_flows()))
    by_id = names_by_id(root)
    style = {(by_id[p.get("data-source")], by_id[p.get("data-target")]): p for p in edges_of(root)}
    assert style[("safeq_cml", "smtp_servers")].get("stroke-dasharray")  # not enforced: dashed
    assert style[("workstation_networks", "database_servers")].get("stroke-dasharray")
    assert style[("safeq_cml", "ldap_servers")].get("stroke-dasharray") is None
    multicast = style[("safeq_ors", "mdns_multicast")]
    assert multicast.get("stroke") == S.CAST_COLOR != style[("safeq_cml", "ldap_servers")].get("stroke")
    assert multicast.get("marker-end") == "url(#sqf-arrow-cast)"
    labels = {g.get("data-edge"): g for g in root.iter(SVG + "g") if g.get("class") == "edge-label"}
    unresolved = labels[style[("safeq_cml", "database_servers")].get("id")]
    assert unresolved.find(SVG + "text").get("fill") == S.UNRESOLVED_COLOR
    assert "databaseTcpPort: port is dynamic" in unresolved.find(SVG + "title").text


def test_labels_of_a_lane_never_overlap():
    root = parse(S.flow_diagram_svg(large_flows()))
    boxes = {}
    for group in root.iter(SVG + "g"):
        if group.get("class") == "edge-label":
            rect = group.find(SVG + "rect").attrib
            boxes.setdefault(int(rect["x"]), []).append((int(rect["y"]), int(rect["y"]) + int(rect["height"])))
    assert len(boxes) == 2  # the lane left and the lane right of the SafeQ column
    for spans in boxes.values():
        spans.sort()
        assert all(previous[1] <= current[0] for previous, current in zip(spans, spans[1:]))


def test_partly_enforced_edge_is_solid_and_marked():
    rows = []
    flow(rows, CML, LDAP, "tcp", [389])
    flow(rows, CML, LDAP, "udp", [389], enforced=False, enforced_on=[])
    root = parse(S.flow_diagram_svg(rows))
    (path,) = edges_of(root)
    assert path.get("stroke-dasharray") is None
    assert list(labels_of(root).values()) == ["tcp 389; udp 389 *"]


def test_long_port_lists_and_names_are_shortened():
    rows = []
    big_cml = endpoint("safeq_cml_" + "x" * 80, "safeq", "cml", ["h%04d" % i for i in range(2000)],
                       ["10.1.%d.%d" % (i // 250, i % 250) for i in range(2000)])
    flow(rows, big_cml, LDAP, "tcp", list(range(1000, 1200, 2)))
    svg = S.flow_diagram_svg(rows)
    root = parse(svg)
    (label,) = labels_of(root).values()
    assert label.startswith("tcp 1000,1002,") and re.search(r" \+\d+$", label)
    assert len(label) <= S.LABEL_CHARS
    texts = nodes_of(root)
    middle = next(node for node in texts.values() if node.side == "M")
    name, lines = middle.name, middle.lines
    assert name.endswith("\u2026") and len(name) <= S.NAME_CHARS
    assert lines[1].startswith("2000 hosts: h0000") and lines[1].endswith("more")
    assert lines[2].startswith("10.1.0.0") and lines[2].endswith("more")
    assert "h1999" not in svg and "10.1.7.249" not in svg


@pytest.mark.parametrize("name", [
    HOSTILE, "a<b", "a&b", 'say "hi"', "it's", "]]>", "\u00e9\u00e8\u00ea \u4e2d\u6587 \U0001f5a8",
    "ctl\x01char",
])
def test_hostile_names_are_escaped(name):
    rows = []
    source = endpoint(name, "network", None, [], ["10.0.0.0/8"])
    target = endpoint(name + " srv", "safeq", "cml", ["b&<>", name + "-1"], ["10.1.1.1"])
    flow(rows, source, target, "tcp", [443, "8080<x>"], unresolved='"port" <dynamic> & more',
         id='F<1>&"')
    svg = S.flow_diagram_svg(rows, title=name)
    root = parse(svg)  # well-formed XML whatever the names
    assert "<script" not in svg and "<b" not in svg.replace("<b>", "")
    texts = [t.text or "" for t in root.iter(SVG + "text")]
    expected = S.shorten(name, S.NAME_CHARS)
    assert expected in texts
    assert any("b&<>" in t for t in texts)
    titles = " ".join(t.text or "" for t in root.iter(SVG + "title"))
    assert '"port" <dynamic> & more' in titles and 'F<1>&"' in titles
    label = next(iter(labels_of(root).values()))
    assert "8080<x>" in label


def test_large_input_stays_bounded():
    rows = large_flows()
    members = {m for row in rows for side in ("source", "destination") for m in row[side]["members"]}
    assert len(rows) == 250 and len(members) == 2000
    svg = S.flow_diagram_svg(rows)
    root = parse(svg)
    nodes, edges = nodes_of(root), edges_of(root)
    pairs = {(S.endpoint_key(r["source"]), S.endpoint_key(r["destination"])) for r in rows}
    assert len(edges) == len(pairs) == 205
    assert len(nodes) == 40 * 4 + 5  # ORS, workstations, printers (left and right) per site; CML, LDAP, ...
    assert len(svg) < 300_000
    assert int(root.get("height")) < 10_000
    words = set(re.findall(r"[\w.-]+", svg))
    shown = members & words
    assert len(shown) <= 15 * 41  # a few first members per SafeQ node (label and tooltip), never the full lists
    assert not {m for m in members if m.endswith("-47") or m == "cml-79"} & words
    node_lines = [line for node in nodes.values() for line in node.lines]
    assert max(len(line) for line in node_lines + list(labels_of(root).values())) <= S.DETAIL_CHARS


def test_edge_cap(monkeypatch):
    monkeypatch.setattr(S, "MAX_EDGES", 5)
    rows = []
    for index in range(8):
        flow(rows, endpoint("net%d" % index, "network", None, [], ["10.%d.0.0/16" % index]), CML, "tcp", [443])
    root = parse(S.flow_diagram_svg(rows))
    assert len(edges_of(root)) == 5
    assert any("3 more flows" in (t.text or "") for t in root.iter(SVG + "text"))


def test_no_flows():
    root = parse(S.flow_diagram_svg([]))
    assert not edges_of(root) and not nodes_of(root)
    assert "No flows." in [t.text for t in root.iter(SVG + "text")]


def test_text_helpers():
    assert S.summarize_values(["a", "b", "c"], 40) == "a, b, c"
    assert S.summarize_values(["host-%d" % i for i in range(100)], 30) == "host-0, host-1 +98 more"
    assert S.shorten("\u65e5\u672c\u8a9e" * 10, 9) == "\u65e5\u672c\u8a9e\u65e5\u2026"  # wide: 2 cells each
    assert S.port_tokens([443, "80", "81-90", 85, 8080]) == ["80-90", "443", "8080"]
    assert S.ports_label([("tcp", ["1", "2", "3"]), ("udp", ["4"])], 100) == "tcp 1,2,3; udp 4"
    assert S.ports_label([("tcp", [str(p) for p in range(10000, 10020)])], 25) == "tcp 10000,10001,10002 +17"
    assert S.escape("a<b & \"c\" 'd'\x00") == "a&lt;b &amp; &quot;c&quot; &#x27;d&#x27;\ufffd"
