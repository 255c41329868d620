# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operating system checks: supported platform, administrator rights, security patches, Windows Installer."""

from __future__ import annotations

import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import commands as C
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check

ADMINISTRATORS_SID = "S-1-5-32-544"
ELEVATED_LABELS = ("S-1-16-12288", "S-1-16-16384")  # High, System mandatory level
SYSTEM_SID = "S-1-5-18"


@check("PRE-PLATFORM")
def platform(ctx):
    facts = ctx.facts
    if not facts:
        return ctx.manual("PRE-PLATFORM", "no facts gathered",
                          remediation="Compare the OS with the SafeQ Software requirements page.")
    dist = str(G.fact(facts, "distribution", ""))
    name = dist if ctx.windows else ("%s %s" % (dist, G.fact(facts, "distribution_version", ""))).strip()
    planned = ctx.view["platform"]
    if planned != ctx.platform:
        return ctx.result(
            "PRE-PLATFORM", "warn", "%s is a %s host, but the plan renders a %s firewall for it"
            % (name or "the host", ctx.platform, planned),
            "Set safeq_platform: %s for this host in the inventory (the connection does not tell the plan)."
            % ctx.platform)
    patterns = (ctx.cfg("supported_platforms") or {}).get(ctx.platform) or []
    if G.regex_any(patterns, name):
        return ctx.result("PRE-PLATFORM", "pass", "%s matches the supported platforms" % name)
    return ctx.result(
        "PRE-PLATFORM", "warn", "%s matches none of prerequisites_supported_platforms.%s (%s)"
        % (name or "unknown OS", ctx.platform, G.short_list(patterns)),
        "Check the SafeQ 5 'Software requirements' page; if the OS is supported, add it to "
        "prerequisites_supported_platforms.")


def _windows_admin(ctx):
    reg = ctx.gathered.get("whoami")
    if not G.ok(reg):
        return ctx.manual("PRE-ADMIN", G.why(reg, "win_whoami"))
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


@check("PRE-ADMIN")
def admin(ctx):
    if ctx.windows:
        return _windows_admin(ctx)
    uid = G.fact(ctx.facts, "effective_user_id")
    if uid is None:
        uid = G.fact(ctx.facts, "user_uid")
    user = G.fact(ctx.facts, "user_id") or "?"
    if uid is None:
        return ctx.manual("PRE-ADMIN", "user facts missing", question="Can the installing account become root?")
    if int(uid) == 0:
        return ctx.result("PRE-ADMIN", "pass", "tasks run as uid 0 (root; connecting user %s)" % user)
    return ctx.result("PRE-ADMIN", "fail", "tasks run as uid %s (%s), not root" % (uid, user),
                      "Connect as root or enable become (sudo) for the connecting account.")


def _windows_patches(ctx):
    reg = ctx.gathered.get("updates")
    if not G.ok(reg):
        return ctx.manual("PRE-PATCHES", G.why(reg, "win_updates search"))
    found = sorted((reg.get("updates") or {}).values(), key=lambda u: str(u.get("title")))
    if not found:
        return ctx.result("PRE-PATCHES", "pass", "Windows Update search found no missing security updates")
    names = ["KB%s" % ",".join(u.get("kb") or []) if u.get("kb") else str(u.get("title")) for u in found]
    return ctx.result("PRE-PATCHES", "fail", "%d missing security update(s): %s" % (len(found), G.short_list(names)),
                      "Install the missing security updates (Windows Update / WSUS) and reboot if required.",
                      data={"updates": [{"title": u.get("title"), "kb": u.get("kb")} for u in found]})


@check("PRE-PATCHES")
def patches(ctx):
    if not ctx.cfg("check_updates"):
        return ctx.manual("PRE-PATCHES", "update search disabled (prerequisites_check_updates: false)")
    if ctx.windows:
        return _windows_patches(ctx)
    reg = ctx.gathered.get("updates_cmd")
    pkg_mgr = G.fact(ctx.facts, "pkg_mgr")
    if not G.ok(reg):
        return ctx.manual("PRE-PATCHES", G.why(reg, "pending security update query (pkg_mgr %s)" % pkg_mgr))
    if pkg_mgr == "apt":
        pending = ["%s %s" % (p[0], p[1]) for p in C.parse_apt_simulation(reg.get("stdout"))]
        source = "apt-get -s dist-upgrade (package lists as last refreshed on the host)"
    elif pkg_mgr in ("dnf", "dnf5", "yum"):
        pending = ["%s %s" % (a[0], a[2]) for a in C.parse_dnf_security(reg.get("stdout"))]
        source = "dnf updateinfo --security"
    else:
        return ctx.manual("PRE-PATCHES", "package manager %s is not supported by the check" % pkg_mgr)
    if not pending:
        return ctx.result("PRE-PATCHES", "pass", "no pending security updates (%s)" % source)
    return ctx.result("PRE-PATCHES", "fail", "%d pending security update(s): %s" % (len(pending),
                                                                                    G.short_list(pending)),
                      "Install the pending security updates (this role only reports them).", data={"pending": pending})


@check("PRE-MSI-45")
def windows_installer(ctx):
    if not ctx.cfg("embedded_mssql"):
        return ctx.result("PRE-MSI-45", "not_applicable",
                          "embedded MS SQL Express is not used (prerequisites_embedded_mssql: false)")
    reg = ctx.gathered.get("msi")
    if not G.ok(reg):
        return ctx.manual("PRE-MSI-45", G.why(reg, "msi.dll version"))
    info = reg.get("win_file_version") or {}
    raw = info.get("file_version_raw") or info.get("file_version") or ""
    try:
        major, minor = int(info.get("file_major_part")), int(info.get("file_minor_part"))
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
