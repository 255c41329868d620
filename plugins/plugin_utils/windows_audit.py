# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What harden and verify do with a Windows host's recorded firewall state (pure Python).

``audit`` reads the state once and answers: can rules take effect at all (profiles on, local rules
merged), which of our rules must be (re)applied or removed, who can reach each policy port now and
once our rules are applied, which broader rules undo the policy (and which of them harden may
disable by display name, and how restore re-enables them), and whether the management port stays
reachable from the controller without our management rule.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import PROFILE_NAMES, parse_state
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate_windows_firewall import (
    _is_ours,
    drift,
    evaluate_firewall,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    address_list_errors,
)

# Host findings that make every rule moot until fixed.
BLOCKING_KINDS = ("profile_disabled", "interface_excluded", "default_inbound_allow", "inbound_rules_ignored",
                  "local_rules_ignored")


def management_kept_without_ours(policy, state, group=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """(kept, message): does a rule that is not ours admit the management sources to the management port?"""
    management = policy["management"]
    others = dict(state, rules=[r for r in state["rules"] if not _is_ours(r, group, prefix)])
    probe = {
        "host": policy["host"], "address": policy["address"], "management": management,
        "rules": [{"name": "management", "action": "allow", "direction": "inbound", "protocol": "tcp",
                   "ports": list(management["ports"]), "addresses": list(management["addresses"]),
                   "peers": ["management"], "catalog_ids": []}],
    }
    result = evaluate_firewall(probe, others, group=group, prefix=prefix)
    kinds = {f["kind"]: f for f in result["findings"]}
    if "peers_admitted" in kinds:
        return True, kinds["peers_admitted"]["message"]
    finding = kinds.get("peers_not_admitted") or kinds.get("peers_maybe_admitted")
    return False, finding["message"] if finding else "no other rule admits the management sources"


def _state_rule(args):
    """One desired win_firewall_rule argument dict as the state query would print the rule."""
    profiles = [str(p).capitalize() for p in (args.get("profiles") or PROFILE_NAMES)]
    return {
        "Name": args["name"], "DisplayName": args["name"], "Group": args.get("group") or "",
        "DisplayGroup": args.get("group") or "", "Enabled": "False" if args.get("enabled") is False else "True",
        "Direction": "Inbound" if args.get("direction", "in") == "in" else "Outbound",
        "Action": str(args.get("action", "allow")).capitalize(), "Profile": ", ".join(profiles),
        "PolicyStoreSourceType": "Local", "PolicyStoreSource": "PersistentStore", "EdgeTraversalPolicy": "Block",
        "Protocol": str(args.get("protocol", "any")), "LocalPort": str(args.get("localport", "any")),
        "RemotePort": str(args.get("remoteport", "any")), "RemoteAddress": str(args.get("remoteip", "any")),
        "LocalAddress": str(args.get("localip", "any")), "Program": str(args.get("program", "any")),
        "Service": str(args.get("service", "any")), "Authentication": "NotRequired", "OverrideBlockRules": False,
        "MissingFilters": [],
    }


def predicted_state(state, desired, group=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """The state once harden applied ``desired``: our rules replaced by the desired enabled inbound rules."""
    wanted = [_state_rule(a) for a in desired
              if a.get("state", "present") == "present" and a.get("direction", "in") == "in"]
    rules = [r for r in state["rules"] if not _is_ours(r, group, prefix)]
    return dict(state, rules=parse_state({"profiles": [], "rules": wanted})["rules"] + rules)


def _restore_args(display_name, rules):
    """win_firewall_rule arguments that re-enable the rules named ``display_name`` as they were recorded.

    win_firewall_rule finds rules by display name only and, when none exists, CREATES one from its
    arguments with the COM defaults for the rest (allow, inbound, any protocol, any port, any
    address). So restore states what the recorded rules have in common: a rule deleted since the
    backup comes back as recorded instead of as an allow-everything rule, and rules that share the
    name (java.exe's TCP and UDP rules) keep their own protocol and ports.
    """
    def common(key):
        values = [r[key] for r in rules]
        return values[0] if all(v == values[0] for v in values) else None

    args = {"name": display_name, "direction": "in", "action": "allow", "enabled": True}
    profiles = common("profiles")
    if profiles:
        args["profiles"] = list(profiles)
    for key, option in (("program", "program"), ("service", "service")):
        value = common(key)
        if value is not None:
            args[option] = value
    addresses = common("remote_addresses")
    if addresses and not address_list_errors(",".join(addresses)):
        args["remoteip"] = ",".join(addresses)
    protocol = common("protocol")
    if protocol is not None:
        args["protocol"] = protocol
        ports = common("local_ports")
        if protocol in ("tcp", "udp") and ports:
            args["localport"] = ",".join(ports)
    return args


def disable_plan(broader, state):
    """The broader rules with ``can_disable``, ``reason``, ``also_disables`` and ``restore`` set for harden.

    win_firewall_rule changes every rule whose display name matches, and only rules of the local
    store. So a broader rule is disabled only when it is a local rule and no enabled local BLOCK rule
    shares its display name (disabling that would open traffic); other local allow rules of the same
    name are disabled with it and named in ``also_disables``. Group Policy, MDM and service-hardening
    rules are only reported, with the reason.
    """
    broader_ids = {b["name"] for b in broader}
    local = {}
    for rule in state["rules"]:
        if rule["store"] == "local":
            local.setdefault(rule["display_name"].lower(), []).append(rule)
    result = []
    for entry in broader:
        entry = dict(entry)
        same_name = local.get(entry["display_name"].lower(), [])
        blocks = [r for r in same_name if r["action"] == "block"]
        label = "'%s'" % entry["display_name"]
        reason = ""
        if entry["store"] in ("group_policy", "mdm"):
            reason = "%s comes from %s: change it there" % (
                label, "Group Policy" if entry["store"] == "group_policy" else "MDM")
        elif entry["store"] != "local":
            reason = "%s is a %s rule, not a local rule that win_firewall_rule can change" % (label, entry["store"])
        elif blocks:
            reason = "%s shares its display name with %d enabled block rule(s); win_firewall_rule changes every " \
                     "rule of a name, so disabling it would disable them too" % (label, len(blocks))
        entry["can_disable"] = not reason
        entry["reason"] = reason
        entry["also_disables"] = sorted(r["name"] for r in same_name if r["name"] not in broader_ids)
        entry["restore"] = _restore_args(entry["display_name"], [r for r in same_name if r["action"] == "allow"]
                                         or [entry]) if not reason else None
        result.append(entry)
    return result


def audit(state_output, policy, desired, group=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """Judge the recorded state (the win_powershell result or its JSON) for harden and verify."""
    if isinstance(state_output, dict) and "output" in state_output:
        state_output = state_output["output"]
    state = parse_state(state_output)
    effective = evaluate_firewall(policy, state, group=group, prefix=prefix)
    changes = drift(desired, state, group=group, prefix=prefix)
    blocking = [f for f in effective["findings"] if f["kind"] in BLOCKING_KINDS]
    kept, kept_message = management_kept_without_ours(policy, state, group, prefix)
    apply = [f["rule"] for f in changes["findings"] if f["kind"] in ("missing", "changed")] + list(changes["unchecked"])
    remove = [f["rule"] for f in changes["findings"] if f["kind"] == "extra"]
    # What harden reports after its change: the state with our desired rules in place of ours.
    after = evaluate_firewall(policy, predicted_state(state, desired, group, prefix), group=group, prefix=prefix) \
        if (apply or remove) else effective
    return {
        "blocking": blocking,
        "profiles_disabled": sorted({p for f in blocking if f["kind"] == "profile_disabled" for p in f.get("profiles", [])}),
        "effective": effective,
        "effective_after_apply": after,
        "drift": changes,
        "apply": apply,
        "remove": remove,
        "broader_rules": disable_plan(after["broader_rules"], state),
        "management_kept_without_ours": kept,
        "management_message": kept_message,
    }
