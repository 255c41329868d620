# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark filter: split a rendered nftables table into the statements a naive role adds one by one.

``table_text | bench_nft_statements`` -> {"sets": [{"name", "definition"}], "rules": [{"chain",
"statement", "key"}], "chains": {"input": "type filter hook ...; policy drop;", ...}}. Each rule
gets a unique comment key (its own comment when it has one, else ``bench-<n>``) so that a per-rule
task can tell whether the rule is already there. Used by scripts/bench/baseline.yml only.
"""

from __future__ import annotations

import re

DOCUMENTATION = """
name: bench_nft_statements
short_description: split an nft table script into per-rule statements (scripts/bench)
description: Split the table that safeq.hardening renders into sets, chain headers and rule statements.
positional: _input
options:
  _input:
    description: The nft script.
    type: str
    required: true
"""

_COMMENT = re.compile(r'\scomment "([^"]*)"$')


def bench_nft_statements(text):
    sets, rules, chains = [], [], {}
    lines = [line.strip() for line in str(text).splitlines()]
    index, chain, set_name, set_lines = 0, None, None, []
    for line in lines:
        if set_name is not None:
            if line == "}":
                sets.append({"name": set_name, "definition": "; ".join(set_lines)})
                set_name, set_lines = None, []
            else:
                set_lines.append(line)
            continue
        if line.startswith("set ") and line.endswith("{"):
            set_name = line.split()[1]
            continue
        if line.startswith("chain ") and line.endswith("{"):
            chain = line.split()[1]
            continue
        if chain is None or not line:
            continue
        if line == "}":
            chain = None
            continue
        if line.startswith("type filter hook"):
            chains[chain] = line
            continue
        index += 1
        found = _COMMENT.search(line)
        if found:
            key = found.group(1)
        else:
            key = "bench-%03d" % index
            line = '%s comment "%s"' % (line, key)
        rules.append({"chain": chain, "statement": line, "key": key})
    return {"sets": sets, "rules": rules, "chains": chains}


class FilterModule:
    def filters(self):
        return {"bench_nft_statements": bench_nft_statements}
