# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: inventory -> topology -> policies -> renders, validated for every host at once.

``compute_plan`` is what plan, harden, prerequisites and verify call (through the
``safeq.hardening.policy_plan`` action): nothing reaches a host unless every host's policy and
rendered firewall configuration is valid. ``write_plan`` writes the plan's files in one pass.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import tempfile
import threading
import time
import traceback

from ansible_collections.safeq.hardening.plugins.plugin_utils import render_flows, render_html, render_svg
from ansible_collections.safeq.hardening.plugins.plugin_utils.catalog import load_catalog
from ansible_collections.safeq.hardening.plugins.plugin_utils.inventory import inventory_inputs
from ansible_collections.safeq.hardening.plugins.plugin_utils.policy import PolicyError, build_policies
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_nftables import RenderError, render_table
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    DEFAULT_PROFILES,
    WindowsRenderError,
    firewall_rule_args,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import (
    build_topology,
    join_errors,
    load_inventory_spec,
)

MANIFEST = ".safeq-plan-manifest.json"
FLOW_DETAILS = ("groups", "hosts")
RENDER_DEFAULTS = {
    "outbound_default": "accept",
    "allow_icmp": True,
    "windows_prefix": DEFAULT_PREFIX,
    "windows_group": DEFAULT_GROUP,
    "windows_profiles": list(DEFAULT_PROFILES),
}


def render_host(policy, options, cache=None):
    """The host's firewall configuration: {"nftables": text} or {"windows": [win_firewall_rule args]}."""
    if policy["platform"] == "windows":
        return {"windows": firewall_rule_args(policy, prefix=options["windows_prefix"], group=options["windows_group"],
                                              profiles=options["windows_profiles"],
                                              cache=None if cache is None else cache.setdefault("windows", {}))}
    return {"nftables": render_table(policy, outbound_default=options["outbound_default"],
                                     allow_icmp=options["allow_icmp"], cache=cache)}


_SORTED_JSON = json.JSONEncoder(sort_keys=True)  # json.dumps(value, sort_keys=True) without a new encoder per call


LONG_LIST = 64  # lists at least this long are encoded once per object (peer address lists)


def _item_json(item, cache):
    """``json.dumps(item, sort_keys=True)`` of one rule or listener; its long lists encoded once per object."""
    encode = _SORTED_JSON.encode
    if not isinstance(item, dict) or not any(isinstance(v, list) and len(v) >= LONG_LIST for v in item.values()) \
            or not all(isinstance(k, str) for k in item):
        return encode(item)
    parts = []
    for key in sorted(item):
        value = item[key]
        if isinstance(value, list) and len(value) >= LONG_LIST:
            found = cache.get(id(value))
            if found is None or found[0] is not value:
                found = cache[id(value)] = (value, encode(value))
            text = found[1]
        else:
            text = encode(value)
        parts.append("%s: %s" % (encode(key), text))
    return "{%s}" % ", ".join(parts)


def policy_json(policy, cache):
    """A policy as JSON text: sorted keys, one rule (one listener) per line; shared lists encoded once."""
    keys = sorted(policy)
    lines = ["{"]
    encode = _SORTED_JSON.encode
    for index, key in enumerate(keys):
        value = policy[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            found = cache.get(id(value))
            if found is None or found[0] is not value:
                text = "[\n  " + ",\n  ".join(_item_json(item, cache) for item in value) + "\n ]"
                cache[id(value)] = (value, text)
            else:
                text = found[1]
        else:
            text = encode(value)
        lines.append(' "%s": %s%s' % (key, text, "," if index < len(keys) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def compute_plan(groups, hostvars, catalog_path=None, render_options=None):
    """Compute and validate everything; raise ValueError subclasses listing every problem.

    Returns {"policies", "flows", "unresolved", "warnings", "rendered", "summary", "topology"}.
    """
    catalog = load_catalog(catalog_path)
    spec = load_inventory_spec()
    plain_groups, variables = inventory_inputs(groups, hostvars, spec)
    topology = build_topology(plain_groups, variables, catalog, spec)
    protected = {int(port): name for port, name in (spec.get("protected_ports") or {}).items()}
    result = build_policies(catalog, topology, protected)
    options = dict(RENDER_DEFAULTS, **(render_options or {}))
    rendered, errors, cache = {}, [], {}
    for name in sorted(result["policies"]):
        try:
            rendered[name] = render_host(result["policies"][name], options, cache)
        except (RenderError, WindowsRenderError) as exc:
            errors.append("hostvars[%s]: the %s configuration cannot be rendered: %s"
                          % (name, result["policies"][name]["platform"], exc))
    if errors:
        raise PolicyError(join_errors(errors, "render"))
    result["rendered"] = rendered
    result["topology"] = topology
    result["topology_view"] = topology_view(topology)
    result["summary"] = summary(result)
    return result


def topology_view(topology):
    """The topology as plain data: clusters, near-roaming groups, etcd clusters and every host."""
    hosts = {}
    for name, host in topology.hosts.items():
        item = host.as_dict()
        item["networks"] = {k: list(v) for k, v in host.networks.items()}
        hosts[name] = item
    return {
        "clusters": {
            name: {"features": sorted(c.features),
                   "members": {comp: [h.name for h in c.members(comp)] for comp in sorted(c.by_component)},
                   "feature_hosts": {f: sorted(hs) for f, hs in sorted(c.feature_hosts.items())}}
            for name, c in sorted(topology.clusters.items())},
        "near_roaming_groups": {"%s/%s" % key: sorted(h.name for h in members)
                                for key, members in sorted(topology.near_roaming_groups.items())},
        "etcd_clusters": {name: sorted(h.name for h in members) for name, members in sorted(topology.etcd_clusters.items())},
        "hosts": hosts,
    }


def summary(plan):
    """The numbers a run publishes (set_stats): hosts, rules per host, flows, warnings, unresolved."""
    return {
        "hosts": len(plan["policies"]),
        "rules_per_host": {name: len(p["rules"]) for name, p in sorted(plan["policies"].items())},
        "flows": len(plan["flows"]),
        "warnings": len(plan["warnings"]),
        "unresolved": len(plan["unresolved"]),
    }


HOST_FILE_CHOICES = ("auto", "always", "never")
HOST_FILES_AUTO_LIMIT = 500


def writes_host_files(plan, host_files="auto"):
    """Whether plan writes one file per host (``auto``: up to HOST_FILES_AUTO_LIMIT hosts)."""
    if host_files not in HOST_FILE_CHOICES:
        raise ValueError("safeq_plan_host_files: %r is not one of %s" % (host_files, ", ".join(HOST_FILE_CHOICES)))
    return host_files == "always" or (host_files == "auto" and len(plan["policies"]) <= HOST_FILES_AUTO_LIMIT)


def plan_files(plan, flow_detail="groups", extra=None, inventory_name="", host_files="auto"):
    """{relative file name: text} of everything plan writes."""
    return dict(iter_plan_files(plan, flow_detail, extra, inventory_name, host_files=host_files))


def iter_plan_files(plan, flow_detail="groups", extra=None, inventory_name="", parallel=False, host_files="auto"):
    """The (relative file name, text) pairs of plan_files, made one at a time (write_files streams them).

    With ``parallel``, a forked process makes the reports (flow files, SVG, HTML; their texts arrive
    as UTF-8 bytes) while the caller makes the host files, where the platform can fork and the
    caller runs a single thread; otherwise, and whenever the fork fails, everything is made here.
    """
    if flow_detail not in FLOW_DETAILS:
        raise ValueError("safeq_flow_detail: %r is not one of %s" % (flow_detail, ", ".join(FLOW_DETAILS)))
    per_host = writes_host_files(plan, host_files)
    reports = _ReportProcess.start(plan, flow_detail, inventory_name) if parallel else None
    return _plan_file_items(plan, flow_detail, dict(extra or {}), inventory_name, reports, per_host)


def _report_items(plan, flow_detail, inventory_name):
    """The plan's report files: flow matrix (json, csv, md, mmd), summary, SVG diagram, HTML report."""
    for fmt, render in render_flows.RENDERERS.items():
        yield "flows.%s" % fmt, render(plan["flows"])
    if flow_detail == "hosts":
        yield "flows-hosts.csv", render_flows.hosts_csv(plan["policies"])
    yield "summary.json", json.dumps({"summary": plan["summary"], "warnings": plan["warnings"],
                                      "unresolved": plan["unresolved"]}, indent=1, sort_keys=True) + "\n"
    svg = render_svg.flow_diagram_svg(plan["flows"], "SafeQ firewall plan: flows")
    yield "flows.svg", svg
    yield "plan.html", render_html.plan_report_html({
        "diagram_svg": svg,
        "title": "SafeQ firewall plan",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inventory": inventory_name,
        "summary": dict(plan["summary"], rules=sum(plan["summary"]["rules_per_host"].values()),
                        warnings=len(plan["warnings"]), unresolved=len(plan["unresolved"])),
        "warnings": plan["warnings"],
        "unresolved": plan["unresolved"],
        "policies": plan["policies"],
        "flows": plan["flows"],
    })


def _plan_file_items(plan, flow_detail, extra, inventory_name, reports=None, per_host=True):
    try:
        cache, every = {}, []
        for name, policy in plan["policies"].items():
            text = policy_json(policy, cache)
            every.append('"%s": %s' % (name, text.rstrip("\n")))
            if per_host:
                yield "hosts/%s.json" % name, text
                nft = plan["rendered"].get(name, {}).get("nftables")
                if nft is not None:
                    yield "hosts/%s.nft" % name, nft
        # every host's policy in one file (host names are validated: no JSON escaping needed)
        yield "policies.json", "{\n" + ",\n".join(every) + "\n}\n"
        made = reports.items() if reports is not None else _report_items(plan, flow_detail, inventory_name)
        for name, text in made:
            yield name, text
        for name, text in extra.items():
            yield name, text
    finally:
        if reports is not None:
            reports.close()


class _ReportProcess:
    """The report files, made by a forked child while the parent makes the host files.

    The child makes every report, then sends them through a pipe (``<name length> <data length>``
    line, name, UTF-8 data; ``END`` or ``ERROR <length>`` and a traceback last) and exits.
    """

    def __init__(self, pid, reader):
        self.pid = pid
        self.reader = reader
        self.done = False

    @classmethod
    def start(cls, plan, flow_detail, inventory_name):
        if not hasattr(os, "fork") or threading.active_count() != 1:
            return None
        read_fd = write_fd = None
        try:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
        except OSError:
            for fd in (read_fd, write_fd):
                if fd is not None:
                    os.close(fd)
            return None
        if pid == 0:  # the child: never returns into the caller
            status = 1
            try:
                os.close(read_fd)
                try:
                    made = [(name.encode("utf-8"), text.encode("utf-8"))
                            for name, text in _report_items(plan, flow_detail, inventory_name)]
                    frames = [b"%d %d\n%s%s" % (len(name), len(data), name, data) for name, data in made]
                    frames.append(b"END\n")
                    status = 0
                except BaseException:  # pylint: disable=broad-except  # reported to the parent
                    message = traceback.format_exc().encode("utf-8", "replace")
                    frames = [b"ERROR %d\n%s" % (len(message), message)]
                for frame in frames:
                    view = memoryview(frame)
                    while view:
                        view = view[os.write(write_fd, view):]
            finally:
                os._exit(status)  # pylint: disable=protected-access
        os.close(write_fd)
        return cls(pid, os.fdopen(read_fd, "rb", buffering=1 << 20))

    def items(self):
        """(name, UTF-8 bytes) of each report; RuntimeError when the child failed."""
        while True:
            line = self.reader.readline()
            if line == b"END\n":
                self.done = True
                break
            if line.startswith(b"ERROR "):
                message = self.reader.read(int(line.split()[1])).decode("utf-8", "replace")
                raise RuntimeError("the plan reports could not be made:\n%s" % message)
            if not line:
                raise RuntimeError("the plan reports could not be made: the process making them ended early")
            name_length, data_length = (int(part) for part in line.split())
            name = self.reader.read(name_length).decode("utf-8")
            yield name, self.reader.read(data_length)

    def close(self):
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.pid is not None:
            try:
                if not self.done:  # the caller stopped early: the reports are not wanted any more
                    os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None


def write_files(directory, files):
    """Write ``files`` under ``directory`` in one pass.

    ``files`` is {relative name: text}, or an iterable of (relative name, text) pairs (a later pair
    replaces an earlier one of the same name, as in a dict). Unchanged files are not rewritten;
    files an earlier run wrote (listed in the manifest) that this run does not write are removed.
    Returns {"written": [...], "unchanged": n, "removed": [...]}.

    When ``directory`` does not exist yet, the files are written into a new sibling directory that
    is then renamed into place: readers see the whole plan or none of it, each file costs one create
    instead of a temporary file and a rename, and a writer thread stores each file while the next
    one is being made.
    """
    directory = os.path.abspath(directory)
    if not os.path.lexists(directory):
        done, made_files = _write_new_directory(directory, files)
        if done is not None:
            return done
        if made_files is not None:
            files = made_files  # the directory appeared meanwhile: write what was made file by file
    if not isinstance(files, dict):
        files = dict(files)
    os.makedirs(directory, exist_ok=True)
    manifest_path = os.path.join(directory, MANIFEST)
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            previous = set(json.load(handle).get("files", []))
    except (OSError, ValueError, AttributeError):
        previous = set()
    written, unchanged = [], 0
    made = set()
    for rel in sorted(files):
        path = os.path.join(directory, rel)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        data = files[rel] if isinstance(files[rel], bytes) else files[rel].encode("utf-8")
        try:
            with open(path, "rb") as handle:
                if handle.read() == data:
                    unchanged += 1
                    continue
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        written.append(rel)
    removed = []
    for rel in sorted(previous - set(files)):
        path = os.path.join(directory, rel)
        if os.path.normpath(path).startswith(directory + os.sep) and os.path.isfile(path):
            os.unlink(path)
            removed.append(rel)
    _write_manifest(manifest_path, files)
    return {"written": written, "unchanged": unchanged, "removed": removed}


def _write_manifest(manifest_path, names):
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump({"files": sorted(names), "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                  handle, indent=1)


def _umask():
    """The process umask read from /proc (None where unknown); reading it this way changes nothing."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


class _Writer(threading.Thread):
    """Stores the files handed over in its queue, in order; the first error is kept for the caller."""

    def __init__(self, fix_mode):
        super().__init__(name="safeq-plan-writer", daemon=True)
        self.queue = queue.Queue(maxsize=32)  # bounded: few files wait in memory
        self.error = None
        self.fix_mode = fix_mode

    def run(self):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue  # drain until the end marker
            path, text = item
            try:
                fd = os.open(path, flags, 0o644)
                try:
                    if self.fix_mode:
                        os.fchmod(fd, 0o644)
                    data = memoryview(text if isinstance(text, bytes) else text.encode("utf-8"))
                    while data:
                        data = data[os.write(fd, data):]
                finally:
                    os.close(fd)
            except BaseException as exc:  # pylint: disable=broad-except  # handed to the caller
                self.error = exc


def _write_new_directory(directory, files):
    """Write every file into a new sibling directory, then rename it to ``directory``.

    Returns (write_files result, None); or (None, {name: text} of the files) when ``directory``
    appeared meanwhile (the caller then writes them file by file); or (None, None) when no staging
    directory could be made. Files are created 0644 and folders with the default mode, as
    write_files does.
    """
    parent, base = os.path.split(directory)
    os.makedirs(parent, exist_ok=True)
    staging = None
    for _attempt in range(100):
        candidate = os.path.join(parent, ".%s.tmp-%d-%s" % (base, os.getpid(), secrets.token_hex(4)))
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        staging = candidate
        break
    if staging is None:
        return None, None
    umask = _umask()
    writer = _Writer(fix_mode=umask is None or (0o644 & ~umask) != 0o644)
    writer.start()
    names, made = set(), {staging}
    try:
        try:
            for rel, text in (files.items() if isinstance(files, dict) else files):
                if writer.error is not None:
                    break
                path = os.path.join(staging, rel)
                folder = os.path.dirname(path)
                if folder not in made:
                    os.makedirs(folder, exist_ok=True)
                    made.add(folder)
                names.add(rel)
                writer.queue.put((path, text))
        finally:
            writer.queue.put(None)
            writer.join()
        if writer.error is not None:
            raise writer.error
        _write_manifest(os.path.join(staging, MANIFEST), names)
        try:
            os.rename(staging, directory)
        except OSError:
            if not os.path.lexists(directory):
                raise
            made_files = {}
            for rel in names:
                with open(os.path.join(staging, rel), encoding="utf-8", newline="") as handle:
                    made_files[rel] = handle.read()
            return None, made_files
        staging = None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return {"written": sorted(names), "unchanged": 0, "removed": []}, None
