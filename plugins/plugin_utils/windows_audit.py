# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What harden and verify do with a Windows host's recorded firewall state (pure Python).

``audit`` reads the state once and answers: can rules take effect at all (profiles on, local rules
merged), which of our rules must be (re)applied or removed, which broader rules undo the policy, and
whether the management port stays reachable from the controller without our management rule.
"""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import parse_state
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate_windows_firewall import (
    _is_ours,
    drift,
    evaluate_firewall,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import DEFAULT_GROUP, DEFAULT_PREFIX

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
    return {
        "blocking": blocking,
        "profiles_disabled": sorted({p for f in blocking if f["kind"] == "profile_disabled" for p in f.get("profiles", [])}),
        "effective": effective,
        "drift": changes,
        "apply": apply,
        "remove": remove,
        "broader_rules": effective["broader_rules"],
        "management_kept_without_ours": kept,
        "management_message": kept_message,
    }
