# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hardware checks (checks_hardware.py): CPU, memory, disk for Windows and Linux facts."""

from __future__ import annotations

from prerequisites_samples import linux, one, run, settings, windows


def test_hardware_windows():
    res = run(windows(), settings())
    assert res["PRE-HW-CPU"]["status"] == "pass" and "4 logical" in res["PRE-HW-CPU"]["evidence"]
    assert res["PRE-HW-MEM"]["status"] == "pass"
    assert res["PRE-HW-DISK"]["status"] == "pass" and "60.0 GiB free on drive C:" in res["PRE-HW-DISK"]["evidence"]
    small = windows(facts=dict(windows()["facts"], processor_vcpus=2, memtotal_mb=4095))
    res = run(small, settings(install_path="D:\\SafeQ5"))
    assert res["PRE-HW-CPU"]["status"] == "fail" and res["PRE-HW-MEM"]["status"] == "fail"
    assert res["PRE-HW-CPU"]["mandatory"] is True  # mandatory on CML hosts
    assert res["PRE-HW-DISK"]["status"] == "manual" and "D:" in res["PRE-HW-DISK"]["evidence"]
    assert "at least 40 GiB" in res["PRE-HW-DISK"]["question"]


def test_hardware_linux_mount_and_tolerance():
    res = run(linux(), settings("linux"))
    assert res["PRE-HW-MEM"]["status"] == "pass"  # 7941 MiB is within 5 % of 8 GiB
    assert res["PRE-HW-DISK"]["status"] == "pass" and "mount /opt" in res["PRE-HW-DISK"]["evidence"]
    res = run(linux(), settings("linux", install_path="/srv/safeq", min_free_disk_gib=60))
    assert res["PRE-HW-DISK"]["status"] == "fail" and "mount /" in res["PRE-HW-DISK"]["evidence"]
    facts = dict(linux()["facts"], processor_vcpus=None, processor_cores=2, processor_count=1)
    assert one("PRE-HW-CPU", linux(facts=facts), settings("linux"))["status"] == "fail"
    assert one("PRE-HW-MEM", linux(), settings("linux", memory_tolerance_percent=0))["status"] == "fail"


def test_hardware_facts_missing_is_manual_with_a_question():
    res = run(linux(facts={"os_family": "Debian"}), settings("linux"))
    for check_id in ("PRE-HW-CPU", "PRE-HW-MEM", "PRE-HW-DISK"):
        assert res[check_id]["status"] == "manual" and res[check_id]["question"], res[check_id]
    assert "at least 4 CPU cores" in res["PRE-HW-CPU"]["question"]


def test_hardware_is_not_mandatory_on_an_ors():
    res = run(linux(), settings("linux", host="ors-lx", min_cpu_cores=64))
    assert res["PRE-HW-CPU"]["status"] == "fail" and res["PRE-HW-CPU"]["mandatory"] is False
