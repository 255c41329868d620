# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one host's policy as a complete nftables table, loaded atomically with `nft -f`.

The file first creates the table if missing, deletes it, then defines it again: one transaction
that replaces only our table and never touches other tables. Every value printed into the script
is validated here (addresses, ports, names), so a policy from any source cannot inject statements.

Input chain order: loopback, then the deny rules (JMX, RMI, Tomcat shutdown: they also cut
connections that were open before hardening), then established/related, the management port,
ICMP/IGMP and the allow rules.
"""

from __future__ import annotations

import ipaddress
import re

TABLE_FAMILY = "inet"
TABLE_NAME = "safeq_hardening"
OUTBOUND_DEFAULTS = ("accept", "drop")
# ipv6-icmp by number (58): minimal systems have no /etc/protocols to resolve its name
ICMP_RULES = ["meta l4proto icmp accept", "meta l4proto 58 accept"]
IGMP_RULE = "meta l4proto igmp accept"
COMMENT_MAX_BYTES = 128
SET_THRESHOLD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+:/()-]*\Z")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}\Z")
_PORT_RANGE = re.compile(r"^([0-9]+)-([0-9]+)$")
MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")


class RenderError(ValueError):
    """A policy value or render option cannot be rendered safely; the message names it."""


def _port(value, field):
    if isinstance(value, bool):
        raise RenderError("%s: %r is not a port" % (field, value))
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        low = high = int(value)
    elif isinstance(value, str) and _PORT_RANGE.match(value):
        low, high = (int(x) for x in _PORT_RANGE.match(value).groups())
    else:
        raise RenderError("%s: %r is not a port or an 'a-b' range" % (field, value))
    if not (1 <= low <= high <= 65535):
        raise RenderError("%s: %r is outside 1-65535 or runs backwards" % (field, value))
    return str(low) if low == high else "%d-%d" % (low, high)


def _ports(values, field):
    if not isinstance(values, list) or not values:
        raise RenderError("%s: must be a non-empty list of ports" % field)
    if values == ["any"]:
        return None
    return [_port(v, "%s[%d]" % (field, i)) for i, v in enumerate(values)]


_CANONICAL = {}


def _address(value, field):
    """Canonical IPv4 address/CIDR string; validated once per distinct value."""
    found = _CANONICAL.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        raise RenderError("%s: %r is not an IPv4 address or network" % (field, value))
    if net.version != 4:
        raise RenderError("%s: %r is not IPv4" % (field, value))
    text = str(net.network_address) if net.prefixlen == 32 else str(net)
    if len(_CANONICAL) < 200000:
        _CANONICAL[value] = text
    return text


_CANONICAL_LISTS = {}


def _addresses(values, field):
    if not isinstance(values, list):
        raise RenderError("%s: must be a list of addresses" % field)
    if "any" in values:
        if values != ["any"]:
            raise RenderError("%s: 'any' must be the only item" % field)
        return None
    key = None
    if len(values) > SET_THRESHOLD:
        # long lists (peer sets) recur in many hosts' policies: validate each distinct list once
        try:
            key = tuple(values)
            found = _CANONICAL_LISTS.get(key)
        except TypeError:
            key = found = None
        if found is not None:
            return list(found)
    result = []
    for index, value in enumerate(values):
        text = _CANONICAL.get(value) if isinstance(value, str) else None
        result.append(text if text is not None else _address(value, "%s[%d]" % (field, index)))
    if key is not None and len(_CANONICAL_LISTS) < 10000:
        _CANONICAL_LISTS[key] = tuple(result)
    return result


def _comment(text, field):
    if not isinstance(text, str) or not _NAME.match(text):
        raise RenderError("%s: %r is not a rule name (letters, digits, space, . _ @ + : / ( ) -)" % (field, text))
    if len(text.encode("utf-8")) > COMMENT_MAX_BYTES:
        raise RenderError("%s: %r is longer than nft's %d-byte comment limit" % (field, text, COMMENT_MAX_BYTES))
    return 'comment "%s"' % text


def _set_text(items):
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


class _Sets:
    """Named sets for long address lists, shared by every rule that uses the same list."""

    def __init__(self):
        self.names = {}
        self.lines = []

    def ref(self, items):
        if len(items) <= SET_THRESHOLD:
            return _set_text(items)
        key = tuple(items)
        if key not in self.names:
            name = "addresses_%d" % (len(self.names) + 1)
            self.names[key] = name
            self.lines += ["\tset %s {" % name, "\t\ttype ipv4_addr", "\t\tflags interval",
                           "\t\telements = { %s }" % ", ".join(items), "\t}"]
        return "@" + self.names[key]


def _match(sets, rule, field, inbound):
    """The match part of a rule, or None when the rule has no address (it matches nothing)."""
    remote_key, local_key = ("saddr", "daddr") if inbound else ("daddr", "saddr")
    parts = []
    remote = _addresses(rule.get("addresses"), field + ".addresses")
    if remote == []:
        return None
    if remote:
        parts.append("ip %s %s" % (remote_key, sets.ref(remote)))
    if rule.get("local_addresses"):
        local = _addresses(rule["local_addresses"], field + ".local_addresses")
        if local:
            parts.append("ip %s %s" % (local_key, sets.ref(local)))
    protocol = rule.get("protocol")
    if protocol not in ("tcp", "udp"):
        raise RenderError("%s.protocol: %r is not tcp or udp" % (field, protocol))
    if rule.get("remote_ports"):
        if not inbound:
            raise RenderError("%s.remote_ports: only inbound rules match a remote port" % field)
        remote_ports = _ports(rule["remote_ports"], field + ".remote_ports")
        if remote_ports:
            parts.append("%s sport %s" % (protocol, _set_text(remote_ports)))
    ports = _ports(rule.get("ports"), field + ".ports")
    if ports:
        parts.append("%s dport %s" % (protocol, _set_text(ports)))
    return " ".join(parts) if parts[-1:] and protocol in parts[-1] else " ".join(parts + ["meta l4proto %s" % protocol])


_SELF = "\x00self\x00"


def render_table(policy, outbound_default="accept", allow_icmp=True, cache=None):
    """Return the nft script (text) for ``policy`` (one host's policy object); RenderError when unsafe.

    ``cache`` (a dict kept by the caller) shares the rendered rules between hosts whose policies share
    the same rules list object, as the policy core produces them.
    """
    if outbound_default not in OUTBOUND_DEFAULTS:
        raise RenderError("outbound_default: %r is not one of %s" % (outbound_default, ", ".join(OUTBOUND_DEFAULTS)))
    if not isinstance(policy, dict):
        raise RenderError("policy: must be a mapping (one host's policy)")
    host = policy.get("host")
    if not isinstance(host, str) or not _HOST.match(host):
        raise RenderError("policy.host: %r is not a host name (A-Z a-z 0-9 . _ -)" % (host,))
    where = "policy[%s]" % host
    address = _address(policy.get("address"), where + ".address")
    mgmt = policy.get("management")
    if not isinstance(mgmt, dict):
        raise RenderError("%s.management: missing" % where)
    rules = policy.get("rules")
    if not isinstance(rules, list):
        raise RenderError("%s.rules: must be a list" % where)
    key = (id(rules), repr(mgmt), outbound_default, allow_icmp)
    found = cache.get(key) if cache is not None else None
    if found is None or found[0] is not rules:
        body = _body(rules, mgmt, where, outbound_default, allow_icmp)
        if cache is not None:
            cache[key] = (rules, body)
    else:
        body = found[1]
    header = [
        "#!/usr/sbin/nft -f",
        "# Managed by safeq.hardening for %s (%s). Re-run the harden playbook to change it." % (host, address),
        "table %s %s" % (TABLE_FAMILY, TABLE_NAME),
        "delete table %s %s" % (TABLE_FAMILY, TABLE_NAME),
        "",
    ]
    return "\n".join(header) + body.replace(_SELF, address)


def _body(rules, mgmt, where, outbound_default, allow_icmp):
    sets = _Sets()
    deny, inbound, outbound = [], [], []
    multicast = False
    mgmt_match = _match(sets, {"addresses": mgmt.get("addresses"), "protocol": mgmt.get("protocol", "tcp"),
                               "ports": mgmt.get("ports")}, where + ".management", True)
    for index, rule in enumerate(rules):
        field = "%s.rules[%d]" % (where, index)
        if not isinstance(rule, dict):
            raise RenderError("%s: must be a mapping" % field)
        action, direction = rule.get("action"), rule.get("direction")
        if action not in ("allow", "deny") or direction not in ("inbound", "outbound"):
            raise RenderError("%s: action %r / direction %r not allow|deny / inbound|outbound" % (field, action, direction))
        comment = _comment(rule.get("name"), field + ".name")
        match = _match(sets, rule, field, direction == "inbound")
        if match is None:
            continue  # no address: the rule matches nothing
        for local in rule.get("local_addresses") or []:
            if local != "any" and ipaddress.ip_network(local).subnet_of(MULTICAST):
                multicast = True
        if direction == "inbound" and action == "deny":
            exceptions = rule.get("except") or []
            if any(e not in ("loopback", "self") for e in exceptions):
                raise RenderError("%s.except: %r; only loopback and self are known" % (field, exceptions))
            guard = "ip saddr != %s " % _SELF if "self" in exceptions else ""
            deny.append("%s%s drop %s" % (guard, match, comment))
        elif direction == "inbound":
            inbound.append("%s accept %s" % (match, comment))
        else:
            outbound.append("%s %s %s" % (match, "accept" if action == "allow" else "drop", comment))
    input_chain = [
        "type filter hook input priority filter; policy drop;",
        'iif "lo" accept',
    ] + deny + [
        "ct state established,related accept",
        "ct state invalid drop",
        '%s accept comment "management"' % mgmt_match,
    ]
    if allow_icmp:
        input_chain += ICMP_RULES
    if multicast:
        input_chain.append(IGMP_RULE)
    input_chain += inbound
    output_chain = [
        "type filter hook output priority filter; policy %s;" % outbound_default,
        "ct state established,related accept",
        'oif "lo" accept',
    ]
    if allow_icmp:
        output_chain += ICMP_RULES
    if multicast:
        output_chain.append(IGMP_RULE)
    output_chain += outbound
    lines = ["table %s %s {" % (TABLE_FAMILY, TABLE_NAME)]
    lines += sets.lines
    lines += ["\tchain input {"] + ["\t\t" + line for line in input_chain] + ["\t}"]
    lines += ["\tchain output {"] + ["\t\t" + line for line in output_chain] + ["\t}"]
    lines += ["}", ""]
    return "\n".join(lines)
