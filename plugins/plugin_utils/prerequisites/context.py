# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evaluation of one host: role settings, the plan's view of the host, the gathered data.

A result is a dict::

    {"id": "PRE-WEB-80", "item": <checklist line, verbatim>, "title": <short name>,
     "status": "pass"|"warn"|"fail"|"manual"|"not_applicable",
     "mandatory": bool, "evidence": str, "remediation": str, "host": str, "platform": str,
     "automation": "automated"|"conditional"|"manual", "area": str,
     "question": str or None, "answered_by": str or None, "data": optional details}

``question`` and ``answered_by`` are set on manual results only (the check's own, a more precise
one given by the check function, or a generic "Verify by hand" question).
"""

from __future__ import annotations

import copy

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import ListenerParseError, normalize_records
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import commands as C
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.checklist import HOST_AREAS
from ansible_collections.safeq.hardening.plugins.plugin_utils.report import RUN_HOST, STATUSES

DEFAULT_ANSWERED_BY = "customer server administrator"

# The role's settings (built from the prerequisites_* variables; never the LDAP password) and their defaults.
SETTINGS = {
    "host": None,
    "platform": None,
    "areas": list(HOST_AREAS),
    "phase": "auto",
    "skip": [],
    "mandatory": {},
    "supported_platforms": {},
    "min_cpu_cores": 4,
    "min_memory_mb": 8192,
    "memory_tolerance_percent": 5,
    "min_free_disk_gib": 40,
    "install_path": "",
    "embedded_mssql": False,
    "check_updates": True,
    "av_exclusions": [],
    "av_product_patterns": [],
    "interfering_software": [],
    "intended_software": [],
    "web_server_patterns": [],
    "browser_patterns": [],
    "safeq_process_patterns": [],
    "safeq_service_patterns": [],
    "external_database": None,
    "install_share": "",
    "ldap": {},
}
PHASES = ("auto", "pre_install", "post_install")


class PrerequisiteError(ValueError):
    """Settings or gathered data given to the evaluation are not in the documented shape."""


def settings_with_defaults(settings):
    """The settings with defaults filled in; unknown keys and a missing host raise PrerequisiteError."""
    if not isinstance(settings, dict):
        raise PrerequisiteError("settings: must be a mapping")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise PrerequisiteError("settings.%s: unknown setting (known: %s)" % (unknown[0], ", ".join(sorted(SETTINGS))))
    result = {k: (settings[k] if settings.get(k) is not None else copy.deepcopy(v)) for k, v in SETTINGS.items()}
    if not result["host"]:
        raise PrerequisiteError("settings.host: the host name is required")
    if result["phase"] not in PHASES:
        raise PrerequisiteError("settings.phase: %r is not one of %s" % (result["phase"], ", ".join(PHASES)))
    bad = [a for a in result["areas"] if a not in HOST_AREAS]
    if bad:
        raise PrerequisiteError("settings.areas: %r is not one of %s" % (bad[0], ", ".join(HOST_AREAS)))
    result["external_database"] = settings.get("external_database")
    return result


class _Results:
    """Builds results of the checks of a checklist for one host (or the run)."""

    host = RUN_HOST
    platform = "any"
    components = ()
    overrides = {}

    def __init__(self, checklist):
        self.checklist = checklist

    def mandatory(self, check):
        override = self.overrides.get(check.id)
        if override is not None:
            return bool(override)
        if self.host == RUN_HOST:
            return bool(check.mandatory)
        return check.mandatory_for(self.components)

    def result(self, check_id, status, evidence, remediation="", data=None, question=None, answered_by=None):
        check = self.checklist.by_id[check_id]
        if status not in STATUSES:
            raise PrerequisiteError("%s: unknown status %r" % (check_id, status))
        manual = status == "manual"
        item = self.checklist.item_text(check)
        res = {
            "id": check_id, "item": item, "title": check.title, "status": status,
            "mandatory": self.mandatory(check), "evidence": evidence, "remediation": remediation,
            "host": self.host, "platform": self.platform, "automation": check.automation, "area": check.area,
            "question": (question or check.question or "Verify by hand: %s" % item) if manual else None,
            "answered_by": (answered_by or check.answered_by or DEFAULT_ANSWERED_BY) if manual else None,
        }
        if data is not None:
            res["data"] = data
        return res

    def manual(self, check_id, evidence, question=None, remediation="", data=None):
        return self.result(check_id, "manual", evidence, remediation, data=data, question=question)


class RunContext(_Results):
    """The run-level checks: the plan's clusters and groups, the limits, the hosts of the play.

    ``unevaluated`` maps each play host without results to the reason.
    """

    def __init__(self, checklist, view, limits, near_roaming_limit, hosts, unevaluated, mandatory=None):
        super().__init__(checklist)
        self.view = view
        self.limits = dict(limits)
        self.near_roaming_limit = near_roaming_limit
        self.hosts = list(hosts)
        self.unevaluated = dict(unevaluated)
        self.overrides = dict(mandatory or {})


class Context(_Results):
    """One host: settings, the plan's view of the host, the gathered registered results (normalised views)."""

    def __init__(self, checklist, gathered, settings, view):
        super().__init__(checklist)
        if not isinstance(gathered, dict):
            raise PrerequisiteError("gathered: must be a mapping of registered results")
        self.gathered = gathered
        self.settings = settings_with_defaults(settings)
        self.view = view
        self.facts = G.facts_of(gathered)
        self.host = str(self.settings["host"])
        platform = self.settings["platform"]
        if not platform:
            family = G.fact(self.facts, "os_family")
            platform = "windows" if family == "Windows" else ("linux" if family else view["platform"])
        self.platform = platform
        self.windows = platform == "windows"
        self.components = list(view["components"])
        self.features = set(view["features"])
        self.overrides = dict(self.settings["mandatory"] or {})
        self._cache = {}

    def cfg(self, key):
        return self.settings[key]

    def not_applicable_reason(self, check):
        if self.platform not in check.platforms:
            return "only for %s hosts" % "/".join(check.platforms)
        if not check.applies_to(self.components):
            return "only for %s hosts (this host: %s)" % ("/".join(check.components), "+".join(self.components))
        if check.id in (self.settings["skip"] or []):
            return "skipped by prerequisites_skip"
        if check.area not in self.settings["areas"]:
            return "not run: the %s area was left out (--tags / --skip-tags)" % check.area
        return None

    # -- installation phase
    @property
    def installed(self):
        if "installed" not in self._cache:
            phase = self.settings["phase"]
            if phase in ("post_install", "pre_install"):
                value = phase == "post_install"
            else:
                patterns = self.settings["safeq_service_patterns"]
                names = [s["name"] for s in self.services] + [s.get("display_name") or "" for s in self.services]
                value = any(G.regex_any(patterns, n) for n in names)
            self._cache["installed"] = value
        return self._cache["installed"]

    # -- services: [{name, display_name, state}]
    @property
    def services(self):
        if "services" not in self._cache:
            self._cache["services"] = self._services()
        return self._cache["services"]

    def _services(self):
        reg = self.gathered.get("services")
        if not G.ok(reg):
            return []
        if isinstance(reg.get("services"), list):  # win_service_info
            return [{"name": s.get("name") or "", "display_name": s.get("display_name") or "",
                     "state": s.get("state") or ""} for s in reg["services"] if isinstance(s, dict)]
        services = (reg.get("ansible_facts") or {}).get("services") or reg.get("services") or {}
        if isinstance(services, dict):  # service_facts
            return [{"name": (svc or {}).get("name") or name, "display_name": "", "state": (svc or {}).get("state") or ""}
                    for name, svc in sorted(services.items())]
        return []

    # -- installed software: [{name, version, publisher, source}]
    @property
    def software(self):
        if "software" not in self._cache:
            self._cache["software"] = self._software()
        return self._cache["software"]

    @property
    def software_error(self):
        self.software  # noqa: B018 - fills the cache
        return self._cache.get("software_error")

    def _software(self):
        if self.windows:
            reg = self.gathered.get("products")
            if not G.ok(reg):
                self._cache["software_error"] = G.why(reg, "installed products (registry Uninstall keys)")
                return []
            return [{"name": str(p["DisplayName"]), "version": str(p.get("DisplayVersion") or ""),
                     "publisher": str(p.get("Publisher") or ""), "source": "product"}
                    for p in reg.get("output") or [] if isinstance(p, dict) and p.get("DisplayName")]
        reg = self.gathered.get("packages")
        packages = ((reg.get("ansible_facts") or {}).get("packages") or reg.get("packages")) if G.ok(reg) else None
        if isinstance(packages, dict) and packages:
            items = []
            for name, versions in sorted(packages.items()):
                versions = versions if isinstance(versions, list) else [versions]
                version = ", ".join(str((v or {}).get("version", "")) for v in versions if isinstance(v, dict))
                items.append({"name": name, "version": version, "publisher": "", "source": "package"})
            return items
        cmd = self.gathered.get("packages_cmd")
        if G.ok(cmd) and cmd.get("stdout"):
            return [{"name": name, "version": version, "publisher": "", "source": "package"}
                    for name, version in C.parse_dpkg_list(cmd["stdout"])]
        self._cache["software_error"] = "%s; %s" % (G.why(reg, "package_facts"), G.why(cmd, "package list command"))
        return []

    # -- listeners: normalised records, or None with listeners_error
    @property
    def listeners(self):
        if "listeners" not in self._cache:
            reg = self.gathered.get("listeners")
            self._cache["listeners"] = None
            if not G.ok(reg):
                self._cache["listeners_error"] = G.why(reg, "listening sockets")
            else:
                try:
                    self._cache["listeners"] = normalize_records(reg)
                except ListenerParseError as exc:
                    self._cache["listeners_error"] = "listening sockets: %s" % exc
        return self._cache["listeners"]

    @property
    def listeners_error(self):
        self.listeners  # noqa: B018 - fills the cache
        return self._cache.get("listeners_error")

    # -- LDAP settings (never hold the password)
    @property
    def ldap(self):
        return self.settings["ldap"] or {}
