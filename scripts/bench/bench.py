# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of plan and harden at customer scale; results go to docs/benchmarks/ (JSON and Markdown).

plan:   .venv/bin/python scripts/bench/bench.py plan [--sizes 100,500,2000] [--repeat 3]
        For each size an inventory from generate.py; `ansible-playbook playbooks/plan.yml` and the
        trivial play (trivial.yml: localhost, no facts, one debug) over the same inventory, interleaved
        (the order alternates per round), each in a fresh output directory. Medians, plan/trivial
        ratios, the log-log least-squares exponent of time over hosts, the peak memory of the
        ansible-playbook process tree, and the plan's phases measured in-process.
harden: .venv/bin/python scripts/bench/bench.py harden [--repeat 1]
        See harden_lab.py: a podman lab of its own, harden first and second run against a naive
        one-rule-per-task baseline; and the Windows module-run count (windows_count.py).

The machine is shared: load averages are recorded before and after; quote ratios of one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
RESULTS = ROOT / "docs" / "benchmarks"
VENV_BIN = ROOT / ".venv" / "bin"
PAGE = os.sysconf("SC_PAGE_SIZE")
RUN_TIMEOUT = 900
PHASES = ("ansible inventory load (not plan)", "read hostvars (inventory_inputs)",
          "compute (topology, policies, renders)", "file contents (plan_files)", "write files")

sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / ".collections"))

import generate  # noqa: E402  pylint: disable=wrong-import-position


# ---- running a command: wall time, max RSS (wait4), optional process-tree sampling ----------------

def ansible_env(extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def _children():
    """{pid: [child pids]} of every process (one pass over /proc)."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid):
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, ()))
    return found


def _memory(pid):
    """(rss bytes, pss bytes) of one process, (0, 0) when it is gone."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants; keeps the peaks."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_rss = self.peak_pss = self.peak_processes = self.samples = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            pids = _descendants(self.pid)
            rss = pss = 0
            for pid in pids:
                one_rss, one_pss = _memory(pid)
                rss += one_rss
                pss += one_pss
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self.samples += 1
            self.stopped.wait(self.interval)


def run_command(argv, env, log_path, timeout=RUN_TIMEOUT, sample=False, cwd=ROOT):
    """Run ``argv``; return {seconds, rc, maxrss_mib, [tree_peak_rss_mib, tree_peak_pss_mib]}.

    maxrss comes from wait4(): the largest resident set of the process or of any descendant it
    waited for (what /usr/bin/time -v reports as "Maximum resident set size").
    """
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=str(cwd), env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid) if sample else None
        if sampler:
            sampler.start()

        def kill():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stopped.set()
            sampler.join()
    result = {"seconds": round(seconds, 3), "rc": proc.returncode, "maxrss_mib": round(usage.ru_maxrss / 1024, 1)}
    if sampler:
        result.update(tree_peak_rss_mib=round(sampler.peak_rss / 2**20, 1),
                      tree_peak_pss_mib=round(sampler.peak_pss / 2**20, 1),
                      tree_peak_processes=sampler.peak_processes, samples=sampler.samples)
    return result


def tail(path, lines=30):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def loadavg():
    return [round(v, 2) for v in os.getloadavg()]


def machine():
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "ansible_core": _ansible_version(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def _ansible_version():
    try:
        from ansible.release import __version__
        return __version__
    except ImportError:
        return None


def fit_exponent(points):
    """Least-squares slope of log(seconds) over log(hosts): time ~ hosts ** slope."""
    xs = [math.log(x) for x, _y in points]
    ys = [math.log(y) for _x, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def write_results(name, data, markdown):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("%s.json" % name)).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    (RESULTS / ("%s.md" % name)).write_text(markdown)
    print("wrote %s and %s" % (RESULTS / ("%s.json" % name), RESULTS / ("%s.md" % name)))


# ---- plan -------------------------------------------------------------------------------------

def plan_phases(inventory_dir, work):
    """The plan's own phases, in-process, the way the policy_plan action runs them (seconds)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager
    from ansible_collections.safeq.hardening.plugins.plugin_utils import plan as plan_module
    from ansible_collections.safeq.hardening.plugins.plugin_utils.inventory import inventory_inputs
    from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import load_inventory_spec

    phases = {}
    start = time.perf_counter()
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_dir)])
    variables = VariableManager(loader=loader, inventory=inventory)
    hostvars = HostVars(inventory=inventory, variable_manager=variables, loader=loader)
    groups = inventory.get_groups_dict()
    phases["ansible inventory load (not plan)"] = time.perf_counter() - start
    gc.disable()  # as the policy_plan action does
    start = time.perf_counter()
    plain_groups, selected = inventory_inputs(groups, hostvars, load_inventory_spec())
    phases["read hostvars (inventory_inputs)"] = time.perf_counter() - start
    start = time.perf_counter()
    plan = plan_module.compute_plan(plain_groups, selected)
    phases["compute (topology, policies, renders)"] = time.perf_counter() - start
    start = time.perf_counter()
    files = plan_module.plan_files(plan, "groups")
    phases["file contents (plan_files)"] = time.perf_counter() - start
    start = time.perf_counter()
    written = plan_module.write_files(os.path.join(work, "plan"), files)
    phases["write files"] = time.perf_counter() - start
    gc.enable()
    size = sum(len(text) for text in files.values())
    return {k: round(v, 3) for k, v in phases.items()}, {
        "hosts": plan["summary"]["hosts"], "flows": plan["summary"]["flows"],
        "max_rules_per_host": max(plan["summary"]["rules_per_host"].values()),
        "files": len(written["written"]), "megabytes": round(size / 1e6, 1)}


def bench_plan(args):
    sizes = [int(s) for s in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="safeq-bench-plan-", dir=args.work_dir)
    env = ansible_env()
    playbook = str(VENV_BIN / "ansible-playbook")
    data = {"kind": "plan", "machine": machine(), "loadavg_start": loadavg(), "sizes": sizes,
            "repeat": args.repeat, "windows": args.windows, "work_dir": os.path.dirname(work), "runs": []}
    try:
        inventories = {n: generate.write(os.path.join(work, "inv-%d" % n), n, args.windows) for n in sizes}
        commands = {
            "trivial": lambda n, out: [playbook, str(BENCH / "trivial.yml"), "-i", inventories[n]],
            "plan": lambda n, out: [playbook, "playbooks/plan.yml", "-i", inventories[n],
                                    "-e", "safeq_output_dir=%s" % out],
        }
        envs = {"trivial": env, "plan": env}
        kinds = ("trivial", "plan")
        if args.reference:
            # another copy of the collection (e.g. `git archive` of an older commit), run the same way
            reference = os.path.abspath(args.reference)
            commands["reference"] = lambda n, out: [
                playbook, os.path.join(reference, "ansible_collections", "safeq", "hardening", "playbooks", "plan.yml"),
                "-i", inventories[n], "-e", "safeq_output_dir=%s" % out]
            envs["reference"] = ansible_env({"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(
                [reference, str(ROOT / ".venv" / "lib" / "python3.11" / "site-packages")])})
            kinds = ("trivial", "plan", "reference")
            data["reference"] = reference

        def one(kind, n, round_number, sample=False):
            out = os.path.join(work, "out-%s-%d-%d" % (kind, n, round_number))
            log = os.path.join(work, "log-%s-%d-%d.txt" % (kind, n, round_number))
            result = run_command(commands[kind](n, out), envs[kind], log, sample=sample)
            if result["rc"] != 0:
                raise SystemExit("%s at %d hosts failed (rc %d):\n%s" % (kind, n, result["rc"], tail(log)))
            shutil.rmtree(out, ignore_errors=True)
            os.sync()  # the next run does not pay for this run's writeback and deletions
            result.update(kind=kind, hosts=n, round=round_number)
            print("  %-7s %5d hosts round %d: %6.2f s, max RSS %6.1f MiB%s" % (
                kind, n, round_number, result["seconds"], result["maxrss_mib"],
                ", tree peak PSS %.1f MiB (RSS sum %.1f MiB)" % (result["tree_peak_pss_mib"], result["tree_peak_rss_mib"])
                if sample else ""), flush=True)
            return result

        print("warm-up (not counted)", flush=True)
        for kind in kinds:
            one(kind, sizes[0], -1)
        for round_number in range(args.repeat):
            print("round %d, load %s" % (round_number + 1, loadavg()), flush=True)
            for n in sizes:
                order = kinds if round_number % 2 == 0 else tuple(reversed(kinds))
                for kind in order:
                    data["runs"].append(one(kind, n, round_number))
        largest = max(sizes)
        print("memory (sampled process tree, not timed)", flush=True)
        data["memory"] = {kind: one(kind, largest, 99, sample=True) for kind in kinds}
        print("phases in-process", flush=True)
        data["phases"], data["plan_size"] = {}, {}
        for n in sizes:
            phases_dir = os.path.join(work, "phases-%d" % n)
            data["phases"][n], data["plan_size"][n] = plan_phases(os.path.dirname(inventories[n]), phases_dir)
            shutil.rmtree(phases_dir, ignore_errors=True)
            print("  %d hosts: %s" % (n, data["phases"][n]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data["loadavg_end"] = loadavg()
    summarize_plan(data)
    write_results(args.name, data, plan_markdown(data))
    print(plan_markdown(data))


def summarize_plan(data):
    medians = {}
    for kind in sorted({r["kind"] for r in data["runs"]}):
        medians[kind] = {}
        for n in data["sizes"]:
            times = [r["seconds"] for r in data["runs"] if r["kind"] == kind and r["hosts"] == n]
            medians[kind][n] = round(statistics.median(times), 3)
    data["medians"] = medians
    data["ratios"] = {n: round(medians["plan"][n] / medians["trivial"][n], 2) for n in data["sizes"]}
    if "reference" in medians:
        data["reference_ratios"] = {n: round(medians["reference"][n] / medians["trivial"][n], 2) for n in data["sizes"]}
    data["exponents"] = {kind: round(fit_exponent([(n, medians[kind][n]) for n in data["sizes"]]), 3)
                         for kind in medians}
    increments = [(n, medians["plan"][n] - medians["trivial"][n]) for n in data["sizes"]]
    if all(v > 0 for _n, v in increments):
        data["exponents"]["plan_minus_trivial"] = round(fit_exponent(increments), 3)


def plan_markdown(data):
    lines = ["# plan benchmark", "",
             "Generated by `.venv/bin/python scripts/bench/bench.py plan --sizes %s --repeat %d%s%s%s` on %s"
             % (",".join(str(s) for s in data["sizes"]), data["repeat"], " --windows" if data["windows"] else "",
                " --work-dir %s" % data["work_dir"] if data.get("work_dir") not in (None, tempfile.gettempdir()) else "",
                " --reference %s" % data["reference"] if data.get("reference") else "", data["machine"]["date"]),
             "(Python %s, ansible-core %s, %s CPUs); load average %s at the start, %s at the end." % (
                 data["machine"]["python"], data["machine"]["ansible_core"], data["machine"]["cpus"],
                 " / ".join(str(v) for v in data["loadavg_start"]), " / ".join(str(v) for v in data["loadavg_end"])),
             "", "| hosts | flows | plan median | trivial median | plan / trivial | plan runs (s) | trivial runs (s) |"
             " plan max RSS |", "|---:|---:|---:|---:|---:|---|---|---:|"]
    for n in data["sizes"]:
        runs = {kind: [r for r in data["runs"] if r["kind"] == kind and r["hosts"] == n] for kind in ("plan", "trivial")}
        lines.append("| %d | %s | %.2f s | %.2f s | **%.2f** | %s | %s | %.0f MiB |" % (
            n, "{:,}".format(data["plan_size"][n]["flows"]), data["medians"]["plan"][n], data["medians"]["trivial"][n],
            data["ratios"][n], ", ".join("%.2f" % r["seconds"] for r in runs["plan"]),
            ", ".join("%.2f" % r["seconds"] for r in runs["trivial"]),
            max(r["maxrss_mib"] for r in runs["plan"])))
    if data.get("reference_ratios"):
        lines += ["", "Reference copy of the collection (`--reference %s`), timed in the same rounds:" % data["reference"],
                  "", "| hosts | reference median | reference / trivial | plan / reference | reference runs (s) |",
                  "|---:|---:|---:|---:|---|"]
        for n in data["sizes"]:
            runs = [r["seconds"] for r in data["runs"] if r["kind"] == "reference" and r["hosts"] == n]
            lines.append("| %d | %.2f s | %.2f | %.2f | %s |" % (
                n, data["medians"]["reference"][n], data["reference_ratios"][n],
                data["medians"]["plan"][n] / data["medians"]["reference"][n], ", ".join("%.2f" % t for t in runs)))
        if "reference" in data["memory"]:
            lines += ["", "Reference at %d hosts: max RSS %.0f MiB, tree PSS %.0f MiB." % (
                max(data["sizes"]), data["memory"]["reference"]["maxrss_mib"],
                data["memory"]["reference"]["tree_peak_pss_mib"])]
    exps = data["exponents"]
    lines += ["", "Fitted exponent (log-log least squares over %s hosts): plan %.2f, trivial %.2f%s%s." % (
        "/".join(str(s) for s in data["sizes"]), exps["plan"], exps["trivial"],
        ", plan minus trivial %.2f" % exps["plan_minus_trivial"] if "plan_minus_trivial" in exps else "",
        ", reference %.2f" % exps["reference"] if "reference" in exps else "")]
    largest = max(data["sizes"])
    mem, trivial = data["memory"]["plan"], data["memory"]["trivial"]
    lines += ["", "Peak memory of plan at %d hosts (one extra run, not timed): max RSS %.0f MiB (wait4 of the"
              " ansible-playbook command: the largest single process of the tree, as /usr/bin/time -v reports it);"
              " process tree sampled every 50 ms: peak PSS sum %.0f MiB, peak RSS sum %.0f MiB (%d processes;"
              " the RSS sum counts pages shared by the forked worker twice). Trivial play: max RSS %.0f MiB,"
              " tree PSS %.0f MiB." % (
                  largest, mem["maxrss_mib"], mem["tree_peak_pss_mib"], mem["tree_peak_rss_mib"],
                  mem["tree_peak_processes"], trivial["maxrss_mib"], trivial["tree_peak_pss_mib"])]
    phases = [p for p in PHASES if p in data["phases"][largest]]
    lines += ["", "Plan phases in-process (one run each, seconds; the action runs the last four):", "",
              "| hosts | %s | files written | MB written |" % " | ".join(phases),
              "|---:|%s---:|---:|" % ("---:|" * len(phases))]
    for n in data["sizes"]:
        lines.append("| %d | %s | %d | %.1f |" % (n, " | ".join("%.2f" % data["phases"][n][p] for p in phases),
                                                  data["plan_size"][n]["files"], data["plan_size"][n]["megabytes"]))
    return "\n".join(lines) + "\n"


# ---- main -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="plan vs the trivial play at several inventory sizes")
    plan.add_argument("--sizes", default="100,500,2000")
    plan.add_argument("--repeat", type=int, default=3)
    plan.add_argument("--windows", action="store_true", help="Windows hosts in the generated inventories")
    plan.add_argument("--name", default="plan", help="results file name under docs/benchmarks/ (default plan)")
    plan.add_argument("--reference", default=None,
                      help="also time plan of another copy of the collection: a directory holding"
                           " ansible_collections/safeq/hardening (e.g. `git archive` of an older commit)")
    plan.add_argument("--work-dir", default=None,
                      help="where inventories and plan output go (default: the system temp directory; /dev/shm"
                           " takes the disk out of the measurement)")
    harden = sub.add_parser("harden", help="harden on a podman lab vs a one-rule-per-task baseline")
    harden.add_argument("--repeat", type=int, default=1)
    harden.add_argument("--name", default="harden")
    args = parser.parse_args()
    if args.command == "plan":
        bench_plan(args)
    else:
        import harden_lab  # pylint: disable=import-outside-toplevel

        harden_lab.bench_harden(args)


if __name__ == "__main__":
    main()
