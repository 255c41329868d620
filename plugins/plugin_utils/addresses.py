# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv4 address sets as sorted integer intervals: parse, collapse, contain, format."""

from __future__ import annotations

import ipaddress

ANY = "any"
MAX = 2 ** 32 - 1


def network_interval(text):
    """'10.0.0.0/24' or '10.0.0.5' -> (first int, last int); ValueError when not IPv4."""
    net = ipaddress.IPv4Network(text)
    return int(net.network_address), int(net.broadcast_address)


def merge_intervals(intervals):
    """Sorted, merged list of (first, last) integer intervals."""
    merged = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def interval_cidrs(low, high):
    """The fewest CIDR strings that cover exactly [low, high] (single addresses without /32)."""
    result = []
    for net in ipaddress.summarize_address_range(ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)):
        result.append(str(net.network_address) if net.prefixlen == 32 else str(net))
    return result


def collapse(addresses):
    """Addresses/CIDRs -> the fewest sorted CIDR strings covering exactly the same addresses.

    ``["any"]`` stays ``["any"]``; an empty list stays empty.
    """
    if ANY in addresses:
        return [ANY]
    result = []
    for low, high in merge_intervals(network_interval(a) for a in addresses):
        result.extend(interval_cidrs(low, high))
    return result


def intervals_of(addresses):
    """Merged intervals of address strings (``any`` = everything)."""
    if ANY in addresses:
        return [(0, MAX)]
    return merge_intervals(network_interval(a) for a in addresses)


def contains(intervals, address_int):
    """True when the integer address is in the merged intervals (binary search)."""
    low, high = 0, len(intervals)
    while low < high:
        mid = (low + high) // 2
        if intervals[mid][1] < address_int:
            low = mid + 1
        elif intervals[mid][0] > address_int:
            high = mid
        else:
            return True
    return False


def subtract(left, right):
    """Intervals of ``left`` not in ``right`` (both merged)."""
    result = []
    for low, high in left:
        start = low
        for r_low, r_high in right:
            if r_high < start or r_low > high:
                continue
            if r_low > start:
                result.append((start, r_low - 1))
            start = max(start, r_high + 1)
            if start > high:
                break
        if start <= high:
            result.append((start, high))
    return result


def format_intervals(intervals):
    """Merged intervals -> CIDR strings (``any`` for the whole space)."""
    if intervals == [(0, MAX)]:
        return [ANY]
    result = []
    for low, high in intervals:
        result.extend(interval_cidrs(low, high))
    return result


def sort_key(value):
    """Sort key for address/CIDR strings in numeric order."""
    if value == ANY:
        return (-1, 0)
    low, high = network_interval(value)
    return (low, -(high - low))
