# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network checks: TCP 80, the host's SafeQ ports (the plan's expected listeners), static addresses, the share."""

from __future__ import annotations

from ansible_collections.safeq.hardening.plugins.module_utils.listeners import is_loopback
from ansible_collections.safeq.hardening.plugins.plugin_utils.evaluate import judge_listeners, owner_matches
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import commands as C
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check

PID_HTTP_SYS = 4


def _web_servers(ctx):
    patterns = ctx.cfg("web_server_patterns")
    found = sorted({s["name"] for s in ctx.services
                    if G.regex_any(patterns, s["name"]) or G.regex_any(patterns, s.get("display_name"))})
    found += sorted({p["name"] for p in ctx.software if G.regex_any(patterns, p["name"])} - set(found))
    return found


@check("PRE-WEB-80")
def web80(ctx):
    records = ctx.listeners
    web = _web_servers(ctx)
    web_note = ("; web server software found but not on TCP 80: %s" % G.short_list(web)) if web else ""
    if records is None:
        return ctx.manual("PRE-WEB-80", "%s%s" % (ctx.listeners_error, web_note))
    on80 = [r for r in records if r["protocol"] == "tcp" and r["port"] == 80]
    safeq = ctx.cfg("safeq_process_patterns")
    foreign = [r for r in on80 if not (ctx.installed and owner_matches(r.get("process"), safeq))]
    if not on80:
        return ctx.result("PRE-WEB-80", "pass", "nothing listens on TCP 80%s" % web_note, data={"web_servers": web})
    if not foreign:
        return ctx.result("PRE-WEB-80", "pass", "TCP 80 is held by SafeQ (%s)"
                          % G.short_list(sorted({r["process"] for r in on80})))
    holders = ["%s pid %s on %s" % (r["process"] or "unknown process", r["pid"] if r["pid"] is not None else "?",
                                    r["address"]) for r in foreign]
    remediation = "Stop and disable the program listening on TCP 80, or move it to another port."
    if ctx.windows and any(r["pid"] == PID_HTTP_SYS for r in foreign):
        remediation += (" PID 4 (System) is HTTP.sys: 'netsh http show servicestate' shows which service (IIS "
                        "W3SVC, WinRM listeners on 80, SSRS, WSUS...) registered the URL.")
    phase = "after installation (not a SafeQ process)" if ctx.installed else "before installation"
    return ctx.result("PRE-WEB-80", "fail", "TCP 80 is in use %s: %s%s" % (phase, G.short_list(holders), web_note),
                      remediation, data={"listeners": foreign, "web_servers": web})


def _socket_key(finding):
    return finding["protocol"], finding["port"], finding["address"], finding["pid"]


def _unresolved_note(unresolved):
    names = ["%s (%s)" % (u.get("catalog_id"), u.get("setting")) if isinstance(u, dict) else str(u) for u in unresolved]
    return ("; not checked (symbolic port without safeq_port_overrides): %s" % G.short_list(names)) if names else ""


def _bind_result(ctx, records, expected, findings, conflicts):
    exposed = [f for f in findings if f["kind"] == "exposed"]
    hardened = [dict(e, bind="localhost") for e in expected if e.get("bind") == "any" and e.get("exposure") == "warn"]
    taken = {_socket_key(f) for f in conflicts}
    everywhere = [f for f in judge_listeners(records, hardened, components=ctx.components)
                  if f["kind"] == "exposed" and _socket_key(f) not in taken]
    if exposed:
        return ctx.result("PRE-PORTS-BIND", "fail", "; ".join(f["message"] for f in exposed[:G.MAX_LIST]),
                          "Set the named property to 127.0.0.1 and restart the SafeQ service; the firewall "
                          "role also blocks these ports from the network.", data={"findings": exposed})
    if everywhere:
        sockets = ["%s/%s on %s (%s, %s)" % (f["protocol"], f["port"], f["address"], f["process"] or "unknown process",
                                             ",".join(f["catalog_ids"])) for f in everywhere]
        return ctx.result("PRE-PORTS-BIND", "warn", "SafeQ listens on every interface on ports the plan keeps from "
                          "other hosts (the vendor binds them so): %s" % G.short_list(sockets),
                          "Run the harden playbook: the host firewall denies these ports from the network.",
                          data={"findings": everywhere})
    return ctx.result("PRE-PORTS-BIND", "pass", "every localhost-only SafeQ port of the plan listens on loopback only")


@check("PRE-PORTS", "PRE-PORTS-BIND")
def ports(ctx):
    """PRE-PORTS and PRE-PORTS-BIND from the host's expected listeners in the plan."""
    expected = ctx.view["expected_listeners"]
    records = ctx.listeners
    if records is None:
        return [ctx.manual("PRE-PORTS", ctx.listeners_error), ctx.manual("PRE-PORTS-BIND", ctx.listeners_error)]
    findings = judge_listeners(records, expected, owner_patterns=ctx.cfg("safeq_process_patterns") or [],
                               installed=ctx.installed, components=ctx.components)
    # TCP 80 is PRE-WEB-80's
    conflicts = [f for f in findings if f["kind"] in ("conflict", "unknown_owner")
                 and not (f["protocol"] == "tcp" and f["port"] == 80)]
    phase = "after installation" if ctx.installed else "before installation"
    fails = [f for f in conflicts if f["status"] == "fail"]
    if fails:
        result = ctx.result(
            "PRE-PORTS", "fail", "%s: %s" % (phase, "; ".join("%s [%s]" % (f["message"], ",".join(f["catalog_ids"]))
                                                              for f in fails[:G.MAX_LIST])),
            "Stop, remove or reconfigure the program holding the port, or move the SafeQ port "
            "(safeq_port_overrides and the vendor property).", data={"findings": conflicts})
    elif conflicts:
        result = ctx.result("PRE-PORTS", "warn", "; ".join(f["message"] for f in conflicts[:G.MAX_LIST]),
                            "Run with administrator rights (become) so process owners can be read.",
                            data={"findings": conflicts})
    else:
        count = len({(e["protocol"], str(p)) for e in expected for p in e["ports"]})
        result = ctx.result("PRE-PORTS", "pass", "%d SafeQ port(s) of %s free or held by SafeQ (%s)%s" % (
            count, "+".join(ctx.components), phase, _unresolved_note(ctx.view["unresolved"])))
    if not ctx.installed:
        return [result, ctx.result("PRE-PORTS-BIND", "not_applicable", "SafeQ is not installed yet")]
    return [result, _bind_result(ctx, records, expected, findings, conflicts)]


@check("PRE-STATIC-IP")
def static_ip(ctx):
    try:
        addresses = C.ip_addresses(ctx.gathered.get("ip"), ctx.windows)
    except C.CommandOutputError as exc:
        return ctx.manual("PRE-STATIC-IP", str(exc))
    usable = [(i, a, d) for i, a, d in addresses if a and not is_loopback(a) and not a.startswith("169.254.")]
    if not usable:
        return ctx.manual("PRE-STATIC-IP", "no non-loopback IPv4 address found",
                          question="Which static IPv4 address will this server use?")
    dynamic = ["%s on %s" % (a, i) for i, a, d in usable if d]
    listed = G.short_list("%s on %s" % (a, i) for i, a, d in usable)
    planned = ctx.view["address"]
    if dynamic:
        return ctx.result("PRE-STATIC-IP", "fail", "address(es) assigned by DHCP: %s" % G.short_list(dynamic),
                          "Configure a static IPv4 address (or a DHCP reservation documented as permanent and "
                          "turned into a static configuration) before MFPs and terminals are installed.",
                          data={"addresses": [{"interface": i, "address": a, "dhcp": d} for i, a, d in usable]})
    if planned not in [u[1] for u in usable]:
        return ctx.result("PRE-STATIC-IP", "warn", "static addresses %s, but the plan's address of the host (%s) is "
                          "not one of them" % (listed, planned),
                          "Check safeq_address / ansible_host (it may be a NAT address): firewall rules, terminals "
                          "and MFPs use it.")
    return ctx.result("PRE-STATIC-IP", "pass", "static addresses: %s (the plan uses %s)" % (listed, planned))


def _share_remediation(ctx):
    if ctx.windows:
        return ("Share the installation folder and grant the installing account read access. Over WinRM, NTLM "
                "and Kerberos without delegation cannot reach network shares (double hop): use CredSSP, "
                "Kerberos delegation or become to run this check.")
    return "Mount the shared installation folder at prerequisites_install_share on every CML node."


@check("PRE-SHARED-FOLDER")
def shared_folder(ctx):
    share = ctx.cfg("install_share")
    if not share:
        return ctx.manual("PRE-SHARED-FOLDER", "prerequisites_install_share is not set")
    reg = ctx.gathered.get("share")
    if not G.ok(reg):
        return ctx.result("PRE-SHARED-FOLDER", "fail", "%s: %s" % (share, G.why(reg, "stat of the share")),
                          _share_remediation(ctx))
    stat = reg.get("stat") or {}
    if stat.get("exists") and stat.get("isdir", True):
        return ctx.result("PRE-SHARED-FOLDER", "pass", "%s is reachable from %s" % (share, ctx.host))
    what = "is not a folder" if stat.get("exists") else "is not reachable"
    return ctx.result("PRE-SHARED-FOLDER", "fail", "%s %s from %s" % (share, what, ctx.host), _share_remediation(ctx))
