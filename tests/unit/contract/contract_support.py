# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared constants and helpers of the Windows contract tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
_COLLECTIONS = str(ROOT / ".collections")
if _COLLECTIONS not in sys.path:  # tests/unit/conftest.py normally did this already
    sys.path.insert(0, _COLLECTIONS)

HERE = Path(__file__).resolve().parent
FIREWALL_ROLE = ROOT / "roles" / "firewall"

# Role variables the Windows path reads, with the defaults the lead adds to
# roles/firewall/defaults/main.yml (that file wins where it defines them).
WINDOWS_DEFAULTS = {
    "firewall_state": "present",
    "firewall_check_listeners": True,
    "firewall_manage_jmx": True,
    "firewall_windows_prefix": "SafeQ Hardening",
    "firewall_windows_group": "SafeQ Hardening",
    "firewall_windows_profiles": ["domain", "private", "public"],
    "firewall_windows_install_dir": "C:\\Program Files\\YSoft SafeQ 5",
    "firewall_windows_cmldb_cluster_conf": "{{ firewall_windows_install_dir }}\\Management\\conf\\cmldb-cluster.conf",
    "firewall_windows_crs_conf": "{{ firewall_windows_install_dir }}\\CRS\\conf\\crs.conf",
}

# A small all-Windows inventory (3 CML + etcd, 2 ORS, CRS, AP Connector) for the policy core.
SAMPLE_GROUPS = {
    "safeq_cml": ["cml1", "cml2", "cml3"],
    "safeq_etcd": ["cml1", "cml2", "cml3"],
    "safeq_ors": ["ors1", "ors2"],
    "safeq_crs": ["crs1"],
    "safeq_ap_connector": ["apc1"],
}
_SAMPLE_COMMON = {
    "ansible_connection": "winrm",
    "ansible_winrm_scheme": "https",
    "safeq_controller_address": "10.10.250.5",
    "safeq_management_networks": ["10.10.250.0/24"],
    "safeq_workstation_networks": ["10.110.0.0/16", "10.120.0.0/16"],
    "safeq_printer_networks": ["10.111.0.0/20"],
    "safeq_ldap_servers": ["10.10.0.10"],
    "safeq_database_servers": ["10.10.2.50"],
    "safeq_smtp_servers": ["10.10.0.25"],
    "safeq_features": ["workstation_client", "central_reporting", "ldap_sync", "job_roaming", "smtp"],
}
SAMPLE_HOSTVARS = {
    name: dict(_SAMPLE_COMMON, ansible_host=address)
    for name, address in (("cml1", "10.10.1.11"), ("cml2", "10.10.1.12"), ("cml3", "10.10.1.13"),
                          ("ors1", "10.20.1.21"), ("ors2", "10.20.1.22"), ("crs1", "10.10.1.31"),
                          ("apc1", "10.10.1.41"))
}


def role_defaults():
    """WINDOWS_DEFAULTS overlaid with the role's defaults/main.yml (when the lead has written it)."""
    defaults = dict(WINDOWS_DEFAULTS)
    path = FIREWALL_ROLE / "defaults" / "main.yml"
    if path.is_file():
        defaults.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return defaults


def run_simulation(entry, scenarios, registers, defaults=None, report_facts=("firewall_windows_",), root=None):
    """Run simulate_tasks.py in a subprocess; returns its JSON output."""
    root = root or ROOT
    payload = {"root": str(root), "entry": entry, "defaults": defaults if defaults is not None else role_defaults(),
               "scenarios": scenarios, "registers": registers, "report_facts": list(report_facts)}
    proc = subprocess.run([sys.executable, str(HERE / "simulate_tasks.py")], input=json.dumps(payload),
                          capture_output=True, text=True, cwd=str(root), timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError("simulate_tasks.py failed (rc %d):\n%s" % (proc.returncode, proc.stderr[-4000:]))
    return json.loads(proc.stdout)
