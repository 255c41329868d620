# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/nft_script.py: what an nft script may do to other tables."""

from __future__ import annotations

import pytest

from ansible_collections.safeq.hardening.plugins.module_utils.nft_script import (
    NftScriptError,
    Statement,
    check_table_script,
    split_statements,
    tokenize,
)
FAMILY, TABLE = "inet", "safeq_hardening"
INJECTED_HOST = "ors-lnx\nflush ruleset\n#"


def rendered(host="ors-lnx", rule_name="SafeQ web"):
    """A script in the layout of the nftables_ruleset filter, with ``host`` in its header comment."""
    return "\n".join([
        "#!/usr/sbin/nft -f",
        "# Managed by safeq.hardening for %s (10.0.0.5). Re-run the harden playbook to change it." % host,
        "table inet safeq_hardening",
        "delete table inet safeq_hardening",
        "table inet safeq_hardening {",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        '\t\tiif "lo" accept',
        '\t\tip saddr 10.0.0.0/24 tcp dport 22 accept comment "management"',
        '\t\ttcp dport 80 accept comment "%s"' % rule_name,
        "\t}",
        "}",
        "",
    ])


def check(text):
    return check_table_script(text, FAMILY, TABLE)


def refused(text):
    with pytest.raises(NftScriptError) as caught:
        check(text)
    return caught.value


def block(*rules):
    body = "\n".join("\t\t" + rule for rule in rules)
    return "table inet safeq_hardening {\n\tchain input {\n%s\n\t}\n}\n" % body


def test_rendered_script_is_accepted():
    assert check(rendered()) == [
        Statement(3, "create"), Statement(4, "delete"), Statement(5, "define")]


def test_host_name_injected_into_the_header_comment_is_refused():
    script = rendered(host=INJECTED_HOST)
    assert script.split("\n")[2] == "flush ruleset"
    error = refused(script)
    assert (error.line, error.statement) == (3, "flush ruleset")
    assert "line 3" in str(error) and "flush ruleset" in str(error)


@pytest.mark.parametrize("comment", ['comment "a # b"', 'comment "x;y"', 'comment "{ } include $x"'])
def test_quoted_comments_inside_the_block_are_accepted(comment):
    assert check(block("tcp dport 80 accept " + comment)) == [Statement(1, "define")]


def test_rule_names_with_separators_in_strings_are_accepted():
    assert check(rendered(rule_name="web # ; { } $x include"))[-1].action == "define"


def test_each_allowed_statement_alone_and_on_one_line():
    assert [s.action for s in check("table inet safeq_hardening")] == ["create"]
    assert [s.action for s in check("delete table inet safeq_hardening\n")] == ["delete"]
    assert [s.action for s in check("flush table inet safeq_hardening")] == ["flush"]
    assert check("table inet safeq_hardening; flush table inet safeq_hardening;"
                 " delete table inet safeq_hardening;;") == [
        Statement(1, "create"), Statement(1, "flush"), Statement(1, "delete")]


@pytest.mark.parametrize("statement", [
    "flush ruleset",
    "table inet other",
    "table inet other { }",
    "table ip safeq_hardening",
    "table safeq_hardening",
    "delete table ip other",
    "delete table inet safeq_hardening extra",
    "add table inet safeq_hardening",
    "add rule inet safeq_hardening input accept",
    "add rule inet other input drop",
    "list ruleset",
    "list table inet safeq_hardening",
    "flush chain inet safeq_hardening input",
    'table inet "safeq_hardening"',
    "{ }",
])
def test_other_top_level_statements_are_refused(statement):
    script = rendered() + statement + "\n"
    error = refused(script)
    assert error.line == script.count("\n")
    assert error.statement == statement.replace("{ }", "{ ... }")
    assert "outside table inet safeq_hardening" in error.reason


def test_statement_after_a_block_on_the_same_line_is_refused():
    error = refused("table inet safeq_hardening { } flush ruleset\n")
    assert error.statement == "table inet safeq_hardening { ... } flush ruleset"


def test_semicolon_separates_statements():
    error = refused("table inet safeq_hardening; flush ruleset")
    assert (error.line, error.statement) == (1, "flush ruleset")


@pytest.mark.parametrize("word", ["include", "define", "redefine", "undefine"])
def test_preprocessor_words_are_refused_at_top_level_and_in_the_block(word):
    top = refused('%s "/etc/other.nft"\n' % word if word == "include" else "%s x = 1\n" % word)
    assert top.line == 1 and top.statement.startswith(word)
    inner = refused(block("tcp dport 80 accept", "%s x = 22" % word))
    assert inner.line == 4
    assert inner.statement == "%s x = 22" % word
    assert "'%s' is not allowed" % word in inner.reason


def test_variables_are_refused_outside_strings():
    error = refused(block("tcp dport $ports accept"))
    assert (error.line, error.statement) == (3, "tcp dport $ports accept")
    assert "variables" in error.reason


def test_unbalanced_closing_brace_is_refused():
    error = refused(block("accept") + "}\n")
    assert error.line == 6 and "unbalanced" in error.reason


def test_unclosed_block_names_the_opening_line():
    error = refused("table inet safeq_hardening\ntable inet safeq_hardening {\n\tchain input {\n\t}\n")
    assert (error.line, error.statement) == (2, "table inet safeq_hardening {")
    assert "never closed" in error.reason


def test_unterminated_string_and_newline_in_string_are_refused():
    assert "unterminated string" in refused(block('accept comment "open')).reason
    error = refused('table inet safeq_hardening {\n\tcomment "a\nflush ruleset"\n}\n')
    assert error.line == 2 and "unterminated string" in error.reason


def test_backslash_newline_joins_lines_like_nft():
    assert check("table inet safeq_hardening \\\n{\n}\n") == [Statement(1, "define")]
    error = refused("table inet safeq_hardening\nflush \\\nruleset\n")
    assert (error.line, error.statement) == (2, "flush ruleset")


def test_comment_ending_with_backslash_does_not_continue():
    error = refused("# note \\\nflush ruleset\n")
    assert (error.line, error.statement) == (2, "flush ruleset")


def test_hash_ends_a_word_like_nft():
    assert check("table inet safeq_hardening#note\n") == [Statement(1, "create")]


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\x00", "\x1b"])
def test_control_characters_are_refused(char):
    error = refused("table inet safeq_hardening%sflush ruleset\n" % char)
    assert error.line == 1 and "control character" in error.reason


def test_control_character_in_a_comment_is_refused_with_its_line():
    assert refused("table inet safeq_hardening\n# a\rb\n").line == 2


def test_empty_script_has_no_statements():
    assert check("") == []
    assert check("# only a comment\n\n;\n") == []


def test_other_family_and_table_arguments():
    assert check_table_script("table ip edge { }\n", "ip", "edge") == [Statement(1, "define")]
    with pytest.raises(NftScriptError):
        check_table_script("table inet safeq_hardening { }\n", "ip", "edge")


def test_tokenize_kinds_lines_and_comments():
    tokens = tokenize('table inet t { # c "x\n\tcomment "a # b";}\n')
    assert [(t.kind, t.text, t.line) for t in tokens] == [
        ("word", "table", 1), ("word", "inet", 1), ("word", "t", 1), ("{", "{", 1), ("sep", "\n", 1),
        ("word", "comment", 2), ("string", '"a # b"', 2), ("sep", ";", 2), ("}", "}", 2), ("sep", "\n", 2),
    ]


def test_split_statements_keeps_blocks_whole():
    statements = split_statements("table inet t\ntable inet t {\n\tchain c { }\n}\ndelete table inet t")
    assert [[t.text for t in s if t.kind != "sep"] for s in statements] == [
        ["table", "inet", "t"],
        ["table", "inet", "t", "{", "chain", "c", "{", "}", "}"],
        ["delete", "table", "inet", "t"],
    ]


def test_long_statements_are_shortened_in_errors():
    error = refused("add rule inet other input " + "tcp dport 1 " * 40)
    assert len(error.statement) <= 120 and error.statement.endswith("...")
