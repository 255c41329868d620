# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows Firewall state of one host: the read-only query and the parser of its JSON.

``WINDOWS_FIREWALL_STATE_COMMAND`` is a fixed PowerShell script for ``ansible.windows.win_powershell``
(no parameters, changes nothing, sets ``$Ansible.Changed = $false``). It prints ONE compressed JSON
document. Every enum is converted with ``[string]`` in the script, so Windows PowerShell 5.1 writes
names, not numbers; ``parse_state`` still accepts the numeric forms documented below.

Document printed by the query (keys exactly as written; lists may arrive as a single object when
some other tool produced the document, ``parse_state`` accepts both)::

    {
      "version": 2,
      "computer": "CML-PRG-1",
      "profiles": [                                  # Get-NetFirewallProfile -PolicyStore ActiveStore
        {"Name": "Domain", "Enabled": "True", "DefaultInboundAction": "Block",
         "DefaultOutboundAction": "Allow", "AllowInboundRules": "True",
         "AllowLocalFirewallRules": "True", "AllowUnicastResponseToMulticast": "True",
         "DisabledInterfaceAliases": ["NotConfigured"]}   # interfaces the firewall does not filter
      ],
      "connection_profiles": [                       # Get-NetConnectionProfile
        {"InterfaceAlias": "Ethernet0", "InterfaceIndex": 4, "NetworkCategory": "DomainAuthenticated"}
      ],
      "rules": [              # Get-NetFirewallRule -PolicyStore ActiveStore -Enabled True: inbound rules,
                              # and (version 2) the outbound rules of group "SafeQ Hardening"
        {"Name": "{0F5C...}", "DisplayName": "...", "Group": "...", "DisplayGroup": "...",
         "Enabled": "True", "Direction": "Inbound", "Action": "Allow", "Profile": "Any",
         "PolicyStoreSourceType": "Local", "PolicyStoreSource": "PersistentStore",
         "EdgeTraversalPolicy": "Block",
         "Protocol": "TCP", "LocalPort": ["4111"], "RemotePort": ["Any"],   # port filter
         "RemoteAddress": ["10.10.1.12"], "LocalAddress": ["Any"],           # address filter
         "Program": "%SystemRoot%\\system32\\svchost.exe",                    # application filter
         "ProgramPath": "C:\\Windows\\system32\\svchost.exe",                 # Program, variables expanded
         "Service": "Any",                                                  # service filter
         "Authentication": "NotRequired", "OverrideBlockRules": false,       # security filter
         "MissingFilters": []}                     # filters not found by InstanceID (normally empty)
      ],
      "tcp": [{"LocalAddress": "0.0.0.0", "LocalPort": 4111, "OwningProcess": 2412}],  # Get-NetTCPConnection -State Listen
      "udp": [{"LocalAddress": "0.0.0.0", "LocalPort": 123, "OwningProcess": 1100}],   # Get-NetUDPEndpoint
      "processes": [{"Id": 2412, "Name": "java.exe", "Path": "C:\\...\\java.exe"}],    # Win32_Process, listeners only
      "services": [{"Name": "TermService", "ProcessId": 1100}]                         # Win32_Service, listeners only
    }

Numeric forms accepted (MSFT_NetFirewallRule / MSFT_NetFirewallProfile / MSFT_NetConnectionProfile):
Action NotConfigured=0, Allow=2, AllowBypass=3 (allow that overrides block rules), Block=4;
Direction Inbound=1, Outbound=2; rule Enabled True=1, False=2; Profile flags Domain=1, Private=2,
Public=4, Any=0 or 2147483647 (0x7FFFFFFF, NET_FW_PROFILE2_ALL); profile settings are GpoBoolean
False=0, True=1, NotConfigured=2; PolicyStoreSourceType None=0, Local=1, GroupPolicy=2, Dynamic=3,
Generated=4, Hardcoded=5, MDM=6, HostFirewall*=8-11 (MS-FASP FW_RULE_ORIGIN_TYPE);
EdgeTraversalPolicy Block=0, Allow=1, DeferToUser=2, DeferToApp=3; NetworkCategory Public=0,
Private=1, DomainAuthenticated=2; Protocol as a name or an IP protocol number (6 tcp, 17 udp,
256 any). "Any" and "*" mean any; port and address filters may be a string or a list of strings.

``parse_state(text_or_dict)`` returns the normalized state (raises ``FirewallStateError`` naming
the field for a malformed document)::

    {"format": STATE_FORMAT, "computer": "CML-PRG-1",
     "profiles": {"domain": {"name": "Domain", "enabled": True, "default_inbound_action": "block",
                             "default_outbound_action": "allow", "allow_inbound_rules": True,
                             "allow_local_firewall_rules": True,
                             "allow_unicast_response_to_multicast": True,
                             "disabled_interface_aliases": []}, ...},
     "active_profiles": ["domain"],     # from the connection profiles; [] when none reported
     "connection_profiles": [{"interface": "Ethernet0", "category": "DomainAuthenticated", "profile": "domain"}],
     "rules": [{"name", "display_name", "group", "display_group", "direction": "inbound",
                "action": "allow"|"block", "override_block_rules": False, "enabled": True,
                "profiles": ["domain", "private", "public"], "store": "local"|"group_policy"|...,
                "store_source", "edge_traversal": "block"|"allow"|"defer_to_user"|"defer_to_app",
                "protocol": "any"|"tcp"|"udp"|"icmpv4"|"icmpv6"|"<number>",
                "local_ports": ["any"] or ["4111", "5014-5020", "RPC"], "remote_ports": [...],
                "remote_addresses": ["any"] or ["10.10.1.12", "10.110.0.0/16", "10.0.0.1-10.0.0.9",
                                                "LocalSubnet"], "local_addresses": [...],
                "program": "any" or the path as Windows shows it, "program_path": expanded path or None,
                "service": "any" or a service short name, "authentication": "notrequired"|...,
                "missing_filters": []}],
     "listeners": [{"protocol": "tcp", "address": "0.0.0.0", "port": 4111, "pid": 2412}] or None
                  (None: the document has no tcp/udp lists, listeners unknown),
     "processes": {2412: {"name": "java.exe", "path": "C:\\...\\java.exe"}},
     "services": {1100: ["TermService"]}}

Address tokens are canonical: IPv4/IPv6 addresses, subnets as ``network/prefix`` (mask notation and
host bits are normalized), ``start-end`` ranges, keywords with their documented spelling
(LocalSubnet, DNS, DHCP, WINS, DefaultGateway, Internet, Intranet, IntranetRemoteAccess,
PlayToDevice, CaptivePortal, optionally suffixed 4 or 6). Port tokens: numbers, ``a-b`` ranges and
the keywords RPC, RPCEPMap, IPHTTPSIn, IPHTTPSOut, Teredo, PlayToDiscovery, mDNS.

Pure Python 3 standard library.
"""

from __future__ import annotations

import ipaddress
import json
import re

STATE_FORMAT = "safeq.hardening.windows_firewall_state/1"
OUR_GROUP = "SafeQ Hardening"
PROFILE_NAMES = ("domain", "private", "public")

# The fixed, read-only query. Filters are fetched once with -All and joined to the rules by
# InstanceID: one Get-NetFirewall*Filter call per rule is slow on hosts with hundreds of rules.
WINDOWS_FIREWALL_STATE_COMMAND = r"""$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
function ConvertTo-StringList($value) {
    , @($value | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })
}
function Get-FilterIndex($filters) {
    $index = @{}
    foreach ($filter in @($filters)) { $index[[string]$filter.InstanceID] = $filter }
    $index
}
$portFilters = Get-FilterIndex (Get-NetFirewallPortFilter -All -PolicyStore ActiveStore)
$addressFilters = Get-FilterIndex (Get-NetFirewallAddressFilter -All -PolicyStore ActiveStore)
$applicationFilters = Get-FilterIndex (Get-NetFirewallApplicationFilter -All -PolicyStore ActiveStore)
$serviceFilters = Get-FilterIndex (Get-NetFirewallServiceFilter -All -PolicyStore ActiveStore)
$securityFilters = Get-FilterIndex (Get-NetFirewallSecurityFilter -All -PolicyStore ActiveStore)
$rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Enabled True -ErrorAction SilentlyContinue |
    Where-Object { [string]$_.Direction -eq 'Inbound' -or [string]$_.Group -eq 'SafeQ Hardening' } |
    ForEach-Object {
        $id = [string]$_.InstanceID
        $port = $portFilters[$id]
        $address = $addressFilters[$id]
        $application = $applicationFilters[$id]
        $service = $serviceFilters[$id]
        $security = $securityFilters[$id]
        $missing = @()
        if ($null -eq $port) { $missing += 'port' }
        if ($null -eq $address) { $missing += 'address' }
        if ($null -eq $application) { $missing += 'application' }
        if ($null -eq $service) { $missing += 'service' }
        $program = if ($application) { [string]$application.Program } else { $null }
        [ordered]@{
            Name = [string]$_.Name
            DisplayName = [string]$_.DisplayName
            Group = [string]$_.Group
            DisplayGroup = [string]$_.DisplayGroup
            Enabled = [string]$_.Enabled
            Direction = [string]$_.Direction
            Action = [string]$_.Action
            Profile = [string]$_.Profile
            PolicyStoreSourceType = [string]$_.PolicyStoreSourceType
            PolicyStoreSource = [string]$_.PolicyStoreSource
            EdgeTraversalPolicy = [string]$_.EdgeTraversalPolicy
            Protocol = if ($port) { [string]$port.Protocol } else { $null }
            LocalPort = if ($port) { ConvertTo-StringList $port.LocalPort } else { $null }
            RemotePort = if ($port) { ConvertTo-StringList $port.RemotePort } else { $null }
            RemoteAddress = if ($address) { ConvertTo-StringList $address.RemoteAddress } else { $null }
            LocalAddress = if ($address) { ConvertTo-StringList $address.LocalAddress } else { $null }
            Program = $program
            ProgramPath = if ($program -and $program -ne 'Any') { [Environment]::ExpandEnvironmentVariables($program) } else { $null }
            Service = if ($service) { [string]$service.Service } else { $null }
            Authentication = if ($security) { [string]$security.Authentication } else { $null }
            OverrideBlockRules = if ($security) { [bool]$security.OverrideBlockRules } else { $false }
            MissingFilters = $missing
        }
    })
$profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
    [ordered]@{
        Name = [string]$_.Name
        Enabled = [string]$_.Enabled
        DefaultInboundAction = [string]$_.DefaultInboundAction
        DefaultOutboundAction = [string]$_.DefaultOutboundAction
        AllowInboundRules = [string]$_.AllowInboundRules
        AllowLocalFirewallRules = [string]$_.AllowLocalFirewallRules
        AllowUnicastResponseToMulticast = [string]$_.AllowUnicastResponseToMulticast
        DisabledInterfaceAliases = ConvertTo-StringList $_.DisabledInterfaceAliases
    }
})
$connectionProfiles = @(Get-NetConnectionProfile -ErrorAction SilentlyContinue | ForEach-Object {
    [ordered]@{
        InterfaceAlias = [string]$_.InterfaceAlias
        InterfaceIndex = [int]$_.InterfaceIndex
        NetworkCategory = [string]$_.NetworkCategory
    }
})
$tcp = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue | ForEach-Object {
    [ordered]@{ LocalAddress = [string]$_.LocalAddress; LocalPort = [int]$_.LocalPort; OwningProcess = [int]$_.OwningProcess }
})
$udp = @(Get-NetUDPEndpoint -ErrorAction SilentlyContinue | ForEach-Object {
    [ordered]@{ LocalAddress = [string]$_.LocalAddress; LocalPort = [int]$_.LocalPort; OwningProcess = [int]$_.OwningProcess }
})
$owners = @{}
foreach ($socket in $tcp + $udp) { $owners[[int]$socket.OwningProcess] = $true }
$processes = @(Get-CimInstance -ClassName Win32_Process | Where-Object { $owners.ContainsKey([int]$_.ProcessId) } |
    ForEach-Object { [ordered]@{ Id = [int]$_.ProcessId; Name = [string]$_.Name; Path = [string]$_.ExecutablePath } })
$services = @(Get-CimInstance -ClassName Win32_Service | Where-Object { $owners.ContainsKey([int]$_.ProcessId) } |
    ForEach-Object { [ordered]@{ Name = [string]$_.Name; ProcessId = [int]$_.ProcessId } })
[ordered]@{
    version = 2
    computer = [string]$env:COMPUTERNAME
    profiles = $profiles
    connection_profiles = $connectionProfiles
    rules = $rules
    tcp = $tcp
    udp = $udp
    processes = $processes
    services = $services
} | ConvertTo-Json -Depth 6 -Compress
"""

ADDRESS_KEYWORDS = ("LocalSubnet", "DNS", "DHCP", "WINS", "DefaultGateway", "Internet", "Intranet",
                    "IntranetRemoteAccess", "PlayToDevice", "CaptivePortal")
PORT_KEYWORDS = ("RPC", "RPCEPMap", "IPHTTPSIn", "IPHTTPSOut", "Teredo", "PlayToDiscovery", "mDNS")
_PORT_KEYWORD_ALIASES = {"rpc-epmap": "RPCEPMap", "iphttps": "IPHTTPSIn", "ply2disc": "PlayToDiscovery"}
ANY_WORDS = ("any", "*")

_ACTIONS = {"allow": "allow", "block": "block", "allowbypass": "allow", "2": "allow", "3": "allow", "4": "block"}
_DIRECTIONS = {"inbound": "inbound", "outbound": "outbound", "1": "inbound", "2": "outbound"}
_RULE_ENABLED = {"true": True, "false": False, "1": True, "2": False}
_GPO_BOOLEAN = {"true": True, "false": False, "notconfigured": None, "1": True, "0": False, "2": None}
_PROFILE_ACTIONS = {"allow": "allow", "block": "block", "notconfigured": None, "2": "allow", "4": "block", "0": None}
_PROFILE_FLAGS = {"domain": 1, "private": 2, "public": 4}
_PROFILE_ALL = (0, 0x7FFFFFFF)
_STORES = {
    "none": "none", "local": "local", "grouppolicy": "group_policy", "dynamic": "dynamic",
    "generated": "generated", "hardcoded": "hardcoded", "mdm": "mdm", "hostfirewalllocal": "host_firewall_local",
    "hostfirewallgrouppolicy": "host_firewall_group_policy", "hostfirewalldynamic": "host_firewall_dynamic",
    "hostfirewallmdm": "host_firewall_mdm",
    "0": "none", "1": "local", "2": "group_policy", "3": "dynamic", "4": "generated", "5": "hardcoded", "6": "mdm",
    "8": "host_firewall_local", "9": "host_firewall_group_policy", "10": "host_firewall_dynamic",
    "11": "host_firewall_mdm",
}
_EDGE = {"block": "block", "allow": "allow", "defertouser": "defer_to_user", "defertoapp": "defer_to_app",
         "0": "block", "1": "allow", "2": "defer_to_user", "3": "defer_to_app"}
_CATEGORIES = {"public": ("Public", "public"), "private": ("Private", "private"),
               "domainauthenticated": ("DomainAuthenticated", "domain"),
               "0": ("Public", "public"), "1": ("Private", "private"), "2": ("DomainAuthenticated", "domain")}
_PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmpv4", "58": "icmpv6", "256": "any"}
_PROTOCOL_NAMES = ("any", "tcp", "udp", "icmpv4", "icmpv6")
# Windows defaults used when the document has no expanded ProgramPath.
_DEFAULT_VARIABLES = {
    "systemroot": "C:\\Windows", "windir": "C:\\Windows", "systemdrive": "C:",
    "programfiles": "C:\\Program Files", "programfiles(x86)": "C:\\Program Files (x86)",
    "programdata": "C:\\ProgramData",
}
_PORT_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$|^\{[0-9A-Fa-f-]+\}$")


class FirewallStateError(ValueError):
    """The state document is not in the documented shape; the message names the field."""


# ---- tokens ------------------------------------------------------------------------------------

def _canonical_keyword(text, keywords, aliases=None):
    lower = text.lower()
    if aliases and lower in aliases:
        return aliases[lower]
    for keyword in keywords:
        if lower == keyword.lower():
            return keyword
    return None


def parse_port_token(token):
    """('any',) | ('range', low, high) | ('keyword', name); raises FirewallStateError."""
    text = str(token).strip()
    if text.lower() in ANY_WORDS:
        return ("any",)
    if text.isdigit():
        low = high = int(text)
    else:
        match = _PORT_RANGE.match(text)
        if not match:
            keyword = _canonical_keyword(text, PORT_KEYWORDS, _PORT_KEYWORD_ALIASES)
            if keyword:
                return ("keyword", keyword)
            if _KEYWORD.match(text):
                return ("keyword", text)
            raise FirewallStateError("%r is not a port, an 'a-b' range or a port keyword" % (token,))
        low, high = int(match.group(1)), int(match.group(2))
    if not (0 <= low <= high <= 65535):
        raise FirewallStateError("%r is not a port range within 0-65535" % (token,))
    return ("range", low, high)


def port_token_text(parsed):
    if parsed[0] == "any":
        return "any"
    if parsed[0] == "keyword":
        return parsed[1]
    return str(parsed[1]) if parsed[1] == parsed[2] else "%d-%d" % (parsed[1], parsed[2])


def _ip(text):
    return ipaddress.ip_address(text.strip().split("%", 1)[0])


def parse_address_token(token):
    """('any',) | ('v4'|'v6', low, high) as integers | ('keyword', name); raises FirewallStateError."""
    text = str(token).strip()
    if text.lower() in ANY_WORDS:
        return ("any",)
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            return ("v%d" % network.version, int(network.network_address), int(network.broadcast_address))
        if "-" in text and not text.startswith("{"):
            start, end = (_ip(part) for part in text.split("-", 1))
            if start.version != end.version or start > end:
                raise FirewallStateError("address range %r mixes IP versions or runs backwards" % (token,))
            return ("v%d" % start.version, int(start), int(end))
        address = _ip(text)
        return ("v%d" % address.version, int(address), int(address))
    except ValueError as exc:
        if isinstance(exc, FirewallStateError):
            raise
    base, suffix = (text[:-1], text[-1]) if text[-1:] in ("4", "6") else (text, "")
    keyword = _canonical_keyword(base, ADDRESS_KEYWORDS)
    if keyword:
        return ("keyword", keyword + suffix)
    if _KEYWORD.match(text) and not re.match(r"^[0-9a-fA-F:.]+$", text):
        return ("keyword", text)
    raise FirewallStateError("%r is not an address, subnet, 'start-end' range or address keyword" % (token,))


def address_token_text(parsed):
    """Canonical text: address, network/prefix when the interval is a subnet, else start-end."""
    if parsed[0] == "any":
        return "any"
    if parsed[0] == "keyword":
        return parsed[1]
    kind, low, high = parsed
    factory = ipaddress.IPv4Address if kind == "v4" else ipaddress.IPv6Address
    if low == high:
        return str(factory(low))
    networks = list(ipaddress.summarize_address_range(factory(low), factory(high)))
    if len(networks) == 1:
        return str(networks[0])
    return "%s-%s" % (factory(low), factory(high))


# ---- document helpers ----------------------------------------------------------------------

def _get(obj, key, default=None):
    if key in obj:
        return obj[key]
    lower = key.lower()
    for name, value in obj.items():
        if isinstance(name, str) and name.lower() == lower:
            return value
    return default


def _as_list(value, field, required=False):
    if value is None:
        if required:
            raise FirewallStateError("%s: missing" % field)
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise FirewallStateError("%s: must be a list of objects (or one object), got %r" % (field, value))


def _objects(value, field, required=False):
    items = _as_list(value, field, required)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise FirewallStateError("%s[%d]: must be an object, got %r" % (field, index, item))
    return items


def _enum(value, table, field, documented):
    if isinstance(value, bool):
        key = "true" if value else "false"
    else:
        key = str(value).strip().replace(" ", "").lower()
    if key not in table:
        raise FirewallStateError("%s: %r is not one of the documented values (%s)" % (field, value, documented))
    return table[key]


def _strings(value, field):
    """A filter value (string, list of strings or null) as a list of non-empty strings."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, (dict, list)) or isinstance(item, bool):
            raise FirewallStateError("%s: %r is not a string" % (field, item))
        for part in str(item).split(","):
            if part.strip():
                result.append(part.strip())
    return result


def _int(value, field):
    if isinstance(value, bool):
        raise FirewallStateError("%s: %r is not an integer" % (field, value))
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise FirewallStateError("%s: %r is not an integer" % (field, value))


def _profile_list(value, field):
    if isinstance(value, list):
        names = set()
        for item in value:
            names.update(_profile_list(item, field))
        return [p for p in PROFILE_NAMES if p in names]
    if isinstance(value, bool) or value is None:
        raise FirewallStateError("%s: %r is not a profile value" % (field, value))
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        if number in _PROFILE_ALL:
            return list(PROFILE_NAMES)
        if number < 0 or number & ~7:
            raise FirewallStateError("%s: %r is not a documented Profile flag value (Domain=1, Private=2, Public=4,"
                                     " Any=0 or 2147483647)" % (field, value))
        return [p for p in PROFILE_NAMES if number & _PROFILE_FLAGS[p]]
    names = set()
    for part in text.split(","):
        key = part.strip().lower()
        if key == "any":
            return list(PROFILE_NAMES)
        if key == "notapplicable":
            continue
        if key not in _PROFILE_FLAGS:
            raise FirewallStateError("%s: %r is not Any, Domain, Private, Public or NotApplicable" % (field, value))
        names.add(key)
    return [p for p in PROFILE_NAMES if p in names]


def _tokens(value, field, parser, formatter):
    """Canonical token list; ['any'] when any token means any. None stays None (filter missing)."""
    items = _strings(value, field)
    if items is None:
        return None
    if not items:
        return ["any"]
    tokens = []
    for index, item in enumerate(items):
        try:
            parsed = parser(item)
        except FirewallStateError as exc:
            raise FirewallStateError("%s[%d]: %s" % (field, index, exc))
        if parsed[0] == "any":
            return ["any"]
        text = formatter(parsed)
        if text not in tokens:
            tokens.append(text)
    return tokens


def _expand(path):
    def replace(match):
        return _DEFAULT_VARIABLES.get(match.group(1).lower(), match.group(0))
    return re.sub(r"%([^%]+)%", replace, path)


def _text(value):
    return "" if value is None else str(value)


# ---- sections --------------------------------------------------------------------------------

def _parse_profiles(items):
    profiles = {}
    for index, item in enumerate(items):
        field = "profiles[%d]" % index
        name = _text(_get(item, "Name")).strip()
        key = name.lower()
        if key not in PROFILE_NAMES:
            raise FirewallStateError("%s.Name: %r is not Domain, Private or Public" % (field, name))
        booleans = "True, False, NotConfigured or GpoBoolean False=0, True=1, NotConfigured=2"
        actions = "Allow, Block, NotConfigured or 2, 4, 0"
        profiles[key] = {
            "name": name,
            "enabled": _enum(_get(item, "Enabled", "NotConfigured"), _GPO_BOOLEAN, field + ".Enabled", booleans),
            "default_inbound_action": _enum(_get(item, "DefaultInboundAction", "NotConfigured"), _PROFILE_ACTIONS,
                                            field + ".DefaultInboundAction", actions),
            "default_outbound_action": _enum(_get(item, "DefaultOutboundAction", "NotConfigured"), _PROFILE_ACTIONS,
                                             field + ".DefaultOutboundAction", actions),
            "allow_inbound_rules": _enum(_get(item, "AllowInboundRules", "NotConfigured"), _GPO_BOOLEAN,
                                         field + ".AllowInboundRules", booleans),
            "allow_local_firewall_rules": _enum(_get(item, "AllowLocalFirewallRules", "NotConfigured"),
                                                _GPO_BOOLEAN, field + ".AllowLocalFirewallRules", booleans),
            "allow_unicast_response_to_multicast": _enum(
                _get(item, "AllowUnicastResponseToMulticast", "NotConfigured"), _GPO_BOOLEAN,
                field + ".AllowUnicastResponseToMulticast", booleans),
            "disabled_interface_aliases": [
                a for a in (_strings(_get(item, "DisabledInterfaceAliases"), field + ".DisabledInterfaceAliases") or [])
                if a.lower() != "notconfigured"],
        }
    return profiles


def _parse_connection_profiles(items):
    result = []
    for index, item in enumerate(items):
        field = "connection_profiles[%d]" % index
        category, profile = _enum(_get(item, "NetworkCategory"), _CATEGORIES, field + ".NetworkCategory",
                                  "Public, Private, DomainAuthenticated or 0, 1, 2")
        result.append({"interface": _text(_get(item, "InterfaceAlias")), "category": category, "profile": profile})
    return result


def _parse_rule(item, field):
    name = _text(_get(item, "Name"))
    display_name = _text(_get(item, "DisplayName")) or name
    if not name and not display_name:
        raise FirewallStateError("%s: needs Name or DisplayName" % field)
    action = _enum(_get(item, "Action"), _ACTIONS, field + ".Action", "Allow, Block, AllowBypass or 2, 3, 4")
    raw_action = str(_get(item, "Action")).strip().lower()
    override = _get(item, "OverrideBlockRules", False)
    if not isinstance(override, bool):
        override = _enum(override, _GPO_BOOLEAN, field + ".OverrideBlockRules", "true or false") is True
    override = override or raw_action in ("allowbypass", "3")
    protocol_value = _get(item, "Protocol")
    missing = [str(m) for m in _as_list(_get(item, "MissingFilters"), field + ".MissingFilters")]
    if protocol_value is None:
        protocol = "any"
    else:
        protocol = str(protocol_value).strip().lower()
        protocol = _PROTOCOL_NUMBERS.get(protocol, protocol)
        if protocol == "*":
            protocol = "any"
        if protocol not in _PROTOCOL_NAMES and not (protocol.isdigit() and int(protocol) <= 255):
            raise FirewallStateError("%s.Protocol: %r is not a protocol name or number" % (field, protocol_value))
    program = _text(_get(item, "Program")).strip()
    program = "any" if not program or program.lower() in ANY_WORDS else program
    program_path = _text(_get(item, "ProgramPath")).strip() or None
    if program != "any" and program_path is None:
        program_path = _expand(program)
    if program == "any":
        program_path = None
    service = _text(_get(item, "Service")).strip()
    service = "any" if not service or service.lower() in ANY_WORDS else service
    rule = {
        "name": name,
        "display_name": display_name,
        "group": _text(_get(item, "Group")),
        "display_group": _text(_get(item, "DisplayGroup")),
        "direction": _enum(_get(item, "Direction", "Inbound"), _DIRECTIONS, field + ".Direction",
                           "Inbound, Outbound or 1, 2"),
        "action": action,
        "override_block_rules": bool(override),
        "enabled": _enum(_get(item, "Enabled", "True"), _RULE_ENABLED, field + ".Enabled", "True, False or 1, 2"),
        "profiles": _profile_list(_get(item, "Profile", "Any"), field + ".Profile"),
        "store": _enum(_get(item, "PolicyStoreSourceType", "Local"), _STORES, field + ".PolicyStoreSourceType",
                       "None, Local, GroupPolicy, Dynamic, Generated, Hardcoded, MDM or 0-6, 8-11"),
        "store_source": _text(_get(item, "PolicyStoreSource")),
        "edge_traversal": _enum(_get(item, "EdgeTraversalPolicy", "Block"), _EDGE, field + ".EdgeTraversalPolicy",
                                "Block, Allow, DeferToUser, DeferToApp or 0-3"),
        "protocol": protocol,
        "local_ports": _tokens(_get(item, "LocalPort"), field + ".LocalPort", parse_port_token, port_token_text),
        "remote_ports": _tokens(_get(item, "RemotePort"), field + ".RemotePort", parse_port_token, port_token_text),
        "remote_addresses": _tokens(_get(item, "RemoteAddress"), field + ".RemoteAddress", parse_address_token,
                                    address_token_text),
        "local_addresses": _tokens(_get(item, "LocalAddress"), field + ".LocalAddress", parse_address_token,
                                   address_token_text),
        "program": program,
        "program_path": program_path,
        "service": service,
        "authentication": _text(_get(item, "Authentication")).lower() or "notrequired",
        "missing_filters": missing,
    }
    for key, filter_name in (("local_ports", "port"), ("remote_ports", "port"), ("remote_addresses", "address"),
                             ("local_addresses", "address")):
        if rule[key] is None:
            rule[key] = ["any"]
            if filter_name not in rule["missing_filters"]:
                rule["missing_filters"].append(filter_name)
    if protocol_value is None and "port" not in rule["missing_filters"]:
        rule["missing_filters"].append("port")
    return rule


def _parse_listeners(document):
    tcp, udp = _get(document, "tcp"), _get(document, "udp")
    if tcp is None and udp is None:
        return None
    listeners = []
    for protocol, items in (("tcp", tcp), ("udp", udp)):
        for index, item in enumerate(_objects(items, protocol)):
            field = "%s[%d]" % (protocol, index)
            port = _int(_get(item, "LocalPort"), field + ".LocalPort")
            if not 0 <= port <= 65535:
                raise FirewallStateError("%s.LocalPort: %r is outside 0-65535" % (field, port))
            pid = _get(item, "OwningProcess")
            listeners.append({
                "protocol": protocol, "address": _text(_get(item, "LocalAddress")), "port": port,
                "pid": None if pid is None else _int(pid, field + ".OwningProcess"),
            })
    listeners.sort(key=lambda r: (r["protocol"], r["port"], r["address"], r["pid"] or 0))
    return listeners


def parse_state(document):
    """Normalize the query's JSON (text, bytes, dict, or win_powershell's one-item output list)."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FirewallStateError("state: not UTF-8 text: %s" % exc)
    if isinstance(document, str):
        try:
            document = json.loads(document.lstrip("\ufeff"))
        except ValueError as exc:
            raise FirewallStateError("state: not a JSON document: %s" % exc)
    if not isinstance(document, dict):
        raise FirewallStateError("state: must be a JSON object, got %s" % type(document).__name__)
    if document.get("format") == STATE_FORMAT:
        return document
    profiles = _parse_profiles(_objects(_get(document, "profiles"), "profiles", required=True))
    connection_profiles = _parse_connection_profiles(
        _objects(_get(document, "connection_profiles"), "connection_profiles"))
    rules = [_parse_rule(item, "rules[%d]" % index)
             for index, item in enumerate(_objects(_get(document, "rules"), "rules", required=True))]
    processes = {}
    for index, item in enumerate(_objects(_get(document, "processes"), "processes")):
        field = "processes[%d]" % index
        pid = _int(_get(item, "Id", _get(item, "ProcessId")), field + ".Id")
        processes[pid] = {"name": _text(_get(item, "Name", _get(item, "ProcessName"))) or None,
                          "path": _text(_get(item, "Path", _get(item, "ExecutablePath"))) or None}
    services = {}
    for index, item in enumerate(_objects(_get(document, "services"), "services")):
        field = "services[%d]" % index
        pid = _int(_get(item, "ProcessId"), field + ".ProcessId")
        name = _text(_get(item, "Name")).strip()
        if not name:
            raise FirewallStateError("%s.Name: missing" % field)
        services.setdefault(pid, []).append(name)
    active = sorted({c["profile"] for c in connection_profiles}, key=PROFILE_NAMES.index)
    return {
        "format": STATE_FORMAT,
        # version 2 also lists the enabled outbound rules of the group "SafeQ Hardening"
        "outbound_group": OUR_GROUP if _int(_get(document, "version", 1), "version") >= 2 else None,
        "computer": _text(_get(document, "computer")),
        "profiles": profiles,
        "active_profiles": active,
        "connection_profiles": connection_profiles,
        "rules": rules,
        "listeners": _parse_listeners(document),
        "processes": processes,
        "services": {pid: sorted(names) for pid, names in services.items()},
    }
