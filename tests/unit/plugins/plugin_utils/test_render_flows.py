# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flow matrix renderers: CSV columns for a network team, grouped rows, Mermaid ids."""

from __future__ import annotations

import csv
import io
import json
import re

from inventory_builder import Inventory, standard

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_flows


def test_csv_has_the_network_team_columns(example_plan):
    rows = list(csv.DictReader(io.StringIO(render_flows.flows_csv(example_plan["flows"]))))
    assert set(("source", "source_addresses", "destination", "destination_addresses", "protocol", "ports",
                "requirement", "features", "catalog_ids", "description")) <= set(rows[0])
    cluster = [r for r in rows if "is-cluster-db-sync-4111" in r["catalog_ids"]]
    assert len(cluster) == 1 and cluster[0]["source_members"] == "cml-prg-1 cml-prg-2 cml-prg-3"
    assert cluster[0]["requirement"] == "mandatory" and cluster[0]["features"] == "cluster"


def test_rows_are_groups_not_host_pairs():
    inv = Inventory(safeq_features=["job_roaming", "workstation_client"])
    inv.add("cml1", ["cml"], "10.0.1.11")
    for i in range(60):
        inv.add("ors%02d" % i, ["ors"], "10.0.%d.%d" % (10 + i // 20, 1 + i % 20))
    plan = inv.plan()
    roaming = [f for f in plan["flows"] if "is-job-roaming-8000" in f["catalog_ids"]]
    assert len(roaming) == 1 and len(roaming[0]["source"]["members"]) == 60
    assert len(plan["flows"]) < 100


def test_per_host_expansion_lists_every_rule(example_plan):
    text = render_flows.hosts_csv(example_plan["policies"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(len(p["rules"]) for p in example_plan["policies"].values())


def test_mermaid_ids_never_collide_and_avoid_reserved_words():
    inv = Inventory(safeq_features=["job_roaming"])
    inv.add("cml-1", ["cml"], "10.0.1.11", safeq_cml_cluster="end")
    inv.add("cml_1", ["cml"], "10.0.1.12", safeq_cml_cluster="end")
    inv.add("end", ["ors"], "10.0.1.21", safeq_cml_cluster="end")
    text = render_flows.flows_mermaid(inv.plan()["flows"])
    ids = re.findall(r"^\s+(n\d+)\[", text, re.M)
    assert len(ids) == len(set(ids)) and ids
    assert not re.search(r"^\s+end\b", text, re.M)


def test_markdown_and_json_render_everything():
    plan = standard().plan()
    assert json.loads(render_flows.flows_json(plan["flows"])) == plan["flows"]
    md = render_flows.flows_markdown(plan["flows"])
    assert md.count("\n| F") == len(plan["flows"])
