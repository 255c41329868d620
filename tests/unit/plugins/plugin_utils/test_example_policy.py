# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""inventories/example: the policies a customer reviews (CML least privilege, CRS, near roaming, WinRM)."""

from __future__ import annotations

from inventory_builder import inbound

from ansible_collections.safeq.hardening.plugins.plugin_utils import addresses


def _addresses(hostvars, hosts):
    return addresses.collapse([hostvars[h]["ansible_host"] for h in hosts])


def test_cml_policy_least_privilege(example_policies, example_inventory):
    groups, hostvars = example_inventory
    cmls = _addresses(hostvars, groups["safeq_cml"])
    ors = _addresses(hostvars, groups["safeq_ors"])
    for cml in groups["safeq_cml"]:
        policy = example_policies[cml]
        assert inbound(policy, 4111) == [("allow", cmls)]
        assert inbound(policy, 6010) == [("allow", ors)]
        for port in (20222, 20223, 20224, 20225, 19898, 9797, 9696, 9002, 9000, 9005, 8005):
            assert inbound(policy, port) == [("deny", ["any"])], port


def test_crs_receives_4139_only_from_cml(example_policies, example_inventory):
    groups, hostvars = example_inventory
    assert inbound(example_policies["crs-prg-1"], 4139) == [("allow", _addresses(hostvars, groups["safeq_cml"]))]


def test_near_roaming_only_inside_group(example_policies, example_inventory):
    hostvars = example_inventory[1]
    brno = _addresses(hostvars, ["ors-brn-1", "ors-brn-2"])
    assert inbound(example_policies["ors-brn-1"], 7800) == [("allow", brno)]
    assert inbound(example_policies["ors-lon-1"], 7800) == []


def test_every_host_keeps_winrm_from_the_management_network(example_policies):
    for policy in example_policies.values():
        assert policy["management"] == {"protocol": "tcp", "ports": [5986], "addresses": ["10.10.250.0/24"]}
        assert policy["platform"] == "windows"
