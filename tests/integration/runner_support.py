# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run this collection's playbooks the way AWX runs a job: ansible-runner on a private data dir.

What AWX does for a job, and what ``run_job`` reproduces (ansible/awx awx/main/tasks/jobs.py,
ansible-runner 2.4 ansible_runner/config/_base.py):

* a private data dir with ``project/`` (the project checkout: here extensions/awx/project, the thin
  playbooks), ``inventory/`` and ``artifacts/<ident>/``; the ident is the job id;
* extra vars = the job template's survey answers (the survey defaults when nobody answers) plus
  AWX's meta variables (``awx_job_id``/``tower_job_id``, template and inventory names...);
* environment: ``JOB_ID`` and ``AWX_PRIVATE_DATA_DIR`` from AWX; ansible-runner itself sets
  ``AWX_ISOLATED_DATA_DIR`` to the artifact dir of the run (``<private_data_dir>/artifacts/<ident>``,
  or ``/runner/artifacts/<ident>`` inside an execution-environment container), the stdout callback
  ``awx_display`` and the working directory ``project/``;
* collections: AWX installs them from the project's collections/requirements.yml or takes them
  from the execution environment; here ANSIBLE_COLLECTIONS_PATH names this checkout
  (.collections/ansible_collections/safeq/hardening links to the repository) and the venv's
  site-packages (the collections of the ``ansible`` PyPI package).

The process environment is reduced to what a job would see: ANSIBLE_* and SAFEQ_* variables of the
calling shell (scripts/test.sh exports ANSIBLE_CONFIG) are not passed, and PWD points at an empty
directory of the test so that a playbook falling back to ``./output`` never writes into the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "extensions" / "awx" / "project"
OBJECTS = ROOT / "extensions" / "awx" / "controller_objects.yml"
BIN = Path(sys.executable).parent
JOB_ID = 4242
JOB_TIMEOUT = 900  # seconds; ansible-runner cancels the job after it (status "timeout")
_HIDDEN_ENV_PREFIXES = ("ANSIBLE_", "SAFEQ_", "CONTROLLER_", "TOWER_", "AWX_", "JOB_ID")

# One Linux SafeQ server: this machine, reached with the local connection (read-only playbooks only).
# The policy core refuses loopback as a server address, so the host's addresses are from
# 192.0.2.0/24 (TEST-NET-1, RFC 5737); nothing is sent to them: the connection is local, and
# verify's probes (the only network check that would target the address) are off for this host.
LOCAL_LINUX_INVENTORY = {
    "all": {
        "children": {
            "safeq_cml": {
                "hosts": {
                    "cml-local": {
                        "ansible_host": "192.0.2.10",
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        "safeq_platform": "linux",
                        "safeq_management_networks": ["192.0.2.0/24"],
                        "safeq_controller_address": "192.0.2.5",
                        "verify_reachability": False,
                    },
                },
            },
        },
    },
}


def job_templates():
    """{name: definition} of extensions/awx/controller_objects.yml."""
    data = yaml.safe_load(OBJECTS.read_text(encoding="utf-8"))
    return {jt["name"]: jt for jt in data["safeq_awx_job_templates"]}


def survey_defaults(template_name):
    """The extra vars AWX passes when nobody answers the template's survey (strings, as AWX sends them)."""
    template = job_templates()[template_name]
    if not template.get("survey_enabled"):
        return {}
    return {q["variable"]: q["default"] for q in template["survey_spec"]["spec"] if q.get("default") is not None}


def awx_meta_vars(template_name, inventory_name, job_id=JOB_ID):
    """The extra vars AWX adds to every job (awx/main/models/unified_jobs.py and jobs.py, awx_meta_vars)."""
    meta = {}
    for prefix in ("awx", "tower"):
        meta.update({
            "%s_job_id" % prefix: job_id,
            "%s_job_launch_type" % prefix: "manual",
            "%s_job_template_id" % prefix: 7,
            "%s_job_template_name" % prefix: template_name,
            "%s_inventory_id" % prefix: 3,
            "%s_inventory_name" % prefix: inventory_name,
            "%s_user_id" % prefix: 1,
            "%s_user_name" % prefix: "admin",
        })
    return meta


def site_packages():
    spec = importlib.util.find_spec("ansible_collections.awx")
    if spec is None or not spec.submodule_search_locations:
        raise AssertionError("the `ansible` PyPI package (its ansible_collections) is not installed in %s" % BIN)
    return str(Path(list(spec.submodule_search_locations)[0]).parents[1])


def collections_path():
    link = ROOT / ".collections" / "ansible_collections" / "safeq" / "hardening"
    if not link.exists():
        raise AssertionError("%s is missing (tests/conftest.py creates it)" % link)
    return "%s:%s" % (ROOT / ".collections", site_packages())


def make_private_data_dir(base, inventory):
    """A private data dir like AWX builds: project/ (the thin AWX project), inventory/, env/.

    ``inventory`` is a directory to copy (e.g. inventories/example) or a dict written as YAML.
    """
    base = Path(base)
    private = base / "private_data_dir"
    shutil.copytree(PROJECT, private / "project")
    (private / "env").mkdir(parents=True)
    if isinstance(inventory, dict):
        (private / "inventory").mkdir()
        (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    else:
        shutil.copytree(inventory, private / "inventory")
    (base / "cwd").mkdir(exist_ok=True)
    return private


def run_job(private_data_dir, playbook, extravars, limit=None, job_type="run", job_id=JOB_ID, extra_env=None):
    """Run ``playbook`` (a file of project/) with ansible-runner the way an AWX job does; returns the Runner."""
    import ansible_runner

    private_data_dir = Path(private_data_dir)
    work = private_data_dir.parent / "cwd"
    envvars = {
        "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "/usr/bin:/bin")),
        "ANSIBLE_COLLECTIONS_PATH": collections_path(),
        "ANSIBLE_LOCAL_TEMP": str(private_data_dir / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(private_data_dir / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "JOB_ID": str(job_id),
        "AWX_PRIVATE_DATA_DIR": str(private_data_dir),
        "PWD": str(work),
    }
    envvars.update(extra_env or {})
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_HIDDEN_ENV_PREFIXES)}
    cmdline = "--check --diff" if job_type == "check" else None
    with mock.patch.dict(os.environ, clean, clear=True):
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            ident=str(job_id),
            playbook=playbook,
            inventory=str(private_data_dir / "inventory"),
            extravars=extravars,
            envvars=envvars,
            limit=limit,
            cmdline=cmdline,
            timeout=JOB_TIMEOUT,
            quiet=True,
        )
    return runner


def stats_artifacts(runner):
    """The set_stats data of the run, as AWX stores it in the job's artifacts (playbook_on_stats artifact_data)."""
    stats_events = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    if not stats_events:
        return None
    return stats_events[-1]["event_data"].get("artifact_data", {})


def stdout(runner):
    path = Path(runner.config.artifact_dir) / "stdout"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def failure_report(runner):
    """A compact description of a run for assertion messages: status, rc, stats and the failed events."""
    failed = [e for e in runner.events if e.get("event") in ("runner_on_failed", "runner_on_unreachable")]
    details = []
    for event in failed[:5]:
        data = event.get("event_data", {})
        res = data.get("res", {})
        details.append("%s %s %s: %s" % (event["event"], data.get("host"), data.get("task"),
                                         res.get("msg") or json.dumps(res)[:800]))
    return "status=%s rc=%s stats=%s\n%s\n--- stdout tail ---\n%s" % (
        runner.status, runner.rc, runner.stats, "\n".join(details), stdout(runner)[-4000:])


def files_under(directory):
    directory = Path(directory)
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


# ---- a stand-in for the AWX API (loopback only) ----------------------------------------------

class FakeController:
    """An in-memory AWX API v2 on 127.0.0.1, enough for the awx.awx modules the configure playbook calls.

    It follows the AWX REST conventions the modules rely on (list views with count/next/results,
    exact-match filters plus ``name__startswith`` and ``a__b`` lookups through foreign keys, POST to
    create, PATCH to update, DELETE, association sub-lists that take ``{"id"}`` and
    ``{"id", "disassociate": true}``, ``survey_spec`` sub-resources, ``create_approval_template``
    on workflow nodes, the X-API-Product-* headers) and rejects a request without the bearer token.
    Every write is recorded in ``writes``.
    """

    COLLECTIONS = ("organizations", "inventories", "credentials", "execution_environments", "projects",
                   "job_templates", "workflow_job_templates", "workflow_job_template_nodes",
                   "workflow_approval_templates", "labels", "project_updates")
    UNIFIED = ("projects", "job_templates", "workflow_job_templates", "workflow_approval_templates")
    FOREIGN = {"organization": "organizations", "inventory": "inventories", "project": "projects",
               "workflow_job_template": "workflow_job_templates", "unified_job_template": "unified_job_templates"}
    TYPES = {"organizations": "organization", "inventories": "inventory", "credentials": "credential",
             "execution_environments": "execution_environment", "projects": "project", "job_templates": "job_template",
             "workflow_job_templates": "workflow_job_template",
             "workflow_job_template_nodes": "workflow_job_template_node",
             "workflow_approval_templates": "workflow_approval_template", "labels": "label",
             "project_updates": "project_update"}
    ASSOCIATIONS = {"job_templates": ("credentials", "labels", "instance_groups", "notification_templates_started",
                                      "notification_templates_success", "notification_templates_error"),
                    "workflow_job_templates": ("labels", "notification_templates_started",
                                               "notification_templates_success", "notification_templates_error",
                                               "notification_templates_approvals"),
                    "workflow_job_template_nodes": ("success_nodes", "failure_nodes", "always_nodes", "credentials",
                                                    "labels", "instance_groups"),
                    "projects": ("notification_templates_started", "notification_templates_success",
                                 "notification_templates_error")}
    ASSOCIATED_COLLECTION = {"credentials": "credentials", "labels": "labels", "success_nodes": "workflow_job_template_nodes",
                             "failure_nodes": "workflow_job_template_nodes", "always_nodes": "workflow_job_template_nodes"}

    def __init__(self, token):
        self.token = token
        self.objects = {c: {} for c in self.COLLECTIONS}
        self.links = {}  # (collection, id, association) -> [ids]
        self.surveys = {}  # (collection, id) -> spec
        self.writes = []
        self.requests = 0
        self._next_id = 1
        self._server = None
        self._thread = None

    # -- data
    def add(self, collection, **fields):
        oid = self._next_id
        self._next_id += 1
        obj = dict(fields, id=oid, type=self.TYPES[collection], url="/api/v2/%s/%d/" % (collection, oid),
                   summary_fields={}, modified="2024-01-01T00:00:00Z")
        if collection == "projects":
            obj.setdefault("scm_revision", "")
        obj["related"] = self._related(collection, obj)
        self.objects[collection][oid] = obj
        return obj

    def _related(self, collection, obj):
        related = {a: "%s%s/" % (obj["url"], a) for a in self.ASSOCIATIONS.get(collection, ())}
        if collection in ("job_templates", "workflow_job_templates"):
            related["survey_spec"] = "%ssurvey_spec/" % obj["url"]
        if collection == "workflow_job_template_nodes":
            related["create_approval_template"] = "%screate_approval_template/" % obj["url"]
            if obj.get("unified_job_template"):
                target = self.find_unified(obj["unified_job_template"])
                if target:
                    related["unified_job_template"] = target["url"]
        return related

    def find_unified(self, oid):
        for collection in self.UNIFIED:
            if int(oid) in self.objects[collection]:
                return self.objects[collection][int(oid)]
        return None

    def named(self, collection, name):
        found = [o for o in self.objects[collection].values() if o.get("name") == name]
        return found[0] if found else None

    def linked(self, collection, oid, association):
        return list(self.links.get((collection, oid, association), []))

    def snapshot(self):
        return json.dumps({"objects": self.objects, "links": {"%s/%s/%s" % k: v for k, v in self.links.items()},
                           "surveys": {"%s/%s" % k: v for k, v in self.surveys.items()}}, sort_keys=True, default=str)

    # -- HTTP
    def _list(self, collection):
        if collection == "unified_job_templates":
            out = []
            for name in self.UNIFIED:
                out += list(self.objects[name].values())
            return out
        return list(self.objects[collection].values())

    def _matches(self, obj, key, value):
        if key in ("page", "page_size", "order_by"):
            return True
        if key.startswith("or__"):
            return True  # get_one adds or__id/or__name only for numeric names (never here)
        if key.endswith("__startswith"):
            return str(obj.get(key[:-len("__startswith")], "")).startswith(value)
        if "__" in key:
            field, rest = key.split("__", 1)
            target_collection = self.FOREIGN.get(field)
            if target_collection is None or obj.get(field) is None:
                return False
            if target_collection == "unified_job_templates":
                target = self.find_unified(obj[field])
            else:
                target = self.objects[target_collection].get(int(obj[field]))
            return target is not None and self._matches(target, rest, value)
        return str(obj.get(key)) == value or (obj.get(key) is None and value in ("", "None"))

    def handle(self, method, path, query, body):
        from urllib.parse import parse_qsl

        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["api", "v2"]:
            return 404, {"detail": "Not found."}
        parts = parts[2:]
        if not parts:
            return 200, {}
        collection = parts[0]
        if collection not in self.objects and collection != "unified_job_templates":
            return 404, {"detail": "Not found."}
        if len(parts) == 1:
            if method == "GET":
                filters = dict(parse_qsl(query, keep_blank_values=True))
                results = [o for o in self._list(collection) if all(self._matches(o, k, v) for k, v in filters.items())]
                results.sort(key=lambda o: o["id"])
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                self.writes.append((method, path, body))
                return 201, self.add(collection, **body)
            return 405, {"detail": "Method not allowed."}
        oid = int(parts[1])
        obj = self.objects[collection].get(oid) if collection != "unified_job_templates" else self.find_unified(oid)
        if obj is None:
            return 404, {"detail": "Not found."}
        if len(parts) == 2:
            if method == "GET":
                return 200, obj
            if method == "PATCH":
                self.writes.append((method, path, body))
                obj.update(body)
                obj["related"] = self._related(collection, obj)
                return 200, obj
            if method == "DELETE":
                self.writes.append((method, path, body))
                del self.objects[collection][oid]
                for key in [k for k in self.links if k[:2] == (collection, oid)]:
                    del self.links[key]
                for key, ids in self.links.items():
                    if key[2] in ("success_nodes", "failure_nodes", "always_nodes") and oid in ids:
                        ids.remove(oid)
                return 204, None
            return 405, {"detail": "Method not allowed."}
        sub = parts[2]
        if sub == "survey_spec":
            if method == "GET":
                return 200, self.surveys.get((collection, oid), {})
            if method == "POST":
                self.writes.append((method, path, body))
                self.surveys[(collection, oid)] = body
                return 200, None
            if method == "DELETE":
                self.writes.append((method, path, body))
                self.surveys.pop((collection, oid), None)
                return 200, None
        if sub == "create_approval_template" and method == "POST":
            self.writes.append((method, path, body))
            approval = self.add("workflow_approval_templates", **body)
            obj["unified_job_template"] = approval["id"]
            obj["related"] = self._related(collection, obj)
            return 201, approval
        if sub in self.ASSOCIATIONS.get(collection, ()):
            key = (collection, oid, sub)
            if method == "GET":
                target = self.ASSOCIATED_COLLECTION.get(sub, sub)
                results = [self.objects[target][i] for i in self.links.get(key, []) if i in self.objects.get(target, {})]
                return 200, {"count": len(results), "next": None, "previous": None, "results": results}
            if method == "POST":
                self.writes.append((method, path, body))
                ids = self.links.setdefault(key, [])
                if body.get("disassociate"):
                    if body["id"] in ids:
                        ids.remove(body["id"])
                elif body["id"] not in ids:
                    ids.append(body["id"])
                return 204, None
        return 404, {"detail": "Not found."}

    def start(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        controller = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                controller.requests += 1
                if self.headers.get("Authorization") != "Bearer %s" % controller.token:
                    return self._reply(401, {"detail": "Authentication credentials were not provided."})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                path, _sep, query = self.path.partition("?")
                status, payload = controller.handle(self.command, path, query, body)
                return self._reply(status, payload)

            def _reply(self, status, payload):
                data = b"" if payload is None else json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-API-Product-Name", "AWX")
                self.send_header("X-API-Product-Version", "24.6.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None
