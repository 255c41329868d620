# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hardware checks (checklist line 11): CPU cores, memory, free disk space for the installation path."""

from __future__ import annotations

import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check


@check("PRE-HW-CPU")
def cpu(ctx):
    facts = ctx.facts
    vcpus = G.fact(facts, "processor_vcpus")
    if not vcpus:
        cores, count = G.fact(facts, "processor_cores"), G.fact(facts, "processor_count")
        threads = G.fact(facts, "processor_threads_per_core") or 1
        if cores and count:
            vcpus = int(cores) * int(count) * int(threads)
    minimum = int(ctx.cfg("min_cpu_cores"))
    if not vcpus:
        return ctx.manual("PRE-HW-CPU", "processor facts missing",
                          question="Does the server have at least %d CPU cores?" % minimum)
    evidence = "%d logical CPU cores (minimum %d)" % (int(vcpus), minimum)
    if int(vcpus) >= minimum:
        return ctx.result("PRE-HW-CPU", "pass", evidence)
    return ctx.result("PRE-HW-CPU", "fail", evidence,
                      "Give the server at least %d CPU cores (SafeQ Hardware requirements)." % minimum)


@check("PRE-HW-MEM")
def memory(ctx):
    total = G.fact(ctx.facts, "memtotal_mb")
    minimum = int(ctx.cfg("min_memory_mb"))
    tolerance = float(ctx.cfg("memory_tolerance_percent"))
    if not total:
        return ctx.manual("PRE-HW-MEM", "memory facts missing",
                          question="Does the server have at least %d MiB of memory?" % minimum)
    floor = minimum * (1 - tolerance / 100.0)
    evidence = "%d MiB memory (minimum %d MiB, %g%% tolerance for firmware/kernel reservations)" % (
        int(total), minimum, tolerance)
    if int(total) >= floor:
        return ctx.result("PRE-HW-MEM", "pass", evidence)
    return ctx.result("PRE-HW-MEM", "fail", evidence, "Give the server at least %d MiB of memory." % minimum)


class _Unknown(Exception):
    """The free space cannot be read; the message says why."""


def _windows_free(ctx, path):
    reg = ctx.gathered.get("disk")
    if not G.ok(reg):
        raise _Unknown(G.why(reg, "disk facts"))
    disks = (reg.get("ansible_facts") or {}).get("disks") or reg.get("disks") or []
    match = re.match(r"^([A-Za-z]):", str(path))
    if not match:
        raise _Unknown("install path %r has no drive letter" % path)
    letter = match.group(1).upper()
    for disk in disks:
        for part in disk.get("partitions") or []:
            if str(part.get("drive_letter") or "").upper().rstrip(":") != letter:
                continue
            for vol in part.get("volumes") or []:
                if vol.get("size_remaining") is not None:
                    return int(vol["size_remaining"]), "drive %s:" % letter
    raise _Unknown("no volume with drive letter %s: in the disk facts" % letter)


def _linux_free(ctx, path):
    target = G.norm_path(path, False)
    best = None
    for mount in G.fact(ctx.facts, "mounts") or []:
        point = G.norm_path(mount.get("mount", ""), False)
        if target == point or point == "/" or target.startswith(point + "/"):
            if best is None or len(point) > len(G.norm_path(best.get("mount", ""), False)):
                best = mount
    if best is None or best.get("size_available") is None:
        raise _Unknown("no mount holding %s in the facts" % path)
    return int(best["size_available"]), "mount %s" % best.get("mount")


@check("PRE-HW-DISK")
def disk(ctx):
    path = ctx.cfg("install_path") or ("C:\\SafeQ5" if ctx.windows else "/opt")
    minimum = float(ctx.cfg("min_free_disk_gib"))
    try:
        free, where = _windows_free(ctx, path) if ctx.windows else _linux_free(ctx, path)
    except _Unknown as exc:
        return ctx.manual("PRE-HW-DISK", str(exc), question="Is there at least %g GiB free for %s?" % (minimum, path))
    evidence = "%.1f GiB free on %s for %s (minimum %g GiB)" % (G.gib(free), where, path, minimum)
    if G.gib(free) >= minimum:
        return ctx.result("PRE-HW-DISK", "pass", evidence)
    return ctx.result("PRE-HW-DISK", "fail", evidence, "Free or add disk space: at least %g GiB." % minimum)
