# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test double of a Windows host for counting harden's module runs (windows_count.py).

windows_count.py writes stand-in ``ansible.windows`` and ``community.windows`` collections whose
modules are action plugins made here: they run on the controller, never connect, and keep each
host's state in a JSON file (BENCH_WIN_STATE_DIR/<host>.json):

* win_firewall_rule stores, changes or removes the rule it is given (changed when it differs);
* win_powershell (the role's fixed firewall-state query) returns the state document the real query
  prints (version 2): every profile on and blocking inbound by default, one Domain connection, and
  the stored rules that are enabled and inbound or in our group, in the notation Windows lists them
  (subnets as masks), as tests/unit/plugins/plugin_utils/test_evaluate_windows_firewall.py records them;
* win_lineinfile stores the line it is given (changed when new);
* win_service_info reports the asked service as installed and running under
  C:\\Program Files\\YSoft SafeQ 5\\<service>\\bin, win_find finds each asked file there,
  win_listen_ports_facts reports no listener, win_stat finds nothing; every other Windows module the
  roles name (modules_used) changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re

from ansible.plugins.action import ActionBase

INSTALL = "C:\\Program Files\\YSoft SafeQ 5"
OUR_GROUP = "SafeQ Hardening"
PROFILES = ("domain", "private", "public")


def _path(host):
    return os.path.join(os.environ["BENCH_WIN_STATE_DIR"], "%s.json" % host)


def _load(host):
    try:
        with open(_path(host), encoding="utf-8") as handle:
            return json.load(handle)
    except OSError:
        return {"rules": {}, "lines": {}}


def _save(host, state):
    with open(_path(host), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)


def _windows_address(token):
    if token == "any":
        return "Any"
    network = ipaddress.ip_network(token, strict=False)
    return str(network.network_address) if network.prefixlen == 32 else "%s/%s" % (network.network_address,
                                                                                   network.netmask)


def _tokens(value):
    return ["Any" if t == "any" else t for t in str(value).split(",")]


def _listed(args):
    """One stored rule as Get-NetFirewallRule and its filters list it (the query's shape)."""
    profiles = [p for p in PROFILES if p in (args.get("profiles") or PROFILES)]
    return {
        "Name": "{%s}" % args["name"], "DisplayName": args["name"], "Group": args.get("group") or "",
        "DisplayGroup": args.get("group") or "", "Enabled": "True",
        "Direction": "Inbound" if args.get("direction", "in") == "in" else "Outbound",
        "Action": str(args.get("action", "allow")).capitalize(),
        "Profile": "Any" if len(profiles) == 3 else ", ".join(p.capitalize() for p in profiles),
        "PolicyStoreSourceType": "Local", "PolicyStoreSource": "PersistentStore", "EdgeTraversalPolicy": "Block",
        "Protocol": str(args.get("protocol", "any")).upper(), "LocalPort": _tokens(args.get("localport", "any")),
        "RemotePort": _tokens(args.get("remoteport", "any")),
        "RemoteAddress": [_windows_address(t) for t in str(args.get("remoteip", "any")).split(",")],
        "LocalAddress": [_windows_address(t) for t in str(args.get("localip", "any")).split(",")],
        "Program": "Any", "ProgramPath": None, "Service": "Any", "Authentication": "NotRequired",
        "OverrideBlockRules": False, "MissingFilters": [],
    }


def state_document(state, host):
    settings = {"Enabled": "True", "DefaultInboundAction": "Block", "DefaultOutboundAction": "Allow",
                "AllowInboundRules": "True", "AllowLocalFirewallRules": "True",
                "AllowUnicastResponseToMulticast": "True"}
    # version 2 of the query: enabled inbound rules, and the enabled outbound rules of our group
    rules = [_listed(args) for args in state["rules"].values() if args.get("enabled", True) is not False
             and (args.get("direction", "in") == "in" or args.get("group") == OUR_GROUP)]
    return {
        "version": 2, "computer": host.upper()[:15],
        "profiles": [dict(settings, Name=name) for name in ("Domain", "Private", "Public")],
        "connection_profiles": [{"InterfaceAlias": "Ethernet0", "InterfaceIndex": 4,
                                 "NetworkCategory": "DomainAuthenticated"}],
        "rules": rules, "processes": [], "services": [],
    }


def _firewall_rule(state, args, host):
    key = str(args["name"]).lower()
    if args.get("state", "present") == "absent":
        return {"changed": state["rules"].pop(key, None) is not None}
    wanted = {k: v for k, v in args.items() if v is not None}
    current = state["rules"].get(key)
    merged = dict(current or {}, **wanted)
    state["rules"][key] = merged
    return {"changed": merged != current}


def _powershell(state, args, host):
    return {"changed": False, "output": [state_document(state, host)], "error": [], "warning": [], "host_out": ""}


def _service_info(state, args, host):
    name = args.get("name")
    return {"changed": False, "exists": True, "services": [{
        "name": name, "display_name": name, "state": "started", "start_mode": "auto",
        "path": "\"%s\\%s\\bin\\%s.exe\"" % (INSTALL, name, name)}]}


def _find(state, args, host):
    patterns = args.get("patterns") or []
    patterns = [patterns] if isinstance(patterns, str) else patterns
    files = [{"path": "%s\\conf\\%s" % (INSTALL, p), "filename": p} for p in patterns]
    return {"changed": False, "files": files, "matched": len(files), "examined": len(files)}


def _lineinfile(state, args, host):
    key = "%s|%s" % (args.get("path"), args.get("regex") or args.get("regexp") or args.get("line"))
    changed = state["lines"].get(key) != args.get("line")
    state["lines"][key] = args.get("line")
    return {"changed": changed, "msg": "line added" if changed else ""}


def _listen_ports(state, args, host):
    return {"changed": False, "ansible_facts": {"tcp_listen": [], "udp_listen": []}}


def _stat(state, args, host):
    return {"changed": False, "stat": {"exists": False}}


def _nothing(state, args, host):
    return {"changed": False}


HANDLERS = {
    "win_firewall_rule": _firewall_rule,
    "win_powershell": _powershell,
    "win_service_info": _service_info,
    "win_find": _find,
    "win_lineinfile": _lineinfile,
    "win_listen_ports_facts": _listen_ports,
    "win_stat": _stat,
}
MODULE_NAME = re.compile(r"\b((?:ansible|community)\.windows)\.(win_[a-z_]+)\b")


def modules_used(root):
    """{collection: sorted module names} of the Windows modules named in ``root``'s roles and playbooks."""
    found = {}
    for folder in ("roles", "playbooks"):
        for directory, _dirs, names in os.walk(os.path.join(root, folder)):
            for name in names:
                if name.endswith((".yml", ".yaml")):
                    with open(os.path.join(directory, name), encoding="utf-8") as handle:
                        for collection, module in MODULE_NAME.findall(handle.read()):
                            found.setdefault(collection, set()).add(module)
    return {collection: sorted(modules) for collection, modules in found.items()}


def make_action(module):
    """The ActionModule class standing in for the Windows module named ``module``."""
    handler = HANDLERS.get(module, _nothing)

    class ActionModule(ActionBase):
        TRANSFERS_FILES = False
        _requires_connection = False

        def run(self, tmp=None, task_vars=None):
            result = super().run(tmp, task_vars)
            host = (task_vars or {}).get("inventory_hostname") or "unknown"
            state = _load(host)
            result.update(handler(state, dict(self._task.args), host))
            _save(host, state)
            return result

    ActionModule.__name__ = "ActionModule"
    return ActionModule
