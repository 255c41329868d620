# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology model: cluster identity, feature scopes, etcd clusters, management port and address
derivation, override checks and warning aggregation (build_topology with the real catalog)."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.safeq.hardening.plugins.plugin_utils import topology
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import CatalogError
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import TopologyError, build_topology

MGMT = {"safeq_management_networks": ["10.250.0.0/24"], "safeq_controller_address": "10.250.0.5"}


def hosts(**spec):
    """groups/hostvars from name=(components, address, {vars})."""
    groups, hostvars = {}, {}
    for name, (comps, address, variables) in spec.items():
        for comp in comps:
            groups.setdefault("safeq_" + comp, []).append(name)
        hostvars[name] = dict(copy.deepcopy(MGMT), **variables)
        if address:
            hostvars[name]["ansible_host"] = address
    return groups, hostvars


def build(loaded_catalog, **spec):
    return build_topology(*hosts(**spec), loaded_catalog)


def error_of(loaded_catalog, **spec):
    with pytest.raises(TopologyError) as info:
        build(loaded_catalog, **spec)
    return str(info.value)


# ---- cluster identity and feature scopes ---------------------------------------------------------

def test_clusters_are_named_by_safeq_cml_cluster(loaded_catalog):
    topo = build(loaded_catalog,
                 cml1=(["cml"], "10.0.1.11", {}), cml2=(["cml"], "10.0.1.12", {}),
                 cmlb=(["cml"], "10.0.9.11", {"safeq_cml_cluster": "b"}),
                 ors1=(["ors"], "10.0.2.21", {}), orsb=(["ors"], "10.0.9.21", {"safeq_cml_cluster": "b"}))
    assert sorted(topo.clusters) == ["b", "default"]
    assert [h.name for h in topo.clusters["default"].members("cml")] == ["cml1", "cml2"]
    assert [h.name for h in topo.clusters["b"].members("ors")] == ["orsb"]
    assert "cluster" in topo.hosts["ors1"].features  # two CML nodes: the derived feature, cluster-wide
    assert "cluster" not in topo.hosts["cmlb"].features  # one CML node in cluster b


def test_installation_features_spread_host_features_do_not(loaded_catalog):
    topo = build(loaded_catalog,
                 cml1=(["cml"], "10.0.1.11", {"safeq_features": ["central_reporting", "embedded_km"]}),
                 ors1=(["ors"], "10.0.2.21", {}),
                 orsb=(["ors"], "10.0.9.21", {"safeq_cml_cluster": "b"}))
    assert {"central_reporting", "embedded_km", "embedded_terminal"} <= topo.hosts["cml1"].features
    assert "central_reporting" in topo.hosts["ors1"].features  # installation scope: the whole cluster
    assert "embedded_km" not in topo.hosts["ors1"].features  # host scope
    assert "central_reporting" not in topo.hosts["orsb"].features  # another installation
    assert topo.clusters["default"].feature_hosts["embedded_terminal"] == ["cml1"]  # implied, counted per host


def test_cluster_limit_counts_host_scoped_features_of_any_host(loaded_catalog):
    spec = {"cml%d" % i: (["cml"], "10.0.1.%d" % (10 + i), {}) for i in range(1, 7)}
    spec["ors1"] = (["ors"], "10.0.2.21", {"safeq_features": ["terminal_ultralight"]})
    message = error_of(loaded_catalog, **spec)
    assert "groups.safeq_cml: 6 CML nodes of cluster 'default'" in message
    assert "terminal_ultralight limit of 5" in message and "hostvars[ors1]" in message
    del spec["cml6"]
    build(loaded_catalog, **spec)
    spec["orsb"] = (["ors"], "10.0.9.21", {"safeq_cml_cluster": "b", "safeq_features": ["terminal_ultralight"]})
    spec.update({"cml%d" % i: (["cml"], "10.0.1.%d" % (10 + i), {"safeq_cml_cluster": "b"}) for i in range(6, 9)})
    build(loaded_catalog, **spec)  # 5 + 3 CML in two clusters: each under the limit


# ---- etcd clusters ------------------------------------------------------------------------------

def test_etcd_cluster_defaults(loaded_catalog):
    topo = build(loaded_catalog,
                 cml1=(["cml", "etcd"], "10.0.1.11", {}), cml2=(["cml", "etcd"], "10.0.1.12", {}),
                 ors1=(["ors", "etcd"], "10.0.2.21", {"safeq_near_roaming_group": "brno"}),
                 ors2=(["ors", "etcd"], "10.0.2.22", {"safeq_near_roaming_group": "brno"}),
                 ors3=(["ors", "etcd"], "10.0.2.23", {}),
                 ors4=(["ors"], "10.0.2.24", {}))
    assert topo.hosts["cml1"].etcd_cluster == "default-cml"
    assert topo.hosts["ors1"].etcd_cluster == topo.hosts["ors2"].etcd_cluster == "default-brno"
    assert topo.hosts["ors3"].etcd_cluster == "default-ors3"  # alone
    assert topo.hosts["ors4"].etcd_cluster is None
    assert sorted(topo.etcd_clusters) == ["default-brno", "default-cml", "default-ors3"]
    assert "near_roaming" in topo.hosts["ors1"].features and "near_roaming" not in topo.hosts["ors3"].features


def test_etcd_cluster_named_explicitly_and_ignored_off_etcd(loaded_catalog):
    topo = build(loaded_catalog,
                 cml1=(["cml", "etcd"], "10.0.1.11", {"safeq_etcd_cluster": "ring"}),
                 ors1=(["ors", "etcd"], "10.0.2.21", {"safeq_etcd_cluster": "ring"}),
                 ors2=(["ors"], "10.0.2.22", {"safeq_etcd_cluster": "ring"}))
    assert [h.name for h in topo.etcd_clusters["ring"]] == ["cml1", "ors1"]
    assert topo.hosts["ors2"].etcd_cluster is None
    assert {"host": "ors2", "variable": "safeq_etcd_cluster"}.items() <= topo.warnings[0].items()


# ---- management port per connection ----------------------------------------------------------------

@pytest.mark.parametrize("variables,port,platform", [
    ({}, 22, "linux"),
    ({"ansible_port": 2222}, 2222, "linux"),
    ({"ansible_port": 2222, "ansible_ssh_port": 2200}, 2200, "linux"),  # the ssh plugin: the later variable wins
    ({"ansible_connection": "winrm"}, 5986, "windows"),
    ({"ansible_connection": "winrm", "ansible_winrm_scheme": "http"}, 5986, "windows"),  # winrm's default port
    ({"ansible_connection": "winrm", "ansible_port": 5985, "ansible_winrm_scheme": "http"}, 5985, "windows"),
    ({"ansible_connection": "winrm", "ansible_port": 5985, "ansible_winrm_port": 15986}, 15986, "windows"),
    ({"ansible_connection": "psrp"}, 5986, "windows"),
    ({"ansible_connection": "psrp", "ansible_psrp_protocol": "http"}, 5985, "windows"),
    ({"ansible_connection": "ansible.builtin.psrp", "ansible_port": 5985, "ansible_psrp_port": 443}, 443, "windows"),
    ({"ansible_connection": "ssh", "safeq_platform": "windows"}, 22, "windows"),  # OpenSSH on Windows
    ({"ansible_connection": "local"}, 22, "linux"),
    ({"ansible_connection": "containers.podman.podman", "safeq_management_port": 2022}, 2022, "linux"),
])
def test_management_port_follows_the_connection(loaded_catalog, variables, port, platform):
    host = build(loaded_catalog, cml1=(["cml"], "10.0.1.11", variables)).hosts["cml1"]
    assert (host.management_port, host.platform) == (port, platform)


@pytest.mark.parametrize("variables,text", [
    ({"safeq_management_port": 5985, "ansible_connection": "winrm", "ansible_winrm_scheme": "http"},
     "5985 differs from the port Ansible connects to (5986 over winrm)"),
    ({"safeq_management_port": 22, "ansible_port": 2222}, "22 differs from the port Ansible connects to (2222 over ssh)"),
    ({"ansible_connection": "psrp", "ansible_psrp_protocol": "tcp"}, "ansible_psrp_protocol: 'tcp' is not one of"),
    ({"ansible_connection": "winrm", "safeq_platform": "linux"}, "safeq_platform: 'linux' contradicts"),
])
def test_management_port_errors(loaded_catalog, variables, text):
    assert text in error_of(loaded_catalog, cml1=(["cml"], "10.0.1.11", variables))


# ---- addresses ---------------------------------------------------------------------------------

def test_address_derivation(loaded_catalog):
    topo = build(loaded_catalog,
                 cml1=(["cml"], "10.0.1.11", {"safeq_address": "10.0.100.11"}),  # safeq_address first
                 ors1=(["ors"], " 10.0.2.21 ", {}),  # ansible_host, trimmed
                 **{"10.0.2.22": (["ors"], None, {})})  # named by its address
    assert [topo.hosts[n].address for n in ("cml1", "ors1", "10.0.2.22")] == ["10.0.100.11", "10.0.2.21", "10.0.2.22"]
    assert topo.hosts["ors1"].address_int == (10 << 24) + (2 << 8) + 21
    topo = build(loaded_catalog, cml1=(["cml"], "cml1.example.com", {"safeq_address": "10.0.1.11"}))
    assert topo.hosts["cml1"].address == "10.0.1.11"  # a DNS name in ansible_host is fine with safeq_address


def test_management_addresses_collapse(loaded_catalog):
    host = build(loaded_catalog, cml1=(["cml"], "10.0.1.11", {})).hosts["cml1"]
    assert host.management_addresses == ("10.250.0.0/24",)  # the controller is inside the network


def test_networks_are_normalized_and_narrow(loaded_catalog):
    topo = build(loaded_catalog, cml1=(["cml"], "10.0.1.11", {
        "safeq_workstation_networks": ["10.1.0.0/25", "10.1.0.128/25", "10.9.9.9/32", "10.0.0.0/8"],
        "safeq_printer_networks": ["10.2.0.0/16", "10.3.0.0/16"]}))
    assert topo.hosts["cml1"].network("safeq_workstation_networks") == ("10.0.0.0/8",)
    assert topo.hosts["cml1"].network("safeq_printer_networks") == ("10.2.0.0/15",)
    many = ["%d.0.0.0/8" % i for i in range(256)]
    text = error_of(loaded_catalog, cml1=(["cml"], "10.0.1.11", {"safeq_ldap_servers": many}))
    assert "together cover every IPv4 address" in text


# ---- overrides ------------------------------------------------------------------------------------

def test_every_property_at_its_own_default_is_accepted(loaded_catalog):
    """Setting each property to the vendor's port is never a collision or a protected-port finding."""
    overrides = {}
    for prop, uses in loaded_catalog.properties.items():
        entry = loaded_catalog.by_id[uses[0]["entry"]]
        port = entry["ports"][0]
        overrides[prop] = port["default_range"] or 45588 if isinstance(port, dict) else port
    comps = ["cml", "ors", "crs", "ap_connector", "etcd"]
    features = sorted(n for n, f in loaded_catalog.features.items() if not f.derived and n != "near_roaming")
    topo = build(loaded_catalog, all1=(comps, "10.0.1.11", {"safeq_port_overrides": overrides,
                                                            "safeq_features": features}))
    assert topo.hosts["all1"].overrides["cmlJmxServerPort"]["text"] == "19898"


def test_override_errors_on_many_hosts_make_one_message(loaded_catalog):
    spec = {"ors%d" % i: (["ors"], "10.0.2.%d" % (20 + i), {"safeq_port_overrides": {"orsJmxServerPort": 3389}})
            for i in range(1, 8)}
    message = error_of(loaded_catalog, **spec)
    assert message.count("\n") == 0, message
    assert message.startswith("hostvars[ors1].safeq_port_overrides.orsJmxServerPort: 3389 moves")
    assert "(the same on ors2, ors3, ors4, ors5, ors6 and 1 more)" in message


# ---- warnings ----------------------------------------------------------------------------------

def test_warnings_are_aggregated_per_message(loaded_catalog):
    spec = {"ors%d" % i: (["ors"], "10.0.2.%d" % (20 + i), {"safeq_printer_networks": ["10.0.0.0/8"]})
            for i in range(1, 8)}
    spec["cml1"] = (["cml"], "10.0.1.11", {})
    topo = build(loaded_catalog, **spec)
    inside = [w for w in topo.warnings if w["variable"] == "safeq_printer_networks"]
    assert len(inside) == 1
    assert inside[0]["host"] is None and len(inside[0]["hosts"]) == 7
    assert inside[0]["message"].endswith("(on ors1, ors2, ors3, ors4, ors5 and 2 more)")
    assert "contains SafeQ server address(es) of cml1, ors1, ors2, ors3, ors4 and 3 more" in inside[0]["message"]


def test_one_host_warning_names_the_host(loaded_catalog):
    topo = build(loaded_catalog, cml1=(["cml"], "10.0.1.11", {"safeq_near_roaming_group": "brno"}))
    assert topo.warnings == [{"host": "cml1", "variable": "safeq_near_roaming_group", "hosts": ["cml1"],
                              "message": "safeq_near_roaming_group=brno is set on a host that is not an ORS; ignored"
                                         " (on cml1)"}]


def test_all_errors_come_together(loaded_catalog):
    message = error_of(loaded_catalog,
                       cml1=(["cml"], "10.0.1.11", {"safeq_features": ["teleport"], "safeq_cml_cluster": ["x"]}),
                       ors1=(["ors"], "0.0.0.0", {"safeq_printer_networks": ["0.0.0.0/0"]}))
    assert message.startswith("4 inventory errors:\n- ")
    assert message.count("\n- ") == 4


# ---- the spec file --------------------------------------------------------------------------------

def _spec_with(tmp_path, change):
    data = yaml.safe_load(open(topology.INVENTORY_SPEC_PATH, encoding="utf-8"))
    change(data)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("change,text", [
    (lambda d: d["variables"]["safeq_address"].update(type="ipv6"), "variables.safeq_address needs a type"),
    (lambda d: d["protected_ports"].update({70000: "x"}), "protected_ports must map ports 1-65535"),
    (lambda d: d["removed_variables"].update(safeq_address="gone"), "removed_variables also lists"),
    (lambda d: d.update(ansible_variables=["password"]), r"ansible_variables must be a list of ansible_\* names"),
    (lambda d: d["groups"].pop("safeq_etcd"), "groups lacks safeq_etcd"),
])
def test_inventory_spec_is_validated(tmp_path, change, text):
    with pytest.raises(CatalogError, match=text):
        topology.load_inventory_spec(_spec_with(tmp_path, change))


def test_protected_ports_come_from_the_spec():
    ports = topology.protected_ports()
    assert ports[3389] == "Remote Desktop" and ports[5986] == "WinRM HTTPS" and 9100 not in ports
