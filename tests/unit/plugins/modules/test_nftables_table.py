# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables_table module run for real, each test in its own network namespace.

The module file is executed like Ansible's debug entry point does it (``python module.py args.json``)
under ``ip netns exec``: nftables rulesets are per namespace, so the host's ruleset is never touched.
Needs root, ``ip`` and ``nft`` (always present on our machines).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
MODULE = ROOT / "plugins" / "modules" / "nftables_table.py"
COLLECTIONS = ROOT / ".collections"
TABLE = "inet safeq_hardening"
BOOT_CONFIG = ("#!/usr/sbin/nft -f\nflush ruleset\n\ntable inet filter {\n\tchain input {\n"
               "\t\ttype filter hook input priority filter;\n\t}\n}\n")
OTHER_TABLE = ("table inet other {\n\tchain input {\n\t\ttype filter hook input priority 10; policy accept;\n"
               "\t\ttcp dport 1234 accept\n\t}\n}\n")
WAIT_STEPS, WAIT_STEP_S = 100, 0.1  # at most 10 s


def script(port=80, host="ors-lnx"):
    """A table script in the layout of the nftables_ruleset filter (``host`` goes in a comment line)."""
    return "\n".join([
        "#!/usr/sbin/nft -f",
        "# Managed by safeq.hardening for %s (10.0.0.5). Re-run the harden playbook to change it." % host,
        "table inet safeq_hardening",
        "delete table inet safeq_hardening",
        "table inet safeq_hardening {",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        '\t\tiif "lo" accept',
        '\t\tip saddr 10.0.0.0/24 tcp dport 22 accept comment "management"',
        '\t\ttcp dport %d accept comment "SafeQ web # ; {%d}"' % (port, port),
        "\t}",
        "\tchain output {",
        "\t\ttype filter hook output priority filter; policy accept;",
        '\t\toif "lo" accept',
        "\t}",
        "}",
        "",
    ])


def wait_until(condition):
    for dummy in range(WAIT_STEPS):
        if condition():
            return True
        time.sleep(WAIT_STEP_S)
    return condition()


class Namespace:
    """A network namespace with temp paths for the module's files."""

    def __init__(self, name, tmp_path):
        self.name = name
        self.tmp = tmp_path
        self.path = tmp_path / "etc" / "ruleset.nft"
        self.config = tmp_path / "nftables.conf"
        self.guard = tmp_path / "guard"
        self.runs = 0

    def exec(self, *argv, check=True):
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              timeout=60, check=check)

    def nft(self, *argv, check=True):
        return self.exec("nft", *argv, check=check)

    def nft_script(self, text):
        script_file = self.tmp / ("input-%d.nft" % self.runs)
        script_file.write_text(text, encoding="utf-8")
        self.nft("-f", str(script_file))

    def module(self, check_mode=False, **args):
        """Run the module with ``args`` (paths default to the temp ones); its JSON result."""
        args = dict(dict(path=str(self.path), persist_config=str(self.config), guard_dir=str(self.guard)), **args)
        args.update(_ansible_check_mode=check_mode, _ansible_diff=True)
        self.runs += 1
        args_file = self.tmp / ("args-%d.json" % self.runs)
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(COLLECTIONS))
        proc = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, str(MODULE), str(args_file)],
                              capture_output=True, text=True, timeout=60, env=env, check=False)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            pytest.fail("module printed no JSON (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
        assert (proc.returncode != 0) == bool(result.get("failed")), result
        return result

    def table(self):
        """``nft list table inet safeq_hardening`` or None when the table does not exist."""
        proc = self.nft("list", "table", *TABLE.split(), check=False)
        return proc.stdout if proc.returncode == 0 else None

    def table_handle(self):
        first = self.nft("-a", "list", "table", *TABLE.split()).stdout.split("\n")[0]
        return int(re.search(r"# handle (\d+)", first).group(1))

    def config_check(self):
        return self.nft("-c", "-f", str(self.config), check=False)


@pytest.fixture
def ns(netns, tmp_path):
    return Namespace(netns, tmp_path)


@pytest.fixture
def boot_config(ns):
    ns.config.write_text(BOOT_CONFIG, encoding="utf-8")
    return ns.config


def include_line(ns):
    return 'include "%s"' % ns.path


def test_first_load_is_live_and_an_identical_second_load_changes_nothing(ns):
    first = ns.module(content=script(80))
    assert first["changed"] and first["reloaded"] and first["token"] == ""
    live = ns.table()
    assert "tcp dport 80 accept" in live and "policy drop" in live
    assert ns.path.read_text(encoding="utf-8") == script(80)
    handle = ns.table_handle()

    second = ns.module(content=script(80))
    assert not second["changed"] and not second["reloaded"]
    assert ns.table_handle() == handle and ns.table() == live


def test_changed_script_reloads(ns):
    ns.module(content=script(80))
    handle = ns.table_handle()
    result = ns.module(content=script(443))
    assert result["changed"] and result["reloaded"]
    assert ns.table_handle() != handle
    live = ns.table()
    assert "tcp dport 443 accept" in live and "tcp dport 80 accept" not in live


def test_live_table_edited_by_hand_is_reloaded(ns):
    ns.module(content=script(80))
    ns.nft("add", "rule", *TABLE.split(), "input", "tcp", "dport", "9999", "drop")
    result = ns.module(content=script(80))
    assert result["changed"] and result["reloaded"]
    assert "9999" not in ns.table()


def test_check_mode_validates_and_loads_nothing(ns, boot_config):
    result = ns.module(content=script(80), check_mode=True)
    assert result["changed"] and not result["reloaded"]
    assert result["diff"]["before"] == "" and result["diff"]["after"] == script(80)
    assert "+" + include_line(ns) in result["diff"]["prepared"]
    assert ns.table() is None
    assert not ns.path.exists()
    assert boot_config.read_text(encoding="utf-8") == BOOT_CONFIG

    invalid = ns.module(content=script(80).replace("tcp dport 80", "tcp dport no-such-port"), check_mode=True)
    assert invalid["failed"] and "nft validation failed" in invalid["msg"]


def test_diff_shows_the_live_table_and_the_new_script(ns):
    ns.module(content=script(80))
    live = ns.table()
    result = ns.module(content=script(443))
    diff = result["diff"]
    assert diff["before"] == live and "tcp dport 80 accept" in live
    assert diff["after"] == script(443)
    assert diff["before_header"] == "live table inet safeq_hardening" and diff["after_header"] == str(ns.path)
    assert "prepared" not in diff  # no boot config in this test


def test_injected_host_name_is_refused_and_other_tables_stay(ns):
    ns.nft_script(OTHER_TABLE)
    other = ns.nft("list", "table", "inet", "other").stdout
    injected = script(80, host="ors-lnx\nflush ruleset\n#")

    result = ns.module(content=injected)
    assert result["failed"]
    assert "line 3" in result["msg"] and "flush ruleset" in result["msg"]
    assert ns.nft("list", "table", "inet", "other").stdout == other
    assert ns.table() is None and not ns.path.exists()

    # the refusal matters: nft itself would run the injected statement and drop the other table
    ns.nft_script(injected)
    assert ns.nft("list", "table", "inet", "other", check=False).returncode != 0


def test_script_touching_another_table_is_refused(ns):
    ns.module(content=script(80))
    handle = ns.table_handle()
    result = ns.module(content=script(443) + "table inet other {\n}\n")
    assert result["failed"]
    assert "line %d" % (script(443).count("\n") + 1) in result["msg"] and "table inet other" in result["msg"]
    assert ns.table_handle() == handle and "tcp dport 80 accept" in ns.table()
    assert ns.nft("list", "tables").stdout.strip() == "table inet safeq_hardening"


def test_invalid_nft_syntax_fails_at_nft_check_and_keeps_the_table(ns):
    ns.module(content=script(80))
    handle = ns.table_handle()
    result = ns.module(content=script(443).replace("tcp dport 443", "tcp dport no-such-port"))
    assert result["failed"] and result["msg"].startswith("nft validation failed")
    assert ns.table_handle() == handle and "tcp dport 80 accept" in ns.table()
    assert ns.path.read_text(encoding="utf-8") == script(80)


def test_persist_include_added_once_then_removed_by_absent(ns, boot_config):
    first = ns.module(content=script(80))
    assert first["changed"] and first["reloaded"]
    assert boot_config.read_text(encoding="utf-8") == BOOT_CONFIG + include_line(ns) + "\n"
    assert ns.module(content=script(80))["changed"] is False
    assert ns.module(content=script(443))["reloaded"]
    assert boot_config.read_text(encoding="utf-8").count(include_line(ns)) == 1
    assert ns.config_check().returncode == 0

    absent = ns.module(state="absent")
    assert absent["changed"] and absent["reloaded"]
    assert "-" + include_line(ns) in absent["diff"]["prepared"]
    assert ns.table() is None
    assert boot_config.read_text(encoding="utf-8") == BOOT_CONFIG
    assert not ns.path.exists() and not Path(str(ns.path) + ".live").exists()
    assert ns.config_check().returncode == 0

    again = ns.module(state="absent")
    assert not again["changed"] and not again["reloaded"]


def test_include_is_added_when_only_the_config_lacks_it(ns, boot_config):
    ns.module(content=script(80), persist_config="")
    assert boot_config.read_text(encoding="utf-8") == BOOT_CONFIG
    handle = ns.table_handle()
    result = ns.module(content=script(80))
    assert result["changed"] and not result["reloaded"]
    assert "before" not in result["diff"] and "+" + include_line(ns) in result["diff"]["prepared"]
    assert ns.table_handle() == handle
    assert boot_config.read_text(encoding="utf-8").endswith("\n" + include_line(ns) + "\n")


def test_missing_boot_config_is_not_created(ns):
    assert ns.module(content=script(80))["changed"]
    assert not ns.config.exists()
    assert ns.module(content=script(80))["changed"] is False


def test_absent_on_a_clean_namespace_changes_nothing(ns, boot_config):
    result = ns.module(state="absent")
    assert not result["changed"] and not result["reloaded"]
    assert boot_config.read_text(encoding="utf-8") == BOOT_CONFIG


def test_absent_refuses_when_the_config_would_not_pass_nft_check(ns, boot_config):
    ns.module(content=script(80))
    broken = boot_config.read_text(encoding="utf-8") + "table inet broken { chain c { no such words } }\n"
    boot_config.write_text(broken, encoding="utf-8")
    result = ns.module(state="absent")
    assert result["failed"] and "nothing was changed" in result["msg"]
    assert ns.table() is not None and ns.path.exists()
    assert boot_config.read_text(encoding="utf-8") == broken


def test_absent_fails_clearly_when_the_config_still_uses_the_table(ns):
    ns.config.write_text("add rule inet safeq_hardening input counter\n", encoding="utf-8")
    ns.module(content=script(80))
    result = ns.module(state="absent")
    assert result["failed"] and "does not pass `nft -c -f`" in result["msg"]
    assert ns.table() is None
    assert ns.config.read_text(encoding="utf-8") == "add rule inet safeq_hardening input counter\n"


def test_rollback_guard_restores_the_previous_table_when_not_confirmed(ns):
    ns.module(content=script(80))
    guarded = ns.module(content=script(443), rollback_timeout=2)
    token = guarded["token"]
    assert guarded["reloaded"] and re.match(r"^[0-9a-f]{16}$", token)
    assert "tcp dport 443 accept" in ns.table()

    done = ns.guard / ("rolled-back-%s.done" % token)
    assert wait_until(lambda: done.exists() and not (ns.guard / ("rollback-%s.nft" % token)).exists())
    live = ns.table()
    assert "tcp dport 80 accept" in live and "tcp dport 443" not in live
    assert "tcp dport 80 accept" in ns.path.read_text(encoding="utf-8")

    late = ns.module(state="confirmed", token=token)
    assert late["failed"] and late["rolled_back"]
    assert ns.module(content=script(443))["reloaded"]


def test_confirmed_change_stays_after_the_timeout(ns):
    ns.module(content=script(80))
    guarded = ns.module(content=script(443), rollback_timeout=2)
    confirmed = ns.module(state="confirmed", token=guarded["token"])
    assert confirmed["changed"] and confirmed["rolled_back"] is False

    rollback_file = ns.guard / ("rollback-%s.nft" % guarded["token"])
    assert wait_until(lambda: not rollback_file.exists())  # the timer ran and did nothing
    assert not (ns.guard / ("rolled-back-%s.done" % guarded["token"])).exists()
    assert "tcp dport 443 accept" in ns.table()
    assert ns.module(content=script(443))["changed"] is False
