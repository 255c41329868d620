# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one host's Policy object as community.windows.win_firewall_rule arguments.

Pure Python (standard library only); the filter plugins wrap errors in AnsibleFilterError.

Windows Firewall semantics this renderer relies on (see docs/windows.md):

* A block rule beats every allow rule, whatever the order. So a deny that covered the
  management (WinRM) port would lock the controller out: we refuse to render it.
* Windows Firewall rules do not filter loopback traffic (Microsoft KB 2771908). A policy deny
  ``except: [loopback]`` (JMX, Tomcat shutdown) is therefore rendered as a block with remote
  address ``any``: local tools (JConsole on the server) keep working. ``except: [loopback, self]``
  (RMI 20222-20225) is rendered the same way: traffic from the host to its own address is loopback
  traffic on Windows too.

Value syntax accepted by ``win_firewall_rule`` (the module passes the strings unchanged to the
``HNetCfg.FWRule`` COM object, except the literal ``any`` which leaves the property at ``*``):

* ports (``localport``/``remoteport``): ``any`` or a comma list of port numbers and ``a-b`` ranges
  (INetFwRule LocalPorts/RemotePorts; MS-FASP FW_PORT_RANGE: 16-bit ports, begin <= end). Windows
  also knows keywords such as ``RPC`` or ``IPHTTPS``; we never emit them and reject them.
* addresses (``localip``/``remoteip``): ``any`` or a comma list of IPv4/IPv6 addresses, subnets in
  prefix or mask notation, ``start-end`` ranges without spaces, and the keywords ``LocalSubnet``,
  ``DNS``, ``DHCP``, ``WINS``, ``DefaultGateway`` (INetFwRule RemoteAddresses).
* rule name and description: no ``|`` character (INetFwRule Name/Description), at most 10000
  characters (MS-FASP FW_RULE ``[string, range(1, 10001)]``). We keep descriptions much shorter.
"""

from __future__ import annotations

import ipaddress
import re

DEFAULT_PREFIX = "SafeQ Hardening"
DEFAULT_GROUP = "SafeQ Hardening"
PROFILES = ("domain", "private", "public")
DEFAULT_PROFILES = PROFILES
STATES = ("present", "absent")
PROTOCOLS = ("tcp", "udp")
NAME_SEPARATOR = " - "
MANAGEMENT_RULE = "management-in-%s"
# Windows limit is 10000 characters (MS-FASP FW_RULE); our own, readable limits are far below it.
NAME_MAX = 255
DESCRIPTION_MAX = 512
MAX_RULES_PER_HOST = 25
DENY_EXCEPTIONS = ("loopback", "self")
ADDRESS_KEYWORDS = ("localsubnet", "dns", "dhcp", "wins", "defaultgateway")

# win_service_info service name -> SafeQ components that install it (see docs/windows.md).
SERVICE_COMPONENTS = {
    "YSoftSafeQCML": ("cml",),
    "YSoftSafeQCMLDBS": ("cml",),
    "YSoftSafeQLDAPReplicator": ("cml",),
    "YSoftSafeQTerminalServer": ("cml", "ors"),
    "YSoftSafeQORS": ("ors",),
    "YSoftEtcd": ("etcd",),
    "YSoftWeb": ("cml", "ors"),
}
# The service whose absence means the inventory component is not installed on the host.
PRIMARY_SERVICES = {"cml": "YSoftSafeQCML", "ors": "YSoftSafeQORS", "etcd": "YSoftEtcd"}

_PORT_RANGE = re.compile(r"^([0-9]+)-([0-9]+)\Z")


class WindowsRenderError(ValueError):
    """The policy cannot be rendered safely for Windows Firewall; the message names the field."""


# ---- value syntax ------------------------------------------------------------------------------

def port_token_error(token):
    """Return None when ``token`` is a port or an ``a-b`` range Windows accepts, else the reason."""
    token = str(token)
    if token.isascii() and token.isdigit():
        low = high = int(token)
    else:
        match = _PORT_RANGE.match(token)
        if not match:
            return "%r is not a port number or an 'a-b' range" % token
        low, high = int(match.group(1)), int(match.group(2))
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        return "%r is outside 1-65535" % token
    if low > high:
        return "range %r runs backwards" % token
    return None


def port_list_errors(value):
    """Errors of a ``localport``/``remoteport`` string; empty list when valid."""
    if not isinstance(value, str) or not value:
        return ["%r is not a non-empty string" % (value,)]
    if value == "any":
        return []
    errors = []
    for token in value.split(","):
        error = port_token_error(token)
        if error:
            errors.append(error)
    return errors


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def address_token_error(token):
    """Return None when ``token`` is an address token Windows accepts in remoteip, else the reason."""
    token = str(token)
    if token.lower() in ADDRESS_KEYWORDS:
        return None
    if "-" in token:
        parts = token.split("-")
        if len(parts) != 2 or not all(_is_ip(p) for p in parts):
            return "%r is not a 'start-end' address range without spaces" % token
        start, end = (ipaddress.ip_address(p) for p in parts)
        if start.version != end.version or start > end:
            return "address range %r mixes IP versions or runs backwards" % token
        return None
    if "/" in token:
        address, mask = token.split("/", 1)
        if not _is_ip(address):
            return "%r has no valid address before '/'" % token
        try:
            ipaddress.ip_network(token, strict=False)
        except ValueError:
            return "%r is not a subnet in prefix or mask notation" % token
        if mask.isdigit() or _is_ip(mask):
            return None
        return "%r is not a subnet in prefix or mask notation" % token
    if _is_ip(token):
        return None
    return "%r is not an IP address, subnet, range or keyword (LocalSubnet, DNS, DHCP, WINS, DefaultGateway)" % token


def address_list_errors(value):
    """Errors of a ``remoteip``/``localip`` string; empty list when valid."""
    if not isinstance(value, str) or not value:
        return ["%r is not a non-empty string" % (value,)]
    if value == "any":
        return []
    tokens = value.split(",")
    errors = [e for e in (address_token_error(t) for t in tokens) if e]
    if any(t in ("any", "*") for t in tokens):
        errors.append("'any' must be the only address")
    return errors


def text_errors(value, limit):
    """Errors of a rule name or description (no '|', non-empty, at most ``limit`` characters)."""
    if not isinstance(value, str) or not value.strip():
        return ["%r is empty" % (value,)]
    errors = []
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        errors.append("%r contains control characters" % value)
    if "|" in value:
        errors.append("%r contains '|', which Windows Firewall does not allow" % value)
    if len(value) > limit:
        errors.append("%d characters is longer than %d" % (len(value), limit))
    return errors


# ---- policy pieces -----------------------------------------------------------------------------

def _parse_port(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise WindowsRenderError("%s: %r is not a port or an 'a-b' range" % (field, value))
    error = port_token_error(str(value).strip())
    if error:
        raise WindowsRenderError("%s: %s" % (field, error))
    text = str(value).strip()
    bounds = text.split("-", 1)
    return int(bounds[0]), int(bounds[-1])


def _ranges(ports, field):
    """List of (low, high) for a policy port list; None means any port."""
    if not isinstance(ports, list) or not ports:
        raise WindowsRenderError("%s: must be a non-empty list of ports, got %r" % (field, ports))
    if "any" in ports:
        if len(ports) != 1:
            raise WindowsRenderError("%s: 'any' must be the only item, got %r" % (field, ports))
        return None
    return [_parse_port(p, "%s[%d]" % (field, i)) for i, p in enumerate(ports)]


def _port_text(ranges):
    if ranges is None:
        return "any"
    seen, tokens = set(), []
    for low, high in ranges:
        token = str(low) if low == high else "%d-%d" % (low, high)
        if token not in seen:
            seen.add(token)
            tokens.append(token)
    return ",".join(tokens)


_VALID_TOKENS = set()  # address tokens already found valid (validation parses each one)


def _address_text(addresses, field):
    if not isinstance(addresses, list):
        raise WindowsRenderError("%s: must be a list of addresses, got %r" % (field, addresses))
    if "any" in addresses:
        if len(addresses) != 1:
            raise WindowsRenderError("%s: 'any' must be the only item, got %r" % (field, addresses))
        return "any"
    tokens, seen = [], set()
    for i, address in enumerate(addresses):
        if not (isinstance(address, str) and address in _VALID_TOKENS):
            error = address_token_error(address) if isinstance(address, str) else "%r is not a string" % (address,)
            if error:
                raise WindowsRenderError("%s[%d]: %s" % (field, i, error))
            if len(_VALID_TOKENS) < 200000:
                _VALID_TOKENS.add(address)
        if address not in seen:
            seen.add(address)
            tokens.append(address)
    return ",".join(tokens)


def rule_display_name(prefix, rule_name):
    """Windows display name of one of our rules: ``<prefix> - <rule name>``."""
    return "%s%s%s" % (prefix, NAME_SEPARATOR, rule_name)


def owned_prefix(prefix):
    return prefix + NAME_SEPARATOR


def _description(parts, catalog_ids):
    """``parts`` joined, then the catalog ids; ids dropped from the end with '(+N more)' to fit."""
    head = "safeq.hardening: " + "; ".join(p for p in parts if p)
    ids = [str(i) for i in catalog_ids or []]
    for keep in range(len(ids), -1, -1):
        if not ids:
            text = head
        else:
            text = "%s; catalog: %s" % (head, ", ".join(ids[:keep]) if keep else "")
            if keep < len(ids):
                text += "%s(+%d more)" % (" " if keep else "", len(ids) - keep)
        if len(text) <= DESCRIPTION_MAX:
            return text.replace("|", "/")
    return head[:DESCRIPTION_MAX - 3].replace("|", "/") + "..."


def _check_text(value, limit, field):
    errors = text_errors(value, limit)
    if errors:
        raise WindowsRenderError("%s: %s" % (field, "; ".join(errors)))


def _validate_options(state, prefix, group, profiles):
    if state not in STATES:
        raise WindowsRenderError("state: %r is not one of %s" % (state, ", ".join(STATES)))
    _check_text(prefix, 64, "prefix")
    _check_text(group, 128, "group")
    if prefix != prefix.strip():
        raise WindowsRenderError("prefix: %r has leading or trailing spaces" % prefix)
    profiles = list(profiles or [])
    if not profiles:
        raise WindowsRenderError("profiles: must name at least one of %s" % ", ".join(PROFILES))
    for profile in profiles:
        if profile not in PROFILES:
            raise WindowsRenderError("profiles: %r is not one of %s" % (profile, ", ".join(PROFILES)))
    return [p for p in PROFILES if p in profiles]


def _overlap(left, right):
    """Ranges common to two range lists (None = any port)."""
    if left is None:
        return right if right is not None else [(1, 65535)]
    if right is None:
        return left
    return [(max(a, c), min(b, d)) for a, b in left for c, d in right if max(a, c) <= min(b, d)]


def _rule_args(name, group, description, direction, action, protocol, ports, addresses, profiles,
               remote_ports="any", local_addresses="any"):
    inbound = direction == "in"
    return {
        "name": name,
        "group": group,
        "description": description,
        "direction": direction,
        "action": action,
        "protocol": protocol,
        "localport": ports if inbound else "any",
        "remoteport": remote_ports if inbound else ports,
        "localip": local_addresses,
        "remoteip": addresses,
        "program": "any",
        "service": "any",
        "profiles": list(profiles),
        "enabled": True,
        "state": "present",
    }


def firewall_rule_args(policy, state="present", prefix=DEFAULT_PREFIX, group=DEFAULT_GROUP,
                       profiles=DEFAULT_PROFILES, cache=None):
    """Turn one host's Policy object into community.windows.win_firewall_rule argument dicts.

    The management rule (WinRM from policy['management']) comes first, then one rule per policy
    rule, in policy order. With ``state='absent'`` every dict is ``{name, state: absent}`` for the
    same names, the management rule last. Rules with an empty address list match nothing and are
    left out (an existing rule of that name is then stale and removed). Raises WindowsRenderError
    naming the field.

    ``cache`` (a dict kept by the caller) shares the rendered and validated policy rules between
    hosts whose policies share the same rules list object, as the policy core produces them.
    """
    profiles = _validate_options(state, prefix, group, profiles)
    if not isinstance(policy, dict):
        raise WindowsRenderError("policy: must be a mapping (one host's Policy object), got %r" % type(policy).__name__)
    host = policy.get("host", "?")
    where = "policy[%s]" % host

    management = policy.get("management")
    if not isinstance(management, dict):
        raise WindowsRenderError("%s.management: missing; the management (WinRM) rule cannot be rendered" % where)
    mgmt_protocol = management.get("protocol", "tcp")
    if mgmt_protocol not in PROTOCOLS:
        raise WindowsRenderError("%s.management.protocol: %r is not one of %s"
                                 % (where, mgmt_protocol, ", ".join(PROTOCOLS)))
    mgmt_ranges = _ranges(management.get("ports"), "%s.management.ports" % where)
    if mgmt_ranges is None:
        raise WindowsRenderError("%s.management.ports: must name the WinRM port(s), not 'any'" % where)
    mgmt_addresses = management.get("addresses")
    if not mgmt_addresses:
        raise WindowsRenderError("%s.management.addresses: empty; the controller would have no rule to reach WinRM"
                                 % where)
    mgmt_name = rule_display_name(prefix, MANAGEMENT_RULE % mgmt_protocol)
    result = [_rule_args(
        mgmt_name, group,
        _description(["allow in %s management (Ansible WinRM) %s" % (mgmt_protocol, _port_text(mgmt_ranges))], []),
        "in", "allow", mgmt_protocol, _port_text(mgmt_ranges),
        _address_text(mgmt_addresses, "%s.management.addresses" % where), profiles,
    )]

    rules = policy.get("rules")
    if not isinstance(rules, list):
        raise WindowsRenderError("%s.rules: must be a list, got %r" % (where, rules))
    # Everything below depends only on the rules, the options and the management protocol and ports.
    key = (id(rules), prefix, group, tuple(profiles), mgmt_protocol, tuple(mgmt_ranges))
    found = cache.get(key) if cache is not None else None
    if found is not None and found[0] is rules:
        result.extend(dict(args, profiles=list(args["profiles"])) for args in found[1])
    else:
        result.extend(_policy_rules_args(rules, where, group, prefix, profiles, mgmt_protocol, mgmt_ranges))
        _check_rule_texts(result, where)
        if cache is not None:
            cache[key] = (rules, [dict(args, profiles=list(args["profiles"])) for args in result[1:]])
    if state == "absent":
        # removal order: the management rule last, so WinRM stays open while the rest goes
        return [{"name": args["name"], "state": "absent"} for args in result[1:] + result[:1]]
    return result


def _policy_rules_args(rules, where, group, prefix, profiles, mgmt_protocol, mgmt_ranges):
    """win_firewall_rule arguments of the policy rules (the management rule excluded), validated."""
    result = []
    for index, rule in enumerate(rules):
        field = "%s.rules[%d]" % (where, index)
        if not isinstance(rule, dict):
            raise WindowsRenderError("%s: must be a mapping" % field)
        if isinstance(rule.get("name"), str):
            field = "%s(%s)" % (field, rule["name"])
        rule_name = rule.get("name")
        if not isinstance(rule_name, str) or not rule_name:
            raise WindowsRenderError("%s.name: missing" % field)
        action = rule.get("action")
        if action not in ("allow", "deny"):
            raise WindowsRenderError("%s.action: %r is not allow or deny" % (field, action))
        direction = rule.get("direction")
        if direction not in ("inbound", "outbound"):
            raise WindowsRenderError("%s.direction: %r is not inbound or outbound" % (field, direction))
        protocol = rule.get("protocol")
        if protocol not in PROTOCOLS:
            raise WindowsRenderError("%s.protocol: %r is not one of %s" % (field, protocol, ", ".join(PROTOCOLS)))
        ranges = _ranges(rule.get("ports"), "%s.ports" % field)
        exceptions = rule.get("except") or []
        if action == "allow" and exceptions:
            raise WindowsRenderError("%s.except: allow rules cannot carry exceptions, got %r" % (field, exceptions))
        unknown = [e for e in exceptions if e not in DENY_EXCEPTIONS]
        if unknown:
            raise WindowsRenderError("%s.except: %r cannot be expressed in Windows Firewall (only %s, which are"
                                     " loopback traffic there)" % (field, unknown, ", ".join(DENY_EXCEPTIONS)))
        if (action == "deny" and direction == "inbound" and protocol == mgmt_protocol
                and _overlap(ranges, mgmt_ranges)):
            raise WindowsRenderError(
                "%s.ports: a block rule would cover management port %s (%s.management.ports); Windows block rules"
                " beat allow rules and would cut off WinRM" % (field, _port_text(_overlap(ranges, mgmt_ranges)), where))
        addresses = rule.get("addresses")
        if addresses == []:
            continue
        remote = _address_text(addresses, "%s.addresses" % field)
        parts = ["%s %s %s" % (action, "in" if direction == "inbound" else "out", protocol)]
        if rule.get("peers"):
            parts[0] += " " + "+".join(str(p) for p in rule["peers"])
        if exceptions:
            parts.append("except %s: loopback traffic, which Windows Firewall does not filter" % "+".join(exceptions))
        remote_ports = "any"
        if rule.get("remote_ports"):
            if direction != "inbound":
                raise WindowsRenderError("%s.remote_ports: only inbound rules match a remote port" % field)
            remote_ports = _port_text(_ranges(rule["remote_ports"], "%s.remote_ports" % field))
        local = _address_text(rule["local_addresses"], "%s.local_addresses" % field) \
            if rule.get("local_addresses") else "any"
        result.append(_rule_args(
            rule_display_name(prefix, rule_name), group, _description(parts, rule.get("catalog_ids")),
            "in" if direction == "inbound" else "out", "block" if action == "deny" else "allow",
            protocol, _port_text(ranges), remote, profiles, remote_ports, local,
        ))
    return result


def _check_rule_texts(result, where):
    """Names and descriptions Windows accepts, 'all' not used, no two names equal for Windows."""
    seen = {}
    for args in result:
        _check_text(args["name"], NAME_MAX, "%s rule name" % where)
        _check_text(args["description"], DESCRIPTION_MAX, "%s description of %r" % (where, args["name"]))
        if args["name"].lower() == "all":
            raise WindowsRenderError("%s: 'all' is reserved and cannot be a rule name" % where)
        key = args["name"].lower()  # win_firewall_rule matches names with PowerShell -eq (case-insensitive)
        if key in seen:
            raise WindowsRenderError("%s: rule names %r and %r are the same for Windows (names are matched"
                                     " case-insensitively); rename the policy rule" % (where, seen[key], args["name"]))
        seen[key] = args["name"]


def owned_rule_names(existing, prefix=DEFAULT_PREFIX):
    """Names from ``existing`` (our group's listing) that carry our prefix, sorted, without duplicates."""
    mark = owned_prefix(prefix)
    return sorted({n for n in (existing or []) if isinstance(n, str) and n.startswith(mark)})


def stale_rule_names(existing, desired, prefix=DEFAULT_PREFIX):
    """Names in our group with our prefix that no desired (state present) rule keeps.

    ``existing`` is the list of display names of the rules in our group (the role lists them with
    Get-NetFirewallRule); names without our prefix are never returned, so rules the collection did
    not create are never touched. With every desired rule absent, all our rules are stale.
    Sorted by name, except that management rules come last.
    """
    keep = {d["name"].lower() for d in desired or []
            if isinstance(d, dict) and isinstance(d.get("name"), str) and d.get("state", "present") == "present"}
    management = rule_display_name(prefix, MANAGEMENT_RULE % "").lower()
    stale = [n for n in owned_rule_names(existing, prefix) if n.lower() not in keep]
    # management rules last: WinRM stays allowed while the other rules are removed
    return sorted(stale, key=lambda n: n.lower().startswith(management))


# ---- installed services vs inventory components ---------------------------------------------

def component_mismatches(services, components, service_components=None, primary_services=None):
    """Messages where the installed SafeQ services and the inventory components disagree.

    ``services`` is the ``services`` list of ansible.windows.win_service_info (dicts with at least
    ``name`` and ``state``); ``components`` the host's inventory components.
    """
    service_components = SERVICE_COMPONENTS if service_components is None else service_components
    primary_services = PRIMARY_SERVICES if primary_services is None else primary_services
    components = set(components or [])
    installed = {}
    for service in services or []:
        if isinstance(service, dict) and isinstance(service.get("name"), str):
            installed[service["name"].lower()] = service
    known = {name.lower(): (name, set(comps)) for name, comps in service_components.items()}
    messages = []
    for component in sorted(components):
        primary = primary_services.get(component)
        if primary is None:
            continue
        service = installed.get(primary.lower())
        if service is None:
            messages.append("inventory puts this host in safeq_%s but service %s is not installed"
                            % (component, primary))
        elif service.get("state") not in (None, "started"):
            messages.append("service %s (component %s) is installed but %s; listener checks will not see its ports"
                            % (primary, component, service.get("state")))
    for key in sorted(installed):
        if key not in known:
            continue
        name, comps = known[key]
        if not comps & components:
            messages.append("service %s is installed but the host is in none of %s"
                            % (name, ", ".join("safeq_" + c for c in sorted(comps))))
    return messages


# ---- JMX interface settings -------------------------------------------------------------------

__all__ = [
    "WindowsRenderError", "firewall_rule_args", "stale_rule_names", "owned_rule_names", "rule_display_name",
    "component_mismatches", "port_list_errors", "address_list_errors", "text_errors",
    "DEFAULT_PREFIX", "DEFAULT_GROUP", "DEFAULT_PROFILES", "MAX_RULES_PER_HOST", "SERVICE_COMPONENTS",
    "PRIMARY_SERVICES",
]
