# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the grouped flow matrix for a network team: JSON, CSV, Markdown and a Mermaid diagram.

A flow row is between groups (a CML cluster, the ORS of a cluster, a near-roaming group, the hosts
that share a network list, a network): its members and addresses are listed once. The per-host
expansion (``hosts_csv``) lists every host's rules, one row each.
"""

from __future__ import annotations

import csv
import io
import json
import math

CSV_COLUMNS = (
    "id", "action", "source", "source_kind", "source_members", "source_addresses", "destination",
    "destination_kind", "destination_members", "destination_addresses", "protocol", "ports", "cast",
    "requirement", "features", "enforced", "enforced_on", "catalog_ids", "description", "note",
)
HOSTS_CSV_COLUMNS = ("host", "address", "rule", "action", "direction", "protocol", "ports", "remote_ports",
                     "remote_addresses", "local_addresses", "peers", "catalog_ids")
MERMAID_LABEL_MAX = 60


def _join(values):
    return " ".join(str(v) for v in values)


def _ports_text(flow):
    if flow.get("unresolved"):
        return "unresolved (%s)" % flow["unresolved"].split(":")[0]
    return ",".join(str(p) for p in flow["ports"])


_INDENTED = json.JSONEncoder(indent=1, sort_keys=True)
_json_text = json.encoder.encode_basestring_ascii


def _json_scalar(value):
    """``json.dumps(value)`` for a scalar, without building an encoder per value."""
    if isinstance(value, str):
        return _json_text(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)


def _json_at(value, level, cache):
    """``json.dumps(value, indent=1, sort_keys=True)`` as it reads nested ``level`` deep in a document.

    Dicts are encoded once per object (the policy core shares one endpoint dict between all the
    flows that name it); ``cache`` maps id -> (object, text) and keeps the objects alive.
    """
    if not isinstance(value, (dict, list, tuple)):
        return _json_scalar(value)
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    inner = "\n" + " " * (level + 1)
    if not isinstance(value, dict):
        body = ("," + inner).join(_json_text(item) if isinstance(item, str) else _json_at(item, level + 1, cache)
                                  for item in value)
        return "[%s%s\n%s]" % (inner, body, " " * level)
    found = cache.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if all(isinstance(key, str) for key in value):
        body = ("," + inner).join("%s: %s" % (_json_text(key), _json_at(value[key], level + 1, cache))
                                  for key in sorted(value))
        text = "{%s%s\n%s}" % (inner, body, " " * level)
    else:
        text = _INDENTED.encode(value).replace("\n", "\n" + " " * level)
    cache[id(value)] = (value, text)
    return text


def flows_json(flows):
    """The flows as indented JSON (``json.dumps(flows, indent=1, sort_keys=True)`` and a newline)."""
    if not isinstance(flows, list):
        return json.dumps(flows, indent=1, sort_keys=True) + "\n"
    return _json_at(flows, 0, {}) + "\n"


def flow_row(flow, cache=None):
    """One CSV row (a list of strings) for a flow; ``cache`` shares the joined lists of shared endpoints."""
    src, dst = flow["source"], flow["destination"]
    join = _join if cache is None else (lambda values: _join_cached(values, cache))
    return [
        flow["id"], flow["action"], src["name"], src["kind"], join(src["members"]), join(src["addresses"]),
        dst["name"], dst["kind"], join(dst["members"]), join(dst["addresses"]), flow["protocol"],
        _ports_text(flow), flow["cast"], flow["requirement"], _join(flow["features"]),
        "yes" if flow["enforced"] else "no", _join(flow["enforced_on"]), _join(flow["catalog_ids"]),
        flow["description"], flow["note"] or "",
    ]


def _join_cached(values, cache):
    found = cache.get(id(values))
    if found is not None and found[0] is values:
        return found[1]
    text = _join(values)
    cache[id(values)] = (values, text)
    return text


def flows_csv(flows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cache = {}
    writer.writerows(flow_row(flow, cache) for flow in flows)
    return out.getvalue()


def hosts_csv(policies):
    """Per-host expansion: one row per rule of every host."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HOSTS_CSV_COLUMNS)
    for name in sorted(policies):
        policy = policies[name]
        for rule in policy["rules"]:
            writer.writerow([
                name, policy["address"], rule["name"], rule["action"], rule["direction"], rule["protocol"],
                _join(rule["ports"]), _join(rule.get("remote_ports", [])), _join(rule["addresses"]),
                _join(rule.get("local_addresses", [])), _join(rule.get("peers", [])), _join(rule["catalog_ids"]),
            ])
    return out.getvalue()


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(values, limit=6):
    values = [str(v) for v in values]
    if len(values) <= limit:
        return ", ".join(values)
    return "%s (+%d more)" % (", ".join(values[:limit]), len(values) - limit)


def flows_markdown(flows, title="SafeQ network flows"):
    lines = [
        "# %s" % title, "",
        "One row per flow between groups: who talks to whom, on which ports, and why (the vendor rows).",
        "`action`: allow (opened), deny (closed to the network), local (loopback only). `enforced`: whether a",
        "SafeQ host's firewall enforces it; other rows belong on the network firewall. Generated by",
        "safeq.hardening plan; flows.csv has the full member and address lists.", "",
        "| id | action | source | source addresses | destination | destination addresses | protocol | ports"
        " | requirement | features | enforced | catalog | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for flow in flows:
        src, dst = flow["source"], flow["destination"]
        lines.append("| %s |" % " | ".join(_md(v) for v in (
            flow["id"], flow["action"], "%s (%s)" % (src["name"], _short(src["members"], 3)) if src["members"] else src["name"],
            _short(src["addresses"]), "%s (%s)" % (dst["name"], _short(dst["members"], 3)) if dst["members"] else dst["name"],
            _short(dst["addresses"]), flow["protocol"] + ("" if flow["cast"] == "unicast" else " " + flow["cast"]),
            _ports_text(flow), flow["requirement"], ", ".join(flow["features"]) or "-",
            "yes" if flow["enforced"] else "no", ", ".join(flow["catalog_ids"]), flow["note"] or "")))
    return "\n".join(lines) + "\n"


def _mermaid_text(text):
    text = str(text)
    if len(text) > MERMAID_LABEL_MAX:
        text = text[:MERMAID_LABEL_MAX - 3] + "..."
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def flows_mermaid(flows):
    """A Mermaid flowchart of the allowed flows: one node per group, node ids n1.. (no name clashes)."""
    nodes, edges, keys = {}, {}, {}
    for flow in flows:
        if flow["action"] != "allow":
            continue
        ids = []
        for end in (flow["source"], flow["destination"]):
            found = keys.get(id(end))
            if found is None or found[0] is not end:
                found = keys[id(end)] = (end, (end["kind"], end["name"], tuple(end["members"])))
            key = found[1]
            if key not in nodes:
                nodes[key] = ("n%d" % (len(nodes) + 1), end)
            ids.append(nodes[key][0])
        edge = edges.setdefault(tuple(ids), {"labels": [], "dashed": not flow["enforced"]})
        edge["labels"].append("%s %s" % (flow["protocol"], _ports_text(flow)))
    lines = ["flowchart LR"]
    for node_id, end in nodes.values():
        detail = "%d hosts" % len(end["members"]) if end["members"] else _short(end["addresses"], 2)
        lines.append('    %s["%s<br/>%s"]' % (node_id, _mermaid_text(end["name"]), _mermaid_text(detail)))
    for (src, dst), edge in edges.items():
        label = _mermaid_text("; ".join(sorted(set(edge["labels"]))))
        arrow = "-.->" if edge["dashed"] else "-->"
        lines.append('    %s %s|"%s"| %s' % (src, arrow, label, dst))
    return "\n".join(lines) + "\n"


RENDERERS = {
    "json": flows_json,
    "csv": flows_csv,
    "md": flows_markdown,
    "mmd": flows_mermaid,
}
