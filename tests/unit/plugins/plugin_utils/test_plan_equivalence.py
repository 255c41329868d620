# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan stays the same while it is optimised: every host's policy, render and file, against references.

The references in tests/unit/fixtures/plan_reference/ were written by the code before the
performance work (``.venv/bin/python tests/unit/plugins/plugin_utils/test_plan_equivalence.py --write``
rewrites them; do that only for an intended change of the plan). Each holds, for one inventory,
the per-host policies and rendered firewall configurations, the flows, warnings, unresolved ports
and summary in full, and the SHA-256 of every file plan writes (HTML and SVG included, with a fixed
timestamp).

The inventories are read the way the policy_plan action reads them: Ansible's InventoryManager,
VariableManager and the lazy HostVars mapping. Inventories: inventories/example (Windows) and a
500-host inventory from scripts/bench/generate.py (Linux), plus a small one with templated values.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "plan_reference"
GENERATED_HOSTS = 500
FIXED_TIME = "2000-01-01T00:00:00Z"


def _generator():
    spec = importlib.util.spec_from_file_location("safeq_bench_generate", ROOT / "scripts" / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ansible_inputs(source):
    """(groups, HostVars) as the policy_plan action gets them in its task_vars."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(source)])
    variables = VariableManager(loader=loader, inventory=inventory)
    return inventory.get_groups_dict(), HostVars(inventory=inventory, variable_manager=variables, loader=loader)


def _digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_document(source, monkeypatch=None):
    """Everything the plan computes and writes for the inventory at ``source``, as plain JSON data."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils import plan as plan_module

    groups, hostvars = ansible_inputs(source)
    plan = plan_module.compute_plan(groups, hostvars)
    if monkeypatch is not None:
        monkeypatch.setattr(plan_module.time, "strftime", lambda *args: FIXED_TIME)
        files = plan_module.plan_files(plan, "hosts")
    else:
        real = plan_module.time.strftime
        plan_module.time.strftime = lambda *args: FIXED_TIME
        try:
            files = plan_module.plan_files(plan, "hosts")
        finally:
            plan_module.time.strftime = real
    document = {key: plan[key] for key in ("policies", "rendered", "flows", "warnings", "unresolved", "summary")}
    document["files"] = {name: _digest(text) for name, text in sorted(files.items())}
    # through JSON: tuples become lists, exactly as the plan is written and returned to Ansible
    return json.loads(json.dumps(document, sort_keys=True))


def _sources(tmp_dir):
    return {
        "example": ROOT / "inventories" / "example",
        "generated500": Path(_generator().write(str(Path(tmp_dir) / "generated500"), GENERATED_HOSTS)),
    }


def _reference(name):
    with gzip.open(FIXTURES / ("%s.json.gz" % name), "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _first_difference(left, right, path="plan"):
    """A readable pointer to the first place two JSON documents differ."""
    if type(left) is not type(right):
        return "%s: %r != %r" % (path, left, right)
    if isinstance(left, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                return "%s.%s: only in %s" % (path, key, "current" if key in left else "reference")
            found = _first_difference(left[key], right[key], "%s.%s" % (path, key))
            if found:
                return found
        return None
    if isinstance(left, list):
        if len(left) != len(right):
            return "%s: %d items != %d in the reference" % (path, len(left), len(right))
        for index, (a, b) in enumerate(zip(left, right)):
            found = _first_difference(a, b, "%s[%d]" % (path, index))
            if found:
                return found
        return None
    return None if left == right else "%s: %r != reference %r" % (path, left, right)


@pytest.mark.parametrize("name", ["example", "generated500"])
def test_plan_matches_reference(name, tmp_path, monkeypatch):
    current = plan_document(_sources(tmp_path)[name], monkeypatch)
    reference = _reference(name)
    assert current == reference, _first_difference(current, reference)


def _tree(root):
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def test_streamed_write_makes_the_same_files_as_before(tmp_path, monkeypatch):
    """write_files streaming into a new directory == the file-by-file path, modes and manifest included."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils import plan as plan_module

    groups, hostvars = ansible_inputs(ROOT / "inventories" / "example")
    plan = plan_module.compute_plan(groups, hostvars)
    monkeypatch.setattr(plan_module.time, "strftime", lambda *args: FIXED_TIME)
    files = plan_module.plan_files(plan, "hosts")
    streamed = plan_module.write_files(str(tmp_path / "new" / "plan"), plan_module.iter_plan_files(plan, "hosts"))
    assert streamed == {"written": sorted(files), "unchanged": 0, "removed": []}
    (tmp_path / "old" / "plan").mkdir(parents=True)  # an existing directory: the file-by-file path
    by_file = plan_module.write_files(str(tmp_path / "old" / "plan"), files)
    assert by_file == streamed
    new, old = _tree(tmp_path / "new" / "plan"), _tree(tmp_path / "old" / "plan")
    assert new == old and {k: v for k, v in new.items() if k != plan_module.MANIFEST} == files
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["plan"]  # no staging directory left
    modes = {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "new" / "plan").rglob("*") if p.is_file()}
    assert modes == {oct(0o644)}
    # a second run changes nothing; a file the run no longer makes is removed
    again = dict(files)
    gone = next(name for name in again if name.endswith(".nft") or name.startswith("hosts/"))
    del again[gone]
    assert plan_module.write_files(str(tmp_path / "new" / "plan"), again) == {
        "written": [], "unchanged": len(again), "removed": [gone]}


def test_reports_made_by_a_forked_process_are_the_same(tmp_path, monkeypatch):
    """iter_plan_files(parallel=True): the reports come from a child process, byte for byte the same."""
    import threading

    from ansible_collections.safeq.hardening.plugins.plugin_utils import plan as plan_module

    groups, hostvars = ansible_inputs(ROOT / "inventories" / "example")
    plan = plan_module.compute_plan(groups, hostvars)
    monkeypatch.setattr(plan_module.time, "strftime", lambda *args: FIXED_TIME)
    files = plan_module.plan_files(plan, "hosts")
    started = []
    real_start = plan_module._ReportProcess.start  # pylint: disable=protected-access

    def start(*args):
        started.append(real_start(*args))
        return started[-1]

    monkeypatch.setattr(plan_module._ReportProcess, "start", start)  # pylint: disable=protected-access
    result = plan_module.write_files(str(tmp_path / "plan"), plan_module.iter_plan_files(plan, "hosts", parallel=True))
    assert result["written"] == sorted(files)
    if threading.active_count() == 1:
        assert started and started[0] is not None  # really made by a child
    assert {k: v for k, v in _tree(tmp_path / "plan").items() if k != plan_module.MANIFEST} == files

    def broken(report):
        raise TypeError("renderer bug")

    monkeypatch.setattr(plan_module.render_html, "plan_report_html", broken)
    with pytest.raises((RuntimeError, TypeError), match="renderer bug"):
        plan_module.write_files(str(tmp_path / "broken"), plan_module.iter_plan_files(plan, "hosts", parallel=True))
    assert not (tmp_path / "broken").exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind


def test_streamed_write_keeps_the_last_of_duplicate_names_and_fails_cleanly(tmp_path):
    from ansible_collections.safeq.hardening.plugins.plugin_utils.plan import write_files

    result = write_files(str(tmp_path / "a"), iter([("x.txt", "one"), ("d/y.txt", "y"), ("x.txt", "two")]))
    assert result == {"written": ["d/y.txt", "x.txt"], "unchanged": 0, "removed": []}
    assert (tmp_path / "a" / "x.txt").read_text() == "two"

    def failing():
        yield "x.txt", "one"
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        write_files(str(tmp_path / "b"), failing())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # nothing half-written is left


def _random_json(rng, depth=0):
    pick = rng.random()
    if depth > 3 or pick < 0.4:
        return rng.choice([1, 2.5, "x\u00e9\n\"\u2028\U0001f600", None, True, False, "", 0, -1e300, float("nan"),
                           float("inf"), -float("inf"), 10 ** 30, 1e-7, "aaa"])
    if pick < 0.6:
        return [_random_json(rng, depth + 1) for index in range(rng.randint(0, 3))]
    if pick < 0.7:
        return tuple(_random_json(rng, depth + 1) for index in range(rng.randint(0, 3)))
    return {rng.choice("abcdefg"): _random_json(rng, depth + 1) for index in range(rng.randint(0, 4))}


def test_flows_json_is_json_dumps_for_any_flows():
    """The shared-object JSON writer gives json.dumps(flows, indent=1, sort_keys=True) byte for byte."""
    import random

    from ansible_collections.safeq.hardening.plugins.plugin_utils.render_flows import flows_json

    rng = random.Random(20261122)
    for index in range(2000):
        shared = _random_json(rng, 1)
        flows = [{key: shared if rng.random() < 0.3 else _random_json(rng, 1)
                  for key in rng.sample("abcdefghij", rng.randint(0, 6))} for item in range(rng.randint(0, 5))]
        if index % 10 == 0:
            flows.append({1: "x", 2: [1]})
        if index % 10 == 1:
            flows.append([1, {"b": 2, "a": []}, shared])
        assert flows_json(flows) == json.dumps(flows, indent=1, sort_keys=True) + "\n", flows
    for odd in ({}, "x", 3, None, [], [[]], [{}]):
        assert flows_json(odd) == json.dumps(odd, indent=1, sort_keys=True) + "\n"


def test_fast_collapse_is_addr_collapse():
    """policy._collapse (no ipaddress for canonical text) == addresses.collapse, errors included."""
    import ipaddress
    import random

    from ansible_collections.safeq.hardening.plugins.plugin_utils import addresses, policy

    rng = random.Random(7)

    def address():
        value = rng.choice([rng.randint(0, 2 ** 32 - 1),
                            rng.choice([0x0A000000, 0x0A000100, 0x0A0000FF, 0xFFFFFC00, 0xE0000000]) + rng.randint(0, 600)])
        value %= 2 ** 32
        length = rng.choice([32, 32, 31, 30, 29, 24, 23, 22, 16, 8, 0])
        if rng.random() < 0.8:
            value &= (2 ** 32 - 1) ^ (2 ** (32 - length) - 1)
        text, pick = str(ipaddress.IPv4Address(value)), rng.random()
        if pick < 0.05:
            return "any"
        if pick < 0.1:
            return "%s/%02d" % (text, length)
        if pick < 0.15:
            return text.replace(".0", ".00", 1)
        if pick < 0.2:
            return "%s/%s" % (text, ipaddress.IPv4Network("0.0.0.0/%d" % length).netmask)
        if pick < 0.25:
            return text + "/32"
        return text if length == 32 else "%s/%d" % (text, length)

    for index in range(5000):
        values = [address() for item in range(rng.randint(0, 8))]
        if values and index % 3 == 0:
            values.append(values[0])
        try:
            want = tuple(addresses.collapse(list(values)))
        except ValueError as exc:
            want = ("error", str(exc))
        try:
            got = policy._collapse(list(values))  # pylint: disable=protected-access
        except ValueError as exc:
            got = ("error", str(exc))
        assert got == want, values


TEMPLATED = """\
all:
  vars:
    site_prefix: "10.77.3"
    base_features: [workstation_client, job_roaming]
    safeq_workstation_networks: ["{{ site_prefix }}.128/25"]
    safeq_features: "{{ base_features + ['smtp'] }}"
    safeq_smtp_servers: ["10.77.0.25"]
    safeq_controller_address: "{{ '10.77.250.5' }}"
    ansible_password: "{{ lookup('ansible.builtin.env', 'NEVER_TEMPLATED_BY_PLAN') }}"
    ansible_port: "{{ 2200 + 2 }}"
  children:
    safeq_cml:
      hosts:
        cml1: {ansible_host: "{{ site_prefix }}.11"}
        cml2: {ansible_host: 10.77.3.12, safeq_port_overrides: {cmlJmxServerPort: "{{ 19000 + 899 }}"}}
    safeq_ors:
      hosts:
        ors1: {ansible_host: 10.77.3.21, safeq_address: "{{ ansible_host }}", ansible_connection: ssh}
"""


def test_templated_inventory_values_are_read_like_hostvars(tmp_path):
    """inventory_inputs gives exactly what templating every needed variable through HostVars gives."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils.inventory import inventory_inputs
    from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import load_inventory_spec

    (tmp_path / "hosts.yml").write_text(TEMPLATED)
    groups, hostvars = ansible_inputs(tmp_path / "hosts.yml")
    spec = load_inventory_spec()
    wanted = set(spec["ansible_variables"])
    expected = {}
    for host in ("cml1", "cml2", "ors1"):
        hvars = hostvars[host]
        expected[host] = {k: hvars[k] for k in hvars if k.startswith("safeq_") or k in wanted}
    _groups, selected = inventory_inputs(groups, hostvars, spec)
    assert selected == expected
    assert selected["cml1"]["ansible_host"] == "10.77.3.11"
    assert selected["cml1"]["safeq_features"] == ["workstation_client", "job_roaming", "smtp"]
    assert selected["cml1"]["ansible_port"] == 2202
    assert selected["cml2"]["safeq_port_overrides"] == {"cmlJmxServerPort": 19899}
    assert selected["ors1"]["safeq_address"] == "10.77.3.21"
    assert "ansible_password" not in selected["cml1"]


def main(argv):
    """--write: (re)write the reference files from the current code."""
    import tempfile

    if argv != ["--write"]:
        print("usage: test_plan_equivalence.py --write   (rewrites %s)" % FIXTURES)
        return 2
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in _sources(tmp).items():
            document = plan_document(source)
            path = FIXTURES / ("%s.json.gz" % name)
            with gzip.GzipFile(path, "wb", mtime=0) as handle:
                handle.write((json.dumps(document, sort_keys=True, indent=1) + "\n").encode("utf-8"))
            print("%s: %d hosts, %d flows, %d files -> %s (%d bytes)" % (
                name, len(document["policies"]), len(document["flows"]), len(document["files"]), path,
                path.stat().st_size))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / ".collections"))
    sys.exit(main(sys.argv[1:]))
