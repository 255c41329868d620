# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""verify: drift of our nftables table, reachability expectations and judgement, report results."""

from __future__ import annotations

from inventory_builder import standard

from ansible_collections.safeq.hardening.plugins.plugin_utils import verify

LISTING = """table inet safeq_hardening {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tiif "lo" accept
\t\ttcp dport { 9000, 19898 } drop comment "deny-in-tcp-remote"
\t\tct state established,related accept
\t\tip saddr 10.0.1.12 tcp dport 4111 accept comment "allow-in-tcp-cml@default"
\t}
}
"""


def test_drift_in_sync_missing_table_and_removed_rule():
    assert verify.nftables_drift("S", {"live": LISTING, "applied": "S", "applied_live": LISTING})[0]["kind"] == "in_sync"
    missing = verify.nftables_drift("S", {"live": None, "applied": "S", "applied_live": LISTING})
    assert missing[0]["kind"] == "table_missing" and missing[0]["status"] == "fail"
    edited = LISTING.replace('\t\tip saddr 10.0.1.12 tcp dport 4111 accept comment "allow-in-tcp-cml@default"\n', "")
    findings = verify.nftables_drift("S", {"live": edited, "applied": "S", "applied_live": LISTING})
    assert [f["kind"] for f in findings] == ["rule_missing"]
    assert "allow-in-tcp-cml@default" in findings[0]["message"]
    changed = verify.nftables_drift("T", {"live": LISTING, "applied": "S", "applied_live": LISTING})
    assert changed[0]["kind"] == "policy_changed"


def test_reachability_expectations_from_an_outsider_and_a_peer():
    plan = standard().plan()
    policy = plan["policies"]["cml1"]
    ports = verify.reachability_ports(policy)
    assert ports[0] == 22 and 19898 in ports and 4111 in ports
    outsider = {p["port"]: p["expect"] for p in verify.reachability_plan(policy, "10.200.0.9")}
    assert outsider[19898] == "blocked" and outsider[4111] == "blocked" and outsider[22] == "blocked"
    peer = {p["port"]: p["expect"] for p in verify.reachability_plan(policy, "10.0.1.12")}
    assert peer[4111] == "reachable" and peer[19898] == "blocked" and peer[20222] == "blocked"
    workstation = {p["port"]: p["expect"] for p in verify.reachability_plan(policy, "10.100.3.4")}
    assert workstation[9100] == "reachable" and workstation[4111] == "blocked"
    controller = {p["port"]: p["expect"] for p in verify.reachability_plan(policy, "10.250.0.5")}
    assert controller[22] == "reachable"


def test_judge_reachability_names_mismatches():
    policy = standard().plan()["policies"]["cml1"]
    results = {str(p): "filtered" for p in verify.reachability_ports(policy)}
    results["19898"] = "open"
    results["22"] = "open"
    findings = verify.judge_reachability(policy, results, "10.250.0.5")
    assert [f["port"] for f in findings if f["status"] == "fail"] == [19898]
    assert "answered (open) but must be closed" in findings[0]["message"]
    ok = verify.judge_reachability(policy, dict(results, **{"19898": "filtered"}), "10.250.0.5")
    assert ok[0]["status"] == "pass"


def test_check_results_take_the_worst_finding():
    results = verify.check_results("cml1", "linux", {
        "VERIFY-FIREWALL": [{"status": "pass", "message": "ok"}],
        "VERIFY-LISTENERS": [{"status": "warn", "message": "w"}, {"status": "fail", "message": "f"}],
        "VERIFY-EFFECTIVE": None,
    })
    assert [(r["id"], r["status"], r["evidence"]) for r in results] == [
        ("VERIFY-FIREWALL", "pass", "ok"), ("VERIFY-LISTENERS", "fail", "f")]
