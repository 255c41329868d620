# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: inventory -> topology -> policies -> renders, validated for every host at once.

``compute_plan`` is what plan, harden, prerequisites and verify call (through the
``safeq.hardening.policy_plan`` action): nothing reaches a host unless every host's policy and
rendered firewall configuration is valid. ``write_plan`` writes the plan's files in one pass.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_flows, render_html, render_svg
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.inventory import inventory_inputs
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import PolicyError, build_policies
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import RenderError, render_table
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    DEFAULT_PROFILES,
    WindowsRenderError,
    firewall_rule_args,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import (
    build_topology,
    join_errors,
    load_inventory_spec,
)

MANIFEST = ".safeq-plan-manifest.json"
FLOW_DETAILS = ("groups", "hosts")
RENDER_DEFAULTS = {
    "outbound_default": "accept",
    "allow_icmp": True,
    "windows_prefix": DEFAULT_PREFIX,
    "windows_group": DEFAULT_GROUP,
    "windows_profiles": list(DEFAULT_PROFILES),
}


def render_host(policy, options, cache=None):
    """The host's firewall configuration: {"nftables": text} or {"windows": [win_firewall_rule args]}."""
    if policy["platform"] == "windows":
        return {"windows": firewall_rule_args(policy, prefix=options["windows_prefix"], group=options["windows_group"],
                                              profiles=options["windows_profiles"])}
    return {"nftables": render_table(policy, outbound_default=options["outbound_default"],
                                     allow_icmp=options["allow_icmp"], cache=cache)}


def policy_json(policy, cache):
    """A policy as JSON text: sorted keys, one rule (one listener) per line; shared lists encoded once."""
    keys = sorted(policy)
    lines = ["{"]
    for index, key in enumerate(keys):
        value = policy[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            found = cache.get(id(value))
            if found is None or found[0] is not value:
                text = "[\n  " + ",\n  ".join(json.dumps(item, sort_keys=True) for item in value) + "\n ]"
                cache[id(value)] = (value, text)
            else:
                text = found[1]
        else:
            text = json.dumps(value, sort_keys=True)
        lines.append(' "%s": %s%s' % (key, text, "," if index < len(keys) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def compute_plan(groups, hostvars, catalog_path=None, render_options=None):
    """Compute and validate everything; raise ValueError subclasses listing every problem.

    Returns {"policies", "flows", "unresolved", "warnings", "rendered", "summary", "topology"}.
    """
    catalog = load_catalog(catalog_path)
    spec = load_inventory_spec()
    plain_groups, variables = inventory_inputs(groups, hostvars, spec)
    topology = build_topology(plain_groups, variables, catalog, spec)
    protected = {int(port): name for port, name in (spec.get("protected_ports") or {}).items()}
    result = build_policies(catalog, topology, protected)
    options = dict(RENDER_DEFAULTS, **(render_options or {}))
    rendered, errors, cache = {}, [], {}
    for name in sorted(result["policies"]):
        try:
            rendered[name] = render_host(result["policies"][name], options, cache)
        except (RenderError, WindowsRenderError) as exc:
            errors.append("hostvars[%s]: the %s configuration cannot be rendered: %s"
                          % (name, result["policies"][name]["platform"], exc))
    if errors:
        raise PolicyError(join_errors(errors, "render"))
    result["rendered"] = rendered
    result["topology"] = topology
    result["topology_view"] = topology_view(topology)
    result["summary"] = summary(result)
    return result


def topology_view(topology):
    """The topology as plain data: clusters, near-roaming groups, etcd clusters and every host."""
    hosts = {}
    for name, host in topology.hosts.items():
        item = host.as_dict()
        item["networks"] = {k: list(v) for k, v in host.networks.items()}
        hosts[name] = item
    return {
        "clusters": {
            name: {"features": sorted(c.features),
                   "members": {comp: [h.name for h in c.members(comp)] for comp in sorted(c.by_component)},
                   "feature_hosts": {f: sorted(hs) for f, hs in sorted(c.feature_hosts.items())}}
            for name, c in sorted(topology.clusters.items())},
        "near_roaming_groups": {"%s/%s" % key: sorted(h.name for h in members)
                                for key, members in sorted(topology.near_roaming_groups.items())},
        "etcd_clusters": {name: sorted(h.name for h in members) for name, members in sorted(topology.etcd_clusters.items())},
        "hosts": hosts,
    }


def summary(plan):
    """The numbers a run publishes (set_stats): hosts, rules per host, flows, warnings, unresolved."""
    return {
        "hosts": len(plan["policies"]),
        "rules_per_host": {name: len(p["rules"]) for name, p in sorted(plan["policies"].items())},
        "flows": len(plan["flows"]),
        "warnings": len(plan["warnings"]),
        "unresolved": len(plan["unresolved"]),
    }


def plan_files(plan, flow_detail="groups", extra=None, inventory_name=""):
    """{relative file name: text} of everything plan writes."""
    if flow_detail not in FLOW_DETAILS:
        raise ValueError("safeq_flow_detail: %r is not one of %s" % (flow_detail, ", ".join(FLOW_DETAILS)))
    files, cache = {}, {}
    for name, policy in plan["policies"].items():
        files["hosts/%s.json" % name] = policy_json(policy, cache)
        nft = plan["rendered"].get(name, {}).get("nftables")
        if nft is not None:
            files["hosts/%s.nft" % name] = nft
    for fmt, render in render_flows.RENDERERS.items():
        files["flows.%s" % fmt] = render(plan["flows"])
    if flow_detail == "hosts":
        files["flows-hosts.csv"] = render_flows.hosts_csv(plan["policies"])
    files["summary.json"] = json.dumps({"summary": plan["summary"], "warnings": plan["warnings"],
                                        "unresolved": plan["unresolved"]}, indent=1, sort_keys=True) + "\n"
    files["flows.svg"] = render_svg.flow_diagram_svg(plan["flows"], "SafeQ firewall plan: flows")
    files["plan.html"] = render_html.plan_report_html({
        "diagram_svg": files["flows.svg"],
        "title": "SafeQ firewall plan",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inventory": inventory_name,
        "summary": dict(plan["summary"], rules=sum(plan["summary"]["rules_per_host"].values()),
                        warnings=len(plan["warnings"]), unresolved=len(plan["unresolved"])),
        "warnings": plan["warnings"],
        "unresolved": plan["unresolved"],
        "policies": plan["policies"],
        "flows": plan["flows"],
    })
    files.update(extra or {})
    return files


def write_files(directory, files):
    """Write ``files`` ({relative name: text}) under ``directory`` in one pass.

    Unchanged files are not rewritten; files an earlier run wrote (listed in the manifest) that
    this run does not write are removed. Returns {"written": [...], "unchanged": n, "removed": [...]}.
    """
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    manifest_path = os.path.join(directory, MANIFEST)
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            previous = set(json.load(handle).get("files", []))
    except (OSError, ValueError, AttributeError):
        previous = set()
    written, unchanged = [], 0
    made = set()
    for rel in sorted(files):
        path = os.path.join(directory, rel)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        data = files[rel].encode("utf-8")
        try:
            with open(path, "rb") as handle:
                if handle.read() == data:
                    unchanged += 1
                    continue
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        written.append(rel)
    removed = []
    for rel in sorted(previous - set(files)):
        path = os.path.join(directory, rel)
        if os.path.normpath(path).startswith(directory + os.sep) and os.path.isfile(path):
            os.unlink(path)
            removed.append(rel)
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump({"files": sorted(files), "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                  handle, indent=1)
    return {"written": written, "unchanged": unchanged, "removed": removed}
