# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad inputs as data: each case changes a small valid base (inventory, catalog or one rendered policy).

``CASES`` is the table; ``run_case(case)`` runs one case the way the collection does (inventory cases
through ``plan.compute_plan``, catalog cases through ``catalog.load_catalog`` on temporary copies of
the real catalog files, render cases through ``render_nftables.render_table`` or
``render_windows.firewall_rule_args``) and returns what came out. test_bad_inputs.py asserts every
case; scripts/gen_bad_inputs_doc.py writes docs/bad-inputs.md from the same runs.

A case's ``changes`` are small operations on the base, so the docs can print them as the input:

* inventory: ``("set", host, {variable: value})``, ``("unset", host, variable)``,
  ``("group", group, members or None)``, ``("rename", host, new name)``,
  ``("add", host, [groups], {variables})``, ``("hostvars", host, value)`` (replace a host's whole
  variables), ``("cml_nodes", count, {variables})`` (the CML group grows to ``count`` nodes),
  ``("ors_nodes", count, {variables})`` (same for ORS);
* catalog: ``("replace", file, old, new)`` (``old`` must occur; the first occurrence after
  ``anchor`` with ``("replace_after", file, anchor, old, new)``), ``("write", file, text)``,
  ``("write_bytes", file, data)``;
* render: ``("rule", index, field, value)``, ``("policy", field, value)``, ``("option", name, value)``.

``expect`` lists the substrings the error (or one warning: host, variable and message) must
contain: the variable, the host and the value where they exist. ``pending`` names the change in a
file outside this work that the case waits for; such a case fails until that change lands.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from ansible_collections.safeq.hardening.plugins.plugin_utils import catalog as catalog_mod
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import PolicyError
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import RenderError
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import WindowsRenderError
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError

# ansible_password (and become password) of every base host: no message may ever show it.
SECRET = "Vault-Only-S3cret!7f3e"
# Words of Python internals: a message that shows one is a crash dressed as an error.
TRACEBACK_WORDS = (
    "Traceback", "unhashable type", "KeyError", "TypeError", "AttributeError", "IndexError", "NoneType",
    "object has no attribute", "invalid literal for int()", "not subscriptable", "<unicode string>",
)
ERRORS = (TopologyError, PolicyError, CatalogError, RenderError, WindowsRenderError)
TARGETS = ("inventory", "catalog", "render_nftables", "render_windows")
OUTCOMES = ("error", "warning", "ok")
CATALOG_FILES = ("port_catalog.yml", "features.yml")
TMP_MARK = "<tmp>"

# ---- the base: two CML nodes (Windows, etcd), a Windows ORS and a Linux ORS, one cluster --------

WINRM = {"ansible_connection": "winrm", "ansible_port": 5986, "ansible_winrm_scheme": "https",
         "ansible_user": "EXAMPLE\\svc-ansible", "ansible_password": SECRET}
SSH = {"ansible_connection": "ssh", "ansible_user": "root", "ansible_password": SECRET,
       "ansible_become_password": SECRET}
COMMON = {
    "safeq_workstation_networks": ["10.110.0.0/16"],
    "safeq_printer_networks": ["10.111.0.0/20"],
    "safeq_database_servers": ["10.10.2.50"],
    "safeq_management_networks": ["10.10.250.0/24"],
    "safeq_controller_address": "10.10.250.5",
    "safeq_features": ["workstation_client", "terminal_professional", "embedded_km", "job_roaming"],
}
BASE_HOSTS = {
    "cml1": (["safeq_cml", "safeq_etcd"], "10.10.1.11", WINRM),
    "cml2": (["safeq_cml", "safeq_etcd"], "10.10.1.12", WINRM),
    "ors1": (["safeq_ors"], "10.20.1.21", WINRM),
    "ors-lnx": (["safeq_ors"], "10.20.1.22", SSH),
}
# the rendered policies the render cases start from
RENDER_BASE = {"render_nftables": "ors-lnx", "render_windows": "cml1"}


def base_inventory():
    """(groups, hostvars) of the valid base, as the plan playbook passes them (fresh copies)."""
    groups = {"all": sorted(BASE_HOSTS), "ungrouped": []}
    hostvars = {}
    for host, (member_of, address, connection) in BASE_HOSTS.items():
        for group in member_of:
            groups.setdefault(group, []).append(host)
        hostvars[host] = dict(copy.deepcopy(COMMON), ansible_host=address, inventory_hostname=host,
                              **copy.deepcopy(connection))
    return groups, hostvars


@dataclass(frozen=True)
class Case:
    """One bad (or risky, or surprising but fine) input and what must come out of it."""

    id: str
    description: str
    changes: tuple
    outcome: str
    expect: tuple = ()
    target: str = "inventory"
    pending: str = ""
    check: object = None  # for outcome "ok": a function(plan) -> bool


@dataclass
class Result:
    """What running a case produced."""

    outcome: str  # error, warning, ok, or crash (an exception that is not one of ours)
    messages: list = field(default_factory=list)  # the error message, or the warning texts
    warnings: list = field(default_factory=list)  # the plan's warning dicts
    exception: str = ""
    plan: object = None
    output: str = ""  # rendered text (for ok/warning inventory cases and render cases)


# ---- applying changes -----------------------------------------------------------------------

def _nodes(groups, hostvars, group, prefix, template, count, variables, subnet):
    names = ["%s%d" % (prefix, i) for i in range(1, count + 1)]
    for old in groups.get(group, []):
        if old not in names and not any(old in groups[g] for g in groups if g not in (group, "all")):
            hostvars.pop(old, None)
    groups[group] = names
    for i, name in enumerate(names):
        if name not in hostvars:
            hostvars[name] = copy.deepcopy(hostvars[template])
        hostvars[name].update(ansible_host="%s.%d" % (subnet, 11 + i), inventory_hostname=name)
        hostvars[name].update(copy.deepcopy(variables))
    groups["all"] = sorted(hostvars)


def apply_inventory(changes, groups, hostvars):
    """Apply inventory operations in place."""
    for change in changes:
        op = change[0]
        if op == "set":
            hostvars[change[1]].update(copy.deepcopy(change[2]))
        elif op == "unset":
            hostvars[change[1]].pop(change[2], None)
        elif op == "group":
            if change[2] is None:
                groups.pop(change[1], None)
            else:
                groups[change[1]] = copy.deepcopy(change[2])
        elif op == "rename":
            old, new = change[1], change[2]
            hostvars[new] = hostvars.pop(old)
            hostvars[new]["inventory_hostname"] = new
            for name, members in groups.items():
                groups[name] = [new if m == old else m for m in members]
        elif op == "add":
            for group in change[2]:
                groups.setdefault(group, []).append(change[1])
            hostvars[change[1]] = copy.deepcopy(change[3])
        elif op == "hostvars":
            hostvars[change[1]] = copy.deepcopy(change[2])
        elif op == "cml_nodes":
            _nodes(groups, hostvars, "safeq_cml", "cml", "cml1", change[1], change[2], "10.10.1")
            groups["safeq_etcd"] = groups["safeq_cml"][:3]
        elif op == "ors_nodes":
            _nodes(groups, hostvars, "safeq_ors", "ors", "ors1", change[1], change[2], "10.20.1")
        else:
            raise ValueError("unknown inventory operation %r" % (op,))


def apply_catalog(changes, directory):
    """Apply catalog operations to the copies in ``directory``."""
    for change in changes:
        op, name = change[0], change[1]
        path = os.path.join(directory, name)
        if op in ("replace", "replace_after"):
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            anchor, old, new = (change[2], change[3], change[4]) if op == "replace_after" else ("", change[2], change[3])
            start = text.index(anchor) if anchor else 0
            at = text.index(old, start)  # ValueError: the case no longer matches the catalog
            text = text[:at] + new + text[at + len(old):]
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        elif op == "write":
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(change[2])
        elif op == "write_bytes":
            with open(path, "wb") as handle:
                handle.write(change[2])
        else:
            raise ValueError("unknown catalog operation %r" % (op,))


def _value(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _short(text, limit=70):
    text = json.dumps(text, ensure_ascii=False)[1:-1]
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(case):
    """The case's input as one line of text (for the docs)."""
    parts = []
    for change in case.changes:
        op = change[0]
        if op == "set":
            parts.extend("hostvars[%s].%s = %s" % (change[1], k, _value(v)) for k, v in change[2].items())
        elif op == "unset":
            parts.append("hostvars[%s].%s removed" % (change[1], change[2]))
        elif op == "group":
            parts.append("groups.%s %s" % (change[1], "removed" if change[2] is None else "= " + _value(change[2])))
        elif op == "rename":
            parts.append("host %s renamed to %s" % (change[1], _value(change[2])))
        elif op == "add":
            parts.append("host %s added to %s with %s" % (_value(change[1]), ", ".join(change[2]), _value(change[3])))
        elif op == "hostvars":
            parts.append("hostvars[%s] = %s" % (change[1], _value(change[2])))
        elif op in ("cml_nodes", "ors_nodes"):
            extra = " with %s" % _value(change[2]) if change[2] else ""
            parts.append("%d %s nodes%s" % (change[1], op[:3].upper(), extra))
        elif op == "replace":
            parts.append("%s: %s -> %s" % (change[1], _short(change[2]), _short(change[3])))
        elif op == "replace_after":
            parts.append("%s: after %s, %s -> %s" % (change[1], _short(change[2], 40), _short(change[3]),
                                                     _short(change[4])))
        elif op == "write":
            parts.append("%s = %s" % (change[1], _value(change[2])))
        elif op == "write_bytes":
            parts.append("%s = %d bytes, not UTF-8" % (change[1], len(change[2])))
        elif op == "rule":
            parts.append("policy[%s].rules[%d].%s = %s" % (RENDER_BASE[case.target], change[1], change[2],
                                                           _value(change[3])))
        elif op == "policy":
            parts.append("policy.%s = %s" % (change[1], _value(change[2])))
        elif op == "option":
            parts.append("%s(%s=%s)" % ("render_table" if case.target == "render_nftables" else "firewall_rule_args",
                                        change[1], _value(change[2])))
    return "; ".join(parts)


# ---- running --------------------------------------------------------------------------------

def _plan(groups, hostvars, **kwargs):
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

    return compute_plan(groups, hostvars, **kwargs)


def _crash(exc):
    return Result("crash", ["%s: %s" % (type(exc).__name__, exc)], exception=type(exc).__name__)


def _run_inventory(case):
    groups, hostvars = base_inventory()
    apply_inventory(case.changes, groups, hostvars)
    try:
        plan = _plan(groups, hostvars)
    except ERRORS as exc:
        return Result("error", [str(exc)], exception=type(exc).__name__)
    except Exception as exc:  # pylint: disable=broad-except  # a crash is a finding, reported as such
        return _crash(exc)
    warnings = plan["warnings"]
    output = json.dumps({"policies": plan["policies"], "rendered": plan["rendered"], "warnings": warnings,
                         "topology": plan["topology_view"]}, sort_keys=True, default=str)
    return Result("warning" if warnings else "ok", [w["message"] for w in warnings], warnings,
                  plan=plan, output=output)


def _run_catalog(case):
    directory = tempfile.mkdtemp(prefix="safeq-bad-catalog-")
    try:
        for name, source in zip(CATALOG_FILES, (catalog_mod.CATALOG_PATH, catalog_mod.FEATURES_PATH)):
            shutil.copyfile(source, os.path.join(directory, name))
        apply_catalog(case.changes, directory)
        try:
            catalog_mod.load_catalog(os.path.join(directory, CATALOG_FILES[0]), os.path.join(directory, CATALOG_FILES[1]))
        except ERRORS as exc:
            return Result("error", [str(exc).replace(directory, TMP_MARK)], exception=type(exc).__name__)
        except Exception as exc:  # pylint: disable=broad-except
            return _crash(exc)
        return Result("ok")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_BASE_PLAN = []


def base_plan():
    """The plan of the unchanged base (computed once)."""
    if not _BASE_PLAN:
        _BASE_PLAN.append(_plan(*base_inventory()))
    return _BASE_PLAN[0]


def _run_render(case):
    from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import render_table
    from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import firewall_rule_args

    policy = copy.deepcopy(base_plan()["policies"][RENDER_BASE[case.target]])
    options = {}
    for change in case.changes:
        if change[0] == "rule":
            policy["rules"][change[1]][change[2]] = copy.deepcopy(change[3])
        elif change[0] == "policy":
            policy[change[1]] = copy.deepcopy(change[2])
        elif change[0] == "option":
            options[change[1]] = copy.deepcopy(change[2])
        else:
            raise ValueError("unknown render operation %r" % (change[0],))
    render = render_table if case.target == "render_nftables" else firewall_rule_args
    try:
        output = render(policy, **options)
    except ERRORS as exc:
        return Result("error", [str(exc)], exception=type(exc).__name__)
    except Exception as exc:  # pylint: disable=broad-except
        return _crash(exc)
    return Result("ok", output=output if isinstance(output, str) else json.dumps(output, sort_keys=True))


def run_case(case):
    """Run one case; returns a Result."""
    if case.target == "inventory":
        return _run_inventory(case)
    if case.target == "catalog":
        return _run_catalog(case)
    return _run_render(case)


# ---- the table --------------------------------------------------------------------------------

INJECTED = "ors-lnx\nflush ruleset\n#"
PORT_CATALOG, FEATURES = CATALOG_FILES
FTP_PASSIVE_PORTS = 'ports: [{symbolic: ftp_passive_ports, setting: ftpPassivePorts, default_range: "1024-65535"}]'
NON_UTF8 = "CML system health monitoring via JConsole"


def _policy_for(host):
    return lambda plan: host in plan["policies"] and plan["policies"][host]["address"] == host


CASES = (
    # ---- names that reach rendered files ----------------------------------------------------
    Case("host-name-injects-nftables", "a Linux host whose name would add `flush ruleset` to its nft script",
         (("rename", "ors-lnx", INJECTED),), "error", ("groups.safeq_ors", "ors-lnx\\nflush ruleset\\n#")),
    Case("host-name-trailing-newline", "a host name ending in a newline ('$' in a regex lets it through)",
         (("rename", "ors-lnx", "ors-lnx\n"),), "error", ("groups.safeq_ors", "'ors-lnx\\n'")),
    Case("host-name-with-space", "a host name with a space (rule names and file names)",
         (("rename", "ors1", "ors 1"),), "error", ("groups.safeq_ors", "'ors 1'")),
    Case("cluster-name-trailing-newline", "a CML cluster name ending in a newline",
         (("set", "ors1", {"safeq_cml_cluster": "default\n"}),), "error",
         ("hostvars[ors1].safeq_cml_cluster", "'default\\n'")),
    Case("near-roaming-group-name-injects", "a near-roaming group name with quotes and a statement",
         (("set", "ors1", {"safeq_near_roaming_group": 'brno" accept; flush ruleset; #'}),), "error",
         ("hostvars[ors1].safeq_near_roaming_group", "flush ruleset")),

    # ---- port overrides -------------------------------------------------------------------------
    Case("override-preview-onto-winrm", "the Terminal Professional preview port moved onto WinRM: opens"
         " WinRM to the printer networks", (("set", "ors1", {"safeq_port_overrides": {"preview-provider-port": 5986}}),),
         "error", ("hostvars[ors1].safeq_port_overrides.preview-provider-port", "5986", "printer_networks",
                   "WinRM HTTPS")),
    Case("override-preview-onto-winrm-linux", "the same on the Linux ORS (WinRM is a protected port there too)",
         (("set", "ors-lnx", {"safeq_port_overrides": {"preview-provider-port": 5986}}),), "error",
         ("hostvars[ors-lnx].safeq_port_overrides.preview-provider-port", "5986", "WinRM HTTPS")),
    Case("override-ftp-passive-over-system-ports", "a passive FTP range that opens 135, 445, 3389... to printers",
         (("set", "ors1", {"safeq_features": ["ftp_passive"], "safeq_port_overrides": {"ftpPassivePorts": "1-8004"}}),),
         "error", ("hostvars[ors1].safeq_port_overrides.ftpPassivePorts", "1-8004", "135 (MS-RPC endpoint mapper)",
                   "445 (SMB)", "3389 (Remote Desktop)")),
    Case("override-ftp-passive-over-system-ports-feature-off", "the same range while ftp_passive is not enabled"
         " yet: refused before it can take effect",
         (("set", "ors1", {"safeq_port_overrides": {"ftpPassivePorts": "1-8004"}}),), "error",
         ("hostvars[ors1].safeq_port_overrides.ftpPassivePorts", "1-8004", "3389 (Remote Desktop)", "ftp_passive")),
    Case("override-ftp-passive-over-cluster-ports", "a passive FTP range over the CML cluster and client ports:"
         " it would open them to printers",
         (("set", "cml1", {"safeq_features": ["ftp_passive", "workstation_client"],
                           "safeq_port_overrides": {"ftpPassivePorts": "4000-4200"}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.ftpPassivePorts", "4000-4200", "is-cluster-sync-4099",
          "printer networks")),
    Case("override-range-backwards", "a range that runs backwards",
         (("set", "cml1", {"safeq_features": ["ftp_passive"], "safeq_port_overrides": {"ftpPassivePorts": "8004-1"}}),),
         "error", ("hostvars[cml1].safeq_port_overrides.ftpPassivePorts", "'8004-1'", "backwards")),
    Case("override-range-for-single-port", "a range for a property that takes one port",
         (("set", "cml1", {"safeq_port_overrides": {"preview-provider-port": "5020-5030"}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.preview-provider-port", "'5020-5030'", "takes one port")),
    Case("override-jmx-onto-management-port", "the CML JMX port moved onto WinRM, the management port",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": 5986}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "5986", "management port")),
    Case("override-jmx-onto-custom-ssh-port", "the ORS JMX port moved onto the SSH port Ansible uses (2222)",
         (("set", "ors-lnx", {"ansible_port": 2222, "safeq_port_overrides": {"orsJmxServerPort": 2222}}),), "error",
         ("hostvars[ors-lnx].safeq_port_overrides.orsJmxServerPort", "2222", "management port")),
    Case("override-jmx-onto-allowed-port", "the CML JMX port moved onto 9100, which workstations may reach",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": 9100}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "9100", "collide with denied port")),
    Case("override-allowed-onto-allowed-port", "the preview port moved onto 9100, where the SafeQ Client port listens",
         (("set", "cml1", {"safeq_port_overrides": {"preview-provider-port": 9100}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.preview-provider-port", "9100", "ws-client-9100")),
    Case("override-two-onto-one-port", "two JMX ports moved onto the same port",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": 19000, "dbSyncJmxServerPort": 19000}}),),
         "error", ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "19000", "dbSyncJmxServerPort")),
    Case("override-jmx-onto-rdp", "the CML JMX port (denied from remote hosts) moved onto Remote Desktop",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": 3389}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "3389", "Remote Desktop")),
    Case("override-port-outside-range", "a port above 65535",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": 70000}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "70000", "outside 1-65535")),
    Case("override-non-ascii-digits", "a port written with full-width digits",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxServerPort": "１２３"}}),), "error",
         ("hostvars[cml1].safeq_port_overrides.cmlJmxServerPort", "'１２３'", "is not a port")),
    Case("override-unknown-property", "a misspelled port property",
         (("set", "cml1", {"safeq_port_overrides": {"cmlJmxPort": 19899}}),), "error",
         ("hostvars[cml1].safeq_port_overrides", "'cmlJmxPort'", "did you mean cmlJmxServerPort?")),
    Case("override-as-list", "safeq_port_overrides given as a list",
         (("set", "cml1", {"safeq_port_overrides": ["cmlJmxServerPort"]}),), "error",
         ("hostvars[cml1].safeq_port_overrides", "['cmlJmxServerPort']", "mapping")),
    Case("override-of-other-component", "a CML property set on an ORS (group_vars/all): ignored there",
         (("set", "ors1", {"safeq_port_overrides": {"cmlJmxServerPort": 19899}}),), "warning",
         ("ors1", "safeq_port_overrides.cmlJmxServerPort", "19899", "does not run")),
    Case("override-feature-not-enabled", "an override of a row whose feature the host does not use",
         (("set", "ors1", {"safeq_port_overrides": {"rs-terminal-update-port": 14100}}),), "warning",
         ("ors1", "safeq_port_overrides.rs-terminal-update-port", "14100", "terminal_update_service")),

    # ---- addresses and networks -------------------------------------------------------------------
    Case("network-host-bits", "a CIDR with host bits set",
         (("set", "cml1", {"safeq_workstation_networks": ["10.0.0.5/24"]}),), "error",
         ("hostvars[cml1].safeq_workstation_networks", "'10.0.0.5/24'", "host bits")),
    Case("network-everything-printers", "0.0.0.0/0 as the printer network",
         (("set", "ors1", {"safeq_printer_networks": ["0.0.0.0/0"]}),), "error",
         ("hostvars[ors1].safeq_printer_networks", "'0.0.0.0/0'", "every IPv4 address")),
    Case("network-everything-workstations", "0.0.0.0/0 as the workstation network",
         (("set", "cml2", {"safeq_workstation_networks": ["10.110.0.0/16", "0.0.0.0/0"]}),), "error",
         ("hostvars[cml2].safeq_workstation_networks", "'0.0.0.0/0'", "every IPv4 address")),
    Case("network-everything-management", "0.0.0.0/0 as the management network",
         (("set", "cml1", {"safeq_management_networks": ["0.0.0.0/0"]}),), "error",
         ("hostvars[cml1].safeq_management_networks", "'0.0.0.0/0'", "every IPv4 address")),
    Case("network-everything-in-two-halves", "0.0.0.0/1 + 128.0.0.0/1 as the workstation networks",
         (("set", "cml1", {"safeq_workstation_networks": ["0.0.0.0/1", "128.0.0.0/1"]}),), "error",
         ("hostvars[cml1].safeq_workstation_networks", "'0.0.0.0/1'", "wider than /8")),
    Case("network-wider-than-slash-8", "10.0.0.0/7 (two /8 blocks in one prefix) as the printer networks",
         (("set", "cml1", {"safeq_printer_networks": ["10.0.0.0/7"]}),), "error",
         ("hostvars[cml1].safeq_printer_networks", "'10.0.0.0/7'", "wider than /8")),
    Case("network-slash-8-is-fine", "10.0.0.0/8 as the printer networks: accepted, with the warning that"
         " the SafeQ servers are inside it", (("set", "cml1", {"safeq_printer_networks": ["10.0.0.0/8"]}),), "warning",
         ("cml1", "safeq_printer_networks", "10.0.0.0/8", "ors1")),
    Case("printer-network-contains-servers", "a printer network that contains the CML servers",
         (("set", "ors1", {"safeq_printer_networks": ["10.10.1.0/24"]}),), "warning",
         ("ors1", "safeq_printer_networks", "10.10.1.0/24", "cml1, cml2")),
    Case("workstation-network-contains-servers", "a workstation network that contains the ORS",
         (("set", "cml1", {"safeq_workstation_networks": ["10.20.0.0/16"]}),), "warning",
         ("cml1", "safeq_workstation_networks", "10.20.0.0/16", "ors-lnx, ors1")),
    Case("network-ipv6", "an IPv6 network (SafeQ 5 is IPv4 only)",
         (("set", "cml1", {"safeq_workstation_networks": ["fd00::/64"]}),), "error",
         ("hostvars[cml1].safeq_workstation_networks", "'fd00::/64'", "IPv6")),
    Case("server-address-unspecified", "0.0.0.0 as a server address",
         (("set", "cml1", {"ansible_host": "0.0.0.0"}),), "error",
         ("hostvars[cml1].ansible_host", "'0.0.0.0'", "cannot be a server address")),
    Case("server-address-broadcast", "255.255.255.255 as a server address",
         (("set", "cml1", {"safeq_address": "255.255.255.255"}),), "error",
         ("hostvars[cml1].safeq_address", "'255.255.255.255'", "cannot be a server address")),
    Case("server-address-multicast", "224.0.0.5 as a server address",
         (("set", "ors1", {"ansible_host": "224.0.0.5"}),), "error",
         ("hostvars[ors1].ansible_host", "'224.0.0.5'", "cannot be a server address")),
    Case("server-address-loopback", "127.0.0.1 as a server address",
         (("set", "ors-lnx", {"safeq_address": "127.0.0.1"}),), "error",
         ("hostvars[ors-lnx].safeq_address", "'127.0.0.1'", "cannot be a server address")),
    Case("server-address-ipv6", "an IPv6 ansible_host", (("set", "cml2", {"ansible_host": "fd00::12"}),), "error",
         ("hostvars[cml2].ansible_host", "'fd00::12'", "IPv6")),
    Case("server-address-duplicate", "two hosts with one address",
         (("set", "cml2", {"ansible_host": "10.10.1.11"}),), "error",
         ("hostvars[cml2].safeq_address", "10.10.1.11", "also used by cml1")),
    Case("server-address-missing", "a DNS name in ansible_host and no safeq_address",
         (("set", "ors1", {"ansible_host": "ors1.example.com"}),), "error",
         ("hostvars[ors1].safeq_address", "'ors1.example.com'", "no IPv4 address")),
    Case("controller-address-cidr", "a network where the controller's address belongs",
         (("set", "cml1", {"safeq_controller_address": "10.10.250.0/24"}),), "error",
         ("hostvars[cml1].safeq_controller_address", "'10.10.250.0/24'", "not an IPv4 address")),
    Case("management-open-to-any", "no controller address and no management network",
         (("unset", "ors-lnx", "safeq_controller_address"), ("unset", "ors-lnx", "safeq_management_networks")),
         "warning", ("ors-lnx", "safeq_management_networks", "open to any address")),

    # ---- one value where one value belongs -----------------------------------------------------------
    Case("etcd-cluster-as-list", "safeq_etcd_cluster given as a list",
         (("set", "cml1", {"safeq_etcd_cluster": ["prg"]}),), "error",
         ("hostvars[cml1].safeq_etcd_cluster", "['prg']", "single value")),
    Case("cml-cluster-as-list", "safeq_cml_cluster given as a list",
         (("set", "ors1", {"safeq_cml_cluster": ["a", "b"]}),), "error",
         ("hostvars[ors1].safeq_cml_cluster", "['a', 'b']", "single value")),
    Case("address-as-list", "safeq_address given as a list",
         (("set", "ors1", {"safeq_address": ["10.20.1.21"]}),), "error",
         ("hostvars[ors1].safeq_address", "['10.20.1.21']", "single value")),
    Case("management-port-as-list", "safeq_management_port given as a list",
         (("set", "cml1", {"safeq_management_port": [5986]}),), "error",
         ("hostvars[cml1].safeq_management_port", "[5986]", "single value")),
    Case("platform-as-mapping", "safeq_platform given as a mapping",
         (("set", "cml1", {"safeq_platform": {"os": "windows"}}),), "error",
         ("hostvars[cml1].safeq_platform", "{'os': 'windows'}", "single value")),

    # ---- the management port and the port Ansible connects to ------------------------------------------
    Case("management-port-not-ssh-port", "safeq_management_port 2222 while Ansible connects over SSH on 22",
         (("set", "ors-lnx", {"safeq_management_port": 2222}),), "error",
         ("hostvars[ors-lnx].safeq_management_port", "2222", "(22 over ssh)")),
    Case("management-port-not-ansible-port", "ansible_port 2222 but safeq_management_port 22",
         (("set", "ors-lnx", {"ansible_port": 2222, "safeq_management_port": 22}),), "error",
         ("hostvars[ors-lnx].safeq_management_port", "22", "(2222 over ssh)")),
    Case("management-port-ssh-port-wins", "ansible_ssh_port overrides ansible_port for the ssh connection",
         (("set", "ors-lnx", {"ansible_port": 2222, "ansible_ssh_port": 2200, "safeq_management_port": 2222}),),
         "error", ("hostvars[ors-lnx].safeq_management_port", "2222", "(2200 over ssh)")),
    Case("management-port-not-winrm-port", "safeq_management_port 5985 while WinRM uses 5986",
         (("set", "cml1", {"safeq_management_port": 5985}),), "error",
         ("hostvars[cml1].safeq_management_port", "5985", "(5986 over winrm)")),
    Case("management-port-winrm-http-default", "WinRM over http without a port still connects to 5986",
         (("set", "cml1", {"ansible_winrm_scheme": "http", "safeq_management_port": 5985}),
          ("unset", "cml1", "ansible_port")), "error",
         ("hostvars[cml1].safeq_management_port", "5985", "(5986 over winrm)")),
    Case("management-port-psrp-http", "PSRP over http connects to 5985",
         (("set", "cml1", {"ansible_connection": "psrp", "ansible_psrp_protocol": "http",
                           "safeq_management_port": 5986}), ("unset", "cml1", "ansible_port")), "error",
         ("hostvars[cml1].safeq_management_port", "5986", "(5985 over psrp)")),
    Case("winrm-scheme-unknown", "ansible_winrm_scheme that is neither http nor https",
         (("set", "cml1", {"ansible_winrm_scheme": "ftp"}),), "error",
         ("hostvars[cml1].ansible_winrm_scheme", "'ftp'", "http, https")),
    Case("management-port-non-ascii", "safeq_management_port with full-width digits",
         (("set", "cml1", {"safeq_management_port": "５９８６"}),), "error",
         ("hostvars[cml1].safeq_management_port", "'５９８６'", "is not a port")),

    # ---- groups and variables ------------------------------------------------------------------------
    Case("group-misspelled", "a misspelled SafeQ group", (("group", "safeq_cmll", ["cml2"]),), "error",
         ("groups.safeq_cmll", "did you mean safeq_cml?")),
    Case("variable-misspelled", "a misspelled variable (singular)",
         (("set", "cml1", {"safeq_workstation_network": ["10.110.0.0/16"]}),), "error",
         ("hostvars[cml1].safeq_workstation_network", "did you mean safeq_workstation_networks?")),
    Case("variable-misspelled-holds-secret", "a password under a safeq_ name: named, its value never printed",
         (("set", "cml1", {"safeq_winrm_password": SECRET}),), "error",
         ("hostvars[cml1].safeq_winrm_password", "unknown variable")),
    Case("variable-removed", "safeq_components, which the groups replaced",
         (("set", "ors1", {"safeq_components": ["cml"]}),), "error",
         ("hostvars[ors1].safeq_components", "removed", "safeq_cml")),
    Case("group-empty", "an empty component group", (("group", "safeq_crs", []),), "warning",
         ("groups.safeq_crs", "empty")),
    Case("inventory-without-safeq-hosts", "an inventory with no host in a SafeQ group",
         (("group", "safeq_cml", None), ("group", "safeq_ors", None), ("group", "safeq_etcd", None)), "error",
         ("inventory", "no host is in a SafeQ group")),
    Case("host-without-variables", "a host in a SafeQ group with no variables (its name is not an IP)",
         (("add", "crs1", ["safeq_crs"], {}),), "error", ("hostvars[crs1].safeq_address", "no IPv4 address")),
    Case("host-missing-from-hostvars", "a group member Ansible has no hostvars for",
         (("group", "safeq_crs", ["crs1"]),), "error", ("hostvars[crs1]", "no variables")),
    Case("host-named-by-ip", "a Windows host named by its IP, without ansible_host: works, the name is the address",
         (("add", "10.10.1.31", ["safeq_crs"], dict(COMMON, **WINRM)),), "ok", check=_policy_for("10.10.1.31")),
    Case("linux-host-named-by-ip", "a Linux host named by its IP, without ansible_host: works",
         (("add", "10.20.1.30", ["safeq_ors"], dict(COMMON, **SSH)),), "ok", check=_policy_for("10.20.1.30")),
    Case("group-member-not-a-string", "a group member that is a list (a broken dynamic inventory)",
         (("group", "safeq_crs", [["crs1"]]),), "error", ("groups.safeq_crs", "['crs1']"),
         pending="plugins/plugin_utils/inventory.py: test isinstance(host, str) before `host in selected`"),
    Case("hostvars-not-a-mapping", "a host whose variables are not a mapping",
         (("add", "crs1", ["safeq_crs"], {}), ("hostvars", "crs1", "10.10.1.31")), "error",
         ("hostvars[crs1]", "mapping"),
         pending="plugins/plugin_utils/inventory.py: pass a host whose variables are not a mapping on unchanged"),
    Case("ors-without-cml", "an ORS in a CML cluster that has no CML host",
         (("set", "ors1", {"safeq_cml_cluster": "brno"}),), "warning",
         ("ors1", "safeq_cml_cluster", "'brno'", "no CML host")),

    # ---- features ----------------------------------------------------------------------------------
    Case("feature-unknown", "an unknown feature", (("set", "cml1", {"safeq_features": ["teleport"]}),), "error",
         ("hostvars[cml1].safeq_features", "'teleport'", "unknown feature")),
    Case("feature-as-mapping", "a feature given as a mapping in the list",
         (("set", "cml1", {"safeq_features": [{"name": "smtp"}]}),), "error",
         ("hostvars[cml1].safeq_features", "{'name': 'smtp'}", "not a feature name")),
    Case("features-as-mapping", "safeq_features given as a mapping",
         (("set", "cml1", {"safeq_features": {"smtp": True}}),), "error",
         ("hostvars[cml1].safeq_features", "{'smtp': True}", "must be a list")),
    Case("features-as-string", "safeq_features given as one string",
         (("set", "cml1", {"safeq_features": "smtp"}),), "error",
         ("hostvars[cml1].safeq_features", "'smtp'", "must be a list")),
    Case("feature-removed", "web_status, a feature that was removed",
         (("set", "cml1", {"safeq_features": ["web_status"]}),), "error",
         ("hostvars[cml1].safeq_features", "'web_status'", "was removed")),
    Case("feature-derived-set-by-hand", "cluster, which the collection derives from the CML count",
         (("set", "cml1", {"safeq_features": ["cluster"]}),), "error",
         ("hostvars[cml1].safeq_features", "'cluster'", "derived")),
    Case("near-roaming-without-group", "near_roaming on an ORS without safeq_near_roaming_group",
         (("set", "ors1", {"safeq_features": ["near_roaming"]}),), "error",
         ("hostvars[ors1].safeq_near_roaming_group", "near_roaming")),
    Case("near-roaming-group-of-11", "11 ORS in one near-roaming group (the limit is 10)",
         (("ors_nodes", 11, {"safeq_near_roaming_group": "brno"}),), "error",
         ("hostvars[ors1].safeq_near_roaming_group", "'brno'", "11 ORS", "limit is 10")),
    Case("near-roaming-group-on-cml", "safeq_near_roaming_group on a CML: ignored",
         (("set", "cml1", {"safeq_near_roaming_group": "brno"}),), "warning",
         ("cml1", "safeq_near_roaming_group", "brno", "not an ORS")),
    Case("etcd-cluster-on-non-etcd-host", "safeq_etcd_cluster on a host outside safeq_etcd: ignored",
         (("set", "ors1", {"safeq_etcd_cluster": "brno"}),), "warning",
         ("ors1", "safeq_etcd_cluster", "brno", "not in safeq_etcd")),
    Case("terminal-professional-11-cml-set-on-ors", "11 CML nodes while Terminal Professional is set only on an"
         " ORS (limit 10 per cluster)",
         (("cml_nodes", 11, {"safeq_features": ["workstation_client"]}),
          ("set", "ors-lnx", {"safeq_features": ["workstation_client"]})), "error",
         ("groups.safeq_cml", "11 CML nodes", "terminal_professional limit of 10", "hostvars[ors1]")),
    Case("terminal-ultralight-6-cml", "6 CML nodes with Terminal UltraLight (limit 5 per cluster)",
         (("cml_nodes", 6, {"safeq_features": ["terminal_ultralight"]}),), "error",
         ("groups.safeq_cml", "6 CML nodes", "terminal_ultralight limit of 5", "hostvars[cml1]")),
    Case("central-reporting-without-crs", "central_reporting without a CRS host",
         (("set", "cml1", {"safeq_features": ["central_reporting"]}),), "warning",
         ("safeq_features", "central_reporting", "no crs host")),
    Case("platform-unknown", "safeq_platform: solaris", (("set", "ors-lnx", {"safeq_platform": "solaris"}),), "error",
         ("hostvars[ors-lnx].safeq_platform", "'solaris'", "windows, linux")),
    Case("platform-contradicts-winrm", "safeq_platform: linux on a host Ansible reaches over WinRM",
         (("set", "cml1", {"safeq_platform": "linux"}),), "error",
         ("hostvars[cml1].safeq_platform", "'linux'", "winrm")),

    # ---- catalog files ------------------------------------------------------------------------------
    Case("catalog-duplicate-key", "an entry with two `id` keys (YAML would keep the last silently)",
         (("replace", PORT_CATALOG, "  - id: ws-jmx-cml-19898\n", "  - id: ws-jmx-cml-19898\n    id: ws-jmx-cml-19999\n"),),
         "error", ("port catalog", "duplicate key 'id'", "line"), target="catalog"),
    Case("catalog-jmx-hardening-removed", "the CML JMX row without its local_only hardening",
         (("replace_after", PORT_CATALOG, "id: ws-jmx-cml-19898", "hardening: local_only", "hardening: null"),),
         "error", ("ws-jmx-cml-19898", "hardening", "JMX row must be local_only"), target="catalog"),
    Case("catalog-rmi-hardening-removed", "an RMI registry row without its self_only hardening",
         (("replace", PORT_CATALOG, "hardening: self_only", "hardening: null"),), "error",
         ("is-rmi-20222", "hardening", "RMI registry row must be self_only"), target="catalog"),
    Case("catalog-empty-file", "an empty port catalog", (("write", PORT_CATALOG, ""),), "error",
         ("port catalog", "port_catalog.yml", "empty"), target="catalog"),
    Case("catalog-only-comments", "a port catalog with comments only", (("write", PORT_CATALOG, "# nothing\n"),),
         "error", ("port catalog", "port_catalog.yml", "empty"), target="catalog"),
    Case("catalog-not-utf8", "a port catalog saved as Latin-1",
         (("write_bytes", PORT_CATALOG, "id: x\ndescription: syst\u00e8me\n".encode("latin-1")),), "error",
         ("port catalog", "port_catalog.yml", "not UTF-8"), target="catalog"),
    Case("catalog-unknown-condition", "a row conditioned on a feature that does not exist",
         (("replace", PORT_CATALOG, "condition: [ftp_passive]", "condition: [teleport]"),), "error",
         ("prn-in-ftp-passive", "condition", "'teleport'"), target="catalog"),
    Case("catalog-removed-feature-as-condition", "a row conditioned on the removed web_status",
         (("replace", PORT_CATALOG, "condition: [ftp_passive]", "condition: [web_status]"),), "error",
         ("prn-in-ftp-passive", "condition", "'web_status'"), target="catalog"),
    Case("catalog-symbolic-port-malformed", "a symbolic port without default_range",
         (("replace", PORT_CATALOG, FTP_PASSIVE_PORTS, "ports: [{symbolic: ftp_passive_ports, setting: ftpPassivePorts}]"),),
         "error", ("prn-in-ftp-passive", "ports[0]", "symbolic, setting, default_range"), target="catalog"),
    Case("catalog-symbolic-port-unknown-setting", "a symbolic port naming a setting the row does not have",
         (("replace", PORT_CATALOG, "setting: ftpPassivePorts, default_range", "setting: ftpPasivePorts, default_range"),),
         "error", ("prn-in-ftp-passive", "ports[0].setting", "'ftpPasivePorts'"), target="catalog"),
    Case("catalog-symbolic-port-as-text", "the vendor's '>1023' left as the port",
         (("replace", PORT_CATALOG, FTP_PASSIVE_PORTS, 'ports: [">1023"]'),), "error",
         ("prn-in-ftp-passive", "ports[0]", "'>1023'"), target="catalog"),
    Case("catalog-duplicate-id", "two rows with one id",
         (("replace", PORT_CATALOG, "  - id: ws-jmx-cml-19898\n", "  - id: prn-in-ftp-passive\n"),), "error",
         ("prn-in-ftp-passive", "duplicate id"), target="catalog"),
    Case("catalog-python-tag", "a YAML tag that would build a Python object",
         (("write", PORT_CATALOG, "!!python/object/apply:os.system [id]\n"),), "error",
         ("port catalog", "invalid YAML", "python/object"), target="catalog"),
    Case("features-unknown-field", "a feature with a field the schema does not know",
         (("replace", FEATURES, "    scope: host\n", "    scope: host\n    colour: red\n"),), "error",
         ("feature catalog", "features.yml", "workstation_client", "colour"), target="catalog"),
    Case("features-implies-unknown", "a feature implying a misspelled feature",
         (("replace", FEATURES, "implies: [embedded_terminal]", "implies: [embedded_terminl]"),), "error",
         ("feature catalog", "embedded_km.implies", "'embedded_terminl'"), target="catalog"),

    # ---- renderers ----------------------------------------------------------------------------------
    Case("nft-rule-name-injects", "a rule name with a quote and a statement",
         (("rule", 0, "name", 'x" accept; flush ruleset; #'),), "error",
         ("policy[ors-lnx].rules[0].name", "flush ruleset"), target="render_nftables"),
    Case("nft-rule-name-trailing-newline", "a rule name ending in a newline (breaks the nft comment)",
         (("rule", 0, "name", "deny-in-tcp-remote\n"),), "error",
         ("policy[ors-lnx].rules[0].name", "'deny-in-tcp-remote\\n'"), target="render_nftables",
         pending="plugins/plugin_utils/render_nftables.py: _NAME and _HOST end in \\Z (or use fullmatch) instead of $"),
    Case("nft-host-trailing-newline", "a policy host name ending in a newline (splits the header comment)",
         (("policy", "host", "ors-lnx\n"),), "error", ("policy.host", "'ors-lnx\\n'"), target="render_nftables",
         pending="plugins/plugin_utils/render_nftables.py: _NAME and _HOST end in \\Z (or use fullmatch) instead of $"),
    Case("nft-rule-name-too-long", "a rule name longer than nft's comment limit",
         (("rule", 0, "name", "a" * 130),), "error", ("policy[ors-lnx].rules[0].name", "128-byte"),
         target="render_nftables"),
    Case("nft-outbound-default", "an outbound default nft does not know",
         (("option", "outbound_default", "reject"),), "error", ("outbound_default", "'reject'"),
         target="render_nftables"),
    Case("windows-rule-name-pipe", "a rule name with '|', which Windows Firewall refuses",
         (("rule", 0, "name", "deny|in"),), "error", ("policy[cml1] rule name", "deny|in", "'|'"),
         target="render_windows"),
    Case("windows-group-pipe", "a firewall rule group with '|'", (("option", "group", "SafeQ|Hardening"),), "error",
         ("group", "'SafeQ|Hardening'", "'|'"), target="render_windows"),
    Case("windows-group-newline", "a firewall rule group with a newline",
         (("option", "group", "SafeQ\nHardening"),), "error", ("group", "'SafeQ\\nHardening'", "control characters"),
         target="render_windows"),
    Case("windows-prefix-pipe", "a rule name prefix with '|'", (("option", "prefix", "Safe|Q"),), "error",
         ("prefix", "'Safe|Q'", "'|'"), target="render_windows"),
    Case("windows-duplicate-rule-names", "two rule names that differ only in case (Windows matches them as one)",
         (("rule", 0, "name", "Allow-X"), ("rule", 1, "name", "allow-x")), "error",
         ("policy[cml1]", "'SafeQ Hardening - Allow-X'", "case-insensitively"), target="render_windows"),
    Case("windows-port-superscript-digit", "a port written with a superscript digit ('²' is a digit to str.isdigit)",
         (("rule", 0, "ports", ["²"]),), "error", ("policy[cml1].rules[0]", "ports[0]", "'²'"),
         target="render_windows",
         pending="plugins/plugin_utils/render_windows.py: port_token_error accepts ASCII digits only"
                 " (token.isascii() and token.isdigit(); _PORT_RANGE = r'^([0-9]+)-([0-9]+)\\Z')"),
    Case("windows-port-full-width-digits", "a port written with full-width digits",
         (("rule", 0, "ports", ["１２３"]),), "error", ("policy[cml1].rules[0]", "ports[0]", "'１２３'"),
         target="render_windows",
         pending="plugins/plugin_utils/render_windows.py: port_token_error accepts ASCII digits only"
                 " (token.isascii() and token.isdigit(); _PORT_RANGE = r'^([0-9]+)-([0-9]+)\\Z')"),
    Case("windows-profile-unknown", "a firewall profile Windows does not have", (("option", "profiles", ["work"]),),
         "error", ("profiles", "'work'"), target="render_windows"),
)


def validate_table(cases=CASES):
    """Problems of the table itself (ids, targets, outcomes); empty when fine."""
    problems, seen = [], set()
    for case in cases:
        if case.id in seen:
            problems.append("%s: duplicate id" % case.id)
        seen.add(case.id)
        if case.target not in TARGETS or case.outcome not in OUTCOMES:
            problems.append("%s: target %r / outcome %r" % (case.id, case.target, case.outcome))
        if case.outcome != "ok" and not case.expect:
            problems.append("%s: an error or warning case must say what its message contains" % case.id)
        if not case.changes or not case.description:
            problems.append("%s: needs changes and a description" % case.id)
    return problems
