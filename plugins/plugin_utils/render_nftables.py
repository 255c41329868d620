# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one host's policy as a complete nftables table, loaded atomically with `nft -f`.

The file first creates the table if missing, deletes it, then defines it again: one transaction
that replaces only our table and never touches other tables.
"""

from __future__ import annotations

TABLE_FAMILY = "inet"
TABLE_NAME = "safeq_hardening"
OUTBOUND_DEFAULTS = ("accept", "drop")
# ipv6-icmp by number (58): minimal systems have no /etc/protocols to resolve its name
ICMP_RULES = ["meta l4proto icmp accept", "meta l4proto 58 accept"]


class RenderError(ValueError):
    """A render option is invalid; the message names it."""


def _set(items):
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def _match(rule, address_key):
    parts = []
    addresses = [a for a in rule["addresses"] if a != "any"]
    if addresses:
        parts.append("ip %s %s" % (address_key, _set(addresses)))
    parts.append("%s dport %s" % (rule["protocol"], _set(rule["ports"])))
    return " ".join(parts)


def _comment(rule):
    return 'comment "%s"' % rule["name"][:120].replace('"', "'")


def render_table(policy, outbound_default="accept", allow_icmp=True):
    """Return the nft script (text) for ``policy`` (one host's Policy object)."""
    if outbound_default not in OUTBOUND_DEFAULTS:
        raise RenderError("outbound_default: %r is not one of %s" % (outbound_default, ", ".join(OUTBOUND_DEFAULTS)))
    table = "%s %s" % (TABLE_FAMILY, TABLE_NAME)
    mgmt = policy["management"]
    inbound = [
        "type filter hook input priority filter; policy drop;",
        "ct state established,related accept",
        "ct state invalid drop",
        'iif "lo" accept',
        "%s accept comment \"management\"" % _match(
            {"addresses": mgmt["addresses"], "protocol": mgmt["protocol"], "ports": mgmt["ports"]}, "saddr"),
    ]
    if allow_icmp:
        inbound += ICMP_RULES
    outbound = [
        "type filter hook output priority filter; policy %s;" % outbound_default,
        "ct state established,related accept",
        'oif "lo" accept',
    ]
    if allow_icmp:
        outbound += ICMP_RULES
    for rule in policy["rules"]:
        if rule["direction"] == "inbound":
            if rule["action"] == "deny":
                guard = ""
                if "self" in rule.get("except", ()):
                    guard = "ip saddr != %s " % policy["address"]
                inbound.append("%s%s drop %s" % (guard, _match(rule, "saddr"), _comment(rule)))
            else:
                inbound.append("%s accept %s" % (_match(rule, "saddr"), _comment(rule)))
        elif rule["action"] == "allow":
            outbound.append("%s accept %s" % (_match(rule, "daddr"), _comment(rule)))
        else:
            outbound.append("%s drop %s" % (_match(rule, "daddr"), _comment(rule)))
    lines = [
        "#!/usr/sbin/nft -f",
        "# Managed by safeq.hardening for %s (%s). Re-run the harden playbook to change it." % (
            policy["host"], policy["address"]),
        "table %s" % table,
        "delete table %s" % table,
        "table %s {" % table,
        "\tchain input {",
    ]
    lines += ["\t\t" + line for line in inbound]
    lines += ["\t}", "\tchain output {"]
    lines += ["\t\t" + line for line in outbound]
    lines += ["\t}", "}", ""]
    return "\n".join(lines)
