# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the documentation that comes from the collection's own data and plugin docs.

    .venv/bin/python scripts/gen_docs.py           # write the files
    .venv/bin/python scripts/gen_docs.py --check   # exit 1 when a committed file differs

Generated: the README's content table (from each plugin's DOCUMENTATION, each role's
argument_specs and each playbook's header), docs/inventory.md (catalog/inventory.yml),
docs/features.md (catalog/features.yml), docs/port-properties.md (the catalog's port properties)
and docs/row-coverage.md (every catalog row -> features -> hosts on inventories/example and
inventories/showcase). tests/unit/test_generated_docs.py runs the check.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

BEGIN = "<!-- BEGIN generated: content table (scripts/gen_docs.py) -->"
END = "<!-- END generated: content table -->"
ROLE_BEGIN = "<!-- BEGIN generated: role variables (scripts/gen_docs.py) -->"
ROLE_END = "<!-- END generated: role variables -->"
PLUGIN_KINDS = (("modules", "module"), ("lookup", "lookup"), ("filter", "filter"))
INVENTORIES = ("example", "showcase")


def _documentation(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    return None


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def content_table():
    rows = ["| kind | name | what it does |", "|---|---|---|"]
    for folder, kind in PLUGIN_KINDS:
        for path in sorted((ROOT / "plugins" / folder).glob("*.py")):
            doc = _documentation(path)
            if doc:
                name = doc.get("module") or doc.get("name")
                rows.append("| %s | `safeq.hardening.%s` | %s |" % (kind, name, _cell(doc["short_description"])))
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]["main"]
        rows.append("| role | `safeq.hardening.%s` | %s |" % (path.parts[-3], _cell(spec["short_description"])))
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        header = []
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if not line.startswith("# ") or line.startswith("#   "):
                break
            header.append(line[2:].strip())
        summary = " ".join(header).split(". ", 1)[0].rstrip(".")
        rows.append("| playbook | `safeq.hardening.%s` | %s |" % (path.stem, _cell(summary)))
    return "\n".join(rows) + "\n"


def readme_text():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + content_table() + END + tail


def role_variables(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, option in (spec["argument_specs"]["main"].get("options") or {}).items():
        kind = option.get("type", "str")
        if option.get("choices"):
            kind += " (%s)" % ", ".join(str(c) for c in option["choices"])
        default = option.get("default", "required" if option.get("required") else "")
        description = option.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        shown = default if isinstance(default, str) else json.dumps(default)
        rows.append("| `%s` | %s | %s | %s |" % (name, _cell(kind), _cell("`%s`" % shown) if default != "" else "",
                                                 _cell(description)))
    return "\n".join(rows) + "\n"


def role_readmes():
    result = {}
    for path in sorted((ROOT / "roles").glob("*/README.md")):
        text = path.read_text(encoding="utf-8")
        if ROLE_BEGIN not in text:
            continue
        head, rest = text.split(ROLE_BEGIN, 1)
        _old, tail = rest.split(ROLE_END, 1)
        result[path] = head + ROLE_BEGIN + "\n" + role_variables(path.parts[-2]) + ROLE_END + tail
    return result


def inventory_doc():
    spec = yaml.safe_load((ROOT / "catalog" / "inventory.yml").read_text(encoding="utf-8"))
    out = ["# Inventory contract", "",
           "Generated from `catalog/inventory.yml` by `scripts/gen_docs.py`; `plugins/plugin_utils/topology.py`",
           "validates every variable with the same file. Bad input fails before any host is changed, naming the",
           "variable, the host and the value (examples: [bad-inputs.md](bad-inputs.md)).", "",
           "## Groups", "", "| group | hosts |", "|---|---|"]
    out += ["| `%s` | %s |" % (name, _cell(text)) for name, text in spec["groups"].items()]
    out += ["", "Any other group whose name starts with `safeq_` is an error (a misspelled SafeQ group).", "",
            "## Variables", "", "| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, item in spec["variables"].items():
        default = item.get("default", "")
        kind = item["type"] + (" (%s)" % ", ".join(item["choices"]) if item.get("choices") else "")
        shown = "`%s`" % (default,) if default != "" else ""
        out.append("| `%s` | %s | %s | %s |" % (name, kind, shown, _cell(item["description"])))
    out += ["", "Types:", ""]
    types = ("ipv4_address", "ipv4_networks", "name", "port", "features", "port_overrides", "choice")
    comments = [line.strip("# ").strip() for line in (ROOT / "catalog" / "inventory.yml").read_text().splitlines()
                if line.startswith("#   ")]
    out += ["- %s" % c for c in comments if c.split(" ")[0] in types]
    out += ["", "Any other variable whose name starts with `safeq_` is an error, except these run variables:", "",
            "| run variable | meaning |", "|---|---|"]
    out += ["| `%s` | %s |" % (name, _cell(text)) for name, text in spec["run_variables"].items()]
    out += ["", "Read next to them (nothing else is read, so secrets stay untouched): %s." % ", ".join(
        "`%s`" % v for v in spec["ansible_variables"]), "",
        "## Protected ports", "",
        "An allow rule may open these to anything but the management networks only where the vendor page lists",
        "the port for that row; a port override never can.", "", "| port | service |", "|---|---|"]
    out += ["| %s | %s |" % (port, _cell(name)) for port, name in spec["protected_ports"].items()]
    return "\n".join(out) + "\n"


def _catalog():
    from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog

    return load_catalog()


def features_doc():
    catalog = _catalog()
    out = ["# Features", "",
           "Generated from `catalog/features.yml` by `scripts/gen_docs.py`. The values of `safeq_features` and",
           "of the port catalog's `condition` (a row applies when any of its features is in use).", "",
           "Scope `installation`: set on any host of a CML cluster (`safeq_cml_cluster`), the feature applies to",
           "every host of that cluster. Scope `host`: only the hosts that list it.", "",
           "| feature | scope | implies | cluster limit | rows it enables | meaning |", "|---|---|---|---|---|---|"]
    for name, feature in sorted(catalog.features.items()):
        rows = [e["id"] for e in catalog.entries if name in (e["condition"] or [])]
        out.append("| `%s`%s | %s | %s | %s | %s | %s |" % (
            name, " (derived)" if feature.derived else "", feature.scope, ", ".join(feature.implies) or "-",
            feature.cluster_limit or "-", ", ".join(rows) or "(its cluster limit)", _cell(feature.description)))
    out += ["", "Removed features (naming one fails with the reason):", ""]
    out += ["- `%s`: %s" % (name, reason) for name, reason in sorted(catalog.removed_features.items())]
    return "\n".join(out) + "\n"


def properties_doc():
    catalog = _catalog()
    out = ["# Port properties", "",
           "Generated from the port catalog by `scripts/gen_docs.py`. Keys of `safeq_port_overrides`. Vendor",
           "properties are named by the vendor page (SafeQ system settings or a configuration file); collection",
           "properties are names this collection gives to ports the page calls configurable without naming a",
           "setting. An override applies only to the hosts of the components listed.", "",
           "| property | origin | where | takes | components | rows |", "|---|---|---|---|---|---|"]
    for prop, uses in sorted(catalog.properties.items(), key=lambda kv: kv[0].lower()):
        locations = sorted({u["setting"]["location"] for u in uses})
        origin = "collection" if locations == ["collection"] else "vendor"
        out.append("| `%s` | %s | %s | %s | %s | %s |" % (
            prop, origin, ", ".join(loc.replace("_", " ") for loc in locations), uses[0]["accepts"],
            ", ".join(catalog.property_components(prop)), ", ".join(sorted({u["entry"] for u in uses}))))
    return "\n".join(out) + "\n"


def _plan(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location("safeq_unit_fixtures", ROOT / "tests" / "unit" / "conftest.py")
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    load_inventory = fixtures.load_inventory

    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

    return compute_plan(*load_inventory(ROOT / "inventories" / name))


def _hosts_per_row(plan):
    result = {}
    for flow in plan["flows"]:
        for catalog_id in flow["catalog_ids"]:
            hosts = result.setdefault(catalog_id, set())
            hosts.update(flow["enforced_on"])
            if flow["action"] == "local":
                hosts.update(flow["destination"]["members"])
    return result


def coverage_doc():
    catalog = _catalog()
    plans = {name: _plan(name) for name in INVENTORIES}
    per_row = {name: _hosts_per_row(plan) for name, plan in plans.items()}
    out = ["# Row coverage", "",
           "Generated by `scripts/gen_docs.py` from the port catalog and the plans of `inventories/example` and",
           "`inventories/showcase`: every vendor row, the features that enable it, and the hosts that enforce it",
           "(allowed, denied or loopback-only). Rows no SafeQ host enforces (payment machine to payment system)",
           "are listed as flows for the network firewall; their cell says so.", "",
           "| row | port(s) | features | example | showcase |", "|---|---|---|---|---|"]
    dead = []
    for entry in catalog.entries:
        ports = ", ".join(str(p) if not isinstance(p, dict) else p["setting"] for p in entry["ports"])
        cells = []
        for name in INVENTORIES:
            hosts = sorted(per_row[name].get(entry["id"], ()))
            listed = any(entry["id"] in f["catalog_ids"] for f in plans[name]["flows"])
            if hosts:
                cells.append("%d: %s" % (len(hosts), ", ".join(hosts[:4]) + (" ..." if len(hosts) > 4 else "")))
            elif listed:
                cells.append("listed, enforced by no SafeQ host")
            else:
                cells.append("-")
        if cells[-1] == "-":
            dead.append(entry["id"])
        out.append("| `%s` | %s | %s | %s | %s |" % (entry["id"], _cell(ports), ", ".join(entry["condition"] or [])
                                                     or "always", cells[0], cells[1]))
    out += ["", "Rows that reach no host on the showcase inventory: %s." % (", ".join(dead) or "none")]
    return "\n".join(out) + "\n"


def outputs():
    result = role_readmes()
    result.update({
        ROOT / "README.md": readme_text(),
        ROOT / "docs" / "inventory.md": inventory_doc(),
        ROOT / "docs" / "features.md": features_doc(),
        ROOT / "docs" / "port-properties.md": properties_doc(),
        ROOT / "docs" / "row-coverage.md": coverage_doc(),
    })
    return result


def main(argv):
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print("wrote %s" % path.relative_to(ROOT))
    if stale:
        print("out of date (run scripts/gen_docs.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
