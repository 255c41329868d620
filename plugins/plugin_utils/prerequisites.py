# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SafeQ CML pre-installation checklist: the pass/warn/fail/manual decisions.

The prerequisites role gathers raw data on each host with maintained modules (setup facts,
service/package facts, win_* modules, ``safeq.hardening.listening_sockets``, a few fixed
PowerShell commands, ``community.general.ldap_search`` from the controller) and hands the
registered results, unchanged, to ``evaluate_host(gathered, config)`` here (through the
``safeq.hardening.prerequisite_evaluate`` filter). Every decision is made in this file, so it is
unit tested with the output shapes of the real modules for Windows and Linux alike.

A result is a dict::

    {"id": "PRE-WEB-80", "item": <checklist line, verbatim>, "title": <short name>,
     "status": "pass"|"warn"|"fail"|"manual"|"not_applicable",
     "mandatory": bool, "evidence": str, "remediation": str, "host": str, "platform": str,
     "automation": "automated"|"conditional"|"manual",
     "question": str or None, "answered_by": str or None, "data": optional details}

* ``fail`` of a ``mandatory`` item makes the playbook fail (unless report-only).
* ``manual`` means a person has to answer: ``question`` says what, ``answered_by`` who. It is
  also used when the data could not be gathered (the evidence says why), never silently dropped.
* ``not_applicable``: the check does not apply to this host (component, platform, configuration).

Nothing here imports Ansible; the lead's ``catalog``/``policy``/``topology`` give the ports and
the topology limits.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import (
    ListenerParseError,
    is_loopback,
    normalize_records,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import judge_listeners, owner_matches

STATUSES = ("pass", "warn", "fail", "manual", "not_applicable")
PLATFORMS = ("windows", "linux")
COMPONENTS = ("cml", "ors", "crs", "ap_connector", "etcd")

# The "SafeQ CML Server pre-installation check list", verbatim (first 29 lines of the seed
# 001_c8baf7c42c6ea139.txt). Index = seed line number - 1.
CHECKLIST = (
    "SafeQ CML Server pre-installation check list",
    "SafeQ CML Server pre-installation check list",
    "Following features has to be installed and available on the server for SafeQ CML server installation",
    "To see list of supported platforms, please visit Software requirements page.",
    "No Web server may be installed on the computer. (If installed, it must not listen on TCP port 80).",
    "Windows Installer 4.5 must be installed in order to use embedded MS SQL 2008 Express installation.",
    "The latest version of web browser shall be installed (IE, Chrome or Firefox).",
    "No other software shall be installed, except as agreed by YSOFT.",
    "IP addresses for the local SafeQ CML servers are prepared before the installation of MFPs and terminals.",
    "Dedicated shared folder accessible from all SafeQ CML nodes is set up and reachable from all SafeQ CML "
    "server nodes (necessary for installation from network folder).",
    "CML servers (all nodes of the clusters) meets minimum requirements. See Hardware requirements for details.",
    "Latest security patches installed on operating system.",
    "See Antivirus Settings page to make sure system performance is not affected by Antivirus software.",
    "There is no other software that can interfere with SafeQ installed on the servers, especially database "
    "(unless it's intended for SafeQ), or other print solution, except as specified in this document.",
    "In case of external database server SafeQ uses 2 service accounts (mandatory name for one of the accounts "
    "is: sync) and 2 databases to run for each CML node.",
    "Administrator rights are required in order to perform the installation.",
    "\"LPD service\" not installed in case \"Print Server\" role is used.",
    "External user source for replication (LDAP) requirements",
    "Primary LDAP server IP address",
    "Domain name(s)",
    "DN of container(s) with users",
    "LDAP contains user login information",
    "LDAP contains user name and surname information",
    "Department number is available in following attribute",
    "Card numbers are available in following attribute",
    "Unique user ID is available in following attribute",
    "User email addresses are available in LDAP",
    "Data replication from LDAP to SafeQ is preferred. Frequency of replication is configurable (for example: "
    "full replication is executed once a day, and differential replication is executed each hour).",
    "Administrator will be available to provide LDAP server access credentials. User account with 'list all "
    "records' and 'read attributes' credentials must be available as integration account for SafeQ.",
)

# Checklist lines that are headings, not requirements (seed line number -> what covers them).
HEADINGS = {
    1: "title of the checklist",
    2: "title of the checklist (repeated in the seed)",
    3: "introduces the lines below (each has its own check)",
    18: "heading of the LDAP items below (PRE-LDAP-*)",
}

_AD = "customer AD/LDAP administrator"
_ALL = None  # every SafeQ component

# id -> definition. line: seed line number (None: from the issue, not a checklist line).
# mandatory: bool, or a tuple of components for which the item is mandatory.
CHECKS = (
    dict(id="PRE-PLATFORM", line=4, title="Supported operating system", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=False),
    dict(id="PRE-WEB-80", line=5, title="No web server listening on TCP 80", automation="automated",
         platforms=PLATFORMS, components=("cml", "ors"), mandatory=True),
    dict(id="PRE-MSI-45", line=6, title="Windows Installer 4.5+ for embedded MS SQL Express",
         automation="conditional", platforms=("windows",), components=("cml",), mandatory=True,
         question="Is Windows Installer 4.5 or later installed (needed by the embedded MS SQL Express setup)?",
         answered_by="customer server administrator"),
    dict(id="PRE-BROWSER", line=7, title="Current web browser installed", automation="automated",
         platforms=PLATFORMS, components=("cml",), mandatory=False),
    dict(id="PRE-OTHER-SW", line=8, title="No software other than agreed with YSoft", automation="manual",
         platforms=PLATFORMS, components=_ALL, mandatory=False,
         question="Is every installed product (see data in the JSON report) agreed with YSoft?",
         answered_by="YSoft partner / project manager with the customer's server administrator"),
    dict(id="PRE-STATIC-IP", line=9, title="Static IP addresses prepared", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=("cml",)),
    dict(id="PRE-SHARED-FOLDER", line=10, title="Shared installation folder reachable", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Is a dedicated shared folder set up and reachable from every CML node (only needed for "
                  "installation from a network folder)? Set safeq_install_share (inventory) to check it.",
         answered_by="customer file server / Windows administrator"),
    dict(id="PRE-HW-CPU", line=11, title="CPU cores minimum", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=("cml",)),
    dict(id="PRE-HW-MEM", line=11, title="Memory minimum", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=("cml",)),
    dict(id="PRE-HW-DISK", line=11, title="Free disk space minimum", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=("cml",)),
    dict(id="PRE-PATCHES", line=12, title="Latest security patches installed", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-AV-EXCL", line=13, title="Antivirus exclusions for SafeQ folders", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=False,
         question="Are the SafeQ folders excluded from on-access scanning in the antivirus product?",
         answered_by="customer security / antivirus administrator"),
    dict(id="PRE-INTERFERING-SW", line=14, title="No interfering database or print software",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-EXTDB", line=15, title="External database: 2 service accounts (one 'sync') and 2 databases per CML",
         automation="manual", platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="For the external database server: are 2 service accounts (one of them named 'sync') and "
                  "2 databases prepared for each CML node?",
         answered_by="customer DBA"),
    dict(id="PRE-ADMIN", line=16, title="Administrator rights of the connecting account", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-LPD", line=17, title="LPD service not installed with the Print Server role", automation="automated",
         platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-LDAP-SERVER", line=19, title="Primary LDAP server address given", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="What is the IP address of the primary LDAP server (and port: 636 LDAPS, 389, 3268)?",
         answered_by=_AD),
    dict(id="PRE-LDAP-REACH", line=19, title="LDAP server reachable from the host", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Is the LDAP server reachable from every CML node on the LDAP port?", answered_by=_AD),
    dict(id="PRE-LDAP-DOMAINS", line=20, title="Domain name(s) served by the LDAP server", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="Which domain name(s) hold the SafeQ users?", answered_by=_AD),
    dict(id="PRE-LDAP-CONTAINERS", line=21, title="User container DNs exist", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="What are the DNs of the containers (OUs) with the SafeQ users?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-LOGIN", line=22, title="Users carry the login attribute", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Which attribute holds the user login (e.g. sAMAccountName, uid)?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-NAME", line=23, title="Users carry name and surname", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Which attributes hold the first name and surname (e.g. givenName, sn)?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-DEPARTMENT", line=24, title="Users carry the department attribute",
         automation="conditional", platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="Which attribute holds the department number?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-CARD", line=25, title="Users carry the card number attribute", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="Which attribute holds the card numbers?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-UID", line=26, title="Users carry the unique ID attribute", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Which attribute holds the unique user ID (e.g. objectGUID, entryUUID)?", answered_by=_AD),
    dict(id="PRE-LDAP-ATTR-EMAIL", line=27, title="Users carry the email attribute", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="Which attribute holds the email address (e.g. mail)?", answered_by=_AD),
    dict(id="PRE-LDAP-REPLICATION", line=28, title="Replication schedule agreed", automation="manual",
         platforms=PLATFORMS, components=("cml",), mandatory=False,
         question="How often should full and differential LDAP replication run (e.g. full daily, differential "
                  "hourly)? Record it in prerequisites_ldap_replication.",
         answered_by="customer SafeQ owner with the AD/LDAP administrator"),
    dict(id="PRE-LDAP-BIND", line=29, title="Integration account binds and can read", automation="conditional",
         platforms=PLATFORMS, components=("cml",), mandatory=True,
         question="Which integration account (with 'list all records' and 'read attributes' rights) will SafeQ "
                  "use? Give its DN and password (vaulted) to run the check.",
         answered_by=_AD),
    # ---- from the issue, not checklist lines ------------------------------------------------
    dict(id="PRE-PORTS", line=None, title="No other process on the SafeQ ports of this host",
         item="No other process listens on the ports the host's SafeQ components need (port catalog).",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-PORTS-BIND", line=None, title="Localhost-only SafeQ ports bound to loopback",
         item="After installation, ports the catalog binds to localhost (JMX, RMI) listen on loopback only.",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=False),
    dict(id="PRE-TOPOLOGY-TERMINALS", line=None, title="CML cluster size within the terminal limits",
         item="CML cluster size fits the terminal types: Terminal Professional at most 10 CML nodes, "
              "Terminal UltraLight at most 5.",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-TOPOLOGY-NEAR-ROAMING", line=None, title="Near-roaming groups of at most 10 ORS",
         item="Near roaming groups have at most 10 ORS servers (seed: 'Required for roaming groups up to 10 "
              "ORS servers').",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=True),
    dict(id="PRE-CONNECT", line=None, title="Host reached and evaluated",
         item="Every SafeQ host of the play was reached and evaluated.",
         automation="automated", platforms=PLATFORMS, components=_ALL, mandatory=True),
)
CHECKS_BY_ID = {c["id"]: c for c in CHECKS}
RUN_CHECKS = ("PRE-TOPOLOGY-TERMINALS", "PRE-TOPOLOGY-NEAR-ROAMING", "PRE-CONNECT")
RUN_HOST = "(run)"

# Fixed PowerShell commands run through ansible.windows.win_powershell by the role; their
# output is parsed here. Keep in sync with roles/prerequisites/tasks/windows.yml (a unit test does).
WINDOWS_PRODUCTS_COMMAND = (
    "Get-ItemProperty -ErrorAction SilentlyContinue -Path @(\n"
    "    'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*',\n"
    "    'HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*') |\n"
    "    Where-Object { $_.DisplayName } |\n"
    "    Select-Object DisplayName,DisplayVersion,Publisher"
)
WINDOWS_DEFENDER_EXCLUSIONS_COMMAND = "Get-MpPreference | Select-Object -ExpandProperty ExclusionPath"
WINDOWS_IP_ADDRESSES_COMMAND = (
    "Get-NetIPAddress -AddressFamily IPv4 |"
    " Select-Object InterfaceAlias,IPAddress,@{Name='PrefixOrigin';Expression={[string]$_.PrefixOrigin}}"
)
LINUX_IP_ADDRESSES_COMMAND = ["ip", "-j", "-4", "addr", "show"]
LINUX_DPKG_COMMAND = ["dpkg-query", "-W", "-f", "${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"]
LINUX_APT_SIMULATE_COMMAND = ["apt-get", "-s", "-o", "Debug::NoLocking=true", "dist-upgrade"]
LINUX_DNF_SECURITY_COMMAND = ["dnf", "-q", "updateinfo", "list", "--security"]

# Windows Server feature names (win_feature_info) and service names.
PRINT_SERVER_FEATURES = ("Print-Services", "Print-Server")
LPD_FEATURE = "Print-LPD-Service"
LPD_SERVICE = "LPDSVC"
LINUX_LPD_PACKAGES = ("lpr", "lprng", "cups-lpd", "rlpr")
ADMINISTRATORS_SID = "S-1-5-32-544"
ELEVATED_LABELS = ("S-1-16-12288", "S-1-16-16384")  # High, System mandatory level
SYSTEM_SID = "S-1-5-18"
PID_HTTP_SYS = 4

MAX_LIST = 10


class PrerequisiteError(ValueError):
    """Configuration given to the evaluation is not in the documented shape."""


# ---- small helpers ---------------------------------------------------------------------------

def checklist_line(number):
    return CHECKLIST[number - 1]


def item_text(check):
    return checklist_line(check["line"]) if check["line"] else check["item"]


def _reg_ok(reg):
    """A registered result that ran and succeeded."""
    return isinstance(reg, dict) and not reg.get("skipped") and not reg.get("failed") and not reg.get("unreachable")


def _reg_why(reg, what):
    if reg is None or reg == {}:
        return "%s was not gathered" % what
    if not isinstance(reg, dict):
        return "%s has an unexpected shape" % what
    if reg.get("skipped"):
        return "%s was skipped (%s)" % (what, reg.get("skip_reason") or reg.get("false_condition") or "condition")
    msg = reg.get("msg") or "failed"
    if reg.get("stderr"):
        msg = "%s: %s" % (msg, str(reg["stderr"]).strip()[:300])
    return "%s failed: %s" % (what, _one_line(msg))


def _one_line(text, limit=400):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short_list(items, limit=MAX_LIST):
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        text += ", ... (%d more)" % (len(items) - limit)
    return text


def _facts(gathered):
    facts = gathered.get("facts") or {}
    if isinstance(facts, dict) and "ansible_facts" in facts:
        facts = facts["ansible_facts"]
    return facts if isinstance(facts, dict) else {}


def _fact(facts, name, default=None):
    """Facts with or without the ``ansible_`` prefix."""
    if name in facts:
        return facts[name]
    return facts.get("ansible_" + name, default)


def _regex_any(patterns, text):
    return any(re.search(p, text or "", re.IGNORECASE) for p in patterns or [])


def _gib(num_bytes):
    return num_bytes / float(1024 ** 3)


def _norm_path(path, windows):
    path = str(path).strip()
    if windows:
        path = path.replace("/", "\\").rstrip("\\").lower()
    else:
        path = path.rstrip("/") or "/"
    return path


def _path_covered(path, exclusions, windows):
    """True when ``path`` or one of its parents is in ``exclusions``."""
    target = _norm_path(path, windows)
    sep = "\\" if windows else "/"
    for excl in exclusions:
        ex = _norm_path(excl, windows)
        if target == ex or target.startswith(ex + sep) or (not windows and ex == "/"):
            return True
    return False


def domain_to_dn(domain):
    parts = [p for p in str(domain).strip().strip(".").split(".") if p]
    return ",".join("dc=%s" % p for p in parts)


def _norm_dn(dn):
    return ",".join(part.strip().lower() for part in str(dn).split(","))


# ---- the context: normalised views of the gathered data --------------------------------------

class Context:
    """Evaluation of one host: config + gathered registered results, with normalised views."""

    def __init__(self, gathered, config):
        if not isinstance(gathered, dict):
            raise PrerequisiteError("gathered: must be a mapping of registered results")
        if not isinstance(config, dict):
            raise PrerequisiteError("config: must be a mapping")
        self.gathered = gathered
        self.config = config
        self.facts = _facts(gathered)
        self.host = str(config.get("host") or gathered.get("host") or "unknown")
        platform = config.get("platform") or gathered.get("platform")
        if not platform:
            family = _fact(self.facts, "os_family")
            platform = "windows" if family == "Windows" else ("linux" if family else "unknown")
        self.platform = platform
        self.windows = platform == "windows"
        self.components = [c for c in (config.get("components") or []) if c in COMPONENTS]
        self.features = set(config.get("features") or [])
        self._cache = {}

    # -- configuration helpers
    def cfg(self, key, default=None):
        value = self.config.get(key)
        return default if value is None else value

    def mandatory(self, check):
        override = (self.cfg("mandatory", {}) or {}).get(check["id"])
        if override is not None:
            return bool(override)
        value = check["mandatory"]
        if isinstance(value, (tuple, list)):
            return bool(set(value) & set(self.components)) or (self.host == RUN_HOST and bool(value))
        return bool(value)

    def result(self, check_id, status, evidence, remediation="", data=None, **extra):
        check = CHECKS_BY_ID[check_id]
        if status not in STATUSES:
            raise PrerequisiteError("%s: unknown status %r" % (check_id, status))
        res = {
            "id": check_id, "item": item_text(check), "title": check["title"], "status": status,
            "mandatory": self.mandatory(check), "evidence": evidence, "remediation": remediation,
            "host": self.host, "platform": self.platform, "automation": check["automation"],
            "question": check.get("question") if status == "manual" else None,
            "answered_by": check.get("answered_by") if status == "manual" else None,
        }
        res.update(extra)
        if data is not None:
            res["data"] = data
        return res

    def manual(self, check_id, evidence, question=None, remediation=""):
        res = self.result(check_id, "manual", evidence, remediation)
        if question:
            res["question"] = question
        if not res["question"]:
            res["question"] = "Verify by hand: %s" % res["item"]
        if not res["answered_by"]:
            res["answered_by"] = "customer server administrator"
        return res

    # -- installation phase
    @property
    def installed(self):
        if "installed" not in self._cache:
            phase = self.cfg("phase", "auto")
            if phase == "post_install":
                value = True
            elif phase == "pre_install":
                value = False
            else:
                patterns = self.cfg("safeq_service_patterns", [])
                names = [s["name"] for s in self.services] + [s.get("display_name") or "" for s in self.services]
                value = any(_regex_any(patterns, n) for n in names)
            self._cache["installed"] = value
        return self._cache["installed"]

    # -- services: list of {name, display_name, state}
    @property
    def services(self):
        if "services" not in self._cache:
            self._cache["services"] = self._services()
        return self._cache["services"]

    def _services(self):
        reg = self.gathered.get("services")
        if not _reg_ok(reg):
            return []
        if isinstance(reg.get("services"), list):  # win_service_info
            return [{"name": s.get("name") or "", "display_name": s.get("display_name") or "",
                     "state": s.get("state") or ""} for s in reg["services"] if isinstance(s, dict)]
        services = (reg.get("ansible_facts") or {}).get("services") or reg.get("services") or {}
        if isinstance(services, dict):  # service_facts
            result = []
            for name, svc in sorted(services.items()):
                svc = svc or {}
                result.append({"name": svc.get("name") or name, "display_name": "",
                               "state": svc.get("state") or ""})
            return result
        return []

    # -- installed software: list of {name, version, publisher, source}
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
        items = []
        if self.windows:
            reg = self.gathered.get("products")
            if _reg_ok(reg):
                for prod in reg.get("output") or []:
                    if isinstance(prod, dict) and prod.get("DisplayName"):
                        items.append({"name": str(prod["DisplayName"]), "version": str(prod.get("DisplayVersion") or ""),
                                      "publisher": str(prod.get("Publisher") or ""), "source": "product"})
            else:
                self._cache["software_error"] = _reg_why(reg, "installed products (registry Uninstall keys)")
            return items
        reg = self.gathered.get("packages")
        packages = None
        if _reg_ok(reg):
            packages = (reg.get("ansible_facts") or {}).get("packages") or reg.get("packages")
        if isinstance(packages, dict) and packages:
            for name, versions in sorted(packages.items()):
                versions = versions if isinstance(versions, list) else [versions]
                version = ", ".join(str((v or {}).get("version", "")) for v in versions if isinstance(v, dict))
                items.append({"name": name, "version": version, "publisher": "", "source": "package"})
            return items
        cmd = self.gathered.get("packages_cmd")
        if _reg_ok(cmd) and cmd.get("stdout"):
            for line in str(cmd["stdout"]).splitlines():
                fields = line.split("\t")
                if len(fields) >= 2 and fields[0]:
                    status = fields[2].strip() if len(fields) > 2 else "ii"
                    if status and status[:2] not in ("ii", "hi"):
                        continue
                    items.append({"name": fields[0].split(":")[0], "version": fields[1], "publisher": "",
                                  "source": "package"})
            return items
        self._cache["software_error"] = "%s; %s" % (_reg_why(reg, "package_facts"),
                                                    _reg_why(cmd, "package list command"))
        return items

    # -- listeners
    @property
    def listeners(self):
        if "listeners" not in self._cache:
            reg = self.gathered.get("listeners")
            if not _reg_ok(reg):
                self._cache["listeners"] = None
                self._cache["listeners_error"] = _reg_why(reg, "listening sockets")
            else:
                try:
                    self._cache["listeners"] = normalize_records(reg)
                except ListenerParseError as exc:
                    self._cache["listeners"] = None
                    self._cache["listeners_error"] = "listening sockets: %s" % exc
        return self._cache["listeners"]

    @property
    def listeners_error(self):
        self.listeners  # noqa: B018
        return self._cache.get("listeners_error")

    # -- LDAP configuration (never holds the password)
    @property
    def ldap(self):
        return self.cfg("ldap", {}) or {}


# ---- checks ---------------------------------------------------------------------------------

def check_platform(ctx):
    facts = ctx.facts
    if not facts:
        return ctx.manual("PRE-PLATFORM", "no facts gathered", remediation="Compare the OS with the SafeQ "
                          "Software requirements page.")
    dist = str(_fact(facts, "distribution", ""))
    if ctx.windows:
        name = dist
    else:
        name = ("%s %s" % (dist, _fact(facts, "distribution_version", ""))).strip()
    patterns = (ctx.cfg("supported_platforms", {}) or {}).get(ctx.platform) or []
    if _regex_any(patterns, name):
        return ctx.result("PRE-PLATFORM", "pass", "%s matches the supported platforms" % name)
    return ctx.result(
        "PRE-PLATFORM", "warn", "%s matches none of prerequisites_supported_platforms.%s (%s)"
        % (name or "unknown OS", ctx.platform, _short_list(patterns)),
        "Check the SafeQ 5 'Software requirements' page; if the OS is supported, add it to "
        "prerequisites_supported_platforms.")


def _web_servers(ctx):
    patterns = ctx.cfg("web_server_patterns", [])
    found = sorted({s["name"] for s in ctx.services if _regex_any(patterns, s["name"])
                    or _regex_any(patterns, s.get("display_name"))})
    found += sorted({p["name"] for p in ctx.software if _regex_any(patterns, p["name"])} - set(found))
    return found


def _installed_safeq_owner(ctx, record):
    return ctx.installed and owner_matches(record.get("process"), ctx.cfg("safeq_process_patterns", []))


def check_web80(ctx):
    records = ctx.listeners
    web = _web_servers(ctx)
    web_note = ("; web server software found but not on TCP 80: %s" % _short_list(web)) if web else ""
    if records is None:
        return ctx.manual("PRE-WEB-80", "%s%s" % (ctx.listeners_error, web_note),
                          question="Does any program other than SafeQ listen on TCP port 80?")
    on80 = [r for r in records if r["protocol"] == "tcp" and r["port"] == 80]
    foreign = [r for r in on80 if not _installed_safeq_owner(ctx, r)]
    if not on80:
        return ctx.result("PRE-WEB-80", "pass", "nothing listens on TCP 80%s" % web_note,
                          data={"web_servers": web})
    if not foreign:
        return ctx.result("PRE-WEB-80", "pass", "TCP 80 is held by SafeQ (%s)"
                          % _short_list(sorted({r["process"] for r in on80})))
    holders = ["%s pid %s on %s" % (r["process"] or "unknown process", r["pid"] if r["pid"] is not None else "?",
                                    r["address"]) for r in foreign]
    remediation = "Stop and disable the program listening on TCP 80, or move it to another port."
    if ctx.windows and any(r["pid"] == PID_HTTP_SYS for r in foreign):
        remediation += (" PID 4 (System) is HTTP.sys: 'netsh http show servicestate' shows which service (IIS "
                        "W3SVC, WinRM listeners on 80, SSRS, WSUS...) registered the URL.")
    phase = "after installation (not a SafeQ process)" if ctx.installed else "before installation"
    return ctx.result("PRE-WEB-80", "fail", "TCP 80 is in use %s: %s%s" % (phase, _short_list(holders), web_note),
                      remediation, data={"listeners": foreign, "web_servers": web})


def check_msi(ctx):
    if not ctx.cfg("embedded_mssql", False):
        return ctx.result("PRE-MSI-45", "not_applicable",
                          "embedded MS SQL Express is not used (prerequisites_embedded_mssql: false)")
    reg = ctx.gathered.get("msi")
    if not _reg_ok(reg):
        return ctx.manual("PRE-MSI-45", _reg_why(reg, "msi.dll version"),
                          question="Is Windows Installer 4.5 or later installed (version of msi.dll)?")
    info = reg.get("win_file_version") or {}
    raw = info.get("file_version_raw") or info.get("file_version") or ""
    try:
        major = int(info.get("file_major_part"))
        minor = int(info.get("file_minor_part"))
    except (TypeError, ValueError):
        match = re.search(r"(\d+)\.(\d+)", str(raw))
        if not match:
            return ctx.manual("PRE-MSI-45", "msi.dll version %r cannot be read" % raw)
        major, minor = int(match.group(1)), int(match.group(2))
    version = "%d.%d" % (major, minor)
    evidence = "msi.dll %s is Windows Installer %s" % (raw or version, version)
    if (major, minor) >= (4, 5):
        return ctx.result("PRE-MSI-45", "pass", evidence)
    return ctx.result("PRE-MSI-45", "fail", evidence + ", older than 4.5",
                      "Install Windows Installer 4.5 (KB942288) before the embedded MS SQL Express installation.")


def check_browser(ctx):
    patterns = ctx.cfg("browser_patterns", [])
    found = ["%s %s" % (p["name"], p["version"]) if p["version"] else p["name"]
             for p in ctx.software if _regex_any(patterns, p["name"])]
    if ctx.software_error and not found:
        return ctx.manual("PRE-BROWSER", ctx.software_error,
                          question="Is a current web browser (Edge, Chrome or Firefox) installed?")
    if found:
        return ctx.result("PRE-BROWSER", "pass", "installed: %s (that it is the latest release is not verified "
                          "offline)" % _short_list(found))
    return ctx.result("PRE-BROWSER", "warn", "no web browser matching prerequisites_browser_patterns found",
                      "Install the current Edge, Chrome or Firefox to use the SafeQ web interface on the server.")


def check_other_software(ctx):
    names = sorted({"%s %s" % (p["name"], p["version"]) if p["version"] else p["name"] for p in ctx.software})
    if ctx.software_error:
        evidence = ctx.software_error
    else:
        evidence = "%d installed %s listed in the JSON report (data.software)" % (
            len(names), "products" if ctx.windows else "packages")
    return ctx.result("PRE-OTHER-SW", "manual", evidence, data={"software": names},
                      question=CHECKS_BY_ID["PRE-OTHER-SW"]["question"],
                      answered_by=CHECKS_BY_ID["PRE-OTHER-SW"]["answered_by"])


def _ip_addresses(ctx):
    """[(interface, address, dynamic: bool|None)] or raise PrerequisiteError with the reason."""
    reg = ctx.gathered.get("ip")
    if not _reg_ok(reg):
        raise PrerequisiteError(_reg_why(reg, "IP address list"))
    result = []
    if ctx.windows:
        for item in reg.get("output") or []:
            if not isinstance(item, dict):
                continue
            origin = item.get("PrefixOrigin")
            if isinstance(origin, dict):
                origin = origin.get("String") or origin.get("Value")
            origin_text = {0: "Other", 1: "Manual", 2: "WellKnown", 3: "Dhcp", 4: "RouterAdvertisement"}.get(
                origin, origin) if isinstance(origin, int) else str(origin or "")
            result.append((str(item.get("InterfaceAlias") or ""), str(item.get("IPAddress") or ""),
                           origin_text.lower() == "dhcp"))
        return result
    try:
        interfaces = json.loads(reg.get("stdout") or "[]")
    except ValueError as exc:
        raise PrerequisiteError("'ip -j -4 addr show' output is not JSON: %s" % exc)
    for iface in interfaces:
        for info in iface.get("addr_info") or []:
            if info.get("family") not in (None, "inet"):
                continue
            lifetime = info.get("valid_life_time")
            dynamic = bool(info.get("dynamic")) or (isinstance(lifetime, int) and lifetime < 4294967295)
            result.append((str(iface.get("ifname") or ""), str(info.get("local") or ""), dynamic))
    return result


def check_static_ip(ctx):
    try:
        addresses = _ip_addresses(ctx)
    except PrerequisiteError as exc:
        return ctx.manual("PRE-STATIC-IP", str(exc),
                          question="Are the IP addresses of this server static (not DHCP)?")
    usable = [(i, a, d) for i, a, d in addresses if a and not is_loopback(a) and not a.startswith("169.254.")]
    if not usable:
        return ctx.manual("PRE-STATIC-IP", "no non-loopback IPv4 address found",
                          question="Which static IPv4 address will this server use?")
    dynamic = ["%s on %s" % (a, i) for i, a, d in usable if d]
    listed = _short_list("%s on %s" % (a, i) for i, a, d in usable)
    safeq_address = str(ctx.cfg("safeq_address") or "")
    try:
        ipaddress.ip_address(safeq_address)
    except ValueError:
        safeq_address = ""  # a host name (ansible_host) is not an address to compare
    if dynamic:
        return ctx.result("PRE-STATIC-IP", "fail", "address(es) assigned by DHCP: %s" % _short_list(dynamic),
                          "Configure a static IPv4 address (or a DHCP reservation documented as permanent and "
                          "turned into a static configuration) before MFPs and terminals are installed.",
                          data={"addresses": [{"interface": i, "address": a, "dhcp": d} for i, a, d in usable]})
    if safeq_address and safeq_address not in [u[1] for u in usable]:
        return ctx.result("PRE-STATIC-IP", "warn", "static addresses %s, but safeq_address %s is not one of them"
                          % (listed, safeq_address),
                          "Check safeq_address (it may be a NAT address) - terminals and MFPs are configured "
                          "with it.")
    return ctx.result("PRE-STATIC-IP", "pass", "static addresses: %s" % listed)


def check_shared_folder(ctx):
    share = ctx.cfg("install_share")
    if not share:
        return ctx.manual("PRE-SHARED-FOLDER", "safeq_install_share / prerequisites_install_share is not set")
    reg = ctx.gathered.get("share")
    if not _reg_ok(reg):
        return ctx.result("PRE-SHARED-FOLDER", "fail", "%s: %s" % (share, _reg_why(reg, "stat of the share")),
                          _share_remediation(ctx))
    stat = reg.get("stat") or {}
    if stat.get("exists") and stat.get("isdir", True):
        return ctx.result("PRE-SHARED-FOLDER", "pass", "%s is reachable from %s" % (share, ctx.host))
    what = "is not a folder" if stat.get("exists") else "is not reachable"
    return ctx.result("PRE-SHARED-FOLDER", "fail", "%s %s from %s" % (share, what, ctx.host), _share_remediation(ctx))


def _share_remediation(ctx):
    if ctx.windows:
        return ("Share the installation folder and grant the installing account read access. Over WinRM, NTLM "
                "and Kerberos without delegation cannot reach network shares (double hop): use CredSSP, "
                "Kerberos delegation or become to run this check.")
    return "Mount the shared installation folder at safeq_install_share on every CML node."


def check_hw_cpu(ctx):
    facts = ctx.facts
    vcpus = _fact(facts, "processor_vcpus")
    if not vcpus:
        cores, count, threads = (_fact(facts, "processor_cores"), _fact(facts, "processor_count"),
                                 _fact(facts, "processor_threads_per_core") or 1)
        if cores and count:
            vcpus = int(cores) * int(count) * int(threads)
    minimum = int(ctx.cfg("min_cpu_cores", 4))
    if not vcpus:
        return ctx.manual("PRE-HW-CPU", "processor facts missing",
                          question="Does the server have at least %d CPU cores?" % minimum)
    evidence = "%d logical CPU cores (minimum %d)" % (int(vcpus), minimum)
    if int(vcpus) >= minimum:
        return ctx.result("PRE-HW-CPU", "pass", evidence)
    return ctx.result("PRE-HW-CPU", "fail", evidence, "Give the server at least %d CPU cores (SafeQ Hardware "
                      "requirements)." % minimum)


def check_hw_mem(ctx):
    total = _fact(ctx.facts, "memtotal_mb")
    minimum = int(ctx.cfg("min_memory_mb", 8192))
    tolerance = float(ctx.cfg("memory_tolerance_percent", 5))
    if not total:
        return ctx.manual("PRE-HW-MEM", "memory facts missing",
                          question="Does the server have at least %d MiB of memory?" % minimum)
    floor = minimum * (1 - tolerance / 100.0)
    evidence = "%d MiB memory (minimum %d MiB, %g%% tolerance for firmware/kernel reservations)" % (
        int(total), minimum, tolerance)
    if int(total) >= floor:
        return ctx.result("PRE-HW-MEM", "pass", evidence)
    return ctx.result("PRE-HW-MEM", "fail", evidence, "Give the server at least %d MiB of memory." % minimum)


def _free_bytes(ctx, path):
    """(free bytes, where) for the volume holding ``path``; raise PrerequisiteError when unknown."""
    if ctx.windows:
        reg = ctx.gathered.get("disk")
        if not _reg_ok(reg):
            raise PrerequisiteError(_reg_why(reg, "disk facts"))
        disks = (reg.get("ansible_facts") or {}).get("disks") or reg.get("disks") or []
        match = re.match(r"^([A-Za-z]):", str(path))
        if not match:
            raise PrerequisiteError("install path %r has no drive letter" % path)
        letter = match.group(1).upper()
        for disk in disks:
            for part in disk.get("partitions") or []:
                if str(part.get("drive_letter") or "").upper().rstrip(":") != letter:
                    continue
                for vol in part.get("volumes") or []:
                    if vol.get("size_remaining") is not None:
                        return int(vol["size_remaining"]), "drive %s:" % letter
        raise PrerequisiteError("no volume with drive letter %s: in the disk facts" % letter)
    mounts = _fact(ctx.facts, "mounts") or []
    target = _norm_path(path, False)
    best = None
    for mount in mounts:
        point = _norm_path(mount.get("mount", ""), False)
        if target == point or point == "/" or target.startswith(point + "/"):
            if best is None or len(point) > len(_norm_path(best.get("mount", ""), False)):
                best = mount
    if best is None or best.get("size_available") is None:
        raise PrerequisiteError("no mount holding %s in the facts" % path)
    return int(best["size_available"]), "mount %s" % best.get("mount")


def check_hw_disk(ctx):
    path = ctx.cfg("install_path", "C:\\SafeQ5" if ctx.windows else "/opt")
    minimum = float(ctx.cfg("min_free_disk_gib", 40))
    try:
        free, where = _free_bytes(ctx, path)
    except PrerequisiteError as exc:
        return ctx.manual("PRE-HW-DISK", str(exc),
                          question="Is there at least %g GiB free for %s?" % (minimum, path))
    evidence = "%.1f GiB free on %s for %s (minimum %g GiB)" % (_gib(free), where, path, minimum)
    if _gib(free) >= minimum:
        return ctx.result("PRE-HW-DISK", "pass", evidence)
    return ctx.result("PRE-HW-DISK", "fail", evidence, "Free or add disk space: at least %g GiB." % minimum)


_APT_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) (.*?)(?: \[[^\]]*\])?\)")


def parse_apt_simulation(stdout):
    """[(package, new version, origins)] of an ``apt-get -s dist-upgrade`` that come from a security suite."""
    result = []
    for line in str(stdout or "").splitlines():
        match = _APT_INST.match(line)
        if match and "security" in match.group(4).lower():
            result.append((match.group(1), match.group(3), match.group(4)))
    return result


def parse_dnf_security(stdout):
    """[(advisory, severity, package)] of ``dnf -q updateinfo list --security``."""
    result = []
    for line in str(stdout or "").splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith(("Last metadata", "Updating", "Error")):
            result.append((fields[0], fields[1], fields[2]))
    return result


def check_patches(ctx):
    if not ctx.cfg("check_updates", True):
        return ctx.manual("PRE-PATCHES", "update search disabled (prerequisites_check_updates: false)",
                          question="Are the latest security patches installed?")
    if ctx.windows:
        reg = ctx.gathered.get("updates")
        if not _reg_ok(reg):
            return ctx.manual("PRE-PATCHES", _reg_why(reg, "win_updates search"),
                              question="Are the latest security patches installed (Windows Update / WSUS)?")
        updates = reg.get("updates") or {}
        found = sorted(updates.values(), key=lambda u: str(u.get("title")))
        if not found:
            return ctx.result("PRE-PATCHES", "pass", "Windows Update search found no missing security updates")
        names = ["KB%s" % ",".join(u.get("kb") or []) if u.get("kb") else str(u.get("title")) for u in found]
        return ctx.result("PRE-PATCHES", "fail", "%d missing security update(s): %s" % (len(found), _short_list(names)),
                          "Install the missing security updates (Windows Update / WSUS) and reboot if required.",
                          data={"updates": [{"title": u.get("title"), "kb": u.get("kb")} for u in found]})
    reg = ctx.gathered.get("updates_cmd")
    pkg_mgr = _fact(ctx.facts, "pkg_mgr")
    if not _reg_ok(reg):
        return ctx.manual("PRE-PATCHES", _reg_why(reg, "pending security update query (pkg_mgr %s)" % pkg_mgr),
                          question="Are the latest security patches installed?")
    if pkg_mgr == "apt":
        pending = ["%s %s" % (p[0], p[1]) for p in parse_apt_simulation(reg.get("stdout"))]
        source = "apt-get -s dist-upgrade (package lists as last refreshed on the host)"
    elif pkg_mgr in ("dnf", "dnf5", "yum"):
        pending = ["%s %s" % (a[0], a[2]) for a in parse_dnf_security(reg.get("stdout"))]
        source = "dnf updateinfo --security"
    else:
        return ctx.manual("PRE-PATCHES", "package manager %s is not supported by the check" % pkg_mgr,
                          question="Are the latest security patches installed?")
    if not pending:
        return ctx.result("PRE-PATCHES", "pass", "no pending security updates (%s)" % source)
    return ctx.result("PRE-PATCHES", "fail", "%d pending security update(s): %s" % (len(pending), _short_list(pending)),
                      "Install the pending security updates (this role only reports them).",
                      data={"pending": pending})


def check_av(ctx):
    wanted = list(ctx.cfg("av_exclusions", []) or [])
    av_patterns = ctx.cfg("av_product_patterns", [])
    third_party = sorted({p["name"] for p in ctx.software if _regex_any(av_patterns, p["name"])}
                         | {s["name"] for s in ctx.services if _regex_any(av_patterns, s["name"])})
    if not ctx.windows:
        if third_party:
            return ctx.manual("PRE-AV-EXCL", "antivirus software found: %s; exclusions of %s cannot be read "
                              "generically" % (_short_list(third_party), _short_list(wanted) or "(none configured)"))
        if ctx.software_error:
            return ctx.manual("PRE-AV-EXCL", ctx.software_error)
        return ctx.result("PRE-AV-EXCL", "pass", "no antivirus product matching prerequisites_av_product_patterns "
                          "installed")
    reg = ctx.gathered.get("av")
    if not _reg_ok(reg):
        return ctx.manual("PRE-AV-EXCL", "Microsoft Defender exclusions not readable (%s)%s"
                          % (_reg_why(reg, "Get-MpPreference"),
                             "; antivirus found: %s" % _short_list(third_party) if third_party else ""))
    output = [str(o) for o in (reg.get("output") or []) if o is not None]
    if any(o.startswith("N/A") for o in output):
        return ctx.manual("PRE-AV-EXCL", "Defender hides the exclusions from this account (%s)" % output[0],
                          remediation="Run the check as a local administrator.")
    missing = [w for w in wanted if not _path_covered(w, output, True)]
    if missing:
        return ctx.result("PRE-AV-EXCL", "fail", "Microsoft Defender has no exclusion for %s (exclusions: %s)"
                          % (_short_list(missing), _short_list(output) or "none"),
                          "Add the SafeQ folders to the antivirus exclusions as described on the SafeQ 'Antivirus "
                          "Settings' page (e.g. Add-MpPreference -ExclusionPath).",
                          data={"exclusions": output, "missing": missing})
    if third_party:
        return ctx.manual("PRE-AV-EXCL", "Defender excludes %s, but other antivirus software is installed: %s"
                          % (_short_list(wanted), _short_list(third_party)))
    return ctx.result("PRE-AV-EXCL", "pass", "Microsoft Defender excludes %s" % (_short_list(wanted) or "(nothing "
                      "required: prerequisites_av_exclusions is empty)"))


def check_interfering(ctx):
    rules = ctx.cfg("interfering_software", []) or []
    intended = ctx.cfg("intended_software", []) or []
    safeq = ctx.cfg("safeq_service_patterns", []) or []
    found, accepted = [], []
    # (name matched, where it was found, every name of the same item for the intended/SafeQ exemption)
    candidates = [(p["name"], "installed " + ("product" if ctx.windows else "package"), [p["name"]])
                  for p in ctx.software]
    for svc in ctx.services:
        names = [n for n in (svc["name"], svc.get("display_name")) if n]
        candidates.append((svc["name"], "service", names))
        if svc.get("display_name") and svc["display_name"] != svc["name"]:
            candidates.append((svc["display_name"], "service %s" % svc["name"], names))
    for rule in rules:
        if not isinstance(rule, dict) or not rule.get("pattern"):
            raise PrerequisiteError("prerequisites_interfering_software: %r needs name, category, pattern"
                                    % (rule,))
        if rule.get("platforms") and ctx.platform not in rule["platforms"]:
            continue
        for name, source, names in candidates:
            if not re.search(rule["pattern"], name, re.IGNORECASE):
                continue
            entry = "%s (%s: %s, %s)" % (name, rule.get("category", "software"), rule.get("name", rule["pattern"]),
                                         source)
            exempt = any(_regex_any(intended, n) or _regex_any(safeq, n) for n in names)
            if exempt or _regex_any(intended, rule.get("name")):
                if entry not in accepted:
                    accepted.append(entry)
            elif entry not in found:
                found.append(entry)
    note = ("; declared intended: %s" % _short_list(accepted)) if accepted else ""
    if found:
        return ctx.result("PRE-INTERFERING-SW", "fail", "interfering software: %s%s" % (_short_list(found), note),
                          "Remove it, or, if it is intended for SafeQ (e.g. the SafeQ database), add a pattern to "
                          "prerequisites_intended_software.", data={"found": found, "intended": accepted})
    if ctx.software_error and not ctx.services:
        return ctx.manual("PRE-INTERFERING-SW", ctx.software_error,
                          question="Is any other database or print solution installed on the server?")
    partial = (" (%s; services only)" % ctx.software_error) if ctx.software_error else ""
    return ctx.result("PRE-INTERFERING-SW", "pass", "no database or print software found%s%s" % (partial, note))


def check_extdb(ctx):
    external = ctx.cfg("external_database")
    if external is False:
        return ctx.result("PRE-EXTDB", "not_applicable",
                          "no external database (prerequisites_external_database: false)")
    cml_count = int(ctx.cfg("cml_count", 1) or 1)
    servers = ctx.cfg("database_servers") or []
    evidence = ("external database %s; expected for %d CML node(s): %d databases and %d service accounts, one "
                "named 'sync' (not checked automatically: needs a database driver and DBA credentials)"
                % ("servers %s" % _short_list(servers) if servers else "(safeq_database_servers not set)",
                   cml_count, 2 * cml_count, 2 * cml_count))
    if external is None:
        evidence = "unknown whether an external database is used (set prerequisites_external_database); " + evidence
    return ctx.manual("PRE-EXTDB", evidence)


def check_admin(ctx):
    if ctx.windows:
        reg = ctx.gathered.get("whoami")
        if not _reg_ok(reg):
            return ctx.manual("PRE-ADMIN", _reg_why(reg, "win_whoami"),
                              question="Is the installing account a local administrator?")
        account = reg.get("account") or {}
        name = "%s\\%s" % (account.get("domain_name") or "", account.get("account_name") or "?")
        label = (reg.get("label") or {}).get("sid")
        admins = [g for g in reg.get("groups") or [] if g.get("sid") == ADMINISTRATORS_SID]
        enabled = any("Enabled" in (g.get("attributes") or []) and "Use for deny only" not in (g.get("attributes") or [])
                      for g in admins)
        if account.get("sid") == SYSTEM_SID or enabled or label in ELEVATED_LABELS:
            return ctx.result("PRE-ADMIN", "pass", "%s has administrator rights (BUILTIN\\Administrators enabled, "
                              "integrity %s)" % (name, (reg.get("label") or {}).get("account_name") or label))
        why = ("member of Administrators only for deny (UAC filtered token)" if admins
               else "not a member of BUILTIN\\Administrators")
        return ctx.result("PRE-ADMIN", "fail", "%s is %s" % (name, why),
                          "Connect with a local administrator account (WinRM gives an elevated token to "
                          "administrators; for a filtered token use become: runas).")
    uid = _fact(ctx.facts, "effective_user_id")
    if uid is None:
        uid = _fact(ctx.facts, "user_uid")
    user = _fact(ctx.facts, "user_id") or "?"
    if uid is None:
        return ctx.manual("PRE-ADMIN", "user facts missing", question="Can the installing account become root?")
    if int(uid) == 0:
        return ctx.result("PRE-ADMIN", "pass", "tasks run as uid 0 (root; connecting user %s)" % user)
    return ctx.result("PRE-ADMIN", "fail", "tasks run as uid %s (%s), not root" % (uid, user),
                      "Connect as root or enable become (sudo) for the connecting account.")


def check_lpd(ctx):
    if ctx.windows:
        svc = [s for s in ctx.services if s["name"].lower() == LPD_SERVICE.lower()]
        reg = ctx.gathered.get("features_info")
        if _reg_ok(reg):
            installed = {f.get("name") for f in reg.get("features") or [] if f.get("installed")}
            print_server = sorted(installed & set(PRINT_SERVER_FEATURES))
            lpd = LPD_FEATURE in installed or bool(svc)
            if not print_server:
                return ctx.result("PRE-LPD", "pass", "the Print Server role is not installed%s"
                                  % (" (LPD service present: TCP 515 is checked by PRE-PORTS)" if lpd else ""))
            if lpd:
                return ctx.result("PRE-LPD", "fail", "Print Server role (%s) with the LPD service (%s)"
                                  % (", ".join(print_server), LPD_FEATURE if LPD_FEATURE in installed else LPD_SERVICE),
                                  "Remove the 'LPD Service' role service: Uninstall-WindowsFeature %s "
                                  "(SafeQ receives LPR jobs on TCP 515 itself)." % LPD_FEATURE)
            return ctx.result("PRE-LPD", "pass", "Print Server role installed without the LPD service")
        if svc:
            return ctx.result("PRE-LPD", "fail", "the LPD service (%s) is installed (features could not be read: %s)"
                              % (LPD_SERVICE, _reg_why(reg, "win_feature_info")),
                              "Remove the 'LPD Service' role service (%s)." % LPD_FEATURE)
        if ctx.services:
            return ctx.result("PRE-LPD", "pass", "no LPD service (%s) installed" % LPD_SERVICE)
        return ctx.manual("PRE-LPD", _reg_why(reg, "win_feature_info"),
                          question="Is the LPD Service role service installed together with the Print Server role?")
    if ctx.software_error:
        return ctx.manual("PRE-LPD", ctx.software_error, question="Is an LPD daemon installed?")
    lpd = sorted(p["name"] for p in ctx.software if p["name"] in LINUX_LPD_PACKAGES)
    if lpd:
        return ctx.result("PRE-LPD", "fail", "LPD daemon package(s) installed: %s" % ", ".join(lpd),
                          "Remove the LPD daemon: SafeQ receives LPR jobs on TCP 515 itself.")
    return ctx.result("PRE-LPD", "pass", "no LPD daemon package (%s) installed" % ", ".join(LINUX_LPD_PACKAGES))


def check_ports(ctx):
    """PRE-PORTS and PRE-PORTS-BIND from the expected listeners of the catalog."""
    expected = ctx.cfg("expected_listeners")
    error = ctx.cfg("expected_listeners_error")
    if expected is None or error:
        why = error or "expected SafeQ ports not given"
        return [ctx.manual("PRE-PORTS", why, question="Is any SafeQ port of this host used by another program?"),
                ctx.manual("PRE-PORTS-BIND", why)]
    records = ctx.listeners
    if records is None:
        return [ctx.manual("PRE-PORTS", ctx.listeners_error,
                           question="Is any SafeQ port of this host used by another program?"),
                ctx.manual("PRE-PORTS-BIND", ctx.listeners_error)]
    patterns = ctx.cfg("safeq_process_patterns", []) or []
    findings = judge_listeners(records, expected, owner_patterns=patterns, installed=ctx.installed,
                               components=ctx.components)
    # TCP 80 is PRE-WEB-80's
    conflicts = [f for f in findings if f["kind"] in ("conflict", "unknown_owner")
                 and not (f["protocol"] == "tcp" and f["port"] == 80)]
    exposed = [f for f in findings if f["kind"] == "exposed"]
    ports = sorted({(e["protocol"], str(e.get("port"))) for e in expected})
    phase = "after installation" if ctx.installed else "before installation"
    unresolved = ctx.cfg("unresolved_ports") or []
    skipped = ("; not checked (symbolic, no override): %s" % _short_list(unresolved)) if unresolved else ""
    results = []
    fails = [f for f in conflicts if f["status"] == "fail"]
    if fails:
        results.append(ctx.result(
            "PRE-PORTS", "fail", "%s: %s" % (phase, "; ".join(f["message"] + " [%s]" % ",".join(f["catalog_ids"])
                                                              for f in fails[:MAX_LIST])),
            "Stop, remove or reconfigure the program holding the port, or move the SafeQ port "
            "(safeq_port_overrides and the vendor property).", data={"findings": conflicts}))
    elif conflicts:
        results.append(ctx.result("PRE-PORTS", "warn", "; ".join(f["message"] for f in conflicts[:MAX_LIST]),
                                  "Run with administrator rights (become) so process owners can be read.",
                                  data={"findings": conflicts}))
    else:
        results.append(ctx.result("PRE-PORTS", "pass", "%d SafeQ port(s) of %s free or held by SafeQ (%s)%s"
                                  % (len(ports), "+".join(ctx.components) or "this host", phase, skipped)))
    if not ctx.installed:
        results.append(ctx.result("PRE-PORTS-BIND", "not_applicable", "SafeQ is not installed yet"))
    elif exposed:
        results.append(ctx.result("PRE-PORTS-BIND", "fail", "; ".join(f["message"] for f in exposed[:MAX_LIST]),
                                  "Set the named property to 127.0.0.1 and restart the SafeQ service; the firewall "
                                  "role also blocks these ports from the network.", data={"findings": exposed}))
    else:
        results.append(ctx.result("PRE-PORTS-BIND", "pass", "every localhost-only SafeQ port listens on loopback only"))
    return results


# ---- LDAP -----------------------------------------------------------------------------------

LDAP_ATTRIBUTE_CHECKS = (
    ("PRE-LDAP-ATTR-LOGIN", ("login",)),
    ("PRE-LDAP-ATTR-NAME", ("given_name", "surname")),
    ("PRE-LDAP-ATTR-DEPARTMENT", ("department",)),
    ("PRE-LDAP-ATTR-CARD", ("card_number",)),
    ("PRE-LDAP-ATTR-UID", ("unique_id",)),
    ("PRE-LDAP-ATTR-EMAIL", ("email",)),
)
LDAP_IDS = ("PRE-LDAP-SERVER", "PRE-LDAP-REACH", "PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS") + tuple(
    c[0] for c in LDAP_ATTRIBUTE_CHECKS) + ("PRE-LDAP-REPLICATION", "PRE-LDAP-BIND")


def _repr_field(text, key):
    """Value of ``key`` in the repr of a python-ldap error dict (quoted with ' or ")."""
    match = re.search(r"['\"]%s['\"]:\s*(?:'([^']*)'|\"([^\"]*)\")" % key, text)
    return (match.group(1) if match.group(1) is not None else match.group(2)) if match else None


def ldap_error_text(reg):
    """Readable reason of a failed community.general.ldap_search result (never holds the password)."""
    if not isinstance(reg, dict):
        return "no result"
    msg = str(reg.get("msg") or "failed")
    details = str(reg.get("details") or "")
    desc = _repr_field(details, "desc")
    code = re.search(r"['\"]result['\"]:\s*(-?\d+)", details)
    info = _repr_field(details, "info")
    parts = [msg.rstrip(".")]
    if desc:
        parts.append("%s%s" % (desc, " (LDAP result %s)" % code.group(1) if code else ""))
    if info:
        parts.append(info)
    if not desc and details:
        parts.append(_one_line(details, 200))
    return ": ".join(parts)


def _ldap_entries(reg):
    """Entries of every successful container search, deduplicated by DN."""
    entries = {}
    for res in (reg or {}).get("results") or []:
        if _reg_ok(res):
            for entry in res.get("results") or []:
                if isinstance(entry, dict) and entry.get("dn"):
                    entries.setdefault(_norm_dn(entry["dn"]), entry)
    return [entries[k] for k in sorted(entries)]


def _has_attr(entry, attr):
    for key, value in entry.items():
        if key.lower() == attr.lower():
            values = value if isinstance(value, list) else [value]
            return any(str(v).strip() for v in values if v is not None)
    return False


def check_ldap(ctx):
    ldap = ctx.ldap
    results = []
    server = ldap.get("server")
    if not server:
        for check_id in LDAP_IDS:
            if check_id == "PRE-LDAP-REPLICATION":
                results.append(_ldap_replication(ctx))
            else:
                results.append(ctx.manual(check_id, "LDAP is not configured (prerequisites_ldap_server unset)"))
        return results
    port = ldap.get("port")
    uri = ldap.get("uri") or "%s://%s:%s" % (ldap.get("scheme", "ldaps"), server, port)
    results.append(ctx.result("PRE-LDAP-SERVER", "pass", "primary LDAP server %s (%s)" % (server, uri)))

    reach = ctx.gathered.get("ldap_reach")
    if _reg_ok(reach):
        results.append(ctx.result("PRE-LDAP-REACH", "pass", "%s:%s accepts TCP connections from %s"
                                  % (server, port, ctx.host)))
    elif isinstance(reach, dict) and reach.get("failed"):
        results.append(ctx.result("PRE-LDAP-REACH", "fail", "%s:%s not reachable from %s: %s"
                                  % (server, port, ctx.host, _one_line(reach.get("msg") or "timeout")),
                                  "Open TCP %s from this host to the LDAP server (firewalls on both sides)." % port))
    else:
        results.append(ctx.manual("PRE-LDAP-REACH", _reg_why(reach, "LDAP reachability test")))

    if not ldap.get("bind_dn"):
        why = "no integration account given (prerequisites_ldap_bind_dn unset)"
        for check_id in ("PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS") + tuple(c[0] for c in LDAP_ATTRIBUTE_CHECKS):
            results.append(ctx.manual(check_id, why))
        results.append(_ldap_replication(ctx))
        results.append(ctx.manual("PRE-LDAP-BIND", why))
        return results

    rootdse = ctx.gathered.get("ldap_rootdse")
    bind_ok = _reg_ok(rootdse)
    if bind_ok:
        bind = ctx.result("PRE-LDAP-BIND", "pass", "%s bound to %s and read the root DSE" % (ldap["bind_dn"], uri))
    elif isinstance(rootdse, dict) and rootdse.get("failed"):
        text = ldap_error_text(rootdse)
        if "python-ldap" in text or "python_ldap" in text:
            bind = ctx.manual("PRE-LDAP-BIND", "cannot test the bind: %s" % text,
                              remediation="Install python-ldap on the controller (requirements.txt).")
        else:
            bind = ctx.result("PRE-LDAP-BIND", "fail", "bind as %s to %s failed: %s" % (ldap["bind_dn"], uri, text),
                              "Check the integration account DN and password (prerequisites_ldap_bind_dn / "
                              "_bind_password), that it is not locked, and the TLS settings.")
    else:
        bind = ctx.manual("PRE-LDAP-BIND", _reg_why(rootdse, "LDAP bind"))
    blocked = None if bind_ok else "not verified: the LDAP bind did not succeed (see PRE-LDAP-BIND)"

    # domains
    domains = list(ldap.get("domains") or [])
    contexts = []
    if bind_ok:
        for entry in rootdse.get("results") or []:
            for key in ("namingContexts", "defaultNamingContext", "rootDomainNamingContext"):
                for attr, value in entry.items():
                    if attr.lower() == key.lower():
                        contexts += value if isinstance(value, list) else [value]
    contexts_norm = {_norm_dn(c) for c in contexts}
    if blocked:
        results.append(ctx.manual("PRE-LDAP-DOMAINS", blocked))
    elif not domains:
        results.append(ctx.manual("PRE-LDAP-DOMAINS", "no domains configured (prerequisites_ldap_domains); "
                                  "the server's naming contexts: %s" % (_short_list(contexts) or "none")))
    else:
        missing = [d for d in domains if _norm_dn(domain_to_dn(d)) not in contexts_norm]
        if missing:
            results.append(ctx.result("PRE-LDAP-DOMAINS", "fail", "domain(s) %s not served by %s (naming contexts: %s)"
                                      % (_short_list(missing), server, _short_list(contexts) or "none"),
                                      "Check the domain names, or point SafeQ at a server (global catalog, port 3268) "
                                      "that serves all of them."))
        else:
            results.append(ctx.result("PRE-LDAP-DOMAINS", "pass", "%s serves %s" % (server, _short_list(domains))))

    # containers
    containers = list(ldap.get("user_containers") or [])
    search = ctx.gathered.get("ldap_users") or {}
    per_container = {}
    for res in search.get("results") or []:
        if isinstance(res, dict):
            per_container[_norm_dn(res.get("item") or "")] = res
    if blocked:
        results.append(ctx.manual("PRE-LDAP-CONTAINERS", blocked))
    elif not containers:
        results.append(ctx.manual("PRE-LDAP-CONTAINERS", "no user containers configured "
                                  "(prerequisites_ldap_user_containers)"))
    else:
        missing, errors, counts = [], [], []
        for dn in containers:
            res = per_container.get(_norm_dn(dn))
            if _reg_ok(res):
                counts.append("%s (%d users)" % (dn, len(res.get("results") or [])))
            elif isinstance(res, dict) and "Base not found" in str(res.get("msg")):
                missing.append(dn)
            else:
                errors.append("%s: %s" % (dn, ldap_error_text(res) if isinstance(res, dict) and res.get("failed")
                                          else _reg_why(res, "search")))
        if missing or errors:
            results.append(ctx.result("PRE-LDAP-CONTAINERS", "fail", "; ".join(
                (["container(s) not found: %s" % _short_list(missing)] if missing else []) + errors
                + (["found: %s" % _short_list(counts)] if counts else [])),
                "Correct prerequisites_ldap_user_containers (the DNs must exist and be readable by the "
                "integration account).", data={"missing": missing}))
        else:
            results.append(ctx.result("PRE-LDAP-CONTAINERS", "pass", "found: %s" % _short_list(counts)))

    # attributes of the users found
    entries = _ldap_entries(search) if not blocked else []
    attributes = ldap.get("attributes") or {}
    user_filter = ldap.get("user_filter") or "(objectClass=*)"
    for check_id, keys in LDAP_ATTRIBUTE_CHECKS:
        if blocked:
            results.append(ctx.manual(check_id, blocked))
            continue
        names = [attributes.get(k) for k in keys]
        if not all(names):
            unset = [k for k, n in zip(keys, names) if not n]
            seen = sorted({a for e in entries for a in e if a != "dn"})
            results.append(ctx.manual(check_id, "attribute not configured (prerequisites_ldap_attributes.%s); "
                                      "attributes on the sampled users: %s" % ("/".join(unset), _short_list(seen) or
                                                                               "none")))
            continue
        if not entries:
            results.append(ctx.result(check_id, "warn", "no users found with %s under the containers" % user_filter,
                                      "Check prerequisites_ldap_user_filter and the containers."))
            continue
        lacking = [e["dn"] for e in entries if not all(_has_attr(e, n) for n in names)]
        label = " and ".join(names)
        total = len(entries)
        if not lacking:
            results.append(ctx.result(check_id, "pass", "all %d sampled users carry %s" % (total, label)))
        elif len(lacking) == total:
            results.append(ctx.result(check_id, "fail", "none of the %d sampled users carries %s" % (total, label),
                                      "Check the attribute name in prerequisites_ldap_attributes and that the "
                                      "integration account may read it.", data={"missing": lacking[:50]}))
        else:
            results.append(ctx.result(check_id, "warn", "%d of %d sampled users lack %s: %s"
                                      % (len(lacking), total, label, _short_list(lacking, 5)),
                                      "Fill in %s for these users, or accept that they cannot use the feature." % label,
                                      data={"missing": lacking[:50]}))
    results.append(_ldap_replication(ctx))
    results.append(bind)
    return results


def _ldap_replication(ctx):
    schedule = (ctx.ldap or {}).get("replication") or {}
    if schedule.get("full") or schedule.get("differential"):
        return ctx.result("PRE-LDAP-REPLICATION", "pass", "agreed schedule: full %s, differential %s"
                          % (schedule.get("full") or "-", schedule.get("differential") or "-"))
    return ctx.manual("PRE-LDAP-REPLICATION", "no replication schedule recorded")


# ---- orchestration --------------------------------------------------------------------------

HOST_CHECKS = (
    ("PRE-PLATFORM", check_platform),
    ("PRE-WEB-80", check_web80),
    ("PRE-MSI-45", check_msi),
    ("PRE-BROWSER", check_browser),
    ("PRE-OTHER-SW", check_other_software),
    ("PRE-STATIC-IP", check_static_ip),
    ("PRE-SHARED-FOLDER", check_shared_folder),
    ("PRE-HW-CPU", check_hw_cpu),
    ("PRE-HW-MEM", check_hw_mem),
    ("PRE-HW-DISK", check_hw_disk),
    ("PRE-PATCHES", check_patches),
    ("PRE-AV-EXCL", check_av),
    ("PRE-INTERFERING-SW", check_interfering),
    ("PRE-EXTDB", check_extdb),
    ("PRE-ADMIN", check_admin),
    ("PRE-LPD", check_lpd),
    (("PRE-PORTS", "PRE-PORTS-BIND"), check_ports),
    (LDAP_IDS, check_ldap),
)


def _not_applicable_reason(ctx, check):
    if ctx.platform not in check["platforms"]:
        return "only for %s hosts" % "/".join(check["platforms"])
    if check["components"] and not set(check["components"]) & set(ctx.components):
        return "only for %s hosts (this host: %s)" % (
            "/".join(check["components"]), "+".join(ctx.components) or "no SafeQ component")
    if check["id"] in (ctx.cfg("skip", []) or []):
        return "skipped by prerequisites_skip"
    return None


def evaluate_host(gathered, config):
    """Return the results of every per-host check (sorted like CHECKS) for one host."""
    ctx = Context(gathered, config)
    results = []
    for ids, func in HOST_CHECKS:
        ids = (ids,) if isinstance(ids, str) else ids
        reasons = {i: _not_applicable_reason(ctx, CHECKS_BY_ID[i]) for i in ids}
        if all(reasons.values()):
            results += [ctx.result(i, "not_applicable", reasons[i]) for i in ids]
            continue
        produced = func(ctx)
        produced = produced if isinstance(produced, list) else [produced]
        for res in produced:
            reason = reasons.get(res["id"])
            if reason:
                res = ctx.result(res["id"], "not_applicable", reason)
            results.append(res)
    order = {c["id"]: n for n, c in enumerate(CHECKS)}
    return sorted(results, key=lambda r: order[r["id"]])


# ---- expected listeners from the catalog ----------------------------------------------------

class _HostView:
    """The attributes of a topology host that policy.expected_listeners needs."""

    def __init__(self, components, features, overrides):
        self.components = set(components)
        self.features = set(features or [])
        self.overrides = dict(overrides or {})


def expected_listeners(entries, components, features, overrides=None):
    """Inbound ports this host listens on, from the policy core: (expected, unresolved).

    Only entries of the host's components whose condition (feature) is enabled: a port of an unused
    feature held by another program is no conflict.
    """
    from ansible_collections.safeq.hardening.plugins.plugin_utils import policy

    return policy.expected_listeners(entries, _HostView(components, features, overrides))


# ---- run level ------------------------------------------------------------------------------

def _run_ctx():
    return Context({}, {"host": RUN_HOST, "platform": "any", "components": list(COMPONENTS)})


def evaluate_topology(cml_hosts, features, near_roaming_groups):
    """PRE-TOPOLOGY-* results from the lead's topology.limit_errors."""
    from ansible_collections.safeq.hardening.plugins.plugin_utils.topology import (
        NEAR_ROAMING_GROUP_LIMIT,
        TERMINAL_CLUSTER_LIMITS,
        limit_errors,
    )

    ctx = _run_ctx()
    features = set(features or [])
    results = []
    terminal_errors = limit_errors(list(cml_hosts), features, {})
    used = sorted(f for f in TERMINAL_CLUSTER_LIMITS if f in features)
    if terminal_errors:
        results.append(ctx.result("PRE-TOPOLOGY-TERMINALS", "fail", "; ".join(terminal_errors),
                                  "Split the CML nodes into smaller clusters or use another terminal type."))
    else:
        results.append(ctx.result("PRE-TOPOLOGY-TERMINALS", "pass", "%d CML node(s); terminal features: %s (limits %s)"
                                  % (len(cml_hosts), ", ".join(used) or "none",
                                     ", ".join("%s %d" % kv for kv in sorted(TERMINAL_CLUSTER_LIMITS.items())))))
    roaming_errors = limit_errors([], set(), dict(near_roaming_groups or {}))
    if roaming_errors:
        results.append(ctx.result("PRE-TOPOLOGY-NEAR-ROAMING", "fail", "; ".join(roaming_errors),
                                  "Split the ORS into near-roaming groups of at most %d (safeq_near_roaming_group)."
                                  % NEAR_ROAMING_GROUP_LIMIT))
    elif near_roaming_groups:
        results.append(ctx.result("PRE-TOPOLOGY-NEAR-ROAMING", "pass", "groups: %s (limit %d)" % (
            ", ".join("%s=%d" % (g, len(m)) for g, m in sorted(near_roaming_groups.items())),
            NEAR_ROAMING_GROUP_LIMIT)))
    else:
        results.append(ctx.result("PRE-TOPOLOGY-NEAR-ROAMING", "not_applicable", "no near-roaming groups defined"))
    return results


def connect_result(host, reason):
    ctx = _run_ctx()
    res = ctx.result("PRE-CONNECT", "fail", "%s: %s" % (host, reason),
                     "Make the host reachable (connection, credentials) and run the playbook again.")
    res["host"] = host
    return res


def summarize(results):
    counts = {s: 0 for s in STATUSES}
    for res in results:
        counts[res["status"]] += 1
    counts["total"] = len(results)
    counts["mandatory_failures"] = sum(1 for r in results if r["status"] == "fail" and r["mandatory"])
    return counts


# ---- documentation --------------------------------------------------------------------------

AUTOMATION_TEXT = {
    "automated": "automated",
    "conditional": "automated when configured, else manual",
    "manual": "manual (facts gathered as evidence)",
}


def _mandatory_text(check):
    value = check["mandatory"]
    if isinstance(value, (tuple, list)):
        return "on %s hosts" % "/".join(value)
    return "yes" if value else "no"


def mapping_rows():
    """Rows (line number, checklist line, check id, automation, platforms, components, mandatory)."""
    rows = []
    for number, line in enumerate(CHECKLIST, start=1):
        checks = [c for c in CHECKS if c["line"] == number]
        if not checks:
            rows.append((number, line, "-", "heading: %s" % HEADINGS[number], "-", "-", "-"))
        for check in checks:
            rows.append((number, line, check["id"], AUTOMATION_TEXT[check["automation"]], "/".join(check["platforms"]),
                         "/".join(check["components"]) if check["components"] else "all", _mandatory_text(check)))
    for check in CHECKS:
        if check["line"] is None:
            rows.append((None, check["item"], check["id"], AUTOMATION_TEXT[check["automation"]],
                         "/".join(check["platforms"]),
                         "/".join(check["components"]) if check["components"] else "all", _mandatory_text(check)))
    return rows


def mapping_table_markdown():
    """The README table: checklist line (verbatim) -> check id -> automated/manual -> platforms."""
    out = ["| # | Checklist line (verbatim) | Check id | Automated / manual | Platforms | Components | Mandatory |",
           "|---|---|---|---|---|---|---|"]
    for number, line, check_id, automation, platforms, components, mandatory in mapping_rows():
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            number if number else "issue", line.replace("|", "\\|"), check_id, automation, platforms, components,
            mandatory))
    return "\n".join(out) + "\n"
