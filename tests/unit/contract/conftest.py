# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the Windows contract tests (tests/unit/conftest.py provides example_policies)."""

from __future__ import annotations

import pytest
from contract_support import SAMPLE_GROUPS, SAMPLE_HOSTVARS


@pytest.fixture(scope="session")
def sample_policies(catalog_entries):
    from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import build_policies

    return build_policies(catalog_entries, SAMPLE_GROUPS, SAMPLE_HOSTVARS)["policies"]


@pytest.fixture(scope="session")
def windows_example_policies(example_policies):
    """Policies of the Windows hosts of inventories/example (every host there is Windows)."""
    if not example_policies:
        pytest.fail("inventories/example yields no SafeQ hosts; the example_policies fixture is empty")
    windows = {h: p for h, p in example_policies.items() if p["platform"] == "windows"}
    assert windows, "inventories/example has no Windows host (platform windows): %s" % sorted(example_policies)
    return windows
