# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tag a playbook does not know fails the run at once instead of selecting nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


@pytest.mark.parametrize("playbook, tag, known", [
    ("plan.yml", "firewall", "plan has no tags"),
    ("harden.yml", "firewal", "harden knows firewall, jmx, services, listeners"),
    ("verify.yml", "listener", "verify knows firewall, listeners, reachability"),
    ("prerequisites.yml", "hardwar", "prerequisites knows prerequisites, hardware"),
])
def test_unknown_tag_fails_with_the_known_ones(tmp_path, playbook, tag, known):
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/" + playbook, "-i", "inventories/example",
                           "--tags", tag, "-e", "safeq_output_dir=%s" % tmp_path], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert known in proc.stdout, proc.stdout[-2000:]
    assert not (tmp_path / "plan").exists()
