"""Shared fixtures: the catalog and inventories/example loaded like Ansible does (tests/conftest.py sets sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.safeq.hardening.plugins.plugin_utils import catalog

ROOT = Path(__file__).resolve().parents[2]


def load_inventory(path):
    """(groups, hostvars) of an inventory, as the plan playbook sees them (vault values stay encrypted)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {name: [h.name for h in group.get_hosts()] for name, group in inventory.groups.items()}
    hostvars = {}
    for host in inventory.get_hosts():
        all_vars = variables.get_vars(host=host, include_hostvars=False)
        hostvars[host.name] = {k: v for k, v in all_vars.items() if not hasattr(v, "_ciphertext")}
    return groups, hostvars


@pytest.fixture(scope="session")
def loaded_catalog():
    return catalog.load_catalog()


@pytest.fixture(scope="session")
def catalog_entries(loaded_catalog):
    return loaded_catalog.entries


@pytest.fixture(scope="session")
def example_inventory():
    return load_inventory(ROOT / "inventories" / "example")


@pytest.fixture(scope="session")
def example_plan(example_inventory):
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

    groups, hostvars = example_inventory
    return compute_plan(groups, hostvars)


@pytest.fixture(scope="session")
def example_policies(example_plan):
    return example_plan["policies"]
