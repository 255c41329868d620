# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixed read-only commands the role runs, and the parsers of their output.

The role's task files (roles/prerequisites/tasks/gather_windows.yml, gather_linux.yml) run exactly
these commands; a unit test keeps both in sync. The Windows listener command lives in
plugins/module_utils/listeners.py (shared with the firewall role).
"""

from __future__ import annotations

import json
import re

from ansible_collections.safeq.hardening.plugins.plugin_utils.prerequisites import gathered as G

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

_PREFIX_ORIGINS = {0: "Other", 1: "Manual", 2: "WellKnown", 3: "Dhcp", 4: "RouterAdvertisement"}
_INFINITE_LIFETIME = 4294967295
_APT_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) (.*?)(?: \[[^\]]*\])?\)")


class CommandOutputError(ValueError):
    """A command result that cannot be read; the message says why."""


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


def parse_dpkg_list(stdout):
    """[(package, version)] of the installed packages in the dpkg-query output."""
    result = []
    for line in str(stdout or "").splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0]:
            status = fields[2].strip() if len(fields) > 2 else "ii"
            if status and status[:2] not in ("ii", "hi"):
                continue
            result.append((fields[0].split(":")[0], fields[1]))
    return result


def ip_addresses(reg, windows):
    """[(interface, address, dynamic)] from the IP address command; raise CommandOutputError with the reason."""
    if not G.ok(reg):
        raise CommandOutputError(G.why(reg, "IP address list"))
    result = []
    if windows:
        for item in reg.get("output") or []:
            if not isinstance(item, dict):
                continue
            origin = item.get("PrefixOrigin")
            if isinstance(origin, dict):
                origin = origin.get("String") or origin.get("Value")
            if isinstance(origin, int):
                origin = _PREFIX_ORIGINS.get(origin, origin)
            result.append((str(item.get("InterfaceAlias") or ""), str(item.get("IPAddress") or ""),
                           str(origin or "").lower() == "dhcp"))
        return result
    try:
        interfaces = json.loads(reg.get("stdout") or "[]")
    except ValueError as exc:
        raise CommandOutputError("'ip -j -4 addr show' output is not JSON: %s" % exc)
    for iface in interfaces:
        for info in iface.get("addr_info") or []:
            if info.get("family") not in (None, "inet"):
                continue
            lifetime = info.get("valid_life_time")
            dynamic = bool(info.get("dynamic")) or (isinstance(lifetime, int) and lifetime < _INFINITE_LIFETIME)
            result.append((str(iface.get("ifname") or ""), str(info.get("local") or ""), dynamic))
    return result
