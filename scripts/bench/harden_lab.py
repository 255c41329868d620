# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""harden vs a naive one-rule-per-task baseline on a podman lab of its own (bench.py harden).

The lab: podman network ``safeq-bench`` (10.213.9.0/24, gateway 10.213.9.1 = the controller; the
Molecule lab uses safeq-lab 10.213.7.0/24) and six containers from localhost/safeq-lab:bookworm
(runc, explicit ulimits, NET_ADMIN): two CML nodes, two ORS of one near-roaming site, a CRS and an
AP Connector, reached with containers.podman.podman. Each container runs a listener on tcp/22, the
management port the commit-confirm guard probes. Created and always removed by this module (also
leftovers of an interrupted run: containers labelled safeq-bench, the safeq-bench network).

Per round: harden first run and second run (`playbooks/harden.yml --tags firewall`: the firewall,
which is what the baseline applies), the tables reset, then baseline.yml first and second run; the
order alternates per round. Every run is bounded in time. The callback bench_count counts each
host's module runs; after each first run the live tables are compared (same rules and sets).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench

ROOT = bench.ROOT
IMAGE = "localhost/safeq-lab:bookworm"
NETWORK, SUBNET, GATEWAY = "safeq-bench", "10.213.9.0/24", "10.213.9.1"
LABEL = "safeq-bench"
PREFIX = "safeq-bench-"
HOSTS = (  # name, group, address
    ("cml1", "safeq_cml", "10.213.9.11"),
    ("cml2", "safeq_cml", "10.213.9.12"),
    ("ors1", "safeq_ors", "10.213.9.21"),
    ("ors2", "safeq_ors", "10.213.9.22"),
    ("crs1", "safeq_crs", "10.213.9.31"),
    ("apc1", "safeq_ap_connector", "10.213.9.41"),
)
PODMAN = ["podman", "--runtime", "runc"]
RUN_TIMEOUT = 900
IMAGE_WAIT = 900
RESET = ("nft delete table inet safeq_hardening 2>/dev/null; rm -rf /etc/safeq_hardening /etc/safeq_bench "
         "/run/safeq_hardening; if [ -f /etc/nftables.conf ]; then sed -i '/safeq_hardening/d' /etc/nftables.conf; "
         "fi; true")


def podman(*args, timeout=120, check=True):
    return subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout, check=check)


def _image_build_running():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if b"lab-image.sh" in handle.read():
                        return True
            except OSError:
                continue
    return False


def ensure_image():
    """The lab image, built by scripts/lab-image.sh if missing; waits (bounded) while someone else builds it."""
    deadline = time.monotonic() + IMAGE_WAIT
    while True:
        if podman("image", "exists", IMAGE, check=False).returncode == 0 and not _image_build_running():
            return
        if time.monotonic() > deadline:
            raise SystemExit("lab image %s: not available after %d s" % (IMAGE, IMAGE_WAIT))
        if _image_build_running():
            print("  the lab image is being built by another run; waiting", flush=True)
            time.sleep(10)
            continue
        print("  building %s with scripts/lab-image.sh" % IMAGE, flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "lab-image.sh")], timeout=IMAGE_WAIT, check=False)


def remove_lab():
    """Remove our containers (label safeq-bench) and network; safe when nothing exists."""
    names = podman("ps", "-a", "--filter", "label=%s" % LABEL, "--format", "{{.Names}}", check=False).stdout.split()
    names += [PREFIX + name for name, _group, _address in HOSTS if PREFIX + name not in names]
    for name in names:
        if name.startswith(PREFIX):
            podman("rm", "--force", "--time", "0", name, check=False, timeout=60)
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        podman("network", "rm", "--force", NETWORK, check=False, timeout=60)


def create_lab():
    podman("network", "create", "--subnet", SUBNET, "--gateway", GATEWAY, "--disable-dns",
           "--label", "%s=1" % LABEL, NETWORK)
    for name, _group, address in HOSTS:
        podman("run", "--detach", "--name", PREFIX + name, "--hostname", name, "--network", NETWORK, "--ip", address,
               "--cap-add", "NET_ADMIN", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
               "--label", "%s=1" % LABEL, "--volume", "%s:/opt/safeq-lab:ro" % (ROOT / "tests" / "lab"),
               IMAGE, "/bin/sleep", "infinity", timeout=180)
    for name, _group, _address in HOSTS:
        # the management port the guard probes from the controller (the lab has no SSH)
        podman("exec", PREFIX + name, "python3", "/opt/safeq-lab/listeners.py", "--daemon", "--replace",
               "--pidfile", "/run/bench-listeners.pid", "--log", "/var/log/bench-listeners.log", "tcp/0.0.0.0:22",
               timeout=60)


def reset_tables():
    for name, _group, _address in HOSTS:
        podman("exec", PREFIX + name, "sh", "-c", RESET, timeout=60)


def live_tables():
    """{host: {"sets": {name: elements}, "rules": {chain: [expressions without comments]}}} of our table."""
    tables = {}
    for name, _group, _address in HOSTS:
        proc = podman("exec", PREFIX + name, "nft", "-j", "list", "table", "inet", "safeq_hardening", check=False,
                      timeout=60)
        table = {"sets": {}, "rules": {}, "policies": {}}
        for item in json.loads(proc.stdout or '{"nftables": []}').get("nftables", []):
            if "set" in item:
                table["sets"][item["set"]["name"]] = item["set"].get("elem")
            elif "chain" in item:
                table["policies"][item["chain"]["name"]] = item["chain"].get("policy")
            elif "rule" in item:
                table["rules"].setdefault(item["rule"]["chain"], []).append(json.dumps(item["rule"]["expr"], sort_keys=True))
        tables[name] = table
    return tables


def inventory(directory):
    ors_vars = {"safeq_near_roaming_group": "site1", "safeq_port_overrides": {"nearRoamingMulticastPort": 45588}}
    groups = {}
    for name, group, address in HOSTS:
        host = {"ansible_host": PREFIX + name, "safeq_address": address}
        if group == "safeq_ors":
            host.update(ors_vars)
        groups.setdefault(group, {"hosts": {}})["hosts"][name] = host
    data = {"all": {
        "vars": {
            "ansible_connection": "containers.podman.podman",
            "ansible_python_interpreter": "/usr/bin/python3",
            "safeq_workstation_networks": ["10.213.9.48/28"],
            "safeq_printer_networks": ["10.213.9.64/28"],
            "safeq_controller_address": GATEWAY,
            "safeq_management_port": 22,
            "safeq_features": ["job_roaming", "central_reporting", "workstation_client", "load_balancing",
                               "online_tracking", "terminal_professional"],
            "firewall_rollback_timeout": 20,
            "firewall_guard_probe_timeout": 5,
        },
        "children": groups,
    }}
    path = Path(directory) / "hosts.yml"
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def run_playbook(kind, inventory_path, work, label):
    playbooks = {
        "harden": [str(ROOT / "playbooks" / "harden.yml"), "--tags", "firewall"],
        "baseline": [str(bench.BENCH / "baseline.yml")],
    }
    count_file = os.path.join(work, "count-%s.json" % label)
    env = bench.ansible_env({
        "ANSIBLE_CALLBACK_PLUGINS": str(bench.BENCH / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_count",
        "BENCH_COUNT_FILE": count_file,
        "ANSIBLE_FORKS": str(len(HOSTS)),
    })
    log = os.path.join(work, "log-%s.txt" % label)
    argv = [str(bench.VENV_BIN / "ansible-playbook"), "-i", inventory_path] + playbooks[kind]
    result = bench.run_command(argv, env, log, timeout=RUN_TIMEOUT)
    if result["rc"] != 0:
        raise SystemExit("%s failed (rc %d):\n%s" % (label, result["rc"], bench.tail(log, 60)))
    with open(count_file, encoding="utf-8") as handle:
        hosts = json.load(handle)["hosts"]
    result.update(kind=kind, label=label, hosts=hosts,
                  module_runs_per_host={h: v["module_runs"] for h, v in sorted(hosts.items())},
                  changed_per_host={h: v["changed"] for h, v in sorted(hosts.items())})
    print("  %-20s %6.2f s  module runs per host %s  changed %d" % (
        label, result["seconds"], sorted(set(result["module_runs_per_host"].values())),
        sum(result["changed_per_host"].values())), flush=True)
    return result


def bench_lab(repeat, work):
    ensure_image()
    remove_lab()
    inventory_path = inventory(work)
    runs, comparisons = [], []
    try:
        print("creating the lab (network %s %s, %d containers)" % (NETWORK, SUBNET, len(HOSTS)), flush=True)
        create_lab()
        for round_number in range(repeat):
            order = ("harden", "baseline") if round_number % 2 == 0 else ("baseline", "harden")
            print("round %d, load %s" % (round_number + 1, bench.loadavg()), flush=True)
            tables = {}
            for kind in order:
                reset_tables()
                for run in ("first", "second"):
                    label = "%s-%s-%d" % (kind, run, round_number)
                    result = run_playbook(kind, inventory_path, work, label)
                    result.update(run=run, round=round_number)
                    runs.append(result)
                    if run == "first":
                        tables[kind] = live_tables()
            comparisons.append({"round": round_number, "same_tables": tables["harden"] == tables["baseline"],
                                "rules_per_host": {h: sum(len(r) for r in t["rules"].values())
                                                   for h, t in sorted(tables["harden"].items())}})
            print("  live tables identical after both first runs: %s" % comparisons[-1]["same_tables"], flush=True)
    finally:
        print("removing the lab", flush=True)
        remove_lab()
    return runs, comparisons


def main_windows(work):
    import windows_count  # pylint: disable=import-outside-toplevel

    return windows_count.count(work)


def bench_harden(args):
    work = tempfile.mkdtemp(prefix="safeq-bench-harden-")
    hosts = [dict(zip(("name", "group", "address"), host)) for host in HOSTS]
    data = {"kind": "harden", "machine": bench.machine(), "loadavg_start": bench.loadavg(), "repeat": args.repeat,
            "lab": {"network": NETWORK, "subnet": SUBNET, "hosts": hosts}}
    try:
        data["runs"], data["comparisons"] = bench_lab(args.repeat, work)
        data["windows"] = main_windows(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data["loadavg_end"] = bench.loadavg()
    summarize(data)
    markdown = harden_markdown(data)
    bench.write_results(args.name, data, markdown)
    print(markdown)


def summarize(data):
    import statistics

    medians = {}
    for kind in ("harden", "baseline"):
        for run in ("first", "second"):
            times = [r["seconds"] for r in data["runs"] if r["kind"] == kind and r["run"] == run]
            medians["%s_%s" % (kind, run)] = round(statistics.median(times), 2)
    data["medians"] = medians
    data["speedup"] = {run: round(medians["baseline_%s" % run] / medians["harden_%s" % run], 1)
                       for run in ("first", "second")}


def _runs_per_host(data, kind, run):
    values = set()
    for item in data["runs"]:
        if item["kind"] == kind and item["run"] == run:
            values.update(item["module_runs_per_host"].values())
    return "-".join(str(v) for v in (min(values), max(values))) if len(values) > 1 else str(min(values))


def _changed(data, kind, run):
    return max(sum(r["changed_per_host"].values()) for r in data["runs"] if r["kind"] == kind and r["run"] == run)


def harden_markdown(data):
    med = data["medians"]
    lines = [
        "# harden benchmark", "",
        "Generated by `.venv/bin/python scripts/bench/bench.py harden --repeat %d` on %s (Python %s, ansible-core %s,"
        " %s CPUs); load average %s at the start, %s at the end." % (
            data["repeat"], data["machine"]["date"], data["machine"]["python"], data["machine"]["ansible_core"],
            data["machine"]["cpus"], " / ".join(str(v) for v in data["loadavg_start"]),
            " / ".join(str(v) for v in data["loadavg_end"])),
        "",
        "Lab: podman network %s (%s), %d Debian containers (2 CML, 2 ORS of one near-roaming site, CRS, AP"
        " Connector), containers.podman.podman connection, forks = %d. harden = `playbooks/harden.yml --tags"
        " firewall`; baseline = `scripts/bench/baseline.yml` (the same rendered table, one task run per rule)." % (
            data["lab"]["network"], data["lab"]["subnet"], len(data["lab"]["hosts"]), len(data["lab"]["hosts"])),
        "",
        "| run | harden (median) | baseline (median) | baseline / harden | module runs per host: harden | baseline"
        " | changed (all hosts): harden | baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in ("first", "second"):
        lines.append("| %s | %.2f s | %.2f s | **%.1fx** | %s | %s | %d | %d |" % (
            run, med["harden_%s" % run], med["baseline_%s" % run], data["speedup"][run],
            _runs_per_host(data, "harden", run), _runs_per_host(data, "baseline", run),
            _changed(data, "harden", run), _changed(data, "baseline", run)))
    lines += ["", "All runs (s): " + "; ".join("%s %.2f" % (r["label"], r["seconds"]) for r in data["runs"]) + ".",
              "Live tables after the first runs identical (rules, sets, chain policies, comments aside): %s; rules per"
              " host %s." % (", ".join(str(c["same_tables"]) for c in data["comparisons"]),
                             data["comparisons"][0]["rules_per_host"])]
    windows = data.get("windows")
    if windows:
        lines += ["", "## Windows: module runs per host (harden, no Windows host)", "", windows["method"], "",
                  "| host kind | host | firewall: first run | firewall: second run | all: first run | all: second run"
                  " | first run by module | second run by module |",
                  "|---|---|---:|---:|---:|---:|---|---|"]
        for row in windows["rows"]:
            lines.append("| %s | %s | %d | %d | %d | %d | %s | %s |" % (
                row["kind"], row["host"], row["first_firewall"], row["second_firewall"], row["first"], row["second"],
                ", ".join("%s %d" % (k.split(".")[-1], v) for k, v in sorted(row["first_by_module"].items())),
                ", ".join("%s %d" % (k.split(".")[-1], v) for k, v in sorted(row["second_by_module"].items()))))
        lines += ["", windows["notes"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit("run it through bench.py: .venv/bin/python scripts/bench/bench.py harden")
