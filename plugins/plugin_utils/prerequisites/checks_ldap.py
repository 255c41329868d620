# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP checks (checklist lines 19-29) from community.general.ldap_search results and a reachability test.

The LDAP settings never hold the bind password; the error texts of failed searches are python-ldap's
(``desc``, ``info``, result code), which do not contain it.
"""

from __future__ import annotations

import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G
from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites.registry import check

ATTRIBUTE_CHECKS = (
    ("PRE-LDAP-ATTR-LOGIN", ("login",)),
    ("PRE-LDAP-ATTR-NAME", ("given_name", "surname")),
    ("PRE-LDAP-ATTR-DEPARTMENT", ("department",)),
    ("PRE-LDAP-ATTR-CARD", ("card_number",)),
    ("PRE-LDAP-ATTR-UID", ("unique_id",)),
    ("PRE-LDAP-ATTR-EMAIL", ("email",)),
)
ATTRIBUTE_IDS = tuple(c[0] for c in ATTRIBUTE_CHECKS)
LDAP_IDS = ("PRE-LDAP-SERVER", "PRE-LDAP-REACH", "PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS") + ATTRIBUTE_IDS + (
    "PRE-LDAP-REPLICATION", "PRE-LDAP-BIND")
ROOTDSE_CONTEXTS = ("namingContexts", "defaultNamingContext", "rootDomainNamingContext")


def domain_to_dn(domain):
    parts = [p for p in str(domain).strip().strip(".").split(".") if p]
    return ",".join("dc=%s" % p for p in parts)


def norm_dn(dn):
    return ",".join(part.strip().lower() for part in str(dn).split(","))


def _repr_field(text, key):
    """Value of ``key`` in the repr of a python-ldap error dict (quoted with ' or ")."""
    match = re.search(r"['\"]%s['\"]:\s*(?:'([^']*)'|\"([^\"]*)\")" % key, text)
    return (match.group(1) if match.group(1) is not None else match.group(2)) if match else None


def ldap_error_text(reg):
    """Readable reason of a failed community.general.ldap_search result."""
    if not isinstance(reg, dict):
        return "no result"
    details = str(reg.get("details") or "")
    desc = _repr_field(details, "desc")
    code = re.search(r"['\"]result['\"]:\s*(-?\d+)", details)
    info = _repr_field(details, "info")
    parts = [str(reg.get("msg") or "failed").rstrip(".")]
    if desc:
        parts.append("%s%s" % (desc, " (LDAP result %s)" % code.group(1) if code else ""))
    if info:
        parts.append(info)
    if not desc and details:
        parts.append(G.one_line(details, 200))
    return ": ".join(parts)


def _entries(reg):
    """Entries of every successful container search, deduplicated by DN."""
    entries = {}
    for res in (reg or {}).get("results") or []:
        if G.ok(res):
            for entry in res.get("results") or []:
                if isinstance(entry, dict) and entry.get("dn"):
                    entries.setdefault(norm_dn(entry["dn"]), entry)
    return [entries[k] for k in sorted(entries)]


def _has_attr(entry, attr):
    for key, value in entry.items():
        if key.lower() == attr.lower():
            values = value if isinstance(value, list) else [value]
            return any(str(v).strip() for v in values if v is not None)
    return False


def _replication(ctx):
    schedule = ctx.ldap.get("replication") or {}
    if schedule.get("full") or schedule.get("differential"):
        return ctx.result("PRE-LDAP-REPLICATION", "pass", "agreed schedule: full %s, differential %s"
                          % (schedule.get("full") or "-", schedule.get("differential") or "-"))
    return ctx.manual("PRE-LDAP-REPLICATION", "no replication schedule recorded")


def _reach(ctx, server, port):
    reach = ctx.gathered.get("ldap_reach")
    if G.ok(reach):
        return ctx.result("PRE-LDAP-REACH", "pass", "%s:%s accepts TCP connections from %s" % (server, port, ctx.host))
    if isinstance(reach, dict) and reach.get("failed"):
        return ctx.result("PRE-LDAP-REACH", "fail", "%s:%s not reachable from %s: %s"
                          % (server, port, ctx.host, G.one_line(reach.get("msg") or "timeout")),
                          "Open TCP %s from this host to the LDAP server (firewalls on both sides)." % port)
    return ctx.manual("PRE-LDAP-REACH", G.why(reach, "LDAP reachability test"))


def _bind(ctx, uri):
    rootdse = ctx.gathered.get("ldap_rootdse")
    bind_dn = ctx.ldap["bind_dn"]
    if G.ok(rootdse):
        return ctx.result("PRE-LDAP-BIND", "pass", "%s bound to %s and read the root DSE" % (bind_dn, uri)), True
    if isinstance(rootdse, dict) and rootdse.get("failed"):
        text = ldap_error_text(rootdse)
        if "python-ldap" in text or "python_ldap" in text:
            return ctx.manual("PRE-LDAP-BIND", "cannot test the bind: %s" % text,
                              remediation="Install python-ldap on the controller (requirements.txt)."), False
        return ctx.result("PRE-LDAP-BIND", "fail", "bind as %s to %s failed: %s" % (bind_dn, uri, text),
                          "Check the integration account DN and password (prerequisites_ldap_bind_dn / "
                          "_bind_password), that it is not locked, and the TLS settings."), False
    return ctx.manual("PRE-LDAP-BIND", G.why(rootdse, "LDAP bind")), False


def _domains(ctx, server):
    contexts = []
    for entry in ctx.gathered["ldap_rootdse"].get("results") or []:
        for key in ROOTDSE_CONTEXTS:
            for attr, value in entry.items():
                if attr.lower() == key.lower():
                    contexts += value if isinstance(value, list) else [value]
    domains = list(ctx.ldap.get("domains") or [])
    if not domains:
        return ctx.manual("PRE-LDAP-DOMAINS", "no domains configured (prerequisites_ldap_domains); the server's "
                          "naming contexts: %s" % (G.short_list(contexts) or "none"))
    known = {norm_dn(c) for c in contexts}
    missing = [d for d in domains if norm_dn(domain_to_dn(d)) not in known]
    if missing:
        return ctx.result("PRE-LDAP-DOMAINS", "fail", "domain(s) %s not served by %s (naming contexts: %s)"
                          % (G.short_list(missing), server, G.short_list(contexts) or "none"),
                          "Check the domain names, or point SafeQ at a server (global catalog, port 3268) that "
                          "serves all of them.")
    return ctx.result("PRE-LDAP-DOMAINS", "pass", "%s serves %s" % (server, G.short_list(domains)))


def _containers(ctx):
    containers = list(ctx.ldap.get("user_containers") or [])
    if not containers:
        return ctx.manual("PRE-LDAP-CONTAINERS", "no user containers configured (prerequisites_ldap_user_containers)")
    per_container = {norm_dn(r.get("item") or ""): r for r in (ctx.gathered.get("ldap_users") or {}).get("results") or []
                     if isinstance(r, dict)}
    missing, errors, counts = [], [], []
    for dn in containers:
        res = per_container.get(norm_dn(dn))
        if G.ok(res):
            counts.append("%s (%d users)" % (dn, len(res.get("results") or [])))
        elif isinstance(res, dict) and "Base not found" in str(res.get("msg")):
            missing.append(dn)
        else:
            errors.append("%s: %s" % (dn, ldap_error_text(res) if isinstance(res, dict) and res.get("failed")
                                      else G.why(res, "search")))
    if missing or errors:
        return ctx.result("PRE-LDAP-CONTAINERS", "fail", "; ".join(
            (["container(s) not found: %s" % G.short_list(missing)] if missing else []) + errors
            + (["found: %s" % G.short_list(counts)] if counts else [])),
            "Correct prerequisites_ldap_user_containers (the DNs must exist and be readable by the integration "
            "account).", data={"missing": missing})
    return ctx.result("PRE-LDAP-CONTAINERS", "pass", "found: %s" % G.short_list(counts))


def _attribute(ctx, check_id, keys, entries):
    names = [(ctx.ldap.get("attributes") or {}).get(k) for k in keys]
    if not all(names):
        unset = [k for k, n in zip(keys, names) if not n]
        seen = sorted({a for e in entries for a in e if a != "dn"})
        return ctx.manual(check_id, "attribute not configured (prerequisites_ldap_attributes.%s); attributes on the "
                          "sampled users: %s" % ("/".join(unset), G.short_list(seen) or "none"))
    if not entries:
        return ctx.result(check_id, "warn", "no users found with %s under the containers"
                          % (ctx.ldap.get("user_filter") or "(objectClass=*)"),
                          "Check prerequisites_ldap_user_filter and the containers.")
    lacking = [e["dn"] for e in entries if not all(_has_attr(e, n) for n in names)]
    label, total = " and ".join(names), len(entries)
    if not lacking:
        return ctx.result(check_id, "pass", "all %d sampled users carry %s" % (total, label))
    if len(lacking) == total:
        return ctx.result(check_id, "fail", "none of the %d sampled users carries %s" % (total, label),
                          "Check the attribute name in prerequisites_ldap_attributes and that the integration "
                          "account may read it.", data={"missing": lacking[:50]})
    return ctx.result(check_id, "warn", "%d of %d sampled users lack %s: %s"
                      % (len(lacking), total, label, G.short_list(lacking, 5)),
                      "Fill in %s for these users, or accept that they cannot use the feature." % label,
                      data={"missing": lacking[:50]})


@check(*LDAP_IDS)
def ldap(ctx):
    settings = ctx.ldap
    server = settings.get("server")
    if not server:
        why = "LDAP is not configured (prerequisites_ldap_server empty and no address in safeq_ldap_servers)"
        return [_replication(ctx) if i == "PRE-LDAP-REPLICATION" else ctx.manual(i, why) for i in LDAP_IDS]
    port = settings.get("port")
    uri = settings.get("uri") or "ldaps://%s:%s" % (server, port)
    results = {"PRE-LDAP-SERVER": ctx.result("PRE-LDAP-SERVER", "pass", "primary LDAP server %s (%s)" % (server, uri)),
               "PRE-LDAP-REACH": _reach(ctx, server, port),
               "PRE-LDAP-REPLICATION": _replication(ctx)}
    if not settings.get("bind_dn"):
        why = "no integration account given (prerequisites_ldap_bind_dn unset)"
        results.update({i: ctx.manual(i, why) for i in ("PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS", "PRE-LDAP-BIND")
                        + ATTRIBUTE_IDS})
        return [results[i] for i in LDAP_IDS]
    results["PRE-LDAP-BIND"], bound = _bind(ctx, uri)
    if not bound:
        blocked = "not verified: the LDAP bind did not succeed (see PRE-LDAP-BIND)"
        results.update({i: ctx.manual(i, blocked) for i in ("PRE-LDAP-DOMAINS", "PRE-LDAP-CONTAINERS") + ATTRIBUTE_IDS})
        return [results[i] for i in LDAP_IDS]
    results["PRE-LDAP-DOMAINS"] = _domains(ctx, server)
    results["PRE-LDAP-CONTAINERS"] = _containers(ctx)
    entries = _entries(ctx.gathered.get("ldap_users"))
    for check_id, keys in ATTRIBUTE_CHECKS:
        results[check_id] = _attribute(ctx, check_id, keys, entries)
    return [results[i] for i in LDAP_IDS]
