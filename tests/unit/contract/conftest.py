# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the Windows contract tests (tests/unit/conftest.py provides the example plan)."""

from __future__ import annotations

import pytest
from contract_support import (
    SAMPLE_GROUPS,
    SAMPLE_HOSTVARS,
    contract_scenarios,
    restore_scenarios,
    run_simulation,
)


@pytest.fixture(scope="session")
def sample_policies():
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import compute_plan

    return compute_plan(SAMPLE_GROUPS, SAMPLE_HOSTVARS)["policies"]


@pytest.fixture(scope="session")
def windows_example_policies(example_policies):
    """Policies of the Windows hosts of inventories/example (every host there is Windows)."""
    if not example_policies:
        pytest.fail("inventories/example yields no SafeQ hosts; the example_policies fixture is empty")
    windows = {h: p for h, p in example_policies.items() if p["platform"] == "windows"}
    assert windows, "inventories/example has no Windows host (platform windows): %s" % sorted(example_policies)
    return windows


@pytest.fixture(scope="session")
def windows_hosts(windows_example_policies):
    return sorted(windows_example_policies)


@pytest.fixture(scope="session")
def simulations(example_plan, windows_hosts):
    """Every contract scenario simulated for every Windows host of inventories/example: {id: run}.

    Restore runs second: the list of disabled rules on its host is the one each host's
    disable_broader run wrote with win_copy.
    """
    runs = run_simulation(contract_scenarios(example_plan, windows_hosts))
    runs.update(run_simulation(restore_scenarios(example_plan, runs)))
    return runs
