# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument specs of the installed Windows modules, and proof that the validator bites.

For Ansible.Basic modules the spec is the .ps1's own ``$spec`` literal (parsed here); for legacy
modules it is rebuilt from DOCUMENTATION, and the tests check that the documentation and the code
agree wherever both exist.
"""

from __future__ import annotations

import re

import pytest
from checks import minimum_versions, routing_problems, version_problems
from module_specs import (
    WINDOWS_COLLECTIONS,
    WINDOWS_MODULES,
    ModuleDocError,
    _PsParser,
    collection_root,
    collection_version,
    module_documentation,
    module_spec,
    ps1_argument_spec,
    ps1_mentions_option,
    resolve_module,
    spec_from_options,
    spec_source,
    validation_errors,
    version_tuple,
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
    # galaxy.yml states the minimum versions; this machine has the `ansible` 12.3.0 bundle.
    minimums = minimum_versions()
    for collection in WINDOWS_COLLECTIONS:
        assert collection in minimums, "galaxy.yml has no minimum version for %s" % collection
        assert version_tuple(collection_version(collection)) >= minimums[collection], collection


@pytest.mark.parametrize("fqcn", WINDOWS_MODULES)
def test_module_exists_in_the_minimum_supported_version(fqcn):
    assert routing_problems(fqcn) == []
    assert version_problems(fqcn, {}) == []


def test_spec_source_is_the_code_where_the_code_has_one():
    sources = {fqcn: spec_source(fqcn) for fqcn in WINDOWS_MODULES}
    assert {m for m, s in sources.items() if s == "ps1"} == {
        "ansible.windows.win_firewall", "ansible.windows.win_service_info", "ansible.windows.win_powershell",
        "ansible.windows.win_find", "ansible.windows.win_listen_ports_facts", "ansible.windows.win_stat",
        "ansible.windows.win_command"}


def _comparable(spec):
    result = {}
    for name, option in spec.items():
        entry = {k: option.get(k) for k in ("type", "required", "elements") if option.get(k) not in (None, False)}
        if option.get("choices"):
            entry["choices"] = sorted(str(c).lower() for c in option["choices"])
        entry["aliases"] = sorted(option.get("aliases") or [])
        if entry.get("elements") == "raw":
            del entry["elements"]
        result[name] = entry
    return result


@pytest.mark.parametrize("fqcn", [m for m in WINDOWS_MODULES if spec_source(m) == "ps1"])
def test_documentation_agrees_with_the_ps1_spec(fqcn):
    documented = _comparable(spec_from_options(module_documentation(fqcn)["options"])[0])
    code = _comparable(module_spec(fqcn)[0])
    assert documented == code


def test_every_ansible_basic_spec_of_both_collections_parses_or_is_refused_by_name():
    parsed, refused = 0, []
    for collection in WINDOWS_COLLECTIONS:
        for ps1 in sorted((collection_root(collection) / "plugins" / "modules").glob("*.ps1")):
            try:
                ps1_argument_spec("%s.%s" % (collection, ps1.stem))
                parsed += 1
            except ModuleDocError as exc:
                refused.append(str(exc))
    assert parsed > 100
    # specs built from variables ($uint32Type, $store_location_values...) are refused, never misread
    assert all("unsupported token" in r or "cannot parse" in r for r in refused), refused


@pytest.mark.parametrize("text,expected", [
    ("@{ a = 'x'; b = \"y\" }", {"a": "x", "b": "y"}),
    ("@{ c = 'a', 'b' }", {"c": ["a", "b"]}),
    ("@{ m = @(\n , @('p', 'q')\n , @('r', 's')\n) }", {"m": [["p", "q"], ["r", "s"]]}),
    ("@{ m = @(, @('p', 'q')) }", {"m": [["p", "q"]]}),
    ("@{ n = @{ t = $true; f = $false; z = $null; i = 2 } }", {"n": {"t": True, "f": False, "z": None, "i": 2}}),
    ("@{ e = 'it''s' } # comment", {"e": "it's"}),
])
def test_ps1_literal_parser(text, expected):
    assert _PsParser(text, "test").hashtable() == expected


@pytest.mark.parametrize("text", ["@{ a = $spec }", "@{ a = [int]1 }", "@{ a = { 1 } }"])
def test_ps1_literal_parser_refuses_what_it_cannot_read(text):
    with pytest.raises(ModuleDocError):
        _PsParser(text, "test").hashtable()


@pytest.mark.parametrize("fqcn", WINDOWS_MODULES)
def test_every_documented_option_is_read_by_the_ps1(fqcn):
    # For legacy modules DOCUMENTATION is the only machine-readable spec; make sure it describes the code.
    documented = module_documentation(fqcn)["options"]
    missing = [o for o in documented if not ps1_mentions_option(fqcn, o)]
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
    assert ps_constraints["required_one_of"] == [["path", "script"]]
    assert ps["sensitive_parameters"]["mutually_exclusive"] == [["value", "username"], ["value", "password"]]
    assert ps["sensitive_parameters"]["required_together"] == [["username", "password"]]

    stat = module_spec("ansible.windows.win_stat")[0]
    assert stat["path"]["required"] is True and stat["get_checksum"]["type"] == "bool"
    assert module_spec("ansible.windows.win_service_info")[0] == {"name": {"type": "str"}}

    firewall = module_spec("ansible.windows.win_firewall")[0]
    assert firewall["profiles"]["choices"] == ["Domain", "Private", "Public"], "capitalised, as documented"
    assert firewall["state"]["required"] is True

    find = module_spec("ansible.windows.win_find")[0]
    assert find["paths"]["required"] is True and find["depth"]["type"] == "int"
    assert "regex" in find["patterns"]["aliases"] and find["recurse"]["type"] == "bool"

    command, command_constraints = module_spec("ansible.windows.win_command")
    assert command["argv"]["type"] == "list" and command["argv"]["elements"] == "str"
    assert command_constraints["mutually_exclusive"] == [["_raw_params", "argv", "cmd"]]

    assert module_spec("ansible.windows.slurp")[0]["src"]["required"] is True
    assert "path" in module_spec("ansible.windows.slurp")[0]["src"]["aliases"]
    assert module_spec("ansible.windows.win_copy")[0]["dest"]["required"] is True
    assert module_spec("ansible.windows.win_file")[0]["state"]["choices"] == ["absent", "directory", "file", "touch"]
    assert module_spec("ansible.windows.win_listen_ports_facts")[0]["tcp_filter"]["elements"] == "str"


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
    ("ansible.windows.win_firewall", {"profiles": ["domain"], "state": "enabled"}, "profiles must be one or more of"),
    ("ansible.windows.win_firewall", {"profiles": ["Domain"]}, "missing required arguments: state"),
    ("ansible.windows.win_find", {"patterns": ["x.conf"]}, "missing required arguments: paths"),
    ("ansible.windows.win_find", {"paths": ["C:\\"], "depth": "deep"}, "depth"),
    ("ansible.windows.win_command", {"cmd": "netsh", "argv": ["netsh"]}, "mutually exclusive"),
    ("ansible.windows.win_command", {"chdir": "C:\\"}, "one of the following is required"),
    ("ansible.windows.win_copy", {"content": "x"}, "missing required arguments: dest"),
    ("ansible.windows.win_file", {"path": "C:\\x", "state": "present"}, "state must be one of"),
    ("ansible.windows.slurp", {"path": "C:\\x", "dest": "y"}, "Supported parameters include"),
    ("ansible.windows.win_listen_ports_facts", {"tcp_filter": "Listen", "udp": True}, "Supported parameters include"),
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
