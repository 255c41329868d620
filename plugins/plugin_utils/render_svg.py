# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the grouped flow matrix as a standalone SVG diagram (pure Python layout).

Input: the flow rows of the plan (``[{id, protocol, ports, unresolved, cast, source, destination,
enforced, ...}]`` with endpoints ``{name, kind, component, members, addresses}``).

Layout, left to right::

    client networks | labels | SafeQ servers | labels | destinations and external servers

* One node per distinct endpoint (kind, name, component, members, addresses). SafeQ endpoints sit
  in the middle column; a ``network`` endpoint sits on the left when it is a source and on the
  right when it is a destination (both when it is both); external, multicast and broadcast
  endpoints sit on the right.
* One edge per (source node, destination node) aggregating its flows. Each edge passes through its
  own label box in the lane between two columns; label boxes of a lane are packed top-down so they
  never overlap, and lines only end at a label's side, so no line runs under a label.
  Edges between two middle nodes (or two right nodes) loop through the right-hand lane;
  edges from a left node straight to a right node run below everything.
* Nodes of the side columns are placed at the mean height of their SafeQ neighbours, then packed;
  the SafeQ column is re-centred on its neighbours once. Edge ends are spread along the node side
  in the order of their labels, which keeps fans readable.
* Size is bounded per element: names, member lists, address lists and port lists are shortened
  ("a, b +1998 more"); at most MAX_EDGES edges are drawn.

``escape`` and the shortening helpers are shared with render_html.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_EDGES = 500

NODE_W = 240
NODE_H = 56
NODE_GAP = 12
LANE_W = 210
LABEL_H = 18
LABEL_GAP = 4
COL_GAP = 50
LOOP_GAP = 90  # between the SafeQ column and its right lane, where loops turn
MARGIN = 16
TOP = 100
LEGEND_W = 1180

NAME_CHARS = 26
DETAIL_CHARS = 33
LABEL_CHARS = 29
TOOLTIP_CHARS = 400

COMPONENT_ORDER = {"cml": 0, "ors": 1, "crs": 2, "ap_connector": 3, "etcd": 4}
KIND_STYLE = {  # fill, stroke
    "safeq": ("#dbe9f9", "#1f5fa8"),
    "network": ("#e3f4e1", "#2e7d32"),
    "external": ("#fdebd3", "#c96a00"),
    "multicast": ("#efe3f7", "#7b3fa0"),
    "broadcast": ("#efe3f7", "#7b3fa0"),
}
KIND_LABEL = {
    "safeq": "SafeQ server",
    "network": "client network",
    "external": "external server",
    "multicast": "multicast group",
    "broadcast": "broadcast",
}
EDGE_COLOR = "#455a64"
CAST_COLOR = "#7b3fa0"
UNRESOLVED_COLOR = "#b00020"
FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


# ---- text helpers (shared with render_html) ---------------------------------------------------

def clean(text):
    """str(text) without characters XML cannot carry (control characters, lone surrogates)."""
    text = "" if text is None else str(text)
    if text.isascii() and text.isprintable():
        return text
    return _INVALID_XML.sub("\ufffd", text)


def escape(text):
    """Text safe in XML/HTML element content and quoted attribute values."""
    return html.escape(clean(text), quote=True)


def _char_width(char):
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text):
    """Width in average character cells (wide East Asian characters count twice)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def shorten(text, limit):
    """``text`` on one line, cut to ``limit`` character cells with a trailing ellipsis."""
    text = " ".join(clean(text).split())
    if text.isascii():
        return text if len(text) <= limit else text[:max(limit - 1, 0)] + "\u2026"
    width = 0
    for index, char in enumerate(text):
        width += _char_width(char)
        if width > limit:
            cut, used = index, width - _char_width(char)
            while cut > 0 and used > limit - 1:
                cut -= 1
                used -= _char_width(text[cut])
            return text[:cut] + "\u2026"
    return text


def summarize_values(values, limit, more="more"):
    """'a, b, c +N more' within about ``limit`` cells; reads only the values it shows."""
    total = len(values)
    if not total:
        return ""
    shown, used = [], 0
    for index in range(total):
        piece = " ".join(clean(values[index]).split())
        rest = total - index - 1
        suffix = len(" +%d %s" % (rest, more)) if rest else 0
        width = text_width(piece) + (2 if shown else 0)
        if used + width + suffix > limit:
            break
        shown.append(piece)
        used += width
    if not shown:
        suffix = " +%d %s" % (total - 1, more) if total > 1 else ""
        return shorten(values[0], max(limit - len(suffix), 4)) + suffix
    text = ", ".join(shown)
    if len(shown) < total:
        text += " +%d %s" % (total - len(shown), more)
    return text


def _port_range(port):
    if isinstance(port, bool):
        return None
    if isinstance(port, int):
        return (port, port)
    low, sep, high = str(port).strip().partition("-")
    if low.isdigit() and (not sep or high.isdigit()):
        return (int(low), int(high or low))
    return None


def port_tokens(ports):
    """Ports (ints, 'a-b' strings) merged and sorted: ['80', '443', '5432-5435']; odd values kept as text."""
    ranges, odd = [], []
    for port in ports or ():
        parsed = _port_range(port)
        if parsed is None:
            odd.append(clean(port))
        else:
            ranges.append(parsed)
    merged = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return ["%d" % low if low == high else "%d-%d" % (low, high) for low, high in merged] + sorted(set(odd))


def ports_label(parts, limit):
    """'tcp 80,443 +3; udp 161' from [(protocol, [tokens])], shortened to ``limit`` cells."""
    total = sum(len(part[1]) for part in parts)
    text, shown = "", 0
    for protocol, tokens in parts:
        piece = ("; " if text else "") + protocol + " "
        taken = 0
        for token in tokens:
            rest = total - shown - taken - 1
            reserve = len(" +%d" % rest) if rest else 0
            addition = ("," if taken else "") + token
            if len(text) + len(piece) + len(addition) + reserve > limit:
                break
            piece += addition
            taken += 1
        if not taken:
            break
        text += piece
        shown += taken
        if taken < len(tokens):
            break
    if shown < total:
        text += " +%d" % (total - shown)
    return text


# ---- model ------------------------------------------------------------------------------------

class _Node:
    __slots__ = ("number", "side", "endpoint", "kind", "y", "attach")

    def __init__(self, number, side, endpoint):
        self.number = number
        self.side = side
        self.endpoint = endpoint
        self.kind = endpoint.get("kind") or "external"
        self.y = 0.0
        self.attach = {}  # side of the box -> [(edge, end)]

    @property
    def center(self):
        return self.y + NODE_H / 2

    @property
    def name(self):
        return clean(self.endpoint.get("name") or "(unnamed)")


class _Edge:
    __slots__ = ("number", "source", "target", "flows", "lane", "route", "y", "points")

    def __init__(self, number, source, target):
        self.number = number
        self.source = source
        self.target = target
        self.flows = []
        self.lane = "C"
        self.route = "straight"  # straight | loop | bypass
        self.y = 0.0
        self.points = {}  # "source"/"target" -> (x, y)

    @property
    def center(self):
        return self.y + LABEL_H / 2


def endpoint_key(endpoint):
    """Identity of an endpoint: two flows naming the same key share a node."""
    return (
        endpoint.get("kind"), clean(endpoint.get("name")), endpoint.get("component"),
        tuple(clean(m) for m in endpoint.get("members") or ()),
        tuple(clean(a) for a in endpoint.get("addresses") or ()),
    )


def _side(endpoint, role):
    kind = endpoint.get("kind")
    if kind == "safeq":
        return "M"
    if kind == "network" and role == "source":
        return "L"
    return "R"


def _build(flows):
    nodes, edges = {}, {}
    dropped = 0
    key_cache = {}

    def node_for(endpoint, role):
        ident = id(endpoint)
        key = key_cache.get(ident)
        if key is None:
            key = key_cache[ident] = endpoint_key(endpoint)
        side = _side(endpoint, role)
        node = nodes.get((side, key))
        if node is None:
            node = nodes[(side, key)] = _Node(len(nodes), side, endpoint)
        return node

    for flow in flows:
        source = flow.get("source") or {}
        target = flow.get("destination") or {}
        src, dst = node_for(source, "source"), node_for(target, "destination")
        edge = edges.get((src.number, dst.number))
        if edge is None:
            if len(edges) >= MAX_EDGES:
                dropped += 1
                continue
            edge = edges[(src.number, dst.number)] = _Edge(len(edges), src, dst)
        edge.flows.append(flow)
    used = {e.source.number for e in edges.values()} | {e.target.number for e in edges.values()}
    node_list = [n for n in nodes.values() if n.number in used]
    for edge in edges.values():
        sides = (edge.source.side, edge.target.side)
        if sides == ("L", "M"):
            edge.lane = "A"
        elif sides == ("L", "R"):
            edge.lane, edge.route = "A", "bypass"
        elif sides[0] == sides[1]:
            edge.route = "loop"
    return node_list, list(edges.values()), dropped


# ---- layout -----------------------------------------------------------------------------------

def _pack(items, height, gap, top):
    """items: [(ideal top or None, sort key, obj)]; sets obj.y going down, never overlapping."""
    position = top
    for item in sorted(items, key=lambda i: (i[0] is None, i[0] or 0, i[1])):
        ideal, obj = item[0], item[2]
        obj.y = position if ideal is None else max(ideal, position)
        position = obj.y + height + gap
    return position


def _mean(values):
    return sum(values) / len(values) if values else None


def _label_ideal(edge):
    """Loops keep their label next to the source; other labels sit halfway."""
    if edge.route == "loop":
        return edge.source.center - LABEL_H / 2
    return (edge.source.center + edge.target.center) / 2 - LABEL_H / 2


def _node_sort_key(node):
    endpoint = node.endpoint
    return (COMPONENT_ORDER.get(endpoint.get("component"), len(COMPONENT_ORDER)), node.name, node.number)


def _layout(nodes, edges):
    columns = {"L": [], "M": [], "R": []}
    for node in nodes:
        columns[node.side].append(node)
    neighbours = {node.number: [] for node in nodes}
    for edge in edges:
        if edge.source is not edge.target:
            neighbours[edge.source.number].append(edge.target)
            neighbours[edge.target.number].append(edge.source)
    middle = sorted(columns["M"], key=_node_sort_key)
    for index, node in enumerate(middle):
        node.y = TOP + index * (NODE_H + NODE_GAP)

    def place_sides():
        bottom = TOP
        for side in ("L", "R"):
            items = []
            for node in columns[side]:
                center = _mean([n.center for n in neighbours[node.number] if n.side == "M"])
                items.append((None if center is None else center - NODE_H / 2, (node.kind, node.name, node.number),
                              node))
            bottom = max(bottom, _pack(items, NODE_H, NODE_GAP, TOP))
        return bottom

    place_sides()
    if columns["L"] or columns["R"]:
        items = []
        for rank, node in enumerate(middle):
            center = _mean([n.center for n in neighbours[node.number] if n.side != "M"])
            items.append((None if center is None else center - NODE_H / 2, rank, node))
        # keep the component order: ideals are made monotonic before packing
        floor = TOP
        ordered = []
        for ideal, rank, node in items:
            floor = max(floor, ideal if ideal is not None else floor)
            ordered.append((floor, rank, node))
        _pack(ordered, NODE_H, NODE_GAP, TOP)
        place_sides()
    labelled = [e for e in edges if e.route != "bypass"]
    for lane in ("A", "C"):
        items = [(_label_ideal(e), (e.source.name, e.target.name, e.number), e) for e in labelled if e.lane == lane]
        _pack(items, LABEL_H, LABEL_GAP, TOP)
    placed = nodes + labelled
    shift = min(item.y for item in placed) - TOP if placed else 0  # packing only pushes down: lift back
    for item in placed:
        item.y -= shift
    bottom = max([n.y + NODE_H for n in nodes] + [e.y + LABEL_H for e in labelled] + [TOP])
    bypass = [(None, (e.source.y, e.target.name, e.number), e) for e in edges if e.route == "bypass"]
    if bypass:
        bottom = _pack(bypass, LABEL_H, LABEL_GAP, bottom + 2 * LABEL_GAP)
    return bottom


def _columns_x(nodes, edges):
    sides = {n.side for n in nodes}
    x, positions = MARGIN, {}
    if "L" in sides:
        positions["L"] = x
        positions["A"] = x + NODE_W + COL_GAP
        x = positions["A"] + LANE_W + COL_GAP
    positions["M"] = x
    x += NODE_W + LOOP_GAP
    if any(e.lane == "C" for e in edges):
        positions["C"] = x
        x += LANE_W + COL_GAP
    if "R" in sides:
        positions["R"] = x
        x += NODE_W + COL_GAP
    return positions, x - COL_GAP + MARGIN


def _attach(nodes, edges, positions):
    """Spread edge ends along the node sides, in the order of their labels."""
    for edge in edges:
        for end, node in (("source", edge.source), ("target", edge.target)):
            if node.side == "L":
                box_side = "right"
            elif node.side == "R":
                box_side = "left"
            else:
                box_side = "left" if edge.lane == "A" else "right"
            node.attach.setdefault(box_side, []).append((edge, end))
    for node in nodes:
        x = positions[node.side]
        for box_side, ends in node.attach.items():
            ends.sort(key=lambda item: (item[0].center, item[0].number, item[1]))
            step = NODE_H / (len(ends) + 1)
            edge_x = x + NODE_W if box_side == "right" else x
            for index, (edge, end) in enumerate(ends):
                edge.points[end] = (edge_x, node.y + step * (index + 1))


# ---- drawing ----------------------------------------------------------------------------------

def _num(value):
    return "%d" % round(value)


def _curve(start, end):
    x0, y0 = start
    x1, y1 = end
    mid = (x0 + x1) / 2
    return "C%s %s %s %s %s %s" % (_num(mid), _num(y0), _num(mid), _num(y1), _num(x1), _num(y1))


def _edge_path(edge, positions):
    start, end = edge.points["source"], edge.points["target"]
    lane_x = positions[edge.lane]
    label_y = edge.center
    left, right = (lane_x, label_y), (lane_x + LANE_W, label_y)
    move = "M%s %s " % (_num(start[0]), _num(start[1]))
    if edge.route == "bypass":
        turn = (positions["R"] - COL_GAP / 2, label_y)
        return move + " ".join((_curve(start, left), "L%s %s" % (_num(turn[0]), _num(turn[1])), _curve(turn, end)))
    if edge.route == "loop":
        touch = right if edge.source.side == "R" else left
        return move + _curve(start, touch) + " " + _curve(touch, end)
    first, second = (left, right) if start[0] < end[0] else (right, left)
    return move + " ".join((_curve(start, first), "L%s %s" % (_num(second[0]), _num(second[1])),
                            _curve(second, end)))


def _edge_facts(edge):
    protocols, unresolved, ids = {}, [], []
    enforced = [bool(f.get("enforced")) for f in edge.flows]
    cast = any((f.get("cast") or "unicast") != "unicast" for f in edge.flows)
    for flow in edge.flows:
        protocol = clean(flow.get("protocol") or "?")
        protocols.setdefault(protocol, []).extend(flow.get("ports") or ())
        if flow.get("unresolved"):
            unresolved.append((protocol, clean(flow["unresolved"])))
        ids.append(clean(flow.get("id") or "?"))
    parts = []
    unresolved_protocols = {item[0] for item in unresolved}
    for protocol in sorted(protocols):
        tokens = port_tokens(protocols[protocol])
        if protocol in unresolved_protocols:
            tokens.append("?")
        parts.append((protocol, tokens))
    for protocol in sorted(unresolved_protocols - set(protocols)):
        parts.append((protocol, ["?"]))
    loop = "\u21ba " if edge.route == "loop" else ""
    label = loop + ports_label(parts, LABEL_CHARS - 2 - len(loop))
    if any(enforced) and not all(enforced):
        label += " *"
    full = "; ".join("%s %s" % (p, ",".join(t)) for p, t in parts)
    tooltip = "%s \u2192 %s: %s. Flows %s." % (edge.source.name, edge.target.name, full, ", ".join(ids))
    if not any(enforced):
        tooltip += " Not enforced by a SafeQ host."
    elif not all(enforced):
        tooltip += " Partly not enforced by a SafeQ host."
    if unresolved:
        tooltip += " Unresolved: " + "; ".join(sorted({item[1] for item in unresolved}))
    return {"label": label, "tooltip": shorten(tooltip, TOOLTIP_CHARS), "dashed": not any(enforced),
            "short": shorten("%s \u2192 %s: %s" % (edge.source.name, edge.target.name, label), 120),
            "cast": cast, "unresolved": bool(unresolved)}


def _node_lines(node):
    endpoint = node.endpoint
    members = endpoint.get("members") or []
    addresses = endpoint.get("addresses") or []
    component = clean(endpoint.get("component") or "")
    if members:
        prefix = component + " \u00b7 " if component and component not in node.name else ""
        head = "%s%d host%s: " % (prefix, len(members),
                                  "" if len(members) == 1 else "s")
        second = head + summarize_values(members, DETAIL_CHARS - len(head))
    else:
        second = KIND_LABEL.get(node.kind, clean(node.kind)) + (" \u00b7 " + component if component else "")
    third = summarize_values(addresses, DETAIL_CHARS) if addresses else "no address"
    return shorten(node.name, NAME_CHARS), shorten(second, DETAIL_CHARS), third


def _node_tooltip(node):
    endpoint = node.endpoint
    members = endpoint.get("members") or []
    addresses = endpoint.get("addresses") or []
    text = "%s (%s%s)" % (node.name, KIND_LABEL.get(node.kind, clean(node.kind)),
                          ", " + clean(endpoint["component"]) if endpoint.get("component") else "")
    if members:
        text += ". %d member(s): %s" % (len(members), summarize_values(members, 150))
    text += ". %d address(es): %s" % (len(addresses), summarize_values(addresses, 150) or "none")
    return shorten(text, TOOLTIP_CHARS)


def _legend(out):
    out.append('<g class="legend" font-size="11">')
    x = MARGIN
    for kind in ("safeq", "network", "external", "multicast"):
        fill, stroke = KIND_STYLE[kind]
        out.append('<rect x="%d" y="40" width="16" height="12" rx="3" fill="%s" stroke="%s"/>'
                   '<text x="%d" y="50">%s</text>' % (x, fill, stroke, x + 21, escape(KIND_LABEL[kind])))
        x += 140
    samples = (
        ("enforced by a SafeQ host", EDGE_COLOR, ' stroke-width="1.5"'),
        ("not enforced (dashed)", EDGE_COLOR, ' stroke-width="1.5" stroke-dasharray="6 4"'),
        ("multicast / broadcast", CAST_COLOR, ' stroke-width="2.5"'),
    )
    for text, color, extra in samples:
        out.append('<line x1="%d" y1="46" x2="%d" y2="46" stroke="%s"%s/>'
                   '<text x="%d" y="50">%s</text>' % (x, x + 28, color, extra, x + 34, escape(text)))
        x += 195
    out.append('<text x="%d" y="66" fill="#555">Edge labels: protocol and destination ports; '
               '? = unresolved port, * = partly not enforced, \u21ba = both ends in the same column. '
               'Hover for details.</text></g>' % MARGIN)


def _headings(out, positions):
    titles = (("L", "Sources: client networks"), ("M", "SafeQ servers"),
              ("R", "Destinations and external servers"))
    for side, text in titles:
        if side in positions:
            out.append('<text x="%d" y="88" font-weight="bold" font-size="12" fill="#333">%s</text>'
                       % (positions[side], escape(text)))


def _draw_edges(out, edges, positions):
    facts = {e.number: _edge_facts(e) for e in edges}
    out.append('<g class="edges" fill="none">')
    for edge in edges:
        fact = facts[edge.number]
        color = CAST_COLOR if fact["cast"] else EDGE_COLOR
        out.append('<path class="edge" id="sqf-e%d" data-source="sqf-n%d" data-target="sqf-n%d" d="%s" stroke="%s" '
                   'stroke-width="%s"%s marker-end="url(#sqf-arrow-%s)"><title>%s</title></path>' % (
                       edge.number, edge.source.number, edge.target.number, _edge_path(edge, positions), color,
                       "2.5" if fact["cast"] else "1.3", ' stroke-dasharray="6 4"' if fact["dashed"] else "",
                       "cast" if fact["cast"] else "plain", escape(fact["short"])))
    out.append('</g><g class="labels" font-size="11">')
    for edge in edges:
        fact = facts[edge.number]
        x = positions[edge.lane]
        color = UNRESOLVED_COLOR if fact["unresolved"] else (CAST_COLOR if fact["cast"] else "#222")
        out.append('<g class="edge-label" data-edge="sqf-e%d"><title>%s</title>'
                   '<rect x="%d" y="%s" width="%d" height="%d" rx="3" fill="#ffffff" stroke="%s"%s/>'
                   '<text x="%d" y="%s" fill="%s">%s</text></g>' % (
                       edge.number, escape(fact["tooltip"]), x, _num(edge.y), LANE_W, LABEL_H,
                       CAST_COLOR if fact["cast"] else "#9aa5ab", ' stroke-dasharray="4 3"' if fact["dashed"] else "",
                       x + 6, _num(edge.y + 13), color, escape(fact["label"])))
    out.append("</g>")


def _draw_nodes(out, nodes, positions):
    out.append('<g class="nodes">')
    for node in nodes:
        fill, stroke = KIND_STYLE.get(node.kind, KIND_STYLE["external"])
        x, y = positions[node.side], node.y
        first, second, third = _node_lines(node)
        out.append('<g class="node node-%s" id="sqf-n%d" data-side="%s"><title>%s</title>'
                   '<rect x="%d" y="%s" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>'
                   '<text x="%d" y="%s" font-size="12" font-weight="bold" fill="#111">%s</text>'
                   '<text x="%d" y="%s" font-size="11" fill="#333">%s</text>'
                   '<text x="%d" y="%s" font-size="11" fill="#333">%s</text></g>' % (
                       escape(node.kind), node.number, node.side, escape(_node_tooltip(node)),
                       x, _num(y), NODE_W, NODE_H, fill, stroke,
                       x + 8, _num(y + 17), escape(first), x + 8, _num(y + 33), escape(second),
                       x + 8, _num(y + 48), escape(third)))
    out.append("</g>")


def flow_diagram_svg(flows, title="SafeQ network flows"):
    """Standalone SVG (a string starting with ``<svg``) of the grouped flow matrix ``flows``."""
    nodes, edges, dropped = _build(flows or [])
    bottom = _layout(nodes, edges)
    positions, width = _columns_x(nodes, edges)
    _attach(nodes, edges, positions)
    width = max(width, LEGEND_W)
    height = bottom + MARGIN + (24 if dropped or not edges else 0)
    heading = "%s: %d flows, %d nodes, %d edges" % (clean(title), len(flows or []), len(nodes), len(edges))
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="safeq-flow-diagram" width="%d" height="%s" '
        'viewBox="0 0 %d %s" font-family="%s" role="img" aria-labelledby="sqf-title">' % (
            width, _num(height), width, _num(height), FONT),
        '<title id="sqf-title">%s</title>' % escape(title),
        '<defs>',
        '<marker id="sqf-arrow-plain" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="%s"/></marker>' % EDGE_COLOR,
        '<marker id="sqf-arrow-cast" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" markerHeight="5" '
        'orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="%s"/></marker>' % CAST_COLOR,
        '</defs>',
        '<rect x="0" y="0" width="%d" height="%s" fill="#ffffff"/>' % (width, _num(height)),
        '<text x="%d" y="26" font-size="16" font-weight="bold" fill="#1f3a5f">%s</text>' % (
            MARGIN, escape(shorten(heading, 120))),
    ]
    _legend(out)
    _headings(out, positions)
    _draw_edges(out, edges, positions)
    _draw_nodes(out, nodes, positions)
    if not edges:
        out.append('<text x="%d" y="%d" font-size="12" fill="#555">No flows.</text>' % (MARGIN, TOP + 14))
    if dropped:
        out.append('<text x="%d" y="%s" font-size="12" fill="%s">%d more flows between other endpoints are not '
                   'drawn (more than %d edges); see the flow table.</text>' % (
                       MARGIN, _num(height - MARGIN), UNRESOLVED_COLOR, dropped, MAX_EDGES))
    out.append("</svg>")
    return "\n".join(out) + "\n"
