# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a Windows host's recorded firewall state against its Policy object (pure Python).

``evaluate_firewall(policy, state)`` answers, for every inbound port of the policy, who can really
reach it, following the documented Windows Firewall semantics (see docs/windows-effective-policy.md):

* An inbound connection is allowed when an enabled allow rule that applies in the profile matches
  it and no enabled block rule matches it: block beats allow, allow rules only add. Allow rules
  set to override block rules need IPsec authentication; they are evaluated as plain allow rules
  and reported (warn).
* A rule applies in a profile when its Profile covers it (Any covers all). The evaluated profiles
  are the categories of the active connection profiles; when none is reported, all three are
  evaluated and a warning says so.
* A profile that is off filters nothing, nor does an active interface listed in the profile's
  DisabledInterfaceAliases; DefaultInboundAction Allow admits everything that no block
  rule matches; AllowInboundRules False ignores every allow rule. In those profiles every finding fails.
* AllowLocalFirewallRules False (Group Policy, no local policy merge): only rules from the Group
  Policy, MDM, generated and hard-coded stores count; local and dynamic-store rules (ours
  included, block rules too) are ignored.
* Loopback traffic is not filtered: 127.0.0.0/8, ::1 and the host's own address (traffic to itself
  is loopback on Windows) are never counted as network access.
* Protocol Any matches TCP and UDP. LocalPort Any (program and service rules too) matches every port.
  A program or service rule admits traffic to that program or service only: with a recorded
  listener table the process listening on the port decides (nobody listening: no match at the time
  of recording); without one, or when the owner's path or services are unknown, the rule "may
  admit" and counts as admitting. A LocalAddress condition that does not cover the host address,
  port keywords without a fixed port (RPC, IPHTTPS, Teredo, PlayToDiscovery) and missing filters
  also make a match uncertain. A RemotePort condition does not narrow exposure (the sender picks
  its source port); it only decides whether the policy peers, sending from the policy rule's
  ``remote_ports``, are admitted. Uncertain block rules and block rules with a RemotePort
  condition are not counted as blocking.
* Addresses are IPv4/IPv6 interval sets (addresses, CIDR and mask subnets, start-end ranges).
  Keywords (LocalSubnet, Internet, ...) cannot be enumerated: they count as addresses beyond any
  peer set and are named; a block rule removes a keyword only when it names the same keyword or
  blocks every address of the family.

Result::

    {"findings": [finding, ...], "broader_rules": [...], "summary": {...}, "profiles": ["Domain"]}

A finding is ``{"status": "pass"|"warn"|"fail", "kind", "protocol", "port", "rule", "rules",
"profiles", "message", ...}``: ``rule`` is the policy rule name, ``rules`` the display names of the
Windows rules responsible. Port findings: ``open_beyond_policy`` (fail) / ``restricted_to_policy``
(pass) per allowed port; ``peers_not_admitted`` (fail) / ``peers_maybe_admitted`` (warn) /
``peers_admitted`` (pass) per policy allow rule and port; ``deny_port_open`` (fail) /
``deny_port_closed`` (pass) per policy deny rule and port. Host findings: ``profile_disabled``,
``interface_excluded``, ``default_inbound_allow``, ``inbound_rules_ignored``, ``local_rules_ignored`` (fail),
``unicast_response_off``, ``no_active_profile``, ``override_block_rules``, ``rule_filters_missing``,
``profile_not_reported`` (warn).

``broader_rules`` lists the Windows rules (not ours) that admit beyond the policy on its ports:
``{name, display_name, group, display_group, store, store_source, can_disable, program, service,
protocol, local_ports, remote_addresses, profiles, ports, certain}``; ``name`` is what
``Disable-NetFirewallRule -Name`` takes; ``can_disable`` is false for Group Policy/MDM rules.

``drift(desired_rule_args, state, group, prefix)`` compares our rules in the state with the
``win_firewall_rule`` arguments from ``render_windows.firewall_rule_args`` (missing, extra, changed).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.safeq.hardening.plugins.module_utils.windows_firewall_state import (
    PROFILE_NAMES,
    FirewallStateError,
    address_token_text,
    parse_address_token,
    parse_port_token,
    parse_state,
)
from ansible_collections.safeq.hardening.plugins.plugin_utils.render_windows import (
    DEFAULT_GROUP,
    DEFAULT_PREFIX,
    MANAGEMENT_RULE,
    NAME_SEPARATOR,
)

V4_MAX = 2 ** 32 - 1
V6_MAX = 2 ** 128 - 1
PORT_MAX = 65535
PROTOCOLS = ("tcp", "udp")
STATUS_ORDER = {"pass": 0, "warn": 1, "fail": 2}
# Stores that still count when Group Policy turns local policy merge off.
POLICY_STORES = ("group_policy", "mdm", "generated", "hardcoded")
# Port keywords: protocol -> (low, high, certain). Documented in New-NetFirewallRule -LocalPort.
PORT_KEYWORDS = {
    "RPCEPMap": {"tcp": (135, 135, True)},
    "RPC": {"tcp": (49152, PORT_MAX, False)},
    "IPHTTPSIn": {"tcp": (443, 443, False)},
    "IPHTTPSOut": {"tcp": (443, 443, False)},
    "Teredo": {"udp": (0, PORT_MAX, False)},
    "PlayToDiscovery": {"udp": (0, PORT_MAX, False)},
    "mDNS": {"udp": (5353, 5353, True)},
}
DISCOVERY_MARKERS = ("discovery", "multicast", "broadcast", "bonjour", "mdns")
LIST_LIMIT = 8
_PORT_MARK = "\x00port\x00"


class EvaluationError(ValueError):
    """Policy input that is not in the documented shape; the message names the field."""


# ---- address sets ------------------------------------------------------------------------------

def _merge(intervals):
    result = []
    for low, high in sorted(intervals):
        if result and low <= result[-1][1] + 1:
            if high > result[-1][1]:
                result[-1] = (result[-1][0], high)
        else:
            result.append((low, high))
    return tuple(result)


def _subtract(left, right):
    result = []
    for low, high in left:
        pieces = [(low, high)]
        for r_low, r_high in right:
            next_pieces = []
            for p_low, p_high in pieces:
                if r_high < p_low or r_low > p_high:
                    next_pieces.append((p_low, p_high))
                    continue
                if p_low < r_low:
                    next_pieces.append((p_low, r_low - 1))
                if r_high < p_high:
                    next_pieces.append((r_high + 1, p_high))
            pieces = next_pieces
        result.extend(pieces)
    return _merge(result)


def _intersect(left, right):
    return _merge((max(a, c), min(b, d)) for a, b in left for c, d in right if max(a, c) <= min(b, d))


class AddressSet:
    """IPv4 and IPv6 interval sets plus address keywords that cannot be enumerated."""

    __slots__ = ("v4", "v6", "keywords")

    def __init__(self, v4=(), v6=(), keywords=()):
        self.v4 = _merge(v4)
        self.v6 = _merge(v6)
        self.keywords = frozenset(k for k in keywords if not self._family_full(k))

    @classmethod
    def any(cls):
        return cls([(0, V4_MAX)], [(0, V6_MAX)])

    @classmethod
    def from_tokens(cls, tokens, field="addresses"):
        v4, v6, keywords = [], [], []
        for token in tokens or []:
            try:
                parsed = parse_address_token(token)
            except FirewallStateError as exc:
                raise EvaluationError("%s: %s" % (field, exc))
            if parsed[0] == "any":
                return cls.any()
            if parsed[0] == "keyword":
                keywords.append(parsed[1])
            else:
                (v4 if parsed[0] == "v4" else v6).append((parsed[1], parsed[2]))
        return cls(v4, v6, keywords)

    def _family_full(self, keyword):
        v4_full = self.v4 == ((0, V4_MAX),)
        v6_full = self.v6 == ((0, V6_MAX),)
        if keyword.endswith("4"):
            return v4_full
        if keyword.endswith("6"):
            return v6_full
        return v4_full and v6_full

    def is_any(self):
        return self.v4 == ((0, V4_MAX),) and self.v6 == ((0, V6_MAX),)

    def is_empty(self):
        return not (self.v4 or self.v6 or self.keywords)

    def union(self, other):
        return AddressSet(self.v4 + other.v4, self.v6 + other.v6, self.keywords | other.keywords)

    def minus(self, other):
        keywords = [k for k in self.keywords if k not in other.keywords and not other._family_full(k)]
        return AddressSet(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6), keywords)

    def intersects(self, other):
        if _intersect(self.v4, other.v4) or _intersect(self.v6, other.v6):
            return True
        return any(k in other.keywords or other._family_full(k) for k in self.keywords) or \
            any(self._family_full(k) for k in other.keywords)

    def covers(self, other):
        return (not _subtract(other.v4, self.v4) and not _subtract(other.v6, self.v6)
                and all(k in self.keywords or self._family_full(k) for k in other.keywords))

    def __eq__(self, other):
        if not isinstance(other, AddressSet):
            return False
        return (self.v4, self.v6, self.keywords) == (other.v4, other.v6, other.keywords)

    def __hash__(self):
        return hash((self.v4, self.v6, self.keywords))

    def describe(self):
        """Readable tokens: 'any address', CIDRs or ranges, keywords marked as not enumerable."""
        if self.is_any():
            return ["any address"]
        tokens = []
        for family, intervals, maximum in (("v4", self.v4, V4_MAX), ("v6", self.v6, V6_MAX)):
            if intervals == ((0, maximum),):
                tokens.append("any IPv%s address" % family[1])
                continue
            tokens.extend(address_token_text((family, low, high)) for low, high in intervals)
        tokens.extend("%s (keyword, not enumerable)" % k for k in sorted(self.keywords))
        return tokens


EMPTY = AddressSet()


def _exempt_set(host_address):
    exempt = AddressSet.from_tokens(["127.0.0.0/8", "::1"])
    if host_address:
        try:
            exempt = exempt.union(AddressSet.from_tokens([host_address]))
        except EvaluationError:
            pass
    return exempt


def _short_list(items, limit=LIST_LIMIT):
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return "%s (+%d more)" % (", ".join(items[:limit]), len(items) - limit)


# ---- ports -------------------------------------------------------------------------------------

def _policy_port_range(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise EvaluationError("%s: %r is not a port or an 'a-b' range" % (field, value))
    try:
        parsed = parse_port_token(value)
    except FirewallStateError as exc:
        raise EvaluationError("%s: %s" % (field, exc))
    if parsed[0] == "any":
        return (1, PORT_MAX)
    if parsed[0] == "keyword":
        raise EvaluationError("%s: %r is not a port or an 'a-b' range" % (field, value))
    return (parsed[1], parsed[2])


def _port_text(low, high):
    return str(low) if low == high else "%d-%d" % (low, high)


def _port_value(low, high):
    return low if low == high else "%d-%d" % (low, high)


def _rule_port_ranges(rule):
    """protocol -> [(low, high, certain)] for the rule's local ports."""
    if rule["protocol"] == "any":
        protocols = PROTOCOLS
    elif rule["protocol"] in PROTOCOLS:
        protocols = (rule["protocol"],)
    else:
        return {}
    ranges = {p: [] for p in protocols}
    for token in rule["local_ports"]:
        parsed = parse_port_token(token)
        for protocol in protocols:
            if parsed[0] == "any":
                ranges[protocol].append((0, PORT_MAX, True))
            elif parsed[0] == "range":
                ranges[protocol].append((parsed[1], parsed[2], True))
            elif parsed[1] in PORT_KEYWORDS:
                if protocol in PORT_KEYWORDS[parsed[1]]:
                    ranges[protocol].append(PORT_KEYWORDS[parsed[1]][protocol])
            else:
                ranges[protocol].append((0, PORT_MAX, False))
    return ranges


# ---- state rules -------------------------------------------------------------------------------

def _remote_ranges(tokens):
    """None for any remote port, else the (low, high) ranges ([] when only keywords)."""
    if tokens == ["any"]:
        return None
    ranges = []
    for token in tokens:
        parsed = parse_port_token(token)
        if parsed[0] == "range":
            ranges.append((parsed[1], parsed[2]))
    return ranges


def _remote_ports_cover(item, target):
    """Whether the rule's RemotePort condition admits the source ports the policy peers use."""
    if item["remote_ports"] is None:
        return True
    if not target["remote_ports"]:
        return False
    return all(any(a <= low and high <= b for a, b in item["remote_ports"]) for low, high in target["remote_ports"])


def _norm_path(path):
    return str(path).strip().strip('"').replace("/", "\\").lower() if path else None


def _is_ours(rule, group, prefix):
    return (rule["group"].lower() == group.lower()
            and rule["display_name"].lower().startswith((prefix + NAME_SEPARATOR).lower()))


def _compile_rules(state, group, prefix):
    compiled = []
    for index, rule in enumerate(state["rules"]):
        if not rule["enabled"] or rule["direction"] != "inbound":
            continue
        compiled.append({
            "id": index,
            "rule": rule,
            "ours": _is_ours(rule, group, prefix),
            "addresses": AddressSet.from_tokens(rule["remote_addresses"], "rules[%d].RemoteAddress" % index),
            "local_addresses": (None if rule["local_addresses"] == ["any"]
                                else AddressSet.from_tokens(rule["local_addresses"], "rules[%d].LocalAddress" % index)),
            "ports": _rule_port_ranges(rule),
            "program": None if rule["program"] == "any" else _norm_path(rule["program_path"] or rule["program"]),
            "system": rule["program"].lower() == "system",
            "service": None if rule["service"] == "any" else rule["service"].lower(),
            "remote_ports": _remote_ranges(rule["remote_ports"]),
        })
    return compiled


def _rule_label(rule):
    return "%s rule '%s'" % (rule["action"], rule["display_name"] or rule["name"])


def _rule_addresses_text(rule):
    tokens = rule["remote_addresses"]
    if tokens == ["any"]:
        return "any address"
    return _short_list(t if "." in t or ":" in t else "%s (keyword, not enumerable)" % t for t in tokens)


def _rule_summary(rule):
    """'(program C:\\...\\java.exe, any port, any address)'."""
    parts = []
    if rule["program"] != "any":
        parts.append("program %s" % (rule["program_path"] or rule["program"]))
    if rule["service"] != "any":
        parts.append("service %s" % rule["service"])
    if rule["protocol"] != "any":
        parts.append(rule["protocol"])
    ports = rule["local_ports"]
    parts.append("any port" if ports == ["any"] else "port%s %s" % ("s" if len(ports) > 1 or "-" in ports[0] else "",
                                                                    ",".join(ports)))
    parts.append(_rule_addresses_text(rule))
    if rule["remote_ports"] != ["any"]:
        parts.append("remote ports %s" % ",".join(rule["remote_ports"]))
    if rule["local_addresses"] != ["any"]:
        parts.append("local addresses %s" % ",".join(rule["local_addresses"]))
    if rule["store"] in ("group_policy", "mdm"):
        parts.append("from %s%s" % ("Group Policy" if rule["store"] == "group_policy" else "MDM",
                                    " %s" % rule["store_source"] if rule["store_source"] else ""))
    return "(%s)" % ", ".join(parts)


# ---- context -----------------------------------------------------------------------------------

class _Context:
    """Everything one evaluation needs, computed once."""

    def __init__(self, policy, state, group, prefix, profiles):
        self.policy = policy
        self.state = state
        self.group = group
        self.prefix = prefix
        self.host_address = policy.get("address")
        self.exempt = _exempt_set(self.host_address)
        try:
            self.host_set = AddressSet.from_tokens([self.host_address]) if self.host_address else None
        except EvaluationError:
            self.host_set = None
        self.rules = _compile_rules(state, group, prefix)
        self.settings = {}
        for name in PROFILE_NAMES:
            raw = state["profiles"].get(name) or {}
            self.settings[name] = {
                "name": raw.get("name") or name.capitalize(),
                "reported": name in state["profiles"],
                "enabled": raw.get("enabled") is not False,
                "default_allow": raw.get("default_inbound_action") == "allow",
                "allow_inbound_rules": raw.get("allow_inbound_rules") is not False,
                "local_merge": raw.get("allow_local_firewall_rules") is not False,
                "unicast_response": raw.get("allow_unicast_response_to_multicast") is not False,
                "excluded": [c["interface"] for c in state["connection_profiles"] if c["profile"] == name
                             and c["interface"].lower() in [a.lower() for a in raw.get("disabled_interface_aliases", [])]],
            }
        self.profiles = profiles
        self.listeners = None
        if state.get("listeners") is not None:
            self.listeners = {}
            for record in state["listeners"]:
                self.listeners.setdefault((record["protocol"], record["port"]), []).append(record)
        self._applicable = {}

    def profile_name(self, profile):
        return self.settings[profile]["name"]

    def applicable(self, profile, protocol):
        """Compiled rules that count in the profile for the protocol (profile, store, action switches)."""
        key = (profile, protocol)
        if key not in self._applicable:
            settings = self.settings[profile]
            result = []
            for item in self.rules:
                rule = item["rule"]
                if profile not in rule["profiles"] or protocol not in item["ports"]:
                    continue
                if not settings["local_merge"] and rule["store"] not in POLICY_STORES:
                    continue
                if rule["action"] == "allow" and not settings["allow_inbound_rules"]:
                    continue
                result.append(item)
            self._applicable[key] = result
        return self._applicable[key]

    def owners(self, protocol, port):
        """Listener records on the port with process and services, or None when listeners are unknown."""
        if self.listeners is None:
            return None
        owners = []
        for record in self.listeners.get((protocol, port), []):
            process = self.state["processes"].get(record["pid"]) if record["pid"] is not None else None
            owners.append({
                "pid": record["pid"], "address": record["address"],
                "name": (process or {}).get("name"), "path": (process or {}).get("path"),
                "services": self.state["services"].get(record["pid"]),
            })
        return owners

    def owner_text(self, owner):
        name = owner["name"] or (owner["path"] or "").split("\\")[-1] or "pid %s" % owner["pid"]
        return "%s (pid %s) on %s" % (name, owner["pid"], owner["address"] or "?")


def _program_match(ctx, item, protocol, low, high):
    """('yes'|'maybe'|'no', note) for the program/service condition of a rule on one segment."""
    if item["program"] is None and item["service"] is None:
        return "yes", None
    what = "program" if item["service"] is None else "service %s" % item["rule"]["service"]
    if ctx.listeners is None:
        return "maybe", "it admits traffic to that %s only; the listeners on %s/%s are not recorded" % (
            what, protocol, _port_text(low, high))
    owners = ctx.owners(protocol, low) if low == high else []
    if not owners:
        return "no", None
    results = []
    for owner in owners:
        checks = []
        is_system = owner["pid"] == 4 or (owner["name"] or "").lower() == "system"
        if item["system"]:
            checks.append(is_system)
        elif item["program"] is not None:
            checks.append(_program_is(owner, item["program"], is_system))
        if item["service"] is not None:
            if owner["services"] is not None:
                checks.append(item["service"] in [s.lower() for s in owner["services"]])
            else:
                checks.append(False if ctx.state["services"] else None)
        if False in checks:
            results.append(("no", owner))
        elif None in checks:
            results.append(("maybe", owner))
        else:
            results.append(("yes", owner))
    for verdict in ("yes", "maybe"):
        hits = [owner for result, owner in results if result == verdict]
        if hits:
            listeners = _short_list(ctx.owner_text(o) for o in hits)
            if verdict == "yes":
                return "yes", "%s listens there" % listeners
            return "maybe", "the program or service of %s is not recorded" % listeners
    return "no", None


def _program_is(owner, program, is_system):
    """True/False when the listener's executable is known (by path, else by name), None otherwise."""
    if is_system:
        return False
    if owner["path"]:
        return _norm_path(owner["path"]) == program
    if owner["name"]:
        return None if owner["name"].lower() == program.split("\\")[-1] else False
    return None


def _match(ctx, item, protocol, low, high):
    """('yes'|'maybe'|'no', notes) for a compiled rule on the port segment low-high of protocol."""
    certainty = None
    for r_low, r_high, certain in item["ports"].get(protocol, []):
        if r_low <= low and high <= r_high:
            certainty = certainty or certain
    if certainty is None:
        return "no", []
    rule = item["rule"]
    doubts = []
    if not certainty:
        doubts.append("its local port %s is a keyword without a fixed port" % ",".join(rule["local_ports"]))
    if item["local_addresses"] is not None and not (ctx.host_set and item["local_addresses"].covers(ctx.host_set)):
        doubts.append("it matches only local addresses %s" % ",".join(rule["local_addresses"]))
    if rule["missing_filters"]:
        doubts.append("its %s filter was not found, so it is read as any" % "/".join(rule["missing_filters"]))
    verdict, note = _program_match(ctx, item, protocol, low, high)
    if verdict == "no":
        return "no", []
    if verdict == "maybe":
        doubts.append(note)
        return "maybe", doubts
    notes = [note] if note else []
    if rule["remote_ports"] != ["any"]:
        notes.append("only from remote ports %s, which the sender chooses" % ",".join(rule["remote_ports"]))
    if doubts:
        return "maybe", doubts + notes
    return "yes", notes


def _segment(ctx, profile, protocol, low, high):
    """Who reaches protocol/low-high in the profile: certain and uncertain sets, allow and block rules."""
    settings = ctx.settings[profile]
    outcome = {"allows": [], "blocks": [], "pseudo": None}
    if not settings["enabled"] or settings["excluded"]:
        if settings["enabled"]:
            outcome["pseudo"] = "interface %s of profile %s is excluded from Windows Firewall (it filters nothing " \
                                "there)" % (", ".join(settings["excluded"]), settings["name"])
        else:
            outcome["pseudo"] = "profile %s is off (it filters nothing)" % settings["name"]
        outcome["certain"], outcome["maybe"], outcome["blocked"] = AddressSet.any().minus(ctx.exempt), EMPTY, EMPTY
        return outcome
    blocked = EMPTY
    certain, maybe = EMPTY, EMPTY
    for item in ctx.applicable(profile, protocol):
        verdict, notes = _match(ctx, item, protocol, low, high)
        if verdict == "no":
            continue
        if item["rule"]["action"] == "block":
            if verdict == "yes" and item["remote_ports"] is None:
                blocked = blocked.union(item["addresses"])
                outcome["blocks"].append(item)
            continue
        outcome["allows"].append((item, verdict, notes))
        if verdict == "yes":
            certain = certain.union(item["addresses"])
        else:
            maybe = maybe.union(item["addresses"])
    if settings["default_allow"]:
        outcome["pseudo"] = "profile %s has DefaultInboundAction Allow (it admits everything not blocked)" % (
            settings["name"])
        certain = AddressSet.any()
    outcome["blocked"] = blocked
    outcome["certain"] = certain.minus(blocked).minus(ctx.exempt)
    outcome["maybe"] = maybe.minus(blocked).minus(ctx.exempt).minus(outcome["certain"])
    return outcome


def _contributors(ctx, outcome, intended):
    """Allow rules (and profile settings) that admit addresses beyond ``intended``."""
    result = []
    if outcome["pseudo"]:
        beyond = AddressSet.any().minus(outcome["blocked"]).minus(ctx.exempt).minus(intended)
        if not beyond.is_empty():
            result.append({"item": None, "certain": True, "beyond": beyond, "notes": [], "text": outcome["pseudo"],
                           "narrowed": []})
    for item, verdict, notes in outcome["allows"]:
        beyond = item["addresses"].minus(outcome["blocked"]).minus(ctx.exempt).minus(intended)
        if beyond.is_empty():
            continue
        narrowing = [b for b in outcome["blocks"] if b["addresses"].intersects(item["addresses"])]
        narrowed = []
        if narrowing:
            narrowed = ["after %s it admits %s" % (
                _short_list("'%s'" % b["rule"]["display_name"] for b in narrowing),
                _short_list(item["addresses"].minus(outcome["blocked"]).minus(ctx.exempt).describe()))]
        result.append({"item": item, "certain": verdict == "yes", "beyond": beyond, "notes": notes, "text": None,
                       "narrowed": narrowed})
    return result


def _contributor_text(contributor, protocol):
    if contributor["item"] is None:
        return contributor["text"]
    rule = contributor["item"]["rule"]
    text = "%s %s %s %s to %s/%s" % (
        _rule_label(rule), _rule_summary(rule), "admits" if contributor["certain"] else "may admit",
        _rule_addresses_text(rule), protocol, _PORT_MARK)
    if contributor["notes"] or contributor["narrowed"]:
        text += " (%s)" % "; ".join(contributor["narrowed"] + contributor["notes"])
    return text


def _rule_ref(item):
    rule = item["rule"]
    return {"name": rule["name"], "display_name": rule["display_name"], "group": rule["group"],
            "store": rule["store"], "ours": item["ours"]}


# ---- policy targets ----------------------------------------------------------------------------

def _policy_targets(policy):
    """Inbound ports of the policy: [{kind, protocol, low, high, rule, peers, tokens, intended}]."""
    where = "policy[%s]" % policy.get("host", "?")
    targets = []
    management = policy.get("management")
    if isinstance(management, dict) and management.get("ports"):
        protocol = management.get("protocol", "tcp")
        tokens = list(management.get("addresses") or [])
        for index, port in enumerate(management["ports"]):
            low, high = _policy_port_range(port, "%s.management.ports[%d]" % (where, index))
            targets.append({"kind": "allow", "protocol": protocol, "low": low, "high": high, "remote_ports": None,
                            "rule": MANAGEMENT_RULE % protocol, "peers": ["management"], "tokens": tokens,
                            "intended": AddressSet.from_tokens(tokens, "%s.management.addresses" % where)})
    rules = policy.get("rules")
    if not isinstance(rules, list):
        raise EvaluationError("%s.rules: must be a list" % where)
    for index, rule in enumerate(rules):
        field = "%s.rules[%d]" % (where, index)
        if not isinstance(rule, dict):
            raise EvaluationError("%s: must be a mapping" % field)
        if rule.get("direction") != "inbound":
            continue
        if rule.get("action") not in ("allow", "deny"):
            raise EvaluationError("%s.action: %r is not allow or deny" % (field, rule.get("action")))
        if rule.get("protocol") not in PROTOCOLS:
            raise EvaluationError("%s.protocol: %r is not tcp or udp" % (field, rule.get("protocol")))
        ports = rule.get("ports")
        if not isinstance(ports, list) or not ports:
            raise EvaluationError("%s.ports: must be a non-empty list" % field)
        tokens = list(rule.get("addresses") or [])
        if rule["action"] == "allow" and not tokens:
            continue  # not rendered: matches nothing
        remote_ports = None
        if rule.get("remote_ports"):
            remote_ports = [_policy_port_range(p, "%s.remote_ports[%d]" % (field, i))
                            for i, p in enumerate(rule["remote_ports"])]
        for position, port in enumerate(ports):
            low, high = _policy_port_range(port, "%s.ports[%d]" % (field, position))
            targets.append({
                "kind": rule["action"], "protocol": rule["protocol"], "low": low, "high": high,
                "remote_ports": remote_ports,
                "rule": rule.get("name") or "rules[%d]" % index, "peers": list(rule.get("peers") or []),
                "tokens": tokens if rule["action"] == "allow" else [],
                "intended": AddressSet.from_tokens(tokens, "%s.addresses" % field) if rule["action"] == "allow"
                else EMPTY,
            })
    return targets


def _cuts(ctx, targets, protocol):
    cuts = set()
    for target in targets:
        if target["protocol"] == protocol:
            cuts.update((target["low"], target["high"] + 1))
    for item in ctx.rules:
        for low, high, _certain in item["ports"].get(protocol, []):
            cuts.update((low, high + 1))
    for (proto, port) in (ctx.listeners or {}):
        if proto == protocol:
            cuts.update((port, port + 1))
    return sorted(cuts)


def _segments(cuts, low, high):
    points = [c for c in cuts if low < c <= high] + [high + 1]
    start = low
    for point in points:
        if point > start:
            yield start, point - 1
            start = point


def _intended_text(labels, tokens):
    peers = ", ".join(labels) if labels else "the intended peers"
    return "%s (%s)" % (peers, _short_list(tokens)) if tokens else peers


# ---- findings per segment ----------------------------------------------------------------------

def _exposure_finding(ctx, profile, protocol, low, high, covering):
    outcome = _segment(ctx, profile, protocol, low, high)
    intended = EMPTY
    labels, tokens, names = [], [], []
    for target in covering:
        intended = intended.union(target["intended"])
        names.append(target["rule"])
        labels.extend(p for p in target["peers"] if p not in labels)
        tokens.extend(t for t in target["tokens"] if t not in tokens)
    contributors = _contributors(ctx, outcome, intended)
    finding = {"protocol": protocol, "port": (low, high), "rule": names[0], "policy_rules": names, "peers": labels,
               "intended": tokens, "profiles": [profile]}
    intended_text = _intended_text(labels, tokens)
    if contributors:
        beyond = EMPTY
        for contributor in contributors:
            beyond = beyond.union(contributor["beyond"])
        finding.update({
            "status": "fail", "kind": "open_beyond_policy",
            "rules": [c["item"]["rule"]["display_name"] for c in contributors if c["item"]],
            "rule_refs": [_rule_ref(c["item"]) for c in contributors if c["item"]],
            "certain": any(c["certain"] for c in contributors),
            "beyond": beyond.describe(),
            "message": "%s, so %s/%s is open beyond %s" % (
                "; ".join(_contributor_text(c, protocol) for c in contributors), protocol, _PORT_MARK, intended_text),
        })
        return finding, outcome, contributors
    admitting = [item for item, verdict, _notes in outcome["allows"] if verdict == "yes"]
    finding.update({
        "status": "pass", "kind": "restricted_to_policy", "rules": [i["rule"]["display_name"] for i in admitting],
        "rule_refs": [_rule_ref(i) for i in admitting], "certain": True, "beyond": [],
        "message": "%s/%s admits nobody beyond %s" % (protocol, _PORT_MARK, intended_text),
    })
    return finding, outcome, contributors


def _reachability_finding(ctx, profile, outcome, target, low, high):
    protocol = target["protocol"]
    if outcome["pseudo"]:
        reachable, possible = outcome["certain"], outcome["certain"]
    else:
        reachable, possible = EMPTY, EMPTY
        for item, verdict, _notes in outcome["allows"]:
            if verdict == "yes" and _remote_ports_cover(item, target):
                reachable = reachable.union(item["addresses"])
            possible = possible.union(item["addresses"])
        reachable = reachable.minus(outcome["blocked"]).minus(ctx.exempt)
        possible = possible.minus(outcome["blocked"]).minus(ctx.exempt)
    missing, uncertain = [], []
    for token in target["tokens"]:
        need = AddressSet.from_tokens([token]).minus(ctx.exempt)
        if reachable.covers(need):
            continue
        if possible.covers(need) or possible.keywords:
            uncertain.append(token)
        else:
            missing.append(token)
    finding = {"protocol": protocol, "port": (low, high), "rule": target["rule"], "policy_rules": [target["rule"]],
               "peers": target["peers"], "intended": target["tokens"], "profiles": [profile]}
    peers = _intended_text(target["peers"], target["tokens"])
    if missing:
        need = AddressSet.from_tokens(missing)
        blockers = [item for item in outcome["blocks"] if item["addresses"].intersects(need)]
        reasons = []
        if blockers:
            reasons.append("blocked by %s" % _short_list("%s %s" % (_rule_label(i["rule"]), _rule_summary(i["rule"]))
                                                         for i in blockers))
        settings = ctx.settings[profile]
        if not settings["local_merge"]:
            reasons.append("local rules (ours included) are ignored because Group Policy turns local policy "
                           "merge off in profile %s" % settings["name"])
        if not settings["allow_inbound_rules"]:
            reasons.append("profile %s ignores every allow rule (AllowInboundRules False)" % settings["name"])
        if not reasons:
            reasons.append("no enabled allow rule that applies in profile %s admits them" % settings["name"])
        finding.update({
            "status": "fail", "kind": "peers_not_admitted", "missing": missing,
            "rules": [i["rule"]["display_name"] for i in blockers], "rule_refs": [_rule_ref(i) for i in blockers],
            "message": "%s/%s is not reachable from %s (%s): %s" % (
                protocol, _PORT_MARK, _short_list(missing), ", ".join(target["peers"]) or target["rule"],
                "; ".join(reasons)),
        })
        return finding
    admitting = [item for item, verdict, _notes in outcome["allows"]
                 if item["addresses"].intersects(AddressSet.from_tokens(target["tokens"]))]
    if uncertain:
        finding.update({
            "status": "warn", "kind": "peers_maybe_admitted", "missing": [], "uncertain": uncertain,
            "rules": [i["rule"]["display_name"] for i in admitting], "rule_refs": [_rule_ref(i) for i in admitting],
            "message": "%s/%s may be reachable from %s (%s): only program/service rules, keyword addresses or "
                       "uncertain matches admit them" % (protocol, _PORT_MARK, _short_list(uncertain),
                                                         ", ".join(target["peers"]) or target["rule"]),
        })
        return finding
    via = [i["rule"]["display_name"] for i, verdict, _n in outcome["allows"]
           if verdict == "yes" and _remote_ports_cover(i, target)
           and i["addresses"].intersects(AddressSet.from_tokens(target["tokens"]))]
    finding.update({
        "status": "pass", "kind": "peers_admitted", "missing": [], "rules": via,
        "rule_refs": [_rule_ref(i) for i, verdict, _n in outcome["allows"] if i["rule"]["display_name"] in via],
        "message": "%s reach %s/%s%s" % (peers, protocol, _PORT_MARK,
                                         " through %s" % _short_list("'%s'" % v for v in via) if via else ""),
    })
    if outcome["pseudo"]:
        finding["message"] = "%s reach %s/%s, but only because %s" % (peers, protocol, _PORT_MARK, outcome["pseudo"])
    return finding


def _deny_finding(ctx, profile, target, low, high):
    protocol = target["protocol"]
    outcome = _segment(ctx, profile, protocol, low, high)
    contributors = _contributors(ctx, outcome, EMPTY)
    finding = {"protocol": protocol, "port": (low, high), "rule": target["rule"], "policy_rules": [target["rule"]],
               "peers": target["peers"], "intended": [], "profiles": [profile]}
    if contributors:
        beyond = EMPTY
        for contributor in contributors:
            beyond = beyond.union(contributor["beyond"])
        finding.update({
            "status": "fail", "kind": "deny_port_open",
            "rules": [c["item"]["rule"]["display_name"] for c in contributors if c["item"]],
            "rule_refs": [_rule_ref(c["item"]) for c in contributors if c["item"]],
            "certain": any(c["certain"] for c in contributors), "beyond": beyond.describe(),
            "message": "%s, so %s/%s, which the policy keeps to loopback, is open to the network" % (
                "; ".join(_contributor_text(c, protocol) for c in contributors), protocol, _PORT_MARK),
        })
        return finding, contributors
    allowed = [item for item, _verdict, _notes in outcome["allows"]]
    raw = AddressSet.any() if outcome["pseudo"] else EMPTY
    for item in allowed:
        raw = raw.union(item["addresses"])
    raw = raw.minus(ctx.exempt)
    blockers = [item for item in outcome["blocks"] if item["addresses"].intersects(raw)] if not raw.is_empty() else []
    beaten = [item for item in allowed if not item["addresses"].minus(ctx.exempt).is_empty()]
    if blockers:
        beaten_text = [("%s %s" % (_rule_label(i["rule"]), _rule_summary(i["rule"]))) for i in beaten]
        if outcome["pseudo"]:
            beaten_text.insert(0, "the DefaultInboundAction Allow of profile %s" % ctx.profile_name(profile))
        reason = "%s beats %s" % (
            _short_list("%s %s" % (_rule_label(i["rule"]), _rule_summary(i["rule"])) for i in blockers),
            _short_list(beaten_text))
    else:
        reason = "no enabled allow rule that applies in profile %s admits it" % ctx.profile_name(profile)
    finding.update({
        "status": "pass", "kind": "deny_port_closed", "rules": [i["rule"]["display_name"] for i in blockers],
        "rule_refs": [_rule_ref(i) for i in blockers], "overridden": [i["rule"]["display_name"] for i in beaten],
        "certain": True, "beyond": [],
        "message": "%s/%s is closed to the network: %s (loopback traffic stays allowed; Windows Firewall does not "
                   "filter it)" % (protocol, _PORT_MARK, reason),
    })
    return finding, []


# ---- merging and messages ----------------------------------------------------------------------

def _signature(finding, skip):
    return repr(sorted((k, v) for k, v in finding.items() if k not in skip))


def _merge_ports(findings):
    """Merge consecutive segment findings that differ only in the port."""
    merged = []
    for finding in findings:
        last = merged[-1] if merged else None
        if (last is not None and last["port"][1] + 1 == finding["port"][0]
                and _signature(last, ("port",)) == _signature(finding, ("port",))):
            last["port"] = (last["port"][0], finding["port"][1])
            continue
        merged.append(dict(finding))
    return merged


def _merge_profiles(findings):
    merged, index = [], {}
    for finding in findings:
        key = _signature(finding, ("profiles",))
        if key in index:
            index[key]["profiles"].extend(p for p in finding["profiles"] if p not in index[key]["profiles"])
            continue
        item = dict(finding, profiles=list(finding["profiles"]))
        index[key] = item
        merged.append(item)
    return merged


def _finish(finding, ctx):
    if isinstance(finding.get("port"), tuple):
        low, high = finding["port"]
        finding["port"] = _port_value(low, high)
        finding["message"] = finding["message"].replace(_PORT_MARK, _port_text(low, high))
    if len(ctx.profiles) > 1 and finding.get("protocol") and finding.get("profiles"):
        finding["message"] += " [profile%s %s]" % ("s" if len(finding["profiles"]) > 1 else "",
                                                   ", ".join(ctx.profile_name(p) for p in finding["profiles"]))
    finding["profiles"] = [ctx.profile_name(p) for p in finding.get("profiles", [])]
    return finding


def _force_fail(finding, ctx, profile):
    """Every port finding fails in a profile that is off, allows by default or ignores allow rules."""
    settings = ctx.settings[profile]
    reasons = []
    if not settings["enabled"]:
        reasons.append("is off")
    elif settings["excluded"]:
        reasons.append("excludes interface %s" % ", ".join(settings["excluded"]))
    if settings["default_allow"]:
        reasons.append("has DefaultInboundAction Allow")
    if not settings["allow_inbound_rules"]:
        reasons.append("has AllowInboundRules False")
    if reasons and finding["status"] != "fail":
        finding["status"] = "fail"
        finding["message"] += "; it fails because profile %s %s, so the host is not hardened there" % (
            settings["name"], " and ".join(reasons))
    return finding


# ---- host findings -----------------------------------------------------------------------------

def _policy_has_discovery(policy):
    for rule in policy.get("rules") or []:
        if not isinstance(rule, dict) or rule.get("protocol") != "udp":
            continue
        text = " ".join(str(x) for x in list(rule.get("catalog_ids") or []) + list(rule.get("peers") or [])).lower()
        if any(marker in text for marker in DISCOVERY_MARKERS):
            return True
        for address in rule.get("addresses") or []:
            try:
                network = ipaddress.ip_network(str(address), strict=False)
            except ValueError:
                continue
            if network.is_multicast or network == ipaddress.ip_network("255.255.255.255/32"):
                return True
    return False


def _host_findings(ctx, no_active):
    findings = []
    state = ctx.state
    if no_active:
        findings.append({
            "status": "warn", "kind": "no_active_profile", "protocol": None, "port": None, "rule": None, "rules": [],
            "profiles": list(ctx.profiles),
            "message": "the state reports no active connection profile; every profile (Domain, Private, Public) "
                       "is evaluated",
        })
    ours_local = [r for r in ctx.rules if r["ours"] and r["rule"]["store"] not in POLICY_STORES]
    discovery = _policy_has_discovery(ctx.policy)
    for profile in ctx.profiles:
        settings = ctx.settings[profile]
        name = settings["name"]
        base = {"protocol": None, "port": None, "rule": None, "rules": [], "profiles": [profile]}
        if not settings["reported"]:
            findings.append(dict(base, status="warn", kind="profile_not_reported",
                                 message="profile %s is not in the state; evaluated with the Windows defaults "
                                         "(on, inbound Block, local rules merged)" % name))
        if not settings["enabled"]:
            findings.append(dict(base, status="fail", kind="profile_disabled",
                                 message="Windows Firewall profile %s is off: it filters nothing, every port is "
                                         "open to every address on interfaces in this profile" % name))
        if settings["enabled"] and settings["excluded"]:
            findings.append(dict(base, status="fail", kind="interface_excluded",
                                 message="profile %s excludes the active interface %s (DisabledInterfaceAliases): "
                                         "Windows Firewall filters nothing on it" % (
                                             name, ", ".join(settings["excluded"]))))
        if settings["default_allow"]:
            findings.append(dict(base, status="fail", kind="default_inbound_allow",
                                 message="profile %s has DefaultInboundAction Allow: everything no block rule "
                                         "matches is open; allow rules restrict nothing" % name))
        if not settings["allow_inbound_rules"]:
            findings.append(dict(base, status="fail", kind="inbound_rules_ignored",
                                 message="profile %s has AllowInboundRules False: every inbound allow rule (ours "
                                         "included) is ignored and the policy's ports are unreachable" % name))
        if not settings["local_merge"]:
            findings.append(dict(
                base, status="fail", kind="local_rules_ignored",
                rules=[r["rule"]["display_name"] for r in ours_local],
                message="Group Policy sets AllowLocalFirewallRules False in profile %s: local rules are ignored, "
                        "so %d rule(s) of group '%s' (block rules too) are not applied; only Group Policy rules "
                        "count. Put the rules in the GPO or allow local policy merge" % (
                            name, len(ours_local), ctx.group)))
        if not settings["unicast_response"] and discovery:
            findings.append(dict(base, status="warn", kind="unicast_response_off",
                                 message="profile %s has AllowUnicastResponseToMulticast False, but the policy "
                                         "uses broadcast/multicast discovery: unicast replies to it are dropped "
                                         "unless an inbound rule admits them" % name))
    for item in ctx.rules:
        rule = item["rule"]
        if not any(p in rule["profiles"] for p in ctx.profiles):
            continue
        if rule["override_block_rules"] and rule["action"] == "allow":
            findings.append({
                "status": "warn", "kind": "override_block_rules", "protocol": None, "port": None, "rule": None,
                "rules": [rule["display_name"]], "profiles": list(ctx.profiles),
                "message": "%s is set to override block rules; that takes IPsec authentication (a connection "
                           "security rule). It is evaluated as a plain allow rule, which block rules beat" % (
                               _rule_label(rule)),
            })
        if rule["missing_filters"]:
            findings.append({
                "status": "warn", "kind": "rule_filters_missing", "protocol": None, "port": None, "rule": None,
                "rules": [rule["display_name"]], "profiles": list(ctx.profiles),
                "message": "%s: its %s filter was not found by InstanceID; it is read as any (may admit)" % (
                    _rule_label(rule), "/".join(rule["missing_filters"])),
            })
    return findings


# ---- entry points ------------------------------------------------------------------------------

def _broader_rules(contributions):
    rules = {}
    for contributor, protocol, low, high in contributions:
        item = contributor["item"]
        if item is None or item["ours"]:
            continue
        rule = item["rule"]
        entry = rules.setdefault(item["id"], {
            "name": rule["name"], "display_name": rule["display_name"], "group": rule["group"],
            "display_group": rule["display_group"], "store": rule["store"], "store_source": rule["store_source"],
            "can_disable": rule["store"] not in ("group_policy", "mdm"), "program": rule["program"],
            "service": rule["service"], "protocol": rule["protocol"], "local_ports": rule["local_ports"],
            "remote_addresses": rule["remote_addresses"], "profiles": rule["profiles"], "ports": [],
            "certain": False,
        })
        port = "%s/%s" % (protocol, _port_text(low, high))
        if port not in entry["ports"]:
            entry["ports"].append(port)
        entry["certain"] = entry["certain"] or contributor["certain"]
    return sorted(rules.values(), key=lambda r: (r["display_name"].lower(), r["name"]))


def _summary(findings, profiles, broader):
    counts = {"pass": 0, "warn": 0, "fail": 0}
    for finding in findings:
        counts[finding["status"]] += 1
    worst = max((f["status"] for f in findings), key=STATUS_ORDER.get, default="pass")
    return dict(counts, total=len(findings), status=worst, profiles=profiles, broader_rules=len(broader))


def evaluate_firewall(policy, state, group=DEFAULT_GROUP, prefix=DEFAULT_PREFIX, profiles=None):
    """Judge the recorded firewall ``state`` (query JSON or parse_state output) against ``policy``.

    ``profiles`` overrides the evaluated profiles (names such as ``["domain"]``); by default they
    are the active connection profiles. Raises EvaluationError or FirewallStateError naming the
    field for malformed input.
    """
    if not isinstance(policy, dict):
        raise EvaluationError("policy: must be a mapping (one host's Policy object)")
    state = parse_state(state)
    no_active = False
    if profiles:
        selected = [str(p).lower() for p in profiles]
        unknown = [p for p in selected if p not in PROFILE_NAMES]
        if unknown:
            raise EvaluationError("profiles: %r are not domain, private or public" % unknown)
        selected = [p for p in PROFILE_NAMES if p in selected]
    else:
        selected = list(state["active_profiles"])
        if not selected:
            selected, no_active = list(PROFILE_NAMES), True
    ctx = _Context(policy, state, group, prefix, selected)
    targets = _policy_targets(policy)

    port_findings, contributions = [], []
    for protocol in PROTOCOLS:
        allow_targets = [t for t in targets if t["protocol"] == protocol and t["kind"] == "allow"]
        deny_targets = [t for t in targets if t["protocol"] == protocol and t["kind"] == "deny"]
        if not allow_targets and not deny_targets:
            continue
        cuts = _cuts(ctx, targets, protocol)
        for profile in selected:
            exposure, reach = [], {id(t): [] for t in allow_targets}
            covered = set()
            for target in sorted(allow_targets, key=lambda t: (t["low"], t["high"])):
                for low, high in _segments(cuts, target["low"], target["high"]):
                    if (low, high) in covered:
                        continue
                    covered.add((low, high))
                    covering = [t for t in allow_targets if t["low"] <= low and high <= t["high"]]
                    finding, outcome, contributors = _exposure_finding(ctx, profile, protocol, low, high, covering)
                    exposure.append(_force_fail(finding, ctx, profile))
                    contributions.extend((c, protocol, low, high) for c in contributors)
                    for covering_target in covering:
                        reach[id(covering_target)].append(_force_fail(
                            _reachability_finding(ctx, profile, outcome, covering_target, low, high), ctx, profile))
            exposure.sort(key=lambda f: f["port"])
            port_findings.extend(_merge_ports(exposure))
            for target in allow_targets:
                port_findings.extend(_merge_ports(sorted(reach[id(target)], key=lambda f: f["port"])))
            for target in deny_targets:
                segment_findings = []
                for low, high in _segments(cuts, target["low"], target["high"]):
                    finding, contributors = _deny_finding(ctx, profile, target, low, high)
                    segment_findings.append(_force_fail(finding, ctx, profile))
                    contributions.extend((c, protocol, low, high) for c in contributors)
                port_findings.extend(_merge_ports(segment_findings))

    unique = []
    for finding in _merge_profiles(port_findings):
        if finding not in unique:
            unique.append(finding)
    findings = [_finish(f, ctx) for f in _host_findings(ctx, no_active)] + [_finish(f, ctx) for f in unique]
    broader = _broader_rules(contributions)
    return {
        "findings": findings,
        "broader_rules": broader,
        "summary": _summary(findings, [ctx.profile_name(p) for p in selected], broader),
        "profiles": [ctx.profile_name(p) for p in selected],
    }


# ---- drift -------------------------------------------------------------------------------------

def _port_key(value, field):
    tokens = [t.strip() for t in str(value).split(",") if t.strip()] if not isinstance(value, list) else value
    ranges, keywords = [], []
    for token in tokens:
        try:
            parsed = parse_port_token(token)
        except FirewallStateError as exc:
            raise EvaluationError("%s: %s" % (field, exc))
        if parsed[0] == "any":
            return ("any",)
        if parsed[0] == "keyword":
            keywords.append(parsed[1])
        else:
            ranges.append((parsed[1], parsed[2]))
    return (_merge(ranges), tuple(sorted(keywords)))


def _address_key(value, field):
    tokens = [t.strip() for t in str(value).split(",") if t.strip()] if not isinstance(value, list) else value
    return AddressSet.from_tokens(tokens or ["any"], field)


def _text_key(value):
    text = "any" if value is None else str(value).strip()
    return "any" if text.lower() in ("any", "*", "") else _norm_path(text)


def _differences(args, rule):
    name = args.get("name")
    diffs = []
    desired_profiles = args.get("profiles")
    if isinstance(desired_profiles, str):
        desired_profiles = [p.strip() for p in desired_profiles.split(",")]
    desired_profiles = sorted(str(p).lower() for p in desired_profiles) if desired_profiles else list(PROFILE_NAMES)
    if "any" in desired_profiles:
        desired_profiles = list(PROFILE_NAMES)
    checks = [
        ("action", str(args.get("action", "allow")).lower(), rule["action"]),
        ("enabled", args.get("enabled", True) is not False, rule["enabled"]),
        ("profiles", sorted(desired_profiles), sorted(rule["profiles"])),
        ("protocol", str(args.get("protocol", "any")).lower(), rule["protocol"]),
        ("localport", _port_key(args.get("localport", "any"), "%s.localport" % name),
         _port_key(rule["local_ports"], "%s LocalPort" % name)),
        ("remoteport", _port_key(args.get("remoteport", "any"), "%s.remoteport" % name),
         _port_key(rule["remote_ports"], "%s RemotePort" % name)),
        ("remoteip", _address_key(args.get("remoteip", "any"), "%s.remoteip" % name),
         AddressSet.from_tokens(rule["remote_addresses"])),
        ("localip", _address_key(args.get("localip", "any"), "%s.localip" % name),
         AddressSet.from_tokens(rule["local_addresses"])),
        ("program", _text_key(args.get("program")), _text_key(rule["program_path"] or rule["program"])),
        ("service", _text_key(args.get("service")), _text_key(rule["service"])),
    ]
    if args.get("group") is not None:
        checks.append(("group", str(args["group"]).lower(), rule["group"].lower()))
    shown = {
        "localport": lambda: (args.get("localport", "any"), ",".join(rule["local_ports"])),
        "remoteport": lambda: (args.get("remoteport", "any"), ",".join(rule["remote_ports"])),
        "remoteip": lambda: (args.get("remoteip", "any"), ",".join(rule["remote_addresses"])),
        "localip": lambda: (args.get("localip", "any"), ",".join(rule["local_addresses"])),
        "program": lambda: (args.get("program", "any"), rule["program"]),
        "service": lambda: (args.get("service", "any"), rule["service"]),
        "group": lambda: (args.get("group"), rule["group"]),
        "profiles": lambda: (",".join(desired_profiles), ",".join(rule["profiles"])),
    }
    for field, desired, actual in checks:
        if desired != actual:
            desired_text, actual_text = shown[field]() if field in shown else (desired, actual)
            diffs.append({"field": field, "desired": desired_text, "actual": actual_text})
    return diffs


def drift(desired_rule_args, state, group=DEFAULT_GROUP, prefix=DEFAULT_PREFIX):
    """Compare our rules in ``state`` with the desired ``win_firewall_rule`` argument dicts.

    Our rules are the state rules of ``group`` whose display name starts with ``<prefix> - ``.
    A state document of version 1 lists enabled inbound rules only: outbound desired rules are then returned under
    ``unchecked`` and a desired rule that is disabled on the host shows as missing.

    Returns ``{"findings": [...], "unchecked": [names], "summary": {...}}``; kinds: ``missing``
    (fail), ``changed`` (fail, ``differences``: [{field, desired, actual}]), ``extra`` (fail for
    allow rules, warn for block rules), ``duplicate`` (warn), ``in_sync`` (pass).
    """
    state = parse_state(state)
    if not isinstance(desired_rule_args, list):
        raise EvaluationError("desired_rule_args: must be a list of win_firewall_rule argument dicts")
    mark = (prefix + NAME_SEPARATOR).lower()
    outbound_read = (state.get("outbound_group") or "").lower() == group.lower()
    listed = [r for r in state["rules"] if r["enabled"] and (r["direction"] == "inbound" or outbound_read)]
    by_name = {}
    for rule in listed:
        if rule["display_name"].lower().startswith(mark):
            by_name.setdefault(rule["display_name"].lower(), []).append(rule)
    findings, unchecked, expected = [], [], set()
    for index, args in enumerate(desired_rule_args):
        if not isinstance(args, dict) or not isinstance(args.get("name"), str):
            raise EvaluationError("desired_rule_args[%d]: must be a mapping with a name" % index)
        name, key = args["name"], args["name"].lower()
        base = {"protocol": args.get("protocol"), "port": args.get("localport"), "rule": name, "rules": [name]}
        if args.get("state", "present") == "absent":
            continue
        if args.get("direction", "in") != "in" and not outbound_read:
            unchecked.append(name)
            continue
        expected.add(key)
        actual = by_name.get(key)
        if args.get("enabled") is False:
            if actual:
                findings.append(dict(base, status="fail", kind="changed",
                                     differences=[{"field": "enabled", "desired": False, "actual": True}],
                                     message="rule '%s' should be disabled but is enabled" % name))
            continue
        if not actual:
            findings.append(dict(base, status="fail", kind="missing",
                                 message="rule '%s' is not among the enabled rules of the active store "
                                         "(missing or disabled)" % name))
            continue
        if len(actual) > 1:
            findings.append(dict(base, status="warn", kind="duplicate",
                                 message="%d enabled inbound rules are named '%s'; win_firewall_rule manages one of "
                                         "them" % (len(actual), name)))
        diffs = _differences(args, actual[0])
        if diffs:
            findings.append(dict(base, status="fail", kind="changed", differences=diffs,
                                 message="rule '%s' differs from the policy: %s" % (name, "; ".join(
                                     "%s is %s, want %s" % (d["field"], d["actual"], d["desired"]) for d in diffs))))
        else:
            findings.append(dict(base, status="pass", kind="in_sync", message="rule '%s' matches the policy" % name))
    absent = {a["name"].lower() for a in desired_rule_args if a.get("state", "present") == "absent"}
    for key in sorted(by_name):
        if key in expected:
            continue
        for rule in by_name[key]:
            if rule["group"].lower() != group.lower() and key not in absent:
                continue
            status = "fail" if rule["action"] == "allow" else "warn"
            findings.append({
                "status": status, "kind": "extra", "protocol": rule["protocol"], "port": ",".join(rule["local_ports"]),
                "rule": rule["display_name"], "rules": [rule["display_name"]],
                "message": "%s %s is ours (group '%s') but the policy does not want it; it is stale" % (
                    _rule_label(rule), _rule_summary(rule), rule["group"]),
            })
    counts = {"pass": 0, "warn": 0, "fail": 0}
    for finding in findings:
        counts[finding["status"]] += 1
    worst = max((f["status"] for f in findings), key=STATUS_ORDER.get, default="pass")
    return {"findings": findings, "unchecked": unchecked, "summary": dict(counts, total=len(findings), status=worst)}


__all__ = ["AddressSet", "EvaluationError", "evaluate_firewall", "drift"]
