# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installed software checks: browser, other software, antivirus, interfering software, external database, LPD."""

from __future__ import annotations

import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.context import PrerequisiteError
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check

PRINT_SERVER_FEATURES = ("Print-Services", "Print-Server")
LPD_FEATURE = "Print-LPD-Service"
LPD_SERVICE = "LPDSVC"
LINUX_LPD_PACKAGES = ("lpr", "lprng", "cups-lpd", "rlpr")


def _label(item):
    return "%s %s" % (item["name"], item["version"]) if item["version"] else item["name"]


@check("PRE-BROWSER")
def browser(ctx):
    patterns = ctx.cfg("browser_patterns")
    found = [_label(p) for p in ctx.software if G.regex_any(patterns, p["name"])]
    if ctx.software_error and not found:
        return ctx.manual("PRE-BROWSER", ctx.software_error)
    if found:
        return ctx.result("PRE-BROWSER", "pass", "installed: %s (that it is the latest release is not verified "
                          "offline)" % G.short_list(found))
    return ctx.result("PRE-BROWSER", "warn", "no web browser matching prerequisites_browser_patterns found",
                      "Install the current Edge, Chrome or Firefox to use the SafeQ web interface on the server.")


@check("PRE-OTHER-SW")
def other_software(ctx):
    names = sorted({_label(p) for p in ctx.software})
    if ctx.software_error:
        evidence = ctx.software_error
    else:
        evidence = "%d installed %s listed in the JSON report (data.software)" % (
            len(names), "products" if ctx.windows else "packages")
    return ctx.manual("PRE-OTHER-SW", evidence, data={"software": names})


def _windows_av(ctx, wanted, third_party):
    reg = ctx.gathered.get("av")
    if not G.ok(reg):
        return ctx.manual("PRE-AV-EXCL", "Microsoft Defender exclusions not readable (%s)%s"
                          % (G.why(reg, "Get-MpPreference"),
                             "; antivirus found: %s" % G.short_list(third_party) if third_party else ""))
    output = [str(o) for o in (reg.get("output") or []) if o is not None]
    if any(o.startswith("N/A") for o in output):
        return ctx.manual("PRE-AV-EXCL", "Defender hides the exclusions from this account (%s)" % output[0],
                          remediation="Run the check as a local administrator.")
    missing = [w for w in wanted if not G.path_covered(w, output, True)]
    if missing:
        return ctx.result("PRE-AV-EXCL", "fail", "Microsoft Defender has no exclusion for %s (exclusions: %s)"
                          % (G.short_list(missing), G.short_list(output) or "none"),
                          "Add the SafeQ folders to the antivirus exclusions as described on the SafeQ 'Antivirus "
                          "Settings' page (e.g. Add-MpPreference -ExclusionPath).",
                          data={"exclusions": output, "missing": missing})
    if third_party:
        return ctx.manual("PRE-AV-EXCL", "Defender excludes %s, but other antivirus software is installed: %s"
                          % (G.short_list(wanted), G.short_list(third_party)))
    return ctx.result("PRE-AV-EXCL", "pass", "Microsoft Defender excludes %s" % (
        G.short_list(wanted) or "(nothing required: prerequisites_av_exclusions is empty)"))


@check("PRE-AV-EXCL")
def antivirus(ctx):
    wanted = list(ctx.cfg("av_exclusions") or [])
    patterns = ctx.cfg("av_product_patterns")
    third_party = sorted({p["name"] for p in ctx.software if G.regex_any(patterns, p["name"])}
                         | {s["name"] for s in ctx.services if G.regex_any(patterns, s["name"])})
    if ctx.windows:
        return _windows_av(ctx, wanted, third_party)
    if third_party:
        return ctx.manual("PRE-AV-EXCL", "antivirus software found: %s; exclusions of %s cannot be read "
                          "generically" % (G.short_list(third_party), G.short_list(wanted) or "(none configured)"))
    if ctx.software_error:
        return ctx.manual("PRE-AV-EXCL", ctx.software_error)
    return ctx.result("PRE-AV-EXCL", "pass", "no antivirus product matching prerequisites_av_product_patterns "
                      "installed")


def _candidates(ctx):
    """(name matched, where it was found, every name of the same item for the intended/SafeQ exemption)."""
    kind = "installed " + ("product" if ctx.windows else "package")
    candidates = [(p["name"], kind, [p["name"]]) for p in ctx.software]
    for svc in ctx.services:
        names = [n for n in (svc["name"], svc.get("display_name")) if n]
        candidates.append((svc["name"], "service", names))
        if svc.get("display_name") and svc["display_name"] != svc["name"]:
            candidates.append((svc["display_name"], "service %s" % svc["name"], names))
    return candidates


@check("PRE-INTERFERING-SW")
def interfering(ctx):
    intended = ctx.cfg("intended_software") or []
    safeq = ctx.cfg("safeq_service_patterns") or []
    found, accepted = [], []
    candidates = _candidates(ctx)
    for rule in ctx.cfg("interfering_software") or []:
        if not isinstance(rule, dict) or not rule.get("pattern"):
            raise PrerequisiteError("prerequisites_interfering_software: %r needs name, category, pattern" % (rule,))
        if rule.get("platforms") and ctx.platform not in rule["platforms"]:
            continue
        for name, source, names in candidates:
            if not re.search(rule["pattern"], name, re.IGNORECASE):
                continue
            entry = "%s (%s: %s, %s)" % (name, rule.get("category", "software"), rule.get("name", rule["pattern"]),
                                         source)
            exempt = any(G.regex_any(intended, n) or G.regex_any(safeq, n) for n in names)
            target = accepted if exempt or G.regex_any(intended, rule.get("name")) else found
            if entry not in target:
                target.append(entry)
    note = ("; declared intended: %s" % G.short_list(accepted)) if accepted else ""
    if found:
        return ctx.result("PRE-INTERFERING-SW", "fail", "interfering software: %s%s" % (G.short_list(found), note),
                          "Remove it, or, if it is intended for SafeQ (e.g. the SafeQ database), add a pattern to "
                          "prerequisites_intended_software.", data={"found": found, "intended": accepted})
    if ctx.software_error and not ctx.services:
        return ctx.manual("PRE-INTERFERING-SW", ctx.software_error)
    partial = (" (%s; services only)" % ctx.software_error) if ctx.software_error else ""
    return ctx.result("PRE-INTERFERING-SW", "pass", "no database or print software found%s%s" % (partial, note))


@check("PRE-EXTDB")
def external_database(ctx):
    external = ctx.cfg("external_database")
    if external is False:
        return ctx.result("PRE-EXTDB", "not_applicable", "no external database (prerequisites_external_database: false)")
    nodes = ctx.view["cml_nodes"] or [ctx.host]
    servers = (ctx.view["networks"] or {}).get("safeq_database_servers") or []
    evidence = ("external database %s; expected for the %d CML node(s) of cluster %s: %d databases and %d service "
                "accounts, one named 'sync' (not checked automatically: needs a database driver and DBA credentials)"
                % ("servers %s" % G.short_list(servers) if servers else "(safeq_database_servers not set)",
                   len(nodes), ctx.view["cml_cluster"], 2 * len(nodes), 2 * len(nodes)))
    if external is None:
        evidence = "unknown whether an external database is used (set prerequisites_external_database); " + evidence
    return ctx.manual("PRE-EXTDB", evidence, data={"cml_nodes": list(nodes), "database_servers": list(servers)})


def _windows_lpd(ctx):
    svc = [s for s in ctx.services if s["name"].lower() == LPD_SERVICE.lower()]
    reg = ctx.gathered.get("features_info")
    if G.ok(reg):
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
                          % (LPD_SERVICE, G.why(reg, "win_feature_info")),
                          "Remove the 'LPD Service' role service (%s)." % LPD_FEATURE)
    if ctx.services:
        return ctx.result("PRE-LPD", "pass", "no LPD service (%s) installed" % LPD_SERVICE)
    return ctx.manual("PRE-LPD", G.why(reg, "win_feature_info"))


@check("PRE-LPD")
def lpd(ctx):
    if ctx.windows:
        return _windows_lpd(ctx)
    if ctx.software_error:
        return ctx.manual("PRE-LPD", ctx.software_error, question="Is an LPD daemon installed?")
    found = sorted(p["name"] for p in ctx.software if p["name"] in LINUX_LPD_PACKAGES)
    if found:
        return ctx.result("PRE-LPD", "fail", "LPD daemon package(s) installed: %s" % ", ".join(found),
                          "Remove the LPD daemon: SafeQ receives LPR jobs on TCP 515 itself.")
    return ctx.result("PRE-LPD", "pass", "no LPD daemon package (%s) installed" % ", ".join(LINUX_LPD_PACKAGES))
