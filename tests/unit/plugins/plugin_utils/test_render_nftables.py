# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""render_nftables: the script's structure, validation of every printed value, and a real load in a namespace."""

from __future__ import annotations

import copy
import subprocess

import pytest
from inventory_builder import standard

from ansible_collections.safeq.hardening.plugins.module_utils.nft_script import check_table_script
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import RenderError, render_table


@pytest.fixture(scope="module")
def plan():
    return standard(features=["workstation_client", "job_roaming", "terminal_discovery"]).plan()


def _chain(script, chain):
    body = script.split("chain %s {" % chain, 1)[1].split("\t}", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


def test_deny_rules_come_before_established(plan):
    script = render_table(plan["policies"]["cml1"])
    lines = _chain(script, "input")
    deny = [i for i, line in enumerate(lines) if " drop comment " in line]
    established = lines.index("ct state established,related accept")
    assert deny and max(deny) < established
    assert lines[1] == 'iif "lo" accept'  # loopback first: local JMX tools keep working
    assert any(line.startswith("ip saddr != 10.0.1.11 tcp dport 20222-20225 drop") for line in lines)


def test_only_our_table_is_touched(plan):
    script = render_table(plan["policies"]["ors1"])
    statements = check_table_script(script, "inet", "safeq_hardening")
    assert [s.action for s in statements] == ["create", "delete", "define"]


def test_long_address_lists_become_one_named_set(plan):
    policy = copy.deepcopy(plan["policies"]["ors1"])
    many = ["10.7.%d.%d" % (i // 200, 1 + i % 200) for i in range(0, 600, 3)]
    for rule in policy["rules"]:
        if "job" in " ".join(rule["catalog_ids"]) or any("8000" == str(p) for p in rule["ports"]):
            rule["addresses"] = many
    script = render_table(policy)
    assert script.count("set addresses_1 {") == 1
    assert "ip saddr @addresses_1" in script and "ip daddr @addresses_1" in script


@pytest.mark.parametrize("field, value, message", [
    ("host", "ors-lnx\nflush ruleset\n#", "not a host name"),
    ("address", "10.0.0.1; flush ruleset", "not an IPv4"),
    ("rule_name", 'x" ; flush ruleset ; "', "not a rule name"),
    ("rule_name", "\u00e9" * 70, "not a rule name"),
    ("rule_name", "a" * 129, "128-byte"),
    ("port", "22; flush ruleset", "not a port"),
    ("address_item", "10.0.0.0/8 }", "not an IPv4"),
])
def test_values_that_would_inject_are_refused(plan, field, value, message):
    policy = copy.deepcopy(plan["policies"]["cml1"])
    if field == "host":
        policy["host"] = value
    elif field == "address":
        policy["address"] = value
    elif field == "rule_name":
        policy["rules"][0]["name"] = value
    elif field == "port":
        policy["rules"][0]["ports"] = [value]
    else:
        policy["rules"][-1]["addresses"] = [value]
    with pytest.raises(RenderError, match=message):
        render_table(policy)


def test_the_script_loads_and_enforces_order_for_real(plan, netns):
    script = render_table(plan["policies"]["cml1"])
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, text=True, check=True, timeout=20)
    listing = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "safeq_hardening"],
                             capture_output=True, text=True, check=True, timeout=20).stdout
    lines = [line.strip() for line in listing.split("chain input {", 1)[1].splitlines()]
    first_drop = next(i for i, line in enumerate(lines) if "drop comment" in line)
    assert first_drop < lines.index("ct state established,related accept")
    # a second load replaces the table in one transaction (no duplicate chains or rules)
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, text=True, check=True, timeout=20)
    again = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "safeq_hardening"],
                           capture_output=True, text=True, check=True, timeout=20).stdout
    assert again == listing


def test_every_example_and_synthetic_policy_passes_nft_check(plan, netns, example_plan):
    policies = list(plan["policies"].values()) + [dict(p, platform="linux") for p in example_plan["policies"].values()]
    for policy in policies:
        script = render_table(policy, outbound_default="drop", allow_icmp=False)
        subprocess.run(["ip", "netns", "exec", netns, "nft", "-c", "-f", "-"], input=script, text=True, check=True,
                       timeout=20)
