"""Benchmark the policy core at customer scale: time and peak memory of plan computation.

Usage: .venv/bin/python scripts/bench_policy.py [--ors 200] [--repeat 3]
Synthetic inventory: a 10-node CML cluster (Terminal Professional limit), N ORS in near-roaming
groups of 10, 2 CRS, 4 AP Connectors, etcd on the CML nodes. Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog  # noqa: E402
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import build_policies  # noqa: E402
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_flows import RENDERERS  # noqa: E402
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import render_table  # noqa: E402
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import firewall_rule_args  # noqa: E402


def inventory(ors_count):
    common = {
        "safeq_features": ["workstation_client", "central_reporting", "terminal_professional", "job_roaming",
                           "near_roaming", "ldap_sync", "smtp", "load_balancing", "online_tracking"],
        "safeq_workstation_networks": ["10.%d.0.0/16" % i for i in range(100, 140)],
        "safeq_printer_networks": ["10.%d.0.0/20" % i for i in range(140, 180)],
        "safeq_ldap_servers": ["10.1.0.10"], "safeq_database_servers": ["10.1.0.50"],
        "safeq_smtp_servers": ["10.1.0.25"], "safeq_management_networks": ["10.1.250.0/24"],
        "safeq_controller_address": "10.1.250.5",
        "safeq_port_overrides": {"nearRoamingMulticastPort": 45588},
    }
    groups = {"safeq_cml": [], "safeq_ors": [], "safeq_crs": [], "safeq_ap_connector": [], "safeq_etcd": []}
    hostvars = {}

    def add(group, name, address, **extra):
        groups[group].append(name)
        hostvars[name] = dict(common, ansible_host=address, **extra)

    for i in range(10):
        add("safeq_cml", "cml%d" % i, "10.2.0.%d" % (i + 10))
    groups["safeq_etcd"] = list(groups["safeq_cml"])
    for i in range(ors_count):
        add("safeq_ors", "ors%d" % i, "10.3.%d.%d" % (i // 200, i % 200 + 10), safeq_near_roaming_group="g%d" % (i // 10))
    for i in range(2):
        add("safeq_crs", "crs%d" % i, "10.4.0.%d" % (i + 10))
    for i in range(4):
        add("safeq_ap_connector", "ap%d" % i, "10.5.0.%d" % (i + 10))
    return groups, hostvars


def render_all(plan):
    for policy in plan["policies"].values():
        render_table(policy)
        firewall_rule_args(policy)
    for render in RENDERERS.values():
        render(plan["flows"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ors", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    entries = load_catalog()
    groups, hostvars = inventory(args.ors)
    times = []
    for run in range(args.repeat):  # noqa: B007 - the run number is not needed
        start = time.perf_counter()
        plan = build_policies(entries, groups, hostvars)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    render_all(plan)
    render_time = time.perf_counter() - start
    # memory in a separate traced run: tracemalloc slows the code it traces several times over
    tracemalloc.start()
    render_all(build_policies(entries, groups, hostvars))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rules = [len(p["rules"]) for p in plan["policies"].values()]
    print("hosts=%d flows=%d rules/host max=%d" % (len(plan["policies"]), len(plan["flows"]), max(rules)))
    print("build_policies: best %.3f s, worst %.3f s over %d runs" % (min(times), max(times), args.repeat))
    print("render all hosts (nftables + Windows) and 4 flow formats: %.3f s" % render_time)
    print("peak traced memory (build + render): %.1f MiB" % (peak / 2**20))


if __name__ == "__main__":
    main()
