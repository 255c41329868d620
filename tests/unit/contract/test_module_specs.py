# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs of the installed Windows modules, and proof that the validator bites."""

from __future__ import annotations

import re

import pytest
from module_specs import (
    WINDOWS_MODULES,
    collection_version,
    module_documentation,
    module_spec,
    ps1_mentions_option,
    resolve_module,
    validation_errors,
)

from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    address_list_errors,
    port_list_errors,
)


@pytest.mark.parametrize("fqcn", WINDOWS_MODULES)
def test_module_is_installed_documented_and_not_deprecated(fqcn):
    resolved, doc_path, ps1, deprecation = resolve_module(fqcn)
    assert resolved == fqcn, "%s is redirected to %s; call the new name" % (fqcn, resolved)
    assert ps1 is not None, "%s has no .ps1 next to %s" % (fqcn, doc_path)
    assert deprecation is None, "%s is deprecated: %s" % (fqcn, deprecation)
    doc = module_documentation(fqcn)
    assert doc["module"] == fqcn.split(".")[-1]


def test_collections_are_the_supported_versions():
    # galaxy.yml asks for >=2.0.0 of both; this machine has the `ansible` 12.3.0 bundle.
    for collection in ("ansible.windows", "community.windows"):
        major = int(collection_version(collection).split(".")[0])
        assert major >= 2, collection


@pytest.mark.parametrize("fqcn", WINDOWS_MODULES)
def test_every_documented_option_is_read_by_the_ps1(fqcn):
    # DOCUMENTATION is our only machine-readable spec; make sure it describes the code.
    argument_spec = module_spec(fqcn)[0]
    missing = [o for o in argument_spec if not ps1_mentions_option(fqcn, o)]
    assert not missing, "%s documents options its .ps1 never reads: %s" % (fqcn, missing)


def test_spec_details_we_rely_on():
    fw, fw_constraints = module_spec("community.windows.win_firewall_rule")
    assert fw["direction"]["choices"] == ["in", "out"]
    assert fw["action"]["choices"] == ["allow", "block"]
    assert fw["state"]["choices"] == ["absent", "present"]
    assert fw["profiles"]["type"] == "list" and fw["profiles"]["elements"] == "str"
    assert fw["enabled"]["type"] == "bool" and "enable" in fw["enabled"]["aliases"]
    for key in ("localport", "remoteport", "remoteip", "localip", "protocol", "name", "group", "description"):
        assert fw[key]["type"] == "str", key
    assert fw_constraints["required_one_of"] == [["group", "name"]]
    assert fw_constraints["required_by"] == {"localport": ["protocol"], "remoteport": ["protocol"]}

    lif, lif_constraints = module_spec("community.windows.win_lineinfile")
    assert lif["path"]["required"] is True and lif["backup"]["type"] == "bool"
    assert "regexp" in lif["regex"]["aliases"]
    assert "choices" not in lif["insertafter"], "'*regex*' is a placeholder, not a choice"
    assert lif_constraints["required_if"] == [["state", "present", ["line"]]]
    assert lif_constraints["mutually_exclusive"] == [["backrefs", "insertafter"], ["backrefs", "insertbefore"]]

    ps, ps_constraints = module_spec("ansible.windows.win_powershell")
    assert ps["error_action"]["choices"] == ["silently_continue", "continue", "stop"]
    assert ps["parameters"]["type"] == "dict"
    assert ps_constraints["mutually_exclusive"] == [["path", "script"]]
    assert ps["sensitive_parameters"]["mutually_exclusive"] == [["username", "value"], ["password", "value"]]

    stat = module_spec("ansible.windows.win_stat")[0]
    assert stat["path"]["required"] is True and stat["get_checksum"]["type"] == "bool"
    assert module_spec("ansible.windows.win_service_info")[0] == {"name": {"type": "str"}}


def test_port_and_address_syntax_comes_from_the_module():
    """Where our port/address syntax rules come from.

    community.windows.win_firewall_rule DOCUMENTATION says only "Set to C(any) to apply to all ...";
    its .ps1 passes any other string unchanged to the HNetCfg.FWRule COM object
    (``$new_rule.LocalPorts = $localport`` ...), so the accepted syntax is that of INetFwRule:
    LocalPorts/RemotePorts: comma list of ports and a-b ranges (plus Windows keywords we never use);
    RemoteAddresses: '*', LocalSubnet/DNS/DHCP/WINS/DefaultGateway, addresses, subnets (prefix or mask),
    'start-end' ranges without spaces (learn.microsoft.com, INetFwRule::put_RemoteAddresses).
    """
    options = module_documentation("community.windows.win_firewall_rule")["options"]
    for key in ("localport", "remoteport", "remoteip", "localip"):
        assert "Set to C(any)" in " ".join(options[key]["description"]), key
    for key in ("localport", "remoteport"):
        assert "Must have I(protocol) set" in options[key]["description"], key
    ps1 = resolve_module("community.windows.win_firewall_rule")[2]
    text = ps1.read_text(encoding="utf-8-sig")
    for prop, var in (("LocalPorts", "localport"), ("RemotePorts", "remoteport"), ("RemoteAddresses", "remoteip")):
        assert re.search(r'\$%s -ne "any"\) \{ \$new_rule\.%s = \$%s \}' % (var, prop, var), text), prop
    # Rules are matched by display name with PowerShell -eq (case-insensitive), whatever the group.
    assert "$_.Name -eq $name" in text


# ---- the validator bites --------------------------------------------------------------------

GOOD_RULE = {
    "name": "SafeQ Hardening - allow-in-tcp-x", "group": "SafeQ Hardening", "direction": "in",
    "action": "allow", "protocol": "tcp", "localport": "443,4096-4099", "remoteport": "any",
    "remoteip": "10.10.1.12,10.20.0.0/16", "profiles": ["domain", "private", "public"], "enabled": True,
    "state": "present",
}


def test_good_rule_passes():
    assert validation_errors("community.windows.win_firewall_rule", GOOD_RULE) == []


@pytest.mark.parametrize("fqcn,params,expected", [
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, direction="inbound"), "direction must be one of"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, action="deny"), "action must be one of"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, state="enabled"), "state must be one of"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, port="443"), "Supported parameters include"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, interfacetypes=["lan"]), "Supported parameters include"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, enabled="maybe"), "enabled"),
    ("community.windows.win_firewall_rule", dict(GOOD_RULE, profiles={"domain": True}), "profiles"),
    ("community.windows.win_firewall_rule", {"state": "absent"}, "one of the following is required: group, name"),
    ("community.windows.win_firewall_rule", {"name": "x", "localport": "80"}, "required by 'localport'"),
    ("community.windows.win_lineinfile", {"path": "C:\\x.conf", "regex": "^a="}, "missing: line"),
    ("community.windows.win_lineinfile", {"path": "C:\\x", "line": "a", "backrefs": True, "insertafter": "x"},
     "mutually exclusive"),
    ("community.windows.win_lineinfile", {"path": "C:\\x", "line": "a", "newline": "mac"}, "newline must be one of"),
    ("community.windows.win_lineinfile", {"dest": "C:\\x", "line": "a", "backup": "sometimes"}, "backup"),
    ("ansible.windows.win_stat", {"get_checksum": False}, "missing required arguments: path"),
    ("ansible.windows.win_stat", {"path": "C:\\x", "checksum_algorithm": "crc32"}, "checksum_algorithm"),
    ("ansible.windows.win_powershell", {"script": "1", "path": "C:\\x.ps1"}, "mutually exclusive: path|script"),
    ("ansible.windows.win_powershell", {"script": "1", "error_action": "ignore"}, "error_action must be one of"),
    ("ansible.windows.win_powershell", {"script": "1", "depth": "deep"}, "depth"),
    ("ansible.windows.win_powershell",
     {"script": "1", "sensitive_parameters": [{"name": "a", "value": "b", "username": "c"}]}, "mutually exclusive"),
    ("ansible.windows.win_service_info", {"name": "YSoft*", "state": "started"}, "Supported parameters include"),
])
def test_validator_rejects_wrong_arguments(fqcn, params, expected):
    errors = validation_errors(fqcn, params)
    assert errors, "%s accepted %r" % (fqcn, params)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("value", ["any", "443", "80,443", "20222-20225", "1,65535", "9000,9002,19898,4096-4099"])
def test_port_syntax_accepts(value):
    assert port_list_errors(value) == []


@pytest.mark.parametrize("value", ["", "80;443", "80, 443", "0", "65536", "90-80", "RPC", "any,80", "80-", "-80",
                                   "443/tcp", " 443"])
def test_port_syntax_rejects(value):
    assert port_list_errors(value), value


@pytest.mark.parametrize("value", ["any", "10.0.0.1", "10.0.0.0/24", "10.0.0.0/255.255.255.0",
                                   "10.0.0.1-10.0.0.9", "LocalSubnet", "localsubnet", "DNS", "DefaultGateway",
                                   "fe80::1", "2001:db8::/32", "10.0.0.1,10.0.1.0/24,LocalSubnet"])
def test_address_syntax_accepts(value):
    assert address_list_errors(value) == []


@pytest.mark.parametrize("value", ["", "10.0.0.1 - 10.0.0.9", "any,10.0.0.1", "*,10.0.0.1", "10.0.0.0/33",
                                   "10.0.0.9-10.0.0.1", "10.0.0.1-fe80::1", "example.com", "10.0.0.256",
                                   "10.0.0.0/255.0.255.0", "10.0.0.1;10.0.0.2"])
def test_address_syntax_rejects(value):
    assert address_list_errors(value), value
